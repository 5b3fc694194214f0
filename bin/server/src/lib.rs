//! The `dealroom` server: settings, the actix-web app, routes, middleware, and
//! the one mapping from domain errors to HTTP. No SQL and no business rule lives
//! here; handlers extract, call a service on the blocking pool, and reply.

pub mod app;
pub mod bodies;
pub mod cli;
pub mod conn;
pub mod edge;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod pages;
pub mod panics;
pub mod ratelimit;
pub mod reply;
pub mod routes;
pub mod settings;
pub mod state;
pub mod timeouts;

pub use app::Application;
pub use settings::Settings;

/// Logging from the settings' level; `RUST_LOG` wins.
pub fn init_logging(level: &str) {
    let mut b = env_logger::Builder::new();
    quiet_dispatcher(&mut b);
    b.parse_filters(level);
    if let Ok(filter) = std::env::var("RUST_LOG") {
        b.parse_filters(&filter);
    }
    let _ = b.try_init();
}

/// actix-http's HTTP/1 dispatcher logs every malformed request at `ERROR`
/// (`stream error: …`), so anyone could fill the error log; those requests get
/// an access-log line from [`conn`] instead, the reason at `debug` there.
/// `RUST_LOG=actix_http::h1=trace` brings the dispatcher's lines back.
pub fn quiet_dispatcher(b: &mut env_logger::Builder) {
    b.filter_module("actix_http::h1", log::LevelFilter::Off);
}
