//! Webhooks (contract §3.11): the endpoints an admin registers, the
//! deliveries of events to them, and the ports that keep both.
//!
//! Two ports: [`WebhookStore`], what the `webhooks` context needs to manage
//! endpoints and read their deliveries, and [`DeliveryQueue`], what a
//! dispatcher needs to claim due deliveries under a lease, record each
//! attempt, and learn that new ones were written. The deliveries themselves
//! are written by the store, in the transaction (or the statement) of the
//! change they report: no port method "sends an event".

use crate::events::EventKind;
use crate::ids::{ChatSessionId, DeliveryId, WebhookId};
use crate::ports::StoreResult;
use crate::timefmt::{self, Timestamp};
use serde::{Serialize, Serializer};
use std::net::IpAddr;
use std::time::Duration;

/// What an endpoint can subscribe to: the events of §3.8 but `message.delta`
/// (a live-stream detail), plus `session.created` and `session.deleted`;
/// and `webhook.test`, which only `POST /webhooks/{id}/test` sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A message was posted (data: the Message).
    MessageCreated,
    /// A message was deleted (data: `{id}`).
    MessageDeleted,
    /// A streamed message was completed, or ended incomplete (data: the Message).
    MessageCompleted,
    /// A chat session was created (data: the ChatSession).
    SessionCreated,
    /// A chat session was renamed (data: the ChatSession).
    SessionUpdated,
    /// A chat session was deleted (data: `{id}`).
    SessionDeleted,
    /// A session's vendor was recorded, changed or removed (data:
    /// `{sessionId, vendor}`).
    VendorChanged,
    /// A seller was added or changed (data: the Seller).
    SellerChanged,
    /// A seller was removed (data: `{id}`).
    SellerDeleted,
    /// An admin asked for a test (data: `{webhookId}`); never subscribed to.
    WebhookTest,
}

/// The `events` entry that subscribes to every event type.
pub const ALL_EVENTS: &str = "*";

/// The longest endpoint URL, in characters ([`crate::bounds::webhook_url`]).
pub const URL_MAX: usize = crate::bounds::webhook_url::MAX;
/// The longest description, in characters
/// ([`crate::bounds::webhook_description`]).
pub const DESCRIPTION_MAX: usize = crate::bounds::webhook_description::MAX;

impl EventType {
    /// Every type an endpoint may list in `events`.
    pub const SUBSCRIBABLE: [EventType; 9] = [
        Self::MessageCreated,
        Self::MessageDeleted,
        Self::MessageCompleted,
        Self::SessionCreated,
        Self::SessionUpdated,
        Self::SessionDeleted,
        Self::VendorChanged,
        Self::SellerChanged,
        Self::SellerDeleted,
    ];

    /// The type's name: the body's `type`, an `events` entry.
    pub fn name(self) -> &'static str {
        match self {
            Self::MessageCreated => "message.created",
            Self::MessageDeleted => "message.deleted",
            Self::MessageCompleted => "message.completed",
            Self::SessionCreated => "session.created",
            Self::SessionUpdated => "session.updated",
            Self::SessionDeleted => "session.deleted",
            Self::VendorChanged => "vendor.changed",
            Self::SellerChanged => "seller.changed",
            Self::SellerDeleted => "seller.deleted",
            Self::WebhookTest => "webhook.test",
        }
    }

    /// The type named `name`, `webhook.test` included.
    pub fn parse(name: &str) -> Option<Self> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([Self::WebhookTest])
            .find(|t| t.name() == name)
    }

    /// The webhook event of a live event, if it is one: by name, so that a
    /// live-stream-only kind (`message.delta`, `message.snapshot`) is none.
    pub fn of(kind: EventKind) -> Option<Self> {
        Self::SUBSCRIBABLE
            .into_iter()
            .find(|t| t.name() == kind.name())
    }
}

/// A webhook endpoint, as the admin API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The endpoint's id.
    pub id: WebhookId,
    /// Where events are POSTed: `https://` (or `http://` where the server
    /// allows it).
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://agents.example.com/dealroom/events")
    )]
    pub url: String,
    /// The event types it receives, or `["*"]` for all of them.
    #[cfg_attr(feature = "openapi", schema(example = json!(["message.created", "session.deleted"])))]
    pub events: Vec<String>,
    /// What the endpoint is for, for people.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    /// Whether events are delivered to it. The server turns it off after
    /// `WEBHOOK_DISABLE_AFTER` of failed deliveries only.
    pub enabled: bool,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it was registered.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not acknowledged yet: waiting for its turn, in flight, or to be retried.
    Pending,
    /// A `2xx` answered it.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    /// `pending`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The delivery's id: the `webhook-id` header of every attempt.
    pub id: DeliveryId,
    /// The endpoint it goes to.
    pub webhook_id: WebhookId,
    /// The event's type (the body's `type`).
    #[cfg_attr(feature = "openapi", schema(example = "message.created"))]
    pub event_type: String,
    /// The chat session the event happened in (none for `webhook.test`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub session_id: Option<ChatSessionId>,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// The status code of the last attempt's answer, if one came.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed, if it did.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_error: Option<String>,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    /// When it is attempted next (`null` once it ended).
    pub next_attempt_at: Option<Timestamp>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When the event happened (the body's `timestamp`).
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    /// When a `2xx` acknowledged it.
    pub delivered_at: Option<Timestamp>,
    /// Its place in the order deliveries were written (the key of the
    /// deliveries' pages).
    #[serde(skip)]
    pub position: i64,
}

/// An endpoint's signing secret: `whsec_` and the base64 of 32 random bytes
/// (the HMAC key is the decoded bytes). Shown once, in the answers to create
/// and rotate; never in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// The prefix every secret carries.
    pub const PREFIX: &'static str = "whsec_";

    /// A secret as stored (`whsec_…`).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret's text, `whsec_…`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl Serialize for WebhookSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An endpoint to insert, validated.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    /// Its id.
    pub id: WebhookId,
    /// Its URL.
    pub url: String,
    /// Its event types (or `["*"]`).
    pub events: Vec<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its signing secret.
    pub secret: WebhookSecret,
}

/// A partial update of an endpoint: `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookChanges {
    /// A new URL.
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<String>>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// Turn deliveries on or off. Turning them on forgets the failures that
    /// counted towards `WEBHOOK_DISABLE_AFTER`.
    pub enabled: Option<bool>,
}

/// Endpoints and their deliveries: what the `webhooks` context needs.
pub trait WebhookStore: Send + Sync {
    /// Inserts an endpoint.
    fn create_webhook(&self, webhook: &NewWebhook) -> StoreResult<Webhook>;
    /// Every endpoint, oldest first.
    fn webhooks(&self) -> StoreResult<Vec<Webhook>>;
    /// One endpoint.
    fn webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// Changes an endpoint; `None` if it does not exist.
    fn update_webhook(
        &self,
        id: WebhookId,
        changes: &WebhookChanges,
    ) -> StoreResult<Option<Webhook>>;
    /// Deletes an endpoint with every delivery to it; false if there was none.
    fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool>;
    /// Gives an endpoint a new secret; the old one keeps signing beside it
    /// until `previous_until`. `None` if it does not exist.
    fn rotate_webhook_secret(
        &self,
        id: WebhookId,
        secret: &WebhookSecret,
        previous_until: Timestamp,
    ) -> StoreResult<Option<Webhook>>;
    /// An endpoint's deliveries, newest first, of `status` if given, before
    /// the position `before` (a keyset page); `None` if the endpoint does not
    /// exist.
    fn webhook_deliveries(
        &self,
        id: WebhookId,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Option<Vec<Delivery>>>;
    /// Writes a `webhook.test` delivery to the endpoint (enabled or not), with
    /// `data` (JSON) as its body's `data`; `None` if it does not exist.
    fn enqueue_test_delivery(
        &self,
        id: WebhookId,
        delivery: DeliveryId,
        data: &str,
    ) -> StoreResult<Option<Delivery>>;
}

// ---------------------------------------------------------------- the dispatcher's port

/// A delivery handed to one dispatcher for one attempt, under its lease.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The delivery (its id is the `webhook-id` header).
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// Where to POST.
    pub url: String,
    /// What to sign with: the current secret, then the previous one while it
    /// is still good after a rotation.
    pub secrets: Vec<WebhookSecret>,
    /// The body's `type`.
    pub event_type: String,
    /// The chat session, if any.
    pub session_id: Option<ChatSessionId>,
    /// When the event happened: the body's `timestamp`.
    pub created_at: Timestamp,
    /// The body's `data`, JSON, as the change committed it (a medium's `url`
    /// is left empty: the dispatcher signs a fresh one).
    pub data: String,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// A `2xx` acknowledged it.
    Delivered {
        /// The answer's status.
        status: u16,
    },
    /// It failed: retried at `retry_at`, or `failed` for good when that is
    /// `None`.
    Failed {
        /// The answer's status, if one came.
        status: Option<u16>,
        /// Why, for the admin (`lastError`).
        error: String,
        /// When to try again; `None`: never.
        retry_at: Option<Timestamp>,
    },
}

/// What recording an attempt did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// False when the lease was gone (another dispatcher took the delivery
    /// over, or the endpoint was deleted): nothing was written.
    pub applied: bool,
    /// The endpoint was disabled by this failure (failing for longer than
    /// `disable_after`).
    pub disabled: bool,
}

/// The queue as `/metrics` shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Deliveries pending now (of every instance).
    pub pending: u64,
    /// When the oldest pending delivery's event happened.
    pub oldest_pending: Option<Timestamp>,
}

/// Notices that deliveries were written, on a connection of its own.
pub trait Wakeups: Send {
    /// How many notices arrived since the last call, without waiting; an
    /// error means the connection is gone (listen again).
    fn poll(&mut self) -> StoreResult<usize>;
}

/// The deliveries' queue: what a dispatcher needs. Any number of dispatchers
/// (one per instance) share it; each delivery is attempted by one at a time.
pub trait DeliveryQueue: Send + Sync {
    /// Leases up to `limit` due deliveries to `lease` for `lease_for`: the
    /// pending ones whose time has come, that no live lease holds, whose
    /// endpoint is enabled (a test is sent anyway), and that are first in
    /// their (endpoint, chat session): each waits until every delivery of
    /// its session written before it to that endpoint is delivered or failed.
    fn claim(
        &self,
        lease: uuid::Uuid,
        limit: i64,
        lease_for: Duration,
    ) -> StoreResult<Vec<Claimed>>;
    /// Records an attempt made under `lease`, and the endpoint's health: a
    /// success ends its failing streak; a failure starts one, or disables it
    /// when the streak is older than `disable_after`.
    fn record(
        &self,
        lease: uuid::Uuid,
        delivery: DeliveryId,
        attempt: &Attempt,
        disable_after: Duration,
    ) -> StoreResult<Recorded>;
    /// Gives back every delivery still leased to `lease` (a stopping
    /// dispatcher); how many.
    fn release(&self, lease: uuid::Uuid) -> StoreResult<u64>;
    /// The next time something becomes due by the clock: a retry's time or a
    /// lease's end, whichever is first.
    fn next_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Deletes up to `limit` deliveries that ended before `before`; how many.
    fn purge_ended(&self, before: Timestamp, limit: i64) -> StoreResult<u64>;
    /// The pending count and the oldest pending delivery.
    fn queue_stats(&self) -> StoreResult<QueueStats>;
    /// Opens a connection of its own that hears when deliveries are written.
    fn listen(&self) -> StoreResult<Box<dyn Wakeups>>;
}

// ---------------------------------------------------------------- names

/// Resolves a host name to addresses, so that the addresses can be checked
/// before anything connects to them.
pub trait Resolver: Send + Sync {
    /// The addresses of `host` (a name, or an IP literal).
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (`getaddrinfo`, through the standard library).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        use std::net::ToSocketAddrs;
        // An IPv6 literal comes bracketed from a URL.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let mut out: Vec<IpAddr> = Vec::new();
        for addr in (bare, port).to_socket_addrs()? {
            if !out.contains(&addr.ip()) {
                out.push(addr.ip());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in EventType::SUBSCRIBABLE
            .into_iter()
            .chain([EventType::WebhookTest])
        {
            assert_eq!(EventType::parse(t.name()), Some(t));
        }
        assert_eq!(EventType::parse("message.delta"), None);
        assert_eq!(EventType::parse("*"), None);
    }

    #[test]
    fn live_events_map_by_name() {
        assert_eq!(
            EventType::of(EventKind::MessageCreated),
            Some(EventType::MessageCreated)
        );
        assert_eq!(
            EventType::of(EventKind::SessionDeleted),
            Some(EventType::SessionDeleted)
        );
        assert_eq!(
            EventType::of(EventKind::SellerDeleted),
            Some(EventType::SellerDeleted)
        );
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = WebhookSecret::new("whsec_c2VjcmV0");
        assert_eq!(format!("{s:?}"), "WebhookSecret([redacted])");
        assert_eq!(s.expose(), "whsec_c2VjcmV0");
    }
}
