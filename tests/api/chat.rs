//! Contract §3.3 (chat sessions), §3.4 (messages) and §3.10 (pages) over HTTP.

use crate::helpers::{Reply, TestApp, TestUser, is_timestamp};
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::HashSet;

const SESSIONS: &str = "/api/v1/sessions";

fn session_path(id: &str) -> String {
    format!("{SESSIONS}/{id}")
}

fn messages_path(session: &str) -> String {
    format!("{SESSIONS}/{session}/messages")
}

fn message_path(id: &str) -> String {
    format!("/api/v1/messages/{id}")
}

/// Creates a session and hands back its JSON.
async fn new_session(app: &TestApp, user: &TestUser, title: &str) -> Value {
    let r = app
        .post(SESSIONS, &user.token, json!({ "title": title }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["session"].clone()
}

/// Posts a text message as the given user (role user) and hands back its JSON.
async fn post_text(app: &TestApp, user: &TestUser, session: &str, content: &str) -> Value {
    let r = app
        .post(
            &messages_path(session),
            &user.token,
            json!({ "content": content }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["message"].clone()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn assert_invalid(r: &Reply, field: &str) {
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "Validation failed");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&field), "{field} not in {:?}", r.body);
}

fn assert_not_found(r: &Reply, what: &str) {
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": format!("{what} not found"), "code": "NOT_FOUND" })
    );
}

fn assert_forbidden(r: &Reply) {
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(r.code(), "FORBIDDEN");
}

/// A stored upload of `owner`, inserted directly (uploading is not this context's).
fn seed_media(app: &TestApp, owner: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    app.sql(&format!(
        "INSERT INTO media (id, owner_id, mime_type, size_bytes, file_name, sha256) \
         VALUES ('{id}', '{owner}', 'image/png', 1234, 'cat.png', '{}')",
        "a".repeat(64)
    ));
    id
}

/// Every item of every page of a message list, following `nextCursor`, with a
/// hook run between pages.
async fn all_message_pages(
    app: &TestApp,
    user: &TestUser,
    session: &str,
    order: &str,
    mut between: impl AsyncFnMut(usize),
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("{}?limit=50&order={order}", messages_path(session));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, &user.token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["message"], "Messages");
        let page = r.data()["items"].as_array().unwrap().clone();
        assert!(page.len() <= 50);
        items.extend(page);
        pages += 1;
        match r.data()["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        between(pages).await;
    }
    items
}

// ------------------------------------------------------------------ sessions

#[actix_web::test]
async fn creating_a_session_answers_201_with_the_session_and_a_default_title() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let r = app.post(SESSIONS, &u.token, json!({})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["message"], "Chat session created");
    let s = &r.data()["session"];
    assert_eq!(
        s.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<HashSet<_>>(),
        [
            "id",
            "userId",
            "title",
            "createdAt",
            "updatedAt",
            "lastMessageAt",
            "messageCount",
            "vendor",
            "sellerCount"
        ]
        .iter()
        .map(|k| k.to_string())
        .collect::<HashSet<_>>()
    );
    assert!(uuid::Uuid::parse_str(s["id"].as_str().unwrap()).is_ok());
    assert_eq!(s["userId"], u.id.as_str());
    assert_eq!(s["title"], "New chat");
    assert!(is_timestamp(&s["createdAt"]));
    assert!(is_timestamp(&s["updatedAt"]));
    assert_eq!(s["lastMessageAt"], Value::Null);
    assert_eq!(s["messageCount"], 0);
    assert_eq!(s["vendor"], Value::Null);
    assert_eq!(s["sellerCount"], 0);

    let r = app.get(&session_path(&id_of(s)), &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Chat session");
    assert_eq!(&r.data()["session"], s);
}

#[actix_web::test]
async fn a_session_title_is_trimmed_and_1_to_200_characters() {
    let app = TestApp::spawn().await;
    let u = app.register("titles@example.com").await;
    let s = new_session(&app, &u, "  Buying a bike \t").await;
    assert_eq!(s["title"], "Buying a bike");
    let s = new_session(&app, &u, &"é".repeat(200)).await;
    assert_eq!(s["title"].as_str().unwrap().chars().count(), 200);

    let r = app
        .post(SESSIONS, &u.token, json!({ "title": "é".repeat(201) }))
        .await;
    assert_invalid(&r, "title");
    assert_eq!(
        r.body["errors"][0]["message"],
        "must be at most 200 characters"
    );
    let r = app
        .post(SESSIONS, &u.token, json!({ "title": "   " }))
        .await;
    assert_invalid(&r, "title");
    assert_eq!(r.body["errors"][0]["message"], "must not be empty");
    let r = app.post(SESSIONS, &u.token, json!({ "title": "" })).await;
    assert_invalid(&r, "title");
    let r = app
        .post(SESSIONS, &u.token, json!({ "title": "ok", "userId": u.id }))
        .await;
    assert_invalid(&r, "userId");
    assert_eq!(app.count("SELECT count(*) AS n FROM chat_sessions"), 2);
}

#[actix_web::test]
async fn the_owner_renames_and_deletes_their_session() {
    let app = TestApp::spawn().await;
    let u = app.register("rename@example.com").await;
    let s = new_session(&app, &u, "Old").await;
    let path = session_path(&id_of(&s));

    let r = app
        .patch(&path, &u.token, json!({ "title": "  New  " }))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Chat session updated");
    assert_eq!(r.data()["session"]["title"], "New");
    assert_eq!(r.data()["session"]["id"], s["id"]);
    assert!(is_timestamp(&r.data()["session"]["updatedAt"]));

    let r = app.patch(&path, &u.token, json!({})).await;
    assert_invalid(&r, "title");
    assert_eq!(r.body["errors"][0]["message"], "is required");
    let r = app
        .patch(&path, &u.token, json!({ "title": "x".repeat(201) }))
        .await;
    assert_invalid(&r, "title");

    let r = app.delete(&path, &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "Chat session deleted", "data": null })
    );
    assert_not_found(&app.get(&path, &u.token).await, "Chat session");
    assert_not_found(&app.delete(&path, &u.token).await, "Chat session");
}

#[actix_web::test]
async fn a_malformed_session_id_is_400() {
    let app = TestApp::spawn().await;
    let u = app.register("badid@example.com").await;
    let r = app.get(&session_path("not-a-uuid"), &u.token).await;
    assert_invalid(&r, "id");
}

#[actix_web::test]
async fn a_stranger_gets_404_on_every_route_of_someone_elses_session() {
    let app = TestApp::spawn().await;
    let owner = app.register("mine@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let s = new_session(&app, &owner, "Private").await;
    let sid = id_of(&s);
    let m = post_text(&app, &owner, &sid, "secret").await;
    let mid = id_of(&m);

    let t = &stranger.token;
    assert_not_found(&app.get(&session_path(&sid), t).await, "Chat session");
    assert_not_found(
        &app.patch(&session_path(&sid), t, json!({ "title": "mine now" }))
            .await,
        "Chat session",
    );
    assert_not_found(&app.delete(&session_path(&sid), t).await, "Chat session");
    assert_not_found(
        &app.post(&messages_path(&sid), t, json!({ "content": "hi" }))
            .await,
        "Chat session",
    );
    assert_not_found(&app.get(&messages_path(&sid), t).await, "Chat session");
    assert_not_found(&app.get(&message_path(&mid), t).await, "Message");
    assert_not_found(&app.delete(&message_path(&mid), t).await, "Message");

    // Nothing changed.
    let r = app.get(&session_path(&sid), &owner.token).await;
    assert_eq!(r.data()["session"]["title"], "Private");
    assert_eq!(r.data()["session"]["messageCount"], 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 1);

    // A session that does not exist answers the same.
    let missing = uuid::Uuid::now_v7().to_string();
    assert_not_found(&app.get(&session_path(&missing), t).await, "Chat session");
    assert_not_found(&app.get(&messages_path(&missing), t).await, "Chat session");
}

#[actix_web::test]
async fn an_agent_reads_any_session_but_cannot_rename_or_delete_anothers() {
    let app = TestApp::spawn().await;
    let owner = app.register("client@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let s = new_session(&app, &owner, "Deal").await;
    let sid = id_of(&s);
    post_text(&app, &owner, &sid, "hello").await;

    let r = app.get(&session_path(&sid), &agent.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["session"]["id"], sid.as_str());
    let r = app.get(&messages_path(&sid), &agent.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["items"][0]["content"], "hello");

    assert_forbidden(
        &app.patch(
            &session_path(&sid),
            &agent.token,
            json!({ "title": "agent's" }),
        )
        .await,
    );
    assert_forbidden(&app.delete(&session_path(&sid), &agent.token).await);

    let r = app
        .patch(
            &session_path(&sid),
            &admin.token,
            json!({ "title": "By admin" }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["session"]["title"], "By admin");
    assert_eq!(
        app.delete(&session_path(&sid), &admin.token).await.status,
        200
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM chat_sessions"), 0);
}

#[actix_web::test]
async fn deleting_a_session_removes_its_messages() {
    let app = TestApp::spawn().await;
    let u = app.register("cascade@example.com").await;
    let keep = new_session(&app, &u, "Keep").await;
    let gone = new_session(&app, &u, "Gone").await;
    post_text(&app, &u, &id_of(&keep), "stays").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(
            &post_text(&app, &u, &id_of(&gone), &format!("m{i}")).await,
        ));
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 4);

    assert_eq!(
        app.delete(&session_path(&id_of(&gone)), &u.token)
            .await
            .status,
        200
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM messages WHERE session_id = '{}'",
            id_of(&gone)
        )),
        0
    );
    assert_not_found(&app.get(&message_path(&ids[0]), &u.token).await, "Message");
}

#[actix_web::test]
async fn the_session_list_is_by_recent_activity_filtered_by_q_and_paged_by_cursor() {
    let app = TestApp::spawn().await;
    let u = app.register("lister@example.com").await;
    let other = app.register("other@example.com").await;
    new_session(&app, &other, "Bike of someone else").await;
    let mut ids = Vec::new();
    for title in [
        "Bike parts",
        "Groceries",
        "Road BIKE",
        "Laptop",
        "bike helmet",
    ] {
        ids.push(id_of(&new_session(&app, &u, title).await));
    }
    // Activity in "Bike parts" makes it the most recent.
    post_text(&app, &u, &ids[0], "any news?").await;

    let r = app.get(SESSIONS, &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Chat sessions");
    let listed: Vec<String> = r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    let expected = vec![
        ids[0].clone(),
        ids[4].clone(),
        ids[3].clone(),
        ids[2].clone(),
        ids[1].clone(),
    ];
    assert_eq!(listed, expected);
    assert_eq!(r.data()["nextCursor"], Value::Null);
    assert_eq!(r.data()["items"][0]["messageCount"], 1);
    assert!(is_timestamp(&r.data()["items"][0]["lastMessageAt"]));

    // q matches the title case-insensitively as a substring.
    let r = app.get(&format!("{SESSIONS}?q=bIkE"), &u.token).await;
    let titles: Vec<&str> = r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Bike parts", "bike helmet", "Road BIKE"]);
    let r = app.get(&format!("{SESSIONS}?q=%25"), &u.token).await;
    assert_eq!(r.data()["items"], json!([]));

    // Pages of two follow the same order, no gap, no repeat.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{SESSIONS}?limit=2&cursor={c}"),
            None => format!("{SESSIONS}?limit=2"),
        };
        let r = app.get(&path, &u.token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        paged.extend(r.data()["items"].as_array().unwrap().iter().map(id_of));
        match r.data()["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, expected);

    // A cursor is scoped to its list: another user's list refuses it.
    let r = app.get(&format!("{SESSIONS}?limit=2"), &u.token).await;
    let c = r.data()["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("{SESSIONS}?limit=2&cursor={c}"), &other.token)
        .await;
    assert_invalid(&r, "cursor");
    let r = app
        .get(&format!("{SESSIONS}?cursor=garbage!!"), &u.token)
        .await;
    assert_invalid(&r, "cursor");
    assert_invalid(
        &app.get(&format!("{SESSIONS}?limit=0"), &u.token).await,
        "limit",
    );
    assert_invalid(
        &app.get(&format!("{SESSIONS}?limit=201"), &u.token).await,
        "limit",
    );
    let r = app.get(&format!("{SESSIONS}?sort=title"), &u.token).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn agents_and_admins_list_another_users_sessions_and_users_get_403() {
    let app = TestApp::spawn().await;
    let owner = app.register("listed@example.com").await;
    let nosy = app.register("nosy@example.com").await;
    let agent = app.user_with_role("agent2@example.com", "agent").await;
    let admin = app.user_with_role("admin2@example.com", "admin").await;
    let s = new_session(&app, &owner, "Mine").await;
    new_session(&app, &agent, "Agent's own").await;

    for who in [&agent, &admin] {
        let r = app
            .get(&format!("{SESSIONS}?userId={}", owner.id), &who.token)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.data()["items"], json!([s.clone()]));
    }
    let r = app.get(SESSIONS, &agent.token).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.data()["items"][0]["title"], "Agent's own");

    let r = app
        .get(&format!("{SESSIONS}?userId={}", owner.id), &nosy.token)
        .await;
    assert_forbidden(&r);
    // Naming oneself is fine.
    let r = app
        .get(&format!("{SESSIONS}?userId={}", owner.id), &owner.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("{SESSIONS}?userId=nope"), &agent.token)
        .await;
    assert_eq!(r.status, 400);
}

// ------------------------------------------------------------------ messages

#[actix_web::test]
async fn posting_a_text_message_answers_201_and_bumps_the_session() {
    let app = TestApp::spawn().await;
    let u = app.register("poster@example.com").await;
    let s = new_session(&app, &u, "Talk").await;
    let sid = id_of(&s);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;

    let r = app
        .post(
            &messages_path(&sid),
            &u.token,
            json!({ "content": "  Hello there  ", "clientMessageId": "c-1" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["message"], "Message created");
    let m = r.data()["message"].clone();
    assert_eq!(
        m.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<HashSet<_>>(),
        [
            "id",
            "sessionId",
            "senderId",
            "role",
            "type",
            "content",
            "media",
            "clientMessageId",
            "status",
            "createdAt",
            "completedAt"
        ]
        .iter()
        .map(|k| k.to_string())
        .collect::<HashSet<_>>()
    );
    assert_eq!(m["sessionId"], sid.as_str());
    assert_eq!(m["senderId"], u.id.as_str());
    assert_eq!(m["role"], "user");
    assert_eq!(m["type"], "text");
    assert_eq!(m["content"], "  Hello there  ");
    // Not streamed: complete when posted.
    assert_eq!(m["status"], "complete");
    assert_eq!(m["completedAt"], m["createdAt"]);
    assert_eq!(m["media"], Value::Null);
    assert_eq!(m["clientMessageId"], "c-1");
    assert!(is_timestamp(&m["createdAt"]));

    let after = app.get(&session_path(&sid), &u.token).await.data()["session"].clone();
    assert_eq!(after["messageCount"], 1);
    assert_eq!(after["lastMessageAt"], m["createdAt"]);
    assert!(after["updatedAt"].as_str().unwrap() >= s["updatedAt"].as_str().unwrap());
    assert_ne!(after["updatedAt"], s["updatedAt"]);

    let r = app.get(&message_path(&id_of(&m)), &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Message");
    assert_eq!(r.data()["message"], m);

    let r = app.get(&messages_path(&sid), &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!({ "items": [m], "nextCursor": null }));
}

#[actix_web::test]
async fn text_content_is_1_to_32000_characters_and_not_only_whitespace() {
    let app = TestApp::spawn().await;
    let u = app.register("bounds@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Bounds").await);
    let path = messages_path(&sid);

    let r = app.post(&path, &u.token, json!({ "content": "" })).await;
    assert_invalid(&r, "content");
    let r = app
        .post(&path, &u.token, json!({ "content": " \n\t " }))
        .await;
    assert_invalid(&r, "content");
    assert_eq!(r.body["errors"][0]["message"], "must not be empty");
    let r = app.post(&path, &u.token, json!({})).await;
    assert_invalid(&r, "content");
    assert_eq!(r.body["errors"][0]["message"], "is required");
    let r = app
        .post(&path, &u.token, json!({ "content": "é".repeat(32001) }))
        .await;
    assert_invalid(&r, "content");
    assert_eq!(
        r.body["errors"][0]["message"],
        "must be at most 32000 characters"
    );
    let r = app
        .post(&path, &u.token, json!({ "content": "a\u{0}b" }))
        .await;
    assert_invalid(&r, "content");
    let r = app
        .post(
            &path,
            &u.token,
            json!({ "content": "hi", "clientMessageId": "" }),
        )
        .await;
    assert_invalid(&r, "clientMessageId");
    let r = app
        .post(
            &path,
            &u.token,
            json!({ "content": "hi", "clientMessageId": "x".repeat(101) }),
        )
        .await;
    assert_invalid(&r, "clientMessageId");
    let r = app
        .post(&path, &u.token, json!({ "content": "hi", "type": "video" }))
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .post(&path, &u.token, json!({ "content": "hi", "sender": "me" }))
        .await;
    assert_invalid(&r, "sender");
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 0);

    // 32000 characters (multi-byte) are fine.
    let r = app
        .post(&path, &u.token, json!({ "content": "é".repeat(32000) }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.data()["message"]["content"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        32000
    );
}

#[actix_web::test]
async fn only_agents_and_admins_post_assistant_and_system_messages() {
    let app = TestApp::spawn().await;
    let owner = app.register("roles@example.com").await;
    let agent = app.user_with_role("agent3@example.com", "agent").await;
    let admin = app.user_with_role("admin3@example.com", "admin").await;
    let sid = id_of(&new_session(&app, &owner, "Roles").await);
    let path = messages_path(&sid);

    // A user posting assistant or system: 403.
    for role in ["assistant", "system"] {
        let r = app
            .post(
                &path,
                &owner.token,
                json!({ "content": "I am a bot", "role": role }),
            )
            .await;
        assert_forbidden(&r);
    }
    // An agent posting assistant into another user's session: 201.
    let r = app
        .post(
            &path,
            &agent.token,
            json!({ "content": "Hi, I can help", "role": "assistant" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["message"]["role"], "assistant");
    assert_eq!(r.data()["message"]["senderId"], agent.id.as_str());
    // An admin posting system: 201.
    let r = app
        .post(
            &path,
            &admin.token,
            json!({ "content": "Note", "role": "system" }),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.data()["message"]["role"], "system");
    // An agent or admin posting a user message into someone else's session: 403.
    for staff in [&agent, &admin] {
        let r = app
            .post(
                &path,
                &staff.token,
                json!({ "content": "pretending", "role": "user" }),
            )
            .await;
        assert_forbidden(&r);
        let r = app
            .post(&path, &staff.token, json!({ "content": "default role" }))
            .await;
        assert_forbidden(&r);
    }
    // In their own session an agent posts user messages.
    let own = id_of(&new_session(&app, &agent, "Agent's").await);
    post_text(&app, &agent, &own, "my own").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 3);
    let r = app
        .post(
            &path,
            &owner.token,
            json!({ "content": "x", "role": "robot" }),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn a_media_message_needs_a_medium_owned_by_the_poster() {
    let app = TestApp::spawn().await;
    let u = app.register("media@example.com").await;
    let other = app.register("media2@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Photos").await);
    let path = messages_path(&sid);
    let mine = seed_media(&app, &u.id);
    let theirs = seed_media(&app, &other.id);

    let r = app.post(&path, &u.token, json!({ "type": "media" })).await;
    assert_invalid(&r, "mediaId");
    let unknown = uuid::Uuid::now_v7().to_string();
    let r = app
        .post(
            &path,
            &u.token,
            json!({ "type": "media", "mediaId": unknown }),
        )
        .await;
    assert_not_found(&r, "Media");
    let r = app
        .post(
            &path,
            &u.token,
            json!({ "type": "media", "mediaId": theirs }),
        )
        .await;
    assert_not_found(&r, "Media");
    let r = app
        .post(
            &path,
            &u.token,
            json!({ "type": "media", "mediaId": "nope" }),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .post(
            &path,
            &u.token,
            json!({ "content": "text", "mediaId": mine }),
        )
        .await;
    assert_invalid(&r, "mediaId");

    let r = app
        .post(
            &path,
            &u.token,
            json!({ "type": "media", "mediaId": mine, "content": "my cat" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let m = &r.data()["message"];
    assert_eq!(m["type"], "media");
    assert_eq!(m["content"], "my cat");
    assert_eq!(m["media"]["id"], mine.as_str());
    assert_eq!(m["media"]["mimeType"], "image/png");
    assert_eq!(m["media"]["sizeBytes"], 1234);
    assert_eq!(m["media"]["fileName"], "cat.png");
    assert_eq!(m["media"]["sha256"], "a".repeat(64));
    assert!(is_timestamp(&m["media"]["createdAt"]));
    assert_eq!(m["media"].get("ownerId"), None);

    let r = app.get(&messages_path(&sid), &u.token).await;
    assert_eq!(r.data()["items"][0], *m);
    let r = app.get(&message_path(&id_of(m)), &u.token).await;
    assert_eq!(r.data()["message"], *m);
}

#[actix_web::test]
async fn reposting_a_client_message_id_returns_the_first_message_with_200() {
    let app = TestApp::spawn().await;
    let u = app.register("idem@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Idem").await);
    let other = id_of(&new_session(&app, &u, "Other").await);
    let body = json!({ "content": "once", "clientMessageId": "abc" });

    let first = app.post(&messages_path(&sid), &u.token, body.clone()).await;
    assert_eq!(first.status, 201);
    let again = app
        .post(
            &messages_path(&sid),
            &u.token,
            json!({ "content": "different text", "clientMessageId": "abc" }),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["message"], "Message already posted");
    assert_eq!(again.data()["message"], first.data()["message"]);
    // The same client id in another session is another message.
    let elsewhere = app.post(&messages_path(&other), &u.token, body).await;
    assert_eq!(elsewhere.status, 201);
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 2);
    let s = app.get(&session_path(&sid), &u.token).await;
    assert_eq!(s.data()["session"]["messageCount"], 1);
}

#[actix_web::test]
async fn twenty_racing_posts_with_one_client_message_id_leave_exactly_one_message() {
    let app = TestApp::spawn().await;
    let u = app.register("race@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Race").await);
    let path = messages_path(&sid);
    let body = json!({ "content": "exactly once", "clientMessageId": "race-1" });

    let replies = join_all((0..20).map(|_| app.post(&path, &u.token, body.clone()))).await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    let existing: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(existing.len(), 19);
    let id = &created[0].data()["message"]["id"];
    assert!(existing.iter().all(|r| &r.data()["message"]["id"] == id));
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 1);
    let s = app.get(&session_path(&sid), &u.token).await;
    assert_eq!(s.data()["session"]["messageCount"], 1);
    assert_eq!(
        app.count("SELECT message_seq AS n FROM chat_sessions"),
        1,
        "a rolled-back duplicate does not consume a seq"
    );
}

#[actix_web::test]
async fn concurrent_posts_to_one_session_all_land_in_order() {
    let app = TestApp::spawn().await;
    let u = app.register("burst@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Burst").await);
    let path = messages_path(&sid);
    let replies =
        join_all((0..20).map(|i| app.post(&path, &u.token, json!({ "content": format!("b{i}") }))))
            .await;
    assert!(replies.iter().all(|r| r.status == 201));
    let r = app.get(&format!("{path}?limit=200"), &u.token).await;
    let items = r.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    let created: Vec<&str> = items
        .iter()
        .map(|m| m["createdAt"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted, "page order is creation order");
    let s = app.get(&session_path(&sid), &u.token).await;
    assert_eq!(s.data()["session"]["messageCount"], 20);
}

#[actix_web::test]
async fn paging_120_messages_in_both_orders_skips_and_repeats_nothing_while_posts_arrive() {
    let app = TestApp::spawn().await;
    let u = app.register("pager@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Long").await);
    let mut posted: Vec<String> = Vec::new();
    for i in 0..120 {
        posted.push(id_of(&post_text(&app, &u, &sid, &format!("m{i}")).await));
    }

    // Oldest first: messages posted while paging show up at the end.
    let mut extra = 0;
    let asc = all_message_pages(&app, &u, &sid, "asc", async |_| {
        for _ in 0..2 {
            let m = post_text(&app, &u, &sid, &format!("late{extra}")).await;
            extra += 1;
            posted.push(id_of(&m));
        }
    })
    .await;
    let asc_ids: Vec<String> = asc.iter().map(id_of).collect();
    assert_eq!(asc_ids.len(), 124, "two pages of 50, then the rest");
    assert_eq!(asc_ids, posted, "no gap, no repeat, in posting order");

    // Newest first: what is posted meanwhile is newer than the first page.
    let before: Vec<String> = posted.iter().rev().cloned().collect();
    let desc = all_message_pages(&app, &u, &sid, "desc", async |_| {
        post_text(&app, &u, &sid, "newer").await;
    })
    .await;
    let desc_ids: Vec<String> = desc.iter().map(id_of).collect();
    assert_eq!(desc_ids, before);
    let unique: HashSet<&String> = desc_ids.iter().collect();
    assert_eq!(unique.len(), desc_ids.len());
}

#[actix_web::test]
async fn message_list_queries_are_validated() {
    let app = TestApp::spawn().await;
    let u = app.register("mq@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Q").await);
    let other = id_of(&new_session(&app, &u, "Other").await);
    for i in 0..3 {
        post_text(&app, &u, &sid, &format!("q{i}")).await;
        post_text(&app, &u, &other, &format!("o{i}")).await;
    }
    let path = messages_path(&sid);

    let r = app.get(&format!("{path}?order=sideways"), &u.token).await;
    assert_invalid(&r, "order");
    assert_invalid(
        &app.get(&format!("{path}?limit=0"), &u.token).await,
        "limit",
    );
    assert_invalid(
        &app.get(&format!("{path}?limit=201"), &u.token).await,
        "limit",
    );
    let r = app.get(&format!("{path}?limit=200"), &u.token).await;
    assert_eq!(r.status, 200);
    let r = app.get(&format!("{path}?limit=abc"), &u.token).await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    let r = app.get(&format!("{path}?page=2"), &u.token).await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    assert_invalid(
        &app.get(&format!("{path}?cursor=%%%"), &u.token).await,
        "cursor",
    );
    assert_invalid(
        &app.get(&format!("{path}?cursor=bm9wZQ"), &u.token).await,
        "cursor",
    );

    // A valid cursor, tampered with.
    let r = app.get(&format!("{path}?limit=1"), &u.token).await;
    let cursor = r.data()["nextCursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_invalid(
        &app.get(&format!("{path}?cursor={tampered}"), &u.token)
            .await,
        "cursor",
    );
    // From another session, or the other order: refused.
    let r = app
        .get(&format!("{}?limit=1", messages_path(&other)), &u.token)
        .await;
    let foreign = r.data()["nextCursor"].as_str().unwrap().to_owned();
    assert_invalid(
        &app.get(&format!("{path}?cursor={foreign}"), &u.token).await,
        "cursor",
    );
    assert_invalid(
        &app.get(&format!("{path}?cursor={cursor}&order=desc"), &u.token)
            .await,
        "cursor",
    );
    // The real one works.
    let r = app.get(&format!("{path}?cursor={cursor}"), &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["items"][0]["content"], "q1");
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 2);
    assert_eq!(r.data()["nextCursor"], Value::Null);
}

#[actix_web::test]
async fn an_empty_session_has_an_empty_page() {
    let app = TestApp::spawn().await;
    let u = app.register("empty@example.com").await;
    let sid = id_of(&new_session(&app, &u, "Empty").await);
    for order in ["asc", "desc"] {
        let r = app
            .get(&format!("{}?order={order}", messages_path(&sid)), &u.token)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.data(), &json!({ "items": [], "nextCursor": null }));
    }
}

#[actix_web::test]
async fn a_message_is_deleted_by_its_sender_the_session_owner_or_an_admin() {
    let app = TestApp::spawn().await;
    let owner = app.register("delowner@example.com").await;
    let agent = app.user_with_role("delagent@example.com", "agent").await;
    let agent2 = app.user_with_role("delagent2@example.com", "agent").await;
    let admin = app.user_with_role("deladmin@example.com", "admin").await;
    let sid = id_of(&new_session(&app, &owner, "Del").await);
    let path = messages_path(&sid);
    let by_owner = id_of(&post_text(&app, &owner, &sid, "one").await);
    let by_owner2 = id_of(&post_text(&app, &owner, &sid, "two").await);
    let post_as = async |who: &TestUser| {
        let r = app
            .post(
                &path,
                &who.token,
                json!({ "content": "bot", "role": "assistant" }),
            )
            .await;
        assert_eq!(r.status, 201);
        id_of(&r.data()["message"])
    };
    let by_agent = post_as(&agent).await;
    let by_agent_b = post_as(&agent).await;
    assert_eq!(
        app.get(&session_path(&sid), &owner.token).await.data()["session"]["messageCount"],
        4
    );

    // An agent who can read it, but neither sent it nor owns the session: 403.
    assert_forbidden(&app.delete(&message_path(&by_owner), &agent.token).await);
    assert_forbidden(&app.delete(&message_path(&by_agent), &agent2.token).await);

    // The sender.
    let r = app.delete(&message_path(&by_agent), &agent.token).await;
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "Message deleted", "data": null })
    );
    // The session owner deletes someone else's message in their session.
    assert_eq!(
        app.delete(&message_path(&by_agent_b), &owner.token)
            .await
            .status,
        200
    );
    // An admin.
    assert_eq!(
        app.delete(&message_path(&by_owner), &admin.token)
            .await
            .status,
        200
    );

    assert_not_found(
        &app.get(&message_path(&by_owner), &owner.token).await,
        "Message",
    );
    assert_not_found(
        &app.delete(&message_path(&by_owner), &owner.token).await,
        "Message",
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM messages"), 1);
    let s = app.get(&session_path(&sid), &owner.token).await;
    assert_eq!(s.data()["session"]["messageCount"], 1);
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.data()["items"][0]["id"], by_owner2.as_str());
}

// ------------------------------------------------------------------ plans

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

#[actix_web::test]
async fn the_message_page_query_is_served_by_the_session_seq_index() {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Nullable, Uuid};

    let app = TestApp::spawn().await;
    let u = app.register("plan@example.com").await;
    let mut sessions = Vec::new();
    for i in 0..20 {
        sessions.push(id_of(&new_session(&app, &u, &format!("s{i}")).await));
    }
    for s in &sessions {
        app.sql(&format!(
            "INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content) \
             SELECT gen_random_uuid(), '{s}', g, '{}', 'user', 'text', 'message ' || g \
             FROM generate_series(1, 500) g",
            u.id
        ));
        app.sql(&format!(
            "UPDATE chat_sessions SET message_seq = 500, message_count = 500 WHERE id = '{s}'"
        ));
    }
    app.sql("ANALYZE chat_sessions");
    app.sql("ANALYZE messages");

    let session = uuid::Uuid::parse_str(&sessions[7]).unwrap();
    let owner = uuid::Uuid::parse_str(&u.id).unwrap();
    let mut conn = app.db.conn();
    for (sql, after) in [
        (store::PgStore::MESSAGE_PAGE_ASC_SQL, 0_i64),
        (store::PgStore::MESSAGE_PAGE_ASC_SQL, 250),
        (store::PgStore::MESSAGE_PAGE_DESC_SQL, i64::MAX),
        (store::PgStore::MESSAGE_PAGE_DESC_SQL, 250),
    ] {
        for who in [Some(owner), None] {
            let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {sql}"))
                .bind::<Uuid, _>(session)
                .bind::<Nullable<Uuid>, _>(who)
                .bind::<BigInt, _>(after)
                .bind::<BigInt, _>(51_i64)
                .load(&mut conn)
                .unwrap();
            let text = plan
                .into_iter()
                .map(|p| p.line)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                text.contains("Index Scan using messages_session_seq_key")
                    || text.contains("Index Scan Backward using messages_session_seq_key")
                    || text.contains("Index Only Scan using messages_session_seq_key"),
                "the page must use messages_session_seq_key:\n{text}"
            );
        }
    }

    // And the page it serves is right. (A client of its own: the seeding
    // above held this thread long enough for the shared client's pooled
    // connection to be closed under it.)
    let mut res = awc::Client::default()
        .get(app.url(&format!(
            "{}?limit=3&order=desc",
            messages_path(&sessions[7])
        )))
        .insert_header(("Authorization", format!("Bearer {}", u.token)))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().limit(1 << 20).await.unwrap();
    let contents: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["message 500", "message 499", "message 498"]);
}
