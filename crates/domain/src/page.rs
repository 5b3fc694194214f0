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

/// The default of `PAGE_MAX_BYTES`: the most bytes of JSON a page of
/// messages or search hits holds (at least one item).
pub const DEFAULT_PAGE_MAX_BYTES: usize = 256 * 1024;

/// What one item's JSON takes besides its variable texts, generously: ids,
/// role, type, status, timestamps, a medium with its signed URL.
pub const ITEM_OVERHEAD: usize = 1024;

/// The bytes `s` takes inside a JSON string as serde writes it (`"` and `\`
/// escaped, control characters as `\n`-style or `\u00XX` escapes).
pub fn json_text_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// An upper bound of the length of `m`'s JSON (its texts exactly, the rest
/// as [`ITEM_OVERHEAD`]).
pub fn message_json_bound(m: &crate::entities::Message) -> usize {
    let text = |t: Option<&str>| t.map_or(0, json_text_len);
    ITEM_OVERHEAD
        + text(m.content.as_deref())
        + text(m.client_message_id.as_deref())
        + text(m.media.as_ref().and_then(|x| x.file_name.as_deref()))
}

/// A page's byte cap (`PAGE_MAX_BYTES`), spent item by item as the page is
/// read, so that no list, however long its items, builds (or pins in the
/// memory of a client that never reads it) more than the cap: 200 messages of
/// 32,000 characters would be 6 MiB. The first item always fits; the page
/// ends before the first one that does not, and its `nextCursor` goes on
/// from there, so `limit` stays an upper bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteBudget {
    left: usize,
    taken: usize,
    cut: bool,
}

impl ByteBudget {
    /// At most `max` bytes (and at least one item).
    pub const fn new(max: usize) -> Self {
        Self {
            left: max,
            taken: 0,
            cut: false,
        }
    }

    /// No cap.
    pub const fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    /// Whether an item of `len` bytes fits; if it does, it is spent. Once one
    /// does not, none does: the page was cut.
    pub fn take(&mut self, len: usize) -> bool {
        if self.cut || (self.taken > 0 && len > self.left) {
            self.cut = true;
            return false;
        }
        self.left = self.left.saturating_sub(len);
        self.taken += 1;
        true
    }

    /// Whether an item was refused: there is more than the page holds.
    pub fn was_cut(&self) -> bool {
        self.cut
    }
}

/// Builds a page from rows read under `budget`: cut by the budget, the page
/// goes on from its last row; otherwise as [`page_from`].
pub fn page_within<T>(
    rows: Vec<T>,
    limit: i64,
    budget: &ByteBudget,
    cursor_of: impl Fn(&T) -> String,
) -> Page<T> {
    if budget.was_cut() {
        let next_cursor = rows.last().map(&cursor_of);
        let mut page = page_from(rows, limit, cursor_of);
        page.next_cursor = page.next_cursor.or(next_cursor);
        return page;
    }
    page_from(rows, limit, cursor_of)
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
    fn json_text_len_is_what_serde_writes() {
        for s in [
            "",
            "plain",
            "quote \" and \\ slash",
            "\n\r\t\u{8}\u{c}",
            "\u{0}\u{1f}",
            "é ☃ 𝄞 </script>",
        ] {
            let written = serde_json::to_string(s).unwrap_or_default();
            assert_eq!(json_text_len(s), written.len() - 2, "{s:?}");
        }
    }

    #[test]
    fn a_budget_takes_the_first_item_whatever_its_size_and_stops_at_the_first_that_does_not_fit() {
        let mut b = ByteBudget::new(100);
        assert!(b.take(500), "the first item always fits");
        assert!(!b.take(1));
        assert!(b.was_cut());
        let mut b = ByteBudget::new(100);
        assert!(b.take(60) && b.take(40));
        assert!(!b.was_cut());
        assert!(!b.take(1) && !b.take(0), "once cut, nothing more");
        assert!(b.was_cut());
        let rows = vec![1, 2, 3];
        let page = page_within(rows, 50, &b, |n| n.to_string());
        assert_eq!(
            (page.items.len(), page.next_cursor.as_deref()),
            (3, Some("3"))
        );
        let page = page_within(vec![1, 2], 50, &ByteBudget::unlimited(), |n| n.to_string());
        assert_eq!(page.next_cursor, None);
    }

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
