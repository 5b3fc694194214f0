//! Full-text search of messages ([`ChatStore::search_messages`]'s SQL).
//!
//! One hand-written statement per scope (`search.sql`: every session, an
//! owner's, one session's), each prepared once per connection and run in a
//! transaction of its own that first asks for `plan_cache_mode =
//! force_generic_plan` (the plan of a scope does not depend on the words:
//! the index holds the owner and the words, so it is planned once per
//! connection instead of on every call), `jit = off` (compiling costs more
//! than it saves on a page of results) and no parallel workers (searches come
//! many at a time on a pool sized to the cores: workers would only
//! oversubscribe them).
//!
//! `diesel_full_text_search` was considered: it offers `websearch_to_tsquery`,
//! `ts_rank_cd` and `ts_headline` as DSL functions, but not the row
//! comparison of the keyset, the snippet's handling, or a prepared statement
//! we control; one SQL file (also read by `make bench` for its `EXPLAIN`) is
//! easier to review and to check.
//!
//! [`ChatStore::search_messages`]: domain::ports::ChatStore::search_messages

use crate::PgStore;
use crate::prepared::Prepared;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Float, Nullable, Oid, Text, Timestamptz};
use domain::ports::{Found, MessageSearch, SearchKey, SearchScope, StoreResult};
use domain::*;
use std::sync::LazyLock;
use time::OffsetDateTime;
use uuid::Uuid;

/// Marks the start of a hit in `ts_headline`'s output (removed from the text before).
const HIT_START: char = '\u{E000}';
/// Marks the end of a hit.
const HIT_END: char = '\u{E001}';
/// Stands for `<` in the text given to `ts_headline` (whose parser would drop tags).
const LESS_THAN: char = '\u{E002}';
/// Separates a bracket of the message from another bracket next to it.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// The search statement with `/* scope */ true` in place of its scope; see
/// `search.sql` for its binds.
pub const SEARCH_SQL_TEMPLATE: &str = include_str!("search.sql");

/// Which statement a search runs: every session, one owner's, one session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every chat session (agents and admins).
    All,
    /// One owner's sessions.
    Owner,
    /// One chat session.
    Session,
}

/// The search statement of a scope.
pub fn search_sql(scope: Scope) -> &'static str {
    static ALL: LazyLock<String> = LazyLock::new(|| scoped("true"));
    static OWNER: LazyLock<String> = LazyLock::new(|| scoped("m.owner_id = $3::uuid"));
    static SESSION: LazyLock<String> = LazyLock::new(|| {
        scoped("m.session_id = $4::uuid AND ($3::uuid IS NULL OR m.owner_id = $3::uuid)")
    });
    match scope {
        Scope::All => ALL.as_str(),
        Scope::Owner => OWNER.as_str(),
        Scope::Session => SESSION.as_str(),
    }
}

fn scoped(condition: &str) -> String {
    SEARCH_SQL_TEMPLATE.replace("/* scope */ true", condition)
}

impl PgStore {
    /// Settings for the search's transaction only.
    const SEARCH_SETTINGS_SQL: &'static str = "SELECT set_config('plan_cache_mode', \
'force_generic_plan', true), set_config('jit', 'off', true), \
set_config('max_parallel_workers_per_gather', '0', true)";

    /// The oid of the search's text search configuration, looked up once
    /// (an unknown name is an error; `dealroom serve` checks the name at start).
    fn search_config_oid(&self, c: &mut PgConnection) -> QueryResult<u32> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = Oid)]
            oid: u32,
        }
        if let Some(oid) = self.search_config_oid.get() {
            return Ok(*oid);
        }
        let found = Prepared::new("SELECT $1::regconfig::oid AS oid")
            .bind::<Text, _>(self.search_language.to_string())
            .get_result::<Found>(c)?;
        Ok(*self.search_config_oid.get_or_init(|| found.oid))
    }

    pub(crate) fn search(&self, search: &MessageSearch) -> StoreResult<Vec<Found>> {
        let (scope, owner, session) = match search.scope {
            SearchScope::All => (Scope::All, None, None),
            SearchScope::Owner(owner) => (Scope::Owner, Some(owner.0), None),
            SearchScope::Session(session, owner) => {
                (Scope::Session, owner.map(|o| o.0), Some(session.0))
            }
        };
        let after = search.after.unwrap_or(SearchKey {
            rank: f32::INFINITY,
            created_at: OffsetDateTime::UNIX_EPOCH,
            id: MessageId(Uuid::nil()),
        });
        let limit = search.limit;
        // On the replica when there is a usable one: a search may lag behind
        // the caller's own posts by up to REPLICA_MAX_LAG.
        self.read_tx(|c| {
            let config = self.search_config_oid(c)?;
            Prepared::new(Self::SEARCH_SETTINGS_SQL).execute(c)?;
            let rows = Prepared::new(search_sql(scope))
                .bind::<Oid, _>(config)
                .bind::<Text, _>(search.text.clone())
                .bind::<Nullable<diesel::sql_types::Uuid>, _>(owner)
                .bind::<Nullable<diesel::sql_types::Uuid>, _>(session)
                .bind::<Float, _>(after.rank)
                .bind::<Timestamptz, _>(after.created_at)
                .bind::<diesel::sql_types::Uuid, _>(after.id.0)
                .bind::<BigInt, _>(limit)
                .load::<SearchRow>(c)?;
            rows.into_iter().map(SearchRow::into_domain).collect()
        })
    }
}

/// The text search configuration `messages.search` is built with (the
/// migrations': `english`), or `None` if there is no such column.
pub fn search_configuration(c: &mut PgConnection) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Config {
        #[diesel(sql_type = Nullable<Text>)]
        config: Option<String>,
    }
    let row = diesel::sql_query(
        "SELECT (regexp_match(pg_get_expr(d.adbin, d.adrelid), \
         '^to_tsvector\\(''([^'']+)''::regconfig'))[1] AS config \
         FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
         WHERE d.adrelid = 'messages'::regclass AND a.attname = 'search'",
    )
    .get_result::<Config>(c)
    .optional()?;
    Ok(row.and_then(|r| r.config))
}

#[derive(QueryableByName)]
struct SearchRow {
    #[diesel(sql_type = Float)]
    rank: f32,
    #[diesel(sql_type = Text)]
    session_title: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    session_id: Uuid,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    sender_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    media_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    client_message_id: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(embed)]
    media: crate::rows::JoinedMedia,
    #[diesel(sql_type = Nullable<Text>)]
    snippet: Option<String>,
}

impl SearchRow {
    fn into_domain(self) -> QueryResult<Found> {
        let media = self.media.into_domain(self.media_id);
        let message = Message {
            id: MessageId(self.id),
            session_id: ChatSessionId(self.session_id),
            seq: self.seq,
            sender_id: self.sender_id.map(UserId),
            role: self.role.parse().map_err(crate::rows::bad_value)?,
            kind: self.kind.parse().map_err(crate::rows::bad_value)?,
            content: self.content,
            media,
            client_message_id: self.client_message_id,
            created_at: self.created_at,
        };
        Ok(Found {
            key: SearchKey {
                rank: self.rank,
                created_at: message.created_at,
                id: message.id,
            },
            hit: SearchHit {
                message,
                session_title: self.session_title,
                snippet: snippet_text(self.snippet.as_deref().unwrap_or_default()),
            },
        })
    }
}

/// `ts_headline`'s output as the client gets it: the markers become `[[` and
/// `]]`, `<` comes back, and a bracket of the message next to another bracket
/// (of the message or of a marker) gets a zero-width space between them, so
/// that `[[` and `]]` mark hits and nothing else.
pub(crate) fn snippet_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for ch in raw.chars() {
        match ch {
            HIT_START => {
                if out.ends_with('[') {
                    out.push(ZERO_WIDTH_SPACE);
                }
                out.push_str("[[");
            }
            HIT_END => {
                if out.ends_with(']') {
                    out.push(ZERO_WIDTH_SPACE);
                }
                out.push_str("]]");
            }
            LESS_THAN => out.push('<'),
            '[' | ']' => {
                if out.ends_with(ch) {
                    out.push(ZERO_WIDTH_SPACE);
                }
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(s: &str) -> String {
        s.replace('{', "\u{E000}")
            .replace('}', "\u{E001}")
            .replace('L', "\u{E002}")
    }

    #[test]
    fn markers_become_brackets_and_brackets_of_the_text_never_pair_up() {
        assert_eq!(snippet_text(&marked("a {bike} b")), "a [[bike]] b");
        assert_eq!(snippet_text(&marked("Lscript> x")), "<script> x");
        assert_eq!(
            snippet_text(&marked("[[x]] [{bike}]")),
            "[\u{200B}[x]\u{200B}] [\u{200B}[[bike]]\u{200B}]"
        );
        assert_eq!(
            snippet_text("[[[ ]]]"),
            "[\u{200B}[\u{200B}[ ]\u{200B}]\u{200B}]"
        );
        // However a client splits it, `[[` and `]]` are only the markers.
        let s = snippet_text(&marked("[[{a}]] [{b}] {c}[[ ]]{d}"));
        assert_eq!(s.matches("[[").count(), 4);
        assert_eq!(s.matches("]]").count(), 4);
    }
}
