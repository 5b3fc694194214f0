//! `GET /health` (liveness) and `GET /ready` (database and migrations).

use crate::error::envelope;
use crate::reply::ok;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn health() -> HttpResponse {
    ok("OK", json!({ "status": "ok" }))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let check = web::block(move || state.health.ready()).await;
    match check {
        Ok(Ok(true)) => ok(
            "Ready",
            json!({ "database": "ok", "migrations": "applied" }),
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
