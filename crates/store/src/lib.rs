//! PostgreSQL through Diesel: the schema, row structs, the r2d2 pool, embedded
//! migrations, Diesel error classification, and [`PgStore`], which implements
//! every port of `domain`. The only crate that knows SQL.

mod accounts;
mod auth;
mod chat;
mod error;
mod market;
pub mod migrations;
mod pool;
mod prepared;
mod rows;
pub mod schema;

pub use error::{FOREIGN_KEYS, UNIQUE_INDEXES, classify, conflict_of, parent_of};
pub use pool::{Conn, PgPool, PoolSettings, PoolStats, build_pool};

use diesel::PgConnection;
use diesel::result::QueryResult;
use domain::StoreError;
use domain::ports::{HealthStore, StoreResult};
use pool::Waiting;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// The PostgreSQL implementation of every port. Clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Callers waiting for a connection right now.
    waiting: Arc<AtomicUsize>,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            waiting: Arc::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool's state now: its size, open and idle connections, and how
    /// many callers wait for one.
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats::of(&self.pool, &self.waiting)
    }

    /// Runs `f` on a pooled connection; classifies its error, and retires the
    /// connection from the pool if the error says it is dead.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
    ) -> StoreResult<T> {
        self.run_waiting(self.pool.connection_timeout(), f)
    }

    /// [`PgStore::run`], waiting at most `checkout` for a connection.
    fn run_waiting<T>(
        &self,
        checkout: Duration,
        f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
    ) -> StoreResult<T> {
        let mut conn = {
            let _waiting = Waiting::enter(&self.waiting);
            self.pool.get_timeout(checkout)
        }
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        f(&mut conn.pg).map_err(|e| conn.fail(e))
    }

    /// Runs `f` in one transaction.
    pub(crate) fn tx<T>(
        &self,
        f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
    ) -> StoreResult<T> {
        use diesel::Connection;
        self.run(|c| c.transaction(f))
    }
}

/// How long the readiness check waits for a connection.
pub const READY_CHECKOUT: Duration = Duration::from_millis(800);

impl HealthStore for PgStore {
    /// Waits at most [`READY_CHECKOUT`] for a connection, whatever the pool's
    /// own timeout: a probe must answer within a second while the database is down.
    fn ready(&self) -> StoreResult<bool> {
        let checkout = self.pool.connection_timeout().min(READY_CHECKOUT);
        self.run_waiting(checkout, migrations::all_applied)
    }
}
