//! `/users`: the caller's profile and password; user administration (admins).

use super::Id;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::reply::{blocking, deleted, ok};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::UserId;
use domain::inputs::{AdminUserInput, ChangePasswordInput, ProfileInput, UserListQuery};
use serde_json::json;

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/users")
            .service(web::resource("").route(web::get().to(list)))
            .service(
                web::resource("/me")
                    .route(web::get().to(me))
                    .route(web::patch().to(update_me)),
            )
            .service(web::resource("/me/password").route(web::put().to(change_password)))
            .service(
                web::resource("/{id}")
                    .route(web::get().to(get))
                    .route(web::patch().to(update))
                    .route(web::delete().to(delete)),
            )
            .service(web::resource("/{id}/sessions").route(web::delete().to(end_sessions))),
    );
}

async fn me(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let user = blocking(move || state.accounts.me(&actor)).await?;
    Ok(ok("Current user", json!({ "user": user })))
}

async fn update_me(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<ProfileInput>,
) -> Res {
    let user = blocking(move || state.accounts.update_me(&actor, body.into_inner())).await?;
    Ok(ok("Profile updated", json!({ "user": user })))
}

async fn change_password(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<ChangePasswordInput>,
) -> Res {
    blocking(move || state.auth.change_password(&actor, body.into_inner())).await?;
    Ok(deleted("Password changed"))
}

async fn list(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    query: web::Query<UserListQuery>,
) -> Res {
    let page = blocking(move || state.accounts.list_users(&actor, query.into_inner())).await?;
    Ok(ok("Users", page))
}

async fn get(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = UserId(id.into_inner());
    let user = blocking(move || state.accounts.user(&actor, id)).await?;
    Ok(ok("User", json!({ "user": user })))
}

async fn update(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<AdminUserInput>,
) -> Res {
    let id = UserId(id.into_inner());
    let user = blocking(move || state.accounts.update_user(&actor, id, body.into_inner())).await?;
    Ok(ok("User updated", json!({ "user": user })))
}

async fn delete(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = UserId(id.into_inner());
    blocking(move || state.accounts.delete_user(&actor, id)).await?;
    Ok(deleted("User deleted"))
}

async fn end_sessions(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = UserId(id.into_inner());
    let revoked = blocking(move || state.accounts.end_login_sessions(&actor, id)).await?;
    Ok(ok("Login sessions ended", json!({ "revoked": revoked })))
}
