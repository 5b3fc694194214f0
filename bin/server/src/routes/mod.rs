//! The route table: one `configure` per area, nested under `/api/v1`.

pub mod auth;
pub mod chat;
pub mod health;
pub mod market;
pub mod users;

use crate::ratelimit::Limit;
use actix_web::web;

/// Everything under `/api/v1`; `auth_limit` is the stricter rate limit of
/// register, login and refresh.
pub fn api(cfg: &mut web::ServiceConfig, auth_limit: &Limit) {
    cfg.configure(|c| auth::configure(c, auth_limit))
        .configure(users::configure)
        // Market's exact resources under /sessions/{id}/… before chat's /sessions scope,
        // which would otherwise claim them.
        .configure(market::configure)
        .configure(chat::configure);
}

/// The path's id, parsed by the `PathConfig` error handler's rules.
pub type Id = web::Path<uuid::Uuid>;
