//! `/users`: the caller's profile and password; user administration (admins).

use super::{Id, delete, get, patch, put};
use crate::bodies::{RevokedData, UserData};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::reply::{Envelope, Nothing, blocking, deleted, ok};
use crate::state::AppState;
use accounts::inputs::{AdminUserInput, ProfileInput, UserListQuery};
use actix_web::{HttpResponse, web};
use auth::inputs::ChangePasswordInput;
use domain::{Page, User, UserId};

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/users")
            .service(web::resource("").route(get(list)))
            .service(web::resource("/me").route(get(me)).route(patch(update_me)))
            .service(web::resource("/me/password").route(put(change_password)))
            .service(
                web::resource("/{id}")
                    .route(get(get_user))
                    .route(patch(update))
                    .route(delete(delete_user)),
            )
            .service(web::resource("/{id}/sessions").route(delete(end_sessions))),
    );
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    me,
    update_me,
    change_password,
    list,
    get_user,
    update,
    delete_user,
    end_sessions
))]
pub struct Doc;

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", operation_id = "get_me",
    responses((status = 200, description = "Current user", body = Envelope<UserData>)),
    security(("bearer" = [])))]
async fn me(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let user = blocking(move || state.accounts.me(&actor)).await?;
    Ok(ok("Current user", UserData { user }))
}

/// Change the caller's name.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users",
    request_body = ProfileInput,
    responses((status = 200, description = "Profile updated", body = Envelope<UserData>)),
    security(("bearer" = [])))]
async fn update_me(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<ProfileInput>,
) -> Res {
    let user = blocking(move || state.accounts.update_me(&actor, body.into_inner())).await?;
    Ok(ok("Profile updated", UserData { user }))
}

/// Change the caller's password; every other login session is revoked.
#[utoipa::path(put, path = "/api/v1/users/me/password", tag = "users",
    request_body = ChangePasswordInput,
    responses(
        (status = 200, description = "Password changed", body = Envelope<Nothing>),
        (status = 401, description = "`INVALID_CREDENTIALS` for a wrong current password, or the token's errors", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn change_password(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<ChangePasswordInput>,
) -> Res {
    blocking(move || state.auth.change_password(&actor, body.into_inner())).await?;
    Ok(deleted("Password changed"))
}

/// List users (admins): `q` matches email or name.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(UserListQuery),
    responses(
        (status = 200, description = "Users", body = Envelope<Page<User>>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    query: web::Query<UserListQuery>,
) -> Res {
    let page = blocking(move || state.accounts.list_users(&actor, query.into_inner())).await?;
    Ok(ok("Users", page))
}

/// One user (admins).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    responses(
        (status = 200, description = "User", body = Envelope<UserData>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_user(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = UserId(id.into_inner());
    let user = blocking(move || state.accounts.user(&actor, id)).await?;
    Ok(ok("User", UserData { user }))
}

/// Change a user's name, role or state (admins); deactivating revokes all
/// their login sessions.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users",
    request_body = AdminUserInput,
    responses(
        (status = 200, description = "User updated", body = Envelope<UserData>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: an admin may not demote or deactivate themself", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<AdminUserInput>,
) -> Res {
    let id = UserId(id.into_inner());
    let user = blocking(move || state.accounts.update_user(&actor, id, body.into_inner())).await?;
    Ok(ok("User updated", UserData { user }))
}

/// Delete a user and everything they own (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    responses(
        (status = 200, description = "User deleted", body = Envelope<Nothing>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: an admin may not delete themself", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_user(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = UserId(id.into_inner());
    blocking(move || state.accounts.delete_user(&actor, id)).await?;
    Ok(deleted("User deleted"))
}

/// End every login session of a user (admins).
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "users",
    responses(
        (status = 200, description = "Login sessions ended", body = Envelope<RevokedData>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn end_sessions(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = UserId(id.into_inner());
    let revoked = blocking(move || state.accounts.end_login_sessions(&actor, id)).await?;
    Ok(ok("Login sessions ended", RevokedData { revoked }))
}
