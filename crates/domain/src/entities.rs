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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
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
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_message_at: Option<Timestamp>,
    pub message_count: i32,
    pub vendor: Option<Vendor>,
    pub seller_count: i32,
}

/// An uploaded file's metadata.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub id: MediaId,
    #[serde(skip)]
    pub owner_id: UserId,
    pub mime_type: String,
    pub size_bytes: i64,
    pub file_name: Option<String>,
    pub sha256: String,
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
    pub sender_id: Option<UserId>,
    pub role: MessageRole,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub content: Option<String>,
    pub media: Option<Media>,
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
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// The product line a seller offers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub name: String,
    pub description: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub quantity: Option<i64>,
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
    pub email: Option<String>,
    pub phone: Option<String>,
    pub product: Product,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}
