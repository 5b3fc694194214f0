//! `make bench`'s live-events client (not part of the server).
//!
//! Opens `STREAMS` SSE streams on one chat session (`SESSIONS=1`) or spread
//! over `SESSIONS` sessions, samples the server's RSS before and after they
//! are open, then posts `RATE` messages a second for `SECONDS` seconds
//! (round-robin over the sessions) and measures, for every delivered
//! `message.created`, the time from the post's `201` to its arrival at the
//! subscriber (an event that arrives before the `201` counts as 0). With
//! `RATE=0` it only holds the streams open for `SECONDS` (idle streams while
//! another tool loads the server). Prints one JSON object.
//!
//! Environment: `BASE_URL`, `SERVER_PID`, `STREAMS`, `SESSIONS`, `RATE`,
//! `SECONDS`.
//!
//! With `AGENT_TOKEN` (an agent's access token) it streams replies instead
//! (the streamed-replies scenario): one reply per session, each sending
//! `RATE` deltas a second for `SECONDS` seconds as that agent, one delta
//! after the other's `200`, and measures for every `message.delta` delivered
//! the time from its `200` to its arrival, and whether each stream saw each
//! reply's deltas exactly once and in `seq` order. It prints
//! `{"phase":"streaming"}` when the deltas start, then the JSON object.

mod replies;

use actix_web::web::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What the posts and the streams recorded.
#[derive(Default)]
struct Log {
    /// Message id → when its `201` came back.
    answered: HashMap<String, Instant>,
    /// (message id, arrival) for every delivered event.
    arrivals: Vec<(String, Instant)>,
    /// (stream, message id, seq, arrival) for every delivered `message.delta`.
    deltas: Vec<(usize, String, i64, Instant)>,
    streams_open: usize,
    streams_ended: usize,
}

async fn call(
    client: &awc::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.request(method.parse().unwrap_or(awc::http::Method::POST), url);
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    match req.send_json(&body).await {
        Ok(mut res) => res
            .json::<Value>()
            .limit(1 << 20)
            .await
            .unwrap_or(Value::Null),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Reads one stream until it ends, recording `message.created` arrivals.
async fn subscribe(
    stream: usize,
    base: String,
    session: String,
    token: String,
    log: Rc<RefCell<Log>>,
) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(3600))
        .finish();
    let res = client
        .get(format!("{base}/api/v1/sessions/{session}/events"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await;
    let Ok(mut res) = res else {
        log.borrow_mut().streams_ended += 1;
        return;
    };
    log.borrow_mut().streams_open += 1;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = res.next().await {
        let now = Instant::now();
        buf.extend_from_slice(&chunk);
        while let Some(end) = find(&buf, b"\n\n") {
            let frame: Bytes = Bytes::copy_from_slice(&buf[..end]);
            buf.drain(..end + 2);
            if let Some(id) = created_id(&frame) {
                log.borrow_mut().arrivals.push((id, now));
            } else if let Some((id, seq)) = replies::delta_id(&frame) {
                log.borrow_mut().deltas.push((stream, id, seq, now));
            }
        }
    }
    log.borrow_mut().streams_ended += 1;
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The message id of a `message.created` frame.
fn created_id(frame: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(frame).ok()?;
    if !text.contains("event: message.created") {
        return None;
    }
    let data = text.lines().find_map(|l| l.strip_prefix("data: "))?;
    let at = data.find("\"id\":\"")? + 6;
    data.get(at..at + 36).map(str::to_owned)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[actix_web::main]
async fn main() {
    let base = std::env::var("BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let pid = env_num("SERVER_PID", 0);
    let streams = env_num("STREAMS", 1000) as usize;
    let sessions = env_num("SESSIONS", 1).max(1) as usize;
    let rate = env_num("RATE", 200);
    let seconds = env_num("SECONDS", 10);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();

    let email = format!("sse-{}@bench.example", std::process::id());
    let reg = call(
        &client,
        "POST",
        &format!("{base}/api/v1/auth/register"),
        None,
        json!({ "email": email, "password": "bench-password", "name": "Bench" }),
    )
    .await;
    let Some(token) = reg["data"]["tokens"]["accessToken"]
        .as_str()
        .map(str::to_owned)
    else {
        eprintln!("sse-bench: cannot register: {reg}");
        std::process::exit(1);
    };
    let mut ids = Vec::new();
    for i in 0..sessions {
        let s = call(
            &client,
            "POST",
            &format!("{base}/api/v1/sessions"),
            Some(&token),
            json!({ "title": format!("live {i}") }),
        )
        .await;
        match s["data"]["session"]["id"].as_str() {
            Some(id) => ids.push(id.to_owned()),
            None => {
                eprintln!("sse-bench: cannot create a session: {s}");
                std::process::exit(1);
            }
        }
    }

    let log = Rc::new(RefCell::new(Log::default()));
    let rss_before = rss_kib(pid);
    for i in 0..streams {
        actix_web::rt::spawn(subscribe(
            i,
            base.clone(),
            ids[i % ids.len()].clone(),
            token.clone(),
            log.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while log.borrow().streams_open + log.borrow().streams_ended < streams
        && Instant::now() < deadline
    {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let rss_open = rss_kib(pid);

    if let Ok(agent) = std::env::var("AGENT_TOKEN") {
        let mut out =
            replies::run(&client, &base, &agent, &ids, streams, rate, seconds, &log).await;
        out["rss_kib_before"] = json!(rss_before);
        out["rss_kib_open"] = json!(rss_open);
        out["rss_kib_after"] = json!(rss_kib(pid));
        println!("{out}");
        return;
    }

    let started = Instant::now();
    let mut posted = 0u64;
    let mut failed = 0u64;
    if rate == 0 {
        actix_web::rt::time::sleep(Duration::from_secs(seconds)).await;
    } else {
        let every = Duration::from_secs_f64(1.0 / rate as f64);
        let total = rate * seconds;
        let mut tick = actix_web::rt::time::interval(every);
        let in_flight = Rc::new(RefCell::new(0u64));
        let failures = Rc::new(RefCell::new(0u64));
        for i in 0..total {
            tick.tick().await;
            let (client, log, base, token) =
                (client.clone(), log.clone(), base.clone(), token.clone());
            let session = ids[(i as usize) % ids.len()].clone();
            let (in_flight, failures) = (in_flight.clone(), failures.clone());
            *in_flight.borrow_mut() += 1;
            actix_web::rt::spawn(async move {
                let m = call(
                    &client,
                    "POST",
                    &format!("{base}/api/v1/sessions/{session}/messages"),
                    Some(&token),
                    json!({ "content": format!("live event number {i} from the benchmark") }),
                )
                .await;
                let now = Instant::now();
                match m["data"]["message"]["id"].as_str() {
                    Some(id) => {
                        log.borrow_mut().answered.insert(id.to_owned(), now);
                    }
                    None => *failures.borrow_mut() += 1,
                }
                *in_flight.borrow_mut() -= 1;
            });
            posted += 1;
        }
        while *in_flight.borrow() > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        // Let the last events arrive.
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        failed = *failures.borrow();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let log = log.borrow();
    let mut latencies: Vec<f64> = log
        .arrivals
        .iter()
        .filter_map(|(id, at)| {
            log.answered
                .get(id)
                .map(|ok| at.saturating_duration_since(*ok).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let expected = if sessions == 1 {
        posted as usize * streams
    } else {
        // Each post reaches the streams of its own session.
        (0..posted as usize)
            .map(|i| {
                (0..streams)
                    .filter(|s| s % sessions == i % sessions)
                    .count()
            })
            .sum()
    };
    let out = json!({
        "streams": streams,
        "sessions": sessions,
        "streams_open": log.streams_open,
        "streams_ended_early": log.streams_ended,
        "rate": rate,
        "seconds": seconds,
        "posted": posted,
        "post_failures": failed,
        "events_expected": expected,
        "events_delivered": log.arrivals.len(),
        "events_per_second": log.arrivals.len() as f64 / elapsed,
        "latency_ms_p50": percentile(&latencies, 0.50),
        "latency_ms_p99": percentile(&latencies, 0.99),
        "latency_ms_max": latencies.last().copied().unwrap_or(0.0),
        "rss_kib_before": rss_before,
        "rss_kib_open": rss_open,
        "rss_kib_per_stream": (rss_open.saturating_sub(rss_before) as f64) / streams.max(1) as f64,
    });
    println!("{out}");
}
