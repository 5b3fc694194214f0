//! bcrypt.

use domain::DomainError;

/// Hashes a password at `cost` (4..=31).
pub fn hash_password(password: &str, cost: u32) -> Result<String, DomainError> {
    bcrypt::hash(password, cost).map_err(|e| DomainError::Internal(format!("bcrypt: {e}")))
}

/// True if `password` matches `hash`; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}
