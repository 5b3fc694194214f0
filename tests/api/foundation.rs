//! The frame: health and readiness, the envelope for every rejection, the CLI.

use crate::helpers::{TestApp, test_settings};
use awc::http::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[actix_web::test]
async fn health_answers_200_in_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "OK", "data": { "status": "ok" } })
    );
}

#[actix_web::test]
async fn ready_is_200_when_the_database_answers_and_migrations_are_applied() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.data(),
        &json!({ "database": "ok", "migrations": "applied", "mediaStorage": "disk" })
    );
}

#[actix_web::test]
async fn ready_is_503_while_the_database_is_down_and_200_again_when_it_is_back() {
    let cluster = testkit::Cluster::private();
    let db = testkit::TestDb::new(); // only to own a TestApp; the server uses the private cluster
    // The pool's default 3 s checkout timeout: /ready must still answer within 1 s.
    let settings = test_settings(&cluster.url("app"), &[]);
    assert_eq!(settings.db_pool_timeout, Duration::from_secs(3));
    let app = TestApp::spawn_on(db, settings).await;
    assert_eq!(
        app.call(Method::GET, "/ready", None, None).await.status,
        200
    );

    cluster.stop();
    // The first probes find the pool's dead idle connections and fail at once;
    // the later ones wait for a new connection, and must still answer in time.
    for probe in 0..6 {
        let started = Instant::now();
        let r = app.call(Method::GET, "/ready", None, None).await;
        assert_eq!(r.status, 503);
        assert_eq!(r.code(), "UNAVAILABLE");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "probe {probe}: ready must answer within a second while the database is down: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        app.call(Method::GET, "/health", None, None).await.status,
        200,
        "liveness does not need the database"
    );

    cluster.start();
    let mut last = 0;
    for _ in 0..50 {
        last = app.call(Method::GET, "/ready", None, None).await.status;
        if last == 200 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last, 200,
        "the server serves again by itself once the database is back"
    );
}

#[actix_web::test]
async fn unknown_routes_are_404_in_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Route not found", "code": "NOT_FOUND" })
    );
}

#[actix_web::test]
async fn a_known_path_with_the_wrong_method_is_405_in_the_envelope_with_allow() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::DELETE, "/health", None, None).await;
    assert_eq!(r.status, 405);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Method not allowed", "code": "METHOD_NOT_ALLOWED" })
    );
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = app
        .call(Method::GET, "/api/v1/auth/login", None, None)
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "METHOD_NOT_ALLOWED");
    assert_eq!(
        r.header("allow"),
        Some("POST"),
        "RFC 9110: a 405 lists the methods"
    );
    let id = "0190f0f0-0000-7000-8000-000000000000";
    let r = app
        .call(Method::PUT, &format!("/api/v1/sessions/{id}"), None, None)
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PATCH, DELETE"));
}

/// RFC 9110 §9.3.2: what serves GET serves HEAD, with the same headers and no body.
#[actix_web::test]
async fn head_answers_like_get_without_a_body_wherever_get_is_served() {
    use std::io::{Read, Write};
    let app = TestApp::spawn().await;
    let user = app.register("head@example.com").await;
    let addr = app.addr.trim_start_matches("http://").to_owned();
    let token = user.token.clone();
    let exchange = move |method: &str, path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().to_owned();
        let length = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        });
        let ctype = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        });
        (status, length, ctype, body.len())
    };
    for path in [
        "/health",
        "/ready",
        "/docs",
        "/api/v1/openapi.json",
        "/metrics",
        "/api/v1/sessions",
        "/api/v1/auth/me",
    ] {
        let (get_status, get_length, get_type, get_body) = actix_web::rt::task::spawn_blocking({
            let e = exchange.clone();
            let p = path.to_owned();
            move || e("GET", &p)
        })
        .await
        .unwrap();
        let (status, length, ctype, body) = actix_web::rt::task::spawn_blocking({
            let e = exchange.clone();
            let p = path.to_owned();
            move || e("HEAD", &p)
        })
        .await
        .unwrap();
        assert_eq!(status, get_status, "HEAD {path}");
        assert_eq!(ctype, get_type, "HEAD {path}");
        assert_eq!(body, 0, "HEAD {path} has no body");
        assert!(get_body > 0, "GET {path} has one");
        if path != "/metrics" {
            // /metrics counts the GET itself, so its length moves.
            assert_eq!(length, get_length, "HEAD {path}: the GET's Content-Length");
        }
    }
    assert_eq!(exchange("HEAD", "/api/v1/auth/login").0, "405");
}

async fn raw(app: &TestApp, path: &str, content_type: &str, body: &'static str) -> (u16, Value) {
    let mut res = app
        .client
        .post(app.url(path))
        .insert_header(("Content-Type", content_type))
        .send_body(body)
        .await
        .unwrap();
    let bytes = res.body().await.unwrap();
    (
        res.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn malformed_json_is_400_validation_error() {
    let app = TestApp::spawn().await;
    let (status, body) = raw(
        &app,
        "/api/v1/auth/login",
        "application/json",
        "{\"email\": ",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "VALIDATION_ERROR");
    assert_eq!(body["status"], "error");
    assert_eq!(body["errors"][0]["field"], "body");
}

#[actix_web::test]
async fn unknown_json_fields_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let r = app
        .anon_post(
            "/api/v1/auth/login",
            json!({ "email": "a@b.co", "password": "password123", "isAdmin": true }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Validation failed", "code": "VALIDATION_ERROR",
                "errors": [ { "field": "isAdmin", "message": "is not allowed" } ] })
    );
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let (status, body) = raw(&app, "/api/v1/auth/login", "text/plain", "email=a").await;
    assert_eq!(status, 415);
    assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");
}

#[actix_web::test]
async fn a_malformed_uuid_in_a_path_is_400() {
    let app = TestApp::spawn().await;
    let u = app.register("path@example.com").await;
    let r = app.get("/api/v1/users/not-a-uuid", &u.token).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "id", "message": "must be a valid UUID" } ])
    );
}

#[actix_web::test]
async fn a_string_holding_nul_is_400_not_a_database_error() {
    let app = TestApp::spawn().await;
    let r = app
        .anon_post(
            "/api/v1/auth/register",
            json!({ "email": "nul@example.com", "password": "password123", "name": "A\u{0}B" }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "name", "message": "must not contain NUL characters" } ])
    );
}

#[actix_web::test]
async fn every_response_carries_a_request_id_echoing_a_sane_one() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/health"))
        .insert_header(("X-Request-Id", "abc-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    let res = app
        .client
        .get(app.url("/health"))
        .insert_header(("X-Request-Id", "bad id <script>"))
        .send()
        .await
        .unwrap();
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "an insane id is replaced by a UUID, got {id}"
    );
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn production_refuses_a_weak_jwt_secret_with_one_line() {
    let run = |secret: &str| {
        let cmd = server::cli::parse(&["migrate".to_owned()]).unwrap();
        let e = env(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", secret),
            ("DATABASE_URL", "postgres://nowhere/x"),
        ]);
        server::cli::run(cmd, &e, &mut std::io::empty(), &mut Vec::new())
            .err()
            .map(|f| (f.code, f.message))
    };
    assert_eq!(
        run("tooshort"),
        Some((
            1,
            "JWT_SECRET must be at least 32 bytes in production".to_owned()
        ))
    );
    assert_eq!(
        run(""),
        Some((1, "JWT_SECRET must be set in production".to_owned()))
    );
}

#[test]
fn create_admin_creates_then_promotes_with_the_password_from_stdin() {
    use diesel::RunQueryDsl;
    let db = testkit::TestDb::new();
    let e = env(&[("APP_ENV", "test"), ("DATABASE_URL", db.url())]);
    let cmd = || {
        server::cli::parse(
            &[
                "create-admin",
                "--email",
                "Boss@Example.com",
                "--name",
                "Boss",
            ]
            .map(str::to_owned),
        )
        .unwrap()
    };
    let mut out = Vec::new();
    server::cli::run(
        cmd(),
        &e,
        &mut "correct horse battery\n".as_bytes(),
        &mut out,
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("<boss@example.com> is ready"));

    // A second run promotes (and re-activates) the same account; no duplicate.
    let mut c = db.conn();
    diesel::sql_query("UPDATE users SET role = 'user', is_active = false")
        .execute(&mut c)
        .unwrap();
    let mut e2 = e.clone();
    e2.insert("DEALROOM_ADMIN_PASSWORD".into(), "another password".into());
    server::cli::run(cmd(), &e2, &mut std::io::empty(), &mut Vec::new()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        role: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        is_active: bool,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT role, is_active FROM users")
        .load(&mut c)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].role.as_str(), rows[0].is_active), ("admin", true));
}

#[test]
fn create_admin_refuses_a_short_password() {
    let db = testkit::TestDb::new();
    let e = env(&[
        ("APP_ENV", "test"),
        ("DATABASE_URL", db.url()),
        ("DEALROOM_ADMIN_PASSWORD", "short"),
    ]);
    let cmd = server::cli::parse(
        &["create-admin", "--email", "a@b.co", "--name", "A"].map(str::to_owned),
    )
    .unwrap();
    let err = server::cli::run(cmd, &e, &mut std::io::empty(), &mut Vec::new())
        .err()
        .map(|f| f.message);
    assert_eq!(
        err.as_deref(),
        Some("password must be at least 8 characters")
    );
}

#[test]
fn the_dependency_rule_holds_domain_and_contexts_know_neither_diesel_nor_actix() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for krate in ["domain", "auth", "accounts", "chat", "market"] {
        for banned in ["diesel", "actix-web"] {
            let out = std::process::Command::new(&cargo)
                .args([
                    "tree",
                    "--offline",
                    "-q",
                    "-e",
                    "normal",
                    "-p",
                    krate,
                    "-i",
                    banned,
                ])
                .output()
                .unwrap();
            // `cargo tree -i X` fails when X is not in the crate's graph at all,
            // and prints nothing when X is only behind dev-dependencies (testkit
            // brings diesel to the rules tests): only a printed tree breaks it.
            assert!(
                !out.status.success() || out.stdout.is_empty(),
                "{krate} depends on {banned}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    // And the check can fail: the server does depend on both.
    let out = std::process::Command::new(&cargo)
        .args([
            "tree",
            "--offline",
            "-q",
            "-e",
            "normal",
            "-p",
            "server",
            "-i",
            "diesel",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every command closes its connections and joins the threads that use them
/// before it returns: a pool thread still in libpq when the process exits
/// (libpq tears its Kerberos library down then) aborted one run in about 30.
#[test]
fn create_admin_over_tcp_exits_zero_a_hundred_times_in_a_row() {
    let cluster = testkit::Cluster::private_tcp();
    let url = cluster.tcp_url("app").unwrap();
    let bin = crate::helpers::dealroom_binary();
    let mut failures = Vec::new();
    for i in 0..100 {
        let out = std::process::Command::new(&bin)
            .args([
                "create-admin",
                "--email",
                "boss@example.com",
                "--name",
                "Boss",
            ])
            .env_clear()
            .env("APP_ENV", "test")
            .env("BCRYPT_ROUNDS", "4")
            .env("DATABASE_URL", &url)
            .env("DEALROOM_ADMIN_PASSWORD", "correct horse battery")
            .output()
            .unwrap();
        if !out.status.success() {
            failures.push(format!(
                "run {i}: {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        } else {
            assert!(String::from_utf8_lossy(&out.stdout).contains("is ready"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
