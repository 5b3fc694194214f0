//! Vendors (one per chat session) and sellers' offers. Registered as plain
//! resources, not a `/sessions` scope: the chat context owns `/sessions`, and a
//! second scope with the same prefix would never be reached.

use super::{Id, delete, get, patch, post, put};
use crate::bodies::{ExchangeRatesData, SellerData, SellerList, VendorData};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::reply::{Envelope, Nothing, blocking, created, deleted, ok};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::{ChatSessionId, SellerId, VendorId};
use market::inputs::{
    ExchangeRatesInput, ExchangeRatesQuery, OffersQuery, SellerInput, SellerListQuery,
    SellerPatchInput, VendorInput, VendorPatchInput,
};
use market::offers::OfferList;

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
    .service(web::resource("/sessions/{id}/offers").route(get(session_offers)))
    .service(web::resource("/exchange-rates").route(get(get_exchange_rates)))
    .service(web::resource("/exchange-rates/{date}").route(put(put_exchange_rates)))
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
    delete_seller,
    session_offers,
    put_exchange_rates,
    get_exchange_rates
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
/// `price`, `-price` or `name`. `price` and `-price` sort by currency code,
/// then by `priceMinor` within each currency: prices in different currencies
/// are not compared here; `GET /sessions/{id}/offers` compares them in one
/// currency, per unit.
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

/// Every offer of a chat session compared in one currency (contract 3.7b).
///
/// Each seller's total is converted into `currency` with the latest daily
/// rates on or before `date` (default today, UTC), through the base currency
/// when neither side is the base; amounts are exact decimal strings with the
/// currency's ISO 4217 decimals, rounded half to even. `unitPrice` divides
/// the exact converted total by the quantity in canonical units: `g`, `kg`,
/// `t`, `lb`, `oz` per `kg`; `ml`, `cl`, `l`, `m3`, `gal` (US) per `l`; `mm`,
/// `cm`, `m`, `km`, `in`, `ft` per `m`; `pc`, `piece`, `pieces`, `unit`,
/// `units`, `ea`, `each` and `dozen` (12) per `piece` (no unit: `piece`);
/// any other unit per its own text, trimmed and lower-cased.
///
/// Order: offers with a `unitPrice` first, grouped by `per` (`kg`, `l`, `m`,
/// `piece`, then other units alphabetically), each group cheapest first;
/// then those with only `converted`, cheapest first; then the rest by
/// currency code and `priceMinor`; ties by the seller's `createdAt`, then id.
/// Agents and admins may compare any session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/offers", tag = "sellers",
    params(OffersQuery),
    responses((status = 200, description = "Offers compared", body = Envelope<OfferList>)),
    security(("bearer" = [])))]
async fn session_offers(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    query: web::Query<OffersQuery>,
) -> Res {
    let session = ChatSessionId(id.into_inner());
    let list = blocking(move || state.market.offers(&actor, session, query.into_inner())).await?;
    Ok(ok("Offers compared", list))
}

/// Store one day's exchange rates (admins), replacing what that day held.
///
/// Validated whole: an unknown or lower-case currency code, a rate that is
/// not a positive decimal string of at most 10 significant digits, the base
/// among its own rates, or more than 200 rates is a `400`, and nothing of
/// the body is stored.
#[utoipa::path(put, path = "/api/v1/exchange-rates/{date}", tag = "exchange-rates",
    params(("date" = String, Path, format = Date, description = "The day, `YYYY-MM-DD`", example = "2026-12-04")),
    request_body = ExchangeRatesInput,
    responses(
        (status = 200, description = "Exchange rates stored", body = Envelope<ExchangeRatesData>),
        (status = 403, description = "`FORBIDDEN`: only admins store rates", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_exchange_rates(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    date: web::Path<String>,
    body: web::Json<ExchangeRatesInput>,
) -> Res {
    let exchange_rates = blocking(move || {
        state
            .market
            .put_exchange_rates(&actor, &date.into_inner(), body.into_inner())
    })
    .await?;
    Ok(ok(
        "Exchange rates stored",
        ExchangeRatesData { exchange_rates },
    ))
}

/// The latest day of exchange rates on or before `date` (default today,
/// UTC); `404` if there is none.
#[utoipa::path(get, path = "/api/v1/exchange-rates", tag = "exchange-rates",
    params(ExchangeRatesQuery),
    responses(
        (status = 200, description = "Exchange rates", body = Envelope<ExchangeRatesData>),
        (status = 404, description = "`NOT_FOUND`: no rates on or before that day", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_exchange_rates(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    query: web::Query<ExchangeRatesQuery>,
) -> Res {
    let exchange_rates =
        blocking(move || state.market.exchange_rates(&actor, query.into_inner())).await?;
    Ok(ok("Exchange rates", ExchangeRatesData { exchange_rates }))
}
