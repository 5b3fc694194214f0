//! `GET /api/v1/openapi.json` and the interactive docs at `/docs`: a page and
//! its script and style, compiled into the binary (no CDN, nothing fetched at
//! build or run time but the document itself).

use super::get;
use crate::openapi;
use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, web};

const INDEX: &str = include_str!("../../assets/docs/index.html");
const SCRIPT: &str = include_str!("../../assets/docs/docs.js");
const STYLE: &str = include_str!("../../assets/docs/docs.css");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/docs").route(get(index)))
        .service(web::resource("/docs/docs.js").route(get(script)))
        .service(web::resource("/docs/docs.css").route(get(style)));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi_json, index))]
pub struct Doc;

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(openapi::JSON.as_str())
}

/// Interactive API docs: a page that reads this document (no CDN).
#[utoipa::path(get, path = "/docs", tag = "service",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX)
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header(("Content-Security-Policy", crate::edge::DOCS_CSP))
        .body(body)
}
