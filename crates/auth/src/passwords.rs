//! bcrypt, and the threads that run it at the lowest priority.

use domain::DomainError;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

/// Hashes a password at `cost` (4..=31).
pub(crate) fn hash_password(password: &str, cost: u32) -> Result<String, DomainError> {
    bcrypt::hash(password, cost).map_err(|e| DomainError::Internal(format!("bcrypt: {e}")))
}

/// True if `password` matches `hash`; a malformed hash never matches.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

type Job = Box<dyn FnOnce() + Send>;

/// bcrypt's own threads, at the lowest nice value (`nice 19`).
///
/// A hash takes tens of milliseconds of one core. On its own threads at the
/// lowest priority, a burst of logins uses every core nobody else wants, and
/// any other request preempts it at once: logins get the idle cycles and a
/// sliver (about 1.5 %) of the busy ones, so they never starve. (`SCHED_IDLE`
/// was tried: its share of a busy core is five times smaller, and on a machine
/// saturated by other processes a login took over ten seconds.) The callers
/// wait (on the blocking pool) for their turn.
#[derive(Debug)]
pub(crate) struct HashPool {
    /// `None` once dropping: the threads see the channel close and end.
    jobs: Option<mpsc::Sender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl HashPool {
    /// `size` threads (0: one per core) at nice `nice` (0 to 19).
    pub(crate) fn new(size: usize, nice: i32) -> Result<Self, DomainError> {
        let size = if size == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            size
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(size);
        for i in 0..size {
            let rx = rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    loop {
                        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .map_err(|e| DomainError::Internal(format!("cannot start bcrypt threads: {e}")))?;
            threads.push(t);
        }
        Ok(Self {
            jobs: Some(tx),
            threads,
        })
    }

    /// How many threads hash.
    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.threads.len()
    }

    /// Runs `f` on one of the pool's threads and waits for its result.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DomainError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            // The caller may have gone; nothing to tell then.
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        let gone = || DomainError::Internal("the bcrypt threads have stopped".into());
        if !sent {
            return Err(gone());
        }
        match rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(DomainError::Internal("bcrypt panicked".into())),
            Err(_) => Err(gone()),
        }
    }
}

impl Drop for HashPool {
    /// Ends the threads once the queued hashes are done.
    fn drop(&mut self) {
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Adds `nice` to the calling thread's nice value (on Linux the nice value is
/// each thread's own; elsewhere this would lower the whole process, so it is
/// skipped).
#[allow(unsafe_code)]
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: a plain call with an integer argument; it changes only the
        // calling thread's nice value.
        let _ = unsafe { libc::nice(nice) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn the_pool_never_runs_more_than_its_size_at_once() {
        let pool = Arc::new(HashPool::new(2, 19).unwrap());
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (pool, now, most) = (pool.clone(), now.clone(), most.clone());
                std::thread::spawn(move || {
                    pool.run(move || {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                    .unwrap()
                })
            })
            .collect();
        for t in callers {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panic_inside_is_an_error_and_the_pool_goes_on() {
        let pool = HashPool::new(1, 19).unwrap();
        assert!(matches!(
            pool.run(|| -> u8 { panic!("boom") }),
            Err(DomainError::Internal(_))
        ));
        assert_eq!(pool.run(|| 7).unwrap(), 7);
    }

    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    #[test]
    fn the_threads_run_at_nice_19_and_the_callers_do_not() {
        // SAFETY: reads the calling thread's nice value.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        // The caller's nice value before (not 0 under `nice make test`).
        let before = nice();
        let pool = HashPool::new(1, 19).unwrap();
        assert_eq!(pool.run(nice).unwrap(), 19, "19 is the lowest priority");
        assert_eq!(nice(), before, "the caller's thread is unchanged");
    }

    #[test]
    fn zero_means_one_thread_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(HashPool::new(0, 19).unwrap().size(), cores);
    }
}
