//! `/sessions` and `/messages`: chat sessions and their messages.

use super::{Id, delete, get, patch, post};
use crate::bodies::{MessageData, SessionData};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::reply::{Envelope, Nothing, blocking, created, deleted, ok, written};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chat::Completed;
use chat::inputs::{
    CompleteInput, DeltaInput, MessageListQuery, MessageSearchQuery, NewSessionInput,
    PostMessageInput, RenameSessionInput, SessionListQuery,
};
use domain::ports::Posted;
use domain::{ChatSession, ChatSessionId, Message, MessageId, Page, SearchPage};

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/sessions")
            .service(
                web::resource("")
                    .route(post(create_session))
                    .route(get(list_sessions)),
            )
            .service(
                web::resource("/{id}")
                    .route(get(get_session))
                    .route(patch(rename_session))
                    .route(delete(delete_session)),
            )
            .service(
                web::resource("/{id}/messages")
                    .route(post(post_message))
                    .route(get(list_messages)),
            ),
    )
    // Before `/messages/{id}`, which would take `search` for an id.
    .service(web::resource("/messages/search").route(get(search_messages)))
    .service(
        web::resource("/messages/{id}")
            .route(get(get_message))
            .route(delete(delete_message)),
    )
    .service(web::resource("/messages/{id}/deltas").route(post(append_delta)))
    .service(web::resource("/messages/{id}/complete").route(post(complete_message)));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_session,
    list_sessions,
    get_session,
    rename_session,
    delete_session,
    post_message,
    list_messages,
    get_message,
    delete_message,
    append_delta,
    complete_message,
    search_messages
))]
pub struct Doc;

/// Open a chat session; the title defaults to `New chat`.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions",
    request_body = NewSessionInput,
    responses((status = 201, description = "Chat session created", body = Envelope<SessionData>)),
    security(("bearer" = [])))]
async fn create_session(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<NewSessionInput>,
) -> Res {
    let session = blocking(move || state.chat.create_session(&actor, body.into_inner())).await?;
    Ok(created("Chat session created", SessionData { session }))
}

/// The caller's chat sessions, most recent activity first.
///
/// Agents and admins may add `userId` to list another user's. `q` keeps the
/// sessions whose title contains it, case-insensitively (`%` and `_` are
/// plain characters), served by a trigram index.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    params(SessionListQuery),
    responses(
        (status = 200, description = "Chat sessions", body = Envelope<Page<ChatSession>>),
        (status = 403, description = "`FORBIDDEN`: `userId` of someone else, as a `user`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_sessions(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    query: web::Query<SessionListQuery>,
) -> Res {
    let page = blocking(move || state.chat.list_sessions(&actor, query.into_inner())).await?;
    Ok(ok("Chat sessions", page))
}

/// One chat session, with its vendor and seller count.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions",
    responses((status = 200, description = "Chat session", body = Envelope<SessionData>)),
    security(("bearer" = [])))]
async fn get_session(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = ChatSessionId(id.into_inner());
    let session = blocking(move || state.chat.session(&actor, id)).await?;
    Ok(ok("Chat session", SessionData { session }))
}

/// Rename a chat session.
#[utoipa::path(patch, path = "/api/v1/sessions/{id}", tag = "sessions",
    request_body = RenameSessionInput,
    responses((status = 200, description = "Chat session updated", body = Envelope<SessionData>)),
    security(("bearer" = [])))]
async fn rename_session(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<RenameSessionInput>,
) -> Res {
    let id = ChatSessionId(id.into_inner());
    let session =
        blocking(move || state.chat.rename_session(&actor, id, body.into_inner())).await?;
    Ok(ok("Chat session updated", SessionData { session }))
}

/// Delete a chat session with its messages, vendor and sellers.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions",
    responses((status = 200, description = "Chat session deleted", body = Envelope<Nothing>)),
    security(("bearer" = [])))]
async fn delete_session(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = ChatSessionId(id.into_inner());
    blocking(move || state.chat.delete_session(&actor, id)).await?;
    Ok(deleted("Chat session deleted"))
}

/// Post a message.
///
/// `type` defaults to `text` and `role` to `user`. The owner posts `user`
/// messages; agents and admins post `assistant` and `system` messages in any
/// session. The same `clientMessageId` again returns the first message with `200`.
///
/// `stream: true` (agents and admins, `assistant` or `system`) starts a
/// streamed reply: the message is created `streaming`, with `content` if
/// given (it may be empty), and its sender appends its text with `POST
/// /messages/{id}/deltas` and ends it with `POST /messages/{id}/complete`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "messages",
    request_body = PostMessageInput,
    responses(
        (status = 201, description = "Message created (`status: streaming` for a streamed reply)", body = Envelope<MessageData>),
        (status = 200, description = "Message already posted (same `clientMessageId`)", body = Envelope<MessageData>),
        (status = 403, description = "`FORBIDDEN`: the role may not post this message role here, or stream", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn post_message(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<PostMessageInput>,
) -> Res {
    let id = ChatSessionId(id.into_inner());
    let posted = blocking(move || state.chat.post_message(&actor, id, body.into_inner())).await?;
    Ok(match posted {
        Posted::Created(message) => created("Message created", MessageData { message }),
        Posted::Existing(message) => ok("Message already posted", MessageData { message }),
    })
}

/// A page of a session's messages in creation order (`order=asc`, the
/// default, or `desc`).
///
/// At most `limit` messages, and fewer when they would make the page larger
/// than the server's byte cap (256 KiB by default); `nextCursor` then goes on
/// from the last one given.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages", tag = "messages",
    params(MessageListQuery),
    responses((status = 200, description = "Messages", body = Envelope<Page<Message>>)),
    security(("bearer" = [])))]
async fn list_messages(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    query: web::Query<MessageListQuery>,
) -> Res {
    let id = ChatSessionId(id.into_inner());
    let page = blocking(move || state.chat.messages(&actor, id, query.into_inner())).await?;
    // Written by hand: the hottest response (see json.rs).
    Ok(written(StatusCode::OK, |out| {
        crate::json::message_page(out, "Messages", &page);
        Ok(())
    }))
}

/// One message.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    responses((status = 200, description = "Message", body = Envelope<MessageData>)),
    security(("bearer" = [])))]
async fn get_message(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = MessageId(id.into_inner());
    let message = blocking(move || state.chat.message(&actor, id)).await?;
    Ok(ok("Message", MessageData { message }))
}

/// Delete a message: its sender, the session owner or an admin.
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages",
    responses(
        (status = 200, description = "Message deleted", body = Envelope<Nothing>),
        (status = 403, description = "`FORBIDDEN`: a reader who may not delete it", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_message(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = MessageId(id.into_inner());
    blocking(move || state.chat.delete_message(&actor, id)).await?;
    Ok(deleted("Message deleted"))
}

/// Append a delta to a streamed reply.
///
/// Its sender only. `seq` starts at 1 and counts the deltas; `text` (1 to
/// 4,000 characters) is appended as it is. Each applied delta is stored
/// before this answer (a page or `GET /messages/{id}` read after it shows
/// it, on any instance) and goes out as `message.delta` on the session's
/// live events. The same `seq` again with the same text (a retried request)
/// answers `200` and changes nothing; any other `seq` than the next is a
/// `409` whose message names the expected one.
#[utoipa::path(post, path = "/api/v1/messages/{id}/deltas", tag = "messages",
    request_body = DeltaInput,
    responses(
        (status = 200, description = "Delta applied (or applied before, the same): the message with its content so far", body = Envelope<MessageData>),
        (status = 403, description = "`FORBIDDEN`: not the message's sender", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: a `seq` other than the next (the message names the expected one), or a message that is not streaming", body = ErrorBody),
        (status = 422, description = "`LIMIT_REACHED`: the content would exceed 32,000 characters", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn append_delta(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<DeltaInput>,
) -> Res {
    let id = MessageId(id.into_inner());
    let message = blocking(move || state.chat.append_delta(&actor, id, body.into_inner())).await?;
    Ok(ok("Delta applied", MessageData { message }))
}

/// Complete a streamed reply.
///
/// Its sender only. The message becomes `complete`, with `completedAt`;
/// `content`, if given, replaces the text the deltas built. `message.completed`
/// (the whole Message) goes out on the session's live events and to
/// webhooks. A message that is no longer streaming (completed already, or
/// ended `incomplete` by `STREAM_IDLE_TIMEOUT`) is answered as it is,
/// whatever `content` says, and nothing is sent.
#[utoipa::path(post, path = "/api/v1/messages/{id}/complete", tag = "messages",
    request_body = CompleteInput,
    responses(
        (status = 200, description = "Message completed, or the message as it is when it was no longer streaming", body = Envelope<MessageData>),
        (status = 403, description = "`FORBIDDEN`: not the message's sender", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn complete_message(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<CompleteInput>,
) -> Res {
    let id = MessageId(id.into_inner());
    let done = blocking(move || state.chat.complete_message(&actor, id, body.into_inner())).await?;
    Ok(match done {
        Completed::Now(message) => ok("Message completed", MessageData { message }),
        Completed::Already(message) => ok("Message already ended", MessageData { message }),
    })
}

/// Search messages.
///
/// Full-text search (PostgreSQL text search, configuration `SEARCH_LANGUAGE`,
/// default `english`) over the text of the messages in the chat sessions the
/// caller may read: their own; every session for agents and admins. `q` uses
/// web-search syntax:
///
/// - `red bike`: messages with both words, in any form (`bikes` finds `bike`);
/// - `"red bike"`: the words next to each other, in this order;
/// - `bike or car`: either;
/// - `bike -red`: `bike` but not `red`.
///
/// Two orders (`sort`):
///
/// - `recent` (the default): every match, newest first (`createdAt`, then
///   `id`, descending); paging reaches every match. `truncated` is `false`.
/// - `relevance`: the newest `SEARCH_RANK_WINDOW` matches (500 by default)
///   the caller may read, best match first (`ts_rank_cd`), newest first among
///   equals. `truncated` is `true` when older matches exist beyond that
///   window (`sort=recent` reaches them), on every page of that search. The
///   window is fixed by the first page: a message posted later never enters
///   it, and nothing shifts or repeats.
///
/// There is no total count. At most `limit` hits, and fewer when they would
/// make the page larger than the server's byte cap (256 KiB by default);
/// `nextCursor` then goes on from the last one given. A cursor is good for
/// the same caller, `q`, `sessionId` and `sort` only (else `400`).
///
/// A `q` of only stop words (`the`, `and`, …) finds nothing. Each item is
/// `{message, sessionTitle, snippet}`; `snippet` is plain text (never HTML:
/// the client must not render it as markup) from the message around its
/// hits, each hit between `[[` and `]]`; a bracket of the message standing
/// next to another bracket is separated from it by U+200B (zero-width space),
/// so `[[` and `]]` only ever mark hits. Deleted messages are never found.
#[utoipa::path(get, path = "/api/v1/messages/search", tag = "messages",
    params(MessageSearchQuery),
    responses(
        (status = 200, description = "Search results", body = Envelope<SearchPage>),
        (status = 404, description = "`NOT_FOUND`: `sessionId` of a session the caller may not read", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn search_messages(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    query: web::Query<MessageSearchQuery>,
) -> Res {
    let page = blocking(move || state.chat.search(&actor, query.into_inner())).await?;
    Ok(ok("Search results", page))
}
