//! Building and running the HTTP server.

use crate::conn::{self, Drain};
use crate::edge::{self, EdgeConfig};
use crate::extract::{json_error, path_error, query_error};
use crate::metrics::{self, Metrics, RequestMetrics};
use crate::ratelimit::{self, Limit};
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use crate::timeouts::BodyTimeout;
use actix_cors::Cors;
use actix_governor::Governor;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{Compress, from_fn};
use actix_web::rt::signal::unix::{Signal, SignalKind, signal};
use actix_web::{App, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use store::{PgStore, PoolSettings, ReplicaSettings};

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    limits: Vec<Limit>,
    state: web::Data<AppState>,
    listener: events::Listener,
    /// This instance's webhook dispatcher (contract §3.11).
    dispatcher: webhook_dispatch::Dispatcher,
    drain: Arc<Drain>,
}

/// Why the server could not start; one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start: {0}")]
    Services(String),
}

/// How often the replica's lag is measured.
const REPLICA_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The store as the settings say: `pool` with `DB_STATEMENT_CACHE`,
/// `DATABASE_DIRECT_URL` for session-level work and, with `replica`, the read
/// replica of `DATABASE_REPLICA_URL` (a pool of the same size and cache).
pub fn open_store(settings: &Settings, pool: PoolSettings, replica: bool) -> PgStore {
    let pool = PoolSettings {
        statement_cache: settings.db_statement_cache,
        ..pool
    };
    let store = PgStore::connect(settings.database_url.expose(), &pool)
        .with_direct_url(settings.direct_database_url());
    match settings.database_replica_url.expose() {
        url if replica && !url.is_empty() => store.with_replica(&ReplicaSettings {
            url: url.to_owned(),
            max_lag: settings.replica_max_lag,
            check_interval: REPLICA_CHECK_INTERVAL,
            // Opened on demand: a replica that is down costs no reconnect attempts.
            pool: PoolSettings {
                min_idle: 0,
                ..pool
            },
        }),
        _ => store,
    }
}

impl Application {
    /// Builds the pool, the services and the server, and binds `HOST:PORT`
    /// (port 0 picks a free one).
    pub fn build(settings: Settings) -> Result<Self, StartError> {
        let store = open_store(
            &settings,
            PoolSettings {
                max_size: settings.db_pool_size,
                min_idle: settings.db_pool_size.clamp(1, 4),
                connection_timeout: settings.db_pool_timeout,
                ..PoolSettings::default()
            },
            true,
        );
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();
        let bad_limit = || StartError::Services("rate limits must be positive".into());
        let api_limit = ratelimit::limit(
            settings.rate_limit_max,
            settings.rate_limit_window,
            settings.trust_proxy,
        )
        .ok_or_else(bad_limit)?;
        let auth_limit = ratelimit::limit(
            settings.auth_rate_limit_max,
            settings.rate_limit_window,
            settings.trust_proxy,
        )
        .ok_or_else(bad_limit)?;
        let workers = match settings.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let options = conn::Options {
            workers,
            max_connections: conn::connection_cap(
                settings.max_connections,
                conn::open_files(),
                settings.db_pool_size,
            ),
            send_timeout: settings.send_timeout,
            shutdown_grace: settings.shutdown_grace,
            // Each worker's blocking pool: enough for every pool connection to
            // be busy from one worker, and no more. Threads beyond that only
            // wait for a connection, and each one that served a call keeps
            // what the allocator gave it: with a bcrypt slot more per worker
            // as well (a login waits for bcrypt on this pool), a page load
            // peaked 2 MiB higher at the same throughput (README, "Per-request
            // cost"). The bcrypt hashes themselves run on their own threads.
            blocking_threads: settings.db_pool_size as usize,
            production: settings.is_production(),
        };
        let body_timeout = BodyTimeout::new(settings.body_idle_timeout, settings.body_timeout);
        let drain = Arc::new(Drain::new());
        let app_drain = drain.clone();
        let state = web::Data::new(
            AppState::new(settings, store).map_err(|e| StartError::Services(e.to_string()))?,
        );
        let limits = vec![api_limit.clone(), auth_limit.clone()];
        let metrics = Arc::new(Metrics::new());
        // Dropped (and so stopped, its threads joined) if anything below fails.
        let dispatcher = start_dispatcher(&state).map_err(|e| {
            StartError::Services(format!("cannot start the webhook dispatcher: {e}"))
        })?;
        let webhook_stats = dispatcher.stats();
        let app_state = state.clone();
        let server = conn::server(listener, options, drain.clone(), move || {
            let s = &state.settings;
            let auth_limit = auth_limit.clone();
            App::new()
                .app_data(state.clone())
                .app_data(web::Data::from(metrics.clone()))
                .app_data(web::Data::from(webhook_stats.clone()))
                .app_data(web::Data::from(app_drain.clone()))
                .app_data(web::Data::new(EdgeConfig {
                    production: s.is_production(),
                }))
                .app_data(
                    web::JsonConfig::default()
                        .limit(s.request_body_limit)
                        .error_handler(json_error),
                )
                .app_data(web::PathConfig::default().error_handler(path_error))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .service(
                    web::scope("/api/v1")
                        .wrap(Governor::new(&api_limit))
                        .configure(move |c| routes::api(c, &auth_limit)),
                )
                .configure(routes::service_endpoints)
                .service(web::resource("/metrics").route(routes::get(metrics::endpoint)))
                .default_service(web::to(edge::not_found))
                .wrap(edge::method_not_allowed())
                .wrap(body_timeout)
                .wrap(Compress::default())
                .wrap(cors(s.cors_origins.as_deref()))
                .wrap(from_fn(edge::cors_refusals))
                .wrap(edge::security_headers())
                .wrap(from_fn(edge::request_context))
                .wrap(from_fn(conn::track))
                // Outermost: it sees every response, CORS preflights included.
                .wrap(RequestMetrics(metrics.clone()))
        })
        .map_err(|e| StartError::Services(e.to_string()))?;
        // Last, so that no error above leaves its thread behind.
        let events_listener = app_state
            .listen_for_events()
            .map_err(|e| StartError::Services(format!("cannot start the events listener: {e}")))?;
        Ok(Self {
            port,
            server,
            limits,
            state: app_state,
            listener: events_listener,
            dispatcher,
            drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (gracefully with `stop(true)`).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped by a handle. SIGTERM and SIGINT are not handled here
    /// (see [`Application::run_until_signalled`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let limiter = actix_web::rt::spawn(ratelimit::forget_idle_keys(
            self.limits,
            Duration::from_secs(60),
        ));
        let collector =
            actix_web::rt::spawn(crate::media::collect_periodically(self.state.clone()));
        let idle_streams =
            actix_web::rt::spawn(crate::streams::expire_idle_periodically(self.state.clone()));
        let served = self.server.await;
        limiter.abort();
        collector.abort();
        idle_streams.abort();
        // Streams end at once; the listener's connection closes before the pool's.
        self.state.events.close();
        let listener = self.listener;
        let _ = web::block(move || listener.join()).await;
        // Attempts in flight get a second; what it still holds is given back
        // to the other instances at once.
        let dispatcher = self.dispatcher;
        let _ = web::block(move || dispatcher.stop()).await;
        close_pool(self.state).await;
        served
    }

    /// Serves until SIGTERM or SIGINT, both graceful: `/ready` answers `503` and
    /// every response closes its connection, the listener closes, requests
    /// already received (in flight, or waiting on an idle keep-alive
    /// connection) are answered within the grace period, then the pool closes.
    ///
    /// `signals` must have been listened for before the server was built, so
    /// that a signal arriving once the port accepts is never the default
    /// action (which kills the process, requests in flight and all).
    pub async fn run_until_signalled(self, signals: ShutdownSignals) -> std::io::Result<()> {
        let handle = self.server.handle();
        let drain = self.drain.clone();
        let grace = self.state.settings.shutdown_grace;
        let events = self.state.events.clone();
        actix_web::rt::spawn(async move {
            let signal = signals.recv().await;
            // Draining first, then the line that says so: whoever reads the
            // line (an operator, a test) finds `/ready` at 503 already.
            drain.start();
            log::info!("{signal} received: finishing requests in flight, then stopping");
            // Live streams end at once (their clients reconnect elsewhere),
            // and their connections close with them (an SSE response says
            // `Connection: close`), before the workers are asked to stop:
            // they never hold the shutdown up.
            events.close();
            let until = std::time::Instant::now() + STREAMS_CLOSE;
            while events
                .stats
                .open_streams
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
                && std::time::Instant::now() < until
            {
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
            // No more connections (refused, so safe for any client to retry
            // elsewhere); the workers wait, up to the grace, for the open ones.
            let stopped = actix_web::rt::spawn(handle.stop(true));
            // Idle keep-alive connections stay open a moment: a client busy
            // on one gets its next request answered, with `Connection: close`,
            // rather than racing a close.
            actix_web::rt::time::sleep(IDLE_LINGER.min(grace / 4)).await;
            drain.close_idle();
            let _ = stopped.await;
        });
        self.run_until_stopped().await
    }
}

/// This instance's webhook dispatcher, as the settings say, on the app's store.
fn start_dispatcher(state: &AppState) -> std::io::Result<webhook_dispatch::Dispatcher> {
    let s = &state.settings;
    webhook_dispatch::Dispatcher::spawn(
        Arc::new(state.store.clone()),
        webhook_dispatch::Settings {
            timeout: s.webhook_timeout,
            disable_after: s.webhook_disable_after,
            retention: s.webhook_retention,
            retry_scale: s.webhook_retry_scale,
            concurrency: s.webhook_concurrency,
            policy: state.webhooks.policy(),
            ..webhook_dispatch::Settings::default()
        },
        Some(state.media_urls.clone()),
        Arc::new(domain::webhooks::SystemResolver),
    )
}

/// How long shutdown waits, at most, for live streams to end.
const STREAMS_CLOSE: Duration = Duration::from_millis(300);

/// How long, at most, idle keep-alive connections stay open once shutdown
/// begins (a quarter of the grace when that is shorter).
const IDLE_LINGER: Duration = Duration::from_millis(500);

/// SIGTERM and SIGINT, caught from [`ShutdownSignals::listen`] on: from then on
/// neither ends the process by itself.
pub struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    /// Installs the handlers; call it inside the runtime, before
    /// [`Application::build`].
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The first of the two to arrive, by name.
    pub async fn recv(mut self) -> &'static str {
        let term = Box::pin(self.term.recv());
        let int = Box::pin(self.int.recv());
        match futures_util::future::select(term, int).await {
            futures_util::future::Either::Left(_) => "SIGTERM",
            futures_util::future::Either::Right(_) => "SIGINT",
        }
    }
}

/// Drops the last reference to the services, and with it the pool, and waits
/// until every connection is closed (a command must not exit while a pool
/// thread still uses libpq). The workers drop theirs as they stop; after a
/// forced stop one may still hold them for a moment.
async fn close_pool(state: web::Data<AppState>) {
    let stats = state.store.pool_stats();
    let closing = state.store.closing();
    drop(state);
    let closed = web::block(move || closing.wait(Duration::from_secs(2)))
        .await
        .unwrap_or(false);
    if closed {
        log::info!("database pool closed ({} connections)", stats.connections);
    } else {
        log::warn!("database pool still in use by a stopping worker; it closes with it");
    }
}

/// CORS from `CORS_ORIGIN`: any origin, or the listed ones; the request id and
/// rate-limit headers exposed.
fn cors(origins: Option<&[String]>) -> Cors {
    let base = match origins {
        None => Cors::default().allow_any_origin().send_wildcard(),
        Some(list) => list
            .iter()
            .fold(Cors::default(), |c, o| c.allowed_origin(o)),
    };
    base.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        // Every request header the API documents.
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::RANGE,
            header::IF_RANGE,
            header::IF_NONE_MATCH,
        ])
        .allowed_header("x-request-id")
        .allowed_header("last-event-id")
        .expose_headers([
            "x-request-id",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "retry-after",
            "etag",
            "content-range",
            "content-disposition",
            "accept-ranges",
        ])
        .max_age(600)
}
