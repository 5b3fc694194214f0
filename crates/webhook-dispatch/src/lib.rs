#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod send;
pub mod sign;

use domain::media::MediaUrls;
use domain::webhooks::{Attempt, Claimed, DeliveryQueue, Resolver};
use send::{Sender, Sent};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use webhooks::address::UrlPolicy;

/// How a dispatcher works; the server fills it from its settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// An attempt's whole time: resolving, connecting, sending, reading the
    /// answer (`WEBHOOK_TIMEOUT`).
    pub timeout: Duration,
    /// An endpoint whose attempts have all failed for this long is disabled
    /// (`WEBHOOK_DISABLE_AFTER`).
    pub disable_after: Duration,
    /// Ended deliveries are deleted this long after they ended
    /// (`WEBHOOK_RETENTION`).
    pub retention: Duration,
    /// Multiplies the retry schedule (`WEBHOOK_RETRY_SCALE`; 1 but in tests).
    pub retry_scale: f64,
    /// Attempts in flight at once in this instance (`WEBHOOK_CONCURRENCY`).
    pub concurrency: usize,
    /// What a target may be (`WEBHOOK_ALLOW_HTTP`, `WEBHOOK_ALLOW_PRIVATE`).
    pub policy: UrlPolicy,
    /// The longest the dispatcher sleeps without looking at the queue, when
    /// no notice wakes it (a lost notice, a dead instance's lease).
    pub idle_check: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            disable_after: Duration::from_secs(5 * 86_400),
            retention: Duration::from_secs(7 * 86_400),
            retry_scale: 1.0,
            concurrency: 16,
            policy: UrlPolicy::default(),
            idle_check: Duration::from_secs(5),
        }
    }
}

impl Settings {
    /// How long an attempt holds its delivery: twice the timeout and 5 s, so
    /// that no attempt still running (the timeout bounds it) is taken over by
    /// another instance; an instance that dies releases its deliveries this
    /// long after it claimed them.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// What a dispatcher counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Attempts acknowledged by a `2xx` (by this instance).
    pub delivered: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retried: AtomicU64,
    /// Attempts that failed for the last time: their delivery is `failed`.
    pub failed: AtomicU64,
    /// Endpoints this instance disabled (failing for `WEBHOOK_DISABLE_AFTER`).
    pub disabled: AtomicU64,
    /// Attempts in flight now.
    pub in_flight: AtomicU64,
    /// Deliveries pending in the database (all instances'), as last read.
    pub pending: AtomicU64,
    /// When the oldest pending delivery's event happened, in Unix
    /// milliseconds, as last read (0: none pending).
    pub oldest_pending_ms: AtomicI64,
    /// Ended deliveries deleted after `WEBHOOK_RETENTION`.
    pub purged: AtomicU64,
}

impl Stats {
    /// The age of the oldest pending delivery now, in seconds (0: none).
    pub fn oldest_pending_age(&self) -> f64 {
        match self.oldest_pending_ms.load(Ordering::Relaxed) {
            0 => 0.0,
            ms => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
                ((now as f64 - ms as f64) / 1000.0).max(0.0)
            }
        }
    }
}

/// The dispatcher of one instance: a thread that claims due deliveries and
/// sends them, and a thread that listens for new ones. Stops with
/// [`Dispatcher::stop`] (or when dropped).
pub struct Dispatcher {
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    stats: Arc<Stats>,
    threads: Vec<JoinHandle<()>>,
}

impl Dispatcher {
    /// Starts the dispatcher on `queue`. `media_urls` signs media links in
    /// message events' bodies; `resolver` resolves targets' names.
    pub fn spawn(
        queue: Arc<dyn DeliveryQueue>,
        settings: Settings,
        media_urls: Option<MediaUrls>,
        resolver: Arc<dyn Resolver>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let stats = Arc::new(Stats::default());
        let listener = {
            let (queue, stop, wake) = (queue.clone(), stop.clone(), wake.clone());
            std::thread::Builder::new()
                .name("webhooks-listener".into())
                .spawn(move || listen(queue.as_ref(), &stop, &wake))?
        };
        let worker = {
            let (stop, wake, stats) = (stop.clone(), wake.clone(), stats.clone());
            std::thread::Builder::new()
                .name("webhooks".into())
                .spawn(move || {
                    let system = actix_rt::System::new();
                    system.block_on(run(Run {
                        queue,
                        settings,
                        media_urls,
                        resolver,
                        stop,
                        wake,
                        stats,
                    }));
                })?
        };
        Ok(Self {
            stop,
            wake,
            stats,
            threads: vec![worker, listener],
        })
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Stops claiming, lets attempts in flight finish (up to a second),
    /// gives back what it still holds, and waits for its threads.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Listens on a connection of its own and wakes the dispatcher when
/// deliveries are written; comes back after the connection drops (the
/// dispatcher's periodic look at the queue covers what was missed).
fn listen(queue: &dyn DeliveryQueue, stop: &AtomicBool, wake: &Notify) {
    let mut backoff = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        let mut wakeups = match queue.listen() {
            Ok(w) => w,
            Err(e) => {
                log::warn!("webhooks listener cannot connect: {e}; again in {backoff:?}");
                sleep_unless(stop, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        // Whatever was written while nobody listened.
        wake.notify_one();
        while !stop.load(Ordering::Relaxed) {
            match wakeups.poll() {
                Ok(0) => {}
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    log::warn!("webhooks listener lost its connection: {e}");
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Run {
    queue: Arc<dyn DeliveryQueue>,
    settings: Settings,
    media_urls: Option<MediaUrls>,
    resolver: Arc<dyn Resolver>,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    stats: Arc<Stats>,
}

/// Runs `f` (a store call) on the runtime's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, domain::StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How often the queue's size is read for `/metrics`.
const STATS_EVERY: Duration = Duration::from_secs(2);
/// How often ended deliveries past their retention are deleted, at most
/// (half the retention when that is shorter, and at least every second).
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// Deletes per statement when purging.
const PURGE_BATCH: i64 = 1000;
/// The longest a busy dispatcher waits before looking at the queue again
/// (an idle one asks the queue when the next retry or lease end is due).
const BUSY_CHECK: Duration = Duration::from_millis(500);
/// How long a stopping dispatcher waits for attempts in flight.
const STOP_GRACE: Duration = Duration::from_secs(1);

async fn run(r: Run) {
    let lease = uuid::Uuid::new_v4();
    let sender = Rc::new(Sender {
        client: send::client(r.settings.timeout),
        policy: r.settings.policy,
        resolver: r.resolver.clone(),
        media_urls: r.media_urls.clone(),
        timeout: r.settings.timeout,
    });
    let in_flight = Rc::new(Cell::new(0usize));
    let concurrency = r.settings.concurrency.max(1);
    let mut last_stats: Option<Instant> = None;
    let mut last_purge: Option<Instant> = None;
    let mut failing = false;
    let purge_every = (r.settings.retention / 2).clamp(Duration::from_secs(1), PURGE_EVERY);
    while !r.stop.load(Ordering::Relaxed) {
        if last_stats.is_none_or(|t| t.elapsed() >= STATS_EVERY) {
            last_stats = Some(Instant::now());
            refresh_stats(&r).await;
        }
        if last_purge.is_none_or(|t| t.elapsed() >= purge_every) {
            last_purge = Some(Instant::now());
            purge(&r).await;
        }
        let free = concurrency.saturating_sub(in_flight.get());
        let mut full = false;
        let mut claimed = 0;
        if free > 0 {
            let (queue, lease_for) = (r.queue.clone(), r.settings.lease());
            let limit = i64::try_from(free).unwrap_or(1);
            match blocking(move || queue.claim(lease, limit, lease_for)).await {
                Ok(batch) => {
                    failing = false;
                    full = batch.len() == free;
                    claimed = batch.len();
                    for d in batch {
                        in_flight.set(in_flight.get() + 1);
                        r.stats.in_flight.fetch_add(1, Ordering::Relaxed);
                        let task = Task {
                            queue: r.queue.clone(),
                            sender: sender.clone(),
                            settings: r.settings.clone(),
                            stats: r.stats.clone(),
                            lease,
                        };
                        let (slots, wake) = (in_flight.clone(), r.wake.clone());
                        actix_rt::spawn(async move {
                            task.deliver(d).await;
                            slots.set(slots.get().saturating_sub(1));
                            task.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                            // A slot is free, and the next delivery of its
                            // session may be due now.
                            wake.notify_one();
                        });
                    }
                }
                Err(e) => {
                    if !failing {
                        log::warn!("webhooks: cannot claim deliveries: {e}");
                    }
                    failing = true;
                }
            }
        }
        // Nothing more to do until a notice, a free slot, or the clock.
        let wait = if full {
            // Every slot is busy: a finishing attempt wakes us.
            r.settings.idle_check
        } else if failing {
            Duration::from_secs(1)
        } else if claimed > 0 {
            // Busy: finishing attempts and notices wake us; a retry that
            // falls due meanwhile waits at most this.
            BUSY_CHECK.min(r.settings.idle_check)
        } else {
            next_wait(&r).await
        };
        let _ = tokio::time::timeout(wait, r.wake.notified()).await;
    }
    // Stopping: attempts in flight get a moment; what is left is given back.
    let until = Instant::now() + STOP_GRACE;
    while in_flight.get() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let queue = r.queue.clone();
    if let Err(e) = blocking(move || queue.release(lease)).await {
        log::warn!("webhooks: cannot release this instance's deliveries: {e}");
    }
}

/// Until the next retry or lease end, at most `idle_check`.
async fn next_wait(r: &Run) -> Duration {
    let queue = r.queue.clone();
    match blocking(move || queue.next_due()).await {
        Ok(Some(at)) => {
            let left = at - time::OffsetDateTime::now_utc();
            let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
            // A little after, so that it is due when we look.
            (left + Duration::from_millis(5)).min(r.settings.idle_check)
        }
        Ok(None) => r.settings.idle_check,
        Err(_) => Duration::from_secs(1),
    }
}

async fn refresh_stats(r: &Run) {
    let queue = r.queue.clone();
    if let Ok(s) = blocking(move || queue.queue_stats()).await {
        r.stats.pending.store(s.pending, Ordering::Relaxed);
        let ms = s.oldest_pending.map_or(0, |t| {
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
        });
        r.stats.oldest_pending_ms.store(ms, Ordering::Relaxed);
    }
}

async fn purge(r: &Run) {
    let Ok(retention) = time::Duration::try_from(r.settings.retention) else {
        return;
    };
    let before = time::OffsetDateTime::now_utc() - retention;
    for _ in 0..10 {
        let queue = r.queue.clone();
        match blocking(move || queue.purge_ended(before, PURGE_BATCH)).await {
            Ok(n) => {
                r.stats.purged.fetch_add(n, Ordering::Relaxed);
                if n < PURGE_BATCH as u64 {
                    break;
                }
            }
            Err(e) => {
                log::warn!("webhooks: cannot delete old deliveries: {e}");
                break;
            }
        }
    }
}

/// One attempt and its record.
struct Task {
    queue: Arc<dyn DeliveryQueue>,
    sender: Rc<Sender>,
    settings: Settings,
    stats: Arc<Stats>,
    lease: uuid::Uuid,
}

/// A number in `[-1, 1]` from the system's generator (0 if it fails).
fn jitter() -> f64 {
    match getrandom::u32() {
        Ok(n) => f64::from(n) / f64::from(u32::MAX) * 2.0 - 1.0,
        Err(_) => 0.0,
    }
}

impl Task {
    async fn deliver(&self, d: Claimed) {
        let timeout = self.settings.timeout;
        let sent = match tokio::time::timeout(timeout, self.sender.attempt(&d)).await {
            Ok(sent) => sent,
            Err(_) => Sent::Failed(format!("no answer within {timeout:?}")),
        };
        let attempt = match sent {
            Sent::Answered { status, .. } if (200..300).contains(&status) => {
                Attempt::Delivered { status }
            }
            other => {
                let (status, error) = match other {
                    Sent::Answered { status, quote } if quote.is_empty() => {
                        (Some(status), format!("answered {status}"))
                    }
                    Sent::Answered { status, quote } => {
                        (Some(status), format!("answered {status}: {quote}"))
                    }
                    Sent::Failed(e) => (None, e),
                };
                let retry_at =
                    webhooks::retry_delay(d.attempts + 1, jitter(), self.settings.retry_scale)
                        .and_then(|wait| time::Duration::try_from(wait).ok())
                        .map(|wait| time::OffsetDateTime::now_utc() + wait);
                Attempt::Failed {
                    status,
                    error,
                    retry_at,
                }
            }
        };
        let (queue, lease, id, disable_after) = (
            self.queue.clone(),
            self.lease,
            d.id,
            self.settings.disable_after,
        );
        let recorded = attempt.clone();
        match blocking(move || queue.record(lease, id, &recorded, disable_after)).await {
            Ok(r) if r.applied => {
                let counter = match &attempt {
                    Attempt::Delivered { .. } => &self.stats.delivered,
                    Attempt::Failed {
                        retry_at: Some(_), ..
                    } => &self.stats.retried,
                    Attempt::Failed { retry_at: None, .. } => &self.stats.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if let Attempt::Failed { error, .. } = &attempt {
                    log::info!(
                        "webhook delivery {} ({} to {}) attempt {} failed: {error}",
                        d.id,
                        d.event_type,
                        d.webhook_id,
                        d.attempts + 1
                    );
                }
                if r.disabled {
                    self.stats.disabled.fetch_add(1, Ordering::Relaxed);
                    log::warn!(
                        "webhook {} disabled: every attempt failed for {:?}",
                        d.webhook_id,
                        self.settings.disable_after
                    );
                }
            }
            // Deleted meanwhile, or taken over after the lease: nothing to say.
            Ok(_) => {}
            Err(e) => log::warn!(
                "webhook delivery {}: cannot record its attempt ({e}); it is attempted again after its lease",
                d.id
            ),
        }
    }
}
