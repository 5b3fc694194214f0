//! The r2d2 pool. Connections carry a `broken` flag that the store sets when a
//! query fails because the connection died, so the pool drops them without
//! paying a `SELECT 1` on every checkout, and the service recovers by itself
//! after a database restart.

use diesel::Connection;
use diesel::connection::{CacheSize, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::result::{ConnectionError, Error as DieselError};
use domain::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A pooled PostgreSQL connection.
pub struct Conn {
    // Dropped first (fields drop in order): the connection is closed before
    // `_alive` says so.
    pub pg: PgConnection,
    broken: bool,
    _alive: Arc<Alive>,
}

/// Held by a pool's manager and by every connection it opened: while any
/// strong reference lives, a thread may still be using libpq for this pool.
#[derive(Debug, Default)]
pub(crate) struct Alive;

impl Conn {
    /// Classifies a failed query's error; a dead connection is marked for disposal.
    pub fn fail(&mut self, e: DieselError) -> StoreError {
        let err = crate::error::classify(e);
        if matches!(err, StoreError::Unavailable(_)) {
            self.broken = true;
        }
        err
    }
}

/// Run once on each new connection.
///
/// Every statement keeps one plan, whatever the size of the tables: a
/// prepared statement is planned once per connection (its generic plan) and
/// never again. Under PostgreSQL's default (`auto`), the hot statements —
/// the login-session check, the message page, the post — were planned anew
/// on every execution on a large database, because their generic plan's cost
/// estimate stays above the custom plans' (one session of a million
/// messages): a page fell from about 6 800 to 4 900 requests/s. Each of them
/// looks rows up by key, so the generic plan is the index plan at any size
/// (`make bench` keeps their `EXPLAIN` in `target/bench/`). The one statement
/// whose best plan could depend on its values, the message search, asks for
/// its own plan mode in its transaction (`SET LOCAL`, see `search.rs`).
const SESSION_SETUP: &str = "SET plan_cache_mode = force_generic_plan";

/// Opens [`Conn`]s for r2d2.
pub struct Manager {
    url: String,
    alive: Arc<Alive>,
    statement_cache: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Connect(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] DieselError),
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = ManagerError;

    fn connect(&self) -> Result<Conn, ManagerError> {
        let mut pg = PgConnection::establish(&self.url)?;
        if self.statement_cache {
            pg.batch_execute(SESSION_SETUP)?;
        } else {
            // Behind a transaction pooler the next statement may run on
            // another server connection, which never prepared ours: every
            // statement then goes as one Parse-Bind-Execute of the unnamed
            // statement (libpq's PQsendQueryParams). Such a statement gets a
            // plan of its own each time whatever `plan_cache_mode` says, and
            // a session's SET would land on one server connection of the
            // pooler's, and stay there for its other clients: no setup.
            pg.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
        Ok(Conn {
            pg,
            broken: false,
            _alive: self.alive.clone(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), ManagerError> {
        conn.pg.ping().map_err(ManagerError::Query)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || std::thread::panicking() || conn.pg.is_broken()
    }
}

pub type PgPool = r2d2::Pool<Manager>;

/// How the pool is sized and how long a request waits for a connection.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// The most connections the pool opens.
    pub max_size: u32,
    /// Connections kept open while idle (opened in the background at start).
    pub min_idle: u32,
    /// How long a checkout waits before the request gets `503 UNAVAILABLE`.
    pub connection_timeout: Duration,
    /// Prepare each statement once per connection and reuse it (`true`), or
    /// send every statement with its parameters unprepared (`false`): what a
    /// transaction pooler such as PgBouncer needs (`DB_STATEMENT_CACHE=off`).
    pub statement_cache: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            min_idle: 4,
            connection_timeout: Duration::from_secs(3),
            statement_cache: true,
        }
    }
}

/// Builds the pool without connecting yet: the server starts (and `/health`
/// answers) even when the database is briefly away. With it, what tells when
/// the pool and every connection it opened are gone.
pub(crate) fn build_pool(url: &str, settings: &PoolSettings) -> (PgPool, Weak<Alive>) {
    let alive = Arc::new(Alive);
    let tracker = Arc::downgrade(&alive);
    (build_pool_sharing(url, settings, alive), tracker)
}

/// [`build_pool`] whose connections count in another pool's `alive` (a
/// store's second and third pools: closing the store waits for all three).
pub(crate) fn build_pool_sharing(url: &str, settings: &PoolSettings, alive: Arc<Alive>) -> PgPool {
    r2d2::Pool::builder()
        .max_size(settings.max_size.max(1))
        .min_idle(Some(settings.min_idle.min(settings.max_size)))
        .connection_timeout(settings.connection_timeout)
        .test_on_check_out(false)
        .error_handler(Box::new(QuietErrors))
        .build_unchecked(Manager {
            url: url.to_owned(),
            alive,
            statement_cache: settings.statement_cache,
        })
}

/// r2d2's default handler logs every failed connect at error level; during an
/// outage that is one line per attempt. Keep them at warn.
#[derive(Debug)]
struct QuietErrors;

impl r2d2::HandleError<ManagerError> for QuietErrors {
    fn handle_error(&self, error: ManagerError) {
        log::warn!("database connection failed: {error}");
    }
}

/// A snapshot of the pool, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max_size: u32,
    /// Connections open now, idle or in use.
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Callers waiting for a connection now.
    pub waiting: usize,
}

impl PoolStats {
    pub(crate) fn of(pool: &PgPool, waiting: &AtomicUsize) -> Self {
        let state = pool.state();
        Self {
            max_size: pool.max_size(),
            connections: state.connections,
            idle: state.idle_connections,
            waiting: waiting.load(Ordering::Relaxed),
        }
    }
}

/// Counts a caller as waiting for a connection while it lives, whichever way
/// the checkout ends (a connection, a timeout, or a panic).
pub(crate) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    pub(crate) fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_counts_while_the_guard_lives() {
        let counter = AtomicUsize::new(0);
        {
            let _a = Waiting::enter(&counter);
            let _b = Waiting::enter(&counter);
            assert_eq!(counter.load(Ordering::Relaxed), 2);
        }
        assert_eq!(counter.load(Ordering::Relaxed), 0);
        let unwound = std::panic::catch_unwind(|| {
            let _w = Waiting::enter(&counter);
            panic!("checkout failed");
        });
        assert!(unwound.is_err());
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }
}
