//! A read replica: a second pool, the reads that may lag go to it, and a
//! background check of how far behind the primary it is.
//!
//! Which reads: only those that need not see the caller's own writes (see
//! [`PgStore::read`]'s callers: message search and the title search of chat
//! sessions). Everything else, the login-session check and the message pages
//! (a page is what a client reads right after its post, and it also replays
//! missed live events) included, reads the primary.
//!
//! The replica is used only while its last check, at most
//! [`ReplicaSettings::check_interval`] ago, found it answering and at most
//! `max_lag` behind; a read that fails on it (the replica went down, a query
//! cancelled by recovery) marks it unusable and runs again on the primary,
//! so the client never sees the replica's trouble.

use crate::PgStore;
use crate::pool::{self, Alive, PgPool, PoolSettings};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Bool, Double};
use domain::ports::StoreResult;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long a read waits for a replica connection before it goes to the
/// primary instead: a busy replica pool spills over rather than queueing.
pub const REPLICA_CHECKOUT: Duration = Duration::from_millis(200);

/// Where the replica is and how much lag is tolerated.
#[derive(Clone, Debug)]
pub struct ReplicaSettings {
    /// A connection URL of the replica (a hot standby of the primary).
    pub url: String,
    /// A replica further behind than this is skipped (`REPLICA_MAX_LAG`).
    pub max_lag: Duration,
    /// How often its lag is measured.
    pub check_interval: Duration,
    /// Its pool (the statement cache as the primary's).
    pub pool: PoolSettings,
}

/// The replica's state now, for `/metrics` and `/ready`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicaStats {
    /// Reads go to it now: it answered the last check and was at most
    /// `max_lag` behind.
    pub usable: bool,
    /// How far behind the primary it was at the last check; `None` when the
    /// check failed (down, or not reached yet).
    pub lag: Option<Duration>,
    /// The tolerated lag.
    pub max_lag: Duration,
    /// Reads the replica answered.
    pub reads: u64,
    /// Reads that went to the primary because the replica was unusable,
    /// busy or failed.
    pub fallbacks: u64,
    /// Its pool.
    pub pool: crate::PoolStats,
}

pub(crate) struct Replica {
    pool: PgPool,
    /// A clone of the primary's pool, for the check's position of the primary.
    primary: PgPool,
    max_lag: Duration,
    usable: AtomicBool,
    /// Microseconds behind at the last check; negative: unknown (down).
    lag_micros: AtomicI64,
    reads: AtomicU64,
    fallbacks: AtomicU64,
    waiting: std::sync::atomic::AtomicUsize,
}

#[derive(QueryableByName)]
struct PrimaryPosition {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

#[derive(QueryableByName)]
struct ReplicaPosition {
    #[diesel(sql_type = Bool)]
    standby: bool,
    #[diesel(sql_type = BigInt)]
    lsn: i64,
    #[diesel(sql_type = Double)]
    behind: f64,
}

/// The primary's WAL position, in bytes.
const PRIMARY_LSN_SQL: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn";
/// The replica's replayed position and the age of its last replayed transaction.
const REPLICA_LSN_SQL: &str = "SELECT pg_is_in_recovery() AS standby, \
COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0) AS lsn, \
COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, 0) AS behind";

impl Replica {
    pub(crate) fn open(
        settings: &ReplicaSettings,
        primary: PgPool,
        alive: Arc<Alive>,
    ) -> Arc<Replica> {
        let replica = Arc::new(Replica {
            pool: pool::build_pool_sharing(&settings.url, &settings.pool, alive),
            primary,
            max_lag: settings.max_lag,
            usable: AtomicBool::new(false),
            lag_micros: AtomicI64::new(-1),
            reads: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            waiting: Default::default(),
        });
        let weak = Arc::downgrade(&replica);
        let interval = settings.check_interval;
        // The check holds the replica only while it runs: once every store
        // is dropped, the thread ends at its next tick.
        let spawned = std::thread::Builder::new()
            .name("dealroom-replica-lag".into())
            .spawn(move || check_periodically(weak, interval));
        if let Err(e) = spawned {
            log::warn!("cannot start the replica's lag check ({e}); reads stay on the primary");
        }
        replica
    }

    /// Measures the lag once and decides whether reads may go to it.
    fn check(&self) {
        let primary = self
            .primary
            .get_timeout(Duration::from_secs(1))
            .ok()
            .and_then(|mut c| {
                diesel::sql_query(PRIMARY_LSN_SQL)
                    .get_result::<PrimaryPosition>(&mut c.pg)
                    .map_err(|e| c.fail(e))
                    .ok()
            });
        let Some(primary) = primary else {
            // Without the primary's position the lag is unknown; the primary
            // being down is the server's trouble, not the replica's: keep the
            // last decision.
            return;
        };
        let replica = self
            .pool
            .get_timeout(Duration::from_secs(1))
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                diesel::sql_query(REPLICA_LSN_SQL)
                    .get_result::<ReplicaPosition>(&mut c.pg)
                    .map_err(|e| c.fail(e).to_string())
            });
        match replica {
            Ok(r) => {
                let lag = lag_of(primary.lsn, &r);
                let usable = lag <= self.max_lag;
                self.lag_micros.store(
                    i64::try_from(lag.as_micros()).unwrap_or(i64::MAX),
                    Ordering::Relaxed,
                );
                let was = self.usable.swap(usable, Ordering::Relaxed);
                if was != usable {
                    if usable {
                        log::info!("read replica in use (lag {lag:?})");
                    } else {
                        log::warn!(
                            "read replica skipped: {lag:?} behind, more than REPLICA_MAX_LAG {:?}",
                            self.max_lag
                        );
                    }
                }
            }
            Err(e) => {
                self.lag_micros.store(-1, Ordering::Relaxed);
                if self.usable.swap(false, Ordering::Relaxed) {
                    log::warn!("read replica skipped: {e}");
                }
            }
        }
    }

    pub(crate) fn stats(&self) -> ReplicaStats {
        let lag = self.lag_micros.load(Ordering::Relaxed);
        ReplicaStats {
            usable: self.usable.load(Ordering::Relaxed),
            lag: u64::try_from(lag).ok().map(Duration::from_micros),
            max_lag: self.max_lag,
            reads: self.reads.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            pool: crate::PoolStats::of(&self.pool, &self.waiting),
        }
    }
}

/// How far behind the replica is: nothing when it has replayed everything
/// the primary had written when asked (or is no standby at all: then it is
/// the primary itself, or one promoted), else the age of the last
/// transaction it replayed.
fn lag_of(primary_lsn: i64, r: &ReplicaPosition) -> Duration {
    if !r.standby || r.lsn >= primary_lsn {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(r.behind.max(0.0)).unwrap_or(Duration::MAX)
    }
}

fn check_periodically(replica: Weak<Replica>, interval: Duration) {
    loop {
        match replica.upgrade() {
            Some(r) => r.check(),
            None => return,
        }
        // Sleep in short steps, so the thread ends soon after the store.
        let mut slept = Duration::ZERO;
        while slept < interval {
            let step = (interval - slept).min(Duration::from_millis(100));
            std::thread::sleep(step);
            slept += step;
            if replica.strong_count() == 0 {
                return;
            }
        }
    }
}

impl PgStore {
    /// Runs a read that may lag (by at most `REPLICA_MAX_LAG`) on the replica
    /// when there is a usable one, else, or when it fails there, on the
    /// primary. `f` may run twice.
    pub(crate) fn read<T>(
        &self,
        mut f: impl FnMut(&mut PgConnection) -> QueryResult<T>,
    ) -> StoreResult<T> {
        if let Some(replica) = &self.replica {
            if replica.usable.load(Ordering::Relaxed) {
                let conn = {
                    let _waiting = pool::Waiting::enter(&replica.waiting);
                    replica.pool.get_timeout(REPLICA_CHECKOUT)
                };
                // A busy replica (no connection at once) spills over to the primary.
                if let Ok(mut conn) = conn {
                    match f(&mut conn.pg) {
                        Ok(v) => {
                            replica.reads.fetch_add(1, Ordering::Relaxed);
                            return Ok(v);
                        }
                        Err(e) => {
                            let err = conn.fail(e);
                            if matches!(err, domain::StoreError::Unavailable(_))
                                && replica.usable.swap(false, Ordering::Relaxed)
                            {
                                log::warn!("read replica skipped: {err}");
                            }
                        }
                    }
                }
            }
            replica.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        self.run(f)
    }

    /// [`PgStore::read`] in one transaction.
    pub(crate) fn read_tx<T>(
        &self,
        mut f: impl FnMut(&mut PgConnection) -> QueryResult<T>,
    ) -> StoreResult<T> {
        use diesel::Connection;
        self.read(|c| c.transaction(&mut f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(standby: bool, lsn: i64, behind: f64) -> ReplicaPosition {
        ReplicaPosition {
            standby,
            lsn,
            behind,
        }
    }

    #[test]
    fn a_replica_that_replayed_everything_has_no_lag_however_old_its_last_transaction() {
        assert_eq!(lag_of(100, &at(true, 100, 3600.0)), Duration::ZERO);
        assert_eq!(lag_of(100, &at(true, 120, 3600.0)), Duration::ZERO);
    }

    #[test]
    fn a_replica_behind_the_primary_lags_by_its_last_replayed_transactions_age() {
        assert_eq!(lag_of(100, &at(true, 90, 2.5)), Duration::from_millis(2500));
        assert_eq!(lag_of(100, &at(true, 90, -0.1)), Duration::ZERO);
    }

    #[test]
    fn a_server_that_is_no_standby_has_no_lag() {
        assert_eq!(lag_of(100, &at(false, 0, 0.0)), Duration::ZERO);
    }
}
