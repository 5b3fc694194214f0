//! Message search: `sort=recent`, every match newest first, and
//! `sort=relevance`, the newest `SEARCH_RANK_WINDOW` matches best first.
//!
//! Both read their matches newest first through the store
//! ([`ChatStore::search_matches`], fast for rare and common words alike) and
//! make snippets for the page's rows only ([`ChatStore::search_hits`]). A
//! relevance cursor carries its window (the newest match's time, exclusive
//! above it, and the oldest match's, inclusive) so that later pages rank the
//! same matches: a message posted meanwhile is newer than the window and never
//! enters it, and nothing shifts or repeats.
//!
//! [`ChatStore::search_matches`]: domain::ports::ChatStore::search_matches
//! [`ChatStore::search_hits`]: domain::ports::ChatStore::search_hits

use crate::ChatService;
use crate::inputs::{MessageSearchQuery, SearchSort};
use domain::page::{ByteBudget, bad_cursor, json_text_len, message_json_bound};
use domain::ports::{Found, Match, MessageSearch, SearchScope, TimeKey};
use domain::timefmt::Timestamp;
use domain::{Actor, DomainError, MessageId, SearchHit, SearchPage};
use std::cmp::Ordering;

/// The default of `SEARCH_RANK_WINDOW`: how many of the newest matches
/// `sort=relevance` ranks.
pub const DEFAULT_RANK_WINDOW: i64 = 500;
/// The largest `SEARCH_RANK_WINDOW`.
pub const MAX_RANK_WINDOW: i64 = 10_000;

const SEARCH_CURSOR: &str = "search";

/// A search cursor's content.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cursor {
    /// After this match, newest first.
    Recent(TimeKey),
    /// After this match in the window's order.
    Relevance(Window, Match),
}

/// The matches a relevance search ranks, fixed by its first page.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    /// Just above the newest match (exclusive).
    upper: TimeKey,
    /// The oldest match (inclusive).
    lower: TimeKey,
    /// Older matches exist beyond it.
    truncated: bool,
}

impl ChatService {
    /// `GET /messages/search`: full-text search over the messages of the
    /// sessions the actor may read (their own; every session for agents and
    /// admins); with `sessionId`, only that session (`NotFound` if the actor
    /// may not read it). `sort=recent` (the default): every match, newest
    /// first. `sort=relevance`: the newest `SEARCH_RANK_WINDOW` matches, best
    /// first (`ts_rank_cd`), newest first among equals; `truncated` says that
    /// older matches exist. A cursor is good for the same actor, query,
    /// session and order only.
    pub fn search(
        &self,
        actor: &Actor,
        query: MessageSearchQuery,
    ) -> Result<SearchPage, DomainError> {
        let request = query.parse()?;
        let own = (!actor.reads_any_chat()).then_some(actor.user_id);
        let scope = match request.session_id {
            Some(session) => {
                self.readable_owner(actor, session)?;
                SearchScope::Session(session, own)
            }
            None => own.map_or(SearchScope::All, SearchScope::Owner),
        };
        let bound_to = format!(
            "{}:{}:{}:{}",
            actor.user_id,
            request
                .session_id
                .map_or_else(|| "*".to_owned(), |s| s.to_string()),
            request.sort.name(),
            request.q
        );
        let cursor = match &request.page.cursor {
            Some(c) => Some(decode(&self.cursors.decode(
                c,
                SEARCH_CURSOR,
                &bound_to,
            )?)?),
            None => None,
        };
        let limit = request.page.limit;
        let n = self.rank_window;
        // What to read, and how the page is cut from what was read (inside
        // the store's one read): the page's matches, whether more follow, and
        // the ranked window.
        let (before, since, read, ranked) = match (request.sort, cursor) {
            (SearchSort::Recent, None) => (None, None, limit + 1, false),
            (SearchSort::Recent, Some(Cursor::Recent(after))) => {
                (Some(after), None, limit + 1, false)
            }
            (SearchSort::Relevance, None) => (None, None, n + 1, true),
            (SearchSort::Relevance, Some(Cursor::Relevance(w, _))) => {
                (Some(w.upper), Some(w.lower), n, true)
            }
            // A cursor of the other order.
            _ => return Err(bad_cursor()),
        };
        let mut more = false;
        let mut window: Option<Window> = None;
        let mut last_read: Option<Match> = None;
        let mut cut_page = |mut matches: Vec<Match>| -> Vec<Match> {
            let page = match (request.sort, cursor) {
                (SearchSort::Recent, _) => {
                    more = cut(&mut matches, limit);
                    matches
                }
                (SearchSort::Relevance, None) => {
                    let truncated = cut(&mut matches, n);
                    window = match (matches.first(), matches.last()) {
                        (Some(first), Some(last)) => Some(Window {
                            upper: just_above(first.key),
                            lower: last.key,
                            truncated,
                        }),
                        _ => None,
                    };
                    let (page, rest) = ranked_page(matches, None, limit);
                    more = rest;
                    page
                }
                (SearchSort::Relevance, Some(Cursor::Relevance(w, after))) => {
                    window = Some(w);
                    let (page, rest) = ranked_page(matches, Some(after), limit);
                    more = rest;
                    page
                }
                (SearchSort::Relevance, Some(Cursor::Recent(_))) => Vec::new(),
            };
            last_read = page.last().copied();
            page
        };
        let found = self.store.search_messages(
            &MessageSearch {
                text: request.q.clone(),
                scope,
                before,
                since,
                limit: read,
                ranked,
                max_bytes: self.page_max_bytes,
            },
            &mut cut_page,
        )?;
        // The page's byte cap, as for a page of messages.
        let mut budget = ByteBudget::new(self.page_max_bytes);
        let found: Vec<Found> = found
            .into_iter()
            .take_while(|f| {
                budget.take(
                    message_json_bound(&f.hit.message)
                        + json_text_len(&f.hit.session_title)
                        + json_text_len(&f.hit.snippet),
                )
            })
            .collect();
        // Cut by the cap, the page goes on after its last hit; else after its
        // last match (one deleted meanwhile has no hit, and is passed too).
        let next = if budget.was_cut() {
            found.last().map(|f| f.at)
        } else if more {
            last_read
        } else {
            None
        };
        let next_cursor = next.map(|m| {
            let cursor = match window {
                Some(w) => Cursor::Relevance(w, m),
                None => Cursor::Recent(m.key),
            };
            self.cursors
                .encode(SEARCH_CURSOR, &bound_to, &encode(&cursor))
        });
        let hits = found
            .into_iter()
            .map(|f| SearchHit {
                message: self.signed(f.hit.message),
                ..f.hit
            })
            .collect();
        Ok(SearchPage {
            items: hits,
            next_cursor,
            truncated: window.is_some_and(|w| w.truncated),
        })
    }
}

/// Keeps the first `n` of `items`; whether there were more.
fn cut<T>(items: &mut Vec<T>, n: i64) -> bool {
    let n = usize::try_from(n).unwrap_or(0);
    let more = items.len() > n;
    items.truncate(n);
    more
}

/// The order of a ranked page: best first, then newest first.
fn ranked_order(a: &Match, b: &Match) -> Ordering {
    b.rank.total_cmp(&a.rank).then_with(|| b.key.cmp(&a.key))
}

/// The window's matches after `after` in ranked order, at most `limit`, and
/// whether more follow.
fn ranked_page(mut window: Vec<Match>, after: Option<Match>, limit: i64) -> (Vec<Match>, bool) {
    window.sort_by(ranked_order);
    let mut page: Vec<Match> = window
        .into_iter()
        .filter(|m| after.is_none_or(|a| ranked_order(&a, m) == Ordering::Less))
        .collect();
    let more = cut(&mut page, limit);
    (page, more)
}

/// A bound just above `key`: later than it and than any match of its
/// microsecond that came after it.
fn just_above(key: TimeKey) -> TimeKey {
    TimeKey {
        created_at: key.created_at + time::Duration::microseconds(1),
        id: MessageId(uuid::Uuid::nil()),
    }
}

fn key_bytes(key: &TimeKey, out: &mut Vec<u8>) {
    let micros = i64::try_from(key.created_at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
    out.extend_from_slice(&micros.to_be_bytes());
    out.extend_from_slice(key.id.0.as_bytes());
}

fn encode(cursor: &Cursor) -> Vec<u8> {
    let mut out = Vec::with_capacity(80);
    match cursor {
        Cursor::Recent(key) => {
            out.push(b'r');
            key_bytes(key, &mut out);
        }
        Cursor::Relevance(window, after) => {
            out.push(b'v');
            key_bytes(&window.upper, &mut out);
            key_bytes(&window.lower, &mut out);
            out.push(u8::from(window.truncated));
            out.extend_from_slice(&after.rank.to_bits().to_be_bytes());
            out.extend_from_slice(after.session_id.0.as_bytes());
            key_bytes(&after.key, &mut out);
        }
    }
    out
}

/// Reads what [`encode`] wrote.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DomainError> {
        let (head, rest) = self.0.split_at_checked(N).ok_or_else(bad_cursor)?;
        self.0 = rest;
        <[u8; N]>::try_from(head).map_err(|_| bad_cursor())
    }

    fn uuid(&mut self) -> Result<uuid::Uuid, DomainError> {
        Ok(uuid::Uuid::from_bytes(self.take::<16>()?))
    }

    fn key(&mut self) -> Result<TimeKey, DomainError> {
        let micros = i64::from_be_bytes(self.take::<8>()?);
        let created_at = Timestamp::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .map_err(|_| bad_cursor())?;
        Ok(TimeKey {
            created_at,
            id: MessageId(self.uuid()?),
        })
    }
}

fn decode(bytes: &[u8]) -> Result<Cursor, DomainError> {
    let mut r = Reader(bytes);
    let cursor = match r.take::<1>()? {
        [b'r'] => Cursor::Recent(r.key()?),
        [b'v'] => {
            let upper = r.key()?;
            let lower = r.key()?;
            let truncated = match r.take::<1>()? {
                [0] => false,
                [1] => true,
                _ => return Err(bad_cursor()),
            };
            let rank = f32::from_bits(u32::from_be_bytes(r.take::<4>()?));
            let session_id = domain::ChatSessionId(r.uuid()?);
            let key = r.key()?;
            Cursor::Relevance(
                Window {
                    upper,
                    lower,
                    truncated,
                },
                Match {
                    session_id,
                    key,
                    rank,
                },
            )
        }
        _ => return Err(bad_cursor()),
    };
    if r.0.is_empty() {
        Ok(cursor)
    } else {
        Err(bad_cursor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(micros: i64) -> TimeKey {
        TimeKey {
            created_at: Timestamp::from_unix_timestamp_nanos(i128::from(micros) * 1000)
                .unwrap_or(Timestamp::UNIX_EPOCH),
            id: MessageId::new(),
        }
    }

    #[test]
    fn cursors_round_trip_with_the_exact_rank_and_refuse_anything_else() {
        let recent = Cursor::Recent(key(1_790_000_000_123_456));
        assert_eq!(decode(&encode(&recent)).ok(), Some(recent));
        let ranked = Cursor::Relevance(
            Window {
                upper: just_above(key(1_790_000_000_123_456)),
                lower: key(1_780_000_000_000_001),
                truncated: true,
            },
            Match {
                session_id: domain::ChatSessionId::new(),
                key: key(1_785_000_000_000_000),
                rank: 0.1_f32 + 0.2_f32,
            },
        );
        assert_eq!(decode(&encode(&ranked)).ok(), Some(ranked));
        let mut long = encode(&recent);
        long.push(0);
        assert!(decode(&long).is_err());
        assert!(decode(&encode(&recent)[..10]).is_err());
        assert!(decode(b"x").is_err());
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn a_ranked_page_is_best_first_then_newest_and_goes_on_strictly_after_its_cursor() {
        let m = |rank: f32, micros: i64| Match {
            session_id: domain::ChatSessionId::new(),
            key: key(micros),
            rank,
        };
        let (a, b, c, d) = (m(0.5, 1), m(0.9, 2), m(0.5, 3), m(0.1, 4));
        let (page, more) = ranked_page(vec![a, b, c, d], None, 2);
        assert_eq!(page, vec![b, c], "best first, ties newest first");
        assert!(more);
        let (page, more) = ranked_page(vec![a, b, c, d], Some(c), 2);
        assert_eq!(page, vec![a, d]);
        assert!(!more);
    }
}
