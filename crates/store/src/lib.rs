#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

mod accounts;
mod auth;
mod chat;
mod error;
mod events;
mod market;
mod media;
pub mod migrations;
mod pool;
mod prepared;
mod replica;
mod rows;
mod schema;
pub mod search;
mod webhooks;

pub use error::{FOREIGN_KEYS, UNIQUE_INDEXES, classify, conflict_of, parent_of};
pub use events::CHANNEL;
pub use pool::{PoolSettings, PoolStats};
pub use replica::{REPLICA_CHECKOUT, ReplicaSettings, ReplicaStats};

use diesel::PgConnection;
use diesel::result::QueryResult;
use domain::StoreError;
use domain::ports::{HealthStore, StoreResult};
use pool::{Alive, PgPool, Waiting};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The text search configuration the migrations build `messages.search` with.
pub const DEFAULT_SEARCH_LANGUAGE: &str = "english";

/// The PostgreSQL implementation of every port. Clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Callers waiting for a connection right now.
    waiting: Arc<AtomicUsize>,
    /// Gone once the pool and every connection it opened are closed.
    alive: Weak<Alive>,
    /// Where the pool connects.
    url: Arc<str>,
    /// Where session-level work connects (the events listener's `LISTEN`,
    /// the media collector's advisory locks): `url` unless that is a
    /// transaction pooler.
    direct_url: Arc<str>,
    /// A small pool on `direct_url` when it differs from `url`.
    direct: Option<PgPool>,
    /// The read replica, if any.
    replica: Option<Arc<replica::Replica>>,
    /// The text search configuration of message search queries (`SEARCH_LANGUAGE`).
    search_language: Arc<str>,
    /// Its oid, looked up on first use.
    search_config_oid: Arc<std::sync::OnceLock<u32>>,
}

impl PgStore {
    /// A store on a pool of connections to `url`. Nothing connects yet: the
    /// pool opens `min_idle` connections in the background and more on demand.
    pub fn connect(url: &str, settings: &PoolSettings) -> Self {
        let (pool, alive) = pool::build_pool(url, settings);
        Self {
            pool,
            waiting: Arc::default(),
            alive,
            url: Arc::from(url),
            direct_url: Arc::from(url),
            direct: None,
            replica: None,
            search_language: Arc::from(DEFAULT_SEARCH_LANGUAGE),
            search_config_oid: Arc::default(),
        }
    }

    /// Session-level work (`LISTEN`, advisory locks held across
    /// statements) connects to `url` instead of the pool's URL: the database
    /// itself when the pool goes through a transaction pooler.
    #[must_use]
    pub fn with_direct_url(mut self, url: &str) -> Self {
        if url.is_empty() || url == &*self.url {
            self.direct_url = self.url.clone();
            self.direct = None;
            return self;
        }
        let settings = PoolSettings {
            max_size: 2,
            min_idle: 0,
            connection_timeout: self.pool.connection_timeout(),
            statement_cache: true,
        };
        self.direct = Some(pool::build_pool_sharing(url, &settings, self.keep_alive()));
        self.direct_url = Arc::from(url);
        self
    }

    /// Adds a read replica: reads that may lag go to it while it is at most
    /// `max_lag` behind (see the `replica` module), measured in a background
    /// thread every `check_interval`.
    #[must_use]
    pub fn with_replica(mut self, settings: &ReplicaSettings) -> Self {
        self.replica = Some(replica::Replica::open(
            settings,
            self.pool.clone(),
            self.keep_alive(),
        ));
        self
    }

    /// The replica's state, if there is one.
    pub fn replica_stats(&self) -> Option<ReplicaStats> {
        self.replica.as_ref().map(|r| r.stats())
    }

    /// What a further pool's connections hold so that [`Closing`] waits for them too.
    fn keep_alive(&self) -> Arc<Alive> {
        self.alive.upgrade().unwrap_or_default()
    }

    /// The pool for session-level work (see [`PgStore::with_direct_url`]).
    pub(crate) fn direct_pool(&self) -> &PgPool {
        self.direct.as_ref().unwrap_or(&self.pool)
    }

    /// Message search parses queries with this text search configuration; it
    /// must be the one `messages.search` is built with (see
    /// [`search::search_configuration`]).
    #[must_use]
    pub fn with_search_language(mut self, config: &str) -> Self {
        self.search_language = Arc::from(config);
        self.search_config_oid = Arc::default();
        self
    }

    /// Something to wait on for this store's connections to be closed, once
    /// every clone of the store is dropped: see [`Closing::wait`].
    pub fn closing(&self) -> Closing {
        Closing(self.alive.clone())
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

/// Waits for a store's pool to be gone with all its connections.
#[derive(Debug)]
pub struct Closing(Weak<Alive>);

impl Closing {
    /// Blocks until the last clone of the store is dropped and every
    /// connection its pool opened (also one still being opened in the pool's
    /// background threads) is closed, or `within` has passed; true if closed.
    ///
    /// A program calls this before it exits: libpq's global state (its
    /// Kerberos library among it) is torn down at exit, and a pool thread
    /// still opening or closing a connection then aborts the process.
    pub fn wait(self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.0.strong_count() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
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
