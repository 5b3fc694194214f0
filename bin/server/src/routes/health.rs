//! `GET /health` (liveness) and `GET /ready` (database and migrations).

use crate::bodies::{Liveness, Readiness, ReplicaReadiness};
use crate::conn::Drain;
use crate::error::{ErrorBody, ErrorCode};
use crate::reply::{Envelope, ok};
use crate::settings::MediaStorage;
use crate::state::AppState;
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
/// It also names the media storage and the read replica's state; a replica
/// that is down or behind never makes it `503` (its reads go to the primary).
#[utoipa::path(get, path = "/ready", tag = "service",
    responses(
        (status = 200, description = "Ready", body = Envelope<Readiness>),
        (status = 503, description = "`UNAVAILABLE`: database down, migrations pending, or shutting down", body = ErrorBody),
    ))]
pub async fn ready(state: web::Data<AppState>, drain: Option<web::Data<Drain>>) -> HttpResponse {
    if drain.is_some_and(|d| d.is_draining()) {
        return ErrorCode::Unavailable.respond("Shutting down", None);
    }
    let media_storage = match state.settings.media_storage {
        MediaStorage::Disk => "disk",
        MediaStorage::S3 => "s3",
    };
    let replica = state.store.replica_stats().map(|r| ReplicaReadiness {
        status: match (r.usable, r.lag) {
            (true, _) => "ok",
            (false, Some(_)) => "lagging",
            (false, None) => "down",
        },
        lag_seconds: r.lag.map(|l| l.as_secs_f64()),
    });
    let check = web::block(move || state.health.ready()).await;
    match check {
        Ok(Ok(true)) => ok(
            "Ready",
            Readiness {
                database: "ok",
                migrations: "applied",
                media_storage,
                replica,
            },
        ),
        Ok(Ok(false)) => ErrorCode::Unavailable.respond("Database migrations are pending", None),
        Ok(Err(e)) => {
            log::warn!("readiness check failed: {e}");
            ErrorCode::Unavailable.respond("Database unavailable", None)
        }
        Err(_) => ErrorCode::Unavailable.respond("Readiness check failed", None),
    }
}
