//! A panic in a handler becomes a `500 INTERNAL` envelope instead of a dropped
//! connection, and the worker goes on serving. Routes are registered through
//! [`crate::routes`]' builders, which wrap every handler in [`CatchPanic`].
//! (A middleware cannot do this: it would have to keep a clone of the request
//! while the router still needs the only reference to it.)

use crate::error::ApiError;
use actix_web::Handler;
use domain::DomainError;
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use std::any::Any;
use std::panic::AssertUnwindSafe;

/// A handler whose panics are caught and answered as errors.
#[derive(Clone)]
pub struct CatchPanic<F>(pub F);

impl<F, Args> Handler<Args> for CatchPanic<F>
where
    F: Handler<Args>,
    F::Future: 'static,
    F::Output: 'static,
    Args: 'static,
{
    type Output = Result<F::Output, ApiError>;
    type Future = LocalBoxFuture<'static, Self::Output>;

    fn call(&self, args: Args) -> Self::Future {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.call(args))) {
            Ok(fut) => Box::pin(
                AssertUnwindSafe(fut)
                    .catch_unwind()
                    .map(|r| r.map_err(panicked)),
            ),
            Err(payload) => Box::pin(std::future::ready(Err(panicked(payload)))),
        }
    }
}

fn panicked(payload: Box<dyn Any + Send>) -> ApiError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    ApiError(DomainError::Internal(format!("handler panicked: {what}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use crate::routes::get;
    use actix_web::{App, HttpResponse, test};
    use serde_json::{Value, json};

    async fn boom() -> HttpResponse {
        panic!("a handler bug");
    }

    async fn fine() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_in_the_envelope_and_the_worker_keeps_serving() {
        let app = test::init_service(
            App::new()
                .route("/boom", get(boom))
                .route("/fine", get(fine)),
        )
        .await;
        for _ in 0..2 {
            let res =
                test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
            assert_eq!(res.status().as_u16(), 500);
            let body: Value = test::read_body_json(res).await;
            assert_eq!(
                body,
                json!({ "status": "error", "message": "Internal server error", "code": "INTERNAL" })
            );
            let res =
                test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
            assert_eq!(res.status().as_u16(), 200);
        }
    }
}
