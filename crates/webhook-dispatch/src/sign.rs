//! Standard Webhooks signatures: `webhook-signature: v1,<base64 of
//! HMAC-SHA256("{id}.{timestamp}.{body}")>`, one per secret, space-separated,
//! keyed with the bytes the secret's base64 encodes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::webhooks::WebhookSecret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `webhook-signature` value of `body`, sent as delivery `id` at Unix
/// second `timestamp`, with each of `secrets` (a secret that cannot be
/// decoded signs nothing, and is logged).
pub fn signature(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut out = String::new();
    for secret in secrets {
        let Some(key) = webhooks::secret_key(secret) else {
            log::error!("a webhook secret that is not base64 was skipped (delivery {id})");
            continue;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            continue;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("v1,");
        out.push_str(&STANDARD.encode(mac.finalize().into_bytes()));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_standard_webhooks_example_signs_the_same() {
        // The specification's own example: secret, id, timestamp, body and
        // the signature it gives.
        let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = signature(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// The published verifier (the `standardwebhooks` crate) accepts what we
    /// sign, with the old secret and with the new one while both sign.
    #[test]
    fn the_published_verifier_accepts_our_signatures_with_either_secret() {
        let old = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let new = WebhookSecret::new(format!("whsec_{}", STANDARD.encode([7u8; 32])));
        let body = br#"{"type":"message.created","timestamp":"2026-12-06T10:11:12.345Z","data":{"id":"x"}}"#;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let headers = |sig: String| {
            let mut h = http::HeaderMap::new();
            h.insert(
                "webhook-id",
                "0190f0f0-0000-7000-8000-000000000001".parse().unwrap(),
            );
            h.insert("webhook-timestamp", now.to_string().parse().unwrap());
            h.insert("webhook-signature", sig.parse().unwrap());
            h
        };
        let both = signature(
            &[new.clone(), old.clone()],
            "0190f0f0-0000-7000-8000-000000000001",
            now,
            body,
        );
        for secret in [&old, &new] {
            let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
            assert!(verifier.verify(body, &headers(both.clone())).is_ok());
        }
        let only_new = signature(&[new], "0190f0f0-0000-7000-8000-000000000001", now, body);
        let verifier = standardwebhooks::Webhook::new(old.expose()).unwrap();
        assert!(verifier.verify(body, &headers(only_new.clone())).is_err());
        let tampered = br#"{"type":"message.created","timestamp":"2026-12-06T10:11:12.345Z","data":{"id":"y"}}"#;
        assert!(verifier.verify(tampered, &headers(both)).is_err());
    }

    #[test]
    fn two_secrets_give_two_signatures_separated_by_a_space() {
        let a = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let b = WebhookSecret::new("whsec_c2Vjb25kIHNlY3JldCBvZiAzMiBieXRlcyEhISE=");
        let sig = signature(&[a, b], "x", 1, b"{}");
        let parts: Vec<&str> = sig.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }
}
