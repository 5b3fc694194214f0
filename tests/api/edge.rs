//! Contract §1 and §5 at the edge: headers, CORS, body limits, compression,
//! rate limits, error detail policy, outage, graceful shutdown.

use crate::helpers::{ServerProcess, TestApp, dealroom_binary, is_timestamp, test_settings};
use awc::http::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const HELMET: [(&str, &str); 12] = [
    (
        "content-security-policy",
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

#[actix_web::test]
async fn every_response_carries_helmets_headers_errors_included_and_no_powered_by() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/health"),
        (Method::GET, "/api/v1/nowhere"),
        (Method::GET, "/api/v1/auth/me"),
    ] {
        let r = app.call(method, path, None, None).await;
        for (name, value) in HELMET {
            assert_eq!(r.header(name), Some(value), "{path} {name}");
        }
        assert_eq!(r.header("x-powered-by"), None);
        assert_eq!(r.header("server"), None);
    }
}

#[actix_web::test]
async fn cors_preflight_is_answered_and_exposes_request_id_and_rate_limit_headers() {
    let app = TestApp::spawn_with(&[("CORS_ORIGIN", "https://app.example")]).await;
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
        .insert_header(("Origin", "https://app.example"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .insert_header((
            "Access-Control-Request-Headers",
            "content-type, authorization",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    let methods = res
        .headers()
        .get("access-control-allow-methods")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );

    let res = app
        .client
        .get(app.url("/health"))
        .insert_header(("Origin", "https://app.example"))
        .send()
        .await
        .unwrap();
    let exposed = res
        .headers()
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in ["x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    let res = app
        .client
        .get(app.url("/health"))
        .insert_header(("Origin", "https://evil.example"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn cors_allows_every_documented_request_header_and_exposes_the_media_headers() {
    let app = TestApp::spawn_with(&[("CORS_ORIGIN", "https://app.example")]).await;
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/sessions/x/events"))
        .insert_header(("Origin", "https://app.example"))
        .insert_header(("Access-Control-Request-Method", "GET"))
        .insert_header((
            "Access-Control-Request-Headers",
            "authorization, content-type, x-request-id, last-event-id, range, if-range, if-none-match",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        200,
        "a fetch-based SSE client's retry"
    );
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    let allowed = res
        .headers()
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-request-id",
        "last-event-id",
        "range",
        "if-range",
        "if-none-match",
    ] {
        assert!(allowed.contains(h), "{h} in {allowed}");
    }
    let res = app
        .client
        .get(app.url("/health"))
        .insert_header(("Origin", "https://app.example"))
        .send()
        .await
        .unwrap();
    let exposed = res
        .headers()
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in [
        "etag",
        "content-range",
        "content-disposition",
        "accept-ranges",
        "retry-after",
    ] {
        assert!(exposed.contains(h), "{h} in {exposed}");
    }
}

#[actix_web::test]
async fn a_refused_preflight_answers_in_the_envelope() {
    let app = TestApp::spawn_with(&[("CORS_ORIGIN", "https://app.example")]).await;
    for (origin, headers, field) in [
        ("https://evil.example", "content-type", "Origin"),
        (
            "https://app.example",
            "x-not-documented",
            "Access-Control-Request-Headers",
        ),
    ] {
        let mut res = app
            .client
            .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", headers))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400);
        assert!(res.headers().get("access-control-allow-origin").is_none());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "error");
        assert_eq!(body["code"], "VALIDATION_ERROR");
        assert_eq!(body["message"], "CORS request refused");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
}

#[actix_web::test]
async fn the_docs_pages_carry_no_upgrade_insecure_requests() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/docs/docs.js", "/docs/docs.css"] {
        let r = app.call(Method::GET, path, None, None).await;
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap();
        assert_eq!(
            csp,
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline'",
            "{path}: helmet's policy less upgrade-insecure-requests"
        );
    }
}

async fn post_raw(app: &TestApp, body: Vec<u8>, chunked: bool) -> (u16, Value) {
    let req = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .insert_header(("Content-Type", "application/json"));
    let mut res = if chunked {
        let chunks: Vec<Result<actix_web::web::Bytes, actix_web::Error>> = body
            .chunks(8192)
            .map(|c| Ok(actix_web::web::Bytes::copy_from_slice(c)))
            .collect();
        req.send_stream(futures_util::stream::iter(chunks))
            .await
            .unwrap()
    } else {
        req.send_body(body).await.unwrap()
    };
    let bytes = res.body().await.unwrap_or_default();
    (
        res.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn a_body_over_the_limit_is_413_with_or_without_content_length() {
    let app = TestApp::spawn_with(&[("REQUEST_BODY_LIMIT", "1024")]).await;
    let big = format!("{{\"email\":\"{}\",\"password\":\"x\"}}", "a".repeat(4096)).into_bytes();
    let expected = json!({ "status": "error", "message": "Request body is too large", "code": "PAYLOAD_TOO_LARGE" });
    assert_eq!(
        post_raw(&app, big.clone(), false).await,
        (413, expected.clone())
    );
    assert_eq!(post_raw(&app, big, true).await, (413, expected));
}

#[actix_web::test]
async fn responses_are_compressed_with_gzip_brotli_or_zstd_when_asked() {
    let app = TestApp::spawn().await;
    let mut plain = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .insert_header(("Accept-Encoding", "identity"))
        .no_decompress()
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers().get("content-encoding"), None);
    let plain_len = plain.body().limit(1 << 24).await.unwrap().len();
    for encoding in ["gzip", "br", "zstd"] {
        let mut res = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .insert_header(("Accept-Encoding", encoding))
            .no_decompress()
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(
            res.headers().get("content-encoding").unwrap(),
            encoding,
            "{encoding}"
        );
        let len = res.body().limit(1 << 24).await.unwrap().len();
        assert!(
            len * 4 < plain_len,
            "{encoding}: {len} of {plain_len} bytes"
        );
    }
}

#[actix_web::test]
async fn the_rate_limit_answers_429_in_the_envelope_with_retry_after() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_MAX", "3"), ("RATE_LIMIT_WINDOW", "60000")]).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let r = app.call(Method::GET, "/api/v1/auth/me", None, None).await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let r = last.unwrap();
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Too many requests, please try again later", "code": "RATE_LIMITED" })
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    // Service endpoints are never limited.
    assert_eq!(
        app.call(Method::GET, "/health", None, None).await.status,
        200
    );
}

#[actix_web::test]
async fn responses_carry_rate_limit_headers() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_MAX", "50")]).await;
    let r = app.call(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!(r.header("x-ratelimit-limit"), Some("50"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("49"));
}

#[actix_web::test]
async fn login_has_the_stricter_auth_limit() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_MAX", "2")]).await;
    let body = json!({ "email": "x@example.com", "password": "password123" });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            app.anon_post("/api/v1/auth/login", body.clone())
                .await
                .status,
        );
    }
    assert_eq!(statuses, [401, 401, 429]);
}

async fn me_from(app: &TestApp, forwarded: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/auth/me"))
        .insert_header(("X-Forwarded-For", forwarded))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn x_forwarded_for_is_ignored_without_trust_proxy() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_MAX", "2")]).await;
    let s = [
        me_from(&app, "10.0.0.1").await,
        me_from(&app, "10.0.0.2").await,
        me_from(&app, "10.0.0.3").await,
    ];
    assert_eq!(s, [401, 401, 429], "all three are the same peer");
}

#[actix_web::test]
async fn x_forwarded_for_is_the_client_with_trust_proxy() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_MAX", "2"), ("TRUST_PROXY", "true")]).await;
    let s = [
        me_from(&app, "10.0.0.1").await,
        me_from(&app, "10.0.0.2").await,
        me_from(&app, "10.0.0.3").await,
    ];
    assert_eq!(s, [401, 401, 401], "three clients behind the proxy");
    let s = [
        me_from(&app, "10.0.0.1").await,
        me_from(&app, "10.0.0.1").await,
    ];
    assert_eq!(s, [401, 429]);
}

#[actix_web::test]
async fn a_4xx_in_production_is_the_plain_envelope_without_detail() {
    let app = TestApp::spawn_with(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET", "a-production-secret-of-at-least-32-bytes"),
    ])
    .await;
    let r = app.call(Method::GET, "/api/v1/nowhere", None, None).await;
    assert_eq!(
        (r.status, &r.body),
        (
            404,
            &json!({ "status": "error", "message": "Route not found", "code": "NOT_FOUND" })
        )
    );
    let r = app.call(Method::GET, "/api/v1/auth/me", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body.as_object().unwrap().len(), 3, "{}", r.body);
    let r = app
        .anon_post("/api/v1/auth/login", json!({ "email": "not-an-email" }))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["detail"], Value::Null, "{}", r.body);
    assert!(r.body["errors"].is_array());
}

#[actix_web::test]
async fn a_5xx_in_production_says_only_internal_server_error() {
    let app = TestApp::spawn_with(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET", "a-production-secret-of-at-least-32-bytes"),
    ])
    .await;
    app.register("x@example.com").await;
    app.sql("DROP TABLE login_sessions CASCADE");
    let r = app
        .anon_post(
            "/api/v1/auth/login",
            json!({ "email": "x@example.com", "password": "password123" }),
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Internal server error", "code": "INTERNAL" })
    );
}

#[actix_web::test]
async fn a_5xx_in_development_may_add_detail() {
    let app = TestApp::spawn_with(&[("APP_ENV", "development")]).await;
    app.register("x@example.com").await;
    app.sql("DROP TABLE login_sessions CASCADE");
    let r = app
        .anon_post(
            "/api/v1/auth/login",
            json!({ "email": "x@example.com", "password": "password123" }),
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.code(), "INTERNAL");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("login_sessions"),
        "{:?}",
        r.body
    );
}

#[actix_web::test]
async fn authenticated_requests_fail_closed_with_503_while_the_database_is_down() {
    let cluster = testkit::Cluster::private();
    let settings = test_settings(&cluster.url("app"), &[("DB_POOL_TIMEOUT", "1s")]);
    let app = TestApp::spawn_on(testkit::TestDb::new(), settings).await;
    let u = app.register("outage@example.com").await;
    assert_eq!(app.get("/api/v1/auth/me", &u.token).await.status, 200);
    cluster.stop();
    let started = Instant::now();
    let r = app.get("/api/v1/auth/me", &u.token).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Service temporarily unavailable", "code": "UNAVAILABLE" })
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "within the pool timeout"
    );
    cluster.start();
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/api/v1/auth/me", &u.token).await.status;
        if status == 200 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
}

/// Contract §5, shutdown: with a request in flight, `signal` makes the server
/// stop accepting, answer that request, close the pool and exit 0 within the
/// grace period.
fn graceful_on(signal: &str) {
    // Long enough for a loaded machine; the test waits only as long as the
    // server takes.
    let grace = Duration::from_secs(30);
    let mut server = ServerProcess::spawn(&[("SHUTDOWN_GRACE", "30s")]);
    assert_eq!(server.request("GET", "/health", &[], "").status, 200);
    let user = r#"{"email":"slow@example.com","password":"password123","name":"Slow"}"#;
    let r = server.request("POST", "/api/v1/auth/register", &[], user);
    assert_eq!(r.status, 201, "{}", r.body);

    // A login in flight for certain when the signal arrives, however fast or
    // loaded the machine: its body comes in two parts, the second only once
    // the server has stopped accepting.
    let mut conn = server.connect().unwrap();
    let credentials = r#"{"email":"slow@example.com","password":"password123"}"#;
    let (first, rest) = credentials.split_at(20);
    conn.write_raw(&format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        credentials.len()
    ))
    .unwrap();
    let (go_on, told) = std::sync::mpsc::channel::<()>();
    let rest = rest.to_owned();
    let in_flight = std::thread::spawn(move || {
        let _ = told.recv();
        conn.write_raw(&rest).unwrap();
        let reply = conn.read_reply();
        (reply, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    server.signal(signal);

    let name = format!("SIG{signal} received");
    assert!(
        server
            .wait_for_line(&name, Duration::from_secs(5))
            .is_some(),
        "{}",
        server.stderr()
    );
    // It stops accepting: new connections are refused (at once, or after one
    // the acceptor had already taken).
    let mut refused = None;
    while signalled.elapsed() < Duration::from_secs(2) {
        match server.connect() {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = Some(Instant::now());
                break;
            }
            Err(e) => panic!("connect after {signal}: {e}"),
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let refused = refused.expect("new connections are refused after the signal");
    go_on.send(()).unwrap();

    let (reply, answered) = in_flight.join().unwrap();
    let reply = reply.unwrap();
    assert_eq!(
        reply.status, 200,
        "the request in flight completed: {}",
        reply.body
    );
    assert!(reply.json()["data"]["tokens"]["accessToken"].is_string());
    assert!(
        answered > signalled && answered > refused,
        "the login was still in flight when the server stopped accepting"
    );

    let status = server.wait_exit(grace.saturating_sub(signalled.elapsed()));
    // The log's last lines may still be in the pipe when the process is gone.
    let closed = server.wait_for_line("database pool closed", Duration::from_secs(5));
    let stderr = server.stderr();
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "{signal} exits 0 within the grace period:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(closed.is_some(), "{stderr}");
}

#[test]
fn sigterm_is_graceful_and_exits_zero() {
    graceful_on("TERM");
}

#[test]
fn sigint_is_graceful_and_exits_zero() {
    graceful_on("INT");
}

#[test]
fn a_port_in_use_ends_the_binary_with_one_line() {
    let db = testkit::TestDb::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = std::process::Command::new(dealroom_binary())
        .arg("serve")
        .env_clear()
        .env("APP_ENV", "test")
        .env("DATABASE_URL", db.url())
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("dealroom: cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

/// mimalloc's options as the binary starts with `env` (mimalloc prints them
/// at start with `MIMALLOC_VERBOSE=1`): `(arena_eager_commit, purge_delay)`.
fn mimalloc_options(env: &[(&str, &str)]) -> (String, String) {
    let out = std::process::Command::new(dealroom_binary())
        .arg("--version")
        .env_clear()
        .env("MIMALLOC_VERBOSE", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let option = |name: &str| {
        let prefix = format!("option '{name}': ");
        err.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in: {err}"))
    };
    (option("arena_eager_commit"), option("purge_delay"))
}

#[test]
fn the_binary_commits_mimallocs_arena_lazily_and_purges_at_once_unless_told_otherwise() {
    assert_eq!(mimalloc_options(&[]), ("0".into(), "0".into()));
    assert_eq!(
        mimalloc_options(&[
            ("MIMALLOC_ARENA_EAGER_COMMIT", "1"),
            ("MIMALLOC_PURGE_DELAY", "250")
        ]),
        ("1".into(), "250".into()),
        "the operator's variables win"
    );
}

/// `GET /metrics` as text, with its content type.
async fn metrics_text(app: &TestApp) -> (u16, String, String) {
    let mut res = app.client.get(app.url("/metrics")).send().await.unwrap();
    let body = res.body().await.unwrap();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        res.status().as_u16(),
        ctype,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Every `le` bucket of one histogram series, in order, with its count.
fn buckets(text: &str, labels: &str) -> Vec<(String, u64)> {
    let prefix = format!("http_request_duration_seconds_bucket{{{labels},le=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (le, n) = rest.split_once("\"} ")?;
            Some((le.to_owned(), n.parse().unwrap()))
        })
        .collect()
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_status_with_consistent_histograms() {
    let app = TestApp::spawn_with(&[
        ("DB_POOL_SIZE", "5"),
        ("CORS_ORIGIN", "https://app.example"),
    ])
    .await;
    let u = app.register("metrics@example.com").await;
    let id = uuid::Uuid::now_v7();
    let session = format!("/api/v1/sessions/{id}");
    assert_eq!(
        app.call(Method::GET, "/health", None, None).await.status,
        200
    );
    assert_eq!(app.get(&session, &u.token).await.status, 404);
    assert_eq!(
        app.call(Method::GET, &session, None, None).await.status,
        401
    );
    assert_eq!(
        app.call(Method::GET, &session, None, None).await.status,
        401
    );
    let scan = format!("/wp-admin/{id}.php");
    assert_eq!(app.call(Method::GET, &scan, None, None).await.status, 404);
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
        .insert_header(("Origin", "https://app.example"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);

    let (status, ctype, text) = metrics_text(&app).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "# TYPE http_requests_total counter",
        "# TYPE http_request_duration_seconds histogram",
        r#"http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1"#,
        r#"http_requests_total{method="GET",route="/health",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/api/v1/sessions/{id}",status="404"} 1"#,
        r#"http_requests_total{method="GET",route="/api/v1/sessions/{id}",status="401"} 2"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_requests_total{method="OPTIONS",route="/api/v1/auth/login",status="200"} 1"#,
        "# TYPE db_pool_max_size gauge",
        "db_pool_max_size 5",
        "# TYPE db_pool_connections gauge",
        "# TYPE db_pool_idle gauge",
        "# TYPE db_pool_waiting gauge",
        "db_pool_waiting 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
    assert!(!text.contains(&id.to_string()), "no raw path: {text}");
    let open = sample(&text, "db_pool_connections").unwrap();
    let idle = sample(&text, "db_pool_idle").unwrap();
    assert!((1.0..=5.0).contains(&open) && idle <= open, "{open} {idle}");

    let les = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
        "10", "+Inf",
    ];
    for (labels, n) in [
        (
            r#"method="GET",route="/api/v1/sessions/{id}",status="401""#,
            2,
        ),
        (r#"method="GET",route="unmatched",status="404""#, 1),
        (
            r#"method="POST",route="/api/v1/auth/register",status="201""#,
            1,
        ),
    ] {
        let b = buckets(&text, labels);
        assert_eq!(
            b.iter().map(|(le, _)| le.as_str()).collect::<Vec<_>>(),
            les,
            "{labels}"
        );
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative: {b:?}");
        assert_eq!(b.last().unwrap().1, n, "+Inf is the count: {labels}");
        let count = format!("http_request_duration_seconds_count{{{labels}}}");
        assert_eq!(sample(&text, &count), Some(n as f64), "{labels}");
        let sum = sample(
            &text,
            &format!("http_request_duration_seconds_sum{{{labels}}}"),
        )
        .unwrap();
        assert!(sum > 0.0 && sum < 60.0, "{labels}: {sum}");
    }
}

#[actix_web::test]
async fn metrics_are_never_rate_limited_count_429s_and_have_no_envelope() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_MAX", "1"), ("RATE_LIMIT_WINDOW", "60000")]).await;
    let me: Vec<u16> = futures_util::future::join_all(
        (0..2).map(|_| app.call(Method::GET, "/api/v1/auth/me", None, None)),
    )
    .await
    .iter()
    .map(|r| r.status)
    .collect();
    assert_eq!(me.iter().filter(|s| **s == 429).count(), 1, "{me:?}");
    for _ in 0..5 {
        let r = app.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, Value::Null, "plain text, no JSON envelope");
        assert_eq!(r.header("x-ratelimit-limit"), None);
    }
    let (status, _, text) = metrics_text(&app).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("# HELP "), "{text}");
    for line in [
        r#"http_requests_total{method="GET",route="/api/v1/auth/me",status="401"} 1"#,
        r#"http_requests_total{method="GET",route="/api/v1/auth/me",status="429"} 1"#,
        r#"http_requests_total{method="GET",route="/metrics",status="200"} 5"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
}

#[test]
fn the_production_access_log_is_one_json_object_a_line_without_query_strings() {
    let secret = "s3cr3t-query-token-value";
    let request_id = "access-log-test.42";
    let mut server = ServerProcess::spawn(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET", "a-production-secret-of-at-least-32-bytes"),
        ("LOG_LEVEL", "info"),
    ]);
    let r = server.request(
        "GET",
        &format!("/health?token={secret}"),
        &[("X-Request-Id", request_id)],
        "",
    );
    assert_eq!(r.status, 200);
    let bytes: u64 = r.header("content-length").unwrap().parse().unwrap();
    let r = server.request("GET", &format!("/api/v1/auth/me?token={secret}"), &[], "");
    assert_eq!(r.status, 401);
    let doc = server.request(
        "GET",
        "/api/v1/openapi.json",
        &[("Accept-Encoding", "gzip")],
        "",
    );
    assert_eq!(doc.header("content-encoding"), Some("gzip"));
    assert_eq!(doc.header("transfer-encoding"), Some("chunked"));
    server.signal("TERM");
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(15))
            .and_then(|s| s.code()),
        Some(0)
    );
    let stderr = server.stderr();
    assert!(!stderr.contains(secret), "{stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{stderr}"))
        })
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "dealroom::access")
        .collect();
    assert_eq!(access.len(), 3, "{stderr}");
    let health = access[0];
    assert_eq!(health["method"], "GET");
    assert_eq!(health["path"], "/health");
    assert_eq!(health["status"], 200);
    assert_eq!(health["bytes"], bytes);
    assert_eq!(health["requestId"], request_id);
    assert!(
        health["ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{health}"
    );
    assert_eq!(health["level"], "INFO");
    assert!(is_timestamp(&health["time"]), "{health}");
    let me = access[1];
    assert_eq!(me["path"], "/api/v1/auth/me");
    assert_eq!(me["status"], 401);
    assert!(
        me["requestId"].as_str().is_some_and(|id| id.len() == 36),
        "{me}"
    );
    // A compressed response: the bytes that went on the wire, not 0.
    let gzipped = access[2];
    assert_eq!(gzipped["path"], "/api/v1/openapi.json");
    assert_eq!(gzipped["bytes"], dechunked_len(&doc.raw_body), "{gzipped}");
    // The other lines are objects too, with the message as a string.
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains("SIGTERM received"))),
        "{stderr}"
    );
}

/// The length of a chunked body once its framing is taken off.
fn dechunked_len(raw: &[u8]) -> u64 {
    let (mut at, mut total) = (0, 0u64);
    loop {
        let eol = raw[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size = std::str::from_utf8(&raw[at..at + eol]).unwrap().trim();
        let size = u64::from_str_radix(size, 16).unwrap();
        if size == 0 {
            return total;
        }
        total += size;
        at += eol + 2 + size as usize + 2;
        assert!(at <= raw.len(), "a truncated chunk");
    }
}
