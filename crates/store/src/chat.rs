//! Chat sessions, messages and media.
//!
//! A session is always read with its vendor in the same query (a left join), and
//! a message with its medium. Posting takes the session row's lock to hand out
//! the next `seq`, so sequence order is commit order within a session; a page
//! of messages is read with its visibility check in one statement.

use crate::PgStore;
use crate::accounts::like_pattern;
use crate::error::is_conflict;
use crate::events::{notify, notify_at};
use crate::prepared::{Prepared, Statement, statement};
use crate::rows::VendorRow;
use crate::schema::{chat_sessions, media, messages, vendors};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use domain::events::{EventKind, Notice};
use domain::page::{ByteBudget, message_json_bound};
use domain::ports::{
    Appended, ChatStore, Completion, NewDelta, NewMessage, Posted, SortOrder, StoreResult, Streamed,
};
use domain::timefmt::Timestamp;
use domain::*;
use time::OffsetDateTime;
use uuid::Uuid;

/// The content of a message `m`, a streaming one's so far (its parts and its
/// stream's tail, see [`PgStore::DELTA_SQL`]), read only for a row whose
/// `status` is `streaming`; a streamed message that ended with nothing reads
/// as `""`.
macro_rules! live_content {
    () => {
        "CASE WHEN m.status IS NULL THEN m.content \
WHEN m.status = 'streaming' THEN \
coalesce((SELECT string_agg(p.text, '' ORDER BY p.upto_seq) FROM message_parts p \
WHERE p.message_id = m.id), '') \
|| coalesce((SELECT st.tail FROM message_streams st WHERE st.message_id = m.id), '') \
ELSE coalesce(m.content, '') END"
    };
}

/// The columns of a [`PageRow`], in its order, from a message `m` and its
/// LEFT JOINed medium `md`. `(live)`: with a streaming message's content so
/// far ([`live_content!`]); without, its `content` column (NULL while it
/// streams).
macro_rules! message_columns {
    () => {
        message_columns!(@ "m.content")
    };
    (live) => {
        message_columns!(@ live_content!())
    };
    (@ $($content:tt)+) => {
        concat!(
            "m.id, m.seq, m.sender_id, m.role, m.kind, ",
            $($content)+,
            " AS content, m.media_id, m.client_message_id, \
m.created_at, md.owner_id AS media_owner_id, md.mime_type AS media_mime_type, \
md.size_bytes AS media_size_bytes, md.file_name AS media_file_name, md.sha256 AS media_sha256, \
md.created_at AS media_created_at, m.status, m.completed_at"
        )
    };
}

/// The message page statement, after `$3` by `$cmp`, in `$order`.
macro_rules! message_page_sql {
    ($cmp:literal, $order:literal) => {
        concat!(
            "SELECT ",
            message_columns!(),
            " FROM chat_sessions s \
LEFT JOIN LATERAL (\
SELECT * FROM messages WHERE messages.session_id = s.id AND messages.seq ",
            $cmp,
            " $3 ORDER BY messages.seq ",
            $order,
            " LIMIT $4\
) m ON true \
LEFT JOIN media md ON md.id = m.media_id \
WHERE s.id = $1 AND ($2::uuid IS NULL OR s.user_id = $2::uuid) \
ORDER BY m.seq ",
            $order
        )
    };
}

impl PgStore {
    /// One page of a session's messages, oldest first, with the visibility check,
    /// in one statement. Binds: `$1` session id, `$2` owner (NULL: anyone's),
    /// `$3` the last `seq` seen (0 for the first page), `$4` the row limit. No row
    /// at all: the session is not visible; one row of NULL message columns: it
    /// has no messages (past the cursor). A streaming reply's content is
    /// NULL here: [`live_contents`] reads it after, for a page that has one.
    pub const MESSAGE_PAGE_ASC_SQL: &'static str = message_page_sql!(">", "ASC");

    /// [`Self::MESSAGE_PAGE_ASC_SQL`] newest first: `$3` is the last `seq` seen
    /// (`i64::MAX` for the first page).
    pub const MESSAGE_PAGE_DESC_SQL: &'static str = message_page_sql!("<", "DESC");

    /// A post in one statement (so one round trip holds the session's row
    /// lock, and no transaction is opened around it): the bump of the session
    /// under its row lock (the next `seq`, the count, `updatedAt` and
    /// `lastMessageAt`), the insert with the new `seq` and time, its
    /// live-events notice (`"<session> <seq> m <id>"`, sent at commit), and
    /// the new message read back with its medium, as a page row; and its
    /// webhook deliveries (contract §3.11), one per enabled endpoint that
    /// wants `message.created`, each holding the message's row as JSON (read
    /// back as a Message when claimed), with the notice that wakes the
    /// dispatchers: with no endpoint, a scan of the tiny `webhooks` table.
    /// Binds: `$1`
    /// session, `$2` message id, `$3` sender, `$4` role, `$5` kind, `$6`
    /// content, `$7` media id, `$8` client message id, `$9` status (NULL, or
    /// `streaming` for a streamed message, whose content then starts in
    /// `message_parts`: see [`PgStore::post_message`]). No row: the session is
    /// gone. A `clientMessageId` already used fails the unique index, which
    /// undoes the whole statement, bump included. The times are
    /// `clock_timestamp()` in the `SET` list, so that a post that waited for
    /// the lock takes its time after the wait (PostgreSQL re-evaluates the
    /// list for the row it finally locks): `createdAt` never goes down as `seq`
    /// goes up.
    pub const POST_MESSAGE_SQL: &'static str = concat!(
        "\
WITH bumped AS (\
UPDATE chat_sessions SET message_seq = message_seq + 1, message_count = message_count + 1, \
updated_at = clock_timestamp(), last_message_at = clock_timestamp() \
WHERE id = $1 \
RETURNING id, message_seq, last_message_at\
), m AS (\
INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, media_id, \
client_message_id, created_at, status) \
SELECT $2, b.id, b.message_seq, $3, $4, $5, $6, $7, $8, b.last_message_at, $9 FROM bumped b \
RETURNING id, session_id, seq, sender_id, role, kind, content, media_id, client_message_id, created_at, \
status, completed_at\
), hooked AS (\
INSERT INTO webhook_deliveries (id, webhook_id, event_type, session_id, message_row, created_at) \
SELECT dealroom_uuid_v7(), w.id, 'message.created', m.session_id, \
json_build_object('message', to_json(m), 'media', to_json(md))::text, m.created_at \
FROM m CROSS JOIN webhooks w LEFT JOIN media md ON md.id = m.media_id \
WHERE w.enabled AND w.events && ARRAY['message.created', '*'] \
RETURNING 1\
) \
SELECT ",
        message_columns!(),
        ", \
pg_notify('dealroom_events', m.session_id::text || ' ' || m.seq::text || ' m ' || m.id::text) \
AS notified, \
CASE WHEN EXISTS (SELECT 1 FROM hooked) THEN pg_notify('dealroom_webhooks', '') END AS hooks_notified \
FROM m LEFT JOIN media md ON md.id = m.media_id"
    );

    /// The content so far of streaming replies (a page's), with their state
    /// now. Binds: `$1` the messages' ids.
    const LIVE_CONTENTS_SQL: &'static str = concat!(
        "SELECT m.id, ",
        live_content!(),
        " AS content, m.status, m.completed_at FROM messages m WHERE m.id = ANY($1)"
    );

    /// A message by id, with its session and the session's owner (the
    /// message's `owner_id`). Binds: `$1` the message.
    pub const MESSAGE_BY_ID_SQL: &'static str = concat!(
        "SELECT ",
        message_columns!(live),
        ", m.session_id, m.owner_id AS session_owner \
FROM messages m LEFT JOIN media md ON md.id = m.media_id WHERE m.id = $1"
    );

    /// A message by id with the last delta its content includes, if it was
    /// streamed. Binds: `$1` the message.
    pub const MESSAGE_WITH_LAST_DELTA_SQL: &'static str = concat!(
        "SELECT ",
        message_columns!(live),
        ", m.session_id, m.owner_id AS session_owner, ms.last_seq::int8 AS last_seq \
FROM messages m LEFT JOIN media md ON md.id = m.media_id \
LEFT JOIN message_streams ms ON ms.message_id = m.id WHERE m.id = $1"
    );

    /// A message by its session and `clientMessageId`. Binds: `$1` the
    /// session, `$2` the client's id.
    pub const MESSAGE_BY_CLIENT_ID_SQL: &'static str = concat!(
        "SELECT ",
        message_columns!(live),
        " FROM messages m LEFT JOIN media md ON md.id = m.media_id \
WHERE m.session_id = $1 AND m.client_message_id = $2"
    );

    /// The stream of a message just posted with `status` `streaming` (in the
    /// post's transaction), and the content it starts with as its first part
    /// (`upto_seq` 0). Binds: `$1` the message, `$2` its session, `$3` its
    /// sender, `$4` the content's length in characters, `$5` the content.
    pub const START_STREAM_SQL: &'static str = "\
WITH st AS (\
INSERT INTO message_streams (message_id, session_id, sender_id, length, touched_at) \
VALUES ($1, $2, $3, $4, clock_timestamp()) RETURNING message_id\
) \
INSERT INTO message_parts (message_id, upto_seq, text) SELECT message_id, 0, $5 FROM st \
WHERE $5 IS NOT NULL";

    /// A delta, in one statement (one round trip; no transaction around it):
    /// the stream's row is updated only if the delta is the sender's next
    /// one and fits (`last_seq`, `length`, `touched_at`; each a HOT update of
    /// a small row, the message's own row untouched), and under that row's
    /// lock, so a stream's deltas apply one at a time, in order, once; the
    /// delta is logged (`message_deltas`, to tell a retry and for a
    /// listener); its text joins the stream's `tail`, and once the tail holds
    /// 512 characters or more it becomes a part (`message_parts`, keyed by
    /// this `seq`) and the tail starts again; and its `message.delta` notice
    /// goes out at commit, with the text when it fits the payload (7800
    /// bytes, [`domain::events::DeltaNotice`]). What a delta writes is the
    /// same at the 4000th delta as at the first (no row grows with the
    /// content), and so is a read of the content so far: a few dozen parts
    /// and a tail. Binds: `$1` message, `$2` sender, `$3` seq, `$4` text,
    /// `$5` its length in characters, `$6` the most characters a message may
    /// hold. No row: nothing was done (see [`ChatStore::append_delta`]).
    pub const DELTA_SQL: &'static str = "\
WITH s AS (\
UPDATE message_streams SET last_seq = $3, length = length + $5, touched_at = clock_timestamp(), \
tail = CASE WHEN char_length(tail) + $5 >= 512 THEN '' ELSE tail || $4 END, \
flushed = CASE WHEN char_length(tail) + $5 >= 512 THEN tail || $4 END \
WHERE message_id = $1 AND sender_id = $2 AND last_seq = $3 - 1 AND completed_pos IS NULL \
AND length + $5 <= $6 \
RETURNING message_id, session_id, tail, flushed\
), d AS (\
INSERT INTO message_deltas (message_id, seq, text) SELECT message_id, $3, $4 FROM s\
), p AS (\
INSERT INTO message_parts (message_id, upto_seq, text) SELECT message_id, $3, flushed FROM s \
WHERE flushed IS NOT NULL\
) \
SELECT s.tail, pg_notify('dealroom_events', s.session_id::text || ' ' || $3::text || ' D ' \
|| s.message_id::text || CASE WHEN octet_length($4) <= 7800 THEN ' ' || $4 ELSE '' END) AS notified \
FROM s";

    /// The message a delta's `200` answers, read after the delta committed:
    /// its content through that delta (the parts up to it, and the tail as
    /// the delta left it), whatever later deltas did meanwhile. Binds: `$1`
    /// the message, `$2` the delta's seq, `$3` the tail it left.
    pub const DELTA_ANSWER_SQL: &'static str = concat!(
        "SELECT ",
        message_columns!(@ "CASE WHEN m.status = 'streaming' THEN \
coalesce((SELECT string_agg(p.text, '' ORDER BY p.upto_seq) FROM message_parts p \
WHERE p.message_id = m.id AND p.upto_seq <= $2), '') || $3 \
ELSE coalesce(m.content, '') END"),
        ", m.session_id, m.owner_id AS session_owner \
FROM messages m LEFT JOIN media md ON md.id = m.media_id WHERE m.id = $1"
    );

    /// Why a delta was not applied: the message's sender, its stream's
    /// state, and the text of an applied delta at `$2`. Binds: `$1` the
    /// message, `$2` the delta's seq.
    const DELTA_REFUSED_SQL: &'static str = "\
SELECT m.sender_id, st.last_seq::int8 AS last_seq, st.length, \
(st.message_id IS NOT NULL AND st.completed_pos IS NULL) AS open, d.text AS applied \
FROM messages m LEFT JOIN message_streams st ON st.message_id = m.id \
LEFT JOIN message_deltas d ON d.message_id = m.id AND d.seq = $2 \
WHERE m.id = $1";

    /// A stream's row, locked against its deltas and any other completion.
    const LOCK_STREAM_SQL: &'static str = "\
SELECT session_id, sender_id, completed_pos FROM message_streams WHERE message_id = $1 FOR UPDATE";

    /// A stream's row if it is still open and idle for `$2` milliseconds,
    /// locked; `SKIP LOCKED`: one a delta or another instance holds is left.
    const LOCK_IDLE_STREAM_SQL: &'static str = "\
SELECT session_id, sender_id, completed_pos FROM message_streams WHERE message_id = $1 \
AND completed_pos IS NULL AND touched_at < clock_timestamp() - $2::float8 * interval '1 millisecond' \
FOR UPDATE SKIP LOCKED";

    /// Open streams idle for `$1` milliseconds, the longest idle first, at most `$2`.
    const IDLE_STREAMS_SQL: &'static str = "\
SELECT message_id FROM message_streams WHERE completed_pos IS NULL \
AND touched_at < clock_timestamp() - $1::float8 * interval '1 millisecond' \
ORDER BY touched_at LIMIT $2";

    /// The session's event position, under its row's lock (as every write
    /// that sends an event holds it): what a stream ends at.
    const LOCK_POSITION_SQL: &'static str =
        "SELECT message_seq FROM chat_sessions WHERE id = $1 FOR NO KEY UPDATE";

    /// Ends a stream (its row locked): the message's `status` (`$2`),
    /// `completed_at`, and its content, once: `$4` if given, else its parts
    /// and tail (all these subqueries see the rows as they were before this
    /// statement); the stream keeps its end's position (`$3`), its parts and
    /// logged deltas go. An empty content stays NULL (read as `""`).
    const END_STREAM_SQL: &'static str = "\
WITH done AS (\
UPDATE message_streams SET completed_pos = $3, tail = '', flushed = NULL WHERE message_id = $1\
), parts AS (\
DELETE FROM message_parts WHERE message_id = $1\
), deltas AS (\
DELETE FROM message_deltas WHERE message_id = $1\
) \
UPDATE messages m SET status = $2, completed_at = clock_timestamp(), content = NULLIF(coalesce($4, \
coalesce((SELECT string_agg(p.text, '' ORDER BY p.upto_seq) FROM message_parts p \
WHERE p.message_id = m.id), '') \
|| coalesce((SELECT st.tail FROM message_streams st WHERE st.message_id = m.id), '')), '') \
WHERE m.id = $1";

    /// A session's streamed messages that stream now, or ended at position
    /// `$2` or later, oldest first, each with its last delta, in one read.
    pub const STREAMED_SQL: &'static str = concat!(
        "SELECT ",
        message_columns!(live),
        ", m.session_id, m.owner_id AS session_owner, ms.last_seq::int8 AS last_seq \
FROM message_streams ms JOIN messages m ON m.id = ms.message_id \
LEFT JOIN media md ON md.id = m.media_id \
WHERE ms.session_id = $1 AND (ms.completed_pos IS NULL OR ms.completed_pos >= $2) \
ORDER BY m.seq"
    );

    /// One logged delta's text.
    const DELTA_TEXT_SQL: &'static str =
        "SELECT text FROM message_deltas WHERE message_id = $1 AND seq = $2";
}

// ---------------------------------------------------------------- rows

#[derive(Queryable, Selectable)]
#[diesel(table_name = chat_sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    title: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    last_message_at: Option<OffsetDateTime>,
    message_count: i32,
    seller_count: i32,
}

fn session_into_domain((s, v): (SessionRow, Option<VendorRow>)) -> ChatSession {
    ChatSession {
        id: ChatSessionId(s.id),
        user_id: UserId(s.user_id),
        title: s.title,
        created_at: s.created_at,
        updated_at: s.updated_at,
        last_message_at: s.last_message_at,
        message_count: s.message_count,
        vendor: v.map(VendorRow::into_domain),
        seller_count: s.seller_count,
    }
}

#[derive(Insertable)]
#[diesel(table_name = chat_sessions)]
struct NewSessionRow<'a> {
    id: Uuid,
    user_id: Uuid,
    title: &'a str,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = media, check_for_backend(diesel::pg::Pg))]
pub(crate) struct MediaRow {
    id: Uuid,
    owner_id: Option<Uuid>,
    mime_type: String,
    size_bytes: i64,
    file_name: Option<String>,
    sha256: String,
    created_at: OffsetDateTime,
}

impl MediaRow {
    /// The medium without its `url` (the services sign one).
    pub(crate) fn into_domain(self) -> Media {
        Media {
            id: MediaId(self.id),
            owner_id: self.owner_id.map(UserId),
            mime_type: self.mime_type,
            size_bytes: self.size_bytes,
            file_name: self.file_name,
            sha256: self.sha256,
            url: String::new(),
            created_at: self.created_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = messages)]
struct NewMessageRow<'a> {
    id: Uuid,
    session_id: Uuid,
    seq: i64,
    sender_id: Uuid,
    role: &'a str,
    kind: &'a str,
    content: Option<&'a str>,
    media_id: Option<Uuid>,
    client_message_id: Option<&'a str>,
    created_at: OffsetDateTime,
}

/// The SQL types of [`PageRow`]'s columns, in order.
type PageColumns = (
    Nullable<diesel::sql_types::Uuid>,
    Nullable<BigInt>,
    Nullable<diesel::sql_types::Uuid>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<diesel::sql_types::Uuid>,
    Nullable<Text>,
    Nullable<Timestamptz>,
    crate::rows::JoinedMediaColumns,
    Nullable<Text>,
    Nullable<Timestamptz>,
);

/// A row of the message page statement: message columns are NULL on the one
/// row that a session without (further) messages yields. The page loads it
/// by position (its columns are [`PageColumns`], in this order; decoded by
/// hand below); the post, whose statement has one more column, by name.
#[derive(QueryableByName)]
struct PageRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    id: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    seq: Option<i64>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    sender_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<crate::rows::Parsed<MessageRole>>,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<crate::rows::Parsed<MessageKind>>,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    media_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    client_message_id: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    created_at: Option<OffsetDateTime>,
    #[diesel(embed)]
    media: crate::rows::JoinedMedia,
    /// NULL for a message not streamed.
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<crate::rows::Parsed<MessageStatus>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    completed_at: Option<OffsetDateTime>,
}

/// By position, by hand: Diesel's tuple decoding was about a tenth of the
/// page's CPU (51 rows of 15 columns), and a text message (most of them)
/// has no medium's six columns to read.
impl diesel::deserialize::FromSqlRow<PageColumns, diesel::pg::Pg> for PageRow {
    fn build_from_row<'a>(
        row: &impl diesel::row::Row<'a, diesel::pg::Pg>,
    ) -> diesel::deserialize::Result<Self> {
        use crate::rows::{JoinedMedia, column};
        use diesel::sql_types::Uuid as SqlUuid;
        let media_id = column::<SqlUuid, Uuid>(row, 6)?;
        Ok(PageRow {
            id: column::<SqlUuid, _>(row, 0)?,
            seq: column::<BigInt, _>(row, 1)?,
            sender_id: column::<SqlUuid, _>(row, 2)?,
            role: column::<Text, _>(row, 3)?,
            kind: column::<Text, _>(row, 4)?,
            content: column::<Text, _>(row, 5)?,
            media_id,
            client_message_id: column::<Text, _>(row, 7)?,
            created_at: column::<Timestamptz, _>(row, 8)?,
            media: match media_id {
                Some(_) => JoinedMedia::at(row, 9)?,
                None => JoinedMedia::default(),
            },
            status: column::<Text, _>(row, 15)?,
            completed_at: column::<Timestamptz, _>(row, 16)?,
        })
    }
}

impl PageRow {
    /// The message of this row, if it has one.
    fn into_domain(self, session: ChatSessionId) -> QueryResult<Option<Message>> {
        let (Some(id), Some(seq), Some(role), Some(kind), Some(created_at)) =
            (self.id, self.seq, self.role, self.kind, self.created_at)
        else {
            return Ok(None);
        };
        let media = self.media.into_domain(self.media_id);
        let (status, completed_at) =
            crate::rows::message_status(self.status.map(|s| s.0), created_at, self.completed_at);
        Ok(Some(Message {
            id: MessageId(id),
            session_id: session,
            seq,
            sender_id: self.sender_id.map(UserId),
            role: role.0,
            kind: kind.0,
            content: self.content,
            media,
            client_message_id: self.client_message_id,
            status,
            created_at,
            completed_at,
        }))
    }
}

// ---------------------------------------------------------------- helpers

pub(crate) fn session_by_id(
    c: &mut PgConnection,
    id: ChatSessionId,
) -> QueryResult<Option<ChatSession>> {
    chat_sessions::table
        .left_join(vendors::table)
        .filter(chat_sessions::id.eq(id.0))
        .select((SessionRow::as_select(), Option::<VendorRow>::as_select()))
        .first(c)
        .optional()
        .map(|r| r.map(session_into_domain))
}

pub(crate) fn message_by_id(
    c: &mut PgConnection,
    id: MessageId,
) -> QueryResult<Option<(Message, UserId)>> {
    let row: Option<OwnedRow> = Prepared::of::<MessageById>()
        .bind::<diesel::sql_types::Uuid, _>(id.0)
        .get_result(c)
        .optional()?;
    row.and_then(|r| {
        let owner = UserId(r.session_owner);
        r.message
            .into_domain(ChatSessionId(r.session_id))
            .transpose()
            .map(|m| m.map(|m| (m, owner)))
    })
    .transpose()
}

fn message_by_client_id(
    c: &mut PgConnection,
    session: ChatSessionId,
    client_message_id: &str,
) -> QueryResult<Option<Message>> {
    let row: Option<PageRow> = Prepared::of::<MessageByClientId>()
        .bind::<diesel::sql_types::Uuid, _>(session.0)
        .bind::<Text, _>(client_message_id.to_owned())
        .get_result(c)
        .optional()?;
    match row {
        Some(row) => row.into_domain(session),
        None => Ok(None),
    }
}

/// A message row with its session and the session's owner.
#[derive(QueryableByName)]
struct OwnedRow {
    #[diesel(embed)]
    message: PageRow,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    session_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    session_owner: Uuid,
}

statement!(
    /// [`PgStore::MESSAGE_PAGE_ASC_SQL`].
    PageAsc = PgStore::MESSAGE_PAGE_ASC_SQL
);
statement!(
    /// [`PgStore::MESSAGE_PAGE_DESC_SQL`].
    PageDesc = PgStore::MESSAGE_PAGE_DESC_SQL
);
statement!(
    /// [`PgStore::POST_MESSAGE_SQL`].
    PostMessage = PgStore::POST_MESSAGE_SQL
);
statement!(
    /// [`PgStore::MESSAGE_BY_ID_SQL`].
    MessageById = PgStore::MESSAGE_BY_ID_SQL
);
statement!(
    /// [`PgStore::MESSAGE_BY_CLIENT_ID_SQL`].
    MessageByClientId = PgStore::MESSAGE_BY_CLIENT_ID_SQL
);

/// One page of messages, by the page statement `S`: `None` when the session
/// is not there (or not the owner's). Each row becomes its message as it is
/// read, into a vector sized for the page at once (no intermediate rows, no
/// regrowth: each is a copy of the page).
fn page_rows<S: Statement>(
    c: &mut PgConnection,
    session: ChatSessionId,
    owner: Option<UserId>,
    after: i64,
    limit: i64,
    budget: &mut ByteBudget,
) -> QueryResult<Option<Vec<Message>>> {
    let rows = Prepared::of::<S>()
        .returning::<PageColumns>()
        .bind::<diesel::sql_types::Uuid, _>(session.0)
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(owner.map(|o| o.0))
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit)
        .load_iter::<PageRow, diesel::connection::DefaultLoadingMode>(c)?;
    let start = *budget;
    let mut page = None;
    let mut streaming = false;
    for row in rows {
        let messages = page.get_or_insert_with(|| {
            Vec::with_capacity(usize::try_from(limit).unwrap_or(0).min(PAGE_CAPACITY))
        });
        if budget.was_cut() {
            // Past the byte cap: the rest is left undecoded.
            break;
        }
        if let Some(m) = row?.into_domain(session)?
            && budget.take(message_json_bound(&m))
        {
            streaming |= m.status == MessageStatus::Streaming;
            messages.push(m);
        }
    }
    if streaming && let Some(messages) = page.as_mut() {
        *budget = start;
        live_contents(c, messages, budget)?;
    }
    Ok(page)
}

/// The content so far of a page's streaming replies, read after the page in
/// one statement (the page's own statement reads no stream: a page of
/// messages not streamed costs what it did), with their state then (one
/// may have ended meanwhile); then the byte cap is spent again from `budget`
/// and the page cut where it no longer fits.
fn live_contents(
    c: &mut PgConnection,
    messages: &mut Vec<Message>,
    budget: &mut ByteBudget,
) -> QueryResult<()> {
    let ids: Vec<Uuid> = messages
        .iter()
        .filter(|m| m.status == MessageStatus::Streaming)
        .map(|m| m.id.0)
        .collect();
    let rows: Vec<LiveRow> = Prepared::new(PgStore::LIVE_CONTENTS_SQL)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
        .load(c)?;
    for m in messages.iter_mut() {
        if let Some(r) = rows.iter().find(|r| r.id == m.id.0) {
            let (status, completed_at) = crate::rows::message_status(
                r.status.as_ref().map(|s| s.0),
                m.created_at,
                r.completed_at,
            );
            m.content = r.content.clone();
            m.status = status;
            m.completed_at = completed_at;
        }
    }
    let fits = messages
        .iter()
        .take_while(|m| budget.take(message_json_bound(m)))
        .count();
    messages.truncate(fits);
    Ok(())
}

#[derive(QueryableByName)]
struct LiveRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<crate::rows::Parsed<MessageStatus>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    completed_at: Option<OffsetDateTime>,
}

/// The most messages a page's vector is sized for up front: the most rows a
/// page asks for, its largest `limit` and one to tell there is more.
const PAGE_CAPACITY: usize = domain::page::MAX_LIMIT as usize + 1;

/// Posts the message in one statement ([`PgStore::POST_MESSAGE_SQL`]);
/// `Ok(None)` when the session is gone.
fn append(c: &mut PgConnection, m: &NewMessage) -> QueryResult<Option<Message>> {
    let row = Prepared::of::<PostMessage>()
        .bind::<diesel::sql_types::Uuid, _>(m.session_id.0)
        .bind::<diesel::sql_types::Uuid, _>(m.id.0)
        .bind::<diesel::sql_types::Uuid, _>(m.sender_id.0)
        .bind::<Text, _>(m.role.as_str())
        .bind::<Text, _>(m.kind.as_str())
        .bind::<Nullable<Text>, _>(m.content.clone())
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(m.media_id.map(|id| id.0))
        .bind::<Nullable<Text>, _>(m.client_message_id.clone())
        .bind::<Nullable<Text>, _>(m.stream.then_some(MessageStatus::Streaming.as_str()))
        .get_result::<PageRow>(c)
        .optional()?;
    match row {
        Some(row) => row.into_domain(m.session_id),
        None => Ok(None),
    }
}

/// Posts a streamed message in one transaction: the post (its row with
/// `status` `streaming` and no content) and its stream, the content it
/// starts with as its first part. `Ok(None)` when the session is gone.
fn append_streamed(c: &mut PgConnection, m: &NewMessage) -> QueryResult<Option<Message>> {
    use diesel::Connection;
    let content = m.content.clone();
    let post = NewMessage {
        content: None,
        ..m.clone()
    };
    c.transaction(|c| {
        let Some(mut posted) = append(c, &post)? else {
            return Ok(None);
        };
        let length = content.as_deref().map_or(0, |t| t.chars().count());
        Prepared::new(PgStore::START_STREAM_SQL)
            .bind::<diesel::sql_types::Uuid, _>(m.id.0)
            .bind::<diesel::sql_types::Uuid, _>(m.session_id.0)
            .bind::<diesel::sql_types::Uuid, _>(m.sender_id.0)
            .bind::<Integer, _>(i32::try_from(length).unwrap_or(i32::MAX))
            .bind::<Nullable<Text>, _>(content.clone())
            .execute(c)?;
        posted.content = Some(content.unwrap_or_default());
        Ok(Some(posted))
    })
}

/// The most characters a message holds (contract 3.4), streamed or not.
const MAX_CONTENT_CHARS: i32 = 32_000;

#[derive(QueryableByName)]
struct DeltaRow {
    #[diesel(sql_type = Text)]
    tail: String,
}

#[derive(QueryableByName)]
struct RefusedRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    sender_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_seq: Option<i64>,
    #[diesel(sql_type = Nullable<Integer>)]
    length: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    open: bool,
    #[diesel(sql_type = Nullable<Text>)]
    applied: Option<String>,
}

/// The answer to a delta that [`PgStore::DELTA_SQL`] did not apply; `None`
/// when it would apply now (another delta moved the stream meanwhile): try
/// again.
fn refused(c: &mut PgConnection, d: &NewDelta<'_>, chars: i32) -> QueryResult<Option<Appended>> {
    let row: Option<RefusedRow> = Prepared::new(PgStore::DELTA_REFUSED_SQL)
        .bind::<diesel::sql_types::Uuid, _>(d.message.0)
        .bind::<BigInt, _>(d.seq)
        .get_result(c)
        .optional()?;
    let Some(row) = row else {
        return Ok(Some(Appended::NotFound));
    };
    if row.sender_id != Some(d.sender.0) {
        return Ok(Some(Appended::NotSender));
    }
    let (true, Some(last), Some(length)) = (row.open, row.last_seq, row.length) else {
        return Ok(Some(Appended::NotStreaming));
    };
    let expected = last + 1;
    if d.seq <= last {
        return Ok(Some(if row.applied.as_deref() == Some(d.text) {
            match message_by_id(c, d.message)? {
                Some((m, _)) => Appended::Repeated(m),
                None => Appended::NotFound,
            }
        } else {
            Appended::OutOfSequence { expected }
        }));
    }
    if d.seq > expected {
        return Ok(Some(Appended::OutOfSequence { expected }));
    }
    if i64::from(length) + i64::from(chars) > i64::from(MAX_CONTENT_CHARS) {
        return Ok(Some(Appended::TooLong));
    }
    Ok(None)
}

/// Applies a delta ([`PgStore::DELTA_SQL`]), then reads what its `200`
/// answers ([`PgStore::DELTA_ANSWER_SQL`]): two round trips, each of a
/// cost that does not grow with the content.
fn append_delta(c: &mut PgConnection, d: &NewDelta<'_>) -> QueryResult<Appended> {
    let chars = i32::try_from(d.text.chars().count()).unwrap_or(i32::MAX);
    // Another delta of the same stream may move it between the write and the
    // look at why it was refused; a few tries settle it.
    for _ in 0..3 {
        let applied: Option<DeltaRow> = Prepared::new(PgStore::DELTA_SQL)
            .bind::<diesel::sql_types::Uuid, _>(d.message.0)
            .bind::<diesel::sql_types::Uuid, _>(d.sender.0)
            .bind::<BigInt, _>(d.seq)
            .bind::<Text, _>(d.text.to_owned())
            .bind::<Integer, _>(chars)
            .bind::<Integer, _>(MAX_CONTENT_CHARS)
            .get_result(c)
            .optional()?;
        if let Some(applied) = applied {
            let row: Option<OwnedRow> = Prepared::new(PgStore::DELTA_ANSWER_SQL)
                .bind::<diesel::sql_types::Uuid, _>(d.message.0)
                .bind::<BigInt, _>(d.seq)
                .bind::<Text, _>(applied.tail)
                .get_result(c)
                .optional()?;
            let message = row
                .map(|r| r.message.into_domain(ChatSessionId(r.session_id)))
                .transpose()?
                .flatten();
            // Deleted meanwhile: there is nothing to answer with.
            return Ok(message.map_or(Appended::NotFound, Appended::Applied));
        }
        if let Some(answer) = refused(c, d, chars)? {
            return Ok(answer);
        }
    }
    Err(diesel::result::Error::QueryBuilderError(
        "a delta neither applied nor refused after three tries".into(),
    ))
}

#[derive(QueryableByName)]
struct StreamLock {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    session_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    sender_id: Uuid,
    #[diesel(sql_type = Nullable<BigInt>)]
    completed_pos: Option<i64>,
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    message_seq: i64,
}

/// Ends the stream whose row `lock` holds (in the caller's transaction):
/// the session's position under its row lock, the message's final state
/// ([`PgStore::END_STREAM_SQL`]), and its `message.completed` notice
/// through [`notify`] (the path every event takes, webhooks' too); the
/// message as it is now.
fn end_stream(
    c: &mut PgConnection,
    id: MessageId,
    lock: &StreamLock,
    status: MessageStatus,
    content: Option<&str>,
) -> QueryResult<Option<Message>> {
    let position: Position = Prepared::new(PgStore::LOCK_POSITION_SQL)
        .bind::<diesel::sql_types::Uuid, _>(lock.session_id)
        .get_result(c)?;
    Prepared::new(PgStore::END_STREAM_SQL)
        .bind::<diesel::sql_types::Uuid, _>(id.0)
        .bind::<Text, _>(status.as_str())
        .bind::<BigInt, _>(position.message_seq)
        .bind::<Nullable<Text>, _>(content.map(str::to_owned))
        .execute(c)?;
    notify(c, lock.session_id, EventKind::MessageCompleted, id.0)?;
    Ok(message_by_id(c, id)?.map(|(m, _)| m))
}

#[derive(QueryableByName)]
struct StreamedRow {
    #[diesel(embed)]
    owned: OwnedRow,
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
}

#[derive(QueryableByName)]
struct MaybeStreamedRow {
    #[diesel(embed)]
    owned: OwnedRow,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_seq: Option<i64>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    message_id: Uuid,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    text: String,
}

// ---------------------------------------------------------------- the port

impl ChatStore for PgStore {
    fn create_chat_session(
        &self,
        id: ChatSessionId,
        owner: UserId,
        title: &str,
    ) -> StoreResult<ChatSession> {
        self.tx(|c| {
            let row = diesel::insert_into(chat_sessions::table)
                .values(NewSessionRow {
                    id: id.0,
                    user_id: owner.0,
                    title,
                })
                .returning(SessionRow::as_returning())
                .get_result(c)?;
            crate::webhooks::enqueue_event(
                c,
                domain::webhooks::EventType::SessionCreated,
                id.0,
                id.0,
            )?;
            Ok(session_into_domain((row, None)))
        })
    }

    fn chat_session(&self, id: ChatSessionId) -> StoreResult<Option<ChatSession>> {
        self.run(|c| session_by_id(c, id))
    }

    fn chat_session_owner(&self, id: ChatSessionId) -> StoreResult<Option<UserId>> {
        self.run(|c| {
            chat_sessions::table
                .find(id.0)
                .select(chat_sessions::user_id)
                .first::<Uuid>(c)
                .optional()
                .map(|o| o.map(UserId))
        })
    }

    fn chat_session_position(&self, id: ChatSessionId) -> StoreResult<Option<(UserId, i64)>> {
        self.run(|c| {
            chat_sessions::table
                .find(id.0)
                .select((chat_sessions::user_id, chat_sessions::message_seq))
                .first::<(Uuid, i64)>(c)
                .optional()
                .map(|o| o.map(|(user, seq)| (UserId(user), seq)))
        })
    }

    fn list_chat_sessions(
        &self,
        owner: UserId,
        q: Option<&str>,
        after: Option<(Timestamp, ChatSessionId)>,
        limit: i64,
    ) -> StoreResult<Vec<ChatSession>> {
        // A title search may lag by up to REPLICA_MAX_LAG (the replica's when
        // there is a usable one); the plain list is what a client reads right
        // after creating or renaming a session: the primary's.
        let list = |c: &mut PgConnection| {
            let mut query = chat_sessions::table
                .left_join(vendors::table)
                .filter(chat_sessions::user_id.eq(owner.0))
                .select((SessionRow::as_select(), Option::<VendorRow>::as_select()))
                .order((chat_sessions::updated_at.desc(), chat_sessions::id.desc()))
                .limit(limit)
                .into_boxed();
            if let Some(text) = q {
                query = query.filter(chat_sessions::title.ilike(like_pattern(text)));
            }
            if let Some((at, id)) = after {
                query = query.filter(
                    chat_sessions::updated_at
                        .lt(at)
                        .or(chat_sessions::updated_at
                            .eq(at)
                            .and(chat_sessions::id.lt(id.0))),
                );
            }
            Ok(query
                .load::<(SessionRow, Option<VendorRow>)>(c)?
                .into_iter()
                .map(session_into_domain)
                .collect())
        };
        if q.is_some() {
            self.read(list)
        } else {
            self.run(list)
        }
    }

    fn rename_chat_session(
        &self,
        id: ChatSessionId,
        title: &str,
    ) -> StoreResult<Option<ChatSession>> {
        self.tx(|c| {
            let changed = diesel::update(chat_sessions::table.find(id.0))
                .set((
                    chat_sessions::title.eq(title),
                    chat_sessions::updated_at.eq(crate::rows::sql::clock_timestamp()),
                ))
                .execute(c)?;
            if changed == 0 {
                return Ok(None);
            }
            notify(c, id.0, EventKind::SessionUpdated, id.0)?;
            session_by_id(c, id)
        })
    }

    fn delete_chat_session(&self, id: ChatSessionId) -> StoreResult<bool> {
        self.tx(|c| {
            let carried: Vec<Uuid> = messages::table
                .filter(messages::session_id.eq(id.0))
                .filter(messages::media_id.is_not_null())
                .select(messages::media_id.assume_not_null())
                .load(c)?;
            let deleted = diesel::delete(chat_sessions::table.find(id.0)).execute(c)? > 0;
            crate::media::delete_uncarried(c, &carried)?;
            if deleted {
                let gone = Notice {
                    session: id,
                    seq: 0,
                    kind: EventKind::SessionDeleted,
                    id: id.0,
                };
                notify_at(c, &gone)?;
            }
            Ok(deleted)
        })
    }

    fn post_message(&self, message: &NewMessage) -> StoreResult<Option<Posted>> {
        self.run(|c| {
            // A cheap answer for a client's retry, before taking any lock.
            if let Some(cid) = message.client_message_id.as_deref()
                && let Some(found) = message_by_client_id(c, message.session_id, cid)?
            {
                return Ok(Some(Posted::Existing(found)));
            }
            let appended = if message.stream {
                append_streamed(c, message)
            } else {
                append(c, message)
            };
            match appended {
                Ok(created) => Ok(created.map(Posted::Created)),
                // A post with the same client id came first (a retry racing
                // the original): its message is the answer.
                Err(e) if is_conflict(&e, Conflict::ClientMessageId) => {
                    let cid = message.client_message_id.as_deref().unwrap_or_default();
                    match message_by_client_id(c, message.session_id, cid)? {
                        Some(found) => Ok(Some(Posted::Existing(found))),
                        None => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        })
    }

    fn message_page(
        &self,
        session: ChatSessionId,
        owner: Option<UserId>,
        after_seq: Option<i64>,
        order: SortOrder,
        limit: i64,
        budget: &mut ByteBudget,
    ) -> StoreResult<Option<Vec<Message>>> {
        self.run(|c| {
            // A retried call starts from the same budget.
            let mut spent = *budget;
            let page = match order {
                SortOrder::Asc => page_rows::<PageAsc>(
                    c,
                    session,
                    owner,
                    after_seq.unwrap_or(0),
                    limit,
                    &mut spent,
                ),
                SortOrder::Desc => page_rows::<PageDesc>(
                    c,
                    session,
                    owner,
                    after_seq.unwrap_or(i64::MAX),
                    limit,
                    &mut spent,
                ),
            }?;
            *budget = spent;
            Ok(page)
        })
    }

    fn message(&self, id: MessageId) -> StoreResult<Option<(Message, UserId)>> {
        self.run(|c| message_by_id(c, id))
    }

    fn delete_message(&self, id: MessageId) -> StoreResult<bool> {
        self.tx(|c| {
            let session: Option<Uuid> = diesel::delete(messages::table.find(id.0))
                .returning(messages::session_id)
                .get_result(c)
                .optional()?;
            let Some(session) = session else {
                return Ok(false);
            };
            diesel::update(chat_sessions::table.find(session))
                .set(chat_sessions::message_count.eq(chat_sessions::message_count - 1))
                .execute(c)?;
            notify(c, session, EventKind::MessageDeleted, id.0)?;
            Ok(true)
        })
    }

    // ------------------------------------------------------------ streamed replies

    fn append_delta(&self, delta: &NewDelta<'_>) -> StoreResult<Appended> {
        self.run(|c| append_delta(c, delta))
    }

    fn complete_message(
        &self,
        id: MessageId,
        sender: Option<UserId>,
        content: Option<&str>,
    ) -> StoreResult<Completion> {
        use diesel::Connection;
        self.run(|c| {
            c.transaction(|c| {
                let lock: Option<StreamLock> = Prepared::new(PgStore::LOCK_STREAM_SQL)
                    .bind::<diesel::sql_types::Uuid, _>(id.0)
                    .get_result(c)
                    .optional()?;
                let sent_by = |s: Option<UserId>| sender.is_none_or(|who| s == Some(who));
                let Some(lock) = lock.filter(|l| l.completed_pos.is_none()) else {
                    // Never streamed, or ended: the message as it is.
                    return Ok(match message_by_id(c, id)? {
                        None => Completion::NotFound,
                        Some((m, _)) if !sent_by(m.sender_id) => Completion::NotSender,
                        Some((m, _)) => Completion::Unchanged(m),
                    });
                };
                if !sent_by(Some(UserId(lock.sender_id))) {
                    return Ok(Completion::NotSender);
                }
                Ok(
                    match end_stream(c, id, &lock, MessageStatus::Complete, content)? {
                        Some(m) => Completion::Completed(m),
                        None => Completion::NotFound,
                    },
                )
            })
        })
    }

    fn expire_idle_streams(
        &self,
        idle_for: std::time::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        use diesel::Connection;
        let millis = idle_for.as_secs_f64() * 1000.0;
        self.run(|c| {
            let idle: Vec<IdRow> = Prepared::new(PgStore::IDLE_STREAMS_SQL)
                .bind::<diesel::sql_types::Double, _>(millis)
                .bind::<BigInt, _>(limit)
                .load(c)?;
            let mut ended = Vec::new();
            for row in idle {
                let id = MessageId(row.message_id);
                let done = c.transaction(|c| {
                    // Again under the lock: a delta may have come meanwhile.
                    let lock: Option<StreamLock> = Prepared::new(PgStore::LOCK_IDLE_STREAM_SQL)
                        .bind::<diesel::sql_types::Uuid, _>(id.0)
                        .bind::<diesel::sql_types::Double, _>(millis)
                        .get_result(c)
                        .optional()?;
                    match lock {
                        Some(lock) => end_stream(c, id, &lock, MessageStatus::Incomplete, None),
                        None => Ok(None),
                    }
                })?;
                ended.extend(done);
            }
            Ok(ended)
        })
    }

    fn streamed(
        &self,
        session: ChatSessionId,
        ended_since: Option<i64>,
    ) -> StoreResult<Vec<Streamed>> {
        self.run(|c| {
            let rows: Vec<StreamedRow> = Prepared::new(PgStore::STREAMED_SQL)
                .bind::<diesel::sql_types::Uuid, _>(session.0)
                .bind::<BigInt, _>(ended_since.unwrap_or(i64::MAX))
                .load(c)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let session = ChatSessionId(r.owned.session_id);
                if let Some(message) = r.owned.message.into_domain(session)? {
                    out.push(Streamed {
                        message,
                        last_seq: r.last_seq,
                    });
                }
            }
            Ok(out)
        })
    }

    fn message_and_last_delta(&self, id: MessageId) -> StoreResult<Option<(Message, Option<i64>)>> {
        self.run(|c| {
            let row: Option<MaybeStreamedRow> = Prepared::new(PgStore::MESSAGE_WITH_LAST_DELTA_SQL)
                .bind::<diesel::sql_types::Uuid, _>(id.0)
                .get_result(c)
                .optional()?;
            let Some(r) = row else { return Ok(None) };
            let session = ChatSessionId(r.owned.session_id);
            Ok(r.owned
                .message
                .into_domain(session)?
                .map(|m| (m, r.last_seq)))
        })
    }

    fn delta_text(&self, message: MessageId, seq: i64) -> StoreResult<Option<String>> {
        self.run(|c| {
            Prepared::new(PgStore::DELTA_TEXT_SQL)
                .bind::<diesel::sql_types::Uuid, _>(message.0)
                .bind::<BigInt, _>(seq)
                .get_result::<TextRow>(c)
                .optional()
                .map(|r| r.map(|r| r.text))
        })
    }

    // ------------------------------------------------------------ search (search.rs)

    fn search_messages(
        &self,
        search: &domain::ports::MessageSearch,
        page: &mut dyn FnMut(Vec<domain::ports::Match>) -> Vec<domain::ports::Match>,
    ) -> StoreResult<Vec<domain::ports::Found>> {
        self.search(search, page)
    }
}
