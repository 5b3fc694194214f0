//! The `dealroom` server: settings, the actix-web app, routes, middleware, and
//! the one mapping from domain errors to HTTP. No SQL and no business rule lives
//! here; handlers extract, call a service on the blocking pool, and reply.

mod app;
mod bodies;
pub mod cli;
mod conn;
mod edge;
mod error;
mod extract;
mod json;
pub mod logging;
mod media;
mod metrics;
mod net;
mod openapi;
mod panics;
mod ratelimit;
mod reply;
mod routes;
mod settings;
mod state;
mod streams;
mod timeouts;

pub use app::{Application, ShutdownSignals, StartError};
pub use settings::{AppEnv, Settings, SettingsError};
