//! The SQL migrations under `migrations/`, embedded in the binary.

use diesel::pg::PgConnection;
use diesel::result::QueryResult;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration of `migrations/`, embedded at build time.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A migration failure (connecting, or a statement of the migration).
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies pending migrations; the names of those applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>, MigrationError> {
    Ok(conn
        .run_pending_migrations(MIGRATIONS)?
        .iter()
        .map(|v| v.to_string())
        .collect())
}

/// Connects to `url` and applies pending migrations; the names of those applied.
pub fn run_pending_at(url: &str) -> Result<Vec<String>, MigrationError> {
    use diesel::Connection;
    let mut conn =
        PgConnection::establish(url).map_err(|e| format!("cannot connect to the database: {e}"))?;
    run_pending(&mut conn)
}

/// Connects to `url`: the text search configuration the migrations built
/// `messages.search` with (`None` before they ran).
pub fn search_configuration_at(url: &str) -> Result<Option<String>, MigrationError> {
    use diesel::Connection;
    let mut conn =
        PgConnection::establish(url).map_err(|e| format!("cannot connect to the database: {e}"))?;
    Ok(crate::search::search_configuration(&mut conn)?)
}

/// Reverts every applied migration, newest first; the names of those reverted.
pub fn revert_all(conn: &mut PgConnection) -> Result<Vec<String>, MigrationError> {
    Ok(conn
        .revert_all_migrations(MIGRATIONS)?
        .iter()
        .map(|v| v.to_string())
        .collect())
}

/// Reverts the newest applied migration.
pub fn revert_last(conn: &mut PgConnection) -> Result<String, MigrationError> {
    Ok(conn.revert_last_migration(MIGRATIONS)?.to_string())
}

/// True when the database answers and no migration is pending.
pub fn all_applied(conn: &mut PgConnection) -> QueryResult<bool> {
    match conn.has_pending_migration(MIGRATIONS) {
        Ok(pending) => Ok(!pending),
        // The migration table is missing or unreadable: not ready, but a real
        // connection failure must still surface as such.
        Err(e) => match e.downcast::<diesel::result::Error>() {
            Ok(diesel_err) => match *diesel_err {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::Unknown,
                    _,
                ) => Ok(false),
                other => Err(other),
            },
            Err(_) => Ok(false),
        },
    }
}
