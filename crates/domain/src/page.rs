//! Keyset pages: `{items, nextCursor}` with opaque, tamper-evident cursors.

use crate::error::DomainError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The page size when a request names none.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page a request may ask for.
pub const MAX_LIMIT: i64 = 200;

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The cursor of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// A validated page request: `limit` in 1..=200 (default 50) and an optional cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items, at most.
    pub limit: i64,
    /// Where the page starts: an opaque cursor a previous page handed out.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// `limit` defaults to 50 and must be in 1..=200 (the message for `limit`
    /// otherwise); an empty cursor is no cursor.
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Self, &'static str> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err("must be between 1 and 200");
        }
        Ok(Self {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        })
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// Bytes of the MAC a cursor carries: 96 bits, so a forged cursor is a guess
/// in 2^96, and a cursor stays short (a message page's is 27 characters).
const TAG_BYTES: usize = 12;

/// Makes and checks cursors. A cursor is `base64url(key ‖ tag)`: the last key
/// of a page, and a MAC over the list's name, its scope (whose list, which
/// order) and the key, with a key derived from the server's secret. A cursor
/// that was altered, truncated, extended, or made for another list or another
/// scope fails the MAC and is a `400`, never a wrong page.
#[derive(Clone)]
pub struct Cursors {
    key: [u8; 32],
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursors([redacted])")
    }
}

impl Cursors {
    /// Cursors signed with a key derived from `secret` (the server's JWT
    /// secret): the same secret on every instance makes every instance's
    /// cursors good on the others.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Self::mac_with(b"dealroom cursor key v1");
        mac.update(secret);
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac_with(key: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
    }

    fn mac(&self, list: &str, scope: &str, key: &[u8]) -> Hmac<Sha256> {
        let mut mac = Self::mac_with(&self.key);
        for part in [list.as_bytes(), scope.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(key);
        mac
    }

    /// The cursor after `key` in the list `list` seen in `scope`.
    pub fn encode(&self, list: &str, scope: &str, key: &[u8]) -> String {
        let tag = self.mac(list, scope, key).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(key.len() + TAG_BYTES);
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The key of a cursor made by [`Cursors::encode`] for the same list and
    /// scope; anything else is a validation error on `cursor`.
    pub fn decode(&self, cursor: &str, list: &str, scope: &str) -> Result<Vec<u8>, DomainError> {
        let mut bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
        if bytes.len() <= TAG_BYTES {
            return Err(bad_cursor());
        }
        let tag = bytes.split_off(bytes.len() - TAG_BYTES);
        self.mac(list, scope, &bytes)
            .verify_truncated_left(&tag)
            .map_err(|_| bad_cursor())?;
        Ok(bytes)
    }
}

/// The error for a cursor that is not one of ours for this list.
pub fn bad_cursor() -> DomainError {
    DomainError::invalid("cursor", "is not a valid cursor for this list")
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
pub fn page_from<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_in_its_list_and_scope_only() {
        let cursors = Cursors::new(b"secret");
        let c = cursors.encode("m", "abc:asc", &42u64.to_be_bytes());
        assert_eq!(c.len(), 27);
        assert_eq!(
            cursors.decode(&c, "m", "abc:asc").ok(),
            Some(42u64.to_be_bytes().to_vec())
        );
        assert!(cursors.decode(&c, "m", "abd:asc").is_err());
        assert!(cursors.decode(&c, "u", "abc:asc").is_err());
        assert!(Cursors::new(b"other").decode(&c, "m", "abc:asc").is_err());
        assert!(cursors.decode("!!!", "m", "abc:asc").is_err());
        assert!(cursors.decode("", "m", "abc:asc").is_err());
    }

    #[test]
    fn any_change_to_a_cursor_is_refused() {
        let cursors = Cursors::new(b"secret");
        let c = cursors.encode("m", "s", b"0123456789");
        for i in 0..c.len() {
            let mut altered = c.clone().into_bytes();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap_or_default();
            assert!(cursors.decode(&altered, "m", "s").is_err(), "position {i}");
        }
        assert!(cursors.decode(&c[..c.len() - 1], "m", "s").is_err());
        assert!(cursors.decode(&format!("{c}A"), "m", "s").is_err());
        assert!(cursors.decode(&format!("AAAA{c}"), "m", "s").is_err());
    }

    #[test]
    fn limit_bounds() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(201), None).is_err());
        assert_eq!(PageRequest::new(None, None).ok().map(|p| p.limit), Some(50));
    }

    #[test]
    fn extra_row_makes_a_next_cursor() {
        let p = page_from(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next_cursor.as_deref(), Some("2"));
        let p = page_from(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(p.next_cursor, None);
    }
}
