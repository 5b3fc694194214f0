//! `GET /metrics`: Prometheus text (format 0.0.4) with request counts and
//! latency histograms by method, route pattern and status, and the state of the
//! database pool.
//!
//! [`RequestMetrics`] wraps the whole app, so it sees every response: errors,
//! 404s, 429s and CORS preflights included. Labels are bounded: `route` is the
//! pattern a request matched (`/api/v1/sessions/{id}`), or `unmatched`; `method`
//! is one of the standard methods, or `other`.

use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use std::collections::HashMap;
use std::fmt::Write;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `route` label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency histogram's buckets, in seconds (`+Inf` implied).
pub const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One series: a counter and a histogram that share their labels.
#[derive(Clone, Debug, Default)]
struct Series {
    count: u64,
    sum: f64,
    /// Observations per bucket, not cumulative; the last one is `+Inf` only.
    buckets: [u64; BUCKETS.len() + 1],
}

impl Series {
    fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        let i = BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[i] += 1;
    }
}

/// Series by route pattern, then by method and status.
type Table = HashMap<Box<str>, HashMap<(&'static str, u16), Series>>;

/// The request metrics of one server; shared by its workers.
#[derive(Debug)]
pub struct Metrics {
    table: Mutex<Table>,
    started: SystemTime,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            started: SystemTime::now(),
        }
    }

    /// Records one answered request.
    pub fn observe(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        took: Duration,
    ) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let by_route = match table.get_mut(route) {
            Some(r) => r,
            None => table.entry(route.into()).or_default(),
        };
        by_route
            .entry((method, status.as_u16()))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text of every series, and of the pool's state.
    pub fn render(&self, pool: &store::PoolStats, events: &events::Stats) -> String {
        let mut rows: Vec<(String, Series)> = {
            let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            table
                .iter()
                .flat_map(|(route, by)| {
                    by.iter().map(move |((method, status), s)| {
                        (
                            format!(
                                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                                escape(route)
                            ),
                            s.clone(),
                        )
                    })
                })
                .collect()
        };
        rows.sort_by(|a, b| a.0.cmp(&b.0));

        let mut out = String::with_capacity(256 + rows.len() * 1600);
        header(
            &mut out,
            "http_requests_total",
            "counter",
            "HTTP requests answered, by method, route pattern and status.",
        );
        for (labels, s) in &rows {
            let _ = writeln!(out, "http_requests_total{{{labels}}} {}", s.count);
        }
        header(
            &mut out,
            "http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request (until the response head), by method, route pattern and status.",
        );
        for (labels, s) in &rows {
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        for (name, help, value) in [
            (
                "db_pool_max_size",
                "The most connections the database pool opens.",
                u64::from(pool.max_size),
            ),
            (
                "db_pool_connections",
                "Database connections open now, idle or in use.",
                u64::from(pool.connections),
            ),
            (
                "db_pool_idle",
                "Open database connections not in use now.",
                u64::from(pool.idle),
            ),
            (
                "db_pool_waiting",
                "Requests waiting for a database connection now.",
                pool.waiting as u64,
            ),
        ] {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        use std::sync::atomic::Ordering::Relaxed;
        for (name, kind, help, value) in [
            (
                "events_open_streams",
                "gauge",
                "Live-event streams open now.",
                events.open_streams.load(Relaxed),
            ),
            (
                "events_sent_total",
                "counter",
                "Live events written to streams.",
                events.events_sent.load(Relaxed),
            ),
            (
                "events_dropped_for_lag_total",
                "counter",
                "Live-event streams ended because the client fell behind.",
                events.dropped_for_lag.load(Relaxed),
            ),
            (
                "events_listener_reconnects_total",
                "counter",
                "Times the events listener re-established its connection.",
                events.listener_reconnects.load(Relaxed),
            ),
        ] {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        let started = self
            .started
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        header(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "When the server started, in seconds since the Unix epoch.",
        );
        let _ = writeln!(out, "process_start_time_seconds {started:.3}");
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value escaped per the text format: `\`, `"` and newline.
pub fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    let mut s = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.into()
}

/// The standard methods by name; anything else is `other`, so that made-up
/// methods cannot add series.
fn method_label(m: &Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// `GET /metrics`.
pub async fn endpoint(
    metrics: web::Data<Metrics>,
    state: web::Data<AppState>,
    webhooks: web::Data<webhook_dispatch::Stats>,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, CONTENT_TYPE_TEXT))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body({
            let mut text = metrics.render(&state.store.pool_stats(), &state.events.stats);
            if let Some(replica) = state.store.replica_stats() {
                render_replica(&mut text, &replica);
            }
            render_webhooks(&mut text, &webhooks);
            text
        })
}

/// The read replica's series (only with `DATABASE_REPLICA_URL`).
fn render_replica(out: &mut String, r: &store::ReplicaStats) {
    let lag = r.lag.map_or(f64::NAN, |l| l.as_secs_f64());
    for (name, kind, help, value) in [
        (
            "db_replica_up",
            "gauge",
            "1 while reads go to the replica (it answers and is at most REPLICA_MAX_LAG behind), else 0.",
            f64::from(u8::from(r.usable)),
        ),
        (
            "db_replica_lag_seconds",
            "gauge",
            "How far the replica was behind the primary at its last check (NaN: unreachable).",
            lag,
        ),
        (
            "db_replica_max_lag_seconds",
            "gauge",
            "REPLICA_MAX_LAG: a replica further behind is skipped.",
            r.max_lag.as_secs_f64(),
        ),
        (
            "db_replica_reads_total",
            "counter",
            "Reads the replica answered.",
            r.reads as f64,
        ),
        (
            "db_replica_fallbacks_total",
            "counter",
            "Replica reads that went to the primary (replica skipped, busy or failing).",
            r.fallbacks as f64,
        ),
        (
            "db_replica_pool_connections",
            "gauge",
            "Replica connections open now, idle or in use.",
            f64::from(r.pool.connections),
        ),
    ] {
        header(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// The webhooks' series: this instance's attempts by outcome, and the
/// queue (every instance's) as its dispatcher last read it.
fn render_webhooks(out: &mut String, s: &webhook_dispatch::Stats) {
    use std::sync::atomic::Ordering::Relaxed;
    header(
        out,
        "webhook_attempts_total",
        "counter",
        "Webhook delivery attempts by this instance, by outcome: delivered (a 2xx), retry (failed, tried again later), failed (failed for the last time).",
    );
    for (outcome, n) in [
        ("delivered", &s.delivered),
        ("retry", &s.retried),
        ("failed", &s.failed),
    ] {
        let _ = writeln!(
            out,
            "webhook_attempts_total{{outcome=\"{outcome}\"}} {}",
            n.load(Relaxed)
        );
    }
    for (name, kind, help, value) in [
        (
            "webhook_deliveries_pending",
            "gauge",
            "Webhook deliveries pending (of every instance), read every 2 s.",
            s.pending.load(Relaxed) as f64,
        ),
        (
            "webhook_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest pending webhook delivery (0: none pending).",
            s.oldest_pending_age(),
        ),
        (
            "webhook_attempts_in_flight",
            "gauge",
            "Webhook attempts this instance has in flight now.",
            s.in_flight.load(Relaxed) as f64,
        ),
        (
            "webhook_endpoints_disabled_total",
            "counter",
            "Webhook endpoints this instance disabled after WEBHOOK_DISABLE_AFTER of failures only.",
            s.disabled.load(Relaxed) as f64,
        ),
        (
            "webhook_deliveries_purged_total",
            "counter",
            "Ended webhook deliveries deleted after WEBHOOK_RETENTION.",
            s.purged.load(Relaxed) as f64,
        ),
    ] {
        header(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// The middleware that records every request in [`Metrics`]; wrap it
/// outermost.
#[derive(Clone)]
pub struct RequestMetrics(pub Arc<Metrics>);

impl<S, B> Transform<S, ServiceRequest> for RequestMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestMetricsMiddleware {
            service: Rc::new(service),
            metrics: self.0.clone(),
        }))
    }
}

pub struct RequestMetricsMiddleware<S> {
    service: Rc<S>,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<ServiceRequest> for RequestMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = req.method().clone();
        let metrics = self.metrics.clone();
        let fut = self.service.call(req);
        Box::pin(async move {
            let res = fut.await;
            match &res {
                Ok(r) => {
                    let route = r.request().match_pattern();
                    metrics.observe(&method, route.as_deref(), r.status(), started.elapsed());
                }
                // An error that no inner layer turned into a response; the
                // request is gone, so its route is not known.
                Err(e) => metrics.observe(
                    &method,
                    None,
                    e.as_response_error().status_code(),
                    started.elapsed(),
                ),
            }
            res
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("/a/{id}"), "/a/{id}");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn histograms_are_cumulative_and_inf_is_the_count() {
        let m = Metrics::new();
        let get = Method::GET;
        for ms in [0, 3, 3, 70, 20_000] {
            m.observe(
                &get,
                Some("/x/{id}"),
                StatusCode::OK,
                Duration::from_millis(ms),
            );
        }
        m.observe(
            &Method::from_bytes(b"BREW").unwrap_or(Method::GET),
            None,
            StatusCode::NOT_FOUND,
            Duration::ZERO,
        );
        let text = m.render(
            &store::PoolStats {
                max_size: 4,
                connections: 2,
                idle: 1,
                waiting: 0,
            },
            &events::Stats::default(),
        );
        let l = "method=\"GET\",route=\"/x/{id}\",status=\"200\"";
        for line in [
            format!("http_requests_total{{{l}}} 5"),
            format!("http_request_duration_seconds_bucket{{{l},le=\"0.001\"}} 1"),
            format!("http_request_duration_seconds_bucket{{{l},le=\"0.0025\"}} 1"),
            format!("http_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 3"),
            format!("http_request_duration_seconds_bucket{{{l},le=\"0.1\"}} 4"),
            format!("http_request_duration_seconds_bucket{{{l},le=\"10\"}} 4"),
            format!("http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 5"),
            format!("http_request_duration_seconds_count{{{l}}} 5"),
            "http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1".into(),
            "db_pool_max_size 4".into(),
            "db_pool_connections 2".into(),
            "db_pool_idle 1".into(),
            "db_pool_waiting 0".into(),
        ] {
            assert!(text.lines().any(|x| x == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn webhooks_report_attempts_by_outcome_and_the_queue() {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = webhook_dispatch::Stats::default();
        stats.delivered.store(7, Relaxed);
        stats.retried.store(2, Relaxed);
        stats.pending.store(3, Relaxed);
        let mut text = String::new();
        render_webhooks(&mut text, &stats);
        for line in [
            "webhook_attempts_total{outcome=\"delivered\"} 7",
            "webhook_attempts_total{outcome=\"retry\"} 2",
            "webhook_attempts_total{outcome=\"failed\"} 0",
            "webhook_deliveries_pending 3",
            "webhook_oldest_pending_age_seconds 0",
        ] {
            assert!(text.lines().any(|x| x == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn the_replica_reports_its_lag_and_whether_reads_go_to_it() {
        let mut text = String::new();
        let mut stats = store::ReplicaStats {
            usable: true,
            lag: Some(Duration::from_millis(250)),
            max_lag: Duration::from_secs(2),
            reads: 7,
            fallbacks: 3,
            pool: store::PoolStats::default(),
        };
        render_replica(&mut text, &stats);
        for line in [
            "db_replica_up 1",
            "db_replica_lag_seconds 0.25",
            "db_replica_max_lag_seconds 2",
            "db_replica_reads_total 7",
            "db_replica_fallbacks_total 3",
        ] {
            assert!(text.lines().any(|x| x == line), "{line} in\n{text}");
        }
        stats.usable = false;
        stats.lag = None;
        let mut text = String::new();
        render_replica(&mut text, &stats);
        for line in ["db_replica_up 0", "db_replica_lag_seconds NaN"] {
            assert!(text.lines().any(|x| x == line), "{line} in\n{text}");
        }
    }
}
