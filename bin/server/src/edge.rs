//! Middleware at the edge of every response: request id, access log, 5xx
//! detail policy, security headers, and our envelope for actix's own 405.

use crate::error::{ErrorBody, ErrorCode, InternalDetail};
use crate::openapi;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{HttpResponse, web};
use std::time::Instant;

pub const REQUEST_ID: &str = "x-request-id";

/// Settings of the edge middleware.
#[derive(Clone, Copy, Debug)]
pub struct EdgeConfig {
    /// Production: 5xx bodies carry no `detail`; access log lines are JSON.
    pub production: bool,
}

/// A client's id is kept if it is 1..=128 characters of `[A-Za-z0-9._:-]`.
fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    ok.then(|| s.to_owned())
}

/// Request id, access log line, error log line and the 5xx detail policy.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let config = req
        .app_data::<web::Data<EdgeConfig>>()
        .map(|c| *c.get_ref())
        .unwrap_or(EdgeConfig { production: true });
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().to_string();
    let path = req.path().to_owned();

    let res = next.call(req).await?;
    let status = res.status();
    let detail = res.response().extensions().get::<InternalDetail>().cloned();
    let mut res = match (&detail, status.is_server_error()) {
        (Some(InternalDetail(d)), true) => {
            log::error!(target: "dealroom::error", "request_id={id} {method} {path}: {d}");
            if config.production {
                res.map_into_boxed_body()
            } else {
                let (req, old) = res.into_parts();
                let mut new = HttpResponse::build(old.status()).json(ErrorBody {
                    status: "error",
                    message: ErrorCode::Internal.message(),
                    code: ErrorCode::Internal.code(),
                    errors: None,
                    detail: Some(d.as_str()),
                });
                for (k, v) in old.headers() {
                    if k != actix_web::http::header::CONTENT_TYPE
                        && k != actix_web::http::header::CONTENT_LENGTH
                        && k != actix_web::http::header::CONTENT_ENCODING
                    {
                        new.headers_mut().insert(k.clone(), v.clone());
                    }
                }
                ServiceResponse::new(req, new).map_into_boxed_body()
            }
        }
        _ => res.map_into_boxed_body(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), v);
    }
    let bytes = match res.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n,
        _ => 0,
    };
    access_log(
        config.production,
        &method,
        &path,
        res.status(),
        bytes,
        started,
        &id,
    );
    Ok(res)
}

/// One access-log line (also written by [`crate::conn`] for what the app never saw).
pub(crate) fn access_log(
    production: bool,
    method: &str,
    path: &str,
    status: StatusCode,
    bytes: u64,
    started: Instant,
    id: &str,
) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if production {
        let line = serde_json::json!({
            "method": method, "path": path, "status": status.as_u16(), "bytes": bytes,
            "ms": (ms * 1000.0).round() / 1000.0, "requestId": id,
        });
        log::info!(target: "dealroom::access", "{line}");
    } else {
        log::info!(target: "dealroom::access", "{method} {path} {} {bytes}B {ms:.1}ms {id}", status.as_u16());
    }
}

/// The headers helmet 8 sends by default, with its default values.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';\
             frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';\
             script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
        .add(("Origin-Agent-Cluster", "?1"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-DNS-Prefetch-Control", "off"))
        .add(("X-Download-Options", "noopen"))
        .add(("X-Frame-Options", "SAMEORIGIN"))
        .add(("X-Permitted-Cross-Domain-Policies", "none"))
        .add(("X-XSS-Protection", "0"))
}

/// actix answers a known path with a wrong method with an empty 405: put it in
/// the envelope.
pub fn method_not_allowed<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, |res: ServiceResponse<B>| {
        let (req, _) = res.into_parts();
        let mut body = ErrorCode::MethodNotAllowed.response();
        body.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static(openapi::allowed_methods(req.match_pattern().as_deref())),
        );
        let res: ServiceResponse<EitherBody<B>> =
            ServiceResponse::new(req, body).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(res))
    })
}

/// Unknown routes.
pub async fn not_found() -> HttpResponse {
    ErrorCode::NotFound.respond("Route not found", None)
}
