//! Full-text search of messages ([`ChatStore::search_messages`]'s SQL).
//!
//! Newest first must be fast for rare and common words alike, which no one
//! plan is: walking a time index backwards and filtering is fast for a common
//! word and reads the whole scope for a rare one; the GIN index finds a rare
//! word at once but reads every match of a common one before it can sort
//! them. So a search of a large scope walks the newest [`WALK_BUDGET`] rows
//! in scope (`search_walk.sql`), filtered by the words, and stops at a page
//! of hits; only when that does not fill the page does it run the exact
//! statement (`search_exact.sql`: the GIN index, kept apart from the time
//! bounds by a `MATERIALIZED` CTE). A small scope (a user with at most
//! [`WALK_ABOVE`] messages, one session of that size) goes to the exact
//! statement at once: its matches are few whatever the word.
//!
//! Each statement has one text per scope (every session, an owner's, one
//! session's), prepared once per connection and run in a transaction that
//! asks for `jit = off` (compiling costs more than it saves on a page of
//! results) and no parallel workers (searches come many at a time on a pool
//! sized to the cores). The snippets are made for the page's rows only
//! (`search_hits.sql`).
//!
//! [`ChatStore::search_messages`]: domain::ports::ChatStore::search_messages

use crate::PgStore;
use crate::prepared::Prepared;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Float, Nullable, Oid, Text, Timestamptz};
use domain::ports::{Found, Match, MessageSearch, SearchScope, StoreResult, TimeKey};
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

/// How many of the newest rows in scope the walk reads at most before the
/// exact statement takes over. With 10,000, the worst word measured on a
/// million messages (one in 0.5 % of them) took 36 ms; 2,000 failed at 2.3 %
/// density, 50,000 on rare words and phrases.
pub const WALK_BUDGET: i64 = 10_000;

/// A scope of more messages than this is walked first; a smaller one goes to
/// the exact statement at once (the GIN index answers it in a few ms for any
/// word, where the walk would only make rare words slower).
pub const WALK_ABOVE: i64 = 20_000;

/// The walk's statement (`search_walk.sql`), with `/* scope */ true` in place.
pub const SEARCH_WALK_TEMPLATE: &str = include_str!("search_walk.sql");
/// The exact statement (`search_exact.sql`).
pub const SEARCH_EXACT_TEMPLATE: &str = include_str!("search_exact.sql");
/// The hits of a page (`search_hits.sql`).
pub const SEARCH_HITS_SQL: &str = include_str!("search_hits.sql");

/// Which statement a search runs: every session, one owner's, one session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every chat session (agents and admins).
    All,
    /// One owner's sessions.
    Owner,
    /// One chat session (of one owner).
    Session,
}

/// How a search reads its matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The newest rows in scope, filtered by the words, within a budget.
    Walk,
    /// Every match through the GIN index, then the order.
    Exact,
}

/// The search statement of a scope and shape.
pub fn search_sql(scope: Scope, shape: Shape) -> &'static str {
    fn scoped(template: &str, scope: Scope) -> String {
        let condition = match scope {
            Scope::All => "true",
            Scope::Owner => "m.owner_id = $3::uuid",
            Scope::Session => "m.owner_id = $3::uuid AND m.session_id = $4::uuid",
        };
        template.replace("/* scope */ true", condition)
    }
    macro_rules! statements {
        ($($name:ident: $template:ident, $scope:ident;)*) => {{
            $(static $name: LazyLock<String> = LazyLock::new(|| scoped($template, Scope::$scope));)*
            [$(&$name),*]
        }};
    }
    let [
        walk_all,
        walk_owner,
        walk_session,
        exact_all,
        exact_owner,
        exact_session,
    ] = statements! {
        WALK_ALL: SEARCH_WALK_TEMPLATE, All;
        WALK_OWNER: SEARCH_WALK_TEMPLATE, Owner;
        WALK_SESSION: SEARCH_WALK_TEMPLATE, Session;
        EXACT_ALL: SEARCH_EXACT_TEMPLATE, All;
        EXACT_OWNER: SEARCH_EXACT_TEMPLATE, Owner;
        EXACT_SESSION: SEARCH_EXACT_TEMPLATE, Session;
    };
    let chosen: &LazyLock<String> = match (shape, scope) {
        (Shape::Walk, Scope::All) => walk_all,
        (Shape::Walk, Scope::Owner) => walk_owner,
        (Shape::Walk, Scope::Session) => walk_session,
        (Shape::Exact, Scope::All) => exact_all,
        (Shape::Exact, Scope::Owner) => exact_owner,
        (Shape::Exact, Scope::Session) => exact_session,
    };
    chosen.as_str()
}

/// The bounds of a search as binds: no upper bound is the far future, no
/// lower bound the epoch.
fn bounds(search: &MessageSearch) -> (TimeKey, TimeKey) {
    let far = TimeKey {
        created_at: OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
        id: MessageId(Uuid::max()),
    };
    let epoch = TimeKey {
        created_at: OffsetDateTime::UNIX_EPOCH,
        id: MessageId(Uuid::nil()),
    };
    (search.before.unwrap_or(far), search.since.unwrap_or(epoch))
}

#[derive(QueryableByName)]
struct MatchRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    session_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Float)]
    rank: f32,
}

impl MatchRow {
    fn into_domain(self) -> Match {
        Match {
            session_id: ChatSessionId(self.session_id),
            key: TimeKey {
                created_at: self.created_at,
                id: MessageId(self.id),
            },
            rank: self.rank,
        }
    }
}

#[derive(QueryableByName)]
struct ScopeSize {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    owner: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    messages: i64,
}

impl PgStore {
    /// Settings for the search's transaction only.
    const SEARCH_SETTINGS_SQL: &'static str = "SELECT set_config('jit', 'off', true), \
set_config('max_parallel_workers_per_gather', '0', true)";

    /// An owner's message count, over their sessions.
    const OWNER_SIZE_SQL: &'static str = "SELECT $1::uuid AS owner, \
COALESCE(sum(message_count), 0)::int8 AS messages FROM chat_sessions WHERE user_id = $1::uuid";

    /// A session's owner and message count.
    const SESSION_SIZE_SQL: &'static str = "SELECT user_id AS owner, message_count::int8 AS messages \
FROM chat_sessions WHERE id = $1::uuid";

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

    pub(crate) fn search(
        &self,
        search: &MessageSearch,
        page: &mut dyn FnMut(Vec<Match>) -> Vec<Match>,
    ) -> StoreResult<Vec<Found>> {
        // On the replica when there is a usable one: a search may lag behind
        // the caller's own posts by up to REPLICA_MAX_LAG.
        self.read_tx(|c| {
            let config = self.search_config_oid(c)?;
            Prepared::new(Self::SEARCH_SETTINGS_SQL).execute(c)?;
            let chosen = page(matches(c, config, search)?);
            if chosen.is_empty() {
                return Ok(Vec::new());
            }
            let sessions: Vec<Uuid> = chosen.iter().map(|m| m.session_id.0).collect();
            let ids: Vec<Uuid> = chosen.iter().map(|m| m.key.id.0).collect();
            let rows = Prepared::new(SEARCH_HITS_SQL)
                .bind::<Oid, _>(config)
                .bind::<Text, _>(search.text.clone())
                .bind::<Array<diesel::sql_types::Uuid>, _>(sessions)
                .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
                .bind::<BigInt, _>(i64::try_from(search.max_bytes).unwrap_or(i64::MAX))
                .load::<HitRow>(c)?;
            let mut found = Vec::with_capacity(rows.len());
            let mut rest = chosen.iter();
            for row in rows {
                let hit = row.into_domain()?;
                // In the page's order; a match without a row was deleted.
                if let Some(at) = rest.by_ref().find(|m| m.key.id == hit.message.id) {
                    found.push(Found { at: *at, hit });
                }
            }
            Ok(found)
        })
    }
}

/// The matches of `search`: the walk first when the scope is large, the
/// exact statement when the walk does not fill the page (or at once).
fn matches(c: &mut PgConnection, config: u32, search: &MessageSearch) -> QueryResult<Vec<Match>> {
    let (upper, lower) = bounds(search);
    // The scope, its owner and whether it is large enough to walk.
    let (scope, owner, session, walk) = match search.scope {
        SearchScope::All => (Scope::All, None, None, true),
        SearchScope::Owner(owner) => {
            let size = Prepared::new(PgStore::OWNER_SIZE_SQL)
                .bind::<diesel::sql_types::Uuid, _>(owner.0)
                .get_result::<ScopeSize>(c)?;
            (
                Scope::Owner,
                Some(owner.0),
                None,
                size.messages > WALK_ABOVE,
            )
        }
        SearchScope::Session(session, owner) => {
            let size = Prepared::new(PgStore::SESSION_SIZE_SQL)
                .bind::<diesel::sql_types::Uuid, _>(session.0)
                .get_result::<ScopeSize>(c)
                .optional()?;
            match size {
                Some(size) if owner.is_none_or(|o| Some(o.0) == size.owner) => (
                    Scope::Session,
                    size.owner,
                    Some(session.0),
                    size.messages > WALK_ABOVE,
                ),
                // No such session, or another owner's: nothing.
                _ => return Ok(Vec::new()),
            }
        }
    };
    let binds = |sql: &'static str| {
        Prepared::new(sql)
            .bind::<Oid, _>(config)
            .bind::<Text, _>(search.text.clone())
            .bind::<Nullable<diesel::sql_types::Uuid>, _>(owner)
            .bind::<Nullable<diesel::sql_types::Uuid>, _>(session)
            .bind::<Timestamptz, _>(upper.created_at)
            .bind::<diesel::sql_types::Uuid, _>(upper.id.0)
            .bind::<Timestamptz, _>(lower.created_at)
            .bind::<diesel::sql_types::Uuid, _>(lower.id.0)
            .bind::<BigInt, _>(search.limit)
    };
    if walk {
        let rows = binds(search_sql(scope, Shape::Walk))
            .bind::<BigInt, _>(WALK_BUDGET)
            .bind::<Bool, _>(search.ranked)
            .load::<MatchRow>(c)?;
        // A full page from the newest rows is the newest matches.
        if rows.len() as i64 >= search.limit {
            return Ok(rows.into_iter().map(MatchRow::into_domain).collect());
        }
    }
    let rows = binds(search_sql(scope, Shape::Exact))
        .bind::<Bool, _>(search.ranked)
        .load::<MatchRow>(c)?;
    Ok(rows.into_iter().map(MatchRow::into_domain).collect())
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
struct HitRow {
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
    /// NULL for a message not streamed.
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<crate::rows::Parsed<domain::MessageStatus>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    completed_at: Option<OffsetDateTime>,
}

impl HitRow {
    fn into_domain(self) -> QueryResult<SearchHit> {
        let media = self.media.into_domain(self.media_id);
        // A streamed message is found once it ended (its content, and so
        // its search document, is NULL while it streams).
        let (status, completed_at) = crate::rows::message_status(
            self.status.map(|s| s.0),
            self.created_at,
            self.completed_at,
        );
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
            status,
            created_at: self.created_at,
            completed_at,
        };
        Ok(SearchHit {
            message,
            session_title: self.session_title,
            snippet: snippet_text(self.snippet.as_deref().unwrap_or_default()),
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
