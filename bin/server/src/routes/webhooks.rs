//! `/webhooks` (contract §3.11): endpoints that receive every event, signed;
//! admins only. The deliveries are sent by each instance's dispatcher
//! (`webhook_dispatch`), started in `app.rs`.

use super::{Id, delete, get, patch, post};
use crate::bodies::{DeliveryData, WebhookData, WebhookList};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::reply::{Envelope, Nothing, blocking, created, deleted, ok, reply};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use domain::webhooks::Delivery;
use domain::{Page, WebhookId};
use webhooks::Registered;
use webhooks::inputs::{DeliveryListQuery, WebhookInput, WebhookPatchInput};

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/webhooks")
            .service(web::resource("").route(post(create)).route(get(list)))
            .service(
                web::resource("/{id}")
                    .route(get(get_webhook))
                    .route(patch(update))
                    .route(delete(delete_webhook)),
            )
            .service(web::resource("/{id}/rotate-secret").route(post(rotate_secret)))
            .service(web::resource("/{id}/deliveries").route(get(deliveries)))
            .service(web::resource("/{id}/test").route(post(test))),
    );
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create,
    list,
    get_webhook,
    update,
    delete_webhook,
    rotate_secret,
    deliveries,
    test
))]
pub struct Doc;

/// Register an endpoint (admins). Its `url` is `https://` and must not
/// resolve to a loopback, private, link-local, unique-local or unspecified
/// address (checked now and at every delivery). The answer carries the
/// signing `secret`, shown only here and in the answer to a rotation.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "Webhook registered, with its secret", body = Envelope<Registered>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    body: web::Json<WebhookInput>,
) -> Res {
    let registered = blocking(move || state.webhooks.create(&actor, body.into_inner())).await?;
    Ok(created("Webhook registered", registered))
}

/// Every endpoint (admins), oldest first; never with their secrets.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    responses(
        (status = 200, description = "Webhooks", body = Envelope<WebhookList>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list(state: web::Data<AppState>, Caller(actor): Caller) -> Res {
    let items = blocking(move || state.webhooks.list(&actor)).await?;
    Ok(ok("Webhooks", WebhookList { items }))
}

/// One endpoint (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    responses(
        (status = 200, description = "Webhook", body = Envelope<WebhookData>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_webhook(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = WebhookId(id.into_inner());
    let webhook = blocking(move || state.webhooks.get(&actor, id)).await?;
    Ok(ok("Webhook", WebhookData { webhook }))
}

/// Change an endpoint (admins): a new `url` is checked as at registration;
/// `enabled: false` holds its deliveries (they wait, pending), `enabled:
/// true` resumes them and forgets the failures that count towards
/// `WEBHOOK_DISABLE_AFTER`.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook",
    request_body = WebhookPatchInput,
    responses(
        (status = 200, description = "Webhook updated", body = Envelope<WebhookData>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<WebhookPatchInput>,
) -> Res {
    let id = WebhookId(id.into_inner());
    let webhook = blocking(move || state.webhooks.update(&actor, id, body.into_inner())).await?;
    Ok(ok("Webhook updated", WebhookData { webhook }))
}

/// Delete an endpoint (admins); its deliveries, pending ones included, go with it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    responses(
        (status = 200, description = "Webhook deleted", body = Envelope<Nothing>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_webhook(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = WebhookId(id.into_inner());
    blocking(move || state.webhooks.delete(&actor, id)).await?;
    Ok(deleted("Webhook deleted"))
}

/// Give an endpoint a new secret (admins): for 24 hours every delivery
/// carries two signatures, the new secret's and the old one's,
/// space-separated in `webhook-signature`.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotate_webhook_secret",
    responses(
        (status = 200, description = "Secret rotated", body = Envelope<Registered>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn rotate_secret(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = WebhookId(id.into_inner());
    let registered = blocking(move || state.webhooks.rotate_secret(&actor, id)).await?;
    Ok(ok("Secret rotated", registered))
}

/// An endpoint's deliveries (admins), newest first, optionally of one status.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    params(DeliveryListQuery),
    responses(
        (status = 200, description = "Deliveries", body = Envelope<Page<Delivery>>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn deliveries(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    query: web::Query<DeliveryListQuery>,
) -> Res {
    let id = WebhookId(id.into_inner());
    let page = blocking(move || state.webhooks.deliveries(&actor, id, query.into_inner())).await?;
    Ok(ok("Deliveries", page))
}

/// Send a `webhook.test` event (data `{webhookId}`) to an endpoint (admins),
/// delivered like any other event, also while the endpoint is disabled.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    operation_id = "test_webhook",
    responses(
        (status = 202, description = "Test event queued", body = Envelope<DeliveryData>),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn test(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = WebhookId(id.into_inner());
    let delivery = blocking(move || state.webhooks.test(&actor, id)).await?;
    Ok(reply(
        StatusCode::ACCEPTED,
        "Test event queued",
        DeliveryData { delivery },
    ))
}
