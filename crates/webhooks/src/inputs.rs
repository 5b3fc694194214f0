//! The webhooks context's request bodies and queries, as clients send them,
//! and what each parses into. Rules that need the network or the server's
//! policy (the URL's target) are the service's.

use domain::patch::nullable;
use domain::text::trim_opt;
use domain::validation::{Parse, no_nul};
use domain::webhooks::{ALL_EVENTS, DESCRIPTION_MAX, DeliveryStatus, EventType, URL_MAX};
use domain::{DomainError, PageRequest};
use serde::Deserialize;

/// At most this many entries in `events` (there are nine event types).
pub const EVENTS_MAX: usize = 16;

/// `events`: one or more event types, each at most once, or `["*"]` alone.
fn event_list(value: &Option<Vec<String>>, _: &()) -> garde::Result {
    let Some(events) = value else {
        return Ok(());
    };
    if events.is_empty() {
        return Err(garde::Error::new("must list at least one event type"));
    }
    if events.len() > EVENTS_MAX {
        return Err(garde::Error::new(format!(
            "must list at most {EVENTS_MAX} event types"
        )));
    }
    for (i, e) in events.iter().enumerate() {
        if e == ALL_EVENTS {
            if events.len() > 1 {
                return Err(garde::Error::new("\"*\" must be alone"));
            }
        } else if !EventType::SUBSCRIBABLE.iter().any(|t| t.name() == e) {
            let known: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|t| t.name()).collect();
            return Err(garde::Error::new(format!(
                "{e:?} is not an event type (one of {}, or \"*\")",
                known.join(", ")
            )));
        }
        if events[..i].contains(e) {
            return Err(garde::Error::new(format!("{e:?} is listed twice")));
        }
    }
    Ok(())
}

/// `POST /webhooks`.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookInput {
    #[garde(required, length(chars, min = 1, max = URL_MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true, max_length = 2048, example = "https://agents.example.com/dealroom/events"))]
    /// Where to POST events: `https://`, to a host outside the private
    /// network (checked now and at every delivery).
    pub url: Option<String>,
    #[garde(required, custom(event_list))]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, required = true, example = json!(["message.created"])))]
    /// Event types (`message.created`, `message.deleted`,
    /// `message.completed`, `session.created`, `session.updated`,
    /// `session.deleted`, `vendor.changed`, `seller.changed`,
    /// `seller.deleted`), or `["*"]` for every one.
    pub events: Option<Vec<String>>,
    #[garde(length(chars, max = DESCRIPTION_MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    /// What the endpoint is for (trimmed; empty is none).
    pub description: Option<String>,
}

/// A checked `POST /webhooks` body (its URL's target not yet checked).
pub(crate) struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

impl WebhookInput {
    pub(crate) fn parse(mut self) -> Result<NewEndpoint, DomainError> {
        trim_opt(&mut self.description);
        let mut p = Parse::new(&self);
        let url = p.required("url", self.url);
        let events = p.required("events", self.events);
        p.finish(NewEndpoint {
            url: url.trim().to_owned(),
            events,
            description: self.description,
        })
    }
}

/// `PATCH /webhooks/{id}`: the fields that are set change; `description: null`
/// clears it.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookPatchInput {
    #[garde(length(chars, min = 1, max = URL_MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    /// A new URL (checked as at registration).
    pub url: Option<String>,
    #[garde(custom(event_list))]
    /// New event types, or `["*"]`.
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[garde(length(chars, max = DESCRIPTION_MAX), custom(no_nul))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 500))]
    /// A new description; `null` clears it.
    pub description: Option<Option<String>>,
    #[garde(skip)]
    /// `false` stops deliveries (they wait, pending); `true` resumes them
    /// and forgets the failures that count towards `WEBHOOK_DISABLE_AFTER`.
    pub enabled: Option<bool>,
}

impl WebhookPatchInput {
    pub(crate) fn parse(mut self) -> Result<domain::webhooks::WebhookChanges, DomainError> {
        if let Some(d) = &mut self.description {
            trim_opt(d);
        }
        Parse::new(&self).finish(domain::webhooks::WebhookChanges {
            url: self.url.map(|u| u.trim().to_owned()),
            events: self.events,
            description: self.description,
            enabled: self.enabled,
        })
    }
}

/// `GET /webhooks/{id}/deliveries` query.
#[derive(Clone, Debug, Default, Deserialize, garde::Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeliveryListQuery {
    /// Page size, 1..=200 (default 50).
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    #[garde(length(max = 512), custom(no_nul))]
    #[cfg_attr(feature = "openapi", param(max_length = 512))]
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<DeliveryStatus>))]
    /// Only deliveries in this status: `pending`, `delivered` or `failed`.
    pub status: Option<String>,
}

impl DeliveryListQuery {
    /// A page of the newest deliveries of this status.
    pub fn status(status: DeliveryStatus) -> Self {
        Self {
            status: Some(status.as_str().to_owned()),
            ..Self::default()
        }
    }

    pub(crate) fn parse(self) -> Result<(PageRequest, Option<DeliveryStatus>), DomainError> {
        let mut p = Parse::new(&self);
        let page = p.parsed("limit", PageRequest::new(self.limit, self.cursor));
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => p.parsed(
                "status",
                DeliveryStatus::parse(s)
                    .map(Some)
                    .ok_or("must be pending, delivered or failed"),
            ),
        };
        p.finish((page, status))
    }
}
