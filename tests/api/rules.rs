//! Rules that cut across the contexts: bcrypt's 72-byte limit everywhere a
//! password enters, tamper-evident cursors on every paged list (§3.10), and
//! authorization before parsing (a bad body on a chat session the caller may
//! not read is `404`, in every context).

use crate::helpers::{Reply, TestApp, TestUser};
use awc::http::Method;
use serde_json::{Value, json};

fn assert_bad_cursor(r: &Reply, what: &str) {
    assert_eq!(r.status, 400, "{what}: {:?}", r.body);
    assert_eq!(
        r.body,
        json!({
            "status": "error", "message": "Validation failed", "code": "VALIDATION_ERROR",
            "errors": [ { "field": "cursor", "message": "is not a valid cursor for this list" } ]
        }),
        "{what}"
    );
}

/// The cursor with one character in its middle changed, one cut off, one added.
fn altered(cursor: &str) -> Vec<(String, String)> {
    let mid = cursor.len() / 2;
    let mut changed = cursor.as_bytes().to_vec();
    changed[mid] = if changed[mid] == b'A' { b'B' } else { b'A' };
    vec![
        (
            "altered".into(),
            String::from_utf8(changed).unwrap_or_default(),
        ),
        ("truncated".into(), cursor[..cursor.len() - 1].to_owned()),
        ("extended".into(), format!("{cursor}A")),
        ("first byte".into(), format!("B{}", &cursor[1..])),
    ]
}

fn next_cursor(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned()
}

async fn session(app: &TestApp, user: &TestUser, title: &str) -> String {
    let r = app
        .post("/api/v1/sessions", &user.token, json!({ "title": title }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["session"]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_password_over_72_bytes_never_logs_in_even_when_its_first_72_are_right() {
    let app = TestApp::spawn().await;
    let password = "p".repeat(72);
    let r = app
        .anon_post(
            "/api/v1/auth/register",
            json!({ "email": "seventy@example.com", "password": password, "name": "S" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let wrong = app
        .anon_post(
            "/api/v1/auth/login",
            json!({ "email": "seventy@example.com", "password": "q".repeat(72) }),
        )
        .await;
    let longer = app
        .anon_post(
            "/api/v1/auth/login",
            json!({ "email": "seventy@example.com", "password": format!("{password}X") }),
        )
        .await;
    assert_eq!(longer.status, 401);
    assert_eq!(longer.code(), "INVALID_CREDENTIALS");
    assert_eq!(
        longer.body, wrong.body,
        "the same answer as a wrong password"
    );
    app.login("seventy@example.com", &password).await;
}

#[actix_web::test]
async fn a_new_password_over_72_bytes_is_refused_by_register_and_password_change() {
    let app = TestApp::spawn().await;
    let too_long = "p".repeat(73);
    let expected =
        json!([ { "field": "password", "message": "must be at most 72 bytes in UTF-8" } ]);
    let r = app
        .anon_post(
            "/api/v1/auth/register",
            json!({ "email": "long@example.com", "password": too_long, "name": "L" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(r.body["errors"], expected);

    let user = app.register("change@example.com").await;
    let r = app
        .put(
            "/api/v1/users/me/password",
            &user.token,
            json!({ "currentPassword": "password123", "newPassword": too_long }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "newPassword", "message": "must be at most 72 bytes in UTF-8" } ])
    );
    // A current password over 72 bytes is an incorrect one, not a truncated match.
    let r = app
        .put(
            "/api/v1/users/me/password",
            &user.token,
            json!({ "currentPassword": "password123".to_owned() + &"x".repeat(70), "newPassword": "new-password-1" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
}

#[test]
fn create_admin_refuses_a_password_over_72_bytes() {
    let db = testkit::TestDb::new();
    let env = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", db.url()),
        ("DEALROOM_ADMIN_PASSWORD", &"p".repeat(73)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let cmd = server::cli::parse(
        &["create-admin", "--email", "a@b.co", "--name", "A"].map(str::to_owned),
    )
    .unwrap();
    let err = server::cli::run(cmd, &env, &mut std::io::empty(), &mut Vec::new())
        .err()
        .map(|f| f.message);
    assert_eq!(
        err.as_deref(),
        Some("password must be at most 72 bytes in UTF-8")
    );
}

#[actix_web::test]
async fn every_change_to_a_session_list_cursor_is_refused() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    for i in 0..3 {
        session(&app, &ann, &format!("s{i}")).await;
    }
    let cursor = next_cursor(&app.get("/api/v1/sessions?limit=1", &ann.token).await);
    assert!(cursor.len() <= 64, "cursors stay short: {cursor}");
    for (what, bad) in altered(&cursor) {
        let r = app
            .get(
                &format!("/api/v1/sessions?limit=1&cursor={bad}"),
                &ann.token,
            )
            .await;
        assert_bad_cursor(&r, &what);
    }
    // The good one still works.
    let r = app
        .get(
            &format!("/api/v1/sessions?limit=1&cursor={cursor}"),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn a_session_list_cursor_is_good_for_its_own_user_only() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    for i in 0..2 {
        session(&app, &ann, &format!("a{i}")).await;
        session(&app, &bob, &format!("b{i}")).await;
    }
    let anns = next_cursor(&app.get("/api/v1/sessions?limit=1", &ann.token).await);
    let r = app
        .get(
            &format!("/api/v1/sessions?limit=1&cursor={anns}"),
            &bob.token,
        )
        .await;
    assert_bad_cursor(&r, "another user's cursor");
}

#[actix_web::test]
async fn every_change_to_a_message_page_cursor_is_refused_and_cursors_do_not_cross_lists() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let s1 = session(&app, &ann, "one").await;
    let s2 = session(&app, &ann, "two").await;
    for s in [&s1, &s2] {
        for i in 0..3 {
            let r = app
                .post(
                    &format!("/api/v1/sessions/{s}/messages"),
                    &ann.token,
                    json!({ "content": format!("m{i}") }),
                )
                .await;
            assert_eq!(r.status, 201);
        }
    }
    let page = |s: &str, q: &str| format!("/api/v1/sessions/{s}/messages?limit=1{q}");
    let cursor = next_cursor(&app.get(&page(&s1, ""), &ann.token).await);
    for (what, bad) in altered(&cursor) {
        let r = app
            .get(&page(&s1, &format!("&cursor={bad}")), &ann.token)
            .await;
        assert_bad_cursor(&r, &what);
    }
    // Another session's list, the other order, another list altogether.
    let r = app
        .get(&page(&s2, &format!("&cursor={cursor}")), &ann.token)
        .await;
    assert_bad_cursor(&r, "another session's cursor");
    let r = app
        .get(
            &page(&s1, &format!("&order=desc&cursor={cursor}")),
            &ann.token,
        )
        .await;
    assert_bad_cursor(&r, "the other order's cursor");
    let sessions_cursor = next_cursor(&app.get("/api/v1/sessions?limit=1", &ann.token).await);
    let r = app
        .get(
            &page(&s1, &format!("&cursor={sessions_cursor}")),
            &ann.token,
        )
        .await;
    assert_bad_cursor(&r, "a session list's cursor");
    let r = app
        .get(
            &format!("/api/v1/sessions?limit=1&cursor={cursor}"),
            &ann.token,
        )
        .await;
    assert_bad_cursor(&r, "a message page's cursor on the session list");
}

#[actix_web::test]
async fn every_change_to_a_user_list_cursor_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    app.register("u1@example.com").await;
    app.register("u2@example.com").await;
    let cursor = next_cursor(&app.get("/api/v1/users?limit=1", &admin.token).await);
    for (what, bad) in altered(&cursor) {
        let r = app
            .get(&format!("/api/v1/users?limit=1&cursor={bad}"), &admin.token)
            .await;
        assert_bad_cursor(&r, &what);
    }
    let sessions = {
        session(&app, &admin, "a").await;
        session(&app, &admin, "b").await;
        next_cursor(&app.get("/api/v1/sessions?limit=1", &admin.token).await)
    };
    let r = app
        .get(
            &format!("/api/v1/users?limit=1&cursor={sessions}"),
            &admin.token,
        )
        .await;
    assert_bad_cursor(&r, "a session list's cursor on the user list");
}

/// A body that fails validation in every context that takes one.
fn bad(path: &str) -> Value {
    match path {
        p if p.ends_with("/messages") => json!({ "content": "" }),
        p if p.ends_with("/vendor") => json!({ "name": "" }),
        p if p.ends_with("/sellers") => json!({ "name": "" }),
        _ => json!({ "title": "" }),
    }
}

#[actix_web::test]
async fn a_bad_body_on_someone_elses_chat_session_is_not_found_in_every_context() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let s = session(&app, &ann, "Ann's").await;
    for (method, path) in [
        (Method::POST, format!("/api/v1/sessions/{s}/messages")),
        (Method::PATCH, format!("/api/v1/sessions/{s}")),
        (Method::POST, format!("/api/v1/sessions/{s}/vendor")),
        (Method::POST, format!("/api/v1/sessions/{s}/sellers")),
    ] {
        let body = bad(&path);
        let r = app
            .call(method.clone(), &path, Some(&bob.token), Some(body.clone()))
            .await;
        assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "{method} {path}");
        // …while the owner, with the same body, learns what is wrong with it.
        let r = app
            .call(method.clone(), &path, Some(&ann.token), Some(body))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "VALIDATION_ERROR"),
            "{method} {path}"
        );
    }
    let r = app
        .get(
            &format!("/api/v1/sessions/{s}/messages?limit=0"),
            &bob.token,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "a bad query too");
    let r = app
        .get(
            &format!("/api/v1/sessions/{s}/sellers?sort=nope"),
            &bob.token,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"), "a bad query too");
}

#[actix_web::test]
async fn logout_all_counts_the_live_login_sessions_it_ended_not_expired_ones() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let other = app.login("ann@example.com", "password123").await;
    let expired = app.login("ann@example.com", "password123").await;
    app.sql(&format!(
        "UPDATE login_sessions SET expires_at = created_at + interval '1 millisecond' WHERE id = '{}'",
        expired.session_id
    ));
    let listed = app.get("/api/v1/auth/sessions", &ann.token).await;
    assert_eq!(listed.data()["items"].as_array().map(Vec::len), Some(2));
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&ann.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!({ "revoked": 2 }), "{:?}", r.body);
    let _ = other;
}
