//! The one error type the context crates return, and the classified store error
//! that the ports return.

use serde::Serialize;

/// One field that failed validation, as the envelope's `errors[]` carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// camelCase path of the field, e.g. `email` or `product.priceMinor`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl FieldError {
    /// An error on `field` (camelCase path).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What went wrong, in the terms of the contract. `server` maps each variant to
/// its status and `code` in one place.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("Validation failed")]
    /// The input broke these rules, one per field.
    Validation(Vec<FieldError>),
    #[error("Authentication required")]
    /// No credentials, or credentials that are not a valid token.
    Unauthenticated,
    #[error("Access token expired")]
    /// The access token has expired: refresh it.
    TokenExpired,
    #[error("Session has been revoked")]
    /// The token's login session has ended, or its user was deactivated.
    SessionRevoked,
    #[error("Invalid email or password")]
    /// Login failed: unknown email, wrong password or inactive account (one answer for all three).
    InvalidCredentials,
    #[error("Invalid refresh token")]
    /// The refresh token is unknown, expired, revoked or already used.
    InvalidRefreshToken,
    #[error("You do not have permission to do this")]
    /// The caller may see the resource but not do this (a role rule).
    Forbidden,
    /// The resource does not exist, or the caller may not see it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule; the text says which.
    #[error("{0}")]
    Conflict(&'static str),
    /// A per-parent cap.
    #[error("{0}")]
    LimitReached(String),
    /// An upload of a type that is not allowed (or no type at all: empty);
    /// the text says which.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// An upload larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The database is unreachable or the pool is exhausted.
    #[error("Service temporarily unavailable")]
    Unavailable,
    /// Anything unexpected; the detail is for logs, never for a production client.
    #[error("Internal server error")]
    Internal(String),
}

impl DomainError {
    /// A validation error on one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// A uniqueness rule the database enforces, named by what it means rather than
/// by its index: `store` maps each unique index to one of these, so renaming an
/// index cannot silently turn a `409` into a `500`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Another user has this email (case-insensitively).
    EmailTaken,
    /// The chat session already has its vendor.
    VendorExists,
    /// The session already lists this seller for this product (case-insensitively).
    DuplicateOffer,
    /// The session already holds a message with this `clientMessageId`.
    ClientMessageId,
    /// Two messages of one session at the same position (the session lock
    /// makes this impossible; reported, never expected).
    MessagePosition,
    /// A refresh-token hash collided (256 random bits: never expected).
    RefreshToken,
    /// A generated id was already used (UUID v7: never expected).
    Id(Entity),
}

/// The kinds of rows, for errors that name one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A user.
    User,
    /// A login session.
    LoginSession,
    /// A chat session.
    ChatSession,
    /// A message.
    Message,
    /// An uploaded medium.
    Media,
    /// A vendor.
    Vendor,
    /// A seller.
    Seller,
    /// A day of exchange rates.
    ExchangeRates,
}

/// A database failure, classified once by `store`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("row not found")]
    /// The row the write or read needed is not there.
    NotFound,
    /// A unique index refused the write.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The row refers to a parent that does not exist (any more).
    #[error("missing parent: {0:?}")]
    MissingParent(Entity),
    /// A CHECK constraint refused a value the services should have refused
    /// first; the text names the rule, for the log.
    #[error("check violation: {0}")]
    Invalid(String),
    /// Pool timeout, refused or closed connection: worth a 503 and a retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    /// Anything else; the text is for the log.
    Other(String),
}

/// The default for a store error a service did not expect: an outage stays an
/// outage (503), anything else is internal (500). Expected cases (a unique
/// violation that means "taken") are matched by the service before this applies.
impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => DomainError::Unavailable,
            other => DomainError::Internal(other.to_string()),
        }
    }
}
