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
    /// `REQUEST_TIMEOUT`,
    /// `CONFLICT`, `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`,
    /// `RANGE_NOT_SATISFIABLE`, `LIMIT_REACHED`,
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

impl ErrorBody<'static> {
    /// The body of `code` with its usual message.
    pub fn of(code: ErrorCode) -> Self {
        Self {
            status: "error",
            message: code.message(),
            code: code.code(),
            errors: None,
            detail: None,
        }
    }
}

/// The internal detail of a 5xx, attached to the response for the logging
/// middleware (never serialised by the handler itself).
#[derive(Clone, Debug)]
pub struct InternalDetail(pub String);

/// Every error the API answers: its status, `code` and usual message. The one
/// table (contract §1): every error body is built from it, and the OpenAPI
/// document's error responses are generated from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    ValidationError,
    Unauthenticated,
    TokenExpired,
    SessionRevoked,
    InvalidCredentials,
    InvalidRefreshToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    LimitReached,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// Every code, in the contract's order.
    pub const ALL: [ErrorCode; 18] = [
        Self::ValidationError,
        Self::Unauthenticated,
        Self::TokenExpired,
        Self::SessionRevoked,
        Self::InvalidCredentials,
        Self::InvalidRefreshToken,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RangeNotSatisfiable,
        Self::LimitReached,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
    ];

    /// Status, code and the usual message.
    const fn row(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::ValidationError => (
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "Validation failed",
            ),
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Authentication required",
            ),
            Self::TokenExpired => (
                StatusCode::UNAUTHORIZED,
                "TOKEN_EXPIRED",
                "Access token expired",
            ),
            Self::SessionRevoked => (
                StatusCode::UNAUTHORIZED,
                "SESSION_REVOKED",
                "Session has been revoked",
            ),
            Self::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                "Invalid email or password",
            ),
            Self::InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                "INVALID_REFRESH_TOKEN",
                "Invalid refresh token",
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "You do not have permission to do this",
            ),
            Self::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND", "Not found"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body did not arrive in time",
            ),
            Self::Conflict => (StatusCode::CONFLICT, "CONFLICT", "Conflict"),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Request body is too large",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type must be application/json",
            ),
            Self::RangeNotSatisfiable => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_NOT_SATISFIABLE",
                "Range not satisfiable",
            ),
            Self::LimitReached => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "LIMIT_REACHED",
                "Limit reached",
            ),
            Self::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many requests, please try again later",
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal server error",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "Service temporarily unavailable",
            ),
        }
    }

    pub const fn status(self) -> StatusCode {
        self.row().0
    }

    pub const fn code(self) -> &'static str {
        self.row().1
    }

    /// The usual message for this code.
    pub const fn message(self) -> &'static str {
        self.row().2
    }

    /// The envelope with the usual message.
    pub fn response(self) -> HttpResponse {
        self.respond(self.message(), None)
    }

    /// The envelope with `message`, and `errors` for a validation error. A
    /// `401` carries `WWW-Authenticate: Bearer`, a `503` `Retry-After: 1`.
    pub fn respond(self, message: &str, errors: Option<&[FieldError]>) -> HttpResponse {
        let mut res = HttpResponse::build(self.status()).json(ErrorBody {
            status: "error",
            message,
            code: self.code(),
            errors,
            detail: None,
        });
        match self.status() {
            StatusCode::UNAUTHORIZED => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }

    /// `400 VALIDATION_ERROR` with these fields.
    pub fn invalid(errors: &[FieldError]) -> HttpResponse {
        Self::ValidationError.respond(Self::ValidationError.message(), Some(errors))
    }
}

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
    /// The row of the table a domain error answers with.
    pub fn code(&self) -> ErrorCode {
        match &self.0 {
            DomainError::Validation(_) => ErrorCode::ValidationError,
            DomainError::Unauthenticated => ErrorCode::Unauthenticated,
            DomainError::TokenExpired => ErrorCode::TokenExpired,
            DomainError::SessionRevoked => ErrorCode::SessionRevoked,
            DomainError::InvalidCredentials => ErrorCode::InvalidCredentials,
            DomainError::InvalidRefreshToken => ErrorCode::InvalidRefreshToken,
            DomainError::Forbidden => ErrorCode::Forbidden,
            DomainError::NotFound(_) => ErrorCode::NotFound,
            DomainError::Conflict(_) | DomainError::OutOfSequence { .. } => ErrorCode::Conflict,
            DomainError::LimitReached(_) => ErrorCode::LimitReached,
            DomainError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            DomainError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            DomainError::Unavailable => ErrorCode::Unavailable,
            DomainError::Internal(_) => ErrorCode::Internal,
            _ => ErrorCode::Internal,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        let errors = match &self.0 {
            DomainError::Validation(list) => Some(list.as_slice()),
            _ => None,
        };
        let mut res = self.code().respond(&self.0.public_message(), errors);
        if let DomainError::Internal(detail) = &self.0 {
            res.extensions_mut().insert(InternalDetail(detail.clone()));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_the_contracts_and_distinct() {
        let codes: std::collections::HashSet<_> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        for c in ErrorCode::ALL {
            assert!(c.status().is_client_error() || c.status().is_server_error());
            assert!(
                c.code()
                    .chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch == '_')
            );
        }
    }
}
