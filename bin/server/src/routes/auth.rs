//! `/auth`: register, login, refresh, logout, login sessions.

use super::{Id, delete, get, post};
use crate::bodies::{LoginSessionList, RevokedData, TokensData, UserData};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::net::client_info;
use crate::ratelimit::Limit;
use crate::reply::{Envelope, Nothing, blocking, created, deleted, ok};
use crate::state::AppState;
use actix_governor::Governor;
use actix_web::{HttpRequest, HttpResponse, web};
use auth::SignedIn;
use auth::inputs::{LoginInput, RefreshInput, RegisterInput};
use domain::LoginSessionId;

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig, limit: &Limit) {
    cfg.service(
        web::scope("/auth")
            .service(
                web::resource("/register")
                    .wrap(Governor::new(limit))
                    .route(post(register)),
            )
            .service(
                web::resource("/login")
                    .wrap(Governor::new(limit))
                    .route(post(login)),
            )
            .service(
                web::resource("/refresh")
                    .wrap(Governor::new(limit))
                    .route(post(refresh)),
            )
            .service(web::resource("/logout").route(post(logout)))
            .service(web::resource("/logout-all").route(post(logout_all)))
            .service(web::resource("/me").route(get(me)))
            .service(web::resource("/sessions").route(get(sessions)))
            .service(web::resource("/sessions/{id}").route(delete(revoke_session))),
    );
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    register,
    login,
    refresh,
    logout,
    logout_all,
    me,
    sessions,
    revoke_session
))]
pub struct Doc;

/// Register a user (role `user`) and log in.
///
/// Rate limited by `AUTH_RATE_LIMIT_MAX`. The login session records the
/// `User-Agent`, the client IP and the optional `deviceName`.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterInput,
    responses(
        (status = 201, description = "User registered", body = Envelope<SignedIn>),
        (status = 409, description = "The email is taken", body = ErrorBody),
    ))]
async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterInput>,
) -> Res {
    let client = client_info(&req, state.settings.trust_proxy);
    let out = blocking(move || state.auth.register(body.into_inner(), client)).await?;
    Ok(created("User registered", out))
}

/// Log in with email and password.
///
/// A wrong email, a wrong password and an inactive account get the same
/// `401 INVALID_CREDENTIALS`, in the same time. Rate limited by `AUTH_RATE_LIMIT_MAX`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginInput,
    responses(
        (status = 200, description = "Logged in", body = Envelope<SignedIn>),
        (status = 401, description = "`INVALID_CREDENTIALS`", body = ErrorBody),
    ))]
async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Json<LoginInput>) -> Res {
    let client = client_info(&req, state.settings.trust_proxy);
    let out = blocking(move || state.auth.login(body.into_inner(), client)).await?;
    Ok(ok("Logged in", out))
}

/// Rotate a refresh token: the old one stops working.
///
/// Presenting a token that was already rotated away revokes its whole login
/// session. Rate limited by `AUTH_RATE_LIMIT_MAX`.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshInput,
    responses(
        (status = 200, description = "Token refreshed", body = Envelope<TokensData>),
        (status = 401, description = "`INVALID_REFRESH_TOKEN`", body = ErrorBody),
    ))]
async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshInput>) -> Res {
    let tokens = blocking(move || state.auth.refresh(body.into_inner())).await?;
    Ok(ok("Token refreshed", TokensData { tokens }))
}

/// Log out: revoke the caller's login session (and its access tokens).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, description = "Logged out", body = Envelope<Nothing>)),
    security(("bearer" = [])))]
async fn logout(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    blocking(move || state.auth.logout(&actor)).await?;
    Ok(deleted("Logged out"))
}

/// Revoke every login session of the caller.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    responses((status = 200, description = "Logged out of every session", body = Envelope<RevokedData>)),
    security(("bearer" = [])))]
async fn logout_all(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let revoked = blocking(move || state.auth.logout_all(&actor)).await?;
    Ok(ok("Logged out of every session", RevokedData { revoked }))
}

/// The caller's user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, description = "Current user", body = Envelope<UserData>)),
    security(("bearer" = [])))]
async fn me(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let user = blocking(move || state.accounts.me(&actor)).await?;
    Ok(ok("Current user", UserData { user }))
}

/// The caller's active login sessions, newest first; `current` marks this one.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth",
    responses((status = 200, description = "Login sessions", body = Envelope<LoginSessionList>)),
    security(("bearer" = [])))]
async fn sessions(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let items = blocking(move || state.auth.login_sessions(&actor)).await?;
    Ok(ok("Login sessions", LoginSessionList { items }))
}

/// Revoke one of the caller's own login sessions.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    responses((status = 200, description = "Login session revoked", body = Envelope<Nothing>)),
    security(("bearer" = [])))]
async fn revoke_session(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = LoginSessionId(id.into_inner());
    blocking(move || state.auth.revoke_login_session(&actor, id)).await?;
    Ok(deleted("Login session revoked"))
}
