//! Chat sessions, messages and media. (Placeholder until issue 4 lands.)

use crate::PgStore;
use domain::ports::*;
use domain::*;

fn todo<T>() -> StoreResult<T> {
    Err(StoreError::Other("chat store not built yet".into()))
}

impl ChatStore for PgStore {
    fn create_chat_session(
        &self,
        _: ChatSessionId,
        _: UserId,
        _: &str,
    ) -> StoreResult<ChatSession> {
        todo()
    }
    fn chat_session(&self, _: ChatSessionId) -> StoreResult<Option<ChatSession>> {
        todo()
    }
    fn chat_session_owner(&self, _: ChatSessionId) -> StoreResult<Option<UserId>> {
        todo()
    }
    fn list_chat_sessions(
        &self,
        _: UserId,
        _: Option<&str>,
        _: Option<(domain::timefmt::Timestamp, ChatSessionId)>,
        _: i64,
    ) -> StoreResult<Vec<ChatSession>> {
        todo()
    }
    fn rename_chat_session(&self, _: ChatSessionId, _: &str) -> StoreResult<Option<ChatSession>> {
        todo()
    }
    fn delete_chat_session(&self, _: ChatSessionId) -> StoreResult<bool> {
        todo()
    }
    fn post_message(&self, _: &NewMessage) -> StoreResult<Option<Posted>> {
        todo()
    }
    fn message_page(
        &self,
        _: ChatSessionId,
        _: Option<UserId>,
        _: Option<i64>,
        _: SortOrder,
        _: i64,
    ) -> StoreResult<Option<Vec<Message>>> {
        todo()
    }
    fn message(&self, _: MessageId) -> StoreResult<Option<(Message, UserId)>> {
        todo()
    }
    fn delete_message(&self, _: MessageId) -> StoreResult<bool> {
        todo()
    }
    fn media(&self, _: MediaId) -> StoreResult<Option<Media>> {
        todo()
    }
}
