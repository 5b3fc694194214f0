//! One attempt: the body, the target checked again, the signed POST to the
//! checked address, at most 1 KiB of the answer read.

use crate::sign::signature;
use awc::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use domain::media::MediaUrls;
use domain::webhooks::{Claimed, Resolver};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use webhooks::address::{self, UrlPolicy};

/// The most of an answer's body that is read (the rest is never read).
pub const MAX_ANSWER_BYTES: usize = 1024;

/// How much of a failing answer's body `lastError` quotes.
const QUOTED: usize = 200;

/// The body POSTed: `{type, timestamp, data}`, with a fresh signed `url` in
/// a message's medium (the one the change committed is left empty: a link
/// lives `MEDIA_URL_TTL`, and a retry may come hours later).
pub fn body(d: &Claimed, urls: Option<&MediaUrls>) -> String {
    let timestamp = domain::timefmt::format(&d.created_at);
    let data = match urls {
        Some(urls) if d.event_type.starts_with("message.") && d.data.contains("\"media\":{") => {
            sign_media(&d.data, urls).unwrap_or_else(|| d.data.clone())
        }
        _ => d.data.clone(),
    };
    // `type` and `timestamp` are ours (names and a timestamp: nothing to
    // escape); `data` is JSON already.
    format!(
        "{{\"type\":{},\"timestamp\":\"{timestamp}\",\"data\":{data}}}",
        serde_json::Value::from(d.event_type.as_str())
    )
}

fn sign_media(data: &str, urls: &MediaUrls) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(data).ok()?;
    let media = value.get_mut("media")?.as_object_mut()?;
    let id: domain::MediaId = media.get("id")?.as_str()?.parse().ok()?;
    media.insert("url".to_owned(), urls.link(id, domain::media::now()).into());
    serde_json::to_string(&value).ok()
}

/// How an attempt went, before it is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Answered with this status (2xx or not); `quote` is the start of a
    /// failing answer's body.
    Answered {
        /// The answer's status.
        status: u16,
        /// The start of a failing answer's body (empty for a `2xx`).
        quote: String,
    },
    /// No answer: the target was refused, or the connection or the request
    /// failed; the text says which.
    Failed(String),
}

/// What every attempt shares.
pub struct Sender {
    /// The HTTP client ([`client`]).
    pub client: awc::Client,
    /// What a target may be.
    pub policy: UrlPolicy,
    /// Resolves targets' names before each attempt.
    pub resolver: Arc<dyn Resolver>,
    /// Signs media links in message events.
    pub media_urls: Option<MediaUrls>,
    /// The client's timeout (named in `lastError` when it passes).
    pub timeout: Duration,
}

/// The client: https through rustls with Mozilla's roots, no redirects,
/// `timeout` to connect and to answer.
pub fn client(timeout: Duration) -> awc::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // ring rather than aws-lc-rs (rustls's default, with post-quantum key
    // exchange): aws-lc-rs builds minutes of C on a small machine, and the
    // deliveries are signed end to end at the application layer anyway.
    #[expect(
        deprecated,
        reason = "ring has no post-quantum key exchange; see above"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let connector = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => {
            let mut config = builder.with_root_certificates(roots).with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            awc::Connector::new().rustls_0_23(Arc::new(config))
        }
        Err(e) => {
            log::error!("webhooks: no TLS configuration ({e}); https deliveries will fail");
            awc::Connector::new()
        }
    };
    awc::Client::builder()
        .connector(connector.timeout(timeout))
        .disable_redirects()
        .timeout(timeout)
        .add_default_header((USER_AGENT, "Dealroom-Webhooks/1"))
        .finish()
}

impl Sender {
    /// One attempt at `d`: its URL held to the policy again, its host
    /// resolved and every address checked (a name that now points inside is
    /// refused), then the POST to a checked address, on the URL's host name
    /// (its TLS name and `Host`).
    pub async fn attempt(&self, d: &Claimed) -> Sent {
        let url = match address::parse_url(&d.url, self.policy) {
            Ok(url) => url,
            Err(why) => return Sent::Failed(format!("refused: the url {why}")),
        };
        let resolver = self.resolver.clone();
        let policy = self.policy;
        let checked = url.clone();
        let target = match tokio::task::spawn_blocking(move || {
            address::resolve(&checked, policy, resolver.as_ref())
        })
        .await
        {
            Ok(Ok(t)) => t,
            Ok(Err(why)) => return Sent::Failed(format!("refused: {why}")),
            Err(e) => return Sent::Failed(format!("cannot resolve: {e}")),
        };
        let Some(addr) = target.addrs.first().copied() else {
            return Sent::Failed("refused: no address".into());
        };
        let body = body(d, self.media_urls.as_ref());
        let id = d.id.to_string();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let sig = signature(&d.secrets, &id, timestamp, body.as_bytes());
        let headers = [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", sig),
        ];
        let mut req = self
            .client
            .post(url.as_str())
            .address(addr)
            .insert_header((CONTENT_TYPE, "application/json"));
        for (name, value) in headers {
            match HeaderValue::from_str(&value) {
                Ok(v) => req = req.insert_header((HeaderName::from_static(name), v)),
                Err(_) => return Sent::Failed(format!("cannot send the header {name}")),
            }
        }
        let mut res = match req.send_body(body).await {
            Ok(res) => res,
            Err(awc::error::SendRequestError::Timeout) => {
                return Sent::Failed(format!("no answer within {:?}", self.timeout));
            }
            Err(e) => return Sent::Failed(format!("no answer: {e}")),
        };
        let status = res.status().as_u16();
        let mut read = Vec::new();
        while read.len() < MAX_ANSWER_BYTES {
            match res.next().await {
                Some(Ok(chunk)) => read.extend_from_slice(&chunk),
                // The status is what counts; a body cut short changes nothing.
                Some(Err(_)) | None => break,
            }
        }
        read.truncate(MAX_ANSWER_BYTES);
        let quote = if (200..300).contains(&status) {
            String::new()
        } else {
            let text = String::from_utf8_lossy(&read);
            let mut quote: String = text.chars().take(QUOTED).collect();
            quote.retain(|c| !c.is_control() || c == ' ');
            quote
        };
        Sent::Answered { status, quote }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use domain::webhooks::WebhookSecret;
    use domain::{ChatSessionId, DeliveryId, WebhookId};

    fn claimed(event: &str, data: &str) -> Claimed {
        Claimed {
            id: DeliveryId::new(),
            webhook_id: WebhookId::new(),
            url: "https://example.com/".into(),
            secrets: vec![WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
            event_type: event.into(),
            session_id: Some(ChatSessionId::new()),
            created_at: time::macros::datetime!(2026-12-06 10:11:12.345678 UTC),
            data: data.into(),
            attempts: 0,
        }
    }

    #[test]
    fn the_body_is_type_timestamp_and_data() {
        let b = body(&claimed("session.deleted", r#"{"id":"x"}"#), None);
        assert_eq!(
            b,
            r#"{"type":"session.deleted","timestamp":"2026-12-06T10:11:12.345Z","data":{"id":"x"}}"#
        );
    }

    /// A DNS whose answer for a name changed since the endpoint was
    /// registered: it points inside now.
    struct Moved;

    impl Resolver for Moved {
        fn resolve(&self, _: &str, _: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
            Ok(vec![
                "93.184.215.14".parse().unwrap(),
                "10.0.0.7".parse().unwrap(),
            ])
        }
    }

    #[test]
    fn a_name_that_points_inside_by_the_time_of_the_attempt_is_refused_before_connecting() {
        actix_rt::System::new().block_on(async {
            let sender = Sender {
                client: client(Duration::from_secs(1)),
                policy: UrlPolicy::default(),
                resolver: Arc::new(Moved),
                media_urls: None,
                timeout: Duration::from_secs(1),
            };
            let mut d = claimed("message.created", "{}");
            d.url = "https://hooks.example.com/in".into();
            assert_eq!(
                sender.attempt(&d).await,
                Sent::Failed(
                    "refused: hooks.example.com resolves to 10.0.0.7, a private address: \
                     it may not be a webhook's target"
                        .into()
                )
            );
            // The URL is held to the policy again too (http:// was allowed once).
            d.url = "http://hooks.example.com/in".into();
            assert_eq!(
                sender.attempt(&d).await,
                Sent::Failed("refused: the url must be an https URL".into())
            );
        });
    }

    #[test]
    fn a_medium_gets_a_fresh_link() {
        let urls = MediaUrls::new(b"secret", Duration::from_secs(900));
        let media = domain::MediaId::new();
        let data = format!(r#"{{"id":"m","media":{{"id":"{media}","url":""}},"content":null}}"#);
        let b: serde_json::Value =
            serde_json::from_str(&body(&claimed("message.created", &data), Some(&urls))).unwrap();
        let url = b["data"]["media"]["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("/api/v1/media/{media}?expires=")),
            "{url}"
        );
        assert_eq!(b["data"]["id"], "m");
    }
}
