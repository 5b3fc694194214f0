//! The one place where errors become HTTP: status, `code`, envelope.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::{DomainError, FieldError};
use serde::Serialize;
use std::fmt;

/// The error envelope of the contract.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Always `error`.
    #[schema(example = "error")]
    pub status: &'static str,
    /// A short human sentence.
    pub message: &'a str,
    /// A stable machine string: `VALIDATION_ERROR`, `UNAUTHENTICATED`,
    /// `TOKEN_EXPIRED`, `SESSION_REVOKED`, `INVALID_CREDENTIALS`,
    /// `INVALID_REFRESH_TOKEN`, `FORBIDDEN`, `NOT_FOUND`, `METHOD_NOT_ALLOWED`,
    /// `CONFLICT`, `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`, `LIMIT_REACHED`,
    /// `RATE_LIMITED`, `INTERNAL` or `UNAVAILABLE`.
    pub code: &'static str,
    /// Present only for `VALIDATION_ERROR`: one entry per failing field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<FieldError>>)]
    pub errors: Option<&'a [FieldError]>,
    /// Development mode only, on a 5xx: the error chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// The internal detail of a 5xx, attached to the response for the logging
/// middleware (never serialised by the handler itself).
#[derive(Clone, Debug)]
pub struct InternalDetail(pub String);

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match &self.0 {
            DomainError::Validation(_) => "VALIDATION_ERROR",
            DomainError::Unauthenticated => "UNAUTHENTICATED",
            DomainError::TokenExpired => "TOKEN_EXPIRED",
            DomainError::SessionRevoked => "SESSION_REVOKED",
            DomainError::InvalidCredentials => "INVALID_CREDENTIALS",
            DomainError::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            DomainError::Forbidden => "FORBIDDEN",
            DomainError::NotFound(_) => "NOT_FOUND",
            DomainError::Conflict(_) => "CONFLICT",
            DomainError::LimitReached(_) => "LIMIT_REACHED",
            DomainError::Unavailable => "UNAVAILABLE",
            DomainError::Internal(_) => "INTERNAL",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            DomainError::Validation(_) => StatusCode::BAD_REQUEST,
            DomainError::Unauthenticated
            | DomainError::TokenExpired
            | DomainError::SessionRevoked
            | DomainError::InvalidCredentials
            | DomainError::InvalidRefreshToken => StatusCode::UNAUTHORIZED,
            DomainError::Forbidden => StatusCode::FORBIDDEN,
            DomainError::NotFound(_) => StatusCode::NOT_FOUND,
            DomainError::Conflict(_) => StatusCode::CONFLICT,
            DomainError::LimitReached(_) => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = self.0.to_string();
        let errors = match &self.0 {
            DomainError::Validation(list) => Some(list.as_slice()),
            _ => None,
        };
        let mut res = envelope(status, &message, self.code(), errors);
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let DomainError::Internal(detail) = &self.0 {
            res.extensions_mut().insert(InternalDetail(detail.clone()));
        }
        res
    }
}

/// An error envelope response.
pub fn envelope(
    status: StatusCode,
    message: &str,
    code: &'static str,
    errors: Option<&[FieldError]>,
) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        status: "error",
        message,
        code,
        errors,
        detail: None,
    })
}
