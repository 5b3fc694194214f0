//! The integration suite: the real actix app over HTTP on disposable databases.
//! One test binary, so everything links once.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod helpers;

mod auth;
mod bounds;
mod callers;
mod chat;
mod edge;
mod events;
mod foundation;
mod market;
mod media;
mod offers;
mod openapi;
mod rules;
mod scaling;
mod schema;
mod search;
mod slow_clients;
mod streaming;
mod users;
mod webhooks;
