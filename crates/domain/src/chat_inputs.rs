//! Request bodies and queries of the chat context (sessions and messages), with
//! their garde rules. Rules that depend on other fields or on who asks (a text
//! message needs content, a media message a medium) live in `ChatService`.

use crate::ids::{MediaId, UserId};
use crate::roles::{MessageKind, MessageRole};
use crate::text::trim;
use crate::validation::{no_nul, not_blank};
use serde::Deserialize;

/// The title a new chat session gets when the client sends none.
pub const DEFAULT_SESSION_TITLE: &str = "New chat";

/// `POST /sessions`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewSessionInput {
    #[garde(length(chars, min = 1, max = 200), custom(no_nul), custom(not_blank))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub title: Option<String>,
}

impl NewSessionInput {
    /// Trims the title; an absent title stays absent (and becomes the default).
    pub fn normalize(&mut self) {
        if let Some(t) = &mut self.title {
            trim(t);
        }
    }
}

/// `PATCH /sessions/{id}`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenameSessionInput {
    #[garde(
        required,
        length(chars, min = 1, max = 200),
        custom(no_nul),
        custom(not_blank)
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, required = true, min_length = 1, max_length = 200)
    )]
    pub title: Option<String>,
}

impl RenameSessionInput {
    pub fn normalize(&mut self) {
        if let Some(t) = &mut self.title {
            trim(t);
        }
    }
}

/// `GET /sessions` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionListQuery {
    /// Page size, 1..=200 (default 50).
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    #[garde(length(max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 512))]
    pub cursor: Option<String>,
    /// Matches the title, case-insensitively, as a substring.
    #[garde(length(chars, max = 200), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub q: Option<String>,
    /// Whose sessions: agents and admins may name another user.
    #[garde(skip)]
    pub user_id: Option<UserId>,
}

/// `POST /sessions/{id}/messages`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostMessageInput {
    /// `text` (default) or `media`.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<MessageKind>,
    /// `user` (default), `assistant` or `system`.
    #[garde(skip)]
    pub role: Option<MessageRole>,
    /// The text, or a media message's caption; kept as sent (not trimmed).
    #[garde(length(chars, min = 1, max = 32000), custom(no_nul), custom(not_blank))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32000))]
    pub content: Option<String>,
    #[garde(skip)]
    pub media_id: Option<MediaId>,
    /// Makes the post idempotent within the session.
    #[garde(length(chars, min = 1, max = 100), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub client_message_id: Option<String>,
}

/// `GET /sessions/{id}/messages` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessageListQuery {
    /// Page size, 1..=200 (default 50).
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    #[garde(length(max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 512))]
    pub cursor: Option<String>,
    /// `asc` (default) or `desc`; anything else is a validation error on `order`.
    #[garde(length(max = 16), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 16))]
    pub order: Option<String>,
}
