//! Extractors: the authenticated [`Caller`], and the handlers that answer
//! actix's own rejections (JSON, path, query) in our envelope.

use crate::error::{ApiError, ErrorCode};
use crate::reply::blocking;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{FromRequest, HttpRequest, web};
use domain::{Actor, DomainError, FieldError};
use std::future::Future;
use std::pin::Pin;

/// The caller of an authenticated route: a valid bearer token whose login
/// session is live and whose user is active, with the user's current role.
pub struct Caller(pub Actor);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The token is checked here, synchronously, so that a missing or bad
        // token is the first error a request meets (before a bad path or body);
        // only the login-session lookup goes to the blocking pool.
        let verified = match req.app_data::<web::Data<AppState>>() {
            None => Err(ApiError(DomainError::Internal("no app state".into()))),
            Some(state) => bearer(req)
                .ok_or(ApiError(DomainError::Unauthenticated))
                .and_then(|t| state.auth.verify_token(&t).map_err(ApiError))
                .map(|token| (state.clone(), token)),
        };
        Box::pin(async move {
            let (state, token) = verified?;
            // Most requests are answered from the cache, without a trip to
            // the blocking pool.
            if let Some(actor) = state.auth.cached_caller(token) {
                return Ok(Caller(actor));
            }
            let actor = blocking(move || state.auth.caller(token)).await?;
            Ok(Caller(actor))
        })
    }
}

/// The caller of a live-events stream: like [`Caller`], but the token may
/// also come as the `access_token` query parameter (a browser's
/// `EventSource` cannot set headers). Only this route reads it; the access
/// log never writes query strings. The token is kept for the stream's
/// periodic re-checks.
pub struct StreamCaller {
    pub actor: Actor,
    /// The verified token, for the stream's re-checks.
    pub token: auth::VerifiedToken,
}

impl FromRequest for StreamCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = bearer(req).or_else(|| query_token(req.query_string()));
        let verified = match req.app_data::<web::Data<AppState>>() {
            None => Err(ApiError(DomainError::Internal("no app state".into()))),
            Some(state) => raw
                .ok_or(ApiError(DomainError::Unauthenticated))
                .and_then(|raw| {
                    let token = state.auth.verify_token(&raw).map_err(ApiError)?;
                    Ok((state.clone(), token))
                }),
        };
        Box::pin(async move {
            let (state, token) = verified?;
            let actor = blocking(move || state.auth.caller(token)).await?;
            Ok(StreamCaller { actor, token })
        })
    }
}

/// `access_token=<token>` of a query string (a JWT needs no decoding).
fn query_token(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("access_token="))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// JSON bodies: malformed → 400, unknown field → 400 naming it, too large → 413,
/// not JSON → 415; all in the envelope.
pub fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let res = match &err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ErrorCode::PayloadTooLarge.response()
        }
        JsonPayloadError::ContentType => ErrorCode::UnsupportedMediaType.response(),
        JsonPayloadError::Deserialize(e) => {
            ErrorCode::invalid(&[serde_field_error(&e.to_string())])
        }
        other => ErrorCode::ValidationError.respond(
            "Malformed request body",
            Some(&[FieldError::new("body", other.to_string())]),
        ),
    };
    actix_web::error::InternalError::from_response(err, res).into()
}

/// Path parameters: a malformed id is a 400.
pub fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    let res = ErrorCode::invalid(&[FieldError::new("id", "must be a valid UUID")]);
    actix_web::error::InternalError::from_response(err, res).into()
}

/// Query strings: unknown or malformed parameters are a 400.
pub fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let text = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let mut field = serde_field_error(&text);
    if field.field == "body" {
        field.field = "query".into();
    }
    let res = ErrorCode::invalid(&[field]);
    actix_web::error::InternalError::from_response(err, res).into()
}

/// serde's message as a field error: ``unknown field `role`, expected …`` names
/// the field; other messages stand for the whole body.
fn serde_field_error(text: &str) -> FieldError {
    let named = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(domain::validation::camel_path)
    };
    if let Some(field) = named("unknown field `") {
        return FieldError::new(field, "is not allowed");
    }
    if let Some(field) = named("missing field `") {
        return FieldError::new(field, "is required");
    }
    let cleaned = text.split(" at line ").next().unwrap_or(text);
    FieldError::new("body", cleaned.to_owned())
}
