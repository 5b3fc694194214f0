//! The per-request login-session check, answered from memory when it safely
//! can (contract §2: a revocation takes effect at once on the instance that
//! handled it, and within one second on every other instance).
//!
//! A [`CallerCache`] remembers, per login session, the actor a database check
//! found live, with the session's expiry. It answers only while it is
//! *confirmed*: the instance's listener (the `LISTEN` connection of live
//! events) proves with a round trip at least every few hundred milliseconds
//! that it has heard every change committed before that trip, and each proof
//! is good for [`CallerCache::FRESH_FOR`]. So:
//!
//! - On the instance that revokes, the service forgets the user's entries
//!   right after its write commits ([`CallerCache::forget_user`]).
//! - On every other instance, the database's triggers notify the user's id
//!   on `dealroom_auth`; the listener forgets the entries when it hears it.
//! - If the listener is slow, disconnected or gone, its last proof runs out
//!   within a second and every check goes to the database again; when it
//!   reconnects, the cache starts empty ([`CallerCache::lost`]).
//! - An entry stored by a check that raced with a revocation is never kept:
//!   every forget bumps a generation, and an entry is stored only if the
//!   generation is the one read before the check ([`CallerCache::ticket`]).

use crate::actor::Actor;
use crate::ids::{LoginSessionId, UserId};
use crate::roles::Role;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// What the per-request check finds for a live login session: the actor with
/// the user's current role, and when the login session expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveActor {
    /// The actor, with the user's current role.
    pub actor: Actor,
    /// When the login session expires (its refresh lifetime from login).
    pub session_expires_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    user: UserId,
    role: Role,
    expires_at: OffsetDateTime,
}

/// The login sessions an instance has recently found live (see the module's
/// documentation for when it may answer).
#[derive(Debug)]
pub struct CallerCache {
    entries: RwLock<HashMap<LoginSessionId, Entry>>,
    /// Bumped by every forget, under the entries' write lock.
    generation: AtomicU64,
    /// Milliseconds since `epoch` until which answers are allowed (0: never).
    confirmed_until: AtomicU64,
    epoch: Instant,
    capacity: usize,
}

impl CallerCache {
    /// How long one proof from the listener lets the cache answer. Below the
    /// contract's one second, with room for the proof's own round trip.
    pub const FRESH_FOR: Duration = Duration::from_millis(900);

    /// A cache of at most `capacity` login sessions (0: it never stores, every
    /// check goes to the database). It answers nothing until its first
    /// [`CallerCache::confirmed`].
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            confirmed_until: AtomicU64::new(0),
            epoch: Instant::now(),
            capacity,
        }
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn answers(&self) -> bool {
        self.millis(Instant::now()) < self.confirmed_until.load(Ordering::Acquire)
    }

    /// The actor of a live login session `session` of `user`, if the cache may
    /// answer and knows it.
    pub fn get(&self, user: UserId, session: LoginSessionId) -> Option<Actor> {
        if !self.answers() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let e = entries.get(&session)?;
        (e.user == user && e.expires_at > OffsetDateTime::now_utc())
            .then(|| Actor::__from_store(user, session, e.role))
    }

    /// Read before a database check; hand it back to [`CallerCache::put`].
    pub fn ticket(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers what a database check found, unless anything was forgotten
    /// since `ticket` was read (the check may have raced with a revocation).
    pub fn put(&self, ticket: u64, live: &LiveActor) {
        let Some(session) = live.actor.login_session_id() else {
            return;
        };
        if self.capacity == 0 || !self.answers() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != ticket {
            return;
        }
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(
            session,
            Entry {
                user: live.actor.user_id,
                role: live.actor.role(),
                expires_at: live.session_expires_at,
            },
        );
    }

    /// Forgets every login session of `user`: one was revoked, or the user's
    /// role, state or existence changed.
    pub fn forget_user(&self, user: UserId) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.retain(|_, e| e.user != user);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.clear();
        }
    }

    /// The listener's round trip that started at `at` came back, and every
    /// notice it brought was applied: the cache may answer until
    /// `at + FRESH_FOR`.
    pub fn confirmed(&self, at: Instant) {
        let until = self.millis(at + Self::FRESH_FOR);
        self.confirmed_until.fetch_max(until, Ordering::AcqRel);
    }

    /// The listener lost its connection, or made a new one (notices in between
    /// are lost): answer nothing and forget everything until the next proof.
    pub fn lost(&self) {
        self.confirmed_until.store(0, Ordering::Release);
        self.clear();
    }

    /// How many login sessions are remembered.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(user: UserId, role: Role, ttl: time::Duration) -> LiveActor {
        LiveActor {
            actor: Actor::__from_store(user, LoginSessionId::new(), role),
            session_expires_at: OffsetDateTime::now_utc() + ttl,
        }
    }

    fn sid(l: &LiveActor) -> LoginSessionId {
        l.actor.login_session_id().unwrap_or_default()
    }

    fn confirmed_cache() -> CallerCache {
        let c = CallerCache::new(100);
        c.confirmed(Instant::now());
        c
    }

    #[test]
    fn an_unconfirmed_cache_neither_answers_nor_stores() {
        let c = CallerCache::new(100);
        let l = live(UserId::new(), Role::User, time::Duration::hours(1));
        c.put(c.ticket(), &l);
        assert!(c.is_empty());
        c.confirmed(Instant::now());
        c.put(c.ticket(), &l);
        assert_eq!(c.get(l.actor.user_id, sid(&l)), Some(l.actor));
        c.lost();
        assert_eq!(c.get(l.actor.user_id, sid(&l)), None);
        assert!(c.is_empty());
    }

    #[test]
    fn a_proof_runs_out() {
        let c = CallerCache::new(100);
        c.confirmed(Instant::now() - CallerCache::FRESH_FOR);
        let l = live(UserId::new(), Role::User, time::Duration::hours(1));
        c.put(c.ticket(), &l);
        assert_eq!(c.get(l.actor.user_id, sid(&l)), None);
    }

    #[test]
    fn forgetting_a_user_forgets_only_their_sessions() {
        let c = confirmed_cache();
        let a = live(UserId::new(), Role::User, time::Duration::hours(1));
        let b = live(UserId::new(), Role::Agent, time::Duration::hours(1));
        c.put(c.ticket(), &a);
        c.put(c.ticket(), &b);
        c.forget_user(a.actor.user_id);
        assert_eq!(c.get(a.actor.user_id, sid(&a)), None);
        assert_eq!(c.get(b.actor.user_id, sid(&b)), Some(b.actor));
    }

    #[test]
    fn a_check_that_raced_with_a_forget_is_not_stored() {
        let c = confirmed_cache();
        let a = live(UserId::new(), Role::User, time::Duration::hours(1));
        let ticket = c.ticket();
        c.forget_user(a.actor.user_id);
        c.put(ticket, &a);
        assert!(c.is_empty());
    }

    #[test]
    fn an_expired_session_or_another_user_is_not_answered() {
        let c = confirmed_cache();
        let a = live(UserId::new(), Role::User, time::Duration::milliseconds(-1));
        c.put(c.ticket(), &a);
        assert_eq!(c.get(a.actor.user_id, sid(&a)), None);
        let b = live(UserId::new(), Role::User, time::Duration::hours(1));
        c.put(c.ticket(), &b);
        assert_eq!(c.get(UserId::new(), sid(&b)), None);
    }

    #[test]
    fn a_full_cache_starts_over_and_a_zero_capacity_stores_nothing() {
        let c = CallerCache::new(2);
        c.confirmed(Instant::now());
        for _ in 0..3 {
            c.put(
                c.ticket(),
                &live(UserId::new(), Role::User, time::Duration::hours(1)),
            );
        }
        assert_eq!(c.len(), 1);
        let z = CallerCache::new(0);
        z.confirmed(Instant::now());
        z.put(
            z.ticket(),
            &live(UserId::new(), Role::User, time::Duration::hours(1)),
        );
        assert!(z.is_empty());
    }
}
