//! Diesel errors, classified once. The names of indexes and constraints live
//! here and nowhere else: each unique index maps to a typed [`Conflict`], each
//! foreign key to the [`Entity`] it points at.

use diesel::result::{DatabaseErrorKind, Error};
use domain::{Conflict, Entity, StoreError};

/// Every unique index of the schema and what its violation means.
/// `tests/api/schema.rs` checks that no unique index is missing.
pub const UNIQUE_INDEXES: &[(&str, Conflict)] = &[
    ("users_email_key", Conflict::EmailTaken),
    ("vendors_session_id_key", Conflict::VendorExists),
    ("sellers_session_name_product_key", Conflict::DuplicateOffer),
    (
        "messages_session_client_message_id_key",
        Conflict::ClientMessageId,
    ),
    ("messages_session_seq_key", Conflict::MessagePosition),
    (
        "login_sessions_refresh_token_hash_key",
        Conflict::RefreshToken,
    ),
    ("users_pkey", Conflict::Id(Entity::User)),
    ("login_sessions_pkey", Conflict::Id(Entity::LoginSession)),
    ("chat_sessions_pkey", Conflict::Id(Entity::ChatSession)),
    ("messages_pkey", Conflict::Id(Entity::Message)),
    ("media_pkey", Conflict::Id(Entity::Media)),
    // Written with ON CONFLICT DO NOTHING only: never violated.
    ("media_gone_pkey", Conflict::Id(Entity::Media)),
    ("vendors_pkey", Conflict::Id(Entity::Vendor)),
    ("sellers_pkey", Conflict::Id(Entity::Seller)),
    // Written with ON CONFLICT DO UPDATE only: never violated.
    (
        "exchange_rate_dates_pkey",
        Conflict::Id(Entity::ExchangeRates),
    ),
    ("exchange_rates_pkey", Conflict::Id(Entity::ExchangeRates)),
    // Written after the post that made the message, in its transaction: never violated.
    ("message_streams_pkey", Conflict::Id(Entity::Message)),
    // Written under the stream's row lock, one seq at a time: never violated.
    ("message_deltas_pkey", Conflict::MessagePosition),
    ("message_parts_pkey", Conflict::MessagePosition),
    ("webhooks_pkey", Conflict::Id(Entity::Webhook)),
    (
        "webhook_deliveries_pkey",
        Conflict::Id(Entity::WebhookDelivery),
    ),
];

/// Every foreign key of the schema and the entity it refers to.
/// `tests/api/schema.rs` checks that no foreign key is missing.
pub const FOREIGN_KEYS: &[(&str, Entity)] = &[
    ("login_sessions_user_id_fkey", Entity::User),
    ("chat_sessions_user_id_fkey", Entity::User),
    ("media_owner_id_fkey", Entity::User),
    ("messages_session_id_fkey", Entity::ChatSession),
    ("messages_sender_id_fkey", Entity::User),
    ("messages_media_id_fkey", Entity::Media),
    ("vendors_session_id_fkey", Entity::ChatSession),
    ("sellers_session_id_fkey", Entity::ChatSession),
    ("exchange_rates_date_fkey", Entity::ExchangeRates),
    ("message_streams_message_id_fkey", Entity::Message),
    ("message_deltas_message_id_fkey", Entity::Message),
    ("message_parts_message_id_fkey", Entity::Message),
    ("webhook_deliveries_webhook_id_fkey", Entity::Webhook),
];

/// The typed conflict of a unique index, if it is one of the schema's.
pub fn conflict_of(index: &str) -> Option<Conflict> {
    UNIQUE_INDEXES
        .iter()
        .find(|(name, _)| *name == index)
        .map(|(_, c)| *c)
}

/// The entity a foreign key refers to, if it is one of the schema's.
pub fn parent_of(foreign_key: &str) -> Option<Entity> {
    FOREIGN_KEYS
        .iter()
        .find(|(name, _)| *name == foreign_key)
        .map(|(_, e)| *e)
}

/// Turns a Diesel error into the store error the contexts understand.
pub fn classify(e: Error) -> StoreError {
    match e {
        Error::NotFound => StoreError::NotFound,
        Error::DatabaseError(kind, info) => {
            let name = info.constraint_name().unwrap_or_default();
            let unknown =
                |what: &str| StoreError::Other(format!("{what} {name}: {}", info.message()));
            match kind {
                DatabaseErrorKind::UniqueViolation => conflict_of(name)
                    .map_or_else(|| unknown("unique violation on"), StoreError::Conflict),
                DatabaseErrorKind::ForeignKeyViolation => parent_of(name).map_or_else(
                    || unknown("foreign key violation on"),
                    StoreError::MissingParent,
                ),
                DatabaseErrorKind::CheckViolation => StoreError::Invalid(name.to_owned()),
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    StoreError::Unavailable(info.message().to_owned())
                }
                _ if is_outage(info.message()) => {
                    StoreError::Unavailable(info.message().to_owned())
                }
                _ => StoreError::Other(info.message().to_owned()),
            }
        }
        Error::BrokenTransactionManager => {
            StoreError::Unavailable("broken transaction manager".into())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// True for a unique violation that means `conflict`.
pub(crate) fn is_conflict(e: &Error, conflict: Conflict) -> bool {
    matches!(e, Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name().and_then(conflict_of) == Some(conflict))
}

/// Messages PostgreSQL sends when the server is going away (admin shutdown,
/// crash recovery, too many clients) without the connection being marked bad yet.
fn is_outage(message: &str) -> bool {
    const SIGNS: [&str; 5] = [
        "terminating connection",
        "server closed the connection",
        "the database system is",
        "too many clients",
        "no connection to the server",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}
