#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

use domain::CallerCache;
use domain::events::{DeltaNotice, EventKind, Heard, Notice, NoticeSource};
use domain::ports::{ChatStore, MarketStore};
use domain::{ChatSessionId, MessageId, SellerId, VendorId};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// One event as subscribers receive it: its kind, position, and its SSE
/// frame, rendered once and shared by every subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The session's event position (see [`Notice::seq`]): the SSE `id`;
    /// for a `message.delta`, the delta's `seq` in its message.
    pub seq: i64,
    /// The streamed message of a `message.delta` or `message.completed`.
    pub message: Option<MessageId>,
    /// A streamed message's `message.created` and the last delta its
    /// content includes: a stream drops the live deltas it covers.
    pub through: Option<(MessageId, i64)>,
    /// `id: <seq>\nevent: <name>\ndata: <one line of JSON>\n\n`; without
    /// the `id:` line for an event of a streamed message, whose `id` is the
    /// position of the stream that writes it ([`Event::frame_at`]).
    pub frame: bytes::Bytes,
}

impl Event {
    /// The event of `kind` at `seq` whose data is `data` (one line of JSON).
    pub fn new(kind: EventKind, seq: i64, data: &str) -> Self {
        let frame = format!("id: {seq}\nevent: {}\ndata: {data}\n\n", kind.name());
        Self {
            kind,
            seq,
            message: None,
            through: None,
            frame: bytes::Bytes::from(frame),
        }
    }

    /// An event of the streamed message `message` (`message.delta`,
    /// `message.completed`, `message.snapshot`), its frame without an `id:`.
    /// A delta's notice is sent without the session's lock, so it carries no
    /// position; and a stream may have written later positions (a replay)
    /// before the live copy of an end arrives. Each stream gives these the
    /// position it has written up to, which is where a client that saw them
    /// resumes from without loss ([`Event::frame_at`]).
    pub fn streamed(kind: EventKind, seq: i64, message: MessageId, data: &str) -> Self {
        let frame = format!("event: {}\ndata: {data}\n\n", kind.name());
        Self {
            kind,
            seq,
            message: Some(message),
            through: None,
            frame: bytes::Bytes::from(frame),
        }
    }

    /// A `message.created` event for `message`.
    pub fn message_created(message: &domain::Message) -> Self {
        Self::new(EventKind::MessageCreated, message.seq, &json(message))
    }

    /// A `message.delta` event: `{id, seq, text}`.
    pub fn message_delta(message: MessageId, seq: i64, text: String) -> Self {
        let data = json(&domain::MessageDelta {
            id: message,
            seq,
            text,
        });
        Self::streamed(EventKind::MessageDelta, seq, message, &data)
    }

    /// A `message.completed` event for `message` (ended at `position`).
    pub fn message_completed(message: &domain::Message, position: i64) -> Self {
        Self::streamed(
            EventKind::MessageCompleted,
            position,
            message.id,
            &json(message),
        )
    }

    /// A `message.snapshot` event: the message as it is, with `lastSeq`.
    pub fn message_snapshot(message: &domain::Message, last_seq: i64) -> Self {
        let data = json(&domain::MessageSnapshot {
            message: message.clone(),
            last_seq,
        });
        Self::streamed(EventKind::MessageSnapshot, last_seq, message.id, &data)
    }

    /// The frame as a stream at `position` writes it: with `id: <position>`
    /// first if it has no `id:` of its own (an event of a streamed message).
    pub fn frame_at(&self, position: i64) -> bytes::Bytes {
        if self.message.is_none() {
            return self.frame.clone();
        }
        let mut out = format!("id: {position}\n").into_bytes();
        out.extend_from_slice(&self.frame);
        bytes::Bytes::from(out)
    }
}

/// What a subscriber receives.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// An event to send.
    Event(Arc<Event>),
    /// The listener was away: notices may have been missed, so catch up from
    /// the database.
    CatchUp,
    /// The session is gone, or the server stops: end the stream.
    End,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Streams open now.
    pub open_streams: AtomicU64,
    /// Events written to streams.
    pub events_sent: AtomicU64,
    /// Streams ended because their subscriber fell behind.
    pub dropped_for_lag: AtomicU64,
    /// Times the listening connection was re-established.
    pub listener_reconnects: AtomicU64,
}

/// The per-session fan-out of one instance.
#[derive(Debug)]
pub struct Hub {
    channels: Mutex<HashMap<ChatSessionId, broadcast::Sender<Delivery>>>,
    capacity: usize,
    closed: watch::Sender<bool>,
    /// Counters, for `/metrics`.
    pub stats: Stats,
}

impl Hub {
    /// A hub whose channels hold `capacity` deliveries (at least 1).
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            channels: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            closed: watch::Sender::new(false),
            stats: Stats::default(),
        })
    }

    fn channels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ChatSessionId, broadcast::Sender<Delivery>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes to a session's events from now on.
    pub fn subscribe(self: &Arc<Self>, session: ChatSessionId) -> Subscription {
        let rx = self
            .channels()
            .entry(session)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe();
        self.stats.open_streams.fetch_add(1, Ordering::Relaxed);
        Subscription {
            rx: Some(rx),
            closed: self.closed.subscribe(),
            hub: Arc::clone(self),
            session,
        }
    }

    /// True if someone on this instance watches the session.
    pub fn is_watched(&self, session: ChatSessionId) -> bool {
        self.channels().contains_key(&session)
    }

    /// Sessions watched now.
    pub fn watched(&self) -> usize {
        self.channels().len()
    }

    /// Sends to the session's subscribers, if any; never waits.
    pub fn publish(&self, session: ChatSessionId, delivery: Delivery) {
        if let Some(tx) = self.channels().get(&session) {
            let _ = tx.send(delivery);
        }
    }

    /// Tells every stream to catch up from the database.
    pub fn catch_up_all(&self) {
        for tx in self.channels().values() {
            let _ = tx.send(Delivery::CatchUp);
        }
    }

    /// Ends every stream at once, and every stream opened from now on.
    pub fn close(&self) {
        self.closed.send_replace(true);
        for tx in self.channels().values() {
            let _ = tx.send(Delivery::End);
        }
    }

    /// Whether [`Hub::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }
}

/// A subscriber of one session; unsubscribes when dropped.
#[derive(Debug)]
pub struct Subscription {
    rx: Option<broadcast::Receiver<Delivery>>,
    closed: watch::Receiver<bool>,
    hub: Arc<Hub>,
    session: ChatSessionId,
}

/// Why a subscription ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The session is gone or the server stops.
    Closed,
    /// The subscriber fell more than the channel's capacity behind.
    Lagged,
}

impl Subscription {
    /// The next delivery: an event, or a request to catch up.
    pub async fn next(&mut self) -> Result<Delivery, Ended> {
        if *self.closed.borrow() {
            return Err(Ended::Closed);
        }
        let Some(rx) = self.rx.as_mut() else {
            return Err(Ended::Closed);
        };
        tokio::select! {
            _ = self.closed.changed() => Err(Ended::Closed),
            got = rx.recv() => match got {
                Ok(Delivery::End) => Err(Ended::Closed),
                Ok(d) => Ok(d),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.hub.stats.dropped_for_lag.fetch_add(1, Ordering::Relaxed);
                    Err(Ended::Lagged)
                }
                Err(broadcast::error::RecvError::Closed) => Err(Ended::Closed),
            },
        }
    }

    /// Counts a stream ended because its client stopped taking what it was sent.
    pub fn lagged(&self) {
        self.hub
            .stats
            .dropped_for_lag
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an event written to the stream.
    pub fn sent(&self, events: u64) {
        self.hub
            .stats
            .events_sent
            .fetch_add(events, Ordering::Relaxed);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.channels();
        // Drop ours first: the channel goes with its last receiver.
        drop(self.rx.take());
        if channels
            .get(&self.session)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            channels.remove(&self.session);
        }
        drop(channels);
        self.hub.stats.open_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads what a notice is about, once per event.
pub struct Loader {
    /// Reads messages and sessions.
    pub chats: Arc<dyn ChatStore>,
    /// Reads vendors and sellers.
    pub market: Arc<dyn MarketStore>,
    /// Signs a fresh `url` into a message's medium, as every Message carries.
    pub media_urls: Option<domain::media::MediaUrls>,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Loader {
    /// The delivery of a notice; `None` when what it names is gone already
    /// (a later notice says so) or the store failed (logged).
    pub fn load(&self, n: &Notice) -> Option<Delivery> {
        let data = match n.kind {
            EventKind::SessionDeleted => return Some(Delivery::End),
            EventKind::MessageDeleted | EventKind::SellerDeleted => {
                json(&serde_json::json!({ "id": n.id }))
            }
            EventKind::MessageCompleted => match self.chats.message(MessageId(n.id)) {
                Ok(Some((m, _))) => {
                    return Some(Delivery::Event(Arc::new(Event::message_completed(
                        &m, n.seq,
                    ))));
                }
                other => return self.gone(n, other.err()),
            },
            // Deltas come as their own notices ([`Loader::load_delta`]);
            // snapshots are never notified.
            EventKind::MessageDelta | EventKind::MessageSnapshot => return None,
            // Read when it is heard: a streamed reply's content may include
            // its first deltas already, which the event then covers.
            EventKind::MessageCreated => match self.chats.message_and_last_delta(MessageId(n.id)) {
                Ok(Some((mut m, last))) => {
                    if let (Some(urls), Some(media)) = (&self.media_urls, m.media.as_mut()) {
                        urls.sign(media);
                    }
                    let mut event = Event::new(n.kind, n.seq, &json(&m));
                    event.through = last.map(|l| (m.id, l));
                    return Some(Delivery::Event(Arc::new(event)));
                }
                other => return self.gone(n, other.err()),
            },
            EventKind::SessionUpdated => match self.chats.chat_session(n.session) {
                Ok(Some(s)) => json(&s),
                other => return self.gone(n, other.err()),
            },
            EventKind::VendorChanged => match self.market.vendor(VendorId(n.id)) {
                Ok(v) => json(&serde_json::json!({
                    "sessionId": n.session,
                    "vendor": v.map(|(v, _)| v),
                })),
                Err(e) => return self.gone(n, Some(e)),
            },
            EventKind::SellerChanged => match self.market.seller(SellerId(n.id)) {
                Ok(Some((s, _))) => json(&s),
                other => return self.gone(n, other.err()),
            },
        };
        Some(Delivery::Event(Arc::new(Event::new(n.kind, n.seq, &data))))
    }

    /// The delivery of a delta's notice: its text as the notice carries it,
    /// or read (a text too long for the notice); `None` when the message
    /// ended or went meanwhile (its `message.completed` or `message.deleted`
    /// follows).
    pub fn load_delta(&self, d: &DeltaNotice) -> Option<Delivery> {
        let text = match &d.text {
            Some(t) => t.clone(),
            None => match self.chats.delta_text(d.message, d.seq) {
                Ok(Some(t)) => t,
                Ok(None) => return None,
                Err(e) => {
                    log::warn!("cannot load delta {} of {}: {e}", d.seq, d.message);
                    return Some(Delivery::CatchUp);
                }
            },
        };
        Some(Delivery::Event(Arc::new(Event::message_delta(
            d.message, d.seq, text,
        ))))
    }

    fn gone(&self, n: &Notice, error: Option<domain::StoreError>) -> Option<Delivery> {
        if let Some(e) = error {
            log::warn!("cannot load {} {}: {e}", n.kind.name(), n.id);
            // Whoever watches catches up from the database instead.
            return Some(Delivery::CatchUp);
        }
        None
    }
}

/// How the listener polls and reconnects.
#[derive(Clone, Copy, Debug)]
pub struct ListenerSettings {
    /// How often the connection is read for notices.
    pub poll: Duration,
    /// How often the connection is checked with a round trip. Each trip that
    /// comes back proves the listener has heard every change committed before
    /// it, which lets the caller cache answer for a while
    /// ([`CallerCache::FRESH_FOR`]): keep it well below that.
    pub ping: Duration,
    /// The longest wait between two attempts to connect.
    pub max_backoff: Duration,
}

impl Default for ListenerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(5),
            ping: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// The listening thread of one instance; stops when its hub closes.
#[derive(Debug)]
pub struct Listener {
    thread: Option<JoinHandle<()>>,
    connected: Arc<AtomicBool>,
}

impl Listener {
    /// Starts the thread: it listens through `source`, publishes events to
    /// `hub`, and keeps `callers` told of access changes and of its own
    /// connection (see [`CallerCache`]).
    pub fn spawn(
        hub: Arc<Hub>,
        source: Arc<dyn NoticeSource>,
        loader: Loader,
        callers: Arc<CallerCache>,
        settings: ListenerSettings,
    ) -> std::io::Result<Self> {
        let connected = Arc::new(AtomicBool::new(false));
        let flag = connected.clone();
        let thread = std::thread::Builder::new()
            .name("events-listener".into())
            .spawn(move || {
                let ears = Ears {
                    hub: &hub,
                    loader: &loader,
                    callers: &callers,
                };
                listen(&ears, source.as_ref(), settings, &flag);
                callers.lost();
            })?;
        Ok(Self {
            thread: Some(thread),
            connected,
        })
    }

    /// True while the listening connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Waits for the thread to end (after its hub was closed), so that its
    /// connection is closed before the process exits.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Where what the listener hears goes.
struct Ears<'a> {
    hub: &'a Hub,
    loader: &'a Loader,
    callers: &'a CallerCache,
}

impl Ears<'_> {
    fn hear(&self, batch: Vec<Heard>) {
        for heard in batch {
            match heard {
                Heard::Event(n) => {
                    if self.hub.is_watched(n.session)
                        && let Some(d) = self.loader.load(&n)
                    {
                        self.hub.publish(n.session, d);
                    }
                }
                Heard::Delta(d) => {
                    if self.hub.is_watched(d.session)
                        && let Some(delivery) = self.loader.load_delta(&d)
                    {
                        self.hub.publish(d.session, delivery);
                    }
                }
                Heard::AccessChanged(user) => self.callers.forget_user(user),
            }
        }
    }
}

fn listen(
    ears: &Ears<'_>,
    source: &dyn NoticeSource,
    settings: ListenerSettings,
    connected: &AtomicBool,
) {
    let hub = ears.hub;
    let mut backoff = Duration::from_millis(50);
    let mut first = true;
    while !hub.is_closed() {
        let mut notices = match source.listen() {
            Ok(n) => n,
            Err(e) => {
                log::warn!("events listener cannot connect: {e}; again in {backoff:?}");
                sleep_unless_closed(hub, backoff);
                backoff = (backoff * 2).min(settings.max_backoff);
                continue;
            }
        };
        connected.store(true, Ordering::Relaxed);
        // Whatever changed while no connection listened is unknown.
        ears.callers.lost();
        backoff = Duration::from_millis(50);
        if first {
            first = false;
        } else {
            hub.stats
                .listener_reconnects
                .fetch_add(1, Ordering::Relaxed);
            log::info!("events listener reconnected; open streams catch up");
            hub.catch_up_all();
        }
        // The first round trip comes at once: it is what lets the cache answer.
        let mut pinged: Option<Instant> = None;
        while !hub.is_closed() {
            let trip = pinged
                .is_none_or(|p| p.elapsed() >= settings.ping)
                .then(Instant::now);
            let polled = match trip {
                Some(_) => notices.ping().and_then(|()| notices.poll()),
                None => notices.poll(),
            };
            match polled {
                Ok(batch) => {
                    ears.hear(batch);
                    if let Some(started) = trip {
                        pinged = Some(started);
                        ears.callers.confirmed(started);
                    }
                }
                Err(e) => {
                    log::warn!("events listener lost its connection: {e}");
                    break;
                }
            }
            std::thread::sleep(settings.poll);
        }
        connected.store(false, Ordering::Relaxed);
        ears.callers.lost();
    }
}

fn sleep_unless_closed(hub: &Hub, total: Duration) {
    let until = Instant::now() + total;
    while !hub.is_closed() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(seq: i64) -> Delivery {
        Delivery::Event(Arc::new(Event::new(EventKind::MessageCreated, seq, "{}")))
    }

    #[tokio::test]
    async fn a_channel_lives_from_its_first_subscriber_to_its_last() {
        let hub = Hub::new(8);
        let s = ChatSessionId::new();
        assert!(!hub.is_watched(s));
        let a = hub.subscribe(s);
        let b = hub.subscribe(s);
        assert_eq!(hub.watched(), 1);
        drop(a);
        assert!(hub.is_watched(s));
        drop(b);
        assert!(!hub.is_watched(s));
        assert_eq!(hub.stats.open_streams.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_ended_and_others_are_not_held_up() {
        let hub = Hub::new(4);
        let s = ChatSessionId::new();
        let mut slow = hub.subscribe(s);
        let mut fast = hub.subscribe(s);
        for i in 1..=10 {
            hub.publish(s, event(i));
            assert!(matches!(fast.next().await, Ok(Delivery::Event(e)) if e.seq == i));
        }
        assert_eq!(slow.next().await.err(), Some(Ended::Lagged));
        assert_eq!(hub.stats.dropped_for_lag.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn closing_the_hub_ends_every_stream_and_every_later_one() {
        let hub = Hub::new(4);
        let s = ChatSessionId::new();
        let mut a = hub.subscribe(s);
        hub.close();
        assert_eq!(a.next().await.err(), Some(Ended::Closed));
        let mut b = hub.subscribe(ChatSessionId::new());
        assert_eq!(b.next().await.err(), Some(Ended::Closed));
    }
}
