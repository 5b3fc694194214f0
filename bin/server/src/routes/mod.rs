//! The route table: one `configure` per area, nested under `/api/v1`. Each area
//! also has a `Doc` listing its operations for the OpenAPI document.
//!
//! Routes are built with [`get`], [`post`], … rather than `web::get().to(..)`,
//! so that every handler runs inside [`CatchPanic`].

pub mod auth;
pub mod chat;
pub mod docs;
pub mod events;
pub mod health;
pub mod market;
pub mod media;
pub mod users;
pub mod webhooks;

use crate::panics::CatchPanic;
use crate::ratelimit::Limit;
use actix_web::{FromRequest, Handler, Responder, Route, guard, web};

/// Everything under `/api/v1`; `auth_limit` is the stricter rate limit of
/// register, login and refresh.
pub fn api(cfg: &mut web::ServiceConfig, auth_limit: &Limit) {
    cfg.configure(|c| auth::configure(c, auth_limit))
        .configure(users::configure)
        // Market's exact resources under /sessions/{id}/… before chat's /sessions scope,
        // which would otherwise claim them.
        .configure(market::configure)
        .configure(events::configure)
        .configure(chat::configure)
        .configure(media::configure)
        .configure(webhooks::configure)
        .service(web::resource("/openapi.json").route(get(docs::openapi_json)));
}

/// The service endpoints outside `/api/v1` (never rate limited).
pub fn service_endpoints(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(get(health::health)))
        .service(web::resource("/ready").route(get(health::ready)))
        .configure(docs::configure);
}

/// The path's id, parsed by the `PathConfig` error handler's rules.
pub type Id = web::Path<uuid::Uuid>;

macro_rules! route_builders {
    ($($name:ident => $route:expr),*) => {$(
        #[doc = concat!("A `", stringify!($name), "` route to `handler`, its panics caught.")]
        pub fn $name<F, Args>(handler: F) -> Route
        where
            F: Handler<Args>,
            F::Future: 'static,
            F::Output: Responder + 'static,
            Args: FromRequest + 'static,
        {
            $route.to(CatchPanic(handler))
        }
    )*};
}

// A server that serves GET serves HEAD (RFC 9110 §9.3.2): the same handler,
// the same headers; actix-http writes no body for a HEAD request.
route_builders!(
    get => web::route().guard(guard::Any(guard::Get()).or(guard::Head())),
    post => web::post(),
    put => web::put(),
    patch => web::patch(),
    delete => web::delete()
);
