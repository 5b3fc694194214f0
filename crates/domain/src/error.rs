//! The one error type the context crates return, and the classified store error
//! that the ports return.

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

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

/// `field: message`, e.g. `email: must be a valid email address`.
impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A validation error's fields, as its `Display` shows them.
struct Fields<'a>(&'a [FieldError]);

impl fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Validation failed")?;
        for (i, e) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            e.fmt(f)?;
        }
        Ok(())
    }
}

/// What went wrong, in the terms of the contract. `server` maps each variant to
/// its status and `code` in one place.
///
/// `Display` is for a Rust caller and for logs: it spells out everything the
/// error holds (a validation error's fields, an internal error's detail):
///
/// ```
/// use domain::{DomainError, FieldError};
///
/// let e = DomainError::Validation(vec![
///     FieldError::new("email", "must be a valid email address"),
///     FieldError::new("name", "must not be blank"),
/// ]);
/// assert_eq!(
///     e.to_string(),
///     "Validation failed: email: must be a valid email address; name: must not be blank"
/// );
/// // What an HTTP client is told stays the contract's sentence.
/// assert_eq!(e.public_message(), "Validation failed");
/// ```
///
/// New variants may come in a minor release (`#[non_exhaustive]`): a `match`
/// outside this crate ends with a `_` arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("{}", Fields(.0))]
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
    /// A delta of a streamed message that is not the next one (a conflict).
    #[error("Delta out of sequence: the next seq is {expected}")]
    OutOfSequence {
        /// The `seq` the next delta must have.
        expected: i64,
    },
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
    #[error("Internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// A validation error on one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// An [`DomainError::Internal`] whose detail is `context`, then `error`
    /// and each of its [`source`](std::error::Error::source)s, joined by `: `
    /// (the chain is kept as text: the error crosses threads and is logged
    /// once, by whoever answers it).
    ///
    /// ```
    /// use domain::DomainError;
    ///
    /// let io = std::io::Error::other("disk full");
    /// let e = DomainError::internal("media storage", &io);
    /// assert_eq!(e.to_string(), "Internal error: media storage: disk full");
    /// ```
    pub fn internal(context: &str, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut detail = format!("{context}: {error}");
        let mut source = error.source();
        while let Some(e) = source {
            detail.push_str(": ");
            detail.push_str(&e.to_string());
            source = e.source();
        }
        Self::Internal(detail)
    }

    /// The sentence an HTTP client is shown (the envelope's `message`): the
    /// contract's, without a validation error's fields (the envelope lists
    /// them apart) and without an internal error's detail (for logs only).
    /// `Display` shows both.
    pub fn public_message(&self) -> Cow<'static, str> {
        match self {
            Self::Validation(_) => Cow::Borrowed("Validation failed"),
            Self::Internal(_) => Cow::Borrowed("Internal server error"),
            // Their `Display` is the contract's sentence. Listed one by one, so
            // that a new variant is classified here, not shown by default.
            Self::Unauthenticated
            | Self::TokenExpired
            | Self::SessionRevoked
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken
            | Self::Forbidden
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::OutOfSequence { .. }
            | Self::LimitReached(_)
            | Self::UnsupportedMediaType(_)
            | Self::PayloadTooLarge(_)
            | Self::Unavailable => Cow::Owned(self.to_string()),
        }
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
    /// A webhook endpoint.
    Webhook,
    /// A delivery of an event to a webhook endpoint.
    WebhookDelivery,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Chained {
        text: &'static str,
        #[source]
        source: Option<Box<Chained>>,
    }

    #[test]
    fn display_spells_out_a_validation_errors_fields() {
        let e = DomainError::Validation(vec![
            FieldError::new("email", "must be a valid email address"),
            FieldError::new("product.priceMinor", "must be at least 0"),
        ]);
        assert_eq!(
            e.to_string(),
            "Validation failed: email: must be a valid email address; product.priceMinor: must be at least 0"
        );
        assert_eq!(
            DomainError::Validation(vec![]).to_string(),
            "Validation failed"
        );
        assert_eq!(
            DomainError::invalid("name", "must not be blank").to_string(),
            "Validation failed: name: must not be blank"
        );
    }

    #[test]
    fn display_shows_an_internal_errors_detail_and_the_public_message_hides_it() {
        let e = DomainError::Internal("bcrypt: invalid cost".into());
        assert_eq!(e.to_string(), "Internal error: bcrypt: invalid cost");
        assert_eq!(e.public_message(), "Internal server error");
    }

    #[test]
    fn the_public_message_is_the_contracts_sentence() {
        let fields = DomainError::invalid("email", "must be a valid email address");
        let cases = [
            (fields, "Validation failed"),
            (DomainError::Unauthenticated, "Authentication required"),
            (DomainError::TokenExpired, "Access token expired"),
            (DomainError::SessionRevoked, "Session has been revoked"),
            (DomainError::InvalidCredentials, "Invalid email or password"),
            (DomainError::InvalidRefreshToken, "Invalid refresh token"),
            (
                DomainError::Forbidden,
                "You do not have permission to do this",
            ),
            (
                DomainError::NotFound("Chat session"),
                "Chat session not found",
            ),
            (
                DomainError::Conflict("Email is already registered"),
                "Email is already registered",
            ),
            (
                DomainError::LimitReached("At most 2 sellers".into()),
                "At most 2 sellers",
            ),
            (
                DomainError::UnsupportedMediaType("Empty upload"),
                "Empty upload",
            ),
            (
                DomainError::PayloadTooLarge("Larger than 10 bytes".into()),
                "Larger than 10 bytes",
            ),
            (DomainError::Unavailable, "Service temporarily unavailable"),
            (
                DomainError::Internal("secret detail".into()),
                "Internal server error",
            ),
        ];
        for (e, message) in cases {
            assert_eq!(e.public_message(), message, "{e:?}");
        }
    }

    #[test]
    fn an_internal_error_keeps_the_source_chain_as_text() {
        let cause = Chained {
            text: "connection refused",
            source: None,
        };
        let error = Chained {
            text: "cannot open the bucket",
            source: Some(Box::new(cause)),
        };
        let e = DomainError::internal("media storage", &error);
        assert_eq!(
            e.to_string(),
            "Internal error: media storage: cannot open the bucket: connection refused"
        );
        assert!(matches!(
            e,
            DomainError::Internal(ref d) if d == "media storage: cannot open the bucket: connection refused"
        ));
    }

    #[test]
    fn a_store_error_becomes_unavailable_or_internal_with_its_text() {
        let down = DomainError::from(StoreError::Unavailable("pool timed out".into()));
        assert!(matches!(down, DomainError::Unavailable));
        let other = DomainError::from(StoreError::Other("syntax error".into()));
        assert_eq!(
            other.to_string(),
            "Internal error: database error: syntax error"
        );
    }
}
