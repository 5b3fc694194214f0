//! A cap on a page's size in bytes (`PAGE_MAX_BYTES`), so that what one
//! response holds, and so what a client that never reads it can pin, is
//! bounded whatever the items hold: 200 messages of 32,000 characters would be
//! a 6 MiB answer. A page over the cap is asked for again with as many items
//! as fit (at least one), and the service makes that smaller page and its
//! cursor as it makes any page: the client pages on with `nextCursor` as
//! usual, and `limit` stays an upper bound.

use serde::Serialize;

/// Fixed bytes of one serialised message besides its text (ids, role, type,
/// timestamps, a media object), generously.
const ITEM_OVERHEAD: usize = 1024;

/// How many of `items` fit in `max_bytes` of JSON (at least one), or `None`
/// when all of them do. `text_len` is an item's variable text; items whose
/// estimate may not fit are measured exactly.
pub fn items_that_fit<T: Serialize>(
    items: &[T],
    max_bytes: usize,
    text_len: impl Fn(&T) -> usize,
) -> Option<usize> {
    // JSON escaping at most multiplies text by six (`\u0000`).
    let worst: usize = items.iter().map(|i| text_len(i) * 6 + ITEM_OVERHEAD).sum();
    if worst <= max_bytes {
        return None;
    }
    let mut total = 0;
    for (n, item) in items.iter().enumerate() {
        total += json_len(item) + 1;
        if total > max_bytes {
            return Some(n.max(1));
        }
    }
    None
}

/// The length of `value` as JSON, without building the text.
fn json_len<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_pages_pass_and_large_ones_keep_what_fits_but_at_least_one() {
        let small = vec!["a".repeat(10); 200];
        assert_eq!(items_that_fit(&small, 262_144, String::len), None);
        let large = vec!["a".repeat(32_000); 200];
        assert_eq!(items_that_fit(&large, 262_144, String::len), Some(8));
        let huge = vec!["a".repeat(400_000); 3];
        assert_eq!(items_that_fit(&huge, 262_144, String::len), Some(1));
    }
}
