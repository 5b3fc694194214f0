//! Diesel errors, classified once.

use diesel::result::{DatabaseErrorKind, Error};
use domain::StoreError;

/// Turns a Diesel error into the store error the contexts understand.
pub fn classify(e: Error) -> StoreError {
    match e {
        Error::NotFound => StoreError::NotFound,
        Error::DatabaseError(kind, info) => {
            let constraint = || info.constraint_name().unwrap_or_default().to_owned();
            match kind {
                DatabaseErrorKind::UniqueViolation => StoreError::UniqueViolation {
                    constraint: constraint(),
                },
                DatabaseErrorKind::ForeignKeyViolation => StoreError::ForeignKeyViolation {
                    constraint: constraint(),
                },
                DatabaseErrorKind::CheckViolation => StoreError::CheckViolation {
                    constraint: constraint(),
                },
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    StoreError::Unavailable(info.message().to_owned())
                }
                _ if is_outage(info.message()) => {
                    StoreError::Unavailable(info.message().to_owned())
                }
                _ => StoreError::Other(info.message().to_owned()),
            }
        }
        Error::BrokenTransactionManager => {
            StoreError::Unavailable("broken transaction manager".into())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// Messages PostgreSQL sends when the server is going away (admin shutdown,
/// crash recovery, too many clients) without the connection being marked bad yet.
fn is_outage(message: &str) -> bool {
    const SIGNS: [&str; 5] = [
        "terminating connection",
        "server closed the connection",
        "the database system is",
        "too many clients",
        "no connection to the server",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}
