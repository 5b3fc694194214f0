//! Access tokens (HS256 JWTs) and refresh tokens.
//!
//! A refresh token is `base64url(sid ‖ generation ‖ 32 random bytes)`: the login
//! session it belongs to, how many rotations preceded it, and 256 bits of
//! randomness. Only its SHA-256 is stored. A presented token that names its
//! session and an older generation than the session's is reuse.

use crate::VerifiedToken;
use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{DomainError, LoginSessionId, User};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub sub: String,
    pub sid: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Signing and verification keys, HS256 only.
pub(crate) struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub(crate) fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// A signed access token for the user in the login session; with its lifetime in seconds.
    pub(crate) fn issue(
        &self,
        user: &User,
        sid: LoginSessionId,
        ttl: Duration,
    ) -> Result<(String, u64), DomainError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let secs = ttl.as_secs();
        let claims = Claims {
            sub: user.id.to_string(),
            sid: sid.to_string(),
            role: user.role.as_str().to_owned(),
            iat: now,
            exp: now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)),
            jti: Uuid::now_v7().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("jwt encode: {e}")))?;
        Ok((token, secs))
    }

    /// Verifies signature, algorithm and expiry.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, DomainError> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
                Err(DomainError::TokenExpired)
            }
            Err(_) => Err(DomainError::Unauthenticated),
        }
    }
}

/// Access tokens this service verified lately, by their whole text, so that
/// a client's next requests skip the signature check (HMAC-SHA-256, base64
/// and the claims' JSON: about 5% of the server's CPU on a page of
/// messages).
///
/// An entry is only ever what verifying that very text with this service's
/// key gave, so a token that differs in one character is verified in full.
/// Every hit checks the expiry against the clock as the full check does
/// (valid until its `exp` second ends, no leeway). Only tokens that verified
/// are kept, so the entries are our own tokens' size; at
/// [`VerifiedTokens::CAPACITY`] the cache starts over. Whether the token's
/// login session is still live is not this cache's business: that check
/// follows it on every request (see `CallerCache`).
#[derive(Debug, Default)]
pub(crate) struct VerifiedTokens {
    entries: Mutex<HashMap<Box<str>, VerifiedToken>>,
}

impl VerifiedTokens {
    /// The most tokens kept (about 300 bytes each).
    pub(crate) const CAPACITY: usize = 1024;

    /// What verifying `token` gave, if it is kept and not expired at `now`
    /// (Unix seconds).
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<VerifiedToken> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(token)
            .filter(|verified| now <= verified.expires_at)
            .copied()
    }

    /// Keeps what verifying `token` gave.
    pub(crate) fn put(&self, token: &str, verified: VerifiedToken) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
            entries.insert(token.into(), verified);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

/// A new refresh token for the session at `generation`; fails closed if the
/// operating system has no randomness to give.
pub(crate) fn new_refresh_token(
    sid: LoginSessionId,
    generation: u32,
) -> Result<String, DomainError> {
    let mut raw = [0u8; 52];
    raw[..16].copy_from_slice(sid.0.as_bytes());
    raw[16..20].copy_from_slice(&generation.to_be_bytes());
    getrandom::fill(&mut raw[20..])
        .map_err(|e| DomainError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(raw))
}

/// The session and generation a refresh token names, if it has the right shape.
pub(crate) fn parse_refresh_token(token: &str) -> Option<(LoginSessionId, u32)> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    if raw.len() != 52 {
        return None;
    }
    let sid = Uuid::from_slice(&raw[..16]).ok()?;
    let generation = u32::from_be_bytes(raw[16..20].try_into().ok()?);
    Some((LoginSessionId(sid), generation))
}

/// SHA-256 of a token: what is stored.
pub(crate) fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(expires_at: i64) -> VerifiedToken {
        VerifiedToken {
            user: domain::UserId::new(),
            session: LoginSessionId::new(),
            expires_at,
        }
    }

    #[test]
    fn a_kept_token_answers_for_its_exact_text_until_its_exp_second_ends() {
        let cache = VerifiedTokens::default();
        let v = verified(100);
        cache.put("a.b.c", v);
        assert_eq!(cache.get("a.b.c", 99), Some(v));
        assert_eq!(
            cache.get("a.b.c", 100),
            Some(v),
            "valid through its exp second"
        );
        assert_eq!(
            cache.get("a.b.c", 101),
            None,
            "expired: verified in full again"
        );
        assert_eq!(cache.get("a.b.d", 99), None, "one character off");
        assert_eq!(cache.get("a.b.", 99), None, "a prefix");
    }

    #[test]
    fn the_kept_tokens_are_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..VerifiedTokens::CAPACITY * 2 + 1 {
            cache.put(&format!("token {i}"), verified(100));
            assert!(cache.len() <= VerifiedTokens::CAPACITY);
        }
        let last = format!("token {}", VerifiedTokens::CAPACITY * 2);
        assert!(cache.get(&last, 0).is_some(), "the last one is kept");
    }

    #[test]
    fn refresh_tokens_name_their_session_and_generation() {
        let sid = LoginSessionId::new();
        let t = new_refresh_token(sid, 7).ok();
        assert_eq!(t.as_deref().and_then(parse_refresh_token), Some((sid, 7)));
        assert_ne!(new_refresh_token(sid, 7).ok(), t, "random part differs");
        assert_eq!(parse_refresh_token("nonsense"), None);
    }
}
