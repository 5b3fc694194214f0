//! Building and running the HTTP server.

use crate::edge::{self, EdgeConfig};
use crate::extract::{json_error, path_error, query_error};
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use store::{PgStore, PoolSettings, build_pool};

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
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
        let workers = settings.workers;
        let grace = settings.shutdown_grace;
        let state = web::Data::new(
            AppState::new(settings, PgStore::new(pool))
                .map_err(|e| StartError::Services(e.to_string()))?,
        );
        let mut server = HttpServer::new(move || {
            let s = &state.settings;
            App::new()
                .app_data(state.clone())
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
                .service(web::scope("/api/v1").configure(routes::api))
                .service(web::resource("/health").route(web::get().to(routes::health::health)))
                .service(web::resource("/ready").route(web::get().to(routes::health::ready)))
                .default_service(web::to(edge::not_found))
                .wrap(edge::method_not_allowed())
                .wrap(Compress::default())
                .wrap(edge::security_headers())
                .wrap(from_fn(edge::request_context))
        })
        .shutdown_timeout(grace.as_secs())
        .listen(listener)
        .map_err(|e| StartError::Services(e.to_string()))?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
