//! Contract §3.2: the caller's profile and password, and user administration.

use crate::helpers::TestApp;
use awc::http::Method;
use serde_json::json;

const ME: &str = "/api/v1/users/me";

#[actix_web::test]
async fn a_user_reads_and_renames_themself() {
    let app = TestApp::spawn().await;
    let u = app.register("prof@example.com").await;
    let r = app.get(ME, &u.token).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (200, Some("Current user"))
    );
    assert_eq!(r.data()["user"]["name"], "Test User");
    let r = app
        .patch(ME, &u.token, json!({ "name": "  New Name " }))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Profile updated");
    assert_eq!(r.data()["user"]["name"], "New Name");
    assert_ne!(r.data()["user"]["updatedAt"], r.data()["user"]["createdAt"]);
}

#[actix_web::test]
async fn a_profile_update_refuses_role_and_unknown_fields_and_bad_names() {
    let app = TestApp::spawn().await;
    let u = app.register("prof2@example.com").await;
    let r = app.patch(ME, &u.token, json!({ "role": "admin" })).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "role", "message": "is not allowed" } ])
    );
    let r = app.patch(ME, &u.token, json!({ "name": " " })).await;
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "name", "message": "must not be empty" } ])
    );
    let r = app
        .patch(ME, &u.token, json!({ "name": "x".repeat(101) }))
        .await;
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "name", "message": "must be at most 100 characters" } ])
    );
    assert_eq!(app.get(ME, &u.token).await.data()["user"]["role"], "user");
}

#[actix_web::test]
async fn changing_the_password_revokes_every_other_login_session() {
    let app = TestApp::spawn().await;
    let u = app.register("pw@example.com").await;
    let other = app.login("pw@example.com", "password123").await;
    let r = app
        .put(
            "/api/v1/users/me/password",
            &u.token,
            json!({ "currentPassword": "password123", "newPassword": "new-password-1" }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "Password changed", "data": null })
    );
    assert_eq!(
        app.get(ME, &u.token).await.status,
        200,
        "the caller's own session stays"
    );
    assert_eq!(app.get(ME, &other.token).await.code(), "SESSION_REVOKED");
    assert_eq!(
        app.anon_post(
            "/api/v1/auth/login",
            json!({ "email": "pw@example.com", "password": "password123" })
        )
        .await
        .status,
        401
    );
    app.login("pw@example.com", "new-password-1").await;
}

#[actix_web::test]
async fn changing_the_password_needs_the_current_one_and_a_valid_new_one() {
    let app = TestApp::spawn().await;
    let u = app.register("pw2@example.com").await;
    let r = app
        .put(
            "/api/v1/users/me/password",
            &u.token,
            json!({ "currentPassword": "wrong", "newPassword": "new-password-1" }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "currentPassword", "message": "is incorrect" } ])
    );
    let r = app
        .put(
            "/api/v1/users/me/password",
            &u.token,
            json!({ "currentPassword": "password123", "newPassword": "short" }),
        )
        .await;
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "newPassword", "message": "must be at least 8 characters" } ])
    );
}

#[actix_web::test]
async fn a_user_may_not_use_the_admin_routes() {
    let app = TestApp::spawn().await;
    let u = app.register("plain@example.com").await;
    let expected = json!({ "status": "error", "message": "You do not have permission to do this", "code": "FORBIDDEN" });
    let id = &u.id;
    for (method, path) in [
        (Method::GET, "/api/v1/users".to_owned()),
        (Method::GET, format!("/api/v1/users/{id}")),
        (Method::DELETE, format!("/api/v1/users/{id}")),
        (Method::DELETE, format!("/api/v1/users/{id}/sessions")),
    ] {
        let r = app.call(method, &path, Some(&u.token), None).await;
        assert_eq!((r.status, &r.body), (403, &expected), "{path}");
    }
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &u.token,
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[actix_web::test]
async fn an_admin_lists_users_newest_first_with_filters_and_cursor_pages() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    for i in 0..5 {
        app.register(&format!("user{i}@example.com")).await;
    }
    app.user_with_role("agent@example.com", "agent").await;

    let r = app.get("/api/v1/users?limit=4", &admin.token).await;
    assert_eq!(r.status, 200);
    let emails = |r: &crate::helpers::Reply| -> Vec<String> {
        r.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        emails(&r),
        [
            "agent@example.com",
            "user4@example.com",
            "user3@example.com",
            "user2@example.com"
        ]
    );
    let cursor = r.data()["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(
            &format!("/api/v1/users?limit=4&cursor={cursor}"),
            &admin.token,
        )
        .await;
    assert_eq!(
        emails(&r),
        ["user1@example.com", "user0@example.com", "boss@example.com"]
    );
    assert_eq!(r.data()["nextCursor"], serde_json::Value::Null);

    let r = app.get("/api/v1/users?role=agent", &admin.token).await;
    assert_eq!(emails(&r), ["agent@example.com"]);
    let r = app.get("/api/v1/users?q=USER3", &admin.token).await;
    assert_eq!(emails(&r), ["user3@example.com"]);
    let r = app.get("/api/v1/users?q=%25", &admin.token).await;
    assert_eq!(emails(&r), Vec::<String>::new(), "% is matched literally");

    for bad in [
        "limit=0",
        "limit=201",
        "cursor=garbage",
        "role=owner",
        "sort=name",
    ] {
        let r = app.get(&format!("/api/v1/users?{bad}"), &admin.token).await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{bad}");
    }
}

#[actix_web::test]
async fn an_admin_reads_and_updates_a_user() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    let u = app.register("target@example.com").await;
    let r = app
        .get(&format!("/api/v1/users/{}", u.id), &admin.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["user"]["email"], "target@example.com");
    let r = app
        .patch(
            &format!("/api/v1/users/{}", u.id),
            &admin.token,
            json!({ "name": "Renamed", "role": "agent" }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            r.data()["user"]["name"].as_str(),
            r.data()["user"]["role"].as_str()
        ),
        (Some("Renamed"), Some("agent"))
    );
    let missing = app
        .get(
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            &admin.token,
        )
        .await;
    assert_eq!(
        missing.body,
        json!({ "status": "error", "message": "User not found", "code": "NOT_FOUND" })
    );
    let r = app
        .patch(
            &format!("/api/v1/users/{}", u.id),
            &admin.token,
            json!({ "role": "root" }),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn a_role_change_takes_effect_on_tokens_already_issued() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    let u = app.register("promoted@example.com").await;
    assert_eq!(app.get("/api/v1/users", &u.token).await.status, 403);
    app.patch(
        &format!("/api/v1/users/{}", u.id),
        &admin.token,
        json!({ "role": "admin" }),
    )
    .await;
    assert_eq!(
        app.get("/api/v1/users", &u.token).await.status,
        200,
        "same token, new role"
    );
    app.patch(
        &format!("/api/v1/users/{}", u.id),
        &admin.token,
        json!({ "role": "user" }),
    )
    .await;
    assert_eq!(app.get("/api/v1/users", &u.token).await.status, 403);
}

#[actix_web::test]
async fn deactivating_a_user_revokes_their_login_sessions_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    let u = app.register("deact@example.com").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", u.id),
            &admin.token,
            json!({ "isActive": false }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["user"]["isActive"], false);
    assert_eq!(app.get(ME, &u.token).await.code(), "SESSION_REVOKED");
    assert_eq!(
        app.anon_post("/api/v1/auth/refresh", json!({ "refreshToken": u.refresh }))
            .await
            .status,
        401
    );
    let r = app
        .anon_post(
            "/api/v1/auth/login",
            json!({ "email": "deact@example.com", "password": "password123" }),
        )
        .await;
    assert_eq!(r.code(), "INVALID_CREDENTIALS");
}

#[actix_web::test]
async fn deleting_a_user_removes_everything_they_own_and_ends_their_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    let u = app.register("gone@example.com").await;
    let r = app
        .delete(&format!("/api/v1/users/{}", u.id), &admin.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "User deleted", "data": null })
    );
    assert_eq!(app.get(ME, &u.token).await.code(), "SESSION_REVOKED");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM login_sessions WHERE user_id = '{}'",
            u.id
        )),
        0
    );
    assert_eq!(
        app.delete(&format!("/api/v1/users/{}", u.id), &admin.token)
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn an_admin_cannot_demote_deactivate_or_delete_themself() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    let path = format!("/api/v1/users/{}", admin.id);
    let demote = app
        .patch(&path, &admin.token, json!({ "role": "user" }))
        .await;
    assert_eq!(
        demote.body,
        json!({ "status": "error", "message": "An admin cannot demote themself", "code": "CONFLICT" })
    );
    let deactivate = app
        .patch(&path, &admin.token, json!({ "isActive": false }))
        .await;
    assert_eq!((deactivate.status, deactivate.code()), (409, "CONFLICT"));
    let delete = app.delete(&path, &admin.token).await;
    assert_eq!(
        delete.body,
        json!({ "status": "error", "message": "An admin cannot delete themself", "code": "CONFLICT" })
    );
    assert_eq!(
        app.get(ME, &admin.token).await.data()["user"]["role"],
        "admin"
    );
}

#[actix_web::test]
async fn an_admin_ends_every_login_session_of_a_user() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("boss@example.com", "admin").await;
    let u = app.register("ended@example.com").await;
    app.login("ended@example.com", "password123").await;
    let r = app
        .delete(&format!("/api/v1/users/{}/sessions", u.id), &admin.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!({ "revoked": 2 }));
    assert_eq!(app.get(ME, &u.token).await.code(), "SESSION_REVOKED");
    let missing = app
        .delete(
            &format!("/api/v1/users/{}/sessions", uuid::Uuid::now_v7()),
            &admin.token,
        )
        .await;
    assert_eq!(missing.status, 404);
}
