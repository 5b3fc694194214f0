//! `/sessions` and `/messages`: chat sessions and their messages.

use super::Id;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::reply::{blocking, created, deleted, ok};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::chat_inputs::{
    MessageListQuery, NewSessionInput, PostMessageInput, RenameSessionInput, SessionListQuery,
};
use domain::ports::Posted;
use domain::{ChatSessionId, MessageId};
use serde_json::json;

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/sessions")
            .service(
                web::resource("")
                    .route(web::post().to(create_session))
                    .route(web::get().to(list_sessions)),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(get_session))
                    .route(web::patch().to(rename_session))
                    .route(web::delete().to(delete_session)),
            )
            .service(
                web::resource("/{id}/messages")
                    .route(web::post().to(post_message))
                    .route(web::get().to(list_messages)),
            ),
    )
    .service(
        web::resource("/messages/{id}")
            .route(web::get().to(get_message))
            .route(web::delete().to(delete_message)),
    );
}

async fn create_session(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<NewSessionInput>,
) -> Res {
    let session = blocking(move || state.chat.create_session(&actor, body.into_inner())).await?;
    Ok(created(
        "Chat session created",
        json!({ "session": session }),
    ))
}

async fn list_sessions(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    query: web::Query<SessionListQuery>,
) -> Res {
    let page = blocking(move || state.chat.list_sessions(&actor, query.into_inner())).await?;
    Ok(ok("Chat sessions", page))
}

async fn get_session(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = ChatSessionId(id.into_inner());
    let session = blocking(move || state.chat.session(&actor, id)).await?;
    Ok(ok("Chat session", json!({ "session": session })))
}

async fn rename_session(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<RenameSessionInput>,
) -> Res {
    let id = ChatSessionId(id.into_inner());
    let session =
        blocking(move || state.chat.rename_session(&actor, id, body.into_inner())).await?;
    Ok(ok("Chat session updated", json!({ "session": session })))
}

async fn delete_session(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = ChatSessionId(id.into_inner());
    blocking(move || state.chat.delete_session(&actor, id)).await?;
    Ok(deleted("Chat session deleted"))
}

async fn post_message(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<PostMessageInput>,
) -> Res {
    let id = ChatSessionId(id.into_inner());
    let posted = blocking(move || state.chat.post_message(&actor, id, body.into_inner())).await?;
    Ok(match posted {
        Posted::Created(message) => created("Message created", json!({ "message": message })),
        Posted::Existing(message) => ok("Message already posted", json!({ "message": message })),
    })
}

async fn list_messages(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    query: web::Query<MessageListQuery>,
) -> Res {
    let id = ChatSessionId(id.into_inner());
    let page = blocking(move || state.chat.messages(&actor, id, query.into_inner())).await?;
    Ok(ok("Messages", page))
}

async fn get_message(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = MessageId(id.into_inner());
    let message = blocking(move || state.chat.message(&actor, id)).await?;
    Ok(ok("Message", json!({ "message": message })))
}

async fn delete_message(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = MessageId(id.into_inner());
    blocking(move || state.chat.delete_message(&actor, id)).await?;
    Ok(deleted("Message deleted"))
}
