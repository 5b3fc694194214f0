//! Webhooks (contract §3.11): endpoints, and the outbox of their deliveries.
//!
//! A delivery row is written by the write that reports it, in its
//! transaction: [`enqueue`] from `notify` (every write that sends a live
//! event), [`enqueue_event`] from the writes that send none (a new chat
//! session, a user's sessions deleted with them), and a CTE of the message
//! post's one statement ([`PgStore::POST_MESSAGE_SQL`]). Each write first
//! asks which enabled endpoints want its event (a scan of a small table):
//! with none, it writes and renders nothing more. With some, the event's
//! `data` is rendered inside the transaction, so it is what committed; the
//! post, which has no Rust between its statement's parts, stores the
//! message's row as JSON instead, turned into a Message when it is claimed.
//!
//! The dispatcher's side ([`DeliveryQueue`]): claims under a lease with
//! `FOR UPDATE SKIP LOCKED`, one delivery per (endpoint, session) at a time,
//! in the order they were written; `NOTIFY dealroom_webhooks` when
//! deliveries are written, heard on a connection of its own ([`PgWakeups`]).

use crate::PgStore;
use crate::prepared::Prepared;
use crate::schema::{webhook_deliveries, webhooks};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::{Error, QueryResult};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use domain::events::EventKind;
use domain::ports::StoreResult;
use domain::timefmt::Timestamp;
use domain::webhooks::*;
use domain::*;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The channel a write notifies when it wrote deliveries.
pub const CHANNEL: &str = "dealroom_webhooks";

// ---------------------------------------------------------------- rows

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg))]
struct WebhookRow {
    id: Uuid,
    url: String,
    events: Vec<Option<String>>,
    description: Option<String>,
    enabled: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl WebhookRow {
    fn into_domain(self) -> Webhook {
        Webhook {
            id: WebhookId(self.id),
            url: self.url,
            events: self.events.into_iter().flatten().collect(),
            description: self.description,
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhooks)]
struct NewWebhookRow<'a> {
    id: Uuid,
    url: &'a str,
    events: Vec<Option<&'a str>>,
    description: Option<&'a str>,
    secret: &'a str,
}

#[derive(AsChangeset)]
#[diesel(table_name = webhooks)]
struct WebhookChangeset<'a> {
    url: Option<&'a str>,
    events: Option<Vec<Option<&'a str>>>,
    description: Option<Option<&'a str>>,
    enabled: Option<bool>,
    /// Cleared when the endpoint is turned on: its failures start over.
    failing_since: Option<Option<OffsetDateTime>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
struct DeliveryRow {
    id: Uuid,
    position: i64,
    webhook_id: Uuid,
    event_type: String,
    session_id: Option<Uuid>,
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    delivered_at: Option<OffsetDateTime>,
}

impl DeliveryRow {
    fn into_domain(self) -> QueryResult<Delivery> {
        let status = DeliveryStatus::parse(&self.status).ok_or_else(|| {
            Error::DeserializationError(
                format!("unexpected delivery status {:?}", self.status).into(),
            )
        })?;
        Ok(Delivery {
            id: DeliveryId(self.id),
            webhook_id: WebhookId(self.webhook_id),
            event_type: self.event_type,
            session_id: self.session_id.map(ChatSessionId),
            status,
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
            delivered_at: self.delivered_at,
            position: self.position,
        })
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct Notified {
    #[diesel(sql_type = Nullable<Text>)]
    _notified: Option<String>,
}

// ---------------------------------------------------------------- writing deliveries

impl PgStore {
    /// The enabled endpoints that want an event of type `$1`.
    const SUBSCRIBED_SQL: &'static str = "\
SELECT id FROM webhooks WHERE enabled AND events && ARRAY[$1, '*']";

    /// One delivery per endpoint of `$1` for an event of type `$2` in session
    /// `$3` with data `$4`, then the notice that wakes the dispatchers.
    const ENQUEUE_SQL: &'static str = "\
WITH written AS (\
INSERT INTO webhook_deliveries (id, webhook_id, event_type, session_id, data) \
SELECT dealroom_uuid_v7(), w.id, $2, $3, $4 FROM unnest($1::uuid[]) WITH ORDINALITY AS w (id, n) \
ORDER BY w.n RETURNING 1\
) SELECT pg_notify('dealroom_webhooks', '') AS _notified FROM (SELECT count(*) FROM written) AS n";
}

/// Writes the deliveries of a live event (`notify` calls this inside the
/// write's transaction, after its row lock); a kind that is no webhook event
/// (`message.delta`) writes none.
pub(crate) fn enqueue(
    c: &mut PgConnection,
    session: Uuid,
    kind: EventKind,
    subject: Uuid,
) -> QueryResult<()> {
    match EventType::of(kind) {
        Some(event) => enqueue_event(c, event, session, subject),
        None => Ok(()),
    }
}

/// Writes the deliveries of `event` about `subject` in `session` to every
/// enabled endpoint that wants it, with its data rendered now, inside the
/// caller's transaction.
pub(crate) fn enqueue_event(
    c: &mut PgConnection,
    event: EventType,
    session: Uuid,
    subject: Uuid,
) -> QueryResult<()> {
    let hooks: Vec<Uuid> = Prepared::new(PgStore::SUBSCRIBED_SQL)
        .bind::<Text, _>(event.name())
        .load::<IdRow>(c)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if hooks.is_empty() {
        return Ok(());
    }
    let data = render(c, event, session, subject)?;
    Prepared::new(PgStore::ENQUEUE_SQL)
        .bind::<Array<SqlUuid>, _>(hooks)
        .bind::<Text, _>(event.name())
        .bind::<Nullable<SqlUuid>, _>(Some(session))
        .bind::<Text, _>(data)
        .load::<Notified>(c)
        .map(drop)
}

fn json<T: serde::Serialize>(value: &T) -> QueryResult<String> {
    serde_json::to_string(value).map_err(|e| Error::SerializationError(Box::new(e)))
}

/// The `data` of an event as §3.8 has it, read in the write's transaction.
/// What is gone already (a later write in the same transaction removed it)
/// is `{id}`.
fn render(
    c: &mut PgConnection,
    event: EventType,
    session: Uuid,
    subject: Uuid,
) -> QueryResult<String> {
    let gone = || json(&serde_json::json!({ "id": subject }));
    match event {
        EventType::MessageCreated | EventType::MessageCompleted => {
            match crate::chat::message_by_id(c, MessageId(subject))? {
                Some((m, _)) => json(&m),
                None => gone(),
            }
        }
        EventType::SessionCreated | EventType::SessionUpdated => {
            match crate::chat::session_by_id(c, ChatSessionId(session))? {
                Some(s) => json(&s),
                None => gone(),
            }
        }
        EventType::VendorChanged => {
            let vendor = crate::market::vendor_by_id(c, subject)?;
            json(&serde_json::json!({ "sessionId": session, "vendor": vendor }))
        }
        EventType::SellerChanged => match crate::market::seller_by_id(c, subject)? {
            Some(s) => json(&s),
            None => gone(),
        },
        EventType::MessageDeleted
        | EventType::SessionDeleted
        | EventType::SellerDeleted
        | EventType::WebhookTest => gone(),
    }
}

// ---------------------------------------------------------------- the post's snapshot

/// A message row as the post's statement writes it into `message_row`
/// (`to_json` of its `RETURNING` row).
#[derive(serde::Deserialize)]
struct RawMessage {
    id: Uuid,
    session_id: Uuid,
    seq: i64,
    sender_id: Option<Uuid>,
    role: String,
    kind: String,
    content: Option<String>,
    client_message_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// NULL for a message not streamed (contract 3.12).
    #[serde(default)]
    status: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    completed_at: Option<OffsetDateTime>,
}

/// Its medium's row (`to_json` of the `media` row).
#[derive(serde::Deserialize)]
struct RawMedia {
    id: Uuid,
    owner_id: Option<Uuid>,
    mime_type: String,
    size_bytes: i64,
    file_name: Option<String>,
    sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

#[derive(serde::Deserialize)]
struct RawPost {
    message: RawMessage,
    media: Option<RawMedia>,
}

/// The Message of a post's snapshot, as JSON (its medium's `url` empty).
fn message_of_row(raw: &str) -> Result<String, String> {
    let post: RawPost = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let m = post.message;
    let message = Message {
        id: MessageId(m.id),
        session_id: ChatSessionId(m.session_id),
        seq: m.seq,
        sender_id: m.sender_id.map(UserId),
        role: m.role.parse().map_err(|_| format!("role {:?}", m.role))?,
        kind: m.kind.parse().map_err(|_| format!("kind {:?}", m.kind))?,
        content: m.content,
        media: post.media.map(|md| Media {
            id: MediaId(md.id),
            owner_id: md.owner_id.map(UserId),
            mime_type: md.mime_type,
            size_bytes: md.size_bytes,
            file_name: md.file_name,
            sha256: md.sha256,
            url: String::new(),
            created_at: md.created_at,
        }),
        client_message_id: m.client_message_id,
        // A message not streamed is complete at its creation; a streamed
        // one is posted `streaming` (its content comes with message.completed).
        status: match m.status.as_deref() {
            None => domain::MessageStatus::Complete,
            Some(s) => s.parse().map_err(|_| format!("status {s:?}"))?,
        },
        completed_at: match m.status {
            None => Some(m.created_at),
            Some(_) => m.completed_at,
        },
        created_at: m.created_at,
    };
    serde_json::to_string(&message).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- the admin's port

fn texts(v: &[String]) -> Vec<Option<&str>> {
    v.iter().map(|s| Some(s.as_str())).collect()
}

fn webhook_by_id(c: &mut PgConnection, id: Uuid) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(c)
        .optional()
        .map(|w| w.map(WebhookRow::into_domain))
}

impl WebhookStore for PgStore {
    fn create_webhook(&self, w: &NewWebhook) -> StoreResult<Webhook> {
        self.run(|c| {
            diesel::insert_into(webhooks::table)
                .values(NewWebhookRow {
                    id: w.id.0,
                    url: &w.url,
                    events: texts(&w.events),
                    description: w.description.as_deref(),
                    secret: w.secret.expose(),
                })
                .returning(WebhookRow::as_returning())
                .get_result(c)
                .map(WebhookRow::into_domain)
        })
    }

    fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        self.run(|c| {
            Ok(webhooks::table
                .select(WebhookRow::as_select())
                .order((webhooks::created_at.asc(), webhooks::id.asc()))
                .load(c)?
                .into_iter()
                .map(WebhookRow::into_domain)
                .collect())
        })
    }

    fn webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        self.run(|c| webhook_by_id(c, id.0))
    }

    fn update_webhook(
        &self,
        id: WebhookId,
        changes: &WebhookChanges,
    ) -> StoreResult<Option<Webhook>> {
        self.run(|c| {
            let set = WebhookChangeset {
                url: changes.url.as_deref(),
                events: changes.events.as_deref().map(texts),
                description: changes.description.as_ref().map(|d| d.as_deref()),
                enabled: changes.enabled,
                failing_since: (changes.enabled == Some(true)).then_some(None),
            };
            diesel::update(webhooks::table.find(id.0))
                .set((
                    set,
                    webhooks::updated_at.eq(crate::rows::sql::clock_timestamp()),
                ))
                .returning(WebhookRow::as_returning())
                .get_result(c)
                .optional()
                .map(|w| w.map(WebhookRow::into_domain))
        })
    }

    fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool> {
        self.run(|c| Ok(diesel::delete(webhooks::table.find(id.0)).execute(c)? > 0))
    }

    fn rotate_webhook_secret(
        &self,
        id: WebhookId,
        secret: &WebhookSecret,
        previous_until: Timestamp,
    ) -> StoreResult<Option<Webhook>> {
        self.run(|c| {
            diesel::update(webhooks::table.find(id.0))
                .set((
                    webhooks::previous_secret.eq(webhooks::secret.nullable()),
                    webhooks::previous_secret_until.eq(previous_until),
                    webhooks::secret.eq(secret.expose()),
                    webhooks::updated_at.eq(crate::rows::sql::clock_timestamp()),
                ))
                .returning(WebhookRow::as_returning())
                .get_result(c)
                .optional()
                .map(|w| w.map(WebhookRow::into_domain))
        })
    }

    fn webhook_deliveries(
        &self,
        id: WebhookId,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Option<Vec<Delivery>>> {
        self.run(|c| {
            let exists: Option<Uuid> = webhooks::table
                .find(id.0)
                .select(webhooks::id)
                .first(c)
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let mut q = webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(id.0))
                .select(DeliveryRow::as_select())
                .order(webhook_deliveries::position.desc())
                .limit(limit)
                .into_boxed();
            if let Some(s) = status {
                q = q.filter(webhook_deliveries::status.eq(s.as_str()));
            }
            if let Some(before) = before {
                q = q.filter(webhook_deliveries::position.lt(before));
            }
            q.load(c)?
                .into_iter()
                .map(DeliveryRow::into_domain)
                .collect::<QueryResult<Vec<_>>>()
                .map(Some)
        })
    }

    fn enqueue_test_delivery(
        &self,
        id: WebhookId,
        delivery: DeliveryId,
        data: &str,
    ) -> StoreResult<Option<Delivery>> {
        self.tx(|c| {
            if webhook_by_id(c, id.0)?.is_none() {
                return Ok(None);
            }
            let row = diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::id.eq(delivery.0),
                    webhook_deliveries::webhook_id.eq(id.0),
                    webhook_deliveries::event_type.eq(EventType::WebhookTest.name()),
                    webhook_deliveries::data.eq(data),
                ))
                .returning(DeliveryRow::as_returning())
                .get_result(c)?;
            Prepared::new("SELECT pg_notify('dealroom_webhooks', '') AS _notified")
                .load::<Notified>(c)?;
            row.into_domain().map(Some)
        })
    }
}

// ---------------------------------------------------------------- the dispatcher's port

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    webhook_id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    session_id: Option<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Nullable<Text>)]
    data: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    message_row: Option<String>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

impl ClaimedRow {
    fn into_domain(self) -> Claimed {
        let data = match (self.data, self.message_row) {
            (Some(data), _) => data,
            (None, Some(row)) => message_of_row(&row).unwrap_or_else(|e| {
                log::error!("delivery {}: unreadable message snapshot: {e}", self.id);
                "null".to_owned()
            }),
            // The table's CHECK makes this impossible.
            (None, None) => "null".to_owned(),
        };
        let mut secrets = vec![WebhookSecret::new(self.secret)];
        secrets.extend(self.previous_secret.map(WebhookSecret::new));
        Claimed {
            id: DeliveryId(self.id),
            webhook_id: WebhookId(self.webhook_id),
            url: self.url,
            secrets,
            event_type: self.event_type,
            session_id: self.session_id.map(ChatSessionId),
            created_at: self.created_at,
            data,
            attempts: self.attempts,
        }
    }
}

#[derive(QueryableByName)]
struct RecordedRow {
    #[diesel(sql_type = SqlUuid)]
    webhook_id: Uuid,
}

#[derive(QueryableByName)]
struct AppliedRow {
    #[diesel(sql_type = BigInt)]
    applied: i64,
}

#[derive(QueryableByName)]
struct DisabledRow {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    disabled: bool,
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<OffsetDateTime>,
}

#[derive(QueryableByName)]
struct StatsRow {
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    oldest: Option<OffsetDateTime>,
}

impl PgStore {
    /// Leases up to `$2` due deliveries to `$1` for `$3` ms (see
    /// [`DeliveryQueue::claim`]): the lease's end becomes the delivery's
    /// `next_attempt_at`, when another dispatcher may take it over. A row
    /// another claim holds locked is skipped, and one whose lease a
    /// concurrent claim just took is seen leased once locked (the row is read
    /// again): no two dispatchers get the same attempt.
    const CLAIM_SQL: &'static str = "\
WITH due AS (\
SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
AND (w.enabled OR d.event_type = 'webhook.test') \
AND (d.session_id IS NULL OR NOT EXISTS (\
SELECT 1 FROM webhook_deliveries p \
WHERE p.webhook_id = d.webhook_id AND p.session_id = d.session_id \
AND p.status = 'pending' AND p.position < d.position)) \
ORDER BY d.next_attempt_at, d.position LIMIT $2 \
FOR UPDATE OF d SKIP LOCKED\
) \
UPDATE webhook_deliveries d SET lease_token = $1, \
next_attempt_at = clock_timestamp() + $3 * interval '1 millisecond' \
FROM due, webhooks w WHERE d.id = due.id AND w.id = d.webhook_id \
RETURNING d.id, d.webhook_id, w.url, w.secret, \
CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END AS previous_secret, \
d.event_type, d.session_id, d.created_at, d.data, d.message_row, d.attempts";

    /// Records a failed attempt on `$1` leased to `$2`: `$3` status code,
    /// `$4` error, `$5` the new status (`pending` or `failed`), `$6` the next
    /// attempt's time.
    const RECORD_SQL: &'static str = "\
UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $3, last_error = $4, \
status = $5, next_attempt_at = $6, \
delivered_at = CASE WHEN $5 = 'delivered' THEN clock_timestamp() END, \
ended_at = CASE WHEN $5 <> 'pending' THEN clock_timestamp() END, \
lease_token = NULL \
WHERE id = $1 AND lease_token = $2 RETURNING webhook_id";

    /// A failure of endpoint `$1`: its failing streak starts, or, older than
    /// `$2` ms, disables it. Says whether this disabled it.
    const FAILED_SQL: &'static str = "\
WITH before AS (SELECT id, enabled, failing_since FROM webhooks WHERE id = $1 FOR UPDATE) \
UPDATE webhooks w SET failing_since = coalesce(w.failing_since, clock_timestamp()), \
enabled = w.enabled AND NOT coalesce(w.failing_since <= clock_timestamp() - $2 * interval '1 millisecond', false), \
updated_at = CASE WHEN w.enabled AND coalesce(w.failing_since <= clock_timestamp() - $2 * interval '1 millisecond', false) \
THEN clock_timestamp() ELSE w.updated_at END \
FROM before b WHERE w.id = b.id RETURNING (b.enabled AND NOT w.enabled) AS disabled";

    /// A delivered attempt, in one statement (the hot path: no transaction
    /// around it): [`Self::RECORD_SQL`] with `$5` `delivered`, and its
    /// endpoint's failing streak ended. Says whether the lease still held.
    const DELIVERED_SQL: &'static str = "\
WITH d AS (\
UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $3, last_error = NULL, \
status = 'delivered', next_attempt_at = NULL, delivered_at = clock_timestamp(), \
ended_at = clock_timestamp(), lease_token = NULL \
WHERE id = $1 AND lease_token = $2 RETURNING webhook_id\
), healthy AS (\
UPDATE webhooks w SET failing_since = NULL FROM d \
WHERE w.id = d.webhook_id AND w.failing_since IS NOT NULL RETURNING w.id\
) SELECT count(*) AS applied FROM d";

    const RELEASE_SQL: &'static str = "\
UPDATE webhook_deliveries SET lease_token = NULL, next_attempt_at = now() \
WHERE lease_token = $1 AND status = 'pending'";

    /// The next retry's time or lease's end (a claimed delivery's
    /// `next_attempt_at`), whichever is first.
    const NEXT_DUE_SQL: &'static str = "\
SELECT min(next_attempt_at) AS at FROM webhook_deliveries \
WHERE status = 'pending' AND next_attempt_at > now()";

    const PURGE_SQL: &'static str = "\
DELETE FROM webhook_deliveries WHERE id IN (\
SELECT id FROM webhook_deliveries WHERE ended_at < $1 ORDER BY ended_at LIMIT $2)";

    const QUEUE_STATS_SQL: &'static str = "\
SELECT count(*) AS pending, min(created_at) AS oldest FROM webhook_deliveries WHERE status = 'pending'";
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl DeliveryQueue for PgStore {
    fn claim(&self, lease: Uuid, limit: i64, lease_for: Duration) -> StoreResult<Vec<Claimed>> {
        self.run(|c| {
            Ok(Prepared::new(Self::CLAIM_SQL)
                .bind::<SqlUuid, _>(lease)
                .bind::<BigInt, _>(limit)
                .bind::<BigInt, _>(millis(lease_for))
                .load::<ClaimedRow>(c)?
                .into_iter()
                .map(ClaimedRow::into_domain)
                .collect())
        })
    }

    fn record(
        &self,
        lease: Uuid,
        delivery: DeliveryId,
        attempt: &Attempt,
        disable_after: Duration,
    ) -> StoreResult<Recorded> {
        let (code, error, status, next) = match attempt {
            Attempt::Delivered { status } => (
                Some(i32::from(*status)),
                None,
                DeliveryStatus::Delivered,
                None,
            ),
            Attempt::Failed {
                status,
                error,
                retry_at,
            } => (
                status.map(i32::from),
                Some(error.clone()),
                match retry_at {
                    Some(_) => DeliveryStatus::Pending,
                    None => DeliveryStatus::Failed,
                },
                *retry_at,
            ),
        };
        if let Attempt::Delivered { .. } = attempt {
            return self.run(|c| {
                let applied = Prepared::new(Self::DELIVERED_SQL)
                    .bind::<SqlUuid, _>(delivery.0)
                    .bind::<SqlUuid, _>(lease)
                    .bind::<Nullable<Integer>, _>(code)
                    .load::<AppliedRow>(c)?
                    .into_iter()
                    .any(|r| r.applied > 0);
                Ok(Recorded {
                    applied,
                    disabled: false,
                })
            });
        }
        self.tx(|c| {
            let row = Prepared::new(Self::RECORD_SQL)
                .bind::<SqlUuid, _>(delivery.0)
                .bind::<SqlUuid, _>(lease)
                .bind::<Nullable<Integer>, _>(code)
                .bind::<Nullable<Text>, _>(error.clone())
                .bind::<Text, _>(status.as_str())
                .bind::<Nullable<Timestamptz>, _>(next)
                .load::<RecordedRow>(c)?;
            let Some(row) = row.into_iter().next() else {
                return Ok(Recorded::default());
            };
            let disabled = Prepared::new(Self::FAILED_SQL)
                .bind::<SqlUuid, _>(row.webhook_id)
                .bind::<BigInt, _>(millis(disable_after))
                .load::<DisabledRow>(c)?
                .into_iter()
                .any(|r| r.disabled);
            Ok(Recorded {
                applied: true,
                disabled,
            })
        })
    }

    fn release(&self, lease: Uuid) -> StoreResult<u64> {
        self.run(|c| {
            Prepared::new(Self::RELEASE_SQL)
                .bind::<SqlUuid, _>(lease)
                .execute(c)
                .map(|n| n as u64)
        })
    }

    fn next_due(&self) -> StoreResult<Option<Timestamp>> {
        self.run(|c| {
            Ok(Prepared::new(Self::NEXT_DUE_SQL)
                .load::<DueRow>(c)?
                .into_iter()
                .next()
                .and_then(|r| r.at))
        })
    }

    fn purge_ended(&self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        self.run(|c| {
            Prepared::new(Self::PURGE_SQL)
                .bind::<Timestamptz, _>(before)
                .bind::<BigInt, _>(limit)
                .execute(c)
                .map(|n| n as u64)
        })
    }

    fn queue_stats(&self) -> StoreResult<QueueStats> {
        self.run(|c| {
            let row = Prepared::new(Self::QUEUE_STATS_SQL)
                .load::<StatsRow>(c)?
                .into_iter()
                .next();
            Ok(row.map_or_else(QueueStats::default, |r| QueueStats {
                pending: u64::try_from(r.pending).unwrap_or(0),
                oldest_pending: r.oldest,
            }))
        })
    }

    fn listen(&self) -> StoreResult<Box<dyn Wakeups>> {
        Ok(Box::new(PgWakeups::listen(&self.direct_url)?))
    }
}

/// The dispatcher's listening connection (named `dealroom-webhooks` in
/// `pg_stat_activity`), never through a transaction pooler.
pub(crate) struct PgWakeups {
    conn: PgConnection,
    /// The last round trip (a quiet connection is checked once a second).
    pinged: std::time::Instant,
}

impl PgWakeups {
    fn listen(url: &str) -> StoreResult<Self> {
        use diesel::Connection;
        let mut conn =
            PgConnection::establish(url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        conn.batch_execute(&format!(
            "SET application_name = 'dealroom-webhooks'; LISTEN {CHANNEL}"
        ))
        .map_err(crate::classify)?;
        Ok(Self {
            conn,
            pinged: std::time::Instant::now(),
        })
    }
}

/// How often a quiet listening connection makes a round trip, to find out
/// that it died.
const PING_EVERY: Duration = Duration::from_secs(1);

impl Wakeups for PgWakeups {
    fn poll(&mut self) -> StoreResult<usize> {
        let mut heard = 0;
        for n in self.conn.notifications_iter() {
            n.map_err(|e| StoreError::Unavailable(e.to_string()))?;
            heard += 1;
        }
        // A round trip now and then, so that a dead connection is found out.
        if heard == 0 && self.pinged.elapsed() >= PING_EVERY {
            self.pinged = std::time::Instant::now();
            self.conn
                .batch_execute("SELECT 1")
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        Ok(heard)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_posts_snapshot_becomes_the_message_it_was() {
        let raw = r#"{"message" : {"id":"0190f0f0-0000-7000-8000-000000000001","session_id":"0190f0f0-0000-7000-8000-000000000002","seq":3,"sender_id":null,"role":"assistant","kind":"media","content":"a \"caption\"","media_id":"0190f0f0-0000-7000-8000-000000000003","client_message_id":"c-1","created_at":"2026-12-06T03:21:56.346175+00:00"}, "media" : {"id":"0190f0f0-0000-7000-8000-000000000003","owner_id":null,"mime_type":"image/png","size_bytes":42,"file_name":"a.png","sha256":"ab","created_at":"2026-12-06T03:21:50.1+01:00"}}"#;
        let json: serde_json::Value = serde_json::from_str(&message_of_row(raw).unwrap()).unwrap();
        assert_eq!(json["id"], "0190f0f0-0000-7000-8000-000000000001");
        assert_eq!(json["sessionId"], "0190f0f0-0000-7000-8000-000000000002");
        assert_eq!(json["senderId"], serde_json::Value::Null);
        assert_eq!(json["role"], "assistant");
        assert_eq!(json["type"], "media");
        assert_eq!(json["content"], "a \"caption\"");
        assert_eq!(json["clientMessageId"], "c-1");
        assert_eq!(json["createdAt"], "2026-12-06T03:21:56.346Z");
        assert_eq!(json["media"]["createdAt"], "2026-12-06T02:21:50.100Z");
        assert_eq!(json["media"]["sizeBytes"], 42);
        assert!(message_of_row("{}").is_err());
    }
}
