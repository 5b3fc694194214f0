//! What the contexts hand back, serialised as the contract's camelCase JSON.

use crate::ids::*;
use crate::roles::{MessageKind, MessageRole, Role};
use crate::timefmt::{self, Timestamp};
use serde::Serialize;

/// A user account; never carries the password hash.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub is_active: bool,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub last_login_at: Option<Timestamp>,
}

/// A login (one device's sign-in); its refresh-token hash stays in the store.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginSession {
    pub id: LoginSessionId,
    #[serde(skip)]
    pub user_id: UserId,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub device_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub user_agent: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub ip_address: Option<String>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_used_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
    #[serde(skip)]
    pub revoked_at: Option<Timestamp>,
    #[serde(skip)]
    pub refresh_generation: i32,
    /// True for the login session the caller's token belongs to.
    pub current: bool,
}

/// A chat session with what a list shows of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatSession {
    pub id: ChatSessionId,
    pub user_id: UserId,
    pub title: String,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    pub last_message_at: Option<Timestamp>,
    pub message_count: i32,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub vendor: Option<Vendor>,
    pub seller_count: i32,
}

/// An uploaded file's metadata.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub id: MediaId,
    /// Who uploaded it; `None` once their account is deleted (a medium that
    /// messages in other people's sessions carry stays with them).
    #[serde(skip)]
    pub owner_id: Option<UserId>,
    /// Sniffed from the bytes, never taken from the client.
    pub mime_type: String,
    pub size_bytes: i64,
    /// The client's file name reduced to a safe base name.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub file_name: Option<String>,
    /// Hex SHA-256 of the bytes; also the download's `ETag`.
    pub sha256: String,
    /// A signed link to the bytes (`GET /media/{id}?expires=…&sig=…`, relative
    /// to the API's origin) that works without a token until it expires
    /// (`MEDIA_URL_TTL`); made fresh for every response.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "/api/v1/media/0190c1a2-7b7e-7c4e-9a51-3b0f6c2d9e10?expires=1790000000&sig=Qm9ndXNTaWduYXR1cmU"
        )
    )]
    pub url: String,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// A message in a chat session.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: MessageId,
    pub session_id: ChatSessionId,
    /// Position in the session; the key of message pages.
    #[serde(skip)]
    pub seq: i64,
    /// `None` once the sender's account is deleted.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub sender_id: Option<UserId>,
    pub role: MessageRole,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub content: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub media: Option<Media>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub client_message_id: Option<String>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// The vendor a chat session is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    pub id: VendorId,
    pub session_id: ChatSessionId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub website: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub address: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub notes: Option<String>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// The product line a seller offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub quantity: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub unit: Option<String>,
}

/// A seller's offer collected in a chat session.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Seller {
    pub id: SellerId,
    pub session_id: ChatSessionId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub phone: Option<String>,
    pub product: Product,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// One result of a message search: the message, the title of its session, and
/// a snippet of its text with each hit between `[[` and `]]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub message: Message,
    pub session_title: String,
    /// Plain text (never HTML): a part of the message around its hits, each
    /// hit between `[[` and `]]`. A `[` or `]` of the message that stands next
    /// to another bracket is separated from it by U+200B (zero-width space),
    /// so `[[` and `]]` only ever mark hits.
    pub snippet: String,
}
