//! Chat sessions and messages: [`ChatService`]. Every method takes the acting
//! [`Actor`]; validation and the contract's role rules live here, SQL in `store`.
//!
//! Visibility is [`domain::policy`]'s: the owner, agents and admins read a
//! session and its messages; the owner and admins change it. A caller who may
//! not read a session gets `NotFound` on everything in it.

use domain::chat_inputs::{
    DEFAULT_SESSION_TITLE, MessageListQuery, NewSessionInput, PostMessageInput, RenameSessionInput,
    SessionListQuery,
};
use domain::page::{decode_cursor, encode_cursor, page_from};
use domain::policy::{can_change_chat, can_read_chat};
use domain::ports::{ChatStore, NewMessage, Posted, SortOrder};
use domain::timefmt::Timestamp;
use domain::validation::validate;
use domain::*;
use std::sync::Arc;

const SESSIONS_CURSOR: &str = "sessions";
const MESSAGES_CURSOR: &str = "messages";
const SESSION: &str = "Chat session";
const MESSAGE: &str = "Message";
const MEDIA: &str = "Media";
const CLIENT_MESSAGE_KEY: &str = "messages_session_client_message_id_key";
const MEDIA_FKEY: &str = "messages_media_id_fkey";

pub struct ChatService {
    store: Arc<dyn ChatStore>,
}

impl ChatService {
    pub fn new(store: Arc<dyn ChatStore>) -> Self {
        Self { store }
    }

    // ------------------------------------------------------------ sessions

    /// `POST /sessions`: a session owned by the actor; the title defaults to "New chat".
    pub fn create_session(
        &self,
        actor: &Actor,
        mut input: NewSessionInput,
    ) -> Result<ChatSession, DomainError> {
        input.normalize();
        validate(&input)?;
        let title = input
            .title
            .unwrap_or_else(|| DEFAULT_SESSION_TITLE.to_owned());
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
        validate(&query)?;
        let page = PageRequest::new(query.limit, query.cursor)?;
        let owner = query.user_id.unwrap_or(actor.user_id);
        if owner != actor.user_id && !actor.reads_any_chat() {
            return Err(DomainError::Forbidden);
        }
        let scope = owner.to_string();
        let after = match &page.cursor {
            Some(c) => Some(session_key(&decode_cursor(c, SESSIONS_CURSOR, &scope)?)?),
            None => None,
        };
        let q = query
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        let rows = self
            .store
            .list_chat_sessions(owner, q.as_deref(), after, page.limit + 1)?;
        Ok(page_from(rows, page.limit, |s| {
            encode_cursor(
                SESSIONS_CURSOR,
                &scope,
                &format!("{}:{}", unix_micros(&s.updated_at), s.id),
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
        mut input: RenameSessionInput,
    ) -> Result<ChatSession, DomainError> {
        input.normalize();
        validate(&input)?;
        let Some(title) = input.title else {
            return Err(DomainError::invalid("title", "is required"));
        };
        self.require_change(actor, id)?;
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
        validate(&input)?;
        let kind = input.kind.unwrap_or(MessageKind::Text);
        let role = input.role.unwrap_or(MessageRole::User);
        match kind {
            MessageKind::Text => {
                if input.content.is_none() {
                    return Err(DomainError::invalid("content", "is required"));
                }
                if input.media_id.is_some() {
                    return Err(DomainError::invalid(
                        "mediaId",
                        "must not be set on a text message",
                    ));
                }
            }
            MessageKind::Media => {
                if input.media_id.is_none() {
                    return Err(DomainError::invalid("mediaId", "is required"));
                }
            }
        }

        let owner = self.readable_owner(actor, session)?;
        let allowed = match role {
            MessageRole::User => actor.user_id == owner,
            MessageRole::Assistant | MessageRole::System => actor.reads_any_chat(),
        };
        if !allowed {
            return Err(DomainError::Forbidden);
        }
        if let Some(media_id) = input.media_id {
            match self.store.media(media_id)? {
                Some(m) if m.owner_id == actor.user_id => {}
                _ => return Err(DomainError::NotFound(MEDIA)),
            }
        }

        let message = NewMessage {
            id: MessageId::new(),
            session_id: session,
            sender_id: actor.user_id,
            role,
            kind,
            content: input.content,
            media_id: input.media_id,
            client_message_id: input.client_message_id,
        };
        match self.store.post_message(&message) {
            Ok(Some(posted)) => Ok(posted),
            Ok(None) => Err(DomainError::NotFound(SESSION)),
            Err(e) if e.is_unique(CLIENT_MESSAGE_KEY) => Err(DomainError::Conflict(
                "A message with this clientMessageId is being posted",
            )),
            Err(StoreError::ForeignKeyViolation { constraint }) if constraint == MEDIA_FKEY => {
                Err(DomainError::NotFound(MEDIA))
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
        validate(&query)?;
        let page = PageRequest::new(query.limit, query.cursor)?;
        let order = match query.order.as_deref() {
            None | Some("asc") => SortOrder::Asc,
            Some("desc") => SortOrder::Desc,
            Some(_) => return Err(DomainError::invalid("order", "must be asc or desc")),
        };
        let scope = format!(
            "{session}:{}",
            match order {
                SortOrder::Asc => "asc",
                SortOrder::Desc => "desc",
            }
        );
        let after = match &page.cursor {
            Some(c) => {
                let key = decode_cursor(c, MESSAGES_CURSOR, &scope)?;
                match key.parse::<i64>() {
                    Ok(seq) if seq > 0 => Some(seq),
                    _ => return Err(bad_cursor()),
                }
            }
            None => None,
        };
        let owner = if actor.reads_any_chat() {
            None
        } else {
            Some(actor.user_id)
        };
        let rows = self
            .store
            .message_page(session, owner, after, order, page.limit + 1)?
            .ok_or(DomainError::NotFound(SESSION))?;
        Ok(page_from(rows, page.limit, |m| {
            encode_cursor(MESSAGES_CURSOR, &scope, &m.seq.to_string())
        }))
    }

    /// `GET /messages/{id}`.
    pub fn message(&self, actor: &Actor, id: MessageId) -> Result<Message, DomainError> {
        match self.store.message(id)? {
            Some((m, owner)) if can_read_chat(actor, owner) => Ok(m),
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

    // ------------------------------------------------------------ helpers

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

fn bad_cursor() -> DomainError {
    DomainError::invalid("cursor", "is not a valid cursor for this list")
}

fn unix_micros(t: &Timestamp) -> i128 {
    t.unix_timestamp_nanos() / 1000
}

/// `"<updatedAt unix micros>:<id>"` back into the keyset key of session lists.
fn session_key(key: &str) -> Result<(Timestamp, ChatSessionId), DomainError> {
    let (micros, id) = key.split_once(':').ok_or_else(bad_cursor)?;
    let micros: i128 = micros.parse().map_err(|_| bad_cursor())?;
    let at = Timestamp::from_unix_timestamp_nanos(micros.saturating_mul(1000))
        .map_err(|_| bad_cursor())?;
    let id = id.parse::<ChatSessionId>().map_err(|_| bad_cursor())?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_round_trip() {
        let at = Timestamp::from_unix_timestamp_nanos(1_790_000_000_123_456_000).ok();
        let id = ChatSessionId::new();
        let key = at.map(|at| format!("{}:{}", unix_micros(&at), id));
        let back = key.and_then(|k| session_key(&k).ok());
        assert_eq!(back, at.map(|at| (at, id)));
        assert!(session_key("nope").is_err());
        assert!(session_key("12:not-a-uuid").is_err());
    }
}
