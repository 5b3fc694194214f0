//! The route table: one `configure` per area, nested under `/api/v1`.

pub mod auth;
pub mod chat;
pub mod health;
pub mod market;
pub mod users;

use actix_web::web;

/// Everything under `/api/v1`.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.configure(auth::configure)
        .configure(users::configure)
        .configure(chat::configure)
        .configure(market::configure);
}

/// The path's id, parsed by the `PathConfig` error handler's rules.
pub type Id = web::Path<uuid::Uuid>;
