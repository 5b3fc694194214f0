//! Several instances (README, Scaling out): the statement cache off for a
//! transaction pooler, the direct URL for session-level work, and the read
//! replica's routing and fallback. The full topology (PgBouncer, a streaming
//! replica, two instances) is `make test-cluster`'s (tests/cluster).

use crate::helpers::{TestApp, TestUser};
use actix_web::http::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `/ready`'s replica once its first lag check has run (the check starts
/// with the server, in the background).
async fn replica_after_first_check(app: &TestApp) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.call(Method::GET, "/ready", None, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let replica = r.data()["replica"].clone();
        if replica["status"] != "down" || Instant::now() > deadline {
            return replica;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn session_with_message(app: &TestApp, user: &TestUser, text: &str) -> String {
    let s = app
        .post(
            "/api/v1/sessions",
            &user.token,
            json!({ "title": "Quotes" }),
        )
        .await;
    assert_eq!(s.status, 201, "{:?}", s.body);
    let id = s.data()["session"]["id"].as_str().unwrap().to_owned();
    let m = app
        .post(
            &format!("/api/v1/sessions/{id}/messages"),
            &user.token,
            json!({ "content": text }),
        )
        .await;
    assert_eq!(m.status, 201, "{:?}", m.body);
    id
}

#[actix_web::test]
async fn with_the_statement_cache_off_every_kind_of_statement_still_runs() {
    // DB_STATEMENT_CACHE=off (for PgBouncer's transaction pooling): the DSL's
    // queries, the hand-written prepared ones (the message page, the post's
    // bump) and the search's transaction all go unprepared.
    let app = TestApp::spawn_with(&[("DB_STATEMENT_CACHE", "off")]).await;
    let user = app.register("nocache@example.com").await;
    let session = session_with_message(&app, &user, "the blue lamp costs ten").await;
    for _ in 0..3 {
        let page = app
            .get(&format!("/api/v1/sessions/{session}/messages"), &user.token)
            .await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        assert_eq!(
            page.data()["items"][0]["content"],
            "the blue lamp costs ten"
        );
        let found = app.get("/api/v1/messages/search?q=lamp", &user.token).await;
        assert_eq!(found.status, 200, "{:?}", found.body);
        assert_eq!(found.data()["items"].as_array().unwrap().len(), 1);
    }
}

#[actix_web::test]
async fn search_reads_a_usable_replica_and_message_pages_read_the_primary() {
    // The "replica" is the database itself: no standby, so no lag.
    let db = testkit::TestDb::new();
    let url = db.url().to_owned();
    let settings = crate::helpers::test_settings(
        &url,
        &[
            ("DATABASE_REPLICA_URL", &url),
            ("DATABASE_DIRECT_URL", &url),
        ],
    );
    let app = TestApp::spawn_on(db, settings).await;
    assert_eq!(
        replica_after_first_check(&app).await,
        json!({ "status": "ok", "lagSeconds": 0.0 })
    );
    let user = app.register("replica@example.com").await;
    let session = session_with_message(&app, &user, "a walnut desk for sale").await;
    let before = sample(&app.metrics().await, "db_replica_reads_total").unwrap();

    let page = app
        .get(&format!("/api/v1/sessions/{session}/messages"), &user.token)
        .await;
    assert_eq!(page.status, 200);
    let text = app.metrics().await;
    assert_eq!(sample(&text, "db_replica_reads_total"), Some(before));

    let found = app
        .get("/api/v1/messages/search?q=walnut", &user.token)
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.data()["items"].as_array().unwrap().len(), 1);
    let titles = app.get("/api/v1/sessions?q=quo", &user.token).await;
    assert_eq!(titles.status, 200, "{:?}", titles.body);
    assert_eq!(titles.data()["items"].as_array().unwrap().len(), 1);
    let text = app.metrics().await;
    assert_eq!(sample(&text, "db_replica_reads_total"), Some(before + 2.0));
    assert_eq!(sample(&text, "db_replica_up"), Some(1.0));
    assert_eq!(sample(&text, "db_replica_lag_seconds"), Some(0.0));
    assert_eq!(sample(&text, "db_replica_max_lag_seconds"), Some(2.0));
}

#[actix_web::test]
async fn a_replica_that_is_down_is_skipped_its_reads_go_to_the_primary_and_ready_stays_200() {
    // Nothing listens on port 1 of loopback: every connection is refused.
    let app = TestApp::spawn_with(&[(
        "DATABASE_REPLICA_URL",
        "postgres://postgres@127.0.0.1:1/dealroom?connect_timeout=1",
    )])
    .await;
    let r = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.data(),
        &json!({
            "database": "ok",
            "migrations": "applied",
            "mediaStorage": "disk",
            "replica": { "status": "down" }
        })
    );
    let user = app.register("noreplica@example.com").await;
    session_with_message(&app, &user, "an oak chair").await;
    let found = app.get("/api/v1/messages/search?q=oak", &user.token).await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(
        found.data()["items"][0]["message"]["content"],
        "an oak chair"
    );
    let text = app.metrics().await;
    assert_eq!(sample(&text, "db_replica_up"), Some(0.0));
    assert!(sample(&text, "db_replica_lag_seconds").is_some_and(f64::is_nan));
    assert_eq!(sample(&text, "db_replica_reads_total"), Some(0.0));
    assert_eq!(sample(&text, "db_replica_fallbacks_total"), Some(1.0));
}
