//! Contract §3.8: live events over SSE, on real PostgreSQL and real server
//! processes.

use crate::helpers::{ServerProcess, TestApp, TestUser, test_settings};
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use std::pin::Pin;
use std::time::{Duration, Instant};

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, awc::error::PayloadError>>>>;

/// One SSE event as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ev {
    pub(crate) id: Option<String>,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// A client of one event stream (the streamed replies' tests use it too).
pub(crate) struct Sse {
    pub(crate) status: u16,
    headers: awc::http::header::HeaderMap,
    body: Option<Body>,
    buf: String,
    /// Bytes of a character the last chunk cut in two.
    cut: Vec<u8>,
    comments: usize,
    /// The last `id:` seen, as a browser keeps it for `Last-Event-ID`.
    pub(crate) last_id: Option<String>,
}

impl Sse {
    pub(crate) async fn open(
        addr: &str,
        session: &str,
        token: &str,
        last_id: Option<&str>,
    ) -> Self {
        Self::open_with(addr, session, Some(token), last_id, "").await
    }

    async fn open_with(
        addr: &str,
        session: &str,
        token: Option<&str>,
        last_id: Option<&str>,
        query: &str,
    ) -> Self {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let mut req = client
            .get(format!("{addr}/api/v1/sessions/{session}/events{query}"))
            .insert_header(("Accept-Encoding", "gzip"));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        if let Some(id) = last_id {
            req = req.insert_header(("Last-Event-ID", id));
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        Self {
            status,
            headers,
            body: Some(Box::pin(res)),
            buf: String::new(),
            cut: Vec::new(),
            comments: 0,
            last_id: None,
        }
    }

    /// The next event within `within`; `None` on timeout or when the stream ended.
    pub(crate) async fn next(&mut self, within: Duration) -> Option<Ev> {
        self.read(within, false).await
    }

    /// The `id:` of the opening block (the session's position).
    pub(crate) async fn opening_id(&mut self) -> String {
        let none = self.read(Duration::from_secs(15), true).await;
        assert_eq!(none, None, "the opening block dispatches no event");
        self.last_id
            .clone()
            .expect("the opening block carries an id")
    }

    /// Events until one is dispatched or, with `stop_at_id`, the blocks read
    /// so far set an id.
    async fn read(&mut self, within: Duration, stop_at_id: bool) -> Option<Ev> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = Ev {
                    id: None,
                    event: "message".into(),
                    data: Value::Null,
                };
                let mut data = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        ev.id = Some(v.to_owned());
                        self.last_id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        ev.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        ev.data = serde_json::from_str(v).unwrap_or(Value::Null);
                        data = true;
                    } else if line.starts_with(':') {
                        self.comments += 1;
                    }
                }
                // As in a browser: a block without data dispatches nothing
                // (its `id:` still counts).
                if data {
                    return Some(ev);
                }
                if self.buf.is_empty() && self.last_id.is_some() && stop_at_id {
                    return None;
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let body = self.body.as_mut()?;
            match actix_web::rt::time::timeout(left, body.next()).await {
                Ok(Some(Ok(bytes))) => {
                    // A chunk may end inside a character: keep its bytes.
                    self.cut.extend_from_slice(&bytes);
                    let whole = match std::str::from_utf8(&self.cut) {
                        Ok(s) => s.len(),
                        Err(e) => e.valid_up_to(),
                    };
                    self.buf
                        .push_str(std::str::from_utf8(&self.cut[..whole]).unwrap());
                    self.cut.drain(..whole);
                }
                Ok(_) => {
                    self.body = None;
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// True if the server ends the stream within `within`.
    async fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.body.is_none() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self.next(left).await;
        }
        self.body.is_none()
    }

    /// The next `n` `message.created` events (others skipped).
    async fn messages(&mut self, n: usize, within: Duration) -> Vec<Ev> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(ev) if ev.event == "message.created" => out.push(ev),
                Some(_) => {}
                None => break,
            }
        }
        out
    }
}

async fn session(app: &TestApp, user: &TestUser) -> String {
    let r = app
        .post("/api/v1/sessions", &user.token, json!({ "title": "Live" }))
        .await;
    assert_eq!(r.status, 201);
    r.data()["session"]["id"].as_str().unwrap().to_owned()
}

async fn post(addr: &str, session: &str, token: &str, content: &str) -> Value {
    let client = awc::Client::default();
    let mut res = client
        .post(format!("{addr}/api/v1/sessions/{session}/messages"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&json!({ "content": content }))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.unwrap();
    body["data"]["message"].clone()
}

fn contents(evs: &[Ev]) -> Vec<String> {
    evs.iter()
        .map(|e| e.data["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_posted_message_reaches_a_subscriber_with_its_position_as_id_uncompressed() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    assert_eq!(sse.status, 200);
    let header = |n: &str| {
        sse.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(header("content-encoding").as_deref(), Some("identity"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    let m = post(&app.addr, &s, &ann.token, "hello").await;
    let ev = sse.next(Duration::from_secs(15)).await.expect("an event");
    assert_eq!(ev.event, "message.created");
    assert_eq!(ev.id.as_deref(), Some("1"));
    assert_eq!(ev.data, m, "the data is the Message, as the API returns it");
    let r = app
        .delete(
            &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 200);
    let ev = sse.next(Duration::from_secs(15)).await.unwrap();
    assert_eq!(
        (ev.event.as_str(), &ev.data),
        ("message.deleted", &json!({ "id": m["id"] }))
    );
    let r = app
        .patch(
            &format!("/api/v1/sessions/{s}"),
            &ann.token,
            json!({ "title": "Renamed" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(ev.event, "session.updated");
    assert_eq!(ev.data["title"], "Renamed");
}

#[actix_web::test]
async fn vendor_and_seller_changes_are_events_too() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let r = app
        .post(
            &format!("/api/v1/sessions/{s}/vendor"),
            &ann.token,
            json!({ "name": "Acme" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(ev.event, "vendor.changed");
    assert_eq!(ev.data["vendor"]["name"], "Acme");
    let r = app
        .post(
            &format!("/api/v1/sessions/{s}/sellers"),
            &ann.token,
            json!({ "name": "Bob", "product": { "name": "Chair", "priceMinor": 100, "currency": "EUR" } }),
        )
        .await;
    assert_eq!(r.status, 201);
    let seller = r.data()["seller"]["id"].clone();
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (ev.event.as_str(), &ev.data["id"]),
        ("seller.changed", &seller)
    );
    let r = app
        .delete(
            &format!("/api/v1/sellers/{}", seller.as_str().unwrap()),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 200);
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (ev.event.as_str(), &ev.data),
        ("seller.deleted", &json!({ "id": seller }))
    );
}

#[actix_web::test]
async fn who_may_not_read_the_session_gets_what_reading_it_gets() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let s = session(&app, &ann).await;
    let sse = Sse::open(&app.addr, &s, &bob.token, None).await;
    assert_eq!(sse.status, 404);
    let sse = Sse::open_with(&app.addr, &s, None, None, "").await;
    assert_eq!(sse.status, 401);
    let sse = Sse::open_with(&app.addr, &s, Some("not-a-token"), None, "").await;
    assert_eq!(sse.status, 401);
    let sse = Sse::open(
        &app.addr,
        "01900000-0000-7000-8000-000000000000",
        &ann.token,
        None,
    )
    .await;
    assert_eq!(sse.status, 404);
    let sse = Sse::open(&app.addr, &s, &agent.token, None).await;
    assert_eq!(sse.status, 200, "agents read any session");
    // The token as a query parameter, on this route only.
    let query = format!("?access_token={}", ann.token);
    let sse = Sse::open_with(&app.addr, &s, None, None, &query).await;
    assert_eq!(sse.status, 200);
    let r = app
        .call(
            awc::http::Method::GET,
            &format!("/api/v1/sessions/{s}{query}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401, "no other route takes access_token");
}

#[actix_web::test]
async fn reconnecting_with_last_event_id_mid_burst_loses_and_repeats_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut first = Sse::open(&app.addr, &s, &ann.token, None).await;
    let addr = app.addr.clone();
    let (s2, token) = (s.clone(), ann.token.clone());
    let burst = actix_web::rt::spawn(async move {
        for i in 0..200 {
            post(&addr, &s2, &token, &format!("m{i}")).await;
        }
    });
    let got = first.messages(60, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 60);
    drop(first);
    let last = got.last().and_then(|e| e.id.clone()).unwrap();
    let mut second = Sse::open(&app.addr, &s, &ann.token, Some(&last)).await;
    let rest = second.messages(140, Duration::from_secs(30)).await;
    burst.await.unwrap();
    let all: Vec<String> = contents(&got).into_iter().chain(contents(&rest)).collect();
    let want: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    assert_eq!(all, want, "every message once, in order");
    let ids: Vec<i64> = got
        .iter()
        .chain(&rest)
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[actix_web::test]
async fn an_id_too_old_to_replay_gets_a_reset() {
    let app = TestApp::spawn_with(&[("EVENTS_REPLAY_MAX", "5")]).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    for i in 0..8 {
        post(&app.addr, &s, &ann.token, &format!("m{i}")).await;
    }
    let mut sse = Sse::open(&app.addr, &s, &ann.token, Some("1")).await;
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (ev.event.as_str(), ev.id.as_deref()),
        ("reset", Some("8")),
        "a reset carries the session's position"
    );
    let mut sse = Sse::open(&app.addr, &s, &ann.token, Some("4")).await;
    let got = sse.messages(4, Duration::from_secs(5)).await;
    assert_eq!(contents(&got), ["m4", "m5", "m6", "m7"]);
    let mut sse = Sse::open(&app.addr, &s, &ann.token, Some("garbage")).await;
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!((ev.event.as_str(), ev.id.as_deref()), ("reset", Some("8")));
}

#[actix_web::test]
async fn a_stream_that_drops_before_its_first_event_resumes_from_its_opening_id() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    post(&app.addr, &s, &ann.token, "before").await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let opening = sse.opening_id().await;
    assert_eq!(
        opening, "1",
        "the opening block carries the session's position"
    );
    drop(sse);
    post(&app.addr, &s, &ann.token, "gap 1").await;
    post(&app.addr, &s, &ann.token, "gap 2").await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, Some(&opening)).await;
    let got = sse.messages(3, Duration::from_secs(2)).await;
    assert_eq!(
        contents(&got),
        ["gap 1", "gap 2"],
        "exactly the two posted in the gap"
    );
    let ids: Vec<_> = got.iter().map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, [Some("2"), Some("3")]);
}

#[actix_web::test]
async fn a_last_event_id_the_session_never_reached_gets_a_reset_with_its_position() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    post(&app.addr, &s, &ann.token, "one").await;
    post(&app.addr, &s, &ann.token, "two").await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, Some("50")).await;
    let ev = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!((ev.event.as_str(), ev.id.as_deref()), ("reset", Some("2")));
    post(&app.addr, &s, &ann.token, "three").await;
    let got = sse.messages(1, Duration::from_secs(5)).await;
    assert_eq!(contents(&got), ["three"], "live events follow the reset");
    // An empty session's position is 0, and a new stream opens there.
    let t = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &t, &ann.token, None).await;
    assert_eq!(sse.opening_id().await, "0");
}

#[actix_web::test]
async fn revoking_the_login_session_ends_its_stream_within_the_heartbeat() {
    let app = TestApp::spawn_with(&[("EVENTS_HEARTBEAT", "1s")]).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    assert_eq!(sse.status, 200);
    let r = app
        .call(
            awc::http::Method::POST,
            "/api/v1/auth/logout",
            Some(&ann.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        sse.ends_within(Duration::from_secs(4)).await,
        "the stream ended"
    );
}

#[actix_web::test]
async fn comment_lines_keep_a_quiet_stream_alive() {
    let app = TestApp::spawn_with(&[("EVENTS_HEARTBEAT", "1s")]).await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let _ = sse.next(Duration::from_millis(2500)).await;
    assert!(sse.comments >= 2, "{} comment lines", sse.comments);
}

#[actix_web::test]
async fn deleting_the_session_ends_its_streams() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    assert_eq!(
        app.delete(&format!("/api/v1/sessions/{s}"), &ann.token)
            .await
            .status,
        200
    );
    assert!(sse.ends_within(Duration::from_secs(3)).await);
}

/// Two instances on one database: B is a real `dealroom serve`, A runs here.
pub(crate) async fn two_instances(env: &[(&str, &str)]) -> (ServerProcess, String) {
    let b = ServerProcess::spawn(env);
    let settings = test_settings(b.db.url(), env);
    let app = server::Application::build(settings).unwrap();
    let addr = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    (b, addr)
}

async fn register(addr: &str, email: &str) -> TestUser {
    let mut res = awc::Client::default()
        .post(format!("{addr}/api/v1/auth/register"))
        .send_json(&json!({ "email": email, "password": "password123", "name": "T" }))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.unwrap();
    crate::helpers::user_from(&body["data"])
}

async fn new_session(addr: &str, token: &str) -> String {
    let mut res = awc::Client::default()
        .post(format!("{addr}/api/v1/sessions"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&json!({}))
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["data"]["session"]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_event_posted_through_one_instance_reaches_a_subscriber_on_another_within_a_second() {
    let (b, a) = two_instances(&[]).await;
    let b_addr = format!("http://127.0.0.1:{}", b.port);
    let ann = register(&a, "ann@example.com").await;
    let s = new_session(&a, &ann.token).await;
    let mut on_b = Sse::open(&b_addr, &s, &ann.token, None).await;
    assert_eq!(on_b.status, 200);
    let _ = on_b.next(Duration::from_millis(100)).await;
    let sent = Instant::now();
    post(&a, &s, &ann.token, "across").await;
    let ev = on_b
        .next(Duration::from_secs(1))
        .await
        .expect("within a second");
    assert_eq!(ev.data["content"], "across");
    assert!(sent.elapsed() < Duration::from_secs(1));
}

#[actix_web::test]
async fn a_listener_whose_connection_is_killed_comes_back_and_its_subscribers_miss_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let addr = app.addr.clone();
    let (s2, token) = (s.clone(), ann.token.clone());
    let burst = actix_web::rt::spawn(async move {
        for i in 0..60 {
            post(&addr, &s2, &token, &format!("m{i}")).await;
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    });
    actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    app.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'dealroom-listener' AND datname = current_database()",
    );
    let got = sse.messages(60, Duration::from_secs(30)).await;
    burst.await.unwrap();
    let want: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    assert_eq!(contents(&got), want, "every event, in order, once");
    assert_events_metric(
        &app,
        "events_listener_reconnects_total 1",
        "the events metrics",
    )
    .await;
}

#[actix_web::test]
async fn sigterm_with_a_hundred_open_streams_exits_within_a_second() {
    let mut b = ServerProcess::spawn(&[("SHUTDOWN_GRACE", "10s"), ("RATE_LIMIT_MAX", "100000")]);
    let addr = format!("http://127.0.0.1:{}", b.port);
    let ann = register(&addr, "ann@example.com").await;
    let s = new_session(&addr, &ann.token).await;
    let mut streams = Vec::new();
    for _ in 0..100 {
        let sse = Sse::open(&addr, &s, &ann.token, None).await;
        assert_eq!(sse.status, 200);
        streams.push(sse);
    }
    let sent = Instant::now();
    b.signal("TERM");
    let status = b.wait_exit(Duration::from_secs(5)).expect("it exits");
    assert!(status.success(), "{status:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    for sse in &mut streams {
        assert!(sse.ends_within(Duration::from_secs(1)).await);
    }
}

#[actix_web::test]
async fn a_subscriber_that_never_reads_is_dropped_and_nobody_else_slows() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s = session(&app, &ann).await;
    // A client that asks for the stream and then never reads a byte.
    let mut stalled = std::net::TcpStream::connect(app.addr.trim_start_matches("http://")).unwrap();
    write!(
        stalled,
        "GET /api/v1/sessions/{s}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        ann.token
    )
    .unwrap();
    let mut reader = Sse::open(&app.addr, &s, &ann.token, None).await;
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    // 400 × 31 kB: more than the kernel's socket buffers and the stream's
    // queue. The reading subscriber takes each event before the next post, so
    // only the stalled one can fall behind.
    let big = "x".repeat(31_000);
    let mut got = Vec::new();
    for i in 0..400 {
        post(&app.addr, &s, &ann.token, &format!("{i}{big}")).await;
        got.extend(reader.messages(1, Duration::from_secs(10)).await);
    }
    assert_eq!(got.len(), 400, "the reading subscriber has every event");
    assert_events_metric(
        &app,
        "events_dropped_for_lag_total 1",
        "the stalled one was dropped",
    )
    .await;
    // Every post was answered while the stalled stream sat full: no writer
    // waited for it (speed is `make bench`'s to measure, not a test's).
    drop(stalled);
}

#[actix_web::test]
async fn the_access_token_of_a_stream_url_is_never_logged() {
    // A stream's access line is written when it ends (with the bytes it
    // sent): a departed client is noticed at the next heartbeat.
    let b = ServerProcess::spawn(&[("RATE_LIMIT_MAX", "100000"), ("EVENTS_HEARTBEAT", "1s")]);
    let addr = format!("http://127.0.0.1:{}", b.port);
    let ann = register(&addr, "ann@example.com").await;
    let s = new_session(&addr, &ann.token).await;
    let query = format!("?access_token={}", ann.token);
    let mut sse = Sse::open_with(&addr, &s, None, None, &query).await;
    assert_eq!(sse.status, 200);
    drop(sse.next(Duration::from_millis(200)).await);
    drop(sse);
    let _ = b.wait_for_line(
        &format!("/api/v1/sessions/{s}/events"),
        Duration::from_secs(10),
    );
    let log = b.stderr();
    assert!(
        log.contains(&format!("/api/v1/sessions/{s}/events")),
        "{log}"
    );
    assert!(!log.contains(&ann.token), "the token is in the log:\n{log}");
    assert!(!log.contains("access_token"), "{log}");
}

/// Asserts that `/metrics` has the line `expected` (e.g. `events_sent_total 1`),
/// showing the events series otherwise.
async fn assert_events_metric(app: &TestApp, expected: &str, what: &str) {
    let text = app.metrics().await;
    let events: Vec<&str> = text.lines().filter(|l| l.starts_with("events_")).collect();
    assert!(events.contains(&expected), "{what}: {}", events.join("\n"));
}
