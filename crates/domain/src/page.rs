//! Keyset pages: `{items, nextCursor}` with opaque, scoped cursors.

use crate::error::DomainError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// A validated page request: `limit` in 1..=200 (default 50) and an optional cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Self, DomainError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(DomainError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
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

/// Encodes a cursor for one list (`kind`) in one scope (e.g. the chat session it
/// pages), holding the last key seen. Opaque to clients.
pub fn encode_cursor(kind: &str, scope: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}|{scope}|{key}"))
}

/// Decodes a cursor made by [`encode_cursor`] for the same list and scope; anything
/// else (tampered, truncated, from another list or scope) is a validation error.
pub fn decode_cursor(cursor: &str, kind: &str, scope: &str) -> Result<String, DomainError> {
    let bad = || DomainError::invalid("cursor", "is not a valid cursor for this list");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(k), Some(s), Some(key)) if k == kind && s == scope && !key.is_empty() => {
            Ok(key.to_owned())
        }
        _ => Err(bad()),
    }
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
    fn cursor_round_trips_in_its_scope_only() {
        let c = encode_cursor("m", "abc:asc", "42");
        assert_eq!(
            decode_cursor(&c, "m", "abc:asc").ok(),
            Some("42".to_owned())
        );
        assert!(decode_cursor(&c, "m", "abd:asc").is_err());
        assert!(decode_cursor(&c, "u", "abc:asc").is_err());
        assert!(decode_cursor("!!!", "m", "abc:asc").is_err());
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
