//! `GET /health` (liveness) and `GET /ready` (database and migrations).

use crate::bodies::{Liveness, Readiness};
use crate::conn::Drain;
use crate::error::{ErrorBody, envelope};
use crate::reply::{Envelope, ok};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

#[derive(utoipa::OpenApi)]
#[openapi(paths(health, ready))]
pub struct Doc;

/// Liveness: `200` while the process serves, whatever the database does.
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "OK", body = Envelope<Liveness>)))]
pub async fn health() -> HttpResponse {
    ok("OK", Liveness { status: "ok" })
}

/// Readiness: `200` when the database answers and every migration is applied,
/// else `503` (within a second); `503` at once when the server is shutting down.
#[utoipa::path(get, path = "/ready", tag = "service",
    responses(
        (status = 200, description = "Ready", body = Envelope<Readiness>),
        (status = 503, description = "`UNAVAILABLE`: database down, migrations pending, or shutting down", body = ErrorBody),
    ))]
pub async fn ready(state: web::Data<AppState>, drain: Option<web::Data<Drain>>) -> HttpResponse {
    if drain.is_some_and(|d| d.is_draining()) {
        return envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            "Shutting down",
            "UNAVAILABLE",
            None,
        );
    }
    let check = web::block(move || state.health.ready()).await;
    match check {
        Ok(Ok(true)) => ok(
            "Ready",
            Readiness {
                database: "ok",
                migrations: "applied",
            },
        ),
        Ok(Ok(false)) => envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            "Database migrations are pending",
            "UNAVAILABLE",
            None,
        ),
        Ok(Err(e)) => {
            log::warn!("readiness check failed: {e}");
            envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                "Database unavailable",
                "UNAVAILABLE",
                None,
            )
        }
        Err(_) => envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            "Readiness check failed",
            "UNAVAILABLE",
            None,
        ),
    }
}
