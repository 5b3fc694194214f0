//! Success envelopes and running blocking service calls.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use domain::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

/// The success envelope of the contract.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: &'static str,
    /// A short human sentence.
    pub message: &'static str,
    pub data: T,
}

/// `"data": null`, as `DELETE` and some actions answer.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Nothing;

impl utoipa::PartialSchema for Nothing {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::Object::with_type(utoipa::openapi::Type::Null).into()
    }
}

impl ToSchema for Nothing {}

thread_local! {
    /// The size of this worker's last JSON body: the next one's buffer starts
    /// there, so that a page of messages (about 14 KB) is written without the
    /// buffer growing (and being copied) eight times on the way.
    static LAST_BODY: std::cell::Cell<usize> = const { std::cell::Cell::new(1024) };
}

/// `{status: "success", message, data}`.
pub fn reply<T: Serialize>(status: StatusCode, message: &'static str, data: T) -> HttpResponse {
    let envelope = Envelope {
        status: "success",
        message,
        data,
    };
    written(status, |body| {
        serde_json::to_writer(body, &envelope).map_err(|e| e.to_string())
    })
}

/// A JSON response whose body `write` writes, into a buffer that starts at
/// the size of this worker's previous body.
pub fn written(
    status: StatusCode,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> HttpResponse {
    let hint = LAST_BODY.with(std::cell::Cell::get);
    let mut body = Vec::with_capacity(hint);
    match write(&mut body) {
        Ok(()) => {
            LAST_BODY.with(|last| last.set(body.len().clamp(256, 256 * 1024)));
            HttpResponse::build(status)
                .content_type(actix_web::http::header::ContentType::json())
                .body(body)
        }
        Err(e) => actix_web::ResponseError::error_response(&ApiError(DomainError::Internal(
            format!("cannot serialise a response: {e}"),
        ))),
    }
}

/// `200` with `data`.
pub fn ok<T: Serialize>(message: &'static str, data: T) -> HttpResponse {
    reply(StatusCode::OK, message, data)
}

/// `201` with `data`.
pub fn created<T: Serialize>(message: &'static str, data: T) -> HttpResponse {
    reply(StatusCode::CREATED, message, data)
}

/// `200` with `"data": null`, as `DELETE` answers.
pub fn deleted(message: &'static str) -> HttpResponse {
    reply(StatusCode::OK, message, Nothing)
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
