//! Signed media links: `url` of every [`Media`] the services hand back.
//!
//! A link is `/api/v1/media/{id}?expires={unix seconds}&sig={tag}`, where the
//! tag is an HMAC over the id and the expiry with a key derived from the
//! server's secret (like [`crate::page::Cursors`]), so the same secret on
//! every instance makes every instance's links good on the others. The expiry
//! is rounded up to the minute: the same medium gets the same link for a
//! minute, which lets a browser cache the bytes.

use crate::entities::Media;
use crate::ids::MediaId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Bytes of the tag a link carries (128 bits).
const TAG_BYTES: usize = 16;

/// Makes and checks signed media links.
#[derive(Clone)]
pub struct MediaUrls {
    key: [u8; 32],
    ttl: Duration,
}

impl std::fmt::Debug for MediaUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaUrls")
            .field("key", &"[redacted]")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl MediaUrls {
    /// Links good for `ttl`, signed with a key derived from `secret`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut mac = mac_with(b"dealroom media url key v1");
        mac.update(secret);
        Self {
            key: mac.finalize().into_bytes().into(),
            ttl,
        }
    }

    fn tag(&self, id: MediaId, expires: i64) -> Hmac<Sha256> {
        let mut mac = mac_with(&self.key);
        mac.update(id.0.as_bytes());
        mac.update(&expires.to_be_bytes());
        mac
    }

    /// The link to `id`, good from `now` (unix seconds) for the TTL.
    pub fn link(&self, id: MediaId, now: i64) -> String {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let expires = now.saturating_add(ttl).saturating_add(59) / 60 * 60;
        let tag = self.tag(id, expires).finalize().into_bytes();
        let sig = URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]);
        format!("/api/v1/media/{id}?expires={expires}&sig={sig}")
    }

    /// Sets `media.url` to a fresh link.
    pub fn sign(&self, media: &mut Media) {
        media.url = self.link(media.id, now());
    }

    /// True if `sig` is this server's signature of `id` until `expires`, and
    /// `expires` is not past.
    pub fn verify(&self, id: MediaId, expires: i64, sig: &str, now: i64) -> bool {
        if expires < now {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        tag.len() == TAG_BYTES && self.tag(id, expires).verify_truncated_left(&tag).is_ok()
    }
}

fn mac_with(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Unix seconds now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_not_once_altered() {
        let urls = MediaUrls::new(b"secret", Duration::from_secs(900));
        let id = MediaId::new();
        let link = urls.link(id, 1_000_000);
        let query = link.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut expires = 0;
        let mut sig = "";
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap_or(0),
                Some(("sig", v)) => sig = v,
                _ => {}
            }
        }
        assert!((1_000_900..1_000_960).contains(&expires));
        assert!(urls.verify(id, expires, sig, 1_000_000));
        assert!(!urls.verify(id, expires, sig, expires + 1));
        assert!(!urls.verify(id, expires + 60, sig, 1_000_000));
        assert!(!urls.verify(MediaId::new(), expires, sig, 1_000_000));
        assert!(!urls.verify(id, expires, "AAAA", 1_000_000));
        let other = MediaUrls::new(b"other", Duration::from_secs(900));
        assert!(!other.verify(id, expires, sig, 1_000_000));
    }
}
