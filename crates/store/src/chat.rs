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
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use domain::events::{EventKind, Notice};
use domain::page::{ByteBudget, message_json_bound};
use domain::ports::{ChatStore, NewMessage, Posted, SortOrder, StoreResult};
use domain::timefmt::Timestamp;
use domain::*;
use time::OffsetDateTime;
use uuid::Uuid;

/// The columns of a [`PageRow`], in its order, from a message `m` and its
/// LEFT JOINed medium `md`.
macro_rules! message_columns {
    () => {
        "m.id, m.seq, m.sender_id, m.role, m.kind, m.content, m.media_id, m.client_message_id, \
m.created_at, md.owner_id AS media_owner_id, md.mime_type AS media_mime_type, \
md.size_bytes AS media_size_bytes, md.file_name AS media_file_name, md.sha256 AS media_sha256, \
md.created_at AS media_created_at"
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
    /// has no messages (past the cursor).
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
    /// content, `$7` media id, `$8` client message id. No row: the session is
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
client_message_id, created_at) \
SELECT $2, b.id, b.message_seq, $3, $4, $5, $6, $7, $8, b.last_message_at FROM bumped b \
RETURNING id, session_id, seq, sender_id, role, kind, content, media_id, client_message_id, created_at\
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
struct MessageRow {
    id: Uuid,
    session_id: Uuid,
    seq: i64,
    sender_id: Option<Uuid>,
    role: String,
    kind: String,
    content: Option<String>,
    client_message_id: Option<String>,
    created_at: OffsetDateTime,
}

impl MessageRow {
    fn into_domain(self, media: Option<MediaRow>) -> QueryResult<Message> {
        Ok(Message {
            id: MessageId(self.id),
            session_id: ChatSessionId(self.session_id),
            seq: self.seq,
            sender_id: self.sender_id.map(UserId),
            role: self.role.parse().map_err(crate::rows::bad_value)?,
            kind: self.kind.parse().map_err(crate::rows::bad_value)?,
            content: self.content,
            media: media.map(MediaRow::into_domain),
            client_message_id: self.client_message_id,
            created_at: self.created_at,
        })
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
            created_at,
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
    let row: Option<(MessageRow, Option<MediaRow>, Uuid)> = messages::table
        .inner_join(chat_sessions::table)
        .left_join(media::table)
        .filter(messages::id.eq(id.0))
        .select((
            MessageRow::as_select(),
            Option::<MediaRow>::as_select(),
            chat_sessions::user_id,
        ))
        .first(c)
        .optional()?;
    row.map(|(m, md, owner)| Ok((m.into_domain(md)?, UserId(owner))))
        .transpose()
}

fn message_by_client_id(
    c: &mut PgConnection,
    session: ChatSessionId,
    client_message_id: &str,
) -> QueryResult<Option<Message>> {
    let row: Option<(MessageRow, Option<MediaRow>)> = messages::table
        .left_join(media::table)
        .filter(messages::session_id.eq(session.0))
        .filter(messages::client_message_id.eq(client_message_id))
        .select((MessageRow::as_select(), Option::<MediaRow>::as_select()))
        .first(c)
        .optional()?;
    row.map(|(m, md)| m.into_domain(md)).transpose()
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
    let mut page = None;
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
            messages.push(m);
        }
    }
    Ok(page)
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
        .get_result::<PageRow>(c)
        .optional()?;
    match row {
        Some(row) => row.into_domain(m.session_id),
        None => Ok(None),
    }
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
            match append(c, message) {
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

    // ------------------------------------------------------------ search (search.rs)

    fn search_messages(
        &self,
        search: &domain::ports::MessageSearch,
        page: &mut dyn FnMut(Vec<domain::ports::Match>) -> Vec<domain::ports::Match>,
    ) -> StoreResult<Vec<domain::ports::Found>> {
        self.search(search, page)
    }
}
