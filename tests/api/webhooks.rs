//! Contract §3.11: webhooks, on real PostgreSQL, real HTTP and real server
//! processes, with a receiver in the test (a plain TCP listener speaking
//! HTTP/1.1, one thread per connection).

use crate::helpers::{ServerProcess, TestApp, TestUser, test_settings};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- the receiver

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    /// Names in lower case.
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn http_headers(&self) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                h.insert(k, v);
            }
        }
        h
    }
}

/// How the receiver answers a request.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    delay: Duration,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn status(status: u16) -> Self {
        Self {
            status,
            delay: Duration::ZERO,
            headers: Vec::new(),
            body: String::new(),
        }
    }
}

type Respond = Arc<dyn Fn(&Received) -> Answer + Send + Sync>;

/// An HTTP receiver on 127.0.0.1: records every request, answers as told.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    respond: Arc<Mutex<Respond>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// On a port of the kernel's choice, answering 200.
    fn start() -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// On `port` (a receiver that was down comes up).
    fn on_port(port: u16) -> Self {
        Self::on(TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    fn on(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Mutex<Respond>> =
            Arc::new(Mutex::new(Arc::new(|_: &Received| Answer::status(200))));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true).unwrap();
        let (r, a, s) = (received.clone(), respond.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, a) = (r.clone(), a.clone());
                        std::thread::spawn(move || serve(stream, &r, &a));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Self {
            port,
            received,
            respond,
            stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn answer(&self, f: impl Fn(&Received) -> Answer + Send + Sync + 'static) {
        *self.respond.lock().unwrap() = Arc::new(f);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (without blocking the test's runtime) until `n` requests came.
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, received: &Mutex<Vec<Received>>, respond: &Mutex<Respond>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let r = Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let f = respond.lock().unwrap().clone();
    let answer = f(&r);
    received.lock().unwrap().push(r);
    std::thread::sleep(answer.delay);
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = reader.into_inner();
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.body.as_bytes());
}

/// A port nothing listens on (a receiver that is down).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- the app

/// A receiver on loopback needs these; retries are fast.
const LOOPBACK: &[(&str, &str)] = &[
    ("WEBHOOK_ALLOW_PRIVATE", "true"),
    ("WEBHOOK_ALLOW_HTTP", "true"),
    ("WEBHOOK_RETRY_SCALE", "0.001"),
    ("WEBHOOK_TIMEOUT", "2s"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env: Vec<(&str, &str)> = LOOPBACK.to_vec();
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend_from_slice(extra);
    env
}

async fn app() -> TestApp {
    TestApp::spawn_with(LOOPBACK).await
}

async fn admin(app: &TestApp) -> TestUser {
    app.user_with_role("ada@example.com", "admin").await
}

/// Registers an endpoint; returns its id and secret.
async fn register(app: &TestApp, admin: &TestUser, url: &str, events: Value) -> (String, String) {
    let r = app
        .post(
            "/api/v1/webhooks",
            &admin.token,
            json!({ "url": url, "events": events }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.data()["webhook"]["id"].as_str().unwrap().to_owned(),
        r.data()["secret"].as_str().unwrap().to_owned(),
    )
}

async fn session(app: &TestApp, user: &TestUser) -> String {
    let r = app.post("/api/v1/sessions", &user.token, json!({})).await;
    assert_eq!(r.status, 201);
    r.data()["session"]["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, user: &TestUser, session: &str, text: &str) -> Value {
    let r = app
        .post(
            &format!("/api/v1/sessions/{session}/messages"),
            &user.token,
            json!({ "content": text }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.data()["message"].clone()
}

async fn deliveries(app: &TestApp, admin: &TestUser, hook: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries{query}"),
            &admin.token,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.data()["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint's deliveries satisfy `done`.
async fn deliveries_until(
    app: &TestApp,
    admin: &TestUser,
    hook: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let items = deliveries(app, admin, hook, "").await;
        if done(&items) || Instant::now() >= deadline {
            return items;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn message_events(got: &[Received]) -> Vec<Value> {
    got.iter()
        .map(Received::json)
        .filter(|b| b["type"] == "message.created")
        .collect()
}

// ---------------------------------------------------------------- the admin API

#[actix_web::test]
async fn only_admins_manage_endpoints_and_the_secret_is_shown_at_create_and_rotate_only() {
    let app = app().await;
    let ada = admin(&app).await;
    let ann = app.register("ann@example.com").await;
    let carl = app.user_with_role("carl@example.com", "agent").await;
    let body = json!({ "url": "https://hooks.example.com/in", "events": ["*"] });
    for who in [&ann, &carl] {
        let r = app.post("/api/v1/webhooks", &who.token, body.clone()).await;
        assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
        let r = app.get("/api/v1/webhooks", &who.token).await;
        assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
    }
    let r = app
        .post(
            "/api/v1/webhooks",
            &ada.token,
            json!({ "url": "https://hooks.example.com/in", "events": ["message.created", "session.deleted"], "description": "bot" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let hook = r.data()["webhook"].clone();
    let secret = r.data()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let mut keys: Vec<&str> = hook
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdAt",
            "description",
            "enabled",
            "events",
            "id",
            "updatedAt",
            "url"
        ]
    );
    assert_eq!(hook["enabled"], true);
    assert!(crate::helpers::is_timestamp(&hook["createdAt"]));
    let id = hook["id"].as_str().unwrap();
    let r = app.get("/api/v1/webhooks", &ada.token).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 1);
    assert!(!r.body.to_string().contains("whsec_"));
    let r = app.get(&format!("/api/v1/webhooks/{id}"), &ada.token).await;
    assert_eq!((r.status, &r.data()["webhook"]["url"]), (200, &hook["url"]));
    assert!(!r.body.to_string().contains("whsec_"));
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &ada.token,
            json!({ "events": ["*"], "description": null, "enabled": false }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["webhook"]["events"], json!(["*"]));
    assert_eq!(r.data()["webhook"]["description"], Value::Null);
    assert_eq!(r.data()["webhook"]["enabled"], false);
    let r = app
        .post(
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            &ada.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = r.data()["secret"].as_str().unwrap();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    let r = app
        .delete(&format!("/api/v1/webhooks/{id}"), &ada.token)
        .await;
    assert_eq!((r.status, &r.body["data"]), (200, &Value::Null));
    let r = app.get(&format!("/api/v1/webhooks/{id}"), &ada.token).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));
    let r = app
        .post(
            &format!("/api/v1/webhooks/{id}/test"),
            &ada.token,
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));
}

#[actix_web::test]
async fn urls_and_event_types_are_validated() {
    let app = TestApp::spawn().await;
    let ada = admin(&app).await;
    for (body, field) in [
        (
            json!({ "url": "http://hooks.example.com/in", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "url": "ftp://hooks.example.com/in", "events": ["*"] }),
            "url",
        ),
        (
            json!({ "url": "https://hooks.example.com/in", "events": [] }),
            "events",
        ),
        (
            json!({ "url": "https://hooks.example.com/in", "events": ["message.delta"] }),
            "events",
        ),
        (
            json!({ "url": "https://hooks.example.com/in", "events": ["*", "seller.changed"] }),
            "events",
        ),
        (json!({ "url": "https://hooks.example.com/in" }), "events"),
        (json!({ "events": ["*"] }), "url"),
    ] {
        let r = app.post("/api/v1/webhooks", &ada.token, body.clone()).await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    let r = app
        .post(
            "/api/v1/webhooks",
            &ada.token,
            json!({ "url": "https://hooks.example.com/in", "events": ["*"], "secret": "mine" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
}

/// A name of this machine's hosts file (other than `localhost`) that
/// resolves to a loopback or private address, if there is one.
fn a_name_that_resolves_inside() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let ip: std::net::IpAddr = parts.next()?.parse().ok()?;
            let inside = match ip {
                std::net::IpAddr::V4(a) => a.is_loopback() || a.is_private(),
                std::net::IpAddr::V6(a) => a.is_loopback(),
            };
            inside.then(|| {
                parts
                    .find(|n| !n.starts_with("localhost"))
                    .map(str::to_owned)
            })?
        })
        .next()
}

#[actix_web::test]
async fn targets_in_the_private_network_are_refused_at_registration() {
    let app = TestApp::spawn().await;
    let ada = admin(&app).await;
    let mut hosts: Vec<String> = [
        "127.0.0.1",
        "10.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "localhost",
        "169.254.169.254",
        "[fd00::1]",
        "0.0.0.0",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect();
    // A name that resolves inside: this machine's own names in its hosts file.
    hosts.extend(a_name_that_resolves_inside());
    hosts.push("localhost.".to_owned());
    for host in hosts {
        let url = format!("https://{host}/hook");
        let r = app
            .post(
                "/api/v1/webhooks",
                &ada.token,
                json!({ "url": url, "events": ["*"] }),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "VALIDATION_ERROR"),
            "{url}: {}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["field"], "url", "{url}");
    }
    // With WEBHOOK_ALLOW_PRIVATE the same are accepted (as every test here does).
    let open = TestApp::spawn_with(&[("WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    let ada = admin(&open).await;
    let r = open
        .post(
            "/api/v1/webhooks",
            &ada.token,
            json!({ "url": "https://127.0.0.1:9/hook", "events": ["*"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

// ---------------------------------------------------------------- deliveries

#[actix_web::test]
async fn a_post_arrives_signed_as_the_published_verifier_checks_it() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let (_, secret) = register(&app, &ada, &rx.url("/in"), json!(["message.created"])).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let message = post(&app, &ann, &s, "hello, agents").await;
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "one delivery");
    let r = &got[0];
    assert_eq!(r.path, "/in");
    assert_eq!(r.header("content-type"), "application/json");
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    verifier
        .verify(r.body.as_bytes(), &r.http_headers())
        .expect("the published verifier accepts it");
    let body = r.json();
    assert_eq!(body["type"], "message.created");
    assert!(crate::helpers::is_timestamp(&body["timestamp"]));
    assert_eq!(body["timestamp"], message["createdAt"]);
    assert_eq!(
        body["data"], message,
        "the data is the Message as the 201 had it"
    );
    assert!(r.header("webhook-signature").starts_with("v1,"));
    // A tampered body does not verify.
    let tampered = r.body.replace("hello, agents", "hello, robbers");
    assert!(
        verifier
            .verify(tampered.as_bytes(), &r.http_headers())
            .is_err()
    );
}

#[actix_web::test]
async fn a_retry_carries_the_same_webhook_id_and_the_delivery_records_its_attempts() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let first = Arc::new(AtomicBool::new(true));
    let once = first.clone();
    rx.answer(move |_| {
        if once.swap(false, Ordering::SeqCst) {
            Answer {
                body: "busy, try later".into(),
                ..Answer::status(503)
            }
        } else {
            Answer::status(204)
        }
    });
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].json()["type"], "session.created");
    assert_eq!(got[0].json()["data"]["id"], s.as_str());
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(5), |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    let d = &items[0];
    assert_eq!(d["id"], got[0].header("webhook-id"));
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["lastStatusCode"], 204);
    assert_eq!(d["nextAttemptAt"], Value::Null);
    assert!(crate::helpers::is_timestamp(&d["deliveredAt"]));
    assert_eq!(d["eventType"], "session.created");
    assert_eq!(d["sessionId"], s.as_str());
    assert_eq!(d["webhookId"], hook.as_str());
}

#[actix_web::test]
async fn a_failed_attempt_is_retried_after_five_seconds_within_the_jitter() {
    let app = TestApp::spawn_with(&with(&[("WEBHOOK_RETRY_SCALE", "1")])).await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    rx.answer(|_| Answer {
        body: "x".repeat(5000),
        ..Answer::status(500)
    });
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(10), |items| {
        items.first().is_some_and(|d| d["attempts"] == 1)
    })
    .await;
    let failed_at = time::OffsetDateTime::now_utc();
    let d = &items[0];
    assert_eq!(
        (d["status"].as_str(), d["lastStatusCode"].as_i64()),
        (Some("pending"), Some(500))
    );
    let error = d["lastError"].as_str().unwrap();
    assert!(error.starts_with("answered 500: xxx"), "{error}");
    assert!(error.len() < 300, "only the start of the answer is kept");
    let next = time::OffsetDateTime::parse(
        d["nextAttemptAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let wait = (next - failed_at).as_seconds_f64();
    assert!(
        (3.5..=6.1).contains(&wait),
        "retried in {wait} s: 5 s ± 20 %"
    );
    assert_eq!(rx.received().len(), 1, "not before its time");
}

#[actix_web::test]
async fn after_the_eighth_failure_a_delivery_is_failed() {
    // The whole schedule (about 28 h) in under three seconds.
    let app = TestApp::spawn_with(&with(&[("WEBHOOK_RETRY_SCALE", "0.00002")])).await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    rx.answer(|_| Answer::status(500));
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["session.created"])).await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(20), |items| {
        items.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    let d = &items[0];
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["attempts"], 8);
    assert_eq!(d["nextAttemptAt"], Value::Null);
    assert_eq!(rx.received().len(), 8);
    let failed = deliveries(&app, &ada, &hook, "?status=failed").await;
    assert_eq!(failed.len(), 1);
    assert!(
        deliveries(&app, &ada, &hook, "?status=pending")
            .await
            .is_empty()
    );
    let text = app.metrics().await;
    assert!(
        text.lines()
            .any(|l| l == "webhook_attempts_total{outcome=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "webhook_attempts_total{outcome=\"retry\"} 7"),
        "{text}"
    );
}

#[actix_web::test]
async fn twenty_racing_posts_into_one_session_arrive_in_commit_order() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    register(&app, &ada, &rx.url("/in"), json!(["message.created"])).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let posts = (0..20).map(|i| {
        let (app, ann, s) = (&app, &ann, &s);
        async move { post(app, ann, s, &format!("m{i}")).await }
    });
    futures_util::future::join_all(posts).await;
    let got = rx.wait_for(20, Duration::from_secs(20)).await;
    let arrived: Vec<String> = message_events(&got)
        .iter()
        .map(|b| b["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    let r = app
        .get(
            &format!("/api/v1/sessions/{s}/messages?limit=50"),
            &ann.token,
        )
        .await;
    let committed: Vec<String> = r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(committed.len(), 20);
    assert_eq!(
        arrived, committed,
        "in the session's order, which is commit order"
    );
}

#[actix_web::test]
async fn a_failing_session_holds_up_no_other_and_its_own_next_event_waits() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    rx.answer(|r| {
        if r.body.contains("\"content\":\"stuck") {
            Answer::status(500)
        } else {
            Answer::status(200)
        }
    });
    register(&app, &ada, &rx.url("/in"), json!(["message.created"])).await;
    let ann = app.register("ann@example.com").await;
    let stuck = session(&app, &ann).await;
    let free = session(&app, &ann).await;
    post(&app, &ann, &stuck, "stuck 1").await;
    post(&app, &ann, &stuck, "after stuck").await;
    for i in 0..5 {
        post(&app, &ann, &free, &format!("free {i}")).await;
    }
    // The free session's five arrive while the stuck one's first is retried.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let contents: Vec<String> = message_events(&rx.received())
            .iter()
            .map(|b| b["data"]["content"].as_str().unwrap_or("").to_owned())
            .collect();
        let free_count = contents.iter().filter(|c| c.starts_with("free")).count();
        if free_count == 5 {
            assert!(
                contents.iter().any(|c| c == "stuck 1"),
                "the stuck one was tried: {contents:?}"
            );
            assert!(
                !contents.iter().any(|c| c == "after stuck"),
                "the stuck session's next event waits for the first: {contents:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "free deliveries held up: {contents:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    // Once the stuck one is acknowledged (or failed), the next one goes.
    rx.answer(|_| Answer::status(200));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let contents: Vec<String> = message_events(&rx.received())
            .iter()
            .map(|b| b["data"]["content"].as_str().unwrap_or("").to_owned())
            .collect();
        if let Some(after) = contents.iter().position(|c| c == "after stuck") {
            let last_stuck = contents.iter().rposition(|c| c == "stuck 1");
            assert!(last_stuck.is_some_and(|s| s < after), "{contents:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the next one never went: {contents:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_refused_or_repeated_post_delivers_nothing() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["message.created"])).await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let s = session(&app, &ann).await;
    let refused = [
        (json!({ "content": "" }), &ann, 400),
        (json!({ "content": "x".repeat(32_001) }), &ann, 400),
        (json!({ "content": "not yours" }), &bob, 404),
        (json!({ "role": "assistant", "content": "no" }), &ann, 403),
    ];
    for (body, who, status) in refused {
        let r = app
            .post(&format!("/api/v1/sessions/{s}/messages"), &who.token, body)
            .await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    // The same clientMessageId twice: one message, one delivery.
    let once = json!({ "content": "once", "clientMessageId": "c-1" });
    let path = format!("/api/v1/sessions/{s}/messages");
    assert_eq!(app.post(&path, &ann.token, once.clone()).await.status, 201);
    assert_eq!(app.post(&path, &ann.token, once).await.status, 200);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), 1, "{got:?}");
    assert_eq!(deliveries(&app, &ada, &hook, "").await.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_deliveries"),
        1,
        "no row for a refused post"
    );
}

#[actix_web::test]
async fn a_rolled_back_write_delivers_nothing_and_a_committed_one_is_written_with_it() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    // The post's statement fails after its insert (a constraint checked at
    // the end, as a unique violation of a racing retry would): nothing of it
    // stays, its delivery included.
    app.sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN IF NEW.content = 'refused' THEN RAISE EXCEPTION 'no'; END IF; RETURN NEW; END $$",
    );
    app.sql(
        "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON messages \
         DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION refuse()",
    );
    let r = app
        .post(
            &format!("/api/v1/sessions/{s}/messages"),
            &ann.token,
            json!({ "content": "refused" }),
        )
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    post(&app, &ann, &s, "kept").await;
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(5), |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    let types: Vec<&str> = items
        .iter()
        .map(|d| d["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["message.created", "session.created"]);
    let got = rx.received();
    assert!(
        got.iter().all(|r| !r.body.contains("\"refused\"")),
        "{got:?}"
    );
}

#[actix_web::test]
async fn every_event_type_reaches_the_endpoints_that_want_it_with_its_data() {
    let app = app().await;
    let ada = admin(&app).await;
    let all = Receiver::start();
    let some = Receiver::start();
    register(&app, &ada, &all.url("/all"), json!(["*"])).await;
    register(
        &app,
        &ada,
        &some.url("/some"),
        json!(["session.deleted", "seller.deleted"]),
    )
    .await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let m = post(&app, &ann, &s, "hello").await;
    let mid = m["id"].as_str().unwrap();
    let base = format!("/api/v1/sessions/{s}");
    assert_eq!(
        app.patch(&base, &ann.token, json!({ "title": "Lamps" }))
            .await
            .status,
        200
    );
    let v = app
        .post(
            &format!("{base}/vendor"),
            &ann.token,
            json!({ "name": "Acme" }),
        )
        .await;
    assert_eq!(v.status, 201);
    let seller = app
        .post(
            &format!("{base}/sellers"),
            &ann.token,
            json!({ "name": "Bo", "product": { "name": "Lamp", "priceMinor": 100, "currency": "EUR" } }),
        )
        .await;
    assert_eq!(seller.status, 201, "{}", seller.body);
    let sid = seller.data()["seller"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/api/v1/sellers/{sid}"), &ann.token)
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete(&format!("/api/v1/messages/{mid}"), &ann.token)
            .await
            .status,
        200
    );
    assert_eq!(app.delete(&base, &ann.token).await.status, 200);
    let got = all.wait_for(9, Duration::from_secs(10)).await;
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "session.created",
            "message.created",
            "session.updated",
            "vendor.changed",
            "seller.changed",
            "seller.deleted",
            "message.deleted",
            "session.deleted"
        ]
    );
    assert_eq!(bodies[0]["data"]["id"], s.as_str());
    assert_eq!(bodies[0]["data"]["title"], "New chat");
    assert_eq!(bodies[1]["data"]["content"], "hello");
    assert_eq!(bodies[2]["data"]["title"], "Lamps");
    assert_eq!(bodies[3]["data"]["sessionId"], s.as_str());
    assert_eq!(bodies[3]["data"]["vendor"]["name"], "Acme");
    assert_eq!(bodies[4]["data"]["id"], sid.as_str());
    assert_eq!(bodies[4]["data"]["product"]["name"], "Lamp");
    assert_eq!(bodies[5]["data"], json!({ "id": sid }));
    assert_eq!(bodies[6]["data"], json!({ "id": mid }));
    assert_eq!(bodies[7]["data"], json!({ "id": s }));
    let got = some.wait_for(2, Duration::from_secs(5)).await;
    let types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["seller.deleted", "session.deleted"]);
}

#[actix_web::test]
async fn deleting_a_user_delivers_session_deleted_for_each_of_their_sessions() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    register(&app, &ada, &rx.url("/in"), json!(["session.deleted"])).await;
    let ann = app.register("ann@example.com").await;
    let a = session(&app, &ann).await;
    let b = session(&app, &ann).await;
    let r = app
        .delete(&format!("/api/v1/users/{}", ann.id), &ada.token)
        .await;
    assert_eq!(r.status, 200);
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    let ids: HashSet<String> = got
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [a, b].into_iter().collect());
}

#[actix_web::test]
async fn a_test_event_is_accepted_and_delivered_like_any_other() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let (hook, secret) = register(&app, &ada, &rx.url("/in"), json!(["seller.deleted"])).await;
    let r = app
        .post(
            &format!("/api/v1/webhooks/{hook}/test"),
            &ada.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let d = &r.data()["delivery"];
    assert_eq!(d["eventType"], "webhook.test");
    assert_eq!(d["status"], "pending");
    assert_eq!(d["sessionId"], Value::Null);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), d["id"].as_str().unwrap());
    assert_eq!(
        got[0].json()["data"],
        json!({ "webhookId": hook }),
        "{}",
        got[0].body
    );
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    assert!(
        verifier
            .verify(got[0].body.as_bytes(), &got[0].http_headers())
            .is_ok()
    );
}

#[actix_web::test]
async fn after_a_rotation_every_delivery_carries_both_signatures() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let (hook, old) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let r = app
        .post(
            &format!("/api/v1/webhooks/{hook}/rotate-secret"),
            &ada.token,
            json!({}),
        )
        .await;
    let new = r.data()["secret"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/webhooks/{hook}/test"),
            &ada.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    let sig = got[0].header("webhook-signature");
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    for secret in [&old, &new] {
        let verifier = standardwebhooks::Webhook::new(secret).unwrap();
        assert!(
            verifier
                .verify(got[0].body.as_bytes(), &got[0].http_headers())
                .is_ok()
        );
    }
    // 24 hours later only the new one signs.
    app.sql("UPDATE webhooks SET previous_secret_until = now() - interval '1 second'");
    app.post(
        &format!("/api/v1/webhooks/{hook}/test"),
        &ada.token,
        json!({}),
    )
    .await;
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    let sig = got[1].header("webhook-signature");
    assert_eq!(sig.split(' ').count(), 1, "{sig}");
    let verifier = standardwebhooks::Webhook::new(&new).unwrap();
    assert!(
        verifier
            .verify(got[1].body.as_bytes(), &got[1].http_headers())
            .is_ok()
    );
}

#[actix_web::test]
async fn a_redirect_is_a_failure_and_its_target_is_never_called() {
    let app = app().await;
    let ada = admin(&app).await;
    let target = Receiver::start();
    let rx = Receiver::start();
    let location = target.url("/elsewhere");
    rx.answer(move |_| Answer {
        headers: vec![("Location".into(), location.clone())],
        ..Answer::status(307)
    });
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(10), |items| {
        items
            .first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(2))
    })
    .await;
    assert_eq!(items[0]["lastStatusCode"], 307);
    assert_ne!(items[0]["status"], "delivered");
    assert!(
        target.received().is_empty(),
        "the redirect was not followed"
    );
}

#[actix_web::test]
async fn an_answer_slower_than_the_timeout_is_a_failure() {
    let app = TestApp::spawn_with(&with(&[("WEBHOOK_TIMEOUT", "1s")])).await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    rx.answer(|_| Answer {
        delay: Duration::from_secs(3),
        ..Answer::status(200)
    });
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(10), |items| {
        items
            .first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
    })
    .await;
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["lastStatusCode"], Value::Null);
    let error = items[0]["lastError"].as_str().unwrap_or("");
    assert!(error.contains("1s"), "{error}");
}

#[actix_web::test]
async fn a_large_answer_is_read_no_further_than_a_kibibyte() {
    let app = app().await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    rx.answer(|_| Answer {
        body: "y".repeat(8 << 20),
        ..Answer::status(200)
    });
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(10), |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(items[0]["status"], "delivered", "{items:?}");
}

#[actix_web::test]
async fn an_endpoint_failing_for_webhook_disable_after_is_disabled_and_enabling_resumes_it() {
    let app = TestApp::spawn_with(&with(&[("WEBHOOK_DISABLE_AFTER", "1s")])).await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    rx.answer(|_| Answer::status(500));
    let (hook, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app
            .get(&format!("/api/v1/webhooks/{hook}"), &ada.token)
            .await;
        if r.data()["webhook"]["enabled"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "never disabled");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // Disabled: its pending delivery waits, and new events are not written.
    let attempts = rx.received().len();
    session(&app, &ann).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), attempts);
    assert_eq!(deliveries(&app, &ada, &hook, "").await.len(), 1);
    // Turned on again (the receiver fixed), the waiting delivery goes.
    rx.answer(|_| Answer::status(200));
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{hook}"),
            &ada.token,
            json!({ "enabled": true }),
        )
        .await;
    assert_eq!(r.data()["webhook"]["enabled"], true);
    let items = deliveries_until(&app, &ada, &hook, Duration::from_secs(10), |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(items[0]["status"], "delivered");
}

#[actix_web::test]
async fn ended_deliveries_are_deleted_after_webhook_retention_and_metrics_show_the_queue() {
    let app = TestApp::spawn_with(&with(&[("WEBHOOK_RETENTION", "1s")])).await;
    let ada = admin(&app).await;
    let down = free_port();
    let rx = Receiver::start();
    let (live, _) = register(&app, &ada, &rx.url("/in"), json!(["*"])).await;
    let (dead, _) = register(
        &app,
        &ada,
        &format!("http://127.0.0.1:{down}/in"),
        json!(["*"]),
    )
    .await;
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    rx.wait_for(1, Duration::from_secs(5)).await;
    // Delivered, then gone after its retention.
    let items = deliveries_until(&app, &ada, &live, Duration::from_secs(10), |items| {
        items.is_empty()
    })
    .await;
    assert!(items.is_empty(), "{items:?}");
    // The one that cannot be delivered stays pending, and counts.
    assert_eq!(deliveries(&app, &ada, &dead, "").await.len(), 1);
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let text = app.metrics().await;
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{text}"))
    };
    assert_eq!(value("webhook_deliveries_pending"), 1.0);
    assert!(value("webhook_oldest_pending_age_seconds") >= 1.0);
    assert!(value("webhook_attempts_total{outcome=\"delivered\"}") >= 1.0);
    assert!(value("webhook_attempts_total{outcome=\"retry\"}") >= 1.0);
    // Deleting the endpoint drops its pending delivery.
    assert_eq!(
        app.delete(&format!("/api/v1/webhooks/{dead}"), &ada.token)
            .await
            .status,
        200
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries"), 0);
}

#[actix_web::test]
async fn a_target_that_points_inside_by_the_time_of_delivery_is_refused() {
    // Registered while it pointed outside; by delivery it points inside (a
    // row written here stands in for DNS that changed).
    let app = TestApp::spawn_with(&[("WEBHOOK_RETRY_SCALE", "0.001")]).await;
    let ada = admin(&app).await;
    let rx = Receiver::start();
    let hook = "0190f0f0-0000-7000-8000-00000000000a";
    app.sql(&format!(
        "INSERT INTO webhooks (id, url, events, secret) VALUES \
         ('{hook}', 'https://127.0.0.1:{}/in', '{{*}}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')",
        rx.port
    ));
    let ann = app.register("ann@example.com").await;
    session(&app, &ann).await;
    let items = deliveries_until(&app, &ada, hook, Duration::from_secs(10), |items| {
        items
            .first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
    })
    .await;
    let error = items[0]["lastError"].as_str().unwrap_or("");
    assert!(
        error.starts_with("refused: 127.0.0.1 is a loopback address"),
        "{error}"
    );
    assert!(rx.received().is_empty());
}

// ---------------------------------------------------------------- instances

/// An admin of a server process's database: registered, promoted in SQL.
async fn process_admin(client: &awc::Client, base: &str, db: &testkit::TestDb) -> String {
    let mut res = client
        .post(format!("{base}/api/v1/auth/register"))
        .send_json(&json!({ "email": "ada@example.com", "password": "password123", "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.unwrap();
    let id = body["data"]["user"]["id"].as_str().unwrap();
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("UPDATE users SET role = 'admin' WHERE id = '{id}'"))
        .execute(&mut db.conn())
        .unwrap();
    body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn call(client: &awc::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let mut res = client
        .post(url)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&body)
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_delivery_committed_before_its_instance_is_killed_is_delivered_by_the_next_one() {
    let env = with(&[("RATE_LIMIT_MAX", "100000")]);
    let a = ServerProcess::spawn(&env);
    let base = format!("http://127.0.0.1:{}", a.port);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let token = process_admin(&client, &base, &a.db).await;
    // The receiver is down.
    let port = free_port();
    let (status, _) = call(
        &client,
        format!("{base}/api/v1/webhooks"),
        &token,
        json!({ "url": format!("http://127.0.0.1:{port}/in"), "events": ["message.created"] }),
    )
    .await;
    assert_eq!(status, 201);
    let (_, s) = call(
        &client,
        format!("{base}/api/v1/sessions"),
        &token,
        json!({}),
    )
    .await;
    let s = s["data"]["session"]["id"].as_str().unwrap().to_owned();
    let (status, m) = call(
        &client,
        format!("{base}/api/v1/sessions/{s}/messages"),
        &token,
        json!({ "content": "never lost" }),
    )
    .await;
    assert_eq!(status, 201);
    a.signal("KILL");
    let mut a = a;
    assert!(a.wait_exit(Duration::from_secs(5)).is_some());
    // The receiver comes up; a new instance starts on the same database.
    let rx = Receiver::on_port(port);
    let url = a.db.url().to_owned();
    let mut env_b = env.clone();
    env_b.push(("DATABASE_URL", url.as_str()));
    let _b = ServerProcess::spawn(&env_b);
    let got = rx.wait_for(1, Duration::from_secs(30)).await;
    let bodies = message_events(&got);
    assert!(!bodies.is_empty(), "delivered by the new instance");
    assert!(
        bodies
            .iter()
            .all(|b| b["data"]["id"] == m["data"]["message"]["id"])
    );
    assert_eq!(bodies[0]["data"]["content"], "never lost");
}

#[actix_web::test]
async fn two_instances_never_deliver_the_same_attempt_twice() {
    let env = with(&[("RATE_LIMIT_MAX", "100000")]);
    let b = ServerProcess::spawn(&env);
    let settings = test_settings(b.db.url(), &env);
    let app = server::Application::build(settings).unwrap();
    let a_base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let b_base = format!("http://127.0.0.1:{}", b.port);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let token = process_admin(&client, &b_base, &b.db).await;
    // A slow receiver: every attempt is in flight for a while, on one
    // instance or the other.
    let rx = Receiver::start();
    rx.answer(|_| Answer {
        delay: Duration::from_millis(150),
        ..Answer::status(200)
    });
    let (status, _) = call(
        &client,
        format!("{a_base}/api/v1/webhooks"),
        &token,
        json!({ "url": rx.url("/in"), "events": ["message.created"] }),
    )
    .await;
    assert_eq!(status, 201);
    let mut sessions = Vec::new();
    for _ in 0..6 {
        let (_, s) = call(
            &client,
            format!("{a_base}/api/v1/sessions"),
            &token,
            json!({}),
        )
        .await;
        sessions.push(s["data"]["session"]["id"].as_str().unwrap().to_owned());
    }
    let mut posted = 0;
    for i in 0..5 {
        for (n, s) in sessions.iter().enumerate() {
            let base = if n % 2 == 0 { &a_base } else { &b_base };
            let (status, _) = call(
                &client,
                format!("{base}/api/v1/sessions/{s}/messages"),
                &token,
                json!({ "content": format!("m{i}") }),
            )
            .await;
            assert_eq!(status, 201);
            posted += 1;
        }
    }
    let got = rx.wait_for(posted, Duration::from_secs(30)).await;
    actix_web::rt::time::sleep(Duration::from_millis(1000)).await;
    let got_after = rx.received();
    assert_eq!(got_after.len(), got.len(), "nothing more came");
    let ids: Vec<&str> = got_after.iter().map(|r| r.header("webhook-id")).collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(ids.len(), posted, "each delivery arrived");
    assert_eq!(unique.len(), ids.len(), "and once");
    // Per session, in order.
    for s in &sessions {
        let contents: Vec<String> = got_after
            .iter()
            .map(Received::json)
            .filter(|b| b["data"]["sessionId"] == s.as_str())
            .map(|b| b["data"]["content"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(contents, ["m0", "m1", "m2", "m3", "m4"], "session {s}");
    }
}

#[test]
fn a_quiet_dispatcher_keeps_its_listening_connection() {
    // The listener checks a quiet connection once a second; the check must
    // be a real query (an empty one is an error, and the connection was
    // dropped and made again every second, with a warning each time).
    let server = ServerProcess::spawn(&[("LOG_LEVEL", "info")]);
    std::thread::sleep(Duration::from_millis(3500));
    let log = server.stderr();
    assert!(!log.contains("listener lost its connection"), "{log}");
}
