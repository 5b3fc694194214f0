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

/// The service endpoints outside `/api/v1` (never rate limited).
pub fn service_endpoints(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health::health)))
        .service(web::resource("/ready").route(web::get().to(health::ready)));
}

/// The path's id, parsed by the `PathConfig` error handler's rules.
pub type Id = web::Path<uuid::Uuid>;
