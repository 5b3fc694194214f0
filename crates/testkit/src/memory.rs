//! [`MemoryStore`]: every port of `domain` in memory, for tests of the rules
//! that need no database.
//!
//! It is faithful to `store::PgStore` on what a caller can observe: the same
//! typed `StoreError` for every unique rule, foreign key and CHECK the schema
//! has, the same cascades, the same counters and timestamps, the same list
//! orders and keyset pages. It is not a model of PostgreSQL's performance,
//! concurrency or SQL: one mutex serialises every call, and each port method
//! checks everything before it changes anything, so a failed call changes
//! nothing (as a rolled-back transaction).

use domain::bounds;
use domain::ports::*;
use domain::timefmt::Timestamp;
use domain::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use time::{Duration, OffsetDateTime};

/// Every port of `domain`, in memory. See the [module docs](self).
#[derive(Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// The last time handed out: each writing call gets a later one.
    clock: Option<Timestamp>,
    users: BTreeMap<UserId, UserRow>,
    logins: BTreeMap<LoginSessionId, LoginRow>,
    sessions: BTreeMap<ChatSessionId, SessionRow>,
    media: BTreeMap<MediaId, Media>,
    /// `media_gone`: hashes whose rows were deleted, with when.
    gone: BTreeMap<String, Timestamp>,
    messages: BTreeMap<MessageId, MessageRow>,
    /// `message_streams`, by message.
    streams: BTreeMap<MessageId, StreamRow>,
    vendors: BTreeMap<VendorId, Vendor>,
    sellers: BTreeMap<SellerId, Seller>,
    /// `exchange_rate_dates` with their `exchange_rates`.
    rates: BTreeMap<time::Date, ExchangeRates>,
    /// `webhooks` and `webhook_deliveries`.
    outbox: Outbox,
}

struct UserRow {
    user: User,
    password_hash: String,
}

struct LoginRow {
    session: LoginSession,
    refresh_token_hash: Vec<u8>,
}

struct SessionRow {
    id: ChatSessionId,
    user_id: UserId,
    title: String,
    created_at: Timestamp,
    updated_at: Timestamp,
    last_message_at: Option<Timestamp>,
    message_count: i32,
    /// The last `seq` handed out; never goes down.
    message_seq: i64,
    seller_count: i32,
}

struct MessageRow {
    id: MessageId,
    session_id: ChatSessionId,
    seq: i64,
    sender_id: Option<UserId>,
    role: MessageRole,
    kind: MessageKind,
    content: Option<String>,
    media_id: Option<MediaId>,
    client_message_id: Option<String>,
    created_at: Timestamp,
    /// `None` for a message not streamed.
    status: Option<MessageStatus>,
    completed_at: Option<Timestamp>,
}

/// `message_streams` with its parts and logged deltas: a streamed message's
/// content so far is `start` and its deltas.
struct StreamRow {
    session_id: ChatSessionId,
    sender_id: UserId,
    /// The content it was created with.
    start: String,
    /// Each applied delta's text, `seq` 1 first (gone once it ends).
    deltas: Vec<String>,
    /// The last delta applied.
    last_seq: i64,
    /// The content's length, in characters.
    length: usize,
    touched_at: Timestamp,
    /// The session's event position when it ended.
    completed_pos: Option<i64>,
}

impl StreamRow {
    fn content(&self) -> String {
        let mut c = self.start.clone();
        self.deltas.iter().for_each(|d| c.push_str(d));
        c
    }
}

/// The most characters a message holds.
const MAX_CONTENT_CHARS: usize = 32_000;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A user named `name` (`<name>@example.com`) in `role`, registered with
    /// a live login session: the actor a rules test acts as.
    pub fn signed_in(&self, name: &str, role: Role) -> StoreResult<Actor> {
        let user = NewUser {
            id: UserId::new(),
            email: format!("{name}@example.com"),
            name: name.to_owned(),
            password_hash: "not a real hash".to_owned(),
            role,
        };
        let mut hash = vec![0u8; 16];
        hash.extend_from_slice(user.id.0.as_bytes());
        let session = NewLoginSession {
            id: LoginSessionId::new(),
            refresh_token_hash: hash,
            device_name: None,
            user_agent: None,
            ip_address: None,
            expires_at: time::OffsetDateTime::now_utc() + time::Duration::days(1),
        };
        let (user, session) = self.register(&user, &session)?;
        Ok(Actor::__from_store(user.id, session.id, role))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a medium's row as given (its `createdAt` too, so that tests can
    /// make an old upload). The owner must exist; the `media` table's CHECKs
    /// apply.
    pub fn seed_media(&self, media: Media) -> StoreResult<Media> {
        let mut st = self.lock();
        check_media(&media)?;
        if st.media.contains_key(&media.id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::Media)));
        }
        if media.owner_id.is_some_and(|o| !st.users.contains_key(&o)) {
            return Err(StoreError::MissingParent(Entity::User));
        }
        let media = Media {
            created_at: micros(media.created_at),
            ..media
        };
        st.media.insert(media.id, media.clone());
        Ok(media)
    }
}

// ---------------------------------------------------------------- time

/// PostgreSQL keeps microseconds.
fn micros(t: Timestamp) -> Timestamp {
    let nanos = t.unix_timestamp_nanos();
    Timestamp::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(1000)).unwrap_or(t)
}

impl State {
    /// The time of one writing call (PostgreSQL's `now()` of its transaction):
    /// the wall clock in microseconds, and always later than the previous
    /// call's, so that orders by time do not depend on how fast the machine is.
    fn tick(&mut self) -> Timestamp {
        let now = micros(OffsetDateTime::now_utc());
        let at = match self.clock {
            Some(last) if now <= last => last + Duration::microseconds(1),
            _ => now,
        };
        self.clock = Some(at);
        at
    }

    /// The time a read compares with (expiry), without taking a tick.
    fn now(&self) -> Timestamp {
        let now = micros(OffsetDateTime::now_utc());
        self.clock.map_or(now, |last| now.max(last))
    }
}

// ---------------------------------------------------------------- CHECKs

/// `Err(Invalid(name))` unless `ok`: a CHECK constraint of the schema.
fn check(ok: bool, name: &str) -> StoreResult<()> {
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(name.to_owned()))
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A nullable column's CHECK: NULL passes.
fn check_opt(v: Option<&str>, ok: impl Fn(&str) -> bool, name: &str) -> StoreResult<()> {
    check(v.is_none_or(ok), name)
}

fn check_user(email: &str, name: &str) -> StoreResult<()> {
    check(
        email == email.trim().to_lowercase()
            && (bounds::email::MIN..=bounds::email::MAX).contains(&chars(email)),
        "users_email_check",
    )?;
    check(
        (bounds::user_name::MIN..=bounds::user_name::MAX).contains(&chars(name)),
        "users_name_check",
    )
}

fn check_login(s: &NewLoginSession, created_at: Timestamp) -> StoreResult<()> {
    check(
        s.refresh_token_hash.len() == 32,
        "login_sessions_refresh_token_hash_check",
    )?;
    check_opt(
        s.device_name.as_deref(),
        |v| chars(v) <= bounds::device_name::MAX,
        "login_sessions_device_name_check",
    )?;
    check_opt(
        s.user_agent.as_deref(),
        |v| chars(v) <= bounds::user_agent::MAX,
        "login_sessions_user_agent_check",
    )?;
    check_opt(
        s.ip_address.as_deref(),
        |v| chars(v) <= bounds::ip_address::MAX,
        "login_sessions_ip_address_check",
    )?;
    check(s.expires_at > created_at, "login_sessions_expiry_check")
}

fn check_title(title: &str) -> StoreResult<()> {
    check(
        (bounds::session_title::MIN..=bounds::session_title::MAX).contains(&chars(title)),
        "chat_sessions_title_check",
    )
}

fn check_media(m: &Media) -> StoreResult<()> {
    const TYPES: [&str; 11] = [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "audio/mpeg",
        "audio/ogg",
        "audio/mp4",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    ];
    check(
        TYPES.contains(&m.mime_type.as_str()),
        "media_mime_type_check",
    )?;
    check(m.size_bytes >= 0, "media_size_bytes_check")?;
    check_opt(
        m.file_name.as_deref(),
        |v| (bounds::file_name::MIN..=bounds::file_name::MAX).contains(&chars(v)),
        "media_file_name_check",
    )?;
    check(
        m.sha256.len() == 64
            && m.sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "media_sha256_check",
    )
}

fn check_message(m: &NewMessage) -> StoreResult<()> {
    check_opt(
        // A streamed message's content starts in its stream, not its row.
        m.content.as_deref().filter(|_| !m.stream),
        |v| (bounds::message_content::MIN..=bounds::message_content::MAX).contains(&chars(v)),
        "messages_content_check",
    )?;
    check_opt(
        m.client_message_id.as_deref(),
        |v| (bounds::client_message_id::MIN..=bounds::client_message_id::MAX).contains(&chars(v)),
        "messages_client_message_id_check",
    )?;
    check(
        match m.kind {
            MessageKind::Text => (m.content.is_some() || m.stream) && m.media_id.is_none(),
            MessageKind::Media => m.media_id.is_some(),
        },
        "messages_kind_fields_check",
    )?;
    check(
        !m.stream || m.kind == MessageKind::Text,
        "messages_stream_fields_check",
    )?;
    check(
        m.content
            .as_deref()
            .is_none_or(|c| !m.stream || chars(c) <= MAX_CONTENT_CHARS),
        "message_streams_length_check",
    )
}

fn is_phone(v: &str) -> bool {
    (3..=32).contains(&chars(v))
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-'))
}

fn check_email(table: &str, v: Option<&str>) -> StoreResult<()> {
    check_opt(
        v,
        |v| (bounds::email::MIN..=bounds::email::MAX).contains(&chars(v)),
        &format!("{table}_email_check"),
    )
}

fn check_phone(table: &str, v: Option<&str>) -> StoreResult<()> {
    check_opt(v, is_phone, &format!("{table}_phone_check"))
}

fn check_vendor(v: &Vendor) -> StoreResult<()> {
    check(
        (bounds::name::MIN..=bounds::name::MAX).contains(&chars(&v.name)),
        "vendors_name_check",
    )?;
    check_email("vendors", v.email.as_deref())?;
    check_phone("vendors", v.phone.as_deref())?;
    check_opt(
        v.website.as_deref(),
        |w| {
            let head = w.get(..8).unwrap_or(w).to_ascii_lowercase();
            (head.starts_with("http://") || head.starts_with("https://"))
                && chars(w) <= bounds::website::MAX
        },
        "vendors_website_check",
    )?;
    check_opt(
        v.address.as_deref(),
        |a| chars(a) <= bounds::address::MAX,
        "vendors_address_check",
    )?;
    check_opt(
        v.notes.as_deref(),
        |n| chars(n) <= bounds::notes::MAX,
        "vendors_notes_check",
    )
}

fn check_seller(s: &Seller) -> StoreResult<()> {
    let p = &s.product;
    check(
        (bounds::name::MIN..=bounds::name::MAX).contains(&chars(&s.name)),
        "sellers_name_check",
    )?;
    check_email("sellers", s.email.as_deref())?;
    check_phone("sellers", s.phone.as_deref())?;
    check(
        (bounds::name::MIN..=bounds::name::MAX).contains(&chars(&p.name)),
        "sellers_product_name_check",
    )?;
    check_opt(
        p.description.as_deref(),
        |d| chars(d) <= bounds::notes::MAX,
        "sellers_product_description_check",
    )?;
    check(
        (bounds::price_minor::MIN..=bounds::price_minor::MAX).contains(&p.price_minor),
        "sellers_price_minor_check",
    )?;
    check(
        p.currency.len() == 3 && p.currency.bytes().all(|b| b.is_ascii_uppercase()),
        "sellers_currency_check",
    )?;
    check(
        p.quantity
            .is_none_or(|q| (bounds::quantity::MIN..=bounds::quantity::MAX).contains(&q)),
        "sellers_quantity_check",
    )?;
    check_opt(
        p.unit.as_deref(),
        |u| (bounds::unit::MIN..=bounds::unit::MAX).contains(&chars(u)),
        "sellers_unit_check",
    )
}

// ---------------------------------------------------------------- helpers

/// ILIKE `%q%` with `%`, `_` and `\` escaped: a case-insensitive substring.
fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// A `LIMIT` as the port receives it.
fn take(limit: i64) -> usize {
    usize::try_from(limit).unwrap_or(0)
}

fn live(s: &LoginSession, now: Timestamp) -> bool {
    s.revoked_at.is_none() && s.expires_at > now
}

impl State {
    fn session(&self, id: ChatSessionId) -> Option<ChatSession> {
        let s = self.sessions.get(&id)?;
        Some(ChatSession {
            id: s.id,
            user_id: s.user_id,
            title: s.title.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            last_message_at: s.last_message_at,
            message_count: s.message_count,
            vendor: self.vendor_of(id).cloned(),
            seller_count: s.seller_count,
        })
    }

    fn vendor_of(&self, session: ChatSessionId) -> Option<&Vendor> {
        self.vendors.values().find(|v| v.session_id == session)
    }

    fn message(&self, m: &MessageRow) -> Message {
        Message {
            id: m.id,
            session_id: m.session_id,
            seq: m.seq,
            sender_id: m.sender_id,
            role: m.role,
            kind: m.kind,
            content: match (m.status, self.streams.get(&m.id)) {
                (None, _) => m.content.clone(),
                (Some(MessageStatus::Streaming), Some(s)) => Some(s.content()),
                // Ended with nothing: NULL, read as "".
                (Some(_), _) => Some(m.content.clone().unwrap_or_default()),
            },
            media: m.media_id.and_then(|id| self.media.get(&id).cloned()),
            client_message_id: m.client_message_id.clone(),
            status: m.status.unwrap_or_default(),
            created_at: m.created_at,
            completed_at: match m.status {
                None => Some(m.created_at),
                Some(_) => m.completed_at,
            },
        }
    }

    /// Ends the stream of `id` (`ChatStore::complete_message`,
    /// `expire_idle_streams`): the message's status, completion time and
    /// content (`content` if given, else what it streamed; empty: NULL), and
    /// the session's position on the stream; its parts and deltas go.
    fn end_stream(
        &mut self,
        id: MessageId,
        status: MessageStatus,
        content: Option<&str>,
    ) -> Option<Message> {
        let at = self.tick();
        let session = self.streams.get(&id)?.session_id;
        let position = self.sessions.get(&session).map_or(0, |s| s.message_seq);
        let stream = self.streams.get_mut(&id)?;
        let text = content.map_or_else(|| stream.content(), str::to_owned);
        stream.completed_pos = Some(position);
        stream.start.clear();
        stream.deltas.clear();
        let row = self.messages.get_mut(&id)?;
        row.status = Some(status);
        row.completed_at = Some(at);
        row.content = (!text.is_empty()).then_some(text);
        self.hook(domain::webhooks::EventType::MessageCompleted, session);
        self.messages.get(&id).map(|row| self.message(row))
    }

    fn message_by_client_id(&self, session: ChatSessionId, cid: &str) -> Option<Message> {
        self.messages
            .values()
            .find(|m| m.session_id == session && m.client_message_id.as_deref() == Some(cid))
            .map(|m| self.message(m))
    }

    fn owner_of(&self, session: ChatSessionId) -> Option<UserId> {
        self.sessions.get(&session).map(|s| s.user_id)
    }

    /// `UPDATE chat_sessions SET updated_at = now()`; false if it is gone.
    fn touch(&mut self, session: ChatSessionId, at: Timestamp) -> bool {
        match self.sessions.get_mut(&session) {
            Some(s) => {
                s.updated_at = at;
                true
            }
            None => false,
        }
    }

    fn email_taken(&self, email: &str, except: Option<UserId>) -> bool {
        let email = email.to_lowercase();
        self.users
            .values()
            .any(|u| Some(u.user.id) != except && u.user.email.to_lowercase() == email)
    }

    fn new_user(&self, u: &NewUser, at: Timestamp) -> StoreResult<UserRow> {
        check_user(&u.email, &u.name)?;
        if self.users.contains_key(&u.id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::User)));
        }
        if self.email_taken(&u.email, None) {
            return Err(StoreError::Conflict(Conflict::EmailTaken));
        }
        Ok(UserRow {
            user: User {
                id: u.id,
                email: u.email.clone(),
                name: u.name.clone(),
                role: u.role,
                is_active: true,
                created_at: at,
                updated_at: at,
                last_login_at: None,
            },
            password_hash: u.password_hash.clone(),
        })
    }

    /// A login session row to insert; the user is checked by the caller.
    fn new_login(&self, user: UserId, s: &NewLoginSession, at: Timestamp) -> StoreResult<LoginRow> {
        check_login(s, at)?;
        if self.logins.contains_key(&s.id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::LoginSession)));
        }
        if self.hash_taken(&s.refresh_token_hash, None) {
            return Err(StoreError::Conflict(Conflict::RefreshToken));
        }
        Ok(LoginRow {
            session: LoginSession {
                id: s.id,
                user_id: user,
                device_name: s.device_name.clone(),
                user_agent: s.user_agent.clone(),
                ip_address: s.ip_address.clone(),
                created_at: at,
                last_used_at: at,
                expires_at: s.expires_at,
                revoked_at: None,
                refresh_generation: 0,
                current: false,
            },
            refresh_token_hash: s.refresh_token_hash.clone(),
        })
    }

    fn hash_taken(&self, hash: &[u8], except: Option<LoginSessionId>) -> bool {
        self.logins
            .values()
            .any(|l| Some(l.session.id) != except && l.refresh_token_hash == hash)
    }

    /// Revokes the user's unrevoked login sessions (expired ones included, as
    /// the SQL does) but `keep`; how many.
    fn revoke_all(&mut self, user: UserId, keep: Option<LoginSessionId>, at: Timestamp) -> u64 {
        let mut n = 0;
        for l in self.logins.values_mut() {
            let s = &mut l.session;
            let live = s.revoked_at.is_none() && s.expires_at > at;
            if s.user_id == user && live && Some(s.id) != keep {
                s.revoked_at = Some(at);
                n += 1;
            }
        }
        n
    }

    /// Deletes a chat session and, by cascade, its messages, vendor and sellers.
    fn delete_session(&mut self, id: ChatSessionId) -> bool {
        if self.sessions.remove(&id).is_none() {
            return false;
        }
        let carried: Vec<MediaId> = self
            .messages
            .values()
            .filter(|m| m.session_id == id)
            .filter_map(|m| m.media_id)
            .collect();
        self.messages.retain(|_, m| m.session_id != id);
        self.delete_uncarried(&carried);
        self.vendors.retain(|_, v| v.session_id != id);
        self.sellers.retain(|_, s| s.session_id != id);
        self.hook(domain::webhooks::EventType::SessionDeleted, id);
        true
    }

    /// Deletes the media of `ids` that no message carries, noting their hashes
    /// in `gone` (the SQL's trigger).
    fn delete_uncarried(&mut self, ids: &[MediaId]) -> usize {
        let at = self.tick();
        let mut n = 0;
        for id in ids {
            if self.messages.values().any(|m| m.media_id == Some(*id)) {
                continue;
            }
            if let Some(m) = self.media.remove(id) {
                self.gone.entry(m.sha256).or_insert(at);
                n += 1;
            }
        }
        n
    }

    /// The unique rule of sellers: `(session_id, lower(name), lower(product_name))`.
    fn offer_taken(&self, s: &Seller) -> bool {
        let (name, product) = (s.name.to_lowercase(), s.product.name.to_lowercase());
        self.sellers.values().any(|o| {
            o.id != s.id
                && o.session_id == s.session_id
                && o.name.to_lowercase() == name
                && o.product.name.to_lowercase() == product
        })
    }
}

fn credentials(row: &UserRow) -> Credentials {
    Credentials {
        user: row.user.clone(),
        password_hash: row.password_hash.clone(),
    }
}

// ---------------------------------------------------------------- auth

impl AuthStore for MemoryStore {
    fn register(
        &self,
        user: &NewUser,
        session: &NewLoginSession,
    ) -> StoreResult<(User, LoginSession)> {
        let mut st = self.lock();
        let at = st.tick();
        let u = st.new_user(user, at)?;
        let s = st.new_login(user.id, session, at)?;
        let out = (u.user.clone(), s.session.clone());
        st.users.insert(user.id, u);
        st.logins.insert(session.id, s);
        Ok(out)
    }

    fn credentials_by_email(&self, email: &str) -> StoreResult<Option<Credentials>> {
        let st = self.lock();
        Ok(st
            .users
            .values()
            .find(|u| u.user.email.to_lowercase() == email)
            .map(credentials))
    }

    fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<Credentials>> {
        Ok(self.lock().users.get(&id).map(credentials))
    }

    fn open_login_session(
        &self,
        user: UserId,
        session: &NewLoginSession,
    ) -> StoreResult<(User, LoginSession)> {
        let mut st = self.lock();
        let at = st.tick();
        let s = st.new_login(user, session, at)?;
        let Some(u) = st.users.get_mut(&user) else {
            return Err(StoreError::MissingParent(Entity::User));
        };
        u.user.last_login_at = Some(at);
        let out = (u.user.clone(), s.session.clone());
        st.logins.insert(session.id, s);
        Ok(out)
    }

    fn actor(&self, user: UserId, session: LoginSessionId) -> StoreResult<Option<LiveActor>> {
        let st = self.lock();
        let now = st.now();
        let Some(l) = st.logins.get(&session) else {
            return Ok(None);
        };
        if l.session.user_id != user || !live(&l.session, now) {
            return Ok(None);
        }
        Ok(st
            .users
            .get(&user)
            .filter(|u| u.user.is_active)
            .map(|u| LiveActor {
                actor: Actor::__from_store(user, session, u.user.role),
                session_expires_at: l.session.expires_at,
            }))
    }

    fn rotate_refresh_token(
        &self,
        session: LoginSessionId,
        current_hash: &[u8],
        next_hash: &[u8],
    ) -> StoreResult<Option<(LoginSession, User)>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(l) = st.logins.get(&session) else {
            return Ok(None);
        };
        let owner_active = st
            .users
            .get(&l.session.user_id)
            .is_some_and(|u| u.user.is_active);
        if l.refresh_token_hash != current_hash || !live(&l.session, at) || !owner_active {
            return Ok(None);
        }
        check(
            next_hash.len() == 32,
            "login_sessions_refresh_token_hash_check",
        )?;
        if st.hash_taken(next_hash, Some(session)) {
            return Err(StoreError::Conflict(Conflict::RefreshToken));
        }
        let Some(l) = st.logins.get_mut(&session) else {
            return Ok(None);
        };
        l.refresh_token_hash = next_hash.to_vec();
        l.session.refresh_generation += 1;
        l.session.last_used_at = at;
        let s = l.session.clone();
        let user = st
            .users
            .get(&s.user_id)
            .map(|u| u.user.clone())
            .ok_or(StoreError::NotFound)?;
        Ok(Some((s, user)))
    }

    fn login_session(&self, id: LoginSessionId) -> StoreResult<Option<LoginSession>> {
        Ok(self.lock().logins.get(&id).map(|l| l.session.clone()))
    }

    fn active_login_sessions(&self, user: UserId) -> StoreResult<Vec<LoginSession>> {
        let st = self.lock();
        let now = st.now();
        let mut list: Vec<LoginSession> = st
            .logins
            .values()
            .filter(|l| l.session.user_id == user && live(&l.session, now))
            .map(|l| l.session.clone())
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
        Ok(list)
    }

    fn revoke_login_session(&self, user: UserId, session: LoginSessionId) -> StoreResult<bool> {
        let mut st = self.lock();
        let at = st.tick();
        match st.logins.get_mut(&session) {
            Some(l) if l.session.user_id == user && live(&l.session, at) => {
                l.session.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn revoke_login_sessions(
        &self,
        user: UserId,
        keep: Option<LoginSessionId>,
    ) -> StoreResult<u64> {
        let mut st = self.lock();
        let at = st.tick();
        Ok(st.revoke_all(user, keep, at))
    }

    fn upsert_admin(&self, user: &NewUser) -> StoreResult<User> {
        let mut st = self.lock();
        let at = st.tick();
        let existing = st
            .users
            .values()
            .find(|u| u.user.email.to_lowercase() == user.email)
            .map(|u| u.user.id);
        if let Some(id) = existing
            && let Some(u) = st.users.get_mut(&id)
        {
            u.user.role = Role::Admin;
            u.user.is_active = true;
            u.user.updated_at = at;
            u.password_hash = user.password_hash.clone();
            return Ok(u.user.clone());
        }
        let row = st.new_user(user, at)?;
        let out = row.user.clone();
        st.users.insert(user.id, row);
        Ok(out)
    }

    fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: LoginSessionId,
    ) -> StoreResult<()> {
        let mut st = self.lock();
        let at = st.tick();
        if let Some(u) = st.users.get_mut(&user) {
            u.password_hash = password_hash.to_owned();
            u.user.updated_at = at;
        }
        st.revoke_all(user, Some(keep), at);
        Ok(())
    }
}

// ---------------------------------------------------------------- accounts

impl AccountStore for MemoryStore {
    fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).map(|u| u.user.clone()))
    }

    fn update_user(&self, id: UserId, patch: &UserPatch) -> StoreResult<Option<User>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(current) = st.users.get(&id) else {
            return Ok(None);
        };
        let name = patch.name.as_deref().unwrap_or(&current.user.name);
        check_user(&current.user.email, name)?;
        let name = name.to_owned();
        let Some(u) = st.users.get_mut(&id) else {
            return Ok(None);
        };
        u.user.name = name;
        if let Some(role) = patch.role {
            u.user.role = role;
        }
        if let Some(active) = patch.is_active {
            u.user.is_active = active;
        }
        u.user.updated_at = at;
        let out = u.user.clone();
        if patch.is_active == Some(false) {
            st.revoke_all(id, None, at);
        }
        Ok(Some(out))
    }

    fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let mut st = self.lock();
        if st.users.remove(&id).is_none() {
            return Ok(false);
        }
        st.logins.retain(|_, l| l.session.user_id != id);
        let owned: Vec<ChatSessionId> = st
            .sessions
            .values()
            .filter(|s| s.user_id == id)
            .map(|s| s.id)
            .collect();
        for s in owned {
            st.delete_session(s);
        }
        // Their uploads that no message carries any more go; one that a
        // message in someone else's session carries stays there, unowned.
        let media: Vec<MediaId> = st
            .media
            .values()
            .filter(|m| m.owner_id == Some(id))
            .map(|m| m.id)
            .collect();
        st.delete_uncarried(&media);
        for m in st.media.values_mut() {
            if m.owner_id == Some(id) {
                m.owner_id = None;
            }
        }
        // The sender does not own a message: it stays, unattributed.
        for m in st.messages.values_mut() {
            if m.sender_id == Some(id) {
                m.sender_id = None;
            }
        }
        Ok(true)
    }

    fn list_users(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        let st = self.lock();
        Ok(st
            .users
            .values()
            .rev()
            .map(|u| &u.user)
            .filter(|u| after.is_none_or(|a| u.id < a))
            .filter(|u| filter.role.is_none_or(|r| u.role == r))
            .filter(|u| {
                filter
                    .q
                    .as_deref()
                    .is_none_or(|q| contains_ci(&u.email, q) || contains_ci(&u.name, q))
            })
            .take(take(limit))
            .cloned()
            .collect())
    }

    fn end_login_sessions(&self, id: UserId) -> StoreResult<Option<u64>> {
        let mut st = self.lock();
        let at = st.tick();
        if !st.users.contains_key(&id) {
            return Ok(None);
        }
        Ok(Some(st.revoke_all(id, None, at)))
    }
}

// ---------------------------------------------------------------- chat

impl ChatStore for MemoryStore {
    fn create_chat_session(
        &self,
        id: ChatSessionId,
        owner: UserId,
        title: &str,
    ) -> StoreResult<ChatSession> {
        let mut st = self.lock();
        let at = st.tick();
        check_title(title)?;
        if st.sessions.contains_key(&id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::ChatSession)));
        }
        if !st.users.contains_key(&owner) {
            return Err(StoreError::MissingParent(Entity::User));
        }
        st.sessions.insert(
            id,
            SessionRow {
                id,
                user_id: owner,
                title: title.to_owned(),
                created_at: at,
                updated_at: at,
                last_message_at: None,
                message_count: 0,
                message_seq: 0,
                seller_count: 0,
            },
        );
        st.hook(domain::webhooks::EventType::SessionCreated, id);
        st.session(id).ok_or(StoreError::NotFound)
    }

    fn chat_session(&self, id: ChatSessionId) -> StoreResult<Option<ChatSession>> {
        Ok(self.lock().session(id))
    }

    fn chat_session_owner(&self, id: ChatSessionId) -> StoreResult<Option<UserId>> {
        Ok(self.lock().owner_of(id))
    }

    fn chat_session_position(&self, id: ChatSessionId) -> StoreResult<Option<(UserId, i64)>> {
        let st = self.lock();
        Ok(st.sessions.get(&id).map(|s| (s.user_id, s.message_seq)))
    }

    fn list_chat_sessions(
        &self,
        owner: UserId,
        q: Option<&str>,
        after: Option<(Timestamp, ChatSessionId)>,
        limit: i64,
    ) -> StoreResult<Vec<ChatSession>> {
        let st = self.lock();
        let mut keys: Vec<(Timestamp, ChatSessionId)> = st
            .sessions
            .values()
            .filter(|s| s.user_id == owner)
            .filter(|s| q.is_none_or(|q| contains_ci(&s.title, q)))
            .map(|s| (s.updated_at, s.id))
            .filter(|key| after.is_none_or(|after| *key < after))
            .collect();
        keys.sort_by(|a, b| b.cmp(a));
        Ok(keys
            .into_iter()
            .take(take(limit))
            .filter_map(|(_, id)| st.session(id))
            .collect())
    }

    fn rename_chat_session(
        &self,
        id: ChatSessionId,
        title: &str,
    ) -> StoreResult<Option<ChatSession>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(s) = st.sessions.get_mut(&id) else {
            return Ok(None);
        };
        check_title(title)?;
        s.title = title.to_owned();
        s.updated_at = at;
        st.hook(domain::webhooks::EventType::SessionUpdated, id);
        Ok(st.session(id))
    }

    fn delete_chat_session(&self, id: ChatSessionId) -> StoreResult<bool> {
        Ok(self.lock().delete_session(id))
    }

    fn post_message(&self, message: &NewMessage) -> StoreResult<Option<Posted>> {
        let mut st = self.lock();
        let m = message;
        if let Some(cid) = m.client_message_id.as_deref()
            && let Some(found) = st.message_by_client_id(m.session_id, cid)
        {
            return Ok(Some(Posted::Existing(found)));
        }
        let at = st.tick();
        let Some(seq) = st.sessions.get(&m.session_id).map(|s| s.message_seq + 1) else {
            return Ok(None);
        };
        // The order PostgreSQL checks an insert in: CHECKs, unique indexes,
        // then foreign keys.
        check_message(m)?;
        if st.messages.contains_key(&m.id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::Message)));
        }
        if !st.users.contains_key(&m.sender_id) {
            return Err(StoreError::MissingParent(Entity::User));
        }
        if m.media_id.is_some_and(|id| !st.media.contains_key(&id)) {
            return Err(StoreError::MissingParent(Entity::Media));
        }
        if let Some(s) = st.sessions.get_mut(&m.session_id) {
            s.message_seq = seq;
            s.message_count += 1;
            s.updated_at = at;
            s.last_message_at = Some(at);
        }
        let row = MessageRow {
            id: m.id,
            session_id: m.session_id,
            seq,
            sender_id: Some(m.sender_id),
            role: m.role,
            kind: m.kind,
            content: m.content.clone().filter(|_| !m.stream),
            media_id: m.media_id,
            client_message_id: m.client_message_id.clone(),
            created_at: at,
            status: m.stream.then_some(MessageStatus::Streaming),
            completed_at: None,
        };
        if m.stream {
            let start = m.content.clone().unwrap_or_default();
            st.streams.insert(
                m.id,
                StreamRow {
                    session_id: m.session_id,
                    sender_id: m.sender_id,
                    length: chars(&start),
                    start,
                    deltas: Vec::new(),
                    last_seq: 0,
                    touched_at: at,
                    completed_pos: None,
                },
            );
        }
        let created = st.message(&row);
        st.messages.insert(m.id, row);
        st.hook(domain::webhooks::EventType::MessageCreated, m.session_id);
        Ok(Some(Posted::Created(created)))
    }

    /// `ChatStore::message_page`: one page of a session's messages by `seq`,
    /// with the visibility check; at most `limit`, and no more than `budget`
    /// holds (each message counted with `domain::page::message_json_bound`).
    fn message_page(
        &self,
        session: ChatSessionId,
        owner: Option<UserId>,
        after_seq: Option<i64>,
        order: SortOrder,
        limit: i64,
        budget: &mut domain::page::ByteBudget,
    ) -> StoreResult<Option<Vec<Message>>> {
        let st = self.lock();
        match st.owner_of(session) {
            Some(o) if owner.is_none_or(|want| want == o) => {}
            _ => return Ok(None),
        }
        let mut rows: Vec<&MessageRow> = st
            .messages
            .values()
            .filter(|m| m.session_id == session)
            .filter(|m| match order {
                SortOrder::Asc => m.seq > after_seq.unwrap_or(0),
                SortOrder::Desc => m.seq < after_seq.unwrap_or(i64::MAX),
            })
            .collect();
        match order {
            SortOrder::Asc => rows.sort_by_key(|m| m.seq),
            SortOrder::Desc => rows.sort_by_key(|m| std::cmp::Reverse(m.seq)),
        }
        Ok(Some(
            rows.into_iter()
                .take(take(limit))
                .map(|m| st.message(m))
                .take_while(|m| budget.take(domain::page::message_json_bound(m)))
                .collect(),
        ))
    }

    fn message(&self, id: MessageId) -> StoreResult<Option<(Message, UserId)>> {
        let st = self.lock();
        Ok(st.messages.get(&id).and_then(|m| {
            let owner = st.owner_of(m.session_id)?;
            Some((st.message(m), owner))
        }))
    }

    fn delete_message(&self, id: MessageId) -> StoreResult<bool> {
        let mut st = self.lock();
        let Some(m) = st.messages.get(&id) else {
            return Ok(false);
        };
        let session = m.session_id;
        if st
            .sessions
            .get(&session)
            .is_some_and(|s| s.message_count < 1)
        {
            return Err(StoreError::Invalid(
                "chat_sessions_message_count_check".into(),
            ));
        }
        st.messages.remove(&id);
        if let Some(s) = st.sessions.get_mut(&session) {
            s.message_count -= 1;
        }
        st.hook(domain::webhooks::EventType::MessageDeleted, session);
        Ok(true)
    }

    fn append_delta(&self, d: &NewDelta<'_>) -> StoreResult<Appended> {
        let mut st = self.lock();
        let Some(row) = st.messages.get(&d.message) else {
            return Ok(Appended::NotFound);
        };
        if row.sender_id != Some(d.sender) {
            return Ok(Appended::NotSender);
        }
        let Some(stream) = st
            .streams
            .get(&d.message)
            .filter(|s| s.completed_pos.is_none())
        else {
            return Ok(Appended::NotStreaming);
        };
        let expected = stream.last_seq + 1;
        if d.seq < expected {
            let same = usize::try_from(d.seq - 1)
                .ok()
                .and_then(|i| stream.deltas.get(i))
                .is_some_and(|t| t == d.text);
            return Ok(if same {
                Appended::Repeated(st.message(row))
            } else {
                Appended::OutOfSequence { expected }
            });
        }
        if d.seq > expected {
            return Ok(Appended::OutOfSequence { expected });
        }
        let length = stream.length + chars(d.text);
        if length > MAX_CONTENT_CHARS {
            return Ok(Appended::TooLong);
        }
        check(
            (1..=4000).contains(&chars(d.text)),
            "message_deltas_text_check",
        )?;
        let at = st.tick();
        if let Some(stream) = st.streams.get_mut(&d.message) {
            stream.deltas.push(d.text.to_owned());
            stream.last_seq = d.seq;
            stream.length = length;
            stream.touched_at = at;
        }
        Ok(st
            .messages
            .get(&d.message)
            .map_or(Appended::NotFound, |row| Appended::Applied(st.message(row))))
    }

    fn complete_message(
        &self,
        id: MessageId,
        sender: Option<UserId>,
        content: Option<&str>,
    ) -> StoreResult<Completion> {
        let mut st = self.lock();
        let Some(row) = st.messages.get(&id) else {
            return Ok(Completion::NotFound);
        };
        let open = st.streams.get(&id).filter(|s| s.completed_pos.is_none());
        let from = open.map_or(row.sender_id, |s| Some(s.sender_id));
        if sender.is_some_and(|who| from != Some(who)) {
            return Ok(Completion::NotSender);
        }
        if open.is_none() {
            return Ok(Completion::Unchanged(st.message(row)));
        }
        Ok(st
            .end_stream(id, MessageStatus::Complete, content)
            .map_or(Completion::NotFound, Completion::Completed))
    }

    fn expire_idle_streams(
        &self,
        idle_for: std::time::Duration,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let mut st = self.lock();
        let before = st.now() - Duration::seconds_f64(idle_for.as_secs_f64());
        let mut idle: Vec<(Timestamp, MessageId)> = st
            .streams
            .iter()
            .filter(|(id, s)| {
                s.completed_pos.is_none() && s.touched_at < before && st.messages.contains_key(id)
            })
            .map(|(id, s)| (s.touched_at, *id))
            .collect();
        idle.sort();
        Ok(idle
            .into_iter()
            .take(take(limit))
            .filter_map(|(_, id)| st.end_stream(id, MessageStatus::Incomplete, None))
            .collect())
    }

    fn streamed(
        &self,
        session: ChatSessionId,
        ended_since: Option<i64>,
    ) -> StoreResult<Vec<Streamed>> {
        let st = self.lock();
        let since = ended_since.unwrap_or(i64::MAX);
        let mut out: Vec<(i64, Streamed)> = st
            .streams
            .iter()
            .filter(|(_, s)| s.session_id == session && s.completed_pos.is_none_or(|p| p >= since))
            .filter_map(|(id, s)| {
                let row = st.messages.get(id)?;
                Some((
                    row.seq,
                    Streamed {
                        message: st.message(row),
                        last_seq: s.last_seq,
                    },
                ))
            })
            .collect();
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, s)| s).collect())
    }

    fn message_and_last_delta(&self, id: MessageId) -> StoreResult<Option<(Message, Option<i64>)>> {
        let st = self.lock();
        Ok(st.messages.get(&id).map(|m| {
            let last = st.streams.get(&id).map(|s| s.last_seq);
            (st.message(m), last)
        }))
    }

    fn delta_text(&self, message: MessageId, seq: i64) -> StoreResult<Option<String>> {
        let st = self.lock();
        Ok(st
            .streams
            .get(&message)
            .filter(|s| s.completed_pos.is_none())
            .and_then(|s| s.deltas.get(usize::try_from(seq - 1).ok()?))
            .cloned())
    }

    /// `ChatStore::search_messages`: the module's approximation of
    /// PostgreSQL's text search (see the crate's README).
    fn search_messages(
        &self,
        search: &MessageSearch,
        page: &mut dyn FnMut(Vec<Match>) -> Vec<Match>,
    ) -> StoreResult<Vec<Found>> {
        let st = self.lock();
        let query = search::Query::parse(&search.text);
        let mut found: Vec<Match> = Vec::new();
        for m in st.messages.values() {
            let Some(owner) = st.owner_of(m.session_id) else {
                continue;
            };
            let visible = match search.scope {
                SearchScope::All => true,
                SearchScope::Owner(o) => o == owner,
                SearchScope::Session(s, o) => s == m.session_id && o.is_none_or(|o| o == owner),
            };
            let Some(content) = m.content.as_deref().filter(|_| visible) else {
                continue;
            };
            let Some(rank) = query.rank(content) else {
                continue;
            };
            let key = TimeKey {
                created_at: m.created_at,
                id: m.id,
            };
            if search.before.is_some_and(|b| key >= b) || search.since.is_some_and(|s| key < s) {
                continue;
            }
            found.push(Match {
                session_id: m.session_id,
                key,
                rank: if search.ranked { rank } else { 0.0 },
            });
        }
        found.sort_by_key(|m| std::cmp::Reverse(m.key));
        found.truncate(take(search.limit));
        Ok(page(found)
            .into_iter()
            .filter_map(|at| {
                let m = st.messages.get(&at.key.id)?;
                let title = st.sessions.get(&m.session_id)?.title.clone();
                Some(Found {
                    at,
                    hit: SearchHit {
                        message: st.message(m),
                        session_title: title,
                        snippet: query.snippet(m.content.as_deref().unwrap_or_default()),
                    },
                })
            })
            .collect())
    }
}

/// Message search in memory: a simple, faithful approximation of
/// PostgreSQL's. Words are maximal runs of letters and digits, compared
/// case-insensitively and exactly (no stemming: `bikes` does not find `bike`);
/// a short list of English stop words is ignored. The syntax is
/// `websearch_to_tsquery`'s: words (all must occur), `"phrases"` (consecutive
/// words), `or` between alternatives, `-word` for absence. The rank is 0.1 per
/// occurrence of a wanted word (as `ts_rank_cd` for single words); the snippet
/// is the whole text with each occurrence of a wanted word between `[[` and
/// `]]` (brackets of the text are not separated as PostgreSQL's are).
mod search {

    const STOP_WORDS: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with", "i", "you", "we", "me", "my", "your",
        "our", "can", "do", "so", "have", "what", "how", "when", "all", "any", "from", "just",
        "would", "about", "more",
    ];

    fn words(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, ch) in text.char_indices() {
            match (ch.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((s, text.len()));
        }
        out
    }

    fn lexemes(text: &str) -> Vec<String> {
        words(text)
            .into_iter()
            .map(|(a, b)| text[a..b].to_lowercase())
            .filter(|w| !STOP_WORDS.contains(&w.as_str()))
            .collect()
    }

    /// One alternative: every `want` phrase occurs, no `not` word does.
    #[derive(Default)]
    struct Clause {
        want: Vec<Vec<String>>,
        not: Vec<String>,
    }

    #[derive(Default)]
    pub(super) struct Query {
        clauses: Vec<Clause>,
    }

    impl Query {
        pub(super) fn parse(text: &str) -> Self {
            let mut clauses = vec![Clause::default()];
            let mut rest = text;
            while let Some(ch) = rest.chars().next() {
                if ch == '"' {
                    let body = &rest[1..];
                    let end = body.find('"').unwrap_or(body.len());
                    let phrase = lexemes(&body[..end]);
                    if let Some(c) = clauses.last_mut().filter(|_| !phrase.is_empty()) {
                        c.want.push(phrase);
                    }
                    rest = body.get(end + 1..).unwrap_or("");
                } else if ch.is_whitespace() {
                    rest = &rest[ch.len_utf8()..];
                } else {
                    let end = rest
                        .find(|c: char| c.is_whitespace() || c == '"')
                        .unwrap_or(rest.len());
                    let token = &rest[..end];
                    rest = &rest[end..];
                    if token.eq_ignore_ascii_case("or") {
                        clauses.push(Clause::default());
                    } else if let Some(negated) = token.strip_prefix('-') {
                        if let Some(c) = clauses.last_mut() {
                            c.not.extend(lexemes(negated));
                        }
                    } else if let Some(c) = clauses.last_mut() {
                        c.want.extend(lexemes(token).into_iter().map(|w| vec![w]));
                    }
                }
            }
            clauses.retain(|c| !c.want.is_empty());
            Self { clauses }
        }

        fn wanted(&self) -> impl Iterator<Item = &String> {
            self.clauses.iter().flat_map(|c| c.want.iter().flatten())
        }

        /// The rank of `text` if it matches.
        pub(super) fn rank(&self, text: &str) -> Option<f32> {
            let doc = lexemes(text);
            let has_phrase = |p: &Vec<String>| doc.windows(p.len()).any(|w| w == p.as_slice());
            let matches = self
                .clauses
                .iter()
                .any(|c| c.want.iter().all(has_phrase) && !c.not.iter().any(|n| doc.contains(n)));
            if !matches {
                return None;
            }
            let hits = doc
                .iter()
                .filter(|w| self.wanted().any(|q| q == *w))
                .count();
            Some(0.1 * hits as f32)
        }

        pub(super) fn snippet(&self, text: &str) -> String {
            let mut out = String::with_capacity(text.len() + 8);
            let mut at = 0;
            for (a, b) in words(text) {
                let word = text[a..b].to_lowercase();
                if self.wanted().any(|q| *q == word) {
                    out.push_str(&text[at..a]);
                    out.push_str("[[");
                    out.push_str(&text[a..b]);
                    out.push_str("]]");
                    at = b;
                }
            }
            out.push_str(&text[at..]);
            out
        }
    }
}

// ---------------------------------------------------------------- media

/// The memory store's claims: no upload of the hash can start a row while
/// the check holds the one lock, and the claim forgets the hash once released.
struct MemoryClaim {
    state: Arc<Mutex<State>>,
    sha256: String,
}

impl ObjectClaim for MemoryClaim {
    fn release(self: Box<Self>) -> StoreResult<()> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .gone
            .remove(&self.sha256);
        Ok(())
    }
}

impl MediaStore for MemoryStore {
    fn media(&self, id: MediaId) -> StoreResult<Option<Media>> {
        Ok(self.lock().media.get(&id).cloned())
    }

    /// `MediaStore::insert_media`: inserts the row (the store's one lock
    /// stands for the PostgreSQL store's lock of the hash);
    /// `media_owner_id_fkey` when the owner is gone.
    fn insert_media(&self, m: &NewMedia) -> StoreResult<Media> {
        let at = self.lock().tick();
        self.seed_media(Media {
            id: m.id,
            owner_id: Some(m.owner_id),
            mime_type: m.mime_type.clone(),
            size_bytes: m.size_bytes,
            file_name: m.file_name.clone(),
            sha256: m.sha256.clone(),
            url: String::new(),
            created_at: at,
        })
    }

    fn delete_media(&self, id: MediaId) -> StoreResult<bool> {
        let mut st = self.lock();
        if st.messages.values().any(|m| m.media_id == Some(id)) {
            return Err(StoreError::MissingParent(Entity::Media));
        }
        Ok(st.delete_uncarried(&[id]) > 0)
    }

    fn media_carried(&self, id: MediaId, session_owner: Option<UserId>) -> StoreResult<bool> {
        let st = self.lock();
        Ok(st.messages.values().any(|m| {
            m.media_id == Some(id)
                && session_owner.is_none_or(|o| st.owner_of(m.session_id) == Some(o))
        }))
    }

    fn delete_orphan_media(&self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        let mut st = self.lock();
        let mut old: Vec<(Timestamp, MediaId)> = st
            .media
            .values()
            .filter(|m| m.created_at < before)
            .map(|m| (m.created_at, m.id))
            .collect();
        old.sort();
        let ids: Vec<MediaId> = old.into_iter().map(|(_, id)| id).collect();
        let mut n = 0;
        for id in ids {
            if n >= limit {
                break;
            }
            n += st.delete_uncarried(&[id]) as i64;
        }
        Ok(n as u64)
    }

    fn gone_objects(&self, limit: i64) -> StoreResult<Vec<String>> {
        let st = self.lock();
        let mut list: Vec<(Timestamp, String)> =
            st.gone.iter().map(|(s, at)| (*at, s.clone())).collect();
        list.sort();
        Ok(list.into_iter().take(take(limit)).map(|(_, s)| s).collect())
    }

    fn claim_unreferenced(&self, sha256: &str) -> StoreResult<Option<Box<dyn ObjectClaim>>> {
        let mut st = self.lock();
        if st.media.values().any(|m| m.sha256 == sha256) {
            st.gone.remove(sha256);
            return Ok(None);
        }
        Ok(Some(Box::new(MemoryClaim {
            state: self.state.clone(),
            sha256: sha256.to_owned(),
        })))
    }
}

// ---------------------------------------------------------------- market

impl MarketStore for MemoryStore {
    fn create_vendor(
        &self,
        id: VendorId,
        session: ChatSessionId,
        fields: &VendorFields,
    ) -> StoreResult<Vendor> {
        let mut st = self.lock();
        let at = st.tick();
        if !st.sessions.contains_key(&session) {
            return Err(StoreError::NotFound);
        }
        let vendor = Vendor {
            id,
            session_id: session,
            name: fields.name.clone(),
            email: fields.email.clone(),
            phone: fields.phone.clone(),
            website: fields.website.clone(),
            address: fields.address.clone(),
            notes: fields.notes.clone(),
            created_at: at,
            updated_at: at,
        };
        check_vendor(&vendor)?;
        if st.vendors.contains_key(&id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::Vendor)));
        }
        if st.vendor_of(session).is_some() {
            return Err(StoreError::Conflict(Conflict::VendorExists));
        }
        st.touch(session, at);
        st.vendors.insert(id, vendor.clone());
        st.hook(domain::webhooks::EventType::VendorChanged, session);
        Ok(vendor)
    }

    fn vendor_of_session(&self, session: ChatSessionId) -> StoreResult<Option<Vendor>> {
        Ok(self.lock().vendor_of(session).cloned())
    }

    fn vendor(&self, id: VendorId) -> StoreResult<Option<(Vendor, UserId)>> {
        let st = self.lock();
        Ok(st
            .vendors
            .get(&id)
            .and_then(|v| Some((v.clone(), st.owner_of(v.session_id)?))))
    }

    fn update_vendor(&self, id: VendorId, changes: &VendorChanges) -> StoreResult<Option<Vendor>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(current) = st.vendors.get(&id) else {
            return Ok(None);
        };
        let mut v = current.clone();
        let c = changes;
        if let Some(name) = &c.name {
            v.name = name.clone();
        }
        for (field, change) in [
            (&mut v.email, &c.email),
            (&mut v.phone, &c.phone),
            (&mut v.website, &c.website),
            (&mut v.address, &c.address),
            (&mut v.notes, &c.notes),
        ] {
            if let Some(value) = change {
                field.clone_from(value);
            }
        }
        v.updated_at = at;
        check_vendor(&v)?;
        st.touch(v.session_id, at);
        st.vendors.insert(id, v.clone());
        st.hook(domain::webhooks::EventType::VendorChanged, v.session_id);
        Ok(Some(v))
    }

    fn delete_vendor(&self, id: VendorId) -> StoreResult<bool> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(v) = st.vendors.remove(&id) else {
            return Ok(false);
        };
        st.touch(v.session_id, at);
        st.hook(domain::webhooks::EventType::VendorChanged, v.session_id);
        Ok(true)
    }

    fn add_seller(
        &self,
        id: SellerId,
        session: ChatSessionId,
        fields: &SellerFields,
        cap: i32,
    ) -> StoreResult<SellerAdded> {
        let mut st = self.lock();
        let at = st.tick();
        // The cap is counted first, as the conditional UPDATE does.
        match st.sessions.get(&session) {
            None => return Ok(SellerAdded::NoSession),
            Some(s) if s.seller_count >= cap => return Ok(SellerAdded::CapReached),
            Some(_) => {}
        }
        let seller = Seller {
            id,
            session_id: session,
            name: fields.name.clone(),
            email: fields.email.clone(),
            phone: fields.phone.clone(),
            product: fields.product.clone(),
            created_at: at,
            updated_at: at,
        };
        check_seller(&seller)?;
        if st.sellers.contains_key(&id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::Seller)));
        }
        if st.offer_taken(&seller) {
            return Err(StoreError::Conflict(Conflict::DuplicateOffer));
        }
        if let Some(s) = st.sessions.get_mut(&session) {
            s.seller_count += 1;
            s.updated_at = at;
        }
        st.sellers.insert(id, seller.clone());
        st.hook(domain::webhooks::EventType::SellerChanged, session);
        Ok(SellerAdded::Added(Box::new(seller)))
    }

    fn sellers(&self, session: ChatSessionId, sort: SellerSort) -> StoreResult<Vec<Seller>> {
        let st = self.lock();
        let mut list: Vec<Seller> = st
            .sellers
            .values()
            .filter(|s| s.session_id == session)
            .cloned()
            .collect();
        match sort {
            SellerSort::CreatedAt => list.sort_by_key(|s| (s.created_at, s.id)),
            SellerSort::PriceAsc => list.sort_by(|a, b| {
                (&a.product.currency, a.product.price_minor, a.id).cmp(&(
                    &b.product.currency,
                    b.product.price_minor,
                    b.id,
                ))
            }),
            SellerSort::PriceDesc => list.sort_by(|a, b| {
                (&a.product.currency, b.product.price_minor, a.id).cmp(&(
                    &b.product.currency,
                    a.product.price_minor,
                    b.id,
                ))
            }),
            // `lower(name)` under the C collation: by code point.
            SellerSort::Name => list.sort_by_cached_key(|s| (s.name.to_lowercase(), s.id)),
        }
        Ok(list)
    }

    fn seller(&self, id: SellerId) -> StoreResult<Option<(Seller, UserId)>> {
        let st = self.lock();
        Ok(st
            .sellers
            .get(&id)
            .and_then(|s| Some((s.clone(), st.owner_of(s.session_id)?))))
    }

    fn update_seller(&self, id: SellerId, changes: &SellerChanges) -> StoreResult<Option<Seller>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(current) = st.sellers.get(&id) else {
            return Ok(None);
        };
        let mut s = current.clone();
        let c = changes;
        if let Some(v) = &c.name {
            s.name = v.clone();
        }
        if let Some(v) = &c.product_name {
            s.product.name = v.clone();
        }
        if let Some(v) = c.price_minor {
            s.product.price_minor = v;
        }
        if let Some(v) = &c.currency {
            s.product.currency = v.clone();
        }
        if let Some(v) = c.quantity {
            s.product.quantity = v;
        }
        for (field, change) in [
            (&mut s.email, &c.email),
            (&mut s.phone, &c.phone),
            (&mut s.product.description, &c.description),
            (&mut s.product.unit, &c.unit),
        ] {
            if let Some(value) = change {
                field.clone_from(value);
            }
        }
        s.updated_at = at;
        check_seller(&s)?;
        if st.offer_taken(&s) {
            return Err(StoreError::Conflict(Conflict::DuplicateOffer));
        }
        st.touch(s.session_id, at);
        st.sellers.insert(id, s.clone());
        st.hook(domain::webhooks::EventType::SellerChanged, s.session_id);
        Ok(Some(s))
    }

    fn delete_seller(&self, id: SellerId) -> StoreResult<bool> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(s) = st.sellers.remove(&id) else {
            return Ok(false);
        };
        if let Some(session) = st.sessions.get_mut(&s.session_id) {
            session.seller_count -= 1;
            session.updated_at = at;
        }
        st.hook(domain::webhooks::EventType::SellerDeleted, s.session_id);
        Ok(true)
    }

    fn replace_exchange_rates(&self, days: &[ExchangeRates]) -> StoreResult<()> {
        let mut st = self.lock();
        for day in days {
            check_rates(day)?;
        }
        for day in days {
            // PostgreSQL's numeric keeps trailing zeros; the store reads rates normalised.
            let mut day = day.clone();
            day.rates.values_mut().for_each(|r| *r = r.normalize());
            st.rates.insert(day.date, day);
        }
        Ok(())
    }

    fn exchange_rates_on(&self, date: time::Date) -> StoreResult<Option<ExchangeRates>> {
        Ok(self.lock().rates_on(date))
    }

    fn session_offers(
        &self,
        session: ChatSessionId,
        date: time::Date,
    ) -> StoreResult<Option<SessionOffers>> {
        let st = self.lock();
        let Some(owner) = st.owner_of(session) else {
            return Ok(None);
        };
        let mut sellers: Vec<Seller> = st
            .sellers
            .values()
            .filter(|s| s.session_id == session)
            .cloned()
            .collect();
        sellers.sort_by_key(|s| (s.created_at, s.id));
        Ok(Some(SessionOffers {
            owner,
            sellers,
            rates: st.rates_on(date),
        }))
    }
}

impl State {
    /// The latest day of rates on or before `date`.
    fn rates_on(&self, date: time::Date) -> Option<ExchangeRates> {
        self.rates
            .range(..=date)
            .next_back()
            .map(|(_, r)| r.clone())
    }
}

/// The CHECKs of `exchange_rate_dates` and `exchange_rates`.
fn check_rates(day: &ExchangeRates) -> StoreResult<()> {
    let code = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase());
    check(code(&day.base), "exchange_rate_dates_base_check")?;
    for (currency, rate) in &day.rates {
        check(code(currency), "exchange_rates_currency_check")?;
        check(
            rate.is_sign_positive() && !rate.is_zero(),
            "exchange_rates_rate_check",
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------- health

impl HealthStore for MemoryStore {
    /// Always ready: there is no database to lose.
    fn ready(&self) -> StoreResult<bool> {
        Ok(true)
    }
}

// ---------------------------------------------------------------- webhooks

use domain::webhooks::Webhook;

/// `webhooks`, with the columns the admin API never shows.
struct WebhookRow {
    webhook: Webhook,
    secret: domain::webhooks::WebhookSecret,
    previous_secret: Option<(domain::webhooks::WebhookSecret, Timestamp)>,
}

/// The outbox: `webhook_deliveries`, in the order they were written.
#[derive(Default)]
struct Outbox {
    webhooks: BTreeMap<WebhookId, WebhookRow>,
    deliveries: Vec<domain::webhooks::Delivery>,
    /// The last `position` handed out.
    position: i64,
}

/// The CHECKs of `webhooks`.
fn check_webhook(url: &str, events: &[String], description: Option<&str>) -> StoreResult<()> {
    check(
        (1..=domain::webhooks::URL_MAX).contains(&chars(url)),
        "webhooks_url_check",
    )?;
    check(!events.is_empty(), "webhooks_events_check")?;
    check_opt(
        description,
        |d| (1..=domain::webhooks::DESCRIPTION_MAX).contains(&chars(d)),
        "webhooks_description_check",
    )
}

impl State {
    /// What a write's transaction adds to the outbox: a delivery of `event`
    /// to every enabled endpoint that wants it (the store's `enqueue`).
    fn hook(&mut self, event: domain::webhooks::EventType, session: ChatSessionId) {
        let name = event.name();
        let wanted: Vec<WebhookId> = self
            .outbox
            .webhooks
            .values()
            .filter(|w| w.webhook.enabled)
            .filter(|w| {
                w.webhook
                    .events
                    .iter()
                    .any(|e| e == name || e == domain::webhooks::ALL_EVENTS)
            })
            .map(|w| w.webhook.id)
            .collect();
        if wanted.is_empty() {
            return;
        }
        let at = self.tick();
        for webhook in wanted {
            self.deliver(webhook, DeliveryId::new(), name, Some(session), at);
        }
    }

    fn deliver(
        &mut self,
        webhook: WebhookId,
        id: DeliveryId,
        event_type: &str,
        session: Option<ChatSessionId>,
        at: Timestamp,
    ) -> domain::webhooks::Delivery {
        self.outbox.position += 1;
        let d = domain::webhooks::Delivery {
            id,
            webhook_id: webhook,
            event_type: event_type.to_owned(),
            session_id: session,
            status: domain::webhooks::DeliveryStatus::Pending,
            attempts: 0,
            last_status_code: None,
            last_error: None,
            next_attempt_at: Some(at),
            created_at: at,
            delivered_at: None,
            position: self.outbox.position,
        };
        self.outbox.deliveries.push(d.clone());
        d
    }
}

impl domain::webhooks::WebhookStore for MemoryStore {
    fn create_webhook(&self, w: &domain::webhooks::NewWebhook) -> StoreResult<Webhook> {
        let mut st = self.lock();
        let at = st.tick();
        check_webhook(&w.url, &w.events, w.description.as_deref())?;
        if st.outbox.webhooks.contains_key(&w.id) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::Webhook)));
        }
        let webhook = Webhook {
            id: w.id,
            url: w.url.clone(),
            events: w.events.clone(),
            description: w.description.clone(),
            enabled: true,
            created_at: at,
            updated_at: at,
        };
        st.outbox.webhooks.insert(
            w.id,
            WebhookRow {
                webhook: webhook.clone(),
                secret: w.secret.clone(),
                previous_secret: None,
            },
        );
        Ok(webhook)
    }

    fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let st = self.lock();
        let mut all: Vec<Webhook> = st
            .outbox
            .webhooks
            .values()
            .map(|w| w.webhook.clone())
            .collect();
        all.sort_by_key(|w| (w.created_at, w.id));
        Ok(all)
    }

    fn webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>> {
        Ok(self
            .lock()
            .outbox
            .webhooks
            .get(&id)
            .map(|w| w.webhook.clone()))
    }

    fn update_webhook(
        &self,
        id: WebhookId,
        changes: &domain::webhooks::WebhookChanges,
    ) -> StoreResult<Option<Webhook>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(row) = st.outbox.webhooks.get_mut(&id) else {
            return Ok(None);
        };
        let mut w = row.webhook.clone();
        if let Some(url) = &changes.url {
            w.url = url.clone();
        }
        if let Some(events) = &changes.events {
            w.events = events.clone();
        }
        if let Some(description) = &changes.description {
            w.description = description.clone();
        }
        if let Some(enabled) = changes.enabled {
            w.enabled = enabled;
        }
        check_webhook(&w.url, &w.events, w.description.as_deref())?;
        w.updated_at = at;
        row.webhook = w.clone();
        Ok(Some(w))
    }

    fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool> {
        let mut st = self.lock();
        if st.outbox.webhooks.remove(&id).is_none() {
            return Ok(false);
        }
        st.outbox.deliveries.retain(|d| d.webhook_id != id);
        Ok(true)
    }

    fn rotate_webhook_secret(
        &self,
        id: WebhookId,
        secret: &domain::webhooks::WebhookSecret,
        previous_until: Timestamp,
    ) -> StoreResult<Option<Webhook>> {
        let mut st = self.lock();
        let at = st.tick();
        let Some(row) = st.outbox.webhooks.get_mut(&id) else {
            return Ok(None);
        };
        let previous = std::mem::replace(&mut row.secret, secret.clone());
        row.previous_secret = Some((previous, previous_until));
        row.webhook.updated_at = at;
        Ok(Some(row.webhook.clone()))
    }

    fn webhook_deliveries(
        &self,
        id: WebhookId,
        status: Option<domain::webhooks::DeliveryStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Option<Vec<domain::webhooks::Delivery>>> {
        let st = self.lock();
        if !st.outbox.webhooks.contains_key(&id) {
            return Ok(None);
        }
        Ok(Some(
            st.outbox
                .deliveries
                .iter()
                .rev()
                .filter(|d| d.webhook_id == id)
                .filter(|d| status.is_none_or(|s| d.status == s))
                .filter(|d| before.is_none_or(|b| d.position < b))
                .take(take(limit))
                .cloned()
                .collect(),
        ))
    }

    fn enqueue_test_delivery(
        &self,
        id: WebhookId,
        delivery: DeliveryId,
        _data: &str,
    ) -> StoreResult<Option<domain::webhooks::Delivery>> {
        let mut st = self.lock();
        let at = st.tick();
        if !st.outbox.webhooks.contains_key(&id) {
            return Ok(None);
        }
        if st.outbox.deliveries.iter().any(|d| d.id == delivery) {
            return Err(StoreError::Conflict(Conflict::Id(Entity::WebhookDelivery)));
        }
        let name = domain::webhooks::EventType::WebhookTest.name();
        Ok(Some(st.deliver(id, delivery, name, None, at)))
    }
}
