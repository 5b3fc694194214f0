//! Contract §3.12: streamed replies, on real PostgreSQL and real HTTP: the
//! three operations and their refusals, the live events (`message.delta`,
//! `message.completed`, `message.snapshot`) on one instance and across two,
//! the idle timeout, and a reconnecting client whose text always equals the
//! stored content.

use crate::events::{Ev, Sse, two_instances};
use crate::helpers::{TestApp, TestUser, is_timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Calls an instance by its address.
async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut req = client.request(method, format!("{addr}{path}"));
    if !token.is_empty() {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut res = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .unwrap();
    let bytes = res.body().limit(1 << 22).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (res.status().as_u16(), body)
}

async fn register(addr: &str, email: &str) -> TestUser {
    let (status, body) = call(
        addr,
        "POST",
        "/api/v1/auth/register",
        "",
        Some(json!({ "email": email, "password": "password123", "name": "T" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    crate::helpers::user_from(&body["data"])
}

async fn new_session(addr: &str, owner: &TestUser) -> String {
    let (status, body) = call(
        addr,
        "POST",
        "/api/v1/sessions",
        &owner.token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["session"]["id"].as_str().unwrap().to_owned()
}

/// Starts a streamed reply; its Message.
async fn start(addr: &str, agent: &TestUser, session: &str, body: Value) -> Value {
    let (status, body) = call(
        addr,
        "POST",
        &format!("/api/v1/sessions/{session}/messages"),
        &agent.token,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["message"].clone()
}

async fn delta(addr: &str, token: &str, id: &str, seq: i64, text: &str) -> (u16, Value) {
    call(
        addr,
        "POST",
        &format!("/api/v1/messages/{id}/deltas"),
        token,
        Some(json!({ "seq": seq, "text": text })),
    )
    .await
}

async fn complete(addr: &str, token: &str, id: &str, body: Value) -> (u16, Value) {
    call(
        addr,
        "POST",
        &format!("/api/v1/messages/{id}/complete"),
        token,
        Some(body),
    )
    .await
}

async fn get_message(addr: &str, token: &str, id: &str) -> Value {
    let (status, body) = call(addr, "GET", &format!("/api/v1/messages/{id}"), token, None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["message"].clone()
}

/// What a client following a session's events knows of its streamed
/// replies: each one's text, the last delta applied, whether it ended. It
/// appends each delta it receives: a `message.created` heard after a reply's
/// first deltas holds them already, and the server then sends only the
/// later ones; after a snapshot, the next delta is `lastSeq + 1`, and each
/// delta the one after the last. A delta out of order, repeated or lost
/// fails the test at once.
#[derive(Default)]
struct Follower {
    text: HashMap<String, String>,
    /// The last delta applied; absent after a `message.created`, whose
    /// content may hold the first few.
    last: HashMap<String, i64>,
    ended: HashMap<String, Value>,
    kinds: Vec<String>,
}

impl Follower {
    fn apply(&mut self, ev: &Ev) {
        self.kinds.push(ev.event.clone());
        let d = &ev.data;
        let id = d["id"].as_str().unwrap_or_default().to_owned();
        match ev.event.as_str() {
            "message.created" => {
                self.text
                    .insert(id.clone(), d["content"].as_str().unwrap_or_default().into());
                self.last.remove(&id);
            }
            "message.snapshot" => {
                self.text
                    .insert(id.clone(), d["content"].as_str().unwrap_or_default().into());
                self.last.insert(id, d["lastSeq"].as_i64().unwrap());
            }
            "message.delta" => {
                let seq = d["seq"].as_i64().unwrap();
                let last = self.last.entry(id.clone()).or_insert(seq - 1);
                assert_eq!(
                    seq,
                    *last + 1,
                    "deltas of {id} in order, none lost or repeated"
                );
                *last = seq;
                self.text
                    .entry(id)
                    .or_default()
                    .push_str(d["text"].as_str().unwrap());
            }
            "message.completed" => {
                assert!(
                    !self.ended.contains_key(&id),
                    "one message.completed for {id}"
                );
                self.text
                    .insert(id.clone(), d["content"].as_str().unwrap_or_default().into());
                self.ended.insert(id, d.clone());
            }
            _ => {}
        }
    }

    /// Reads events until `done` says so, within `within`.
    async fn follow(&mut self, sse: &mut Sse, within: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match sse.next(left).await {
                Some(ev) => self.apply(&ev),
                None => panic!("the stream ended or went quiet; seen {:?}", self.kinds),
            }
        }
    }
}

#[actix_web::test]
async fn a_reply_reaches_a_subscriber_as_created_then_each_delta_in_order_then_completed() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    assert_eq!(sse.opening_id().await, "0");

    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    assert_eq!(m["status"], "streaming");
    assert_eq!(m["content"], "");
    assert_eq!(m["completedAt"], Value::Null);
    assert_eq!(m["role"], "assistant");
    let id = m["id"].as_str().unwrap().to_owned();
    let created = sse.next(Duration::from_secs(10)).await.expect("created");
    assert_eq!(created.event, "message.created");
    assert_eq!(created.id.as_deref(), Some("1"));
    assert_eq!(created.data, m, "created carries the Message as posted");
    // Text with spaces, a line break, quotes and non-ASCII: each delta as sent.
    let words = [
        "Oak ",
        "chairs ",
        "are \"in\" stock:\n",
        "12 à 129 € ",
        "💬",
    ];
    for (i, w) in words.iter().enumerate() {
        let (status, body) = delta(&app.addr, &bot.token, &id, i as i64 + 1, w).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "Delta applied");
        let so_far: String = words[..=i].concat();
        assert_eq!(
            body["data"]["message"]["content"],
            so_far.as_str(),
            "the content so far"
        );
        assert_eq!(body["data"]["message"]["status"], "streaming");
    }
    let (status, done) = complete(&app.addr, &bot.token, &id, json!({})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["message"], "Message completed");
    let done = &done["data"]["message"];
    assert_eq!(done["status"], "complete");
    assert!(is_timestamp(&done["completedAt"]), "{done}");
    assert_eq!(done["content"], words.concat().as_str());

    let mut seen = vec![created];
    while seen.len() < words.len() + 2 {
        let ev = sse.next(Duration::from_secs(10)).await.expect("an event");
        seen.push(ev);
    }
    let kinds: Vec<&str> = seen.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message.created",
            "message.delta",
            "message.delta",
            "message.delta",
            "message.delta",
            "message.delta",
            "message.completed"
        ]
    );
    for (i, w) in words.iter().enumerate() {
        assert_eq!(
            seen[i + 1].data,
            json!({ "id": id, "seq": i + 1, "text": w }),
            "delta {}",
            i + 1
        );
        // Each event's id is a position to resume from: the session's.
        assert_eq!(seen[i + 1].id.as_deref(), Some("1"));
    }
    assert_eq!(seen[6].data, *done, "completed carries the whole Message");
    assert_eq!(seen[6].id.as_deref(), Some("1"));
    assert_eq!(get_message(&app.addr, &ann.token, &id).await, *done);
}

#[actix_web::test]
async fn a_retried_delta_changes_nothing_and_any_other_seq_is_a_409_naming_the_next() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "system", "stream": true, "content": "Hel" }),
    )
    .await;
    assert_eq!(m["content"], "Hel", "a reply may start with content");
    let id = m["id"].as_str().unwrap();
    // Opened mid-reply: a snapshot of it after the opening block.
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let snap = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(snap.event, "message.snapshot");
    assert_eq!(snap.data["lastSeq"], 0);
    assert_eq!(snap.data["content"], "Hel");

    let (status, first) = delta(&app.addr, &bot.token, id, 1, "lo").await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = delta(&app.addr, &bot.token, id, 1, "lo").await;
    assert_eq!(status, 200, "a retried delta: {again}");
    assert_eq!(again["data"]["message"]["content"], "Hello", "applied once");

    for (seq, text) in [(1, "LO"), (3, "x"), (7, "x")] {
        let (status, body) = delta(&app.addr, &bot.token, id, seq, text).await;
        assert_eq!(status, 409, "seq {seq}: {body}");
        assert_eq!(body["code"], "CONFLICT");
        assert_eq!(
            body["message"], "Delta out of sequence: the next seq is 2",
            "the message names the expected seq"
        );
    }
    // Malformed deltas are a 400.
    for bad in [
        json!({ "seq": 0, "text": "x" }),
        json!({ "seq": 2, "text": "" }),
        json!({ "seq": 2, "text": "x".repeat(4001) }),
        json!({ "seq": 2 }),
        json!({ "text": "x" }),
        json!({ "seq": 2, "text": "x", "extra": 1 }),
    ] {
        let (status, body) = call(
            &app.addr,
            "POST",
            &format!("/api/v1/messages/{id}/deltas"),
            &bot.token,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    let (status, _) = delta(&app.addr, &bot.token, id, 2, " world").await;
    assert_eq!(status, 200);
    // The subscriber got delta 1 once, then delta 2.
    let mut f = Follower::default();
    f.apply(&snap);
    f.follow(&mut sse, Duration::from_secs(10), |f| {
        f.last.get(id) == Some(&2)
    })
    .await;
    assert_eq!(f.text[id], "Hello world");
    assert_eq!(
        get_message(&app.addr, &ann.token, id).await["content"],
        "Hello world"
    );
}

#[actix_web::test]
async fn only_the_sender_appends_or_completes_others_get_403_or_404() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let other = app.user_with_role("other@example.com", "agent").await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let s = new_session(&app.addr, &ann).await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    for (who, want) in [(&other, 403), (&admin, 403), (&ann, 403), (&bob, 404)] {
        let (status, body) = delta(&app.addr, &who.token, id, 1, "x").await;
        assert_eq!(status, want, "delta by {}: {body}", who.email);
        let (status, body) = complete(&app.addr, &who.token, id, json!({})).await;
        assert_eq!(status, want, "complete by {}: {body}", who.email);
        // A malformed body tells no more than a good one would.
        let (status, _) = delta(&app.addr, &who.token, id, 0, "").await;
        assert_eq!(status, if want == 404 { 404 } else { 400 }, "{}", who.email);
    }
    let nowhere = "01900000-0000-7000-8000-000000000000";
    assert_eq!(delta(&app.addr, &bot.token, nowhere, 1, "x").await.0, 404);
    assert_eq!(
        complete(&app.addr, &bot.token, nowhere, json!({})).await.0,
        404
    );
    // Nothing was applied: the sender's first delta is still seq 1.
    assert_eq!(delta(&app.addr, &bot.token, id, 1, "x").await.0, 200);
    assert_eq!(
        get_message(&app.addr, &ann.token, id).await["status"],
        "streaming"
    );
}

#[actix_web::test]
async fn a_user_cannot_stream_and_a_stream_is_an_assistant_or_system_text() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let path = format!("/api/v1/sessions/{s}/messages");
    for body in [
        json!({ "role": "assistant", "stream": true }),
        json!({ "role": "system", "stream": true, "content": "x" }),
        json!({ "stream": true }),
    ] {
        let (status, reply) = call(&app.addr, "POST", &path, &ann.token, Some(body.clone())).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (403, Some("FORBIDDEN")),
            "{body}"
        );
    }
    for body in [
        json!({ "role": "user", "stream": true }),
        json!({ "stream": true }),
        json!({ "role": "assistant", "stream": true, "type": "media", "mediaId": "01900000-0000-7000-8000-000000000000" }),
        json!({ "role": "assistant", "stream": true, "content": "" }),
        json!({ "role": "assistant", "stream": "yes" }),
    ] {
        let (status, reply) = call(&app.addr, "POST", &path, &bot.token, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 0);
    // `stream: false` is an ordinary post.
    let (status, reply) = call(
        &app.addr,
        "POST",
        &path,
        &bot.token,
        Some(json!({ "role": "assistant", "stream": false, "content": "hi" })),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(reply["data"]["message"]["status"], "complete");
}

#[actix_web::test]
async fn a_delta_after_completion_is_a_409_and_completing_again_answers_the_message_as_it_is() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let _ = sse.opening_id().await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    let created = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(created.event, "message.created");
    assert_eq!(delta(&app.addr, &bot.token, id, 1, "draft ").await.0, 200);
    // The final content replaces what the deltas built.
    let (status, done) = complete(
        &app.addr,
        &bot.token,
        id,
        json!({ "content": "Final answer." }),
    )
    .await;
    assert_eq!(status, 200);
    let done = done["data"]["message"].clone();
    assert_eq!(
        (done["status"].as_str(), done["content"].as_str()),
        (Some("complete"), Some("Final answer."))
    );
    let (status, again) = complete(&app.addr, &bot.token, id, json!({ "content": "Other" })).await;
    assert_eq!(status, 200);
    assert_eq!(again["message"], "Message already ended");
    assert_eq!(
        again["data"]["message"], done,
        "as it is, whatever content says"
    );
    let (status, body) = delta(&app.addr, &bot.token, id, 2, "late").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("CONFLICT")));
    assert_eq!(body["message"], "The message is not streaming");
    // A message never streamed: a delta is a 409, completing answers it.
    let (_, plain) = call(
        &app.addr,
        "POST",
        &format!("/api/v1/sessions/{s}/messages"),
        &bot.token,
        Some(json!({ "role": "assistant", "content": "plain" })),
    )
    .await;
    let plain = plain["data"]["message"].clone();
    let pid = plain["id"].as_str().unwrap();
    assert_eq!(delta(&app.addr, &bot.token, pid, 1, "x").await.0, 409);
    let (status, body) = complete(&app.addr, &bot.token, pid, json!({})).await;
    assert_eq!((status, &body["data"]["message"]), (200, &plain));
    // The subscriber saw one message.completed, then the plain post.
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        kinds.push(sse.next(Duration::from_secs(5)).await.unwrap().event);
    }
    assert_eq!(
        kinds,
        ["message.delta", "message.completed", "message.created"]
    );
    assert!(
        sse.next(Duration::from_millis(300)).await.is_none(),
        "nothing more"
    );
}

#[actix_web::test]
async fn a_reply_may_not_grow_past_32000_characters() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let start_text = "é".repeat(31_995);
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true, "content": start_text }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    let (status, body) = delta(&app.addr, &bot.token, id, 1, "123456").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("LIMIT_REACHED")),
        "{body}"
    );
    let (status, body) = delta(&app.addr, &bot.token, id, 1, "12345").await;
    assert_eq!(status, 200, "exactly 32000: {body}");
    assert_eq!(
        body["data"]["message"]["content"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        32_000
    );
}

#[actix_web::test]
async fn a_reply_idle_for_the_timeout_ends_incomplete_with_what_it_has() {
    let app = TestApp::spawn_with(&[("STREAM_IDLE_TIMEOUT", "1s")]).await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let mut sse = Sse::open(&app.addr, &s, &ann.token, None).await;
    let _ = sse.opening_id().await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    // Deltas keep it alive past the timeout.
    for (i, w) in ["still ", "writing ", "this "].iter().enumerate() {
        assert_eq!(
            delta(&app.addr, &bot.token, id, i as i64 + 1, w).await.0,
            200
        );
        actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(
        get_message(&app.addr, &ann.token, id).await["status"],
        "streaming"
    );
    let mut f = Follower::default();
    f.follow(&mut sse, Duration::from_secs(10), |f| {
        f.ended.contains_key(id)
    })
    .await;
    let ended = &f.ended[id];
    assert_eq!(ended["status"], "incomplete");
    assert_eq!(ended["content"], "still writing this ");
    assert!(is_timestamp(&ended["completedAt"]));
    assert_eq!(f.text[id], "still writing this ");
    assert_eq!(get_message(&app.addr, &ann.token, id).await, *ended);
    assert_eq!(delta(&app.addr, &bot.token, id, 4, "late").await.0, 409);
    let (status, body) =
        complete(&app.addr, &bot.token, id, json!({ "content": "too late" })).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["message"], *ended,
        "incomplete stays incomplete"
    );
    // An empty reply ends too, with empty content.
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    f.follow(&mut sse, Duration::from_secs(10), |f| {
        f.ended.contains_key(id)
    })
    .await;
    assert_eq!(
        (
            f.ended[id]["status"].as_str(),
            f.ended[id]["content"].as_str()
        ),
        (Some("incomplete"), Some(""))
    );
}

#[actix_web::test]
async fn reconnecting_mid_reply_gets_a_snapshot_then_only_the_later_deltas() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let mut first = Sse::open(&app.addr, &s, &ann.token, None).await;
    let _ = first.opening_id().await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap().to_owned();
    let words: Vec<String> = (1..=12).map(|i| format!("w{i} ")).collect();
    for (i, w) in words[..3].iter().enumerate() {
        assert_eq!(
            delta(&app.addr, &bot.token, &id, i as i64 + 1, w).await.0,
            200
        );
    }
    let mut f = Follower::default();
    // (Its message.created may hold some of them already.)
    let three = words[..3].concat();
    f.follow(&mut first, Duration::from_secs(10), |f| {
        f.text.get(&id) == Some(&three)
    })
    .await;
    let last_id = first.last_id.clone().unwrap();
    drop(first);
    // Missed while away: deltas 4 to 6 and a plain message.
    for (i, w) in words[3..6].iter().enumerate() {
        assert_eq!(
            delta(&app.addr, &bot.token, &id, i as i64 + 4, w).await.0,
            200
        );
    }
    let (status, _) = call(
        &app.addr,
        "POST",
        &format!("/api/v1/sessions/{s}/messages"),
        &ann.token,
        Some(json!({ "content": "are you there?" })),
    )
    .await;
    assert_eq!(status, 201);

    let seen_before = f.kinds.len();
    let mut second = Sse::open(&app.addr, &s, &ann.token, Some(&last_id)).await;
    let replayed = second.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (replayed.event.as_str(), replayed.data["content"].as_str()),
        ("message.created", Some("are you there?"))
    );
    f.apply(&replayed);
    let snap = second.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(snap.event, "message.snapshot", "after the replayed events");
    assert_eq!(snap.data["lastSeq"], 6);
    assert_eq!(snap.data["status"], "streaming");
    assert_eq!(snap.data["content"], words[..6].concat().as_str());
    assert_eq!(snap.id.as_deref(), Some("2"), "the stream's position");
    f.apply(&snap);
    // Live again: 7 to 12, none of the snapshot's again.
    let (addr, token, id2, rest) = (
        app.addr.clone(),
        bot.token.clone(),
        id.clone(),
        words.clone(),
    );
    let writer = actix_web::rt::spawn(async move {
        for (i, w) in rest[6..].iter().enumerate() {
            assert_eq!(delta(&addr, &token, &id2, i as i64 + 7, w).await.0, 200);
        }
        complete(&addr, &token, &id2, json!({})).await
    });
    f.follow(&mut second, Duration::from_secs(10), |f| {
        f.ended.contains_key(&id)
    })
    .await;
    let (status, done) = writer.await.unwrap();
    assert_eq!(status, 200);
    let stored = get_message(&app.addr, &ann.token, &id).await;
    assert_eq!(stored["content"], words.concat().as_str());
    assert_eq!(
        f.text[&id],
        stored["content"].as_str().unwrap(),
        "the text the client holds is the stored one"
    );
    assert_eq!(done["data"]["message"], stored);
    let after: Vec<&str> = f.kinds[seen_before..].iter().map(String::as_str).collect();
    let mut want = vec!["message.created", "message.snapshot"];
    want.extend(["message.delta"; 6]);
    want.push("message.completed");
    assert_eq!(
        after, want,
        "4-6 in the snapshot, then 7-12 live, each once"
    );
}

#[actix_web::test]
async fn reconnecting_after_the_reply_ended_gets_one_message_completed() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    let mut first = Sse::open(&app.addr, &s, &ann.token, None).await;
    let mut f = Follower::default();
    let snap = first.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (snap.event.as_str(), snap.id.as_deref()),
        ("message.snapshot", Some("1"))
    );
    f.apply(&snap);
    assert_eq!(delta(&app.addr, &bot.token, id, 1, "half").await.0, 200);
    f.follow(&mut first, Duration::from_secs(10), |f| {
        f.last.get(id) == Some(&1)
    })
    .await;
    let last_id = first.last_id.clone().unwrap();
    assert_eq!(last_id, "1");
    drop(first);
    assert_eq!(
        delta(&app.addr, &bot.token, id, 2, " and the rest").await.0,
        200
    );
    assert_eq!(complete(&app.addr, &bot.token, id, json!({})).await.0, 200);

    let mut second = Sse::open(&app.addr, &s, &ann.token, Some(&last_id)).await;
    f.follow(&mut second, Duration::from_secs(5), |f| {
        f.ended.contains_key(id)
    })
    .await;
    assert_eq!(f.text[id], "half and the rest");
    assert_eq!(f.ended[id]["status"], "complete");
    assert!(
        second.next(Duration::from_millis(300)).await.is_none(),
        "nothing more"
    );
    // A client that resumes from before the reply's post gets it replayed,
    // whole, then its end.
    let mut third = Sse::open(&app.addr, &s, &ann.token, Some("0")).await;
    let created = third.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (created.event.as_str(), created.data["content"].as_str()),
        ("message.created", Some("half and the rest"))
    );
    let ended = third.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(ended.event, "message.completed");
}

#[actix_web::test]
async fn pages_and_get_show_status_and_completed_at_and_search_finds_a_reply_once_complete() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let (_, plain) = call(
        &app.addr,
        "POST",
        &format!("/api/v1/sessions/{s}/messages"),
        &ann.token,
        Some(json!({ "content": "which walnut desk?" })),
    )
    .await;
    let plain = plain["data"]["message"].clone();
    assert_eq!(plain["status"], "complete");
    assert_eq!(
        plain["completedAt"], plain["createdAt"],
        "completed when posted"
    );
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true, "content": "The " }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    assert_eq!(
        delta(&app.addr, &bot.token, id, 1, "mahogany ").await.0,
        200
    );
    let (status, page) = call(
        &app.addr,
        "GET",
        &format!("/api/v1/sessions/{s}/messages"),
        &ann.token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let items = page["data"]["items"].as_array().unwrap();
    assert_eq!(items[0], plain);
    assert_eq!(
        (
            items[1]["status"].as_str(),
            items[1]["content"].as_str(),
            &items[1]["completedAt"]
        ),
        (Some("streaming"), Some("The mahogany "), &Value::Null)
    );
    assert_eq!(items[1], get_message(&app.addr, &ann.token, id).await);
    let search = |q: &'static str| {
        let (addr, token) = (app.addr.clone(), ann.token.clone());
        async move {
            let (status, body) = call(
                &addr,
                "GET",
                &format!("/api/v1/messages/search?q={q}"),
                &token,
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["message"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(search("mahogany").await.is_empty(), "not while it streams");
    assert_eq!(delta(&app.addr, &bot.token, id, 2, "one.").await.0, 200);
    let (_, done) = complete(&app.addr, &bot.token, id, json!({})).await;
    let done = done["data"]["message"].clone();
    assert_eq!(search("mahogany").await, [id], "once complete");
    let (_, page) = call(
        &app.addr,
        "GET",
        &format!("/api/v1/sessions/{s}/messages?order=desc"),
        &ann.token,
        None,
    )
    .await;
    assert_eq!(page["data"]["items"][0], done);
    assert_eq!(done["content"], "The mahogany one.");
    // Nothing of the stream's bookkeeping is left but its row.
    assert_eq!(app.count("SELECT count(*) AS n FROM message_deltas"), 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM message_parts"), 0);
}

#[actix_web::test]
async fn across_two_instances_each_delta_is_read_back_at_once_and_the_followers_text_is_the_stored_one()
 {
    let (b, a) = two_instances(&[]).await;
    let b_addr = format!("http://127.0.0.1:{}", b.port);
    let ann = register(&a, "ann@example.com").await;
    let bot = register(&a, "bot@example.com").await;
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE users SET role = 'agent' WHERE id = '{}'",
            bot.id
        ))
        .execute(&mut b.db.conn())
        .unwrap();
    }
    let s = new_session(&a, &ann).await;
    let mut on_b = Sse::open(&b_addr, &s, &ann.token, None).await;
    assert_eq!(on_b.status, 200);
    let _ = on_b.opening_id().await;
    let m = start(&a, &bot, &s, json!({ "role": "assistant", "stream": true })).await;
    let id = m["id"].as_str().unwrap().to_owned();
    // Small deltas, one past a part's 512 characters, and one of 4000
    // characters of 4 bytes each: 16,000 bytes, more than a NOTIFY carries.
    let mut texts: Vec<String> = (1..=40).map(|i| format!("word{i} ")).collect();
    texts.push("ab".repeat(300));
    texts.push("💬".repeat(4000));
    texts.push(" end\n".into());
    let mut so_far = String::new();
    for (i, t) in texts.iter().enumerate() {
        let (status, body) = delta(&a, &bot.token, &id, i as i64 + 1, t).await;
        assert_eq!(status, 200, "{body}");
        so_far.push_str(t);
        // Stored before its 200: the other instance reads it at once.
        let on_b_now = get_message(&b_addr, &ann.token, &id).await;
        assert!(
            on_b_now["content"].as_str() == Some(so_far.as_str()),
            "B read it after delta {}",
            i + 1
        );
    }
    let mut f = Follower::default();
    f.apply(&Ev {
        id: None,
        event: "message.created".into(),
        data: m.clone(),
    });
    f.follow(&mut on_b, Duration::from_secs(20), |f| {
        f.text.get(&id) == Some(&so_far)
    })
    .await;
    assert!(
        f.text[&id] == so_far,
        "B's subscriber holds the stored text"
    );
    let (status, _) = complete(&a, &bot.token, &id, json!({})).await;
    assert_eq!(status, 200);
    f.follow(&mut on_b, Duration::from_secs(10), |f| {
        f.ended.contains_key(&id)
    })
    .await;
    let stored = get_message(&b_addr, &ann.token, &id).await;
    assert!(
        f.ended[&id] == stored,
        "message.completed is the stored Message"
    );
    assert!(stored["content"].as_str() == Some(so_far.as_str()));
    assert!(f.text[&id] == so_far);
}

#[actix_web::test]
async fn a_page_under_its_byte_cap_counts_a_streaming_replys_content_so_far() {
    // PAGE_MAX_BYTES: 4,000 bytes hold a short message (1,024 bytes of
    // overhead and its text) but not also a reply of 3,000 characters so far.
    let app = TestApp::spawn_with(&[("PAGE_MAX_BYTES", "4000")]).await;
    let ann = app.register("ann@example.com").await;
    let bot = app.user_with_role("bot@example.com", "agent").await;
    let s = new_session(&app.addr, &ann).await;
    let path = format!("/api/v1/sessions/{s}/messages");
    let say = |content: &'static str| {
        let (addr, token, path) = (app.addr.clone(), ann.token.clone(), path.clone());
        async move {
            let (status, _) = call(
                &addr,
                "POST",
                &path,
                &token,
                Some(json!({ "content": content })),
            )
            .await;
            assert_eq!(status, 201);
        }
    };
    say("first").await;
    let m = start(
        &app.addr,
        &bot,
        &s,
        json!({ "role": "assistant", "stream": true }),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    assert_eq!(
        delta(&app.addr, &bot.token, id, 1, &"y".repeat(3000))
            .await
            .0,
        200
    );
    say("third").await;
    let mut pages = Vec::new();
    let mut next = path.clone();
    loop {
        let (status, page) = call(&app.addr, "GET", &next, &ann.token, None).await;
        assert_eq!(status, 200);
        let items: Vec<String> = page["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let c = m["content"].as_str().unwrap();
                format!("{} {}", m["status"].as_str().unwrap(), c.chars().count())
            })
            .collect();
        pages.push(items);
        match page["data"]["nextCursor"].as_str() {
            Some(c) => next = format!("{path}?cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        pages,
        [
            vec!["complete 5".to_owned()],
            vec!["streaming 3000".to_owned()],
            vec!["complete 5".to_owned()]
        ]
    );
}
