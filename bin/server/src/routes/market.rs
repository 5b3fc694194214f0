//! Vendors (one per chat session) and sellers' offers. Registered as plain
//! resources, not a `/sessions` scope: the chat context owns `/sessions`, and a
//! second scope with the same prefix would never be reached.

use super::Id;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::reply::{blocking, created, deleted, ok};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use domain::market_inputs::{
    SellerInput, SellerListQuery, SellerPatchInput, VendorInput, VendorPatchInput,
};
use domain::{ChatSessionId, SellerId, VendorId};
use serde_json::json;

type Res = Result<HttpResponse, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sessions/{id}/vendor")
            .route(web::post().to(create_vendor))
            .route(web::get().to(session_vendor)),
    )
    .service(
        web::resource("/sessions/{id}/sellers")
            .route(web::post().to(add_seller))
            .route(web::get().to(list_sellers)),
    )
    .service(
        web::resource("/vendors/{id}")
            .route(web::get().to(get_vendor))
            .route(web::patch().to(update_vendor))
            .route(web::delete().to(delete_vendor)),
    )
    .service(
        web::resource("/sellers/{id}")
            .route(web::get().to(get_seller))
            .route(web::patch().to(update_seller))
            .route(web::delete().to(delete_seller)),
    );
}

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
    Ok(created("Vendor registered", json!({ "vendor": vendor })))
}

async fn session_vendor(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let session = ChatSessionId(id.into_inner());
    let vendor = blocking(move || state.market.vendor_of_session(&actor, session)).await?;
    Ok(ok("Vendor", json!({ "vendor": vendor })))
}

async fn get_vendor(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = VendorId(id.into_inner());
    let vendor = blocking(move || state.market.vendor(&actor, id)).await?;
    Ok(ok("Vendor", json!({ "vendor": vendor })))
}

async fn update_vendor(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<VendorPatchInput>,
) -> Res {
    let id = VendorId(id.into_inner());
    let vendor =
        blocking(move || state.market.update_vendor(&actor, id, body.into_inner())).await?;
    Ok(ok("Vendor updated", json!({ "vendor": vendor })))
}

async fn delete_vendor(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = VendorId(id.into_inner());
    blocking(move || state.market.delete_vendor(&actor, id)).await?;
    Ok(deleted("Vendor deleted"))
}

async fn add_seller(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<SellerInput>,
) -> Res {
    let session = ChatSessionId(id.into_inner());
    let seller =
        blocking(move || state.market.add_seller(&actor, session, body.into_inner())).await?;
    Ok(created("Seller added", json!({ "seller": seller })))
}

async fn list_sellers(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    query: web::Query<SellerListQuery>,
) -> Res {
    let session = ChatSessionId(id.into_inner());
    let items = blocking(move || state.market.sellers(&actor, session, query.into_inner())).await?;
    Ok(ok("Sellers", json!({ "items": items })))
}

async fn get_seller(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = SellerId(id.into_inner());
    let seller = blocking(move || state.market.seller(&actor, id)).await?;
    Ok(ok("Seller", json!({ "seller": seller })))
}

async fn update_seller(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    id: Id,
    body: web::Json<SellerPatchInput>,
) -> Res {
    let id = SellerId(id.into_inner());
    let seller =
        blocking(move || state.market.update_seller(&actor, id, body.into_inner())).await?;
    Ok(ok("Seller updated", json!({ "seller": seller })))
}

async fn delete_seller(state: web::Data<AppState>, Caller(actor): Caller, id: Id) -> Res {
    let id = SellerId(id.into_inner());
    blocking(move || state.market.delete_seller(&actor, id)).await?;
    Ok(deleted("Seller deleted"))
}
