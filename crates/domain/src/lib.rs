//! Dealroom's shared vocabulary: ids, entities, roles, the acting [`Actor`], the
//! [`DomainError`] every context returns, page/cursor types, validated inputs and
//! the repository traits ([`ports`]) that `store` implements.
//!
//! This crate knows nothing of HTTP or SQL; a Rust service can link it (with the
//! context crates) and get the same rules as a REST client.

pub mod actor;
pub mod blobs;
pub mod callers;
pub mod entities;
pub mod error;
pub mod events;
pub mod ids;
pub mod media;
pub mod page;
pub mod patch;
pub mod policy;
pub mod ports;
pub mod roles;
pub mod text;
pub mod timefmt;
pub mod validation;

pub use actor::Actor;
pub use callers::{CallerCache, LiveActor};
pub use entities::*;
pub use error::{Conflict, DomainError, Entity, FieldError, StoreError};
pub use ids::*;
pub use page::{Page, PageRequest};
pub use roles::{MessageKind, MessageRole, Role};
