//! Roles of users and of messages, stored as text (with a CHECK in the schema).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do; see the contract's role table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Works in their own chat sessions.
    User,
    /// Also reads every user's chat sessions and their children.
    Agent,
    /// Also changes any chat session, and administers users.
    Admin,
}

/// Who a message speaks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    #[default]
    /// The user who owns the session.
    User,
    /// An assistant taking part in the session.
    Assistant,
    /// The system.
    System,
}

/// What a message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// Text only.
    Text,
    /// A medium, with an optional caption.
    Media,
}

/// Where a message is in its life (contract 3.12): every message not
/// streamed is `complete`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    #[default]
    /// Whole: posted at once, or streamed and completed by its sender.
    Complete,
    /// Being streamed: its content grows delta by delta.
    Streaming,
    /// Streamed, and ended by the idle timeout with the content it had.
    Incomplete,
}

/// A stored text that names no known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    /// What was being read (`role`, `message role`, ...).
    pub kind: &'static str,
    /// The text found.
    pub value: String,
}

macro_rules! text_enum {
    ($ty:ident, $kind:literal, $($variant:ident => $text:literal),*) => {
        impl $ty {
            /// Every variant.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// The stored (and JSON) text.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)*
                    other => Err(UnknownVariant { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Role, "role", User => "user", Agent => "agent", Admin => "admin");
text_enum!(MessageRole, "message role", User => "user", Assistant => "assistant", System => "system");
text_enum!(MessageKind, "message type", Text => "text", Media => "media");
text_enum!(MessageStatus, "message status", Complete => "complete", Streaming => "streaming", Incomplete => "incomplete");
