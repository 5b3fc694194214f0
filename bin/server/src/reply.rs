//! Success envelopes and running blocking service calls.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use domain::DomainError;
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    status: &'static str,
    message: &'a str,
    data: T,
}

/// `{status: "success", message, data}`.
pub fn reply<T: Serialize>(status: StatusCode, message: &str, data: T) -> HttpResponse {
    HttpResponse::build(status).json(Envelope {
        status: "success",
        message,
        data,
    })
}

/// `200` with `data`.
pub fn ok<T: Serialize>(message: &str, data: T) -> HttpResponse {
    reply(StatusCode::OK, message, data)
}

/// `201` with `data`.
pub fn created<T: Serialize>(message: &str, data: T) -> HttpResponse {
    reply(StatusCode::CREATED, message, data)
}

/// `200` with `"data": null`, as `DELETE` answers.
pub fn deleted(message: &str) -> HttpResponse {
    reply(StatusCode::OK, message, ())
}

/// Runs a service call (Diesel, bcrypt) on actix's blocking pool, never on a worker.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, DomainError> + Send + 'static,
    T: Send + 'static,
{
    match web::block(f).await {
        Ok(result) => result.map_err(ApiError),
        Err(e) => Err(ApiError(DomainError::Internal(format!(
            "blocking task failed: {e}"
        )))),
    }
}
