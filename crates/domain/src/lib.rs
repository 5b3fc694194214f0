#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod actor;
pub mod blobs;
pub mod bounds;
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
pub mod webhooks;

pub use actor::{Actor, Via};
pub use callers::{CallerCache, LiveActor};
pub use entities::*;
pub use error::{Conflict, DomainError, Entity, FieldError, StoreError};
pub use ids::*;
pub use page::{Page, PageRequest};
pub use roles::{MessageKind, MessageRole, MessageStatus, Role};
