//! Building and running the HTTP server.

use crate::edge::{self, EdgeConfig};
use crate::extract::{json_error, path_error, query_error};
use crate::metrics::{self, Metrics, RequestMetrics};
use crate::ratelimit::{self, Limit};
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use actix_cors::Cors;
use actix_governor::Governor;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use store::{PgStore, PoolSettings, build_pool};

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    limits: Vec<Limit>,
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

impl Application {
    /// Builds the pool, the services and the server, and binds `HOST:PORT`
    /// (port 0 picks a free one).
    pub fn build(settings: Settings) -> Result<Self, StartError> {
        let pool = build_pool(
            settings.database_url.expose(),
            &PoolSettings {
                max_size: settings.db_pool_size,
                connection_timeout: settings.db_pool_timeout,
            },
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
        let workers = settings.workers;
        let grace = settings.shutdown_grace;
        let state = web::Data::new(
            AppState::new(settings, PgStore::new(pool))
                .map_err(|e| StartError::Services(e.to_string()))?,
        );
        let limits = vec![api_limit.clone(), auth_limit.clone()];
        let metrics = Arc::new(Metrics::new());
        let mut server = HttpServer::new(move || {
            let s = &state.settings;
            let auth_limit = auth_limit.clone();
            App::new()
                .app_data(state.clone())
                .app_data(web::Data::from(metrics.clone()))
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
                .wrap(Compress::default())
                .wrap(cors(s.cors_origins.as_deref()))
                .wrap(edge::security_headers())
                .wrap(from_fn(edge::request_context))
                // Outermost: it sees every response, CORS preflights included.
                .wrap(RequestMetrics(metrics.clone()))
        })
        .disable_signals()
        .shutdown_timeout(grace.as_secs().max(1))
        .listen(listener)
        .map_err(|e| StartError::Services(e.to_string()))?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            limits,
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
        actix_web::rt::spawn(ratelimit::forget_idle_keys(
            self.limits,
            Duration::from_secs(60),
        ));
        self.server.await
    }

    /// Serves until SIGTERM or SIGINT, both graceful: stop accepting, finish the
    /// requests in flight within the grace period, close the pool, return.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        actix_web::rt::spawn(async move {
            let signal = wait_for_signal().await;
            log::info!("{signal} received: finishing requests in flight, then stopping");
            handle.stop(true).await;
        });
        self.run_until_stopped().await
    }
}

async fn wait_for_signal() -> &'static str {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            futures_util::future::select(Box::pin(term.recv()), Box::pin(int.recv())).await;
            "shutdown signal"
        }
        _ => {
            let _ = actix_web::rt::signal::ctrl_c().await;
            "SIGINT"
        }
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
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("x-request-id")
        .expose_headers([
            "x-request-id",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "retry-after",
        ])
        .max_age(600)
}
