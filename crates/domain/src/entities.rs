//! What the contexts hand back, serialised as the contract's camelCase JSON.

use crate::ids::*;
use crate::roles::{MessageKind, MessageRole, MessageStatus, Role};
use crate::timefmt::{self, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use time::Date;

/// A user account; never carries the password hash.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Their email, lower-cased; unique (case-insensitively).
    pub email: String,
    /// Their display name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// A deactivated user cannot log in, and their tokens stop working.
    pub is_active: bool,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When the account was created.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When the account was last changed.
    pub updated_at: Timestamp,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    /// When they last logged in, if ever.
    pub last_login_at: Option<Timestamp>,
}

/// A login (one device's sign-in); its refresh-token hash stays in the store.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginSession {
    /// The login session's id (an access token's `sid`).
    pub id: LoginSessionId,
    #[serde(skip)]
    /// Whose login session it is.
    pub user_id: UserId,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The name the client gave its device at login.
    pub device_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The `User-Agent` of the login, up to 512 characters.
    pub user_agent: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The client's IP address at login.
    pub ip_address: Option<String>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When the user logged in.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When its refresh token was last used.
    pub last_used_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When its refresh token stops working (rotation never extends it).
    pub expires_at: Timestamp,
    #[serde(skip)]
    /// When it was ended (logout, revocation, a password change), if it was.
    pub revoked_at: Option<Timestamp>,
    #[serde(skip)]
    /// How many times its refresh token was rotated.
    pub refresh_generation: i32,
    /// True for the login session the caller's token belongs to.
    pub current: bool,
}

/// A chat session with what a list shows of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatSession {
    /// The chat session's id.
    pub id: ChatSessionId,
    /// Its owner.
    pub user_id: UserId,
    /// Its title.
    pub title: String,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it was created.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it last changed.
    pub updated_at: Timestamp,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    /// When its latest message was posted, if any was.
    pub last_message_at: Option<Timestamp>,
    /// How many messages it holds.
    pub message_count: i32,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The vendor the session is about, if one is recorded.
    pub vendor: Option<Vendor>,
    /// How many sellers' offers it holds.
    pub seller_count: i32,
}

/// An uploaded file's metadata.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// The medium's id.
    pub id: MediaId,
    /// Who uploaded it; `None` once their account is deleted (a medium that
    /// messages in other people's sessions carry stays with them).
    #[serde(skip)]
    pub owner_id: Option<UserId>,
    /// Sniffed from the bytes, never taken from the client.
    pub mime_type: String,
    /// Its size in bytes.
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
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// A message in a chat session.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// The message's id.
    pub id: MessageId,
    /// The chat session it is in.
    pub session_id: ChatSessionId,
    /// Position in the session; the key of message pages.
    #[serde(skip)]
    pub seq: i64,
    /// `None` once the sender's account is deleted.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub sender_id: Option<UserId>,
    /// Who it speaks for.
    pub role: MessageRole,
    #[serde(rename = "type")]
    /// What it carries: text, or a medium.
    pub kind: MessageKind,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The text (a media message's caption, if any).
    pub content: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The medium a media message carries.
    pub media: Option<Media>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The client's id for the message, unique per session: posting it again answers the first message.
    pub client_message_id: Option<String>,
    /// `complete` for every message not streamed; a streamed one is
    /// `streaming` until its sender completes it (`complete`) or it receives
    /// nothing for `STREAM_IDLE_TIMEOUT` (`incomplete`, with the content it has).
    pub status: MessageStatus,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it was posted.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<String>, format = DateTime))]
    /// When it became `complete` or `incomplete`: its `createdAt` for a
    /// message not streamed, `null` while it streams.
    pub completed_at: Option<Timestamp>,
}

/// A streamed message as a live stream that resumes gets it (the
/// `message.snapshot` event): the whole message, with `lastSeq`, the last
/// delta its content includes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSnapshot {
    /// The message, its content as of `lastSeq`.
    #[serde(flatten)]
    pub message: Message,
    /// The last delta its content includes (0: none yet).
    pub last_seq: i64,
}

/// One delta of a streamed message, as the `message.delta` event carries it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDelta {
    /// The message.
    pub id: MessageId,
    /// The delta's position in the message, from 1.
    pub seq: i64,
    /// The text it appends.
    pub text: String,
}

/// The vendor a chat session is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    /// The vendor's id.
    pub id: VendorId,
    /// The chat session it belongs to (one vendor per session).
    pub session_id: ChatSessionId,
    /// Its name.
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Its email address.
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Its phone number.
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Its website (an `http` or `https` URL).
    pub website: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Its postal address.
    pub address: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// Free notes about it.
    pub notes: Option<String>,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it was recorded.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The product line a seller offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// The product's name.
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// A description of it.
    pub description: Option<String>,
    /// Its price in minor units of `currency` (cents for EUR).
    pub price_minor: i64,
    /// An ISO 4217 code, upper case.
    pub currency: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// How many are offered.
    pub quantity: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// What one of `quantity` is (`piece`, `kg`, …).
    pub unit: Option<String>,
}

/// A seller's offer collected in a chat session.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Seller {
    /// The seller's id.
    pub id: SellerId,
    /// The chat session the offer is collected in.
    pub session_id: ChatSessionId,
    /// The seller's name.
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The seller's email address.
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The seller's phone number.
    pub phone: Option<String>,
    /// What the seller offers, at what price.
    pub product: Product,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When the offer was added.
    pub created_at: Timestamp,
    #[serde(serialize_with = "timefmt::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A page of search results: [`crate::page::Page`]'s fields and `truncated`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// This page's hits.
    pub items: Vec<SearchHit>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    /// The cursor of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
    /// `sort=relevance` only: older matches exist beyond the ranked window
    /// (`SEARCH_RANK_WINDOW` newest matches); `sort=recent` reaches them.
    /// Always `false` with `sort=recent`.
    pub truncated: bool,
}

/// One day's reference exchange rates against one base currency (contract
/// 3.7b): how many units of each currency one unit of `base` buys.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExchangeRates {
    /// The ISO 4217 code every rate is against (the ECB's are against `EUR`).
    #[cfg_attr(feature = "openapi", schema(example = "EUR"))]
    pub base: String,
    #[serde(serialize_with = "timefmt::date::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2026-12-04"))]
    /// The day the rates are for.
    pub date: Date,
    /// Units of each currency per 1 unit of `base`, by ISO 4217 code: positive
    /// decimal strings of at most 10 significant digits (`"1.0812"`), never
    /// floats. The base is not listed (its rate is 1).
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub rates: BTreeMap<String, Decimal>,
}

/// One result of a message search: the message, the title of its session, and
/// a snippet of its text with each hit between `[[` and `]]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    /// The message found.
    pub message: Message,
    /// The title of its chat session.
    pub session_title: String,
    /// Plain text (never HTML): a part of the message around its hits, each
    /// hit between `[[` and `]]`. A `[` or `]` of the message that stands next
    /// to another bracket is separated from it by U+200B (zero-width space),
    /// so `[[` and `]]` only ever mark hits.
    pub snippet: String,
}
