//! The connection layer: what actix-web's `HttpServer` does, plus what it
//! cannot do, because here every accepted socket is wrapped in a [`Conn`]
//! before actix-http's dispatcher gets it.
//!
//! - **Send timeout.** A write that makes no progress for `SEND_TIMEOUT` (the
//!   client reads nothing) fails, and the connection closes, freeing what the
//!   response held.
//! - **Connection cap.** At most `max_connections` open at once (actix's
//!   per-worker `max_concurrent_connections`; the rest wait in the listen
//!   backlog), so that a flood cannot take the descriptors the database pool
//!   and the listener need. Reaching the cap is logged once, then at most once
//!   a minute while a flood lasts (with how often it was hit meanwhile).
//! - **Draining.** On shutdown ([`Drain::start`]) every response carries
//!   `Connection: close` and `/ready` answers `503`; a moment later
//!   ([`Drain::close_idle`]) an idle keep-alive connection is closed, but only
//!   once its socket has nothing left to read, so a request the kernel already
//!   received is read and answered (actix's own drain closes idle connections
//!   without reading what is waiting, which is why it is not used).
//! - **Protocol-level rejections.** A `400`, `408` or `431` that actix-http's
//!   dispatcher writes by itself (a malformed request line, headers too slow or
//!   too large) never reaches the app; the connection layer gives it an
//!   access-log line, and `init_logging` silences the dispatcher's own `ERROR`
//!   line about it.

use crate::{edge, timeouts};
use actix_http::{HttpService, Protocol, Request, Response};
use actix_server::Server;
use actix_service::{IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, fn_service};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Sleep;

/// The shutdown switch shared by the connections, the app and the signal
/// handler: serving, then draining, then closing idle connections.
#[derive(Debug)]
pub struct Drain {
    tx: watch::Sender<u8>,
}

const SERVING: u8 = 0;
const DRAINING: u8 = 1;
const CLOSING_IDLE: u8 = 2;

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(SERVING),
        }
    }

    /// From now on every response carries `Connection: close` and `/ready`
    /// answers `503`. Idle keep-alive connections stay open, so that a client
    /// busy on one gets its next request answered (and told to close) rather
    /// than racing a close, until [`Drain::close_idle`].
    pub fn start(&self) {
        self.tx.send_if_modified(|s| {
            let changed = *s == SERVING;
            *s = (*s).max(DRAINING);
            changed
        });
    }

    /// Closes each keep-alive connection as soon as it has nothing in progress
    /// and nothing waiting to be read.
    pub fn close_idle(&self) {
        self.tx.send_replace(CLOSING_IDLE);
    }

    pub fn is_draining(&self) -> bool {
        *self.tx.borrow() >= DRAINING
    }

    fn closing_idle(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let mut rx = self.tx.subscribe();
        Box::pin(async move {
            // An error means the sender is gone: the server is going anyway.
            let _ = rx.wait_for(|s| *s >= CLOSING_IDLE).await;
        })
    }
}

/// Open connections against the cap, for the log line.
#[derive(Debug)]
struct Counter {
    open: AtomicUsize,
    cap: usize,
    /// Seconds since `since` of the last "cap reached" line, plus one (0: none yet).
    logged: AtomicU64,
    /// Times the cap was hit since the last line.
    hits: AtomicU64,
    since: Instant,
}

/// At most one "cap reached" line in this long, however hard the flood.
const CAP_LOG_EVERY: Duration = Duration::from_secs(60);

impl Counter {
    fn opened(self: &Arc<Self>) -> Slot {
        let n = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.cap {
            let hits = self.hits.fetch_add(1, Ordering::Relaxed) + 1;
            let now = self.since.elapsed().as_secs() + 1;
            let last = self.logged.load(Ordering::Relaxed);
            let due = last == 0 || now.saturating_sub(last) >= CAP_LOG_EVERY.as_secs();
            if due
                && self
                    .logged
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.hits.store(0, Ordering::Relaxed);
                log::warn!(
                    "connection cap reached ({hits} times since the last such line): {n} connections open, MAX_CONNECTIONS {}; new ones wait in the listen backlog",
                    self.cap
                );
            }
        }
        Slot(self.clone())
    }
}

/// One open connection; counted down when dropped.
struct Slot(Arc<Counter>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the app and the socket wrapper know about one connection.
#[derive(Debug, Default)]
struct ConnState {
    /// Requests the app has seen on it.
    requests: Cell<u64>,
    /// Requests the app is answering now.
    active: Cell<u32>,
    /// The status of the first response written on it.
    first_status: Cell<Option<u16>>,
    draining: Cell<bool>,
    /// A response went out before its request's body was read to its end:
    /// the socket reads as ended from now on, so the dispatcher closes the
    /// connection once the response is written instead of draining a body
    /// that may never end.
    close: Cell<bool>,
}

/// The per-connection handle the app reaches through `conn_data`.
#[derive(Clone)]
struct ConnHandle(Rc<ConnState>, Arc<Drain>);

/// An accepted socket with a send timeout and a drain switch.
pub struct Conn {
    io: TcpStream,
    send_timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    drain: Option<Pin<Box<dyn Future<Output = ()>>>>,
    state: Rc<ConnState>,
    shared: Arc<Drain>,
    _slot: Slot,
}

impl Conn {
    /// `Pending` from a write: arms the send timer, or fails once it has run out.
    fn stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let timeout = self.send_timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                log::debug!(target: "dealroom::conn", "client read nothing for {timeout:?}: disconnected");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "send timeout: the client reads nothing",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Whether idle connections are to close (registers for the switch if not).
    fn draining(&mut self, cx: &mut Context<'_>) -> bool {
        if self.state.draining.get() {
            return true;
        }
        let drain = self.drain.get_or_insert_with(|| self.shared.closing_idle());
        if drain.as_mut().poll(cx).is_ready() {
            self.state.draining.set(true);
            self.drain = None;
            return true;
        }
        false
    }

    fn note_write(&self, buf: &[u8]) {
        if self.state.first_status.get().is_none() && self.state.requests.get() == 0 {
            let status = buf
                .strip_prefix(b"HTTP/1.1 ".as_slice())
                .or_else(|| buf.strip_prefix(b"HTTP/1.0 ".as_slice()))
                .and_then(|rest| rest.get(..3))
                .and_then(|digits| std::str::from_utf8(digits).ok())
                .and_then(|digits| digits.parse().ok());
            self.state.first_status.set(status);
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.state.close.get() {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            // Idle between requests, nothing waiting to be read: end of
            // stream, so the dispatcher closes the connection. A connection
            // that has not sent its first request yet is left to the
            // request-head timeout: its client is about to send. The switch
            // is watched while a request is answered too: the dispatcher's
            // last read before it goes idle happens then, and an idle
            // connection is not read again until its client sends or its
            // keep-alive runs out (5 s).
            Poll::Pending
                if this.state.requests.get() > 0
                    && this.draining(cx)
                    && this.state.active.get() == 0 =>
            {
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.stalled = None;
                if r.is_ok() {
                    this.note_write(buf);
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.stall(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(r) => {
                this.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => this.stall(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Marks requests on their connection (for draining and for telling the
/// dispatcher's own rejections apart), and closes the connection after a
/// response once the server drains, or when the request's body was not read
/// to its end (it is never drained). Wrap it around the whole app.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let handle = req.conn_data::<ConnHandle>().cloned();
    let _active = handle.as_ref().map(|h| Active::start(&h.0));
    let mut res = next.call(req).await?;
    let unread = timeouts::body_unfinished(res.request());
    if let (Some(h), true) = (&handle, unread) {
        h.0.close.set(true);
        // This runs inside the dispatcher's task, which has read everything
        // the client sent so far and would not read again: wake it, so that
        // it reads the end and closes once the response is out.
        std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(())
        })
        .await;
    }
    if unread || handle.is_some_and(|h| h.1.is_draining()) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// A request being answered on its connection.
struct Active(Rc<ConnState>);

impl Active {
    fn start(state: &Rc<ConnState>) -> Self {
        state.requests.set(state.requests.get() + 1);
        state.active.set(state.active.get() + 1);
        Self(state.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.set(self.0.active.get().saturating_sub(1));
    }
}

/// How the connection layer is set up.
#[derive(Clone, Debug)]
pub struct Options {
    pub workers: usize,
    /// Open connections over all workers.
    pub max_connections: usize,
    pub send_timeout: Duration,
    /// How long a graceful stop waits for connections to finish.
    pub shutdown_grace: Duration,
    /// Blocking-pool threads per worker.
    pub blocking_threads: usize,
    /// Access-log lines as JSON.
    pub production: bool,
}

/// The server on `listener`, each worker running `app()`, every socket wrapped
/// in a [`Conn`]. Not started until awaited.
pub fn server<F, I, S, B>(
    listener: std::net::TcpListener,
    options: Options,
    drain: Arc<Drain>,
    app: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let workers = options.workers.max(1);
    let counter = Arc::new(Counter {
        open: AtomicUsize::new(0),
        cap: options.max_connections.max(1),
        logged: AtomicU64::new(0),
        hits: AtomicU64::new(0),
        since: Instant::now(),
    });
    let per_worker = options.max_connections.div_ceil(workers).max(1);
    let grace = options.shutdown_grace.as_secs().max(1);
    let factory = move || {
        let app = app.clone();
        let counter = counter.clone();
        let drain = drain.clone();
        let send_timeout = options.send_timeout;
        let production = options.production;
        let on_connect_drain = drain.clone();
        let http = HttpService::build()
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .on_connect_ext(move |io: &Conn, ext| {
                ext.insert(ConnHandle(io.state.clone(), on_connect_drain.clone()));
            })
            .finish(actix_service::map_config(
                app().into_factory().map_err(|e| e.into().error_response()),
                |()| AppConfig::default(),
            ));
        let logged = actix_service::apply_fn_factory(
            http,
            move |(io, protocol, peer): (Conn, Protocol, Option<SocketAddr>), srv| {
                let state = io.state.clone();
                let started = Instant::now();
                let served = srv.call((io, protocol, peer));
                async move {
                    let result = served.await;
                    rejection_log(&state, started, production, &result);
                    result
                }
            },
        );
        fn_service(move |io: TcpStream| {
            let peer = io.peer_addr().ok();
            let conn = Conn {
                io,
                send_timeout,
                stalled: None,
                drain: None,
                state: Rc::default(),
                shared: drain.clone(),
                _slot: counter.opened(),
            };
            std::future::ready(Ok((conn, Protocol::Http1, peer)))
        })
        .and_then(logged)
    };
    Ok(Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker)
        .worker_max_blocking_threads(options.blocking_threads.max(1))
        .shutdown_timeout(grace)
        .disable_signals()
        .listen("dealroom", listener, factory)?
        .run())
}

/// An access-log line for a response the dispatcher wrote by itself (the app
/// saw no request on the connection), and the reason below `ERROR`.
fn rejection_log<E: std::fmt::Display>(
    state: &ConnState,
    started: Instant,
    production: bool,
    result: &Result<(), E>,
) {
    if state.requests.get() > 0 {
        return;
    }
    if let Err(e) = result {
        log::debug!(target: "dealroom::conn", "connection ended: {e}");
    }
    if let Some(status) = state.first_status.get() {
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
        edge::access_log(production, "-", "-", status, 0, started, "-");
    }
}

/// Raises the soft open-file limit to the hard one; the limit in force after.
pub fn raise_open_files() -> io::Result<(u64, u64)> {
    let (before, _) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// Descriptors kept back from connections: the database pool, the listener,
/// the log and the runtime's own.
pub const RESERVED_FILES: u64 = 64;

/// `MAX_CONNECTIONS=0`: what the open-file limit leaves after the pool and
/// [`RESERVED_FILES`]; at least 1.
pub fn connection_cap(configured: usize, open_files: u64, pool_size: u32) -> usize {
    if configured > 0 {
        return configured;
    }
    let spare = open_files.saturating_sub(u64::from(pool_size) + RESERVED_FILES);
    usize::try_from(spare).unwrap_or(usize::MAX).max(1)
}

/// The open-file limit in force now.
pub fn open_files() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_pool_and_a_reserve_and_a_setting_wins() {
        assert_eq!(connection_cap(0, 1024, 16), 1024 - 16 - 64);
        assert_eq!(connection_cap(0, 50, 16), 1);
        assert_eq!(connection_cap(300, 1024, 16), 300);
    }

    #[test]
    fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
        let raised = raise_open_files().map(|(_, after)| after);
        let hard = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(_, hard)| hard);
        assert_eq!(raised.ok(), hard.ok());
    }
}
