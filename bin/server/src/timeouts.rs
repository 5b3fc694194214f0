//! Time bounds on request bodies.
//!
//! Once a request's headers are in, actix waits for its body as long as the
//! client likes. [`BodyTimeout`] wraps the body: the next bytes must come
//! within `idle` of the last ones (counted from when the handler first asks for
//! them), and the whole body within `total` of the headers. Past either bound
//! the reader gets an error, and the request is answered `408 REQUEST_TIMEOUT`
//! in the envelope, whatever the extractor made of that error, and the
//! connection closes.
//!
//! The app wraps every route with the JSON bounds (`BODY_IDLE_TIMEOUT`,
//! `BODY_TIMEOUT`). A route that takes larger bodies (uploads) sets its own
//! total with [`allow_body_for`] before it reads (or wraps itself in another
//! `BodyTimeout`: the inner one finds the body already wrapped and sets the
//! bounds for its route instead of wrapping twice).
//!
//! A body the app did not read to its end (a `401` or `404` answered before
//! it, or a `408`) is never drained: [`body_unfinished`] tells the connection
//! layer, which closes the connection after the response, so that a client
//! cannot hold it by sending a chunked body that never ends.

use crate::error::ErrorCode;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, header};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use futures_util::Stream;
use futures_util::future::LocalBoxFuture;
use std::cell::Cell;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep, sleep_until};

/// Bounds the time a route's request body may take; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout {
    idle: Duration,
    total: Duration,
}

impl BodyTimeout {
    /// At most `idle` between the body's bytes, and `total` for all of it.
    pub fn new(idle: Duration, total: Duration) -> Self {
        Self { idle, total }
    }
}

/// The bounds of one request's body, shared by the middleware that wrapped it,
/// any inner one that re-sets them, and the wrapped body.
#[derive(Debug)]
struct Clock {
    headers_at: Instant,
    idle: Cell<Duration>,
    total: Cell<Duration>,
    expired: Cell<bool>,
    /// The body was read to its end.
    finished: Cell<bool>,
}

#[derive(Clone)]
struct SharedClock(Rc<Clock>);

impl<S, B> Transform<S, ServiceRequest> for BodyTimeout
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BodyTimeoutMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BodyTimeoutMiddleware {
            service: Rc::new(service),
            bounds: *self,
        }))
    }
}

pub struct BodyTimeoutMiddleware<S> {
    service: Rc<S>,
    bounds: BodyTimeout,
}

impl<S, B> Service<ServiceRequest> for BodyTimeoutMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let outer = req.extensions().get::<SharedClock>().cloned();
        if let Some(SharedClock(clock)) = outer {
            // Already wrapped further out: this route's bounds win.
            clock.idle.set(self.bounds.idle);
            clock.total.set(self.bounds.total);
            let fut = self.service.call(req);
            return Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) });
        }
        let payload = std::mem::replace(req.parts_mut().1, Payload::None);
        if matches!(payload, Payload::None) {
            let fut = self.service.call(req);
            return Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) });
        }
        let clock = Rc::new(Clock {
            headers_at: Instant::now(),
            idle: Cell::new(self.bounds.idle),
            total: Cell::new(self.bounds.total),
            expired: Cell::new(false),
            finished: Cell::new(false),
        });
        let timed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(TimedBody {
            inner: payload,
            clock: clock.clone(),
            last: None,
            timer: None,
        });
        req.set_payload(Payload::from(timed));
        req.extensions_mut().insert(SharedClock(clock.clone()));
        let fut = self.service.call(req);
        Box::pin(async move {
            let res = fut.await;
            if !clock.expired.get() {
                return res.map(ServiceResponse::map_into_left_body);
            }
            match res {
                Ok(res) => {
                    let (req, _) = res.into_parts();
                    Ok(ServiceResponse::new(req, request_timeout()).map_into_right_body())
                }
                // No request to answer with: let actix answer the error.
                Err(e) => Err(e),
            }
        })
    }
}

/// Gives the request's body `total` from its headers instead of the app's
/// bound (an upload route's `MEDIA_UPLOAD_TIMEOUT`); call before reading it.
pub fn allow_body_for(req: &HttpRequest, total: Duration) {
    if let Some(SharedClock(clock)) = req.extensions().get::<SharedClock>() {
        clock.total.set(total);
    }
}

/// Whether the request came with a body that the app did not read to its end
/// (or that ran out of time): its connection must close after the response.
pub fn body_unfinished(req: &HttpRequest) -> bool {
    let headers = req.headers();
    let declared = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    if !declared {
        return false;
    }
    match req.extensions().get::<SharedClock>() {
        Some(SharedClock(clock)) => !clock.finished.get() || clock.expired.get(),
        // Answered before the body clock saw it: never read.
        None => true,
    }
}

/// `408 REQUEST_TIMEOUT` in the envelope; the connection closes after it.
pub fn request_timeout() -> HttpResponse {
    let mut res = ErrorCode::RequestTimeout.response();
    res.head_mut().set_connection_type(ConnectionType::Close);
    res
}

/// A request body that fails once a bound of its [`Clock`] passes.
struct TimedBody {
    inner: Payload,
    clock: Rc<Clock>,
    /// When the last bytes came (or the handler first asked for some).
    last: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Stream for TimedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.clock.expired.get() {
            return Poll::Ready(Some(Err(timed_out())));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.last = Some(Instant::now());
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(None) => {
                this.clock.finished.set(true);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => {
                let last = *this.last.get_or_insert_with(Instant::now);
                let deadline = (last + this.clock.idle.get())
                    .min(this.clock.headers_at + this.clock.total.get());
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.clock.expired.set(true);
                        Poll::Ready(Some(Err(timed_out())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "request body timed out",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use actix_web::{App, test, web};
    use serde_json::{Value, json};

    async fn echo(body: web::Json<Value>) -> HttpResponse {
        HttpResponse::Ok().json(body.into_inner())
    }

    #[actix_web::test]
    async fn a_body_that_stops_coming_is_a_408_in_the_envelope_and_a_whole_one_passes() {
        let app = test::init_service(
            App::new()
                .wrap(BodyTimeout::new(
                    Duration::from_millis(100),
                    Duration::from_secs(5),
                ))
                .route("/echo", web::post().to(echo)),
        )
        .await;
        let res = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/echo")
                .set_json(json!({"a": 1}))
                .to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), 200);

        // Headers promise a body; only part of it ever comes.
        let part: Result<Bytes, PayloadError> = Ok(Bytes::from_static(b"{\"a\""));
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(futures_util::StreamExt::chain(
                futures_util::stream::once(std::future::ready(part)),
                futures_util::stream::pending(),
            ));
        let req = test::TestRequest::post()
            .uri("/echo")
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-length", "1000"))
            .to_request();
        let (req, _) = req.replace_payload(Payload::from(stream));
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), 408);
        assert_eq!(
            res.response().head().connection_type(),
            ConnectionType::Close
        );
        let body: Value = test::read_body_json(res).await;
        assert_eq!(
            body,
            json!({ "status": "error", "message": "The request body did not arrive in time", "code": "REQUEST_TIMEOUT" })
        );
    }
}
