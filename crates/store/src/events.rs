//! Live events through PostgreSQL: a write sends its [`Notice`] with
//! `pg_notify` inside its own transaction (delivered at commit, in commit
//! order, never for a rollback), and [`PgNotices`] is the dedicated
//! connection that listens.

use crate::PgStore;
use crate::prepared::Prepared;
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use domain::events::{DeltaNotice, EventKind, Heard, Notice, NoticeSource, Notices};
use domain::ids::UserId;
use domain::ports::StoreResult;
use uuid::Uuid;

/// The channel every instance listens on.
pub const CHANNEL: &str = "dealroom_events";
/// The channel the database's triggers notify a user's id on when their
/// access changes (migration `2026-11-30-000001_access_notices`).
pub const ACCESS_CHANNEL: &str = "dealroom_auth";

impl PgStore {
    /// Sends the notice with the session's current event position (the seq
    /// of its newest message), read under the row lock the write holds.
    const NOTIFY_SQL: &'static str = "\
SELECT pg_notify('dealroom_events', id::text || ' ' || message_seq::text || ' ' || $2 || ' ' || $3) \
FROM chat_sessions WHERE id = $1";
    /// Sends a notice whose position the caller knows.
    const NOTIFY_AT_SQL: &'static str = "SELECT pg_notify('dealroom_events', $1)";
}

#[derive(QueryableByName)]
struct Sent {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>, column_name = pg_notify)]
    _sent: Option<String>,
}

/// Notifies `kind` of `id` in `session`, inside the caller's transaction, after
/// its write has taken the session's row lock; and writes the event's webhook
/// deliveries in the same transaction ([`crate::webhooks::enqueue`]).
pub(crate) fn notify(
    c: &mut PgConnection,
    session: Uuid,
    kind: EventKind,
    id: Uuid,
) -> QueryResult<()> {
    Prepared::new(PgStore::NOTIFY_SQL)
        .bind::<SqlUuid, _>(session)
        .bind::<Text, _>(kind.letter().to_string())
        .bind::<Text, _>(id.to_string())
        .load::<Sent>(c)?;
    crate::webhooks::enqueue(c, session, kind, id)
}

/// Notifies a notice whose position is known (a new message, a deleted
/// session), with its webhook deliveries, as [`notify`].
pub(crate) fn notify_at(c: &mut PgConnection, notice: &Notice) -> QueryResult<()> {
    Prepared::new(PgStore::NOTIFY_AT_SQL)
        .bind::<Text, _>(notice.payload())
        .load::<Sent>(c)?;
    crate::webhooks::enqueue(c, notice.session.0, notice.kind, notice.id)
}

/// The listening connection of one instance.
pub(crate) struct PgNotices {
    conn: PgConnection,
}

impl PgNotices {
    /// Connects to `url` and listens; named `dealroom-listener` in
    /// `pg_stat_activity`.
    pub fn listen(url: &str) -> StoreResult<Self> {
        let mut conn = PgConnection::establish(url)
            .map_err(|e| domain::StoreError::Unavailable(e.to_string()))?;
        conn.batch_execute(&format!(
            "SET application_name = 'dealroom-listener'; LISTEN {CHANNEL}; LISTEN {ACCESS_CHANNEL}"
        ))
        .map_err(crate::classify)?;
        Ok(Self { conn })
    }
}

impl Notices for PgNotices {
    fn poll(&mut self) -> StoreResult<Vec<Heard>> {
        let mut out = Vec::new();
        for n in self.conn.notifications_iter() {
            let n = n.map_err(|e| domain::StoreError::Unavailable(e.to_string()))?;
            let heard = if n.channel == ACCESS_CHANNEL {
                n.payload
                    .parse()
                    .ok()
                    .map(|u| Heard::AccessChanged(UserId(u)))
            } else {
                // A delta first: one without its text has a notice's shape.
                DeltaNotice::parse(&n.payload)
                    .map(Heard::Delta)
                    .or_else(|| Notice::parse(&n.payload).map(Heard::Event))
            };
            match heard {
                Some(h) => out.push(h),
                None => log::warn!(
                    "ignoring a malformed notice on {}: {:?}",
                    n.channel,
                    n.payload
                ),
            }
        }
        Ok(out)
    }

    fn ping(&mut self) -> StoreResult<()> {
        self.conn
            .batch_execute("SELECT 1")
            .map_err(|e| domain::StoreError::Unavailable(e.to_string()))
    }
}

impl NoticeSource for PgStore {
    fn listen(&self) -> StoreResult<Box<dyn Notices>> {
        Ok(Box::new(PgNotices::listen(&self.direct_url)?))
    }
}
