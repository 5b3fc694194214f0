//! The multi-instance topology of `make cluster` (README, Scaling out): a
//! primary, a streaming replica, PgBouncer in transaction mode and two
//! instances. `make test-cluster` starts it, runs these tests (`--ignored`:
//! `make test` lists them as ignored) with `DEALROOM_CLUSTER_ENV` naming its
//! env file, and stops it.
//!
//! The tests stop and start the replica and PgBouncer, so they run one at a
//! time (`--test-threads=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use awc::Client;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

struct Cluster {
    env: HashMap<String, String>,
    a: String,
    b: String,
    client: Client,
}

/// The running cluster named by `DEALROOM_CLUSTER_ENV`.
fn cluster() -> Cluster {
    let Ok(path) = std::env::var("DEALROOM_CLUSTER_ENV") else {
        panic!("DEALROOM_CLUSTER_ENV is not set: run these tests with make test-cluster");
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let env: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Cluster {
        a: env["INSTANCE_A"].clone(),
        b: env["INSTANCE_B"].clone(),
        env,
        client: Client::builder()
            .timeout(Duration::from_secs(30))
            .disable_redirects()
            .finish(),
    }
}

struct Reply {
    status: u16,
    body: Value,
}

impl Cluster {
    async fn call(
        &self,
        method: &str,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, url.clone());
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        let sent = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        };
        let mut res = match sent {
            Ok(r) => r,
            Err(e) => panic!("{url}: {e}"),
        };
        let bytes = res.body().limit(4 << 20).await.unwrap_or_default();
        Reply {
            status: res.status().as_u16(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn register(&self, on: &str, email: &str) -> (String, String) {
        let r = self
            .call(
                "POST",
                format!("{on}/api/v1/auth/register"),
                None,
                Some(json!({ "email": email, "password": "password123", "name": "Ann" })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        (
            r.body["data"]["user"]["id"].as_str().unwrap().to_owned(),
            r.body["data"]["tokens"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    async fn new_session(&self, on: &str, token: &str) -> String {
        let r = self
            .call(
                "POST",
                format!("{on}/api/v1/sessions"),
                Some(token),
                Some(json!({ "title": "Lamps" })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["data"]["session"]["id"].as_str().unwrap().to_owned()
    }

    async fn metric(&self, on: &str, name: &str) -> f64 {
        let mut res = self
            .client
            .get(format!("{on}/metrics"))
            .send()
            .await
            .unwrap();
        let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in {on}/metrics"))
    }

    /// Runs `scripts/cluster.sh <command>` off the runtime's thread.
    async fn script(&self, command: &'static str) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/cluster.sh");
        let dir = self.env["CLUSTER_DIR"].clone();
        let status = actix_web::rt::task::spawn_blocking(move || {
            std::process::Command::new(script)
                .arg(command)
                .env("DEALROOM_CLUSTER_DIR", dir)
                .status()
        })
        .await
        .unwrap()
        .unwrap();
        assert!(status.success(), "cluster.sh {command}: {status}");
    }

    /// Waits until both instances' `/ready` say the replica is `status`.
    async fn replica_is(&self, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for on in [&self.a, &self.b] {
            loop {
                let r = self.call("GET", format!("{on}/ready"), None, None).await;
                if r.status == 200 && r.body["data"]["replica"]["status"] == status {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "replica never {status}: {:?}",
                    r.body
                );
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn a_user_registered_through_a_logs_in_through_b() {
    let c = cluster();
    let email = unique("ab");
    let (id, _) = c.register(&c.a, &email).await;
    let r = c
        .call(
            "POST",
            format!("{}/api/v1/auth/login", c.b),
            None,
            Some(json!({ "email": email, "password": "password123" })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["user"]["id"], id.as_str());
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn a_logout_through_a_is_refused_by_b_within_a_second() {
    // Contract §2: a revocation takes effect within one second on every other instance.
    let c = cluster();
    let (_, token) = c.register(&c.a, &unique("logout")).await;
    let me = format!("{}/api/v1/auth/me", c.b);
    assert_eq!(
        c.call("GET", me.clone(), Some(&token), None).await.status,
        200
    );
    let out = c
        .call(
            "POST",
            format!("{}/api/v1/auth/logout", c.a),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    let revoked = Instant::now();
    loop {
        let r = c.call("GET", me.clone(), Some(&token), None).await;
        if r.status == 401 {
            assert_eq!(r.body["code"], "SESSION_REVOKED", "{:?}", r.body);
            break;
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "B still accepts a token revoked through A after a second"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn a_message_posted_through_a_is_read_back_through_b_at_once() {
    let c = cluster();
    let (_, token) = c.register(&c.a, &unique("ryw")).await;
    let session = c.new_session(&c.a, &token).await;
    for i in 0..20 {
        let content = format!("lamp number {i}");
        let posted = c
            .call(
                "POST",
                format!("{}/api/v1/sessions/{session}/messages", c.a),
                Some(&token),
                Some(json!({ "content": content })),
            )
            .await;
        assert_eq!(posted.status, 201, "{:?}", posted.body);
        let page = c
            .call(
                "GET",
                format!(
                    "{}/api/v1/sessions/{session}/messages?order=desc&limit=1",
                    c.b
                ),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        assert_eq!(page.body["data"]["items"][0]["content"], content.as_str());
    }
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn a_message_posted_through_a_reaches_a_live_stream_on_b() {
    // The pool goes through PgBouncer; each instance's LISTEN connection
    // goes to the primary directly (DATABASE_DIRECT_URL).
    use futures_util::StreamExt;
    let c = cluster();
    let (_, token) = c.register(&c.a, &unique("events")).await;
    let session = c.new_session(&c.a, &token).await;
    let mut stream = c
        .client
        .get(format!("{}/api/v1/sessions/{session}/events", c.b))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let posted = c
        .call(
            "POST",
            format!("{}/api/v1/sessions/{session}/messages", c.a),
            Some(&token),
            Some(json!({ "content": "a lamp through the other instance" })),
        )
        .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let id = posted.body["data"]["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(seen.contains("event: message.created") && seen.contains(&id)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match actix_web::rt::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("no message.created for {id} on B: {other:?}\n{seen}"),
        }
    }
}

/// Runs one SQL statement on the primary itself (`DATABASE_DIRECT_URL`).
async fn sql(c: &Cluster, statement: String) {
    let url = c.env["DATABASE_DIRECT_URL"].clone();
    actix_web::rt::task::spawn_blocking(move || {
        use diesel::prelude::*;
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    })
    .await
    .unwrap();
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn a_reply_streamed_through_a_is_read_back_and_followed_whole_on_b() {
    // Contract §3.12 through PgBouncer (transaction mode, no prepared
    // statements): each delta is stored before its 200 and read back through
    // B at once; B's live stream delivers every delta once, in order (one
    // too long for a NOTIFY included), then message.completed; the text it
    // assembles is the stored content.
    use futures_util::StreamExt;
    let c = cluster();
    let (_, owner) = c.register(&c.a, &unique("owner")).await;
    let (bot_id, bot) = c.register(&c.a, &unique("bot")).await;
    sql(
        &c,
        format!("UPDATE users SET role = 'agent' WHERE id = '{bot_id}'"),
    )
    .await;
    let session = c.new_session(&c.a, &owner).await;
    let mut stream = c
        .client
        .get(format!("{}/api/v1/sessions/{session}/events", c.b))
        .insert_header(("Authorization", format!("Bearer {owner}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let posted = c
        .call(
            "POST",
            format!("{}/api/v1/sessions/{session}/messages", c.a),
            Some(&bot),
            Some(json!({ "role": "assistant", "stream": true, "content": "Lamps: " })),
        )
        .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let id = posted.body["data"]["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut texts: Vec<String> = (1..=30).map(|i| format!("brass lamp {i}, ")).collect();
    texts.push("💡".repeat(4000));
    texts.push(" and that is all.".into());
    let mut stored = String::from("Lamps: ");
    for (i, t) in texts.iter().enumerate() {
        let r = c
            .call(
                "POST",
                format!("{}/api/v1/messages/{id}/deltas", c.a),
                Some(&bot),
                Some(json!({ "seq": i + 1, "text": t })),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body["code"]);
        stored.push_str(t);
        let read = c
            .call(
                "GET",
                format!("{}/api/v1/messages/{id}", c.b),
                Some(&owner),
                None,
            )
            .await;
        assert!(
            read.body["data"]["message"]["content"].as_str() == Some(stored.as_str()),
            "B reads delta {} at once",
            i + 1
        );
    }
    let done = c
        .call(
            "POST",
            format!("{}/api/v1/messages/{id}/complete", c.a),
            Some(&bot),
            Some(json!({})),
        )
        .await;
    assert_eq!(done.status, 200);
    assert_eq!(done.body["data"]["message"]["status"], "complete");

    // B's stream: created, then the deltas it does not hold, then completed.
    let (mut raw, mut text, mut last) = (Vec::new(), String::new(), None::<i64>);
    let mut completed = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while completed.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match actix_web::rt::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(bytes))) => raw.extend_from_slice(&bytes),
            other => panic!("B's stream stopped before message.completed: {other:?}"),
        }
        while let Some(end) = raw.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = raw.drain(..end + 2).collect();
            let block = String::from_utf8(block).unwrap();
            let event = block.lines().find_map(|l| l.strip_prefix("event: "));
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            let (Some(event), Some(data)) = (event, data) else {
                continue;
            };
            let data: Value = serde_json::from_str(data).unwrap();
            match event {
                "message.created" => text = data["content"].as_str().unwrap().to_owned(),
                "message.delta" => {
                    let seq = data["seq"].as_i64().unwrap();
                    assert!(
                        last.is_none_or(|l| seq == l + 1),
                        "delta {seq} after {last:?}"
                    );
                    last = Some(seq);
                    text.push_str(data["text"].as_str().unwrap());
                }
                "message.completed" => completed = Some(data),
                _ => {}
            }
        }
    }
    assert_eq!(last, Some(texts.len() as i64), "every delta reached B");
    assert!(
        text == stored,
        "the text B's client assembled is the stored one"
    );
    let completed = completed.unwrap();
    assert!(completed["content"].as_str() == Some(stored.as_str()));
    assert_eq!(completed, done.body["data"]["message"]);
}

/// Every status `requests` got, counted, while `during` runs beside them.
async fn under_load<F, Fut, D>(request: F, workers: usize, during: D) -> HashMap<u16, u64>
where
    F: Fn(usize, u64) -> Fut + 'static,
    Fut: std::future::Future<Output = u16> + 'static,
    D: std::future::Future<Output = ()>,
{
    let counts: Rc<RefCell<HashMap<u16, u64>>> = Rc::default();
    let stop = Rc::new(std::cell::Cell::new(false));
    let request = Rc::new(request);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (counts, stop, request) = (counts.clone(), stop.clone(), request.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut n = 0;
            while !stop.get() {
                let status = request(w, n).await;
                *counts.borrow_mut().entry(status).or_default() += 1;
                n += 1;
            }
        }));
    }
    during.await;
    stop.set(true);
    for t in tasks {
        t.await.unwrap();
    }
    counts.take()
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn the_replica_stopped_under_load_costs_no_error_and_reads_go_to_the_primary() {
    let c = cluster();
    let c = Rc::new(c);
    c.replica_is("ok").await;
    let (_, token) = c.register(&c.a, &unique("replica")).await;
    let session = c.new_session(&c.a, &token).await;
    for i in 0..10 {
        let r = c
            .call(
                "POST",
                format!("{}/api/v1/sessions/{session}/messages", c.a),
                Some(&token),
                Some(json!({ "content": format!("walnut shelf {i}") })),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let reads_before = c.metric(&c.a, "db_replica_reads_total").await
        + c.metric(&c.b, "db_replica_reads_total").await;
    let fallbacks_before = c.metric(&c.a, "db_replica_fallbacks_total").await
        + c.metric(&c.b, "db_replica_fallbacks_total").await;
    let load = {
        let (c, token) = (c.clone(), token.clone());
        move |w: usize, n: u64| {
            let (c, token) = (c.clone(), token.clone());
            async move {
                let on = if (w as u64 + n).is_multiple_of(2) {
                    &c.a
                } else {
                    &c.b
                };
                let path = if n % 3 == 2 {
                    "/api/v1/sessions?q=lam"
                } else {
                    "/api/v1/messages/search?q=walnut"
                };
                c.call("GET", format!("{on}{path}"), Some(&token), None)
                    .await
                    .status
            }
        }
    };
    let counts = under_load(load, 8, async {
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        c.script("replica-stop").await;
        c.replica_is("down").await;
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{counts:?}"
    );
    let reads_after = c.metric(&c.a, "db_replica_reads_total").await
        + c.metric(&c.b, "db_replica_reads_total").await;
    let fallbacks_after = c.metric(&c.a, "db_replica_fallbacks_total").await
        + c.metric(&c.b, "db_replica_fallbacks_total").await;
    assert!(
        reads_after > reads_before,
        "the replica served before it stopped"
    );
    assert!(
        fallbacks_after > fallbacks_before,
        "the primary served after it stopped"
    );
    assert_eq!(c.metric(&c.a, "db_replica_up").await, 0.0);
    c.script("replica-start").await;
    c.replica_is("ok").await;
}

#[actix_web::test]
#[ignore = "needs the running topology: make test-cluster"]
async fn pgbouncer_restarted_under_load_gives_only_503s_in_the_gap_and_loses_no_acknowledged_write()
{
    let c = cluster();
    let c = Rc::new(c);
    let (_, token) = c.register(&c.a, &unique("bouncer")).await;
    let session = c.new_session(&c.a, &token).await;
    let acknowledged: Rc<RefCell<Vec<String>>> = Rc::default();
    let load = {
        let (c, token, session, acknowledged) = (
            c.clone(),
            token.clone(),
            session.clone(),
            acknowledged.clone(),
        );
        move |w: usize, n: u64| {
            let (c, token, session, acknowledged) = (
                c.clone(),
                token.clone(),
                session.clone(),
                acknowledged.clone(),
            );
            async move {
                let on = if w.is_multiple_of(2) { &c.a } else { &c.b };
                let r = c
                    .call(
                        "POST",
                        format!("{on}/api/v1/sessions/{session}/messages"),
                        Some(&token),
                        Some(json!({ "content": format!("offer {w}/{n}") })),
                    )
                    .await;
                if r.status == 201 {
                    let id = r.body["data"]["message"]["id"].as_str().unwrap().to_owned();
                    acknowledged.borrow_mut().push(id);
                } else {
                    assert_eq!(r.body["code"], "UNAVAILABLE", "{}: {:?}", r.status, r.body);
                }
                r.status
            }
        }
    };
    let counts = under_load(load, 8, async {
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        c.script("pgbouncer-stop").await;
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
        c.script("pgbouncer-start").await;
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
    eprintln!("PgBouncer restarted under load: statuses {counts:?}");
    assert!(
        counts.keys().all(|s| [201, 503].contains(s)) && counts.contains_key(&201),
        "{counts:?}"
    );

    // Both instances write again, and every acknowledged post is there, read
    // from the primary itself.
    for on in [&c.a, &c.b] {
        let r = c
            .call(
                "POST",
                format!("{on}/api/v1/sessions/{session}/messages"),
                Some(&token),
                Some(json!({ "content": "after the restart" })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let ids = acknowledged.borrow().clone();
    let url = c.env["DATABASE_DIRECT_URL"].clone();
    let stored = actix_web::rt::task::spawn_blocking(move || {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        let uuids: Vec<uuid::Uuid> = ids.iter().map(|i| i.parse().unwrap()).collect();
        diesel::sql_query("SELECT count(*) AS n FROM messages WHERE id = ANY($1)")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(uuids)
            .get_result::<N>(&mut conn)
            .unwrap()
            .n
    })
    .await
    .unwrap();
    assert_eq!(
        stored as usize,
        acknowledged.borrow().len(),
        "acknowledged posts lost"
    );
}
