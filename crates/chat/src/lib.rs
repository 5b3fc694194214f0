#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod inputs;
mod search;

pub use search::{DEFAULT_RANK_WINDOW, MAX_RANK_WINDOW};

use domain::media::MediaUrls;
use domain::page::{
    ByteBudget, Cursors, DEFAULT_PAGE_MAX_BYTES, bad_cursor, page_from, page_within,
};
use domain::policy::{can_change_chat, can_read_chat};
use domain::ports::{
    Appended, ChatStore, Completion, NewDelta, NewMessage, Posted, SortOrder, Streamed,
};
use domain::timefmt::Timestamp;
use domain::*;
use inputs::{
    CompleteInput, DeltaInput, MessageListQuery, NewSessionInput, PostBody, PostMessageInput,
    RenameSessionInput, SessionListQuery,
};
use std::sync::Arc;
use std::time::Duration;

const SESSIONS_CURSOR: &str = "sessions";
const MESSAGES_CURSOR: &str = "messages";
const SESSION: &str = "Chat session";
const MESSAGE: &str = "Message";
const MEDIA: &str = "Media";

/// What a live stream resuming from a position gets ([`ChatService::replay`]).
#[derive(Debug, Clone)]
pub struct Replay {
    /// The session's event position when the replay was read.
    pub position: i64,
    /// The missed messages, oldest first; `None` when they cannot be
    /// replayed (too many, or a position the session never reached): the
    /// client must reload.
    pub missed: Option<Vec<Message>>,
    /// Its streamed messages, oldest first: each one streaming now (with
    /// its content so far and last delta: a `message.snapshot`) and, when
    /// resuming, each one that ended since the position resumed from (a
    /// `message.completed`).
    pub streams: Vec<Streamed>,
}

/// What completing a streamed message did ([`ChatService::complete_message`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Completed {
    /// It was streaming, and is now `complete`; `message.completed` went out.
    Now(Message),
    /// It was not streaming (completed already, ended `incomplete`, or never
    /// streamed): the message as it is; nothing changed or went out.
    Already(Message),
}

impl Completed {
    /// The message, either way.
    pub fn message(&self) -> &Message {
        match self {
            Self::Now(m) | Self::Already(m) => m,
        }
    }
}

/// The longest text of a delta, in characters.
pub const MAX_DELTA_CHARS: usize = 4000;

/// Streams that one call of [`ChatService::expire_idle_streams`] ends at most.
const IDLE_BATCH: i64 = 100;

/// Chat sessions, messages and message search.
pub struct ChatService {
    store: Arc<dyn ChatStore>,
    cursors: Cursors,
    media_urls: Option<MediaUrls>,
    page_max_bytes: usize,
    rank_window: i64,
}

impl ChatService {
    /// The service on `store`; `cursors` signs its page cursors.
    pub fn new(store: Arc<dyn ChatStore>, cursors: Cursors) -> Self {
        Self {
            store,
            cursors,
            media_urls: None,
            page_max_bytes: DEFAULT_PAGE_MAX_BYTES,
            rank_window: DEFAULT_RANK_WINDOW,
        }
    }

    /// How many of the newest matches `sort=relevance` ranks
    /// (`SEARCH_RANK_WINDOW`, default 500, clamped to 1..=10000).
    pub fn with_search_rank_window(mut self, window: i64) -> Self {
        self.rank_window = window.clamp(1, MAX_RANK_WINDOW);
        self
    }

    /// The byte cap of a page of messages or search hits (`PAGE_MAX_BYTES`,
    /// default 256 KiB; see [`ByteBudget`]).
    pub fn with_page_max_bytes(mut self, max: usize) -> Self {
        self.page_max_bytes = max;
        self
    }

    /// Signs a fresh `url` into the medium of every message handed back
    /// (without it, `url` is empty).
    pub fn with_media_urls(mut self, urls: MediaUrls) -> Self {
        self.media_urls = Some(urls);
        self
    }

    /// The message with a fresh signed `url` on its medium.
    pub fn signed(&self, mut message: Message) -> Message {
        self.sign(&mut message);
        message
    }

    /// Gives the message's medium, if any, a fresh signed `url`, in place (a
    /// page's messages are not moved for it).
    fn sign(&self, message: &mut Message) {
        if let (Some(urls), Some(media)) = (&self.media_urls, message.media.as_mut()) {
            urls.sign(media);
        }
    }

    // ------------------------------------------------------------ sessions

    /// `POST /sessions`: a session owned by the actor; the title defaults to "New chat".
    pub fn create_session(
        &self,
        actor: &Actor,
        input: NewSessionInput,
    ) -> Result<ChatSession, DomainError> {
        let title = input.parse()?;
        Ok(self
            .store
            .create_chat_session(ChatSessionId::new(), actor.user_id, &title)?)
    }

    /// `GET /sessions`: the actor's sessions (or, for agents and admins, another
    /// user's with `userId`), most recent activity first.
    pub fn list_sessions(
        &self,
        actor: &Actor,
        query: SessionListQuery,
    ) -> Result<Page<ChatSession>, DomainError> {
        let query = query.parse()?;
        let owner = query.user_id.unwrap_or(actor.user_id);
        if owner != actor.user_id && !actor.reads_any_chat() {
            return Err(DomainError::Forbidden);
        }
        let scope = owner.to_string();
        let after = match &query.page.cursor {
            Some(c) => Some(session_key(&self.cursors.decode(
                c,
                SESSIONS_CURSOR,
                &scope,
            )?)?),
            None => None,
        };
        let limit = query.page.limit;
        let rows = self
            .store
            .list_chat_sessions(owner, query.q.as_deref(), after, limit + 1)?;
        Ok(page_from(rows, limit, |s| {
            self.cursors.encode(
                SESSIONS_CURSOR,
                &scope,
                &session_key_bytes(&s.updated_at, s.id),
            )
        }))
    }

    /// `GET /sessions/{id}`.
    pub fn session(&self, actor: &Actor, id: ChatSessionId) -> Result<ChatSession, DomainError> {
        match self.store.chat_session(id)? {
            Some(s) if can_read_chat(actor, s.user_id) => Ok(s),
            _ => Err(DomainError::NotFound(SESSION)),
        }
    }

    /// `PATCH /sessions/{id}`: the owner and admins.
    pub fn rename_session(
        &self,
        actor: &Actor,
        id: ChatSessionId,
        input: RenameSessionInput,
    ) -> Result<ChatSession, DomainError> {
        self.require_change(actor, id)?;
        let title = input.parse()?;
        self.store
            .rename_chat_session(id, &title)?
            .ok_or(DomainError::NotFound(SESSION))
    }

    /// `DELETE /sessions/{id}`: the owner and admins; its messages, vendor and
    /// sellers go with it.
    pub fn delete_session(&self, actor: &Actor, id: ChatSessionId) -> Result<(), DomainError> {
        self.require_change(actor, id)?;
        if self.store.delete_chat_session(id)? {
            Ok(())
        } else {
            Err(DomainError::NotFound(SESSION))
        }
    }

    // ------------------------------------------------------------ messages

    /// `POST /sessions/{id}/messages`. `Posted::Existing` when the session already
    /// holds a message with the same `clientMessageId` (the first one wins).
    pub fn post_message(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        input: PostMessageInput,
    ) -> Result<Posted, DomainError> {
        let owner = self.readable_owner(actor, session)?;
        let post = input.parse()?;
        if post.stream {
            // Only agents and admins stream, and only their own roles.
            if !actor.reads_any_chat() {
                return Err(DomainError::Forbidden);
            }
            if post.role == MessageRole::User {
                return Err(DomainError::invalid(
                    "role",
                    "must be assistant or system to stream",
                ));
            }
        }
        let allowed = match post.role {
            MessageRole::User => actor.user_id == owner,
            MessageRole::Assistant | MessageRole::System => actor.reads_any_chat(),
        };
        if !allowed {
            return Err(DomainError::Forbidden);
        }
        let (kind, content, media_id) = match post.body {
            // A stream may start empty.
            PostBody::Text(content) if post.stream && content.is_empty() => {
                (MessageKind::Text, None, None)
            }
            PostBody::Text(content) => (MessageKind::Text, Some(content), None),
            PostBody::Media { media_id, caption } => {
                match self.store.media(media_id)? {
                    Some(m) if m.owner_id == Some(actor.user_id) => {}
                    _ => return Err(DomainError::NotFound(MEDIA)),
                }
                (MessageKind::Media, caption, Some(media_id))
            }
        };

        let message = NewMessage {
            id: MessageId::new(),
            session_id: session,
            sender_id: actor.user_id,
            role: post.role,
            kind,
            content,
            media_id,
            client_message_id: post.client_message_id,
            stream: post.stream,
        };
        match self.store.post_message(&message) {
            Ok(Some(Posted::Created(m))) => Ok(Posted::Created(self.signed(m))),
            Ok(Some(Posted::Existing(m))) => Ok(Posted::Existing(self.signed(m))),
            Ok(None) => Err(DomainError::NotFound(SESSION)),
            Err(StoreError::Conflict(Conflict::ClientMessageId)) => Err(DomainError::Conflict(
                "A message with this clientMessageId is being posted",
            )),
            Err(StoreError::MissingParent(Entity::Media)) => Err(DomainError::NotFound(MEDIA)),
            Err(StoreError::MissingParent(Entity::ChatSession)) => {
                Err(DomainError::NotFound(SESSION))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /sessions/{id}/messages`: one page by position, `asc` (default) or
    /// `desc`. The visibility check and the page are one store call.
    pub fn messages(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        query: MessageListQuery,
    ) -> Result<Page<Message>, DomainError> {
        // The page query below also checks visibility; a bad query on a session
        // the caller may not read is still a 404, at the cost of a lookup on
        // the error path only.
        let (page, order, after) = match self.message_page_request(session, query) {
            Ok(request) => request,
            Err(e) => {
                self.readable_owner(actor, session)?;
                return Err(e);
            }
        };
        let scope = message_scope(session, order);
        let owner = if actor.reads_any_chat() {
            None
        } else {
            Some(actor.user_id)
        };
        let mut budget = ByteBudget::new(self.page_max_bytes);
        let rows = self
            .store
            .message_page(session, owner, after, order, page.limit + 1, &mut budget)?
            .ok_or(DomainError::NotFound(SESSION))?;
        let mut page = page_within(rows, page.limit, &budget, |m| {
            self.cursors
                .encode(MESSAGES_CURSOR, &scope, &m.seq.to_be_bytes())
        });
        page.items.iter_mut().for_each(|m| self.sign(m));
        Ok(page)
    }

    /// `GET /messages/{id}`.
    pub fn message(&self, actor: &Actor, id: MessageId) -> Result<Message, DomainError> {
        match self.store.message(id)? {
            Some((m, owner)) if can_read_chat(actor, owner) => Ok(self.signed(m)),
            _ => Err(DomainError::NotFound(MESSAGE)),
        }
    }

    /// `DELETE /messages/{id}`: the sender, the session's owner and admins.
    pub fn delete_message(&self, actor: &Actor, id: MessageId) -> Result<(), DomainError> {
        let (message, owner) = match self.store.message(id)? {
            Some((m, owner)) if can_read_chat(actor, owner) => (m, owner),
            _ => return Err(DomainError::NotFound(MESSAGE)),
        };
        let allowed =
            message.sender_id == Some(actor.user_id) || actor.user_id == owner || actor.is_admin();
        if !allowed {
            return Err(DomainError::Forbidden);
        }
        if self.store.delete_message(id)? {
            Ok(())
        } else {
            Err(DomainError::NotFound(MESSAGE))
        }
    }

    // ------------------------------------------------------------ streamed replies

    /// `POST /messages/{id}/deltas`: the next piece of a streamed reply, by
    /// its sender (an agent or admin). The message with its content through
    /// this delta; the same `seq` with the same text again changes nothing
    /// and answers the message as it is. Any other `seq` than the next is
    /// `OutOfSequence` (a `409` naming the expected one); a message not
    /// streaming is `Conflict`; a content over 32,000 characters
    /// `LimitReached`. `NotFound` for whoever may not read the session,
    /// `Forbidden` for anyone else but the sender.
    pub fn append_delta(
        &self,
        actor: &Actor,
        id: MessageId,
        input: DeltaInput,
    ) -> Result<Message, DomainError> {
        let delta = match input.parse() {
            Ok(d) => d,
            // Whoever may not read the message learns nothing else of it.
            Err(e) => return Err(self.refusal_unless_readable(actor, id, e)?),
        };
        if !actor.reads_any_chat() {
            // Only agents and admins send streamed replies.
            return Err(self.refusal_unless_readable(actor, id, DomainError::Forbidden)?);
        }
        let appended = self.store.append_delta(&NewDelta {
            message: id,
            sender: actor.user_id,
            seq: delta.seq,
            text: &delta.text,
        })?;
        match appended {
            Appended::Applied(m) | Appended::Repeated(m) => Ok(self.signed(m)),
            Appended::OutOfSequence { expected } => Err(DomainError::OutOfSequence { expected }),
            Appended::TooLong => Err(DomainError::LimitReached(
                "A message holds at most 32000 characters".into(),
            )),
            Appended::NotStreaming => Err(DomainError::Conflict("The message is not streaming")),
            Appended::NotSender => Err(DomainError::Forbidden),
            Appended::NotFound => Err(DomainError::NotFound(MESSAGE)),
        }
    }

    /// `POST /messages/{id}/complete`: ends a streamed reply, by its sender:
    /// `complete`, with `content` if given (it replaces what the deltas
    /// built), and `message.completed` goes out. A message that is not
    /// streaming (completed already, ended `incomplete`, never streamed)
    /// is answered as it is, whatever `content` says, and nothing goes out.
    /// `NotFound` for whoever may not read the session, `Forbidden` for
    /// anyone else but the sender.
    pub fn complete_message(
        &self,
        actor: &Actor,
        id: MessageId,
        input: CompleteInput,
    ) -> Result<Completed, DomainError> {
        let content = match input.parse() {
            Ok(c) => c,
            Err(e) => return Err(self.refusal_unless_readable(actor, id, e)?),
        };
        if !actor.reads_any_chat() {
            return Err(self.refusal_unless_readable(actor, id, DomainError::Forbidden)?);
        }
        match self
            .store
            .complete_message(id, Some(actor.user_id), content.as_deref())?
        {
            Completion::Completed(m) => Ok(Completed::Now(self.signed(m))),
            Completion::Unchanged(m) => Ok(Completed::Already(self.signed(m))),
            Completion::NotSender => Err(DomainError::Forbidden),
            Completion::NotFound => Err(DomainError::NotFound(MESSAGE)),
        }
    }

    /// Ends as `incomplete`, with the content they have, the streamed
    /// replies that received nothing for `idle_for` (`STREAM_IDLE_TIMEOUT`),
    /// up to 100 a call, each `message.completed`. Safe on every instance at
    /// once: each stream is ended by one of them. No actor: the server's
    /// own job.
    pub fn expire_idle_streams(&self, idle_for: Duration) -> Result<Vec<Message>, DomainError> {
        Ok(self.store.expire_idle_streams(idle_for, IDLE_BATCH)?)
    }

    /// `error`, unless the actor may not read the message's session: then
    /// `NotFound`, as for a message that does not exist.
    fn refusal_unless_readable(
        &self,
        actor: &Actor,
        id: MessageId,
        error: DomainError,
    ) -> Result<DomainError, DomainError> {
        match self.store.message(id)? {
            Some((_, owner)) if can_read_chat(actor, owner) => Ok(error),
            _ => Ok(DomainError::NotFound(MESSAGE)),
        }
    }

    // ------------------------------------------------------------ live events

    /// The session's event position: the `seq` last handed to one of its
    /// messages (it never goes down). A live stream opens at it, so that a
    /// client that drops before its first event resumes from there.
    /// `NotFound` unless the actor may read the session.
    pub fn event_position(
        &self,
        actor: &Actor,
        session: ChatSessionId,
    ) -> Result<i64, DomainError> {
        match self.store.chat_session_position(session)? {
            Some((owner, position)) if can_read_chat(actor, owner) => Ok(position),
            _ => Err(DomainError::NotFound(SESSION)),
        }
    }

    /// What a live stream that resumes from position `after` missed: the
    /// messages after it, oldest first, unless there are more than `max` or
    /// the session never reached `after` (then the client must reload).
    /// `NotFound` unless the actor may read the session.
    pub fn replay(
        &self,
        actor: &Actor,
        session: ChatSessionId,
        after: i64,
        max: i64,
    ) -> Result<Replay, DomainError> {
        // The position first: a message committed after it is in the page
        // below too, and the stream moves past it.
        let position = self.event_position(actor, session)?;
        if after > position {
            return Ok(Replay {
                position,
                missed: None,
                streams: self.store.streamed(session, None)?,
            });
        }
        let owner = (!actor.reads_any_chat()).then_some(actor.user_id);
        let mut missed = self
            .store
            .message_page(
                session,
                owner,
                Some(after),
                SortOrder::Asc,
                max.saturating_add(1),
                &mut ByteBudget::unlimited(),
            )?
            .ok_or(DomainError::NotFound(SESSION))?;
        if missed.len() as i64 > max {
            return Ok(Replay {
                position,
                missed: None,
                streams: self.store.streamed(session, None)?,
            });
        }
        missed.iter_mut().for_each(|m| self.sign(m));
        Ok(Replay {
            position,
            missed: Some(missed),
            // After the page: a delta or an end committed since is in these,
            // or comes live after them.
            streams: self.store.streamed(session, Some(after))?,
        })
    }

    /// What a live stream opened without a position starts with: the
    /// session's position, and each of its messages streaming now (its
    /// content so far and last delta, for a `message.snapshot`).
    /// `NotFound` unless the actor may read the session.
    pub fn opening(&self, actor: &Actor, session: ChatSessionId) -> Result<Replay, DomainError> {
        let position = self.event_position(actor, session)?;
        Ok(Replay {
            position,
            missed: Some(Vec::new()),
            streams: self.store.streamed(session, None)?,
        })
    }

    // ------------------------------------------------------------ helpers

    /// A message list query, parsed, with its cursor's position.
    fn message_page_request(
        &self,
        session: ChatSessionId,
        query: MessageListQuery,
    ) -> Result<(PageRequest, SortOrder, Option<i64>), DomainError> {
        let (page, order) = query.parse()?;
        let after = match &page.cursor {
            Some(c) => {
                let key =
                    self.cursors
                        .decode(c, MESSAGES_CURSOR, &message_scope(session, order))?;
                let seq = <[u8; 8]>::try_from(key.as_slice())
                    .map(i64::from_be_bytes)
                    .map_err(|_| bad_cursor())?;
                Some(seq)
            }
            None => None,
        };
        Ok((page, order, after))
    }

    /// The session's owner, if the actor may read the session; else `NotFound`.
    fn readable_owner(&self, actor: &Actor, id: ChatSessionId) -> Result<UserId, DomainError> {
        match self.store.chat_session_owner(id)? {
            Some(owner) if can_read_chat(actor, owner) => Ok(owner),
            _ => Err(DomainError::NotFound(SESSION)),
        }
    }

    /// `NotFound` unless the actor may read the session, `Forbidden` unless they
    /// may also change it.
    fn require_change(&self, actor: &Actor, id: ChatSessionId) -> Result<(), DomainError> {
        let owner = self.readable_owner(actor, id)?;
        if can_change_chat(actor, owner) {
            Ok(())
        } else {
            Err(DomainError::Forbidden)
        }
    }
}

/// What a message cursor is good for: one session, one order.
fn message_scope(session: ChatSessionId, order: SortOrder) -> String {
    let order = match order {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    };
    format!("{session}:{order}")
}

/// The keyset key of a session list: `updatedAt` in microseconds and the id.
fn session_key_bytes(updated_at: &Timestamp, id: ChatSessionId) -> Vec<u8> {
    let micros = i64::try_from(updated_at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
    let mut key = micros.to_be_bytes().to_vec();
    key.extend_from_slice(id.0.as_bytes());
    key
}

/// [`session_key_bytes`] back into the keyset key of session lists.
fn session_key(key: &[u8]) -> Result<(Timestamp, ChatSessionId), DomainError> {
    if key.len() != 24 {
        return Err(bad_cursor());
    }
    let (micros, id) = key.split_at(8);
    let micros = <[u8; 8]>::try_from(micros)
        .map(i64::from_be_bytes)
        .map_err(|_| bad_cursor())?;
    let at = Timestamp::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|_| bad_cursor())?;
    let id = uuid::Uuid::from_slice(id).map_err(|_| bad_cursor())?;
    Ok((at, ChatSessionId(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_round_trip() {
        let at = Timestamp::from_unix_timestamp_nanos(1_790_000_000_123_456_000)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let id = ChatSessionId::new();
        assert_eq!(
            session_key(&session_key_bytes(&at, id)).ok(),
            Some((at, id))
        );
        assert!(session_key(b"nope").is_err());
    }
}
