//! `/auth`: register, login, refresh, logout, login sessions.

use super::Id;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::net::client_info;
use crate::ratelimit::Limit;
use crate::reply::{blocking, created, deleted, ok};
use crate::state::AppState;
use actix_governor::Governor;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::LoginSessionId;
use domain::inputs::{LoginInput, RefreshInput, RegisterInput};
use serde_json::json;

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig, limit: &Limit) {
    cfg.service(
        web::scope("/auth")
            .service(
                web::resource("/register")
                    .wrap(Governor::new(limit))
                    .route(web::post().to(register)),
            )
            .service(
                web::resource("/login")
                    .wrap(Governor::new(limit))
                    .route(web::post().to(login)),
            )
            .service(
                web::resource("/refresh")
                    .wrap(Governor::new(limit))
                    .route(web::post().to(refresh)),
            )
            .service(web::resource("/logout").route(web::post().to(logout)))
            .service(web::resource("/logout-all").route(web::post().to(logout_all)))
            .service(web::resource("/me").route(web::get().to(me)))
            .service(web::resource("/sessions").route(web::get().to(sessions)))
            .service(web::resource("/sessions/{id}").route(web::delete().to(revoke_session))),
    );
}

async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterInput>,
) -> Res {
    let client = client_info(&req, state.settings.trust_proxy);
    let out = blocking(move || state.auth.register(body.into_inner(), client)).await?;
    Ok(created("User registered", out))
}

async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Json<LoginInput>) -> Res {
    let client = client_info(&req, state.settings.trust_proxy);
    let out = blocking(move || state.auth.login(body.into_inner(), client)).await?;
    Ok(ok("Logged in", out))
}

async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshInput>) -> Res {
    let tokens = blocking(move || state.auth.refresh(body.into_inner())).await?;
    Ok(ok("Token refreshed", json!({ "tokens": tokens })))
}

async fn logout(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    blocking(move || state.auth.logout(&actor)).await?;
    Ok(deleted("Logged out"))
}

async fn logout_all(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let revoked = blocking(move || state.auth.logout_all(&actor)).await?;
    Ok(ok(
        "Logged out of every session",
        json!({ "revoked": revoked }),
    ))
}

async fn me(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let user = blocking(move || state.accounts.me(&actor)).await?;
    Ok(ok("Current user", json!({ "user": user })))
}

async fn sessions(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let items = blocking(move || state.auth.login_sessions(&actor)).await?;
    Ok(ok("Login sessions", json!({ "items": items })))
}

async fn revoke_session(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = LoginSessionId(id.into_inner());
    blocking(move || state.auth.revoke_login_session(&actor, id)).await?;
    Ok(deleted("Login session revoked"))
}
