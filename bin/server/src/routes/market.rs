//! Vendors (one per chat session) and sellers' offers. Registered as plain
//! resources, not a `/sessions` scope: the chat context owns `/sessions`, and a
//! second scope with the same prefix would never be reached.

use super::{Id, delete, get, patch, post};
use crate::bodies::{SellerData, SellerList, VendorData};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::reply::{Envelope, Nothing, blocking, created, deleted, ok};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::{ChatSessionId, SellerId, VendorId};
use market::inputs::{
    SellerInput, SellerListQuery, SellerPatchInput, VendorInput, VendorPatchInput,
};

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sessions/{id}/vendor")
            .route(post(create_vendor))
            .route(get(session_vendor)),
    )
    .service(
        web::resource("/sessions/{id}/sellers")
            .route(post(add_seller))
            .route(get(list_sellers)),
    )
    .service(
        web::resource("/vendors/{id}")
            .route(get(get_vendor))
            .route(patch(update_vendor))
            .route(delete(delete_vendor)),
    )
    .service(
        web::resource("/sellers/{id}")
            .route(get(get_seller))
            .route(patch(update_seller))
            .route(delete(delete_seller)),
    );
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_vendor,
    session_vendor,
    get_vendor,
    update_vendor,
    delete_vendor,
    add_seller,
    list_sellers,
    get_seller,
    update_seller,
    delete_seller
))]
pub struct Doc;

/// Record the vendor a chat session is about (one per session).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/vendor", tag = "vendors",
    request_body = VendorInput,
    responses(
        (status = 201, description = "Vendor registered", body = Envelope<VendorData>),
        (status = 409, description = "`CONFLICT`: the session already has a vendor", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_vendor(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<VendorInput>,
) -> Res {
    let session = ChatSessionId(id.into_inner());
    let vendor = blocking(move || {
        state
            .market
            .create_vendor(&actor, session, body.into_inner())
    })
    .await?;
    Ok(created("Vendor registered", VendorData { vendor }))
}

/// The vendor of a chat session; `404` if it has none.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/vendor", tag = "vendors",
    responses((status = 200, description = "Vendor", body = Envelope<VendorData>)),
    security(("bearer" = [])))]
async fn session_vendor(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let session = ChatSessionId(id.into_inner());
    let vendor = blocking(move || state.market.vendor_of_session(&actor, session)).await?;
    Ok(ok("Vendor", VendorData { vendor }))
}

/// One vendor.
#[utoipa::path(get, path = "/api/v1/vendors/{id}", tag = "vendors",
    responses((status = 200, description = "Vendor", body = Envelope<VendorData>)),
    security(("bearer" = [])))]
async fn get_vendor(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = VendorId(id.into_inner());
    let vendor = blocking(move || state.market.vendor(&actor, id)).await?;
    Ok(ok("Vendor", VendorData { vendor }))
}

/// Change a vendor: absent fields stay, `null` clears an optional one.
#[utoipa::path(patch, path = "/api/v1/vendors/{id}", tag = "vendors",
    request_body = VendorPatchInput,
    responses((status = 200, description = "Vendor updated", body = Envelope<VendorData>)),
    security(("bearer" = [])))]
async fn update_vendor(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<VendorPatchInput>,
) -> Res {
    let id = VendorId(id.into_inner());
    let vendor =
        blocking(move || state.market.update_vendor(&actor, id, body.into_inner())).await?;
    Ok(ok("Vendor updated", VendorData { vendor }))
}

/// Delete a vendor.
#[utoipa::path(delete, path = "/api/v1/vendors/{id}", tag = "vendors",
    responses((status = 200, description = "Vendor deleted", body = Envelope<Nothing>)),
    security(("bearer" = [])))]
async fn delete_vendor(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = VendorId(id.into_inner());
    blocking(move || state.market.delete_vendor(&actor, id)).await?;
    Ok(deleted("Vendor deleted"))
}

/// Add a seller's offer to a chat session.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/sellers", tag = "sellers",
    request_body = SellerInput,
    responses(
        (status = 201, description = "Seller added", body = Envelope<SellerData>),
        (status = 409, description = "`CONFLICT`: the same seller for the same product (case-insensitive)", body = ErrorBody),
        (status = 422, description = "`LIMIT_REACHED`: `MAX_SELLERS_PER_SESSION` reached", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn add_seller(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<SellerInput>,
) -> Res {
    let session = ChatSessionId(id.into_inner());
    let seller =
        blocking(move || state.market.add_seller(&actor, session, body.into_inner())).await?;
    Ok(created("Seller added", SellerData { seller }))
}

/// Every seller of a chat session, sorted by `sort`: `createdAt` (default),
/// `price`, `-price` or `name`.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/sellers", tag = "sellers",
    params(SellerListQuery),
    responses((status = 200, description = "Sellers", body = Envelope<SellerList>)),
    security(("bearer" = [])))]
async fn list_sellers(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    query: web::Query<SellerListQuery>,
) -> Res {
    let session = ChatSessionId(id.into_inner());
    let items = blocking(move || state.market.sellers(&actor, session, query.into_inner())).await?;
    Ok(ok("Sellers", SellerList { items }))
}

/// One seller.
#[utoipa::path(get, path = "/api/v1/sellers/{id}", tag = "sellers",
    responses((status = 200, description = "Seller", body = Envelope<SellerData>)),
    security(("bearer" = [])))]
async fn get_seller(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = SellerId(id.into_inner());
    let seller = blocking(move || state.market.seller(&actor, id)).await?;
    Ok(ok("Seller", SellerData { seller }))
}

/// Change a seller or its product: absent fields stay, `null` clears an
/// optional one.
#[utoipa::path(patch, path = "/api/v1/sellers/{id}", tag = "sellers",
    request_body = SellerPatchInput,
    responses(
        (status = 200, description = "Seller updated", body = Envelope<SellerData>),
        (status = 409, description = "`CONFLICT`: the change duplicates another offer", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_seller(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<SellerPatchInput>,
) -> Res {
    let id = SellerId(id.into_inner());
    let seller =
        blocking(move || state.market.update_seller(&actor, id, body.into_inner())).await?;
    Ok(ok("Seller updated", SellerData { seller }))
}

/// Delete a seller.
#[utoipa::path(delete, path = "/api/v1/sellers/{id}", tag = "sellers",
    responses((status = 200, description = "Seller deleted", body = Envelope<Nothing>)),
    security(("bearer" = [])))]
async fn delete_seller(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = SellerId(id.into_inner());
    blocking(move || state.market.delete_seller(&actor, id)).await?;
    Ok(deleted("Seller deleted"))
}
