//! Rate limiting per client IP (actix-governor, GCRA): `max` requests per window
//! on average, with bursts of up to `max`. The 429 is in our envelope with a
//! `Retry-After` of at least one second; idle keys are forgotten.

use crate::error::{ErrorBody, ErrorCode};
use crate::net::client_ip;
use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::StateInformationMiddleware;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder};
use std::net::IpAddr;
use std::time::Duration;

/// The client IP as the key: the peer's, or `X-Forwarded-For`'s with `TRUST_PROXY`.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp {
    pub trust_proxy: bool,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        client_ip(req.request(), self.trust_proxy)
            .ok_or_else(|| SimpleKeyExtractionError::new("no client address"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut res: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        res.insert_header(("retry-after", secs))
            .insert_header(("x-ratelimit-after", secs))
            .json(ErrorBody::of(ErrorCode::RateLimited))
    }
}

pub type Limit = GovernorConfig<ClientIp, StateInformationMiddleware>;

/// `max` requests per `window` per client IP.
pub fn limit(max: u32, window: Duration, trust_proxy: bool) -> Option<Limit> {
    let per = (window / max.max(1)).max(Duration::from_nanos(1));
    GovernorConfigBuilder::default()
        .key_extractor(ClientIp { trust_proxy })
        .period(per)
        .burst_size(max.max(1))
        .use_headers()
        .finish()
}

/// Forgets keys whose state has returned to full capacity (memory per key stays
/// bounded), every `every`.
pub async fn forget_idle_keys(limits: Vec<Limit>, every: Duration) {
    loop {
        actix_web::rt::time::sleep(every).await;
        for l in &limits {
            let limiter = l.limiter();
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
