//! bcrypt, and a gate that bounds how many hashes run at once.

use domain::DomainError;
use std::sync::{Condvar, Mutex, PoisonError};

/// Hashes a password at `cost` (4..=31).
pub(crate) fn hash_password(password: &str, cost: u32) -> Result<String, DomainError> {
    bcrypt::hash(password, cost).map_err(|e| DomainError::Internal(format!("bcrypt: {e}")))
}

/// True if `password` matches `hash`; a malformed hash never matches.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// At most `limit` bcrypt computations at once; the others wait their turn.
/// A hash takes tens of milliseconds of one core: without a bound, a burst of
/// logins takes every core and every other request waits behind it.
#[derive(Debug)]
pub(crate) struct HashGate {
    limit: usize,
    running: Mutex<usize>,
    freed: Condvar,
}

impl HashGate {
    /// `limit` 0 means no bound.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: if limit == 0 { usize::MAX } else { limit },
            running: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Runs `f` once fewer than `limit` others are running.
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            while *running >= self.limit {
                running = self
                    .freed
                    .wait(running)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            *running += 1;
        }
        let _release = Release(self);
        f()
    }
}

/// Gives the place back however `f` ends, a panic included.
struct Release<'a>(&'a HashGate);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running -= 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn the_gate_never_lets_more_than_its_limit_run_at_once() {
        let gate = Arc::new(HashGate::new(2));
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, now, most) = (gate.clone(), now.clone(), most.clone());
                std::thread::spawn(move || {
                    gate.run(|| {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(*gate.running.lock().unwrap(), 0);
    }

    #[test]
    fn a_panic_inside_gives_the_place_back() {
        let gate = HashGate::new(1);
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gate.run(|| panic!("boom"))));
        assert!(r.is_err());
        assert_eq!(gate.run(|| 7), 7);
    }
}
