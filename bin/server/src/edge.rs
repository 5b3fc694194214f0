//! Middleware at the edge of every response: request id, access log, 5xx
//! detail policy, security headers, and our envelope for actix's own 405.

use crate::error::{ErrorBody, ErrorCode, InternalDetail};
use crate::openapi;
use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use std::pin::Pin;
use std::task::{Context, Poll};
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
) -> Result<ServiceResponse<Logged>, actix_web::Error> {
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
    let line = AccessLine {
        production: config.production,
        method,
        path,
        status: res.status(),
        started,
        id,
    };
    Ok(res.map_body(|_, body| Logged {
        body,
        sent: 0,
        line: Some(line),
    }))
}

/// What a response's access-log line says besides its bytes.
struct AccessLine {
    production: bool,
    method: String,
    path: String,
    status: StatusCode,
    started: Instant,
    id: String,
}

/// A response body that counts the bytes it hands to the connection (after
/// compression: `Compress` is further in) and writes the access-log line when
/// it ends, or when it is dropped because the client left.
pub struct Logged {
    body: BoxBody,
    sent: u64,
    line: Option<AccessLine>,
}

impl Logged {
    fn log(&mut self) {
        if let Some(l) = self.line.take() {
            access_log(
                l.production,
                &l.method,
                &l.path,
                l.status,
                self.sent,
                l.started,
                &l.id,
            );
        }
    }
}

impl MessageBody for Logged {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.sent += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.log();
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.log();
    }
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

/// helmet 8's default Content-Security-Policy, less its last directive
/// (`upgrade-insecure-requests`).
macro_rules! helmet_csp {
    () => {
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';\
         frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';\
         script-src-attr 'none';style-src 'self' https: 'unsafe-inline'"
    };
}

/// The policy of the docs pages: helmet's without `upgrade-insecure-requests`,
/// so that they work over plain http at any host name (an operator opening
/// `/docs` from another machine: the browser would fetch the script and style
/// over https, and fail).
pub const DOCS_CSP: &str = helmet_csp!();

/// The headers helmet 8 sends by default, with its default values.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            concat!(helmet_csp!(), ";upgrade-insecure-requests"),
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
        .add(("Origin-Agent-Cluster", "?1"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
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

/// A preflight that CORS refuses, in the envelope (actix-cors answers it in
/// plain text): `400 VALIDATION_ERROR` naming the header that was refused.
pub async fn cors_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let res = next.call(req).await?;
    let refused = res
        .response()
        .error()
        .and_then(|e| e.as_error::<actix_cors::CorsError>())
        .map(|e| match e {
            actix_cors::CorsError::MissingRequestMethod
            | actix_cors::CorsError::BadRequestMethod
            | actix_cors::CorsError::MethodNotAllowed => {
                ("Access-Control-Request-Method", e.to_string())
            }
            actix_cors::CorsError::BadRequestHeaders | actix_cors::CorsError::HeadersNotAllowed => {
                ("Access-Control-Request-Headers", e.to_string())
            }
            _ => ("Origin", e.to_string()),
        });
    let Some((field, message)) = refused else {
        return Ok(res.map_into_left_body());
    };
    let (req, old) = res.into_parts();
    let mut body = ErrorCode::ValidationError.respond(
        "CORS request refused",
        Some(&[domain::FieldError {
            field: field.to_owned(),
            message,
        }]),
    );
    if let Some(vary) = old.headers().get(header::VARY) {
        body.headers_mut().insert(header::VARY, vary.clone());
    }
    Ok(ServiceResponse::new(req, body).map_into_right_body())
}

/// Unknown routes.
pub async fn not_found() -> HttpResponse {
    ErrorCode::NotFound.respond("Route not found", None)
}
