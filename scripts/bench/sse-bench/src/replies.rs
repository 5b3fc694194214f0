//! The streamed-replies scenario: an agent streams one reply per session,
//! `RATE` deltas a second each, while the subscribers record every
//! `message.delta` they receive (see the crate's documentation).

use super::{Log, call, percentile};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The message id and `seq` of a `message.delta` frame.
pub fn delta_id(frame: &[u8]) -> Option<(String, i64)> {
    let text = std::str::from_utf8(frame).ok()?;
    if !text.contains("event: message.delta") {
        return None;
    }
    let data = text.lines().find_map(|l| l.strip_prefix("data: "))?;
    let v: Value = serde_json::from_str(data).ok()?;
    Some((v["id"].as_str()?.to_owned(), v["seq"].as_i64()?))
}

fn ok(v: &Value) -> bool {
    v["status"] == "success"
}

/// What the agent's requests recorded.
#[derive(Default)]
struct Sent {
    /// (message id, seq) → when its `200` came back.
    answered: HashMap<(String, i64), Instant>,
    /// Deltas applied per reply.
    applied: HashMap<String, i64>,
    failures: u64,
    retries: u64,
    last_answer: Option<Instant>,
}

/// Streams the replies and measures their delivery; the JSON summary.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &awc::Client,
    base: &str,
    agent: &str,
    sessions: &[String],
    streams: usize,
    rate: u64,
    seconds: u64,
    log: &Rc<RefCell<Log>>,
) -> Value {
    // One reply per session, created before the clock starts.
    let mut replies = Vec::new();
    for s in sessions {
        let m = call(
            client,
            "POST",
            &format!("{base}/api/v1/sessions/{s}/messages"),
            Some(agent),
            json!({ "role": "assistant", "stream": true }),
        )
        .await;
        match m["data"]["message"]["id"].as_str() {
            Some(id) => replies.push(id.to_owned()),
            None => {
                eprintln!("sse-bench: cannot start a streamed reply: {m}");
                std::process::exit(1);
            }
        }
    }
    // Let the `message.created` events go out before the deltas start.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;

    println!("{}", json!({ "phase": "streaming" }));
    let _ = std::io::stdout().flush();
    let sent = Rc::new(RefCell::new(Sent::default()));
    let per_reply = rate.max(1) * seconds;
    let every = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in &replies {
        let (client, base, agent, id, sent) = (
            client.clone(),
            base.to_owned(),
            agent.to_owned(),
            id.clone(),
            sent.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(every);
            let url = format!("{base}/api/v1/messages/{id}/deltas");
            for seq in 1..=per_reply as i64 {
                tick.tick().await;
                let body = json!({ "seq": seq, "text": format!("w{seq} ") });
                let mut applied = false;
                // A failed request is retried with the same seq: the server
                // answers a retried delta idempotently.
                for attempt in 0..3 {
                    let r = call(&client, "POST", &url, Some(&agent), body.clone()).await;
                    if ok(&r) {
                        let now = Instant::now();
                        let mut s = sent.borrow_mut();
                        s.answered.insert((id.clone(), seq), now);
                        *s.applied.entry(id.clone()).or_default() = seq;
                        s.last_answer = Some(now);
                        applied = true;
                        break;
                    }
                    let mut s = sent.borrow_mut();
                    s.failures += 1;
                    if attempt > 0 {
                        s.retries += 1;
                    }
                }
                if !applied {
                    // The sequence is broken: stop this reply.
                    break;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let sending = sent
        .borrow()
        .last_answer
        .map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    // Let the last deltas arrive, then end the replies.
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let mut completed = 0;
    for id in &replies {
        let r = call(
            client,
            "POST",
            &format!("{base}/api/v1/messages/{id}/complete"),
            Some(agent),
            json!({}),
        )
        .await;
        if ok(&r) {
            completed += 1;
        }
    }

    let log = log.borrow();
    let sent = sent.borrow();
    let mut latencies = Vec::with_capacity(log.deltas.len());
    // (stream, reply) → the last seq seen, to check the order.
    let mut last: HashMap<(usize, &str), i64> = HashMap::new();
    let mut out_of_order = 0u64;
    for (stream, id, seq, at) in &log.deltas {
        if let Some(ok) = sent.answered.get(&(id.clone(), *seq)) {
            latencies.push(at.saturating_duration_since(*ok).as_secs_f64() * 1000.0);
        }
        let prev = last.entry((*stream, id.as_str())).or_insert(0);
        if *seq != *prev + 1 {
            out_of_order += 1;
        }
        *prev = (*prev).max(*seq);
    }
    latencies.sort_by(f64::total_cmp);
    // Each stream should have seen every applied delta of its session's reply.
    let mut expected = 0i64;
    let mut incomplete_streams = 0u64;
    for stream in 0..streams {
        let reply = replies[stream % replies.len()].as_str();
        let applied = sent.applied.get(reply).copied().unwrap_or(0);
        expected += applied;
        if last.get(&(stream, reply)).copied().unwrap_or(0) != applied {
            incomplete_streams += 1;
        }
    }
    let applied: i64 = sent.applied.values().sum();
    json!({
        "streams": streams,
        "sessions": sessions.len(),
        "streams_open": log.streams_open,
        "streams_ended_early": log.streams_ended,
        "replies": replies.len(),
        "replies_completed": completed,
        "rate_per_reply": rate,
        "seconds": seconds,
        "deltas_planned": per_reply * replies.len() as u64,
        "deltas_applied": applied,
        "delta_failures": sent.failures,
        "delta_retries": sent.retries,
        "sending_s": sending,
        "deltas_per_second": if sending > 0.0 { applied as f64 / sending } else { 0.0 },
        "deliveries_expected": expected,
        "deliveries": log.deltas.len(),
        "deliveries_per_second": if sending > 0.0 { log.deltas.len() as f64 / sending } else { 0.0 },
        "out_of_order": out_of_order,
        "streams_missing_deltas": incomplete_streams,
        "latency_ms_p50": percentile(&latencies, 0.50),
        "latency_ms_p90": percentile(&latencies, 0.90),
        "latency_ms_p99": percentile(&latencies, 0.99),
        "latency_ms_max": latencies.last().copied().unwrap_or(0.0),
    })
}
