//! The chat context's request bodies and queries, as clients send them (garde
//! rules on the wire types), and what each parses into. Rules that depend on
//! who asks (who may post which role, whose medium) live in `ChatService`.

use domain::ports::SortOrder;
use domain::text::trim;
use domain::validation::{Parse, no_nul, not_blank};
use domain::{ChatSessionId, DomainError, MediaId, MessageKind, MessageRole, PageRequest, UserId};
use serde::Deserialize;

/// The title a new chat session gets when the client sends none.
pub const DEFAULT_SESSION_TITLE: &str = "New chat";

/// `POST /sessions`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewSessionInput {
    #[garde(
        length(chars, min = domain::bounds::session_title::MIN, max = domain::bounds::session_title::MAX),
        custom(no_nul),
        custom(not_blank)
    )]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    /// 1 to 200 characters (trimmed); absent: "New chat".
    pub title: Option<String>,
}

impl NewSessionInput {
    /// The title, trimmed; [`DEFAULT_SESSION_TITLE`] when absent.
    pub(crate) fn parse(mut self) -> Result<String, DomainError> {
        if let Some(t) = &mut self.title {
            trim(t);
        }
        Parse::new(&self).finish(
            self.title
                .unwrap_or_else(|| DEFAULT_SESSION_TITLE.to_owned()),
        )
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
    /// The new title, 1 to 200 characters (trimmed).
    pub title: Option<String>,
}

impl RenameSessionInput {
    /// The new title, trimmed.
    pub(crate) fn parse(mut self) -> Result<String, DomainError> {
        if let Some(t) = &mut self.title {
            trim(t);
        }
        let mut p = Parse::new(&self);
        let title = p.required("title", self.title);
        p.finish(title)
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
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Matches the title, case-insensitively, as a substring.
    #[garde(length(chars, max = 200), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub q: Option<String>,
    /// Whose sessions: agents and admins may name another user.
    #[garde(skip)]
    pub user_id: Option<UserId>,
}

/// A session list request, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionList {
    pub page: PageRequest,
    /// Whose sessions; `None` for the caller's own.
    pub user_id: Option<UserId>,
    /// A title substring, trimmed, never empty.
    pub q: Option<String>,
}

impl SessionListQuery {
    pub(crate) fn parse(self) -> Result<SessionList, DomainError> {
        let mut p = Parse::new(&self);
        let page = p.parsed("limit", PageRequest::new(self.limit, self.cursor));
        let q = self
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        p.finish(SessionList {
            page,
            user_id: self.user_id,
            q,
        })
    }
}

/// `POST /sessions/{id}/messages`. Its OpenAPI schema is the `oneOf` of the
/// two kinds of message (module `openapi`, feature `openapi`), which says what fields go together.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
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
    #[garde(
        length(chars, min = domain::bounds::message_content::MIN, max = domain::bounds::message_content::MAX),
        custom(no_nul),
        custom(not_blank)
    )]
    pub content: Option<String>,
    #[garde(skip)]
    /// A media message's medium (uploaded by the caller with `POST /media`).
    pub media_id: Option<MediaId>,
    /// Makes the post idempotent within the session.
    #[garde(
        length(chars, min = domain::bounds::client_message_id::MIN, max = domain::bounds::client_message_id::MAX),
        custom(no_nul)
    )]
    pub client_message_id: Option<String>,
    /// `true`: a streamed reply (contract 3.12), `assistant` or `system`,
    /// whose text follows as deltas; `content`, if any, is how it starts.
    #[garde(skip)]
    pub stream: Option<bool>,
}

/// `POST /messages/{id}/deltas`: the next piece of a streamed reply.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeltaInput {
    /// The delta's position: 1 for the first, then one more each time. A
    /// delta already applied, sent again with the same text, changes nothing.
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = true, minimum = 1))]
    pub seq: Option<i64>,
    /// The text it appends, kept as sent (spaces and line breaks included).
    #[garde(length(chars, min = 1, max = 4000), custom(no_nul))]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, required = true, min_length = 1, max_length = 4000)
    )]
    pub text: Option<String>,
}

/// A delta, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Delta {
    pub seq: i64,
    pub text: String,
}

impl DeltaInput {
    pub(crate) fn parse(self) -> Result<Delta, DomainError> {
        let mut p = Parse::new(&self);
        let seq = p.required("seq", self.seq);
        if seq < 1 {
            p.fail("seq", "must be at least 1");
        }
        let text = p.required("text", self.text);
        p.finish(Delta { seq, text })
    }
}

/// `POST /messages/{id}/complete`: the end of a streamed reply.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CompleteInput {
    /// The final text, replacing what the deltas built (1 to 32,000
    /// characters, not only whitespace); absent: what they built stays.
    #[garde(
        length(chars, min = domain::bounds::message_content::MIN, max = domain::bounds::message_content::MAX),
        custom(no_nul),
        custom(not_blank)
    )]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32000))]
    pub content: Option<String>,
}

impl CompleteInput {
    pub(crate) fn parse(self) -> Result<Option<String>, DomainError> {
        Parse::new(&self).finish(self.content)
    }
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
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// `asc` (default) or `desc`; anything else is a validation error on `order`.
    #[garde(length(max = 16), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 16))]
    pub order: Option<String>,
}

/// What a message carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PostBody {
    Text(String),
    /// A medium, with an optional caption.
    Media {
        media_id: MediaId,
        caption: Option<String>,
    },
}

impl Default for PostBody {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

/// A message to post, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct NewPost {
    /// A streamed reply: `body` is its text so far.
    pub stream: bool,
    pub role: MessageRole,
    pub body: PostBody,
    pub client_message_id: Option<String>,
}

impl PostMessageInput {
    /// `type` defaults to `text`, `role` to `user`; a text message needs
    /// `content` and no `mediaId`, a media message a `mediaId`.
    pub(crate) fn parse(self) -> Result<NewPost, DomainError> {
        let mut p = Parse::new(&self);
        let stream = self.stream == Some(true);
        let body = match self.kind.unwrap_or(MessageKind::Text) {
            MessageKind::Text if stream => {
                if self.media_id.is_some() {
                    p.fail("mediaId", "must not be set on a streamed message");
                }
                PostBody::Text(self.content.unwrap_or_default())
            }
            MessageKind::Media if stream => {
                p.fail("type", "a streamed message is a text message");
                PostBody::default()
            }
            MessageKind::Text => {
                if self.media_id.is_some() {
                    p.fail("mediaId", "must not be set on a text message");
                }
                PostBody::Text(p.required("content", self.content))
            }
            MessageKind::Media => PostBody::Media {
                media_id: p.required("mediaId", self.media_id),
                caption: self.content,
            },
        };
        p.finish(NewPost {
            stream,
            role: self.role.unwrap_or(MessageRole::User),
            body,
            client_message_id: self.client_message_id,
        })
    }
}

impl MessageListQuery {
    /// The page asked for and its order (`asc` by default).
    pub(crate) fn parse(self) -> Result<(PageRequest, SortOrder), DomainError> {
        let mut p = Parse::new(&self);
        let page = p.parsed("limit", PageRequest::new(self.limit, self.cursor));
        let order = p.parsed(
            "order",
            match self.order.as_deref() {
                None | Some("asc") => Ok(SortOrder::Asc),
                Some("desc") => Ok(SortOrder::Desc),
                Some(_) => Err("must be asc or desc"),
            },
        );
        p.finish((page, order))
    }
}

/// The schema of [`PostMessageInput`]: a text message or a media message.
#[cfg(feature = "openapi")]
pub mod openapi {
    use super::PostMessageInput;
    use domain::{MediaId, MessageRole};
    use serde::Deserialize;
    use utoipa::openapi::schema::OneOfBuilder;
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    /// Only `text`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    #[expect(missing_docs, reason = "a schema only: its one value is its doc")]
    pub enum TextKind {
        Text,
    }

    /// Only `media`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    #[expect(missing_docs, reason = "a schema only: its one value is its doc")]
    pub enum MediaKind {
        Media,
    }

    /// A text message: `content`, and no `mediaId`.
    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[expect(dead_code, reason = "a schema only")]
    pub struct TextMessageInput {
        /// `text` (the default).
        #[serde(rename = "type")]
        kind: Option<TextKind>,
        /// `user` (default), `assistant` or `system`.
        role: Option<MessageRole>,
        /// The text; kept as sent (not trimmed), not only whitespace.
        #[schema(min_length = 1, max_length = 32000)]
        content: String,
        /// Makes the post idempotent within the session.
        #[schema(min_length = 1, max_length = 100)]
        client_message_id: Option<String>,
    }

    /// A media message: `type: media`, the poster's own upload, and an
    /// optional caption.
    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[expect(dead_code, reason = "a schema only")]
    pub struct MediaMessageInput {
        #[serde(rename = "type")]
        kind: MediaKind,
        /// `user` (default), `assistant` or `system`.
        role: Option<MessageRole>,
        /// An upload of the poster's own.
        media_id: MediaId,
        /// A caption.
        #[schema(min_length = 1, max_length = 32000)]
        content: Option<String>,
        /// Makes the post idempotent within the session.
        #[schema(min_length = 1, max_length = 100)]
        client_message_id: Option<String>,
    }

    /// The roles a streamed message may have.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    #[expect(missing_docs, reason = "a schema only: its values are their docs")]
    pub enum StreamedRole {
        Assistant,
        System,
    }

    /// A streamed reply (agents and admins): created `streaming`, its text
    /// appended with `POST /messages/{id}/deltas`, ended with `POST
    /// /messages/{id}/complete`.
    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[expect(dead_code, reason = "a schema only")]
    pub struct StreamedMessageInput {
        /// `text` (the default): a streamed message is text.
        #[serde(rename = "type")]
        kind: Option<TextKind>,
        /// `assistant` or `system`.
        role: StreamedRole,
        /// `true`.
        stream: bool,
        /// What the reply starts with (more comes as deltas).
        #[schema(min_length = 1, max_length = 32000)]
        content: Option<String>,
        /// Makes the post idempotent within the session.
        #[schema(min_length = 1, max_length = 100)]
        client_message_id: Option<String>,
    }

    impl PartialSchema for PostMessageInput {
        fn schema() -> RefOr<Schema> {
            OneOfBuilder::new()
                .item(TextMessageInput::schema())
                .item(MediaMessageInput::schema())
                .item(StreamedMessageInput::schema())
                .description(Some(
                    "A text message (`content`, no `mediaId`), a media message \
                     (`type: media` and `mediaId`, `content` a caption), or a \
                     streamed reply (`stream: true`, `assistant` or `system`).",
                ))
                .into()
        }
    }

    impl ToSchema for PostMessageInput {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            TextMessageInput::schemas(schemas);
            MediaMessageInput::schemas(schemas);
            StreamedMessageInput::schemas(schemas);
        }
    }
}

/// `GET /messages/search` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessageSearchQuery {
    /// What to find, 1..200 characters, in web-search syntax: words (all must
    /// occur, in any form of the word: `bikes` finds `bike`), `"a phrase"`
    /// (the words in that order), `or` between alternatives, `-word` for
    /// messages without it. Only stop words (`the`, `and`, …) find nothing.
    #[garde(
        required,
        length(chars, min = 1, max = 200),
        custom(no_nul),
        custom(not_blank)
    )]
    #[cfg_attr(
        feature = "openapi",
        param(required = true, min_length = 1, max_length = 200)
    )]
    pub q: Option<String>,
    /// `recent` (the default): every match, newest first. `relevance`: the
    /// newest `SEARCH_RANK_WINDOW` matches (500 by default), best first,
    /// newest first among equals; `truncated` says that older matches exist
    /// beyond them. Anything else is a validation error on `sort`.
    #[garde(length(max = 16), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 16))]
    pub sort: Option<String>,
    /// Only this chat session (`404` if the caller may not read it).
    #[garde(skip)]
    pub session_id: Option<ChatSessionId>,
    /// Page size, 1..=200 (default 50).
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    #[garde(length(max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 512))]
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// The order of a message search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchSort {
    /// Every match, newest first.
    #[default]
    Recent,
    /// The newest `SEARCH_RANK_WINDOW` matches, best first.
    Relevance,
}

impl SearchSort {
    /// Its name in a query string.
    pub fn name(self) -> &'static str {
        match self {
            Self::Recent => "recent",
            Self::Relevance => "relevance",
        }
    }
}

/// A message search request, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageSearchRequest {
    /// The query text as sent.
    pub q: String,
    pub sort: SearchSort,
    pub session_id: Option<ChatSessionId>,
    pub page: PageRequest,
}

impl MessageSearchQuery {
    pub(crate) fn parse(self) -> Result<MessageSearchRequest, DomainError> {
        let mut p = Parse::new(&self);
        let page = p.parsed("limit", PageRequest::new(self.limit, self.cursor));
        let q = p.required("q", self.q);
        let sort = p.parsed(
            "sort",
            match self.sort.as_deref() {
                None | Some("recent") => Ok(SearchSort::Recent),
                Some("relevance") => Ok(SearchSort::Relevance),
                Some(_) => Err("must be recent or relevance"),
            },
        );
        p.finish(MessageSearchRequest {
            q,
            sort,
            session_id: self.session_id,
            page,
        })
    }
}

// ---------------------------------------------------------------- for Rust callers
//
// The request types are the wire's (every field optional, as JSON may omit
// it); these constructors give a program the required fields as arguments.

impl NewSessionInput {
    /// A chat session titled `title` (the rules trim it; 1 to 200 characters).
    ///
    /// ```
    /// let input = chat::inputs::NewSessionInput::titled("Office chairs");
    /// assert_eq!(input.title.as_deref(), Some("Office chairs"));
    /// ```
    pub fn titled(title: impl Into<String>) -> Self {
        Self {
            title: Some(title.into()),
        }
    }
}

impl PostMessageInput {
    /// A text message (`role: user` unless [`PostMessageInput::as_role`]).
    ///
    /// ```
    /// use chat::inputs::PostMessageInput;
    /// use domain::MessageRole;
    /// let reply = PostMessageInput::text("Here are three offers").as_role(MessageRole::Assistant);
    /// assert_eq!(reply.role, Some(MessageRole::Assistant));
    /// ```
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            ..Self::default()
        }
    }

    /// A media message carrying `media_id` (an upload of the poster's).
    pub fn media(media_id: MediaId) -> Self {
        Self {
            kind: Some(MessageKind::Media),
            media_id: Some(media_id),
            ..Self::default()
        }
    }

    /// A streamed reply of `role` (`assistant` or `system`), its text to come
    /// as deltas.
    pub fn streamed(role: MessageRole) -> Self {
        Self {
            role: Some(role),
            stream: Some(true),
            ..Self::default()
        }
    }

    /// The same message, posted as `role`.
    pub fn as_role(mut self, role: MessageRole) -> Self {
        self.role = Some(role);
        self
    }

    /// The same message, made idempotent by `key` within its session.
    pub fn with_client_message_id(mut self, key: impl Into<String>) -> Self {
        self.client_message_id = Some(key.into());
        self
    }
}

impl DeltaInput {
    /// The delta `seq` (from 1) appending `text`.
    pub fn new(seq: i64, text: impl Into<String>) -> Self {
        Self {
            seq: Some(seq),
            text: Some(text.into()),
        }
    }
}

impl CompleteInput {
    /// Completes with the text the deltas built.
    pub fn as_built() -> Self {
        Self::default()
    }

    /// Completes with `content` in place of what the deltas built.
    pub fn replaced_by(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
        }
    }
}

impl MessageListQuery {
    /// The first page, oldest first (`order=asc`), at most `limit` messages.
    pub fn oldest_first(limit: i64) -> Self {
        Self {
            limit: Some(limit),
            cursor: None,
            order: Some("asc".to_owned()),
        }
    }

    /// The first page, newest first (`order=desc`), at most `limit` messages.
    pub fn newest_first(limit: i64) -> Self {
        Self {
            limit: Some(limit),
            cursor: None,
            order: Some("desc".to_owned()),
        }
    }

    /// The same list, after the page whose `nextCursor` is `cursor`.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }
}
