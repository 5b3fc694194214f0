//! Repository traits: what the contexts need from a database, shaped like use
//! cases. `store` implements them on PostgreSQL; a method that writes more than
//! one row runs in one transaction.

use crate::callers::LiveActor;
use crate::entities::*;
use crate::error::StoreError;
use crate::ids::*;
use crate::roles::{MessageKind, MessageRole, Role};
use crate::timefmt::Timestamp;

/// What every port method returns: a value, or a classified [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------- auth, accounts

/// A user to insert; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The new user's id.
    pub id: UserId,
    /// Their email, normalised.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their password's bcrypt hash.
    pub password_hash: String,
    /// Their role.
    pub role: Role,
}

/// A login session to open; only the refresh token's hash is stored.
#[derive(Clone, Debug)]
pub struct NewLoginSession {
    /// The login session's id.
    pub id: LoginSessionId,
    /// SHA-256 of its first refresh token.
    pub refresh_token_hash: Vec<u8>,
    /// The client's name for its device.
    pub device_name: Option<String>,
    /// The login's `User-Agent`.
    pub user_agent: Option<String>,
    /// The login's client IP address.
    pub ip_address: Option<String>,
    /// When its refresh token stops working.
    pub expires_at: Timestamp,
}

/// A user with the hash their password is checked against.
#[derive(Clone)]
pub struct Credentials {
    /// The user.
    pub user: User,
    /// Their password's bcrypt hash.
    pub password_hash: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

/// Users' credentials and login sessions: what the auth context needs.
pub trait AuthStore: Send + Sync {
    /// Inserts the user and their first login session. `users_email_key` on a taken email.
    fn register(
        &self,
        user: &NewUser,
        session: &NewLoginSession,
    ) -> StoreResult<(User, LoginSession)>;
    /// The user with this email (already normalised), with their password hash.
    fn credentials_by_email(&self, email: &str) -> StoreResult<Option<Credentials>>;
    /// The user with this id, with their password hash.
    fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<Credentials>>;
    /// Opens a login session and stamps the user's `lastLoginAt`.
    fn open_login_session(
        &self,
        user: UserId,
        session: &NewLoginSession,
    ) -> StoreResult<(User, LoginSession)>;
    /// The per-request check, in one query: the actor behind a token's `sub` and
    /// `sid` if that login session is live (not revoked, not expired) and the
    /// user active, with the user's current role and the session's expiry.
    fn actor(&self, user: UserId, session: LoginSessionId) -> StoreResult<Option<LiveActor>>;
    /// One atomic statement: if `current_hash` is the live session's refresh-token
    /// hash, replace it with `next_hash`, bump the generation and `lastUsedAt`.
    /// `None` when it was not (already rotated, revoked, expired, unknown).
    fn rotate_refresh_token(
        &self,
        session: LoginSessionId,
        current_hash: &[u8],
        next_hash: &[u8],
    ) -> StoreResult<Option<(LoginSession, User)>>;
    /// A login session, live or not.
    fn login_session(&self, id: LoginSessionId) -> StoreResult<Option<LoginSession>>;
    /// The user's live login sessions, newest first.
    fn active_login_sessions(&self, user: UserId) -> StoreResult<Vec<LoginSession>>;
    /// Revokes one live login session of the user; false when there is none.
    fn revoke_login_session(&self, user: UserId, session: LoginSessionId) -> StoreResult<bool>;
    /// Revokes every live login session of the user but `keep`; how many.
    fn revoke_login_sessions(&self, user: UserId, keep: Option<LoginSessionId>)
    -> StoreResult<u64>;
    /// Creates an active admin, or makes the user with that email an active admin
    /// with the given password hash.
    fn upsert_admin(&self, user: &NewUser) -> StoreResult<User>;
    /// Stores a new password hash and revokes every login session but `keep`.
    fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: LoginSessionId,
    ) -> StoreResult<()>;
}

/// A partial update of a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new role.
    pub role: Option<Role>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
}

/// Filters of the admin user list.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Matches email or name, case-insensitively, as a substring.
    pub q: Option<String>,
}

/// Users, for profiles and administration: what the accounts context needs.
pub trait AccountStore: Send + Sync {
    /// The user with this id.
    fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Applies the patch; deactivating also revokes all the user's login sessions.
    fn update_user(&self, id: UserId, patch: &UserPatch) -> StoreResult<Option<User>>;
    /// Deletes the user with their chat sessions and the uploads only they
    /// referenced; their messages and uploads in other people's sessions stay
    /// (unattributed, unowned).
    fn delete_user(&self, id: UserId) -> StoreResult<bool>;
    /// Users newest first, after the id `after` (a keyset page).
    fn list_users(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>>;
    /// Revokes every live login session of the user; `None` if there is no such user.
    fn end_login_sessions(&self, id: UserId) -> StoreResult<Option<u64>>;
}

// ---------------------------------------------------------------- chat

/// Order of a message page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    #[default]
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// A message to post; `seq` and `createdAt` are given by the store.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The message's id.
    pub id: MessageId,
    /// The chat session it goes into.
    pub session_id: ChatSessionId,
    /// Who posts it.
    pub sender_id: UserId,
    /// Who it speaks for.
    pub role: MessageRole,
    /// Text or media.
    pub kind: MessageKind,
    /// The text, or a media message's caption.
    pub content: Option<String>,
    /// A media message's medium.
    pub media_id: Option<MediaId>,
    /// The client's id for it, unique per session.
    pub client_message_id: Option<String>,
    /// A streamed message (contract 3.12): `status` is `streaming`, and
    /// `content`, if any, is what it starts with; deltas follow.
    pub stream: bool,
}

/// A delta to append to a streamed message.
#[derive(Clone, Copy, Debug)]
pub struct NewDelta<'a> {
    /// The streamed message.
    pub message: MessageId,
    /// Who sends it: only the message's sender may.
    pub sender: UserId,
    /// Its position, from 1: the message's last delta's plus one.
    pub seq: i64,
    /// The text it appends (1 to 4000 characters).
    pub text: &'a str,
}

/// What appending a delta did. Nothing but `Applied` changed anything.
#[derive(Clone, Debug, PartialEq)]
pub enum Appended {
    /// Stored (and notified): the message, its content through this delta.
    Applied(Message),
    /// This `seq` was applied already with this text (a retried request):
    /// the message as it is.
    Repeated(Message),
    /// Any other `seq` than this one, the next, is refused.
    OutOfSequence {
        /// The `seq` the next delta must have.
        expected: i64,
    },
    /// The content would be longer than a message may be (32,000 characters).
    TooLong,
    /// The message is not streaming: it never was, or it ended.
    NotStreaming,
    /// Someone else sent the message.
    NotSender,
    /// There is no such message.
    NotFound,
}

/// What completing a streamed message did.
#[derive(Clone, Debug, PartialEq)]
pub enum Completion {
    /// It was streaming and is now `complete` (notified): the message.
    Completed(Message),
    /// It was not streaming (completed already, ended incomplete, or never
    /// streamed): the message as it is; nothing changed or was sent.
    Unchanged(Message),
    /// Someone else sent the message.
    NotSender,
    /// There is no such message.
    NotFound,
}

/// A streamed message as a live stream that resumes gets it.
#[derive(Clone, Debug, PartialEq)]
pub struct Streamed {
    /// The message as it is (its content so far while it streams).
    pub message: Message,
    /// The last delta its content includes.
    pub last_seq: i64,
}

/// What posting did.
#[derive(Clone, Debug, PartialEq)]
pub enum Posted {
    /// The message was posted.
    Created(Message),
    /// A message with the same `clientMessageId` was already in the session.
    Existing(Message),
}

/// Chat sessions and messages; a media message's medium is read through
/// [`MediaStore`].
pub trait ChatStore: MediaStore + Send + Sync {
    /// A new chat session owned by `owner`.
    fn create_chat_session(
        &self,
        id: ChatSessionId,
        owner: UserId,
        title: &str,
    ) -> StoreResult<ChatSession>;
    /// A chat session with its vendor.
    fn chat_session(&self, id: ChatSessionId) -> StoreResult<Option<ChatSession>>;
    /// Who owns the session, if it exists.
    fn chat_session_owner(&self, id: ChatSessionId) -> StoreResult<Option<UserId>>;
    /// Who owns the session and its event position (the `seq` last handed to
    /// a message; it never goes down), if it exists.
    fn chat_session_position(&self, id: ChatSessionId) -> StoreResult<Option<(UserId, i64)>>;
    /// The owner's sessions by `(updatedAt, id)` descending, after the key `after`.
    fn list_chat_sessions(
        &self,
        owner: UserId,
        q: Option<&str>,
        after: Option<(Timestamp, ChatSessionId)>,
        limit: i64,
    ) -> StoreResult<Vec<ChatSession>>;
    /// Gives a chat session a new title; `None` if it does not exist.
    fn rename_chat_session(
        &self,
        id: ChatSessionId,
        title: &str,
    ) -> StoreResult<Option<ChatSession>>;
    /// Deletes the session with its messages, vendor and sellers, and, in the
    /// same transaction, the media that only its messages carried.
    fn delete_chat_session(&self, id: ChatSessionId) -> StoreResult<bool>;
    /// Appends a message under the session row's lock: the next `seq`, the session's
    /// `updatedAt`, `lastMessageAt` and count bumped in the same transaction. A
    /// `clientMessageId` already used in the session returns that message instead.
    /// `None` when the session does not exist.
    fn post_message(&self, message: &NewMessage) -> StoreResult<Option<Posted>>;
    /// One page of a session's messages by `seq`, after `after_seq` in `order`, in
    /// one query with the visibility check: `None` when the session does not exist
    /// or, with `owner` set, belongs to someone else. At most `limit`, and no
    /// more than `budget` holds ([`crate::page::message_json_bound`] each):
    /// rows past it are not decoded.
    fn message_page(
        &self,
        session: ChatSessionId,
        owner: Option<UserId>,
        after_seq: Option<i64>,
        order: SortOrder,
        limit: i64,
        budget: &mut crate::page::ByteBudget,
    ) -> StoreResult<Option<Vec<Message>>>;
    /// A message with its session's owner.
    fn message(&self, id: MessageId) -> StoreResult<Option<(Message, UserId)>>;
    /// Deletes a message and lowers its session's count.
    fn delete_message(&self, id: MessageId) -> StoreResult<bool>;
    /// Appends a delta to a streaming message of `delta.sender`, in one
    /// atomic write under the stream's row lock (deltas of a message apply
    /// one at a time, in `seq` order, exactly once): the text is stored and
    /// its `message.delta` notice sent at commit. Only `Applied` changed
    /// anything.
    fn append_delta(&self, delta: &NewDelta<'_>) -> StoreResult<Appended>;
    /// Ends a streaming message in one transaction: `complete` with
    /// `content` if given, else with the content its deltas built, and
    /// `completedAt`; its `message.completed` notice is sent at commit
    /// (through the same path as every other event). `sender`, if given,
    /// must be its sender.
    fn complete_message(
        &self,
        id: MessageId,
        sender: Option<UserId>,
        content: Option<&str>,
    ) -> StoreResult<Completion>;
    /// Ends as `incomplete`, with the content they have, up to `limit`
    /// streaming messages that received nothing for `idle_for`, each under
    /// its stream's row lock taken with `SKIP LOCKED` (a stream that another
    /// instance, or a delta, holds is left alone); the messages ended, each
    /// notified as `message.completed`.
    fn expire_idle_streams(
        &self,
        idle_for: std::time::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// The session's streamed messages a live stream resumes with, oldest
    /// first, in one read: those streaming now (their content so far and
    /// last delta) and, with `ended_since`, those that ended at that event
    /// position or later.
    fn streamed(
        &self,
        session: ChatSessionId,
        ended_since: Option<i64>,
    ) -> StoreResult<Vec<Streamed>>;
    /// The text of one applied delta of a message still streaming.
    fn delta_text(&self, message: MessageId, seq: i64) -> StoreResult<Option<String>>;
    /// A message with, if it was streamed, the last delta its content
    /// includes, in one read (what a `message.created` event carries: the
    /// live deltas it includes already are not sent after it).
    fn message_and_last_delta(&self, id: MessageId) -> StoreResult<Option<(Message, Option<i64>)>>;
    /// Full-text search, in one read: the matches of `search` in scope,
    /// newest first, between its bounds, at most its limit, with the access
    /// filter applied inside the query, before the limit (fast for rare and
    /// common words alike: it never reads every match of a common word to find
    /// the newest); then `page` picks the page's matches from them, and those
    /// come back with their hits (message, session title, snippet), in
    /// `page`'s order. A message deleted meanwhile is left out.
    fn search_messages(
        &self,
        search: &MessageSearch,
        page: &mut dyn FnMut(Vec<Match>) -> Vec<Match>,
    ) -> StoreResult<Vec<Found>>;
}

// ---------------------------------------------------------------- media

/// An upload's row; its bytes are already in blob storage under `sha256`.
#[derive(Clone, Debug)]
pub struct NewMedia {
    /// The medium's id.
    pub id: MediaId,
    /// Who uploads it.
    pub owner_id: UserId,
    /// Its sniffed type.
    pub mime_type: String,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// The client's file name, made safe.
    pub file_name: Option<String>,
    /// Hex SHA-256 of its bytes (the blob's name).
    pub sha256: String,
}

/// A stored object that no media row refers to, locked against uploads of the
/// same bytes until released: while it is held, an upload of these bytes
/// waits to insert its row, so the object can be deleted without losing a
/// racing upload's bytes (that upload stores its object after its row).
pub trait ObjectClaim: Send {
    /// The object was deleted: forget it and let uploads of it go on.
    fn release(self: Box<Self>) -> StoreResult<()>;
}

/// Media rows and the bookkeeping of their stored objects. A deleted media
/// row (however: orphan collection, a deleted chat session or user) leaves
/// its hash in a list of objects to check, which [`MediaStore::claim_unreferenced`]
/// works through.
pub trait MediaStore: Send + Sync {
    /// A medium's row.
    fn media(&self, id: MediaId) -> StoreResult<Option<Media>>;
    /// Inserts the row under the lock of its hash (see [`ObjectClaim`]);
    /// `media_owner_id_fkey` when the owner is gone.
    fn insert_media(&self, media: &NewMedia) -> StoreResult<Media>;
    /// Deletes one row (an upload whose bytes could not be stored).
    fn delete_media(&self, id: MediaId) -> StoreResult<bool>;
    /// Whether a message carries the medium, in a session owned by
    /// `session_owner` if that is set.
    fn media_carried(&self, id: MediaId, session_owner: Option<UserId>) -> StoreResult<bool>;
    /// Deletes up to `limit` uploads created before `before` that no message
    /// carries; how many.
    fn delete_orphan_media(&self, before: Timestamp, limit: i64) -> StoreResult<u64>;
    /// Hashes whose rows were deleted, to check (oldest first).
    fn gone_objects(&self, limit: i64) -> StoreResult<Vec<String>>;
    /// Locks `sha256` against uploads; if no row refers to it, the claim to
    /// delete its object. If a row does, the hash is dropped from the list and
    /// `None` comes back.
    fn claim_unreferenced(&self, sha256: &str) -> StoreResult<Option<Box<dyn ObjectClaim>>>;
}

// ---------------------------------------------------------------- search

/// Which messages a search may find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchScope {
    /// Every session (agents and admins).
    All,
    /// The sessions of one owner (a `user`).
    Owner(UserId),
    /// One session; with `Some(owner)`, only if that user owns it.
    Session(ChatSessionId, Option<UserId>),
}

/// A message's place in time: `createdAt`, then id (newest first is
/// descending).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeKey {
    /// The message's `createdAt`.
    pub created_at: Timestamp,
    /// The message's id.
    pub id: MessageId,
}

/// A full-text search of messages, validated: the matches of `text` in
/// `scope`, newest first, strictly before `before` and at or after `since`.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageSearch {
    /// Web-search syntax: words, `"phrases"`, `or`, `-word`.
    pub text: String,
    /// Where to search.
    pub scope: SearchScope,
    /// Only matches older than this (a `recent` cursor; a relevance window's
    /// upper end).
    pub before: Option<TimeKey>,
    /// Only matches at or after this (a relevance window's oldest match).
    pub since: Option<TimeKey>,
    /// At most this many matches.
    pub limit: i64,
    /// Rank each match (`ts_rank_cd`); else its rank is 0.
    pub ranked: bool,
    /// The page's byte cap (`PAGE_MAX_BYTES`): the store may leave out the
    /// hits past it (the service cuts the page exactly).
    pub max_bytes: usize,
}

/// A match of a search with its hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The match.
    pub at: Match,
    /// The message, its session's title and the snippet.
    pub hit: SearchHit,
}

/// One match of a search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    /// Its chat session.
    pub session_id: ChatSessionId,
    /// Its place in time.
    pub key: TimeKey,
    /// `ts_rank_cd`'s `float4`, exactly (0 unless ranked).
    pub rank: f32,
}

// ---------------------------------------------------------------- market

/// Every field of a vendor, validated.
#[derive(Clone, Debug, Default)]
pub struct VendorFields {
    /// The vendor's name.
    pub name: String,
    /// Its email.
    pub email: Option<String>,
    /// Its phone number.
    pub phone: Option<String>,
    /// Its website.
    pub website: Option<String>,
    /// Its address.
    pub address: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// A partial update of a vendor: outer `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct VendorChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new email, or `Some(None)` to clear it.
    pub email: Option<Option<String>>,
    /// A new phone number, or `Some(None)` to clear it.
    pub phone: Option<Option<String>>,
    /// A new website, or `Some(None)` to clear it.
    pub website: Option<Option<String>>,
    /// A new address, or `Some(None)` to clear it.
    pub address: Option<Option<String>>,
    /// New notes, or `Some(None)` to clear them.
    pub notes: Option<Option<String>>,
}

/// Every field of a seller's offer, validated.
#[derive(Clone, Debug)]
pub struct SellerFields {
    /// The seller's name.
    pub name: String,
    /// Their email.
    pub email: Option<String>,
    /// Their phone number.
    pub phone: Option<String>,
    /// What they offer.
    pub product: Product,
}

/// A partial update of a seller's offer.
#[derive(Clone, Debug, Default)]
pub struct SellerChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new email, or `Some(None)` to clear it.
    pub email: Option<Option<String>>,
    /// A new phone number, or `Some(None)` to clear it.
    pub phone: Option<Option<String>>,
    /// A new product name.
    pub product_name: Option<String>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// A new price in minor units.
    pub price_minor: Option<i64>,
    /// A new currency.
    pub currency: Option<String>,
    /// A new quantity, or `Some(None)` to clear it.
    pub quantity: Option<Option<i64>>,
    /// A new unit, or `Some(None)` to clear it.
    pub unit: Option<Option<String>>,
}

/// Order of a session's seller list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SellerSort {
    #[default]
    /// Oldest first (the default).
    CreatedAt,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// By seller name, case-insensitively.
    Name,
}

/// Result of adding a seller under the per-session cap.
#[derive(Clone, Debug, PartialEq)]
pub enum SellerAdded {
    /// The seller as stored.
    Added(Box<Seller>),
    /// The session already holds `cap` sellers.
    CapReached,
    /// The chat session does not exist.
    NoSession,
}

/// What comparing a session's offers reads, in one transaction: the session's
/// owner (for access), all its sellers, and the rates of one day.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionOffers {
    /// Who owns the chat session.
    pub owner: UserId,
    /// Every seller of the session, oldest first (ties by id).
    pub sellers: Vec<Seller>,
    /// The latest day of rates on or before the asked date, if any.
    pub rates: Option<ExchangeRates>,
}

/// Vendors, sellers and exchange rates: what the market context needs.
pub trait MarketStore: Send + Sync {
    /// Inserts the session's vendor and bumps the session; `vendors_session_id_key`
    /// when it already has one.
    fn create_vendor(
        &self,
        id: VendorId,
        session: ChatSessionId,
        fields: &VendorFields,
    ) -> StoreResult<Vendor>;
    /// The vendor of a chat session, if it has one.
    fn vendor_of_session(&self, session: ChatSessionId) -> StoreResult<Option<Vendor>>;
    /// A vendor with its session's owner.
    fn vendor(&self, id: VendorId) -> StoreResult<Option<(Vendor, UserId)>>;
    /// Changes a vendor; `None` if it does not exist.
    fn update_vendor(&self, id: VendorId, changes: &VendorChanges) -> StoreResult<Option<Vendor>>;
    /// Deletes a vendor; false if it did not exist.
    fn delete_vendor(&self, id: VendorId) -> StoreResult<bool>;
    /// Inserts a seller if the session holds fewer than `cap`, counting under the
    /// session row's lock; `sellers_session_name_product_key` on a duplicate offer.
    fn add_seller(
        &self,
        id: SellerId,
        session: ChatSessionId,
        fields: &SellerFields,
        cap: i32,
    ) -> StoreResult<SellerAdded>;
    /// A chat session's sellers, in this order (ties by id).
    fn sellers(&self, session: ChatSessionId, sort: SellerSort) -> StoreResult<Vec<Seller>>;
    /// A seller with its session's owner.
    fn seller(&self, id: SellerId) -> StoreResult<Option<(Seller, UserId)>>;
    /// Changes a seller; `None` if it does not exist. A change that makes it a duplicate is `Conflict::DuplicateOffer`.
    fn update_seller(&self, id: SellerId, changes: &SellerChanges) -> StoreResult<Option<Seller>>;
    /// Deletes a seller; false if it did not exist.
    fn delete_seller(&self, id: SellerId) -> StoreResult<bool>;
    /// Stores each day's rates in one transaction, each replacing whatever
    /// that date held (its base too): a day stored again as it is changes no
    /// row, so importing a file twice changes nothing.
    fn replace_exchange_rates(&self, days: &[ExchangeRates]) -> StoreResult<()>;
    /// The latest day of rates on or before `date`.
    fn exchange_rates_on(&self, date: time::Date) -> StoreResult<Option<ExchangeRates>>;
    /// A chat session's owner and sellers with the latest rates on or before
    /// `date`, read in one transaction; `None` if the session does not exist.
    fn session_offers(
        &self,
        session: ChatSessionId,
        date: time::Date,
    ) -> StoreResult<Option<SessionOffers>>;
}

/// Liveness of the database, for `/ready`.
pub trait HealthStore: Send + Sync {
    /// The database answers and every migration is applied.
    fn ready(&self) -> StoreResult<bool>;
}
