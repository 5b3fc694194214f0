#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod address;
pub mod inputs;

use address::UrlPolicy;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::page::{Cursors, bad_cursor, page_from};
use domain::webhooks::*;
use domain::*;
use inputs::{DeliveryListQuery, WebhookInput, WebhookPatchInput};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

const WEBHOOK: &str = "Webhook";
const DELIVERIES_CURSOR: &str = "deliveries";

/// How long a rotated-away secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// An endpoint with its secret: the answer to create and rotate, the only
/// ones that show the secret.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    /// The endpoint.
    pub webhook: Webhook,
    /// Its signing secret: `whsec_` and the base64 of 32 random bytes.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))]
    pub secret: WebhookSecret,
}

/// Webhook endpoints and their deliveries (contract §3.11): admins only.
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    cursors: Cursors,
    policy: UrlPolicy,
    resolver: Arc<dyn Resolver>,
}

impl WebhookService {
    /// The service on `store`; `cursors` signs the deliveries' page cursors.
    /// URLs must be `https://` to public addresses, resolved by the system's
    /// resolver, unless [`WebhookService::with_policy`] says otherwise.
    pub fn new(store: Arc<dyn WebhookStore>, cursors: Cursors) -> Self {
        Self {
            store,
            cursors,
            policy: UrlPolicy::default(),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// What an endpoint's URL may be (`WEBHOOK_ALLOW_HTTP`, `WEBHOOK_ALLOW_PRIVATE`).
    #[must_use]
    pub fn with_policy(mut self, policy: UrlPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Resolves URLs' host names with `resolver` (tests use a fixed one).
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The policy URLs are held to.
    pub fn policy(&self) -> UrlPolicy {
        self.policy
    }

    /// `POST /webhooks`: registers an endpoint and makes its secret.
    pub fn create(&self, actor: &Actor, input: WebhookInput) -> Result<Registered, DomainError> {
        require_admin(actor)?;
        let new = input.parse()?;
        self.check_url(&new.url)?;
        let secret = new_secret()?;
        let webhook = self.store.create_webhook(&NewWebhook {
            id: WebhookId::new(),
            url: new.url,
            events: new.events,
            description: new.description,
            secret: secret.clone(),
        })?;
        log::info!(target: "security", "{actor} registered webhook {} to {}", webhook.id, webhook.url);
        Ok(Registered { webhook, secret })
    }

    /// `GET /webhooks`: every endpoint, oldest first.
    pub fn list(&self, actor: &Actor) -> Result<Vec<Webhook>, DomainError> {
        require_admin(actor)?;
        Ok(self.store.webhooks()?)
    }

    /// `GET /webhooks/{id}`.
    pub fn get(&self, actor: &Actor, id: WebhookId) -> Result<Webhook, DomainError> {
        require_admin(actor)?;
        self.store
            .webhook(id)?
            .ok_or(DomainError::NotFound(WEBHOOK))
    }

    /// `PATCH /webhooks/{id}`: a new URL is checked as at registration.
    pub fn update(
        &self,
        actor: &Actor,
        id: WebhookId,
        input: WebhookPatchInput,
    ) -> Result<Webhook, DomainError> {
        require_admin(actor)?;
        let changes = input.parse()?;
        if let Some(url) = &changes.url {
            self.check_url(url)?;
        }
        let webhook = self
            .store
            .update_webhook(id, &changes)?
            .ok_or(DomainError::NotFound(WEBHOOK))?;
        if changes.url.is_some() {
            log::info!(target: "security", "{actor} pointed webhook {id} to {}", webhook.url);
        }
        Ok(webhook)
    }

    /// `DELETE /webhooks/{id}`: its pending deliveries are dropped with it.
    pub fn delete(&self, actor: &Actor, id: WebhookId) -> Result<(), DomainError> {
        require_admin(actor)?;
        if self.store.delete_webhook(id)? {
            Ok(())
        } else {
            Err(DomainError::NotFound(WEBHOOK))
        }
    }

    /// `POST /webhooks/{id}/rotate-secret`: a new secret; for
    /// [`PREVIOUS_SECRET_LIFETIME`] every delivery is signed with both.
    pub fn rotate_secret(&self, actor: &Actor, id: WebhookId) -> Result<Registered, DomainError> {
        require_admin(actor)?;
        let secret = new_secret()?;
        let until = time::OffsetDateTime::now_utc() + PREVIOUS_SECRET_LIFETIME;
        let webhook = self
            .store
            .rotate_webhook_secret(id, &secret, until)?
            .ok_or(DomainError::NotFound(WEBHOOK))?;
        log::info!(target: "security", "{actor} rotated the secret of webhook {id}");
        Ok(Registered { webhook, secret })
    }

    /// `GET /webhooks/{id}/deliveries`: a page, newest first.
    pub fn deliveries(
        &self,
        actor: &Actor,
        id: WebhookId,
        query: DeliveryListQuery,
    ) -> Result<Page<Delivery>, DomainError> {
        require_admin(actor)?;
        let (page, status) = query.parse()?;
        let scope = format!("{id}:{}", status.map_or("", DeliveryStatus::as_str));
        let before = match &page.cursor {
            Some(c) => {
                let key = self.cursors.decode(c, DELIVERIES_CURSOR, &scope)?;
                let bytes: [u8; 8] = key.try_into().map_err(|_| bad_cursor())?;
                Some(i64::from_be_bytes(bytes))
            }
            None => None,
        };
        let rows = self
            .store
            .webhook_deliveries(id, status, before, page.limit + 1)?
            .ok_or(DomainError::NotFound(WEBHOOK))?;
        Ok(page_from(rows, page.limit, |d| {
            self.cursors
                .encode(DELIVERIES_CURSOR, &scope, &d.position.to_be_bytes())
        }))
    }

    /// `POST /webhooks/{id}/test`: a `webhook.test` delivery (data
    /// `{webhookId}`), delivered like any other, also to a disabled endpoint
    /// (so that an admin can try it before turning it on again).
    pub fn test(&self, actor: &Actor, id: WebhookId) -> Result<Delivery, DomainError> {
        require_admin(actor)?;
        let data = serde_json::json!({ "webhookId": id }).to_string();
        self.store
            .enqueue_test_delivery(id, DeliveryId::new(), &data)?
            .ok_or(DomainError::NotFound(WEBHOOK))
    }

    /// The URL's rules, its host resolved: every address it reaches must be
    /// allowed.
    fn check_url(&self, text: &str) -> Result<(), DomainError> {
        let url =
            address::parse_url(text, self.policy).map_err(|m| DomainError::invalid("url", m))?;
        if self.policy.allow_private {
            return Ok(());
        }
        address::resolve(&url, self.policy, self.resolver.as_ref())
            .map(drop)
            .map_err(|m| DomainError::invalid("url", m))
    }
}

fn require_admin(actor: &Actor) -> Result<(), DomainError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden)
    }
}

/// `whsec_` and the base64 of 32 bytes from the operating system's
/// generator.
fn new_secret() -> Result<WebhookSecret, DomainError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| DomainError::Internal(format!("random bytes: {e}")))?;
    Ok(WebhookSecret::new(format!(
        "{}{}",
        WebhookSecret::PREFIX,
        STANDARD.encode(key)
    )))
}

/// The key a secret stands for: the bytes its base64 encodes (after
/// `whsec_`); `None` for a malformed secret.
pub fn secret_key(secret: &WebhookSecret) -> Option<Vec<u8>> {
    let text = secret.expose();
    STANDARD
        .decode(text.strip_prefix(WebhookSecret::PREFIX).unwrap_or(text))
        .ok()
}

// ---------------------------------------------------------------- retries

/// The waits before the 2nd to the 8th attempt (contract §3.11); after the
/// 8th failure, a delivery is `failed`.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The largest share of a wait that jitter adds or takes away.
pub const JITTER: f64 = 0.2;

/// The wait after a delivery's `failed_attempts`-th failed attempt, or
/// `None` when it has had its last (it is `failed`). `jitter` in `[-1, 1]`
/// moves the wait by up to [`JITTER`] of it either way (so that endpoints
/// that fail together are not retried in one burst); `scale` multiplies it
/// (`WEBHOOK_RETRY_SCALE`, 1 but in tests).
///
/// ```
/// use std::time::Duration;
/// use webhooks::retry_delay;
/// assert_eq!(retry_delay(1, 0.0, 1.0), Some(Duration::from_secs(5)));
/// assert_eq!(retry_delay(1, 1.0, 1.0), Some(Duration::from_secs(6)));
/// assert_eq!(retry_delay(7, 0.0, 1.0), Some(Duration::from_secs(36_000)));
/// assert_eq!(retry_delay(8, 0.0, 1.0), None);
/// ```
pub fn retry_delay(failed_attempts: i32, jitter: f64, scale: f64) -> Option<Duration> {
    let i = usize::try_from(failed_attempts.checked_sub(1)?).ok()?;
    let base = RETRY_DELAYS.get(i)?;
    let factor = (1.0 + JITTER * jitter.clamp(-1.0, 1.0)) * scale.max(0.0);
    Some(base.mul_f64(factor))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_secret_is_whsec_and_32_bytes_of_base64() {
        let s = new_secret().unwrap();
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(secret_key(&s).map(|k| k.len()), Some(32));
        assert_ne!(new_secret().unwrap(), s);
    }

    #[test]
    fn the_schedule_is_the_contracts_within_its_jitter() {
        let expected = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
        for (n, secs) in (1..).zip(expected) {
            let base = Duration::from_secs(secs);
            assert_eq!(retry_delay(n, 0.0, 1.0), Some(base));
            let low = retry_delay(n, -1.0, 1.0).unwrap();
            let high = retry_delay(n, 1.0, 1.0).unwrap();
            assert_eq!((low, high), (base.mul_f64(0.8), base.mul_f64(1.2)));
        }
        assert_eq!(retry_delay(8, 0.0, 1.0), None);
        assert_eq!(retry_delay(0, 0.0, 1.0), None);
        assert_eq!(retry_delay(2, 0.0, 0.001), Some(Duration::from_millis(300)));
    }
}
