//! Contract §2 and §3.1: register, login, refresh rotation, logout, login sessions,
//! and the access-token rules.

use crate::helpers::{TestApp, is_timestamp};
use awc::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::join_all;
use serde_json::{Value, json};

const REGISTER: &str = "/api/v1/auth/register";
const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const ME: &str = "/api/v1/auth/me";

fn register_body(email: &str, password: &str, name: &str) -> Value {
    json!({ "email": email, "password": password, "name": name })
}

#[actix_web::test]
async fn register_creates_a_user_with_tokens_and_a_login_session() {
    let app = TestApp::spawn().await;
    let r = app
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(json!({ "email": "  Ann@Example.COM ", "password": "password123", "name": " Ann ", "deviceName": "Laptop" })),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["message"], "User registered");
    let d = r.data();
    let user = &d["user"];
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["name"], "Ann");
    assert_eq!(user["role"], "user");
    assert_eq!(user["isActive"], true);
    assert_eq!(user["lastLoginAt"], Value::Null);
    assert!(is_timestamp(&user["createdAt"]) && is_timestamp(&user["updatedAt"]));
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "email",
            "id",
            "isActive",
            "lastLoginAt",
            "name",
            "role",
            "updatedAt"
        ]
    );
    assert_eq!(d["tokens"]["tokenType"], "Bearer");
    assert_eq!(d["tokens"]["expiresIn"], 86_400);
    assert!(
        d["tokens"]["refreshToken"].as_str().unwrap().len() >= 43,
        "at least 256 bits"
    );
    let s = &d["loginSession"];
    assert_eq!(s["deviceName"], "Laptop");
    assert_eq!(s["current"], true);
    assert_eq!(s["ipAddress"], "127.0.0.1");
    assert!(is_timestamp(&s["expiresAt"]));
    // Nothing secret is stored in the clear or answered.
    let text = r.body.to_string();
    assert!(!text.contains("password_hash") && !text.contains("$2b$"));
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM login_sessions WHERE octet_length(refresh_token_hash) = 32"
        ),
        1
    );
}

#[actix_web::test]
async fn register_with_a_taken_email_in_any_case_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.register("taken@example.com").await;
    let r = app
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(register_body("TAKEN@example.com", "password123", "B")),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Email is already registered", "code": "CONFLICT" })
    );
}

#[actix_web::test]
async fn register_refuses_a_role_in_the_body() {
    let app = TestApp::spawn().await;
    let mut body = register_body("role@example.com", "password123", "R");
    body["role"] = json!("admin");
    let r = app.call(Method::POST, REGISTER, None, Some(body)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "role", "message": "is not allowed" } ])
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM users"), 0);
}

#[actix_web::test]
async fn register_validates_every_field() {
    let app = TestApp::spawn().await;
    let r = app
        .call(Method::POST, REGISTER, None, Some(json!({})))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "VALIDATION_ERROR");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "name", "password"]);

    let cases = [
        (
            register_body("not-an-email", "password123", "A"),
            "email",
            "must be a valid email address",
        ),
        (
            register_body(
                &format!(
                    "{}@{}.{}.{}.com",
                    "a".repeat(64),
                    "b".repeat(63),
                    "c".repeat(63),
                    "d".repeat(60)
                ),
                "password123",
                "A",
            ),
            "email",
            "must be at most 254 characters",
        ),
        (
            register_body("a@example.com", "short77", "A"),
            "password",
            "must be at least 8 characters",
        ),
        (
            register_body("a@example.com", &"p".repeat(129), "A"),
            "password",
            "must be at most 72 bytes in UTF-8",
        ),
        (
            register_body("a@example.com", "password123", "   "),
            "name",
            "must not be empty",
        ),
        (
            register_body("a@example.com", "password123", &"n".repeat(101)),
            "name",
            "must be at most 100 characters",
        ),
    ];
    for (body, field, message) in cases {
        let r = app.call(Method::POST, REGISTER, None, Some(body)).await;
        assert_eq!(r.status, 400, "{field}");
        assert_eq!(
            r.body["errors"],
            json!([ { "field": field, "message": message } ]),
            "{field}"
        );
    }
    // The bounds themselves are accepted.
    let ok = app
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(register_body("b@example.com", "pass1234", &"n".repeat(100))),
        )
        .await;
    assert_eq!(ok.status, 201);
}

#[actix_web::test]
async fn a_password_over_72_bytes_is_refused_never_truncated_even_under_128_characters() {
    let app = TestApp::spawn().await;
    // 37 two-byte characters: 37 characters, 74 bytes.
    let long = "é".repeat(37);
    let r = app
        .call(
            Method::POST,
            REGISTER,
            None,
            Some(register_body("mb@example.com", &long, "M")),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"],
        json!([ { "field": "password", "message": "must be at most 72 bytes in UTF-8" } ])
    );
    // 36 of them (72 bytes) are fine, and logging in needs all 72 bytes.
    let exact = "é".repeat(36);
    assert_eq!(
        app.call(
            Method::POST,
            REGISTER,
            None,
            Some(register_body("mb@example.com", &exact, "M"))
        )
        .await
        .status,
        201
    );
    let truncated = "é".repeat(35);
    let r = app
        .anon_post(
            LOGIN,
            json!({ "email": "mb@example.com", "password": truncated }),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn login_records_device_user_agent_and_ip_and_stamps_last_login() {
    let app = TestApp::spawn().await;
    app.register("login@example.com").await;
    let mut res = app
        .client
        .post(app.url(LOGIN))
        .insert_header(("User-Agent", "DealroomTest/1.0"))
        .send_json(&json!({ "email": "LOGIN@example.com", "password": "password123", "deviceName": "Phone" }))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Logged in");
    let d = &body["data"];
    assert!(is_timestamp(&d["user"]["lastLoginAt"]));
    assert_eq!(d["loginSession"]["deviceName"], "Phone");
    assert_eq!(d["loginSession"]["userAgent"], "DealroomTest/1.0");
    assert_eq!(d["loginSession"]["ipAddress"], "127.0.0.1");
    assert_eq!(d["loginSession"]["current"], true);
}

#[actix_web::test]
async fn wrong_password_unknown_email_and_inactive_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let u = app.register("who@example.com").await;
    let expected = json!({ "status": "error", "message": "Invalid email or password", "code": "INVALID_CREDENTIALS" });
    let wrong = app
        .anon_post(
            LOGIN,
            json!({ "email": "who@example.com", "password": "wrong-password" }),
        )
        .await;
    let unknown = app
        .anon_post(
            LOGIN,
            json!({ "email": "nobody@example.com", "password": "password123" }),
        )
        .await;
    app.sql(&format!(
        "UPDATE users SET is_active = false WHERE id = '{}'",
        u.id
    ));
    let inactive = app
        .anon_post(
            LOGIN,
            json!({ "email": "who@example.com", "password": "password123" }),
        )
        .await;
    for r in [wrong, unknown, inactive] {
        assert_eq!(r.status, 401);
        assert_eq!(r.body, expected);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
}

#[actix_web::test]
async fn me_answers_the_current_user() {
    let app = TestApp::spawn().await;
    let u = app.register("me@example.com").await;
    let r = app.get(ME, &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["user"]["id"], u.id.as_str());
    assert_eq!(r.data()["user"]["email"], "me@example.com");
}

#[actix_web::test]
async fn a_missing_or_malformed_authorization_header_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let none = app.call(Method::GET, ME, None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.body,
        json!({ "status": "error", "message": "Authentication required", "code": "UNAUTHENTICATED" })
    );
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let mut res = app
        .client
        .get(app.url(ME))
        .insert_header(("Authorization", "Basic abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHENTICATED");
    let r = app.get(ME, "not.a.jwt").await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
}

/// A token with the given header and claims, signed with HMAC-SHA256 under `secret`
/// (or unsigned when `secret` is None).
fn forge(header: Value, claims: &Value, secret: Option<&str>) -> String {
    use hmac_sha256::sign;
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{c}");
    match secret {
        Some(s) => format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(sign(s.as_bytes(), input.as_bytes()))
        ),
        None => format!("{input}."),
    }
}

/// HMAC-SHA256 from sha2, enough to forge test tokens.
mod hmac_sha256 {
    use sha2::{Digest, Sha256};

    pub fn sign(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(msg)
            .finalize();
        Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize()
            .to_vec()
    }
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

const SECRET: &str = "test-only-secret-at-least-32-bytes-long";

#[actix_web::test]
async fn an_access_token_carries_the_contract_claims_and_a_correct_forgery_is_accepted() {
    let app = TestApp::spawn().await;
    let u = app.register("claims@example.com").await;
    let claims = claims_of(&u.token);
    assert_eq!(claims["sub"], u.id.as_str());
    assert_eq!(claims["sid"], u.session_id.as_str());
    assert_eq!(claims["role"], "user");
    assert!(claims["iat"].is_i64() && claims["exp"].is_i64() && claims["jti"].is_string());
    // Our own signer agrees with the server's: the forgery tests below mean something.
    let resigned = forge(
        json!({ "alg": "HS256", "typ": "JWT" }),
        &claims,
        Some(SECRET),
    );
    assert_eq!(app.get(ME, &resigned).await.status, 200);
}

#[actix_web::test]
async fn forged_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let u = app.register("forge@example.com").await;
    let claims = claims_of(&u.token);
    let mut admin = claims.clone();
    admin["role"] = json!("admin");
    let tampered = {
        let mut parts: Vec<String> = u.token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(admin.to_string());
        parts.join(".")
    };
    let cases = [
        (
            "alg none",
            forge(json!({ "alg": "none", "typ": "JWT" }), &claims, None),
        ),
        (
            "HS512",
            forge(
                json!({ "alg": "HS512", "typ": "JWT" }),
                &claims,
                Some(SECRET),
            ),
        ),
        (
            "wrong secret",
            forge(
                json!({ "alg": "HS256", "typ": "JWT" }),
                &claims,
                Some("another-secret-of-at-least-32-bytes!!"),
            ),
        ),
        ("tampered payload", tampered),
    ];
    for (what, token) in cases {
        let r = app.get(ME, &token).await;
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(r.code(), "UNAUTHENTICATED", "{what}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}");
    }
}

#[actix_web::test]
async fn an_expired_token_is_token_expired() {
    let app = TestApp::spawn().await;
    let u = app.register("old@example.com").await;
    let mut claims = claims_of(&u.token);
    let now = claims["iat"].as_i64().unwrap();
    claims["iat"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    let token = forge(
        json!({ "alg": "HS256", "typ": "JWT" }),
        &claims,
        Some(SECRET),
    );
    let r = app.get(ME, &token).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Access token expired", "code": "TOKEN_EXPIRED" })
    );
}

#[actix_web::test]
async fn logout_revokes_the_login_session_at_once() {
    let app = TestApp::spawn().await;
    let u = app.register("out@example.com").await;
    let other = app.login("out@example.com", "password123").await;
    let r = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&u.token), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "Logged out", "data": null })
    );
    let again = app.get(ME, &u.token).await;
    assert_eq!(again.status, 401);
    assert_eq!(
        again.body,
        json!({ "status": "error", "message": "Session has been revoked", "code": "SESSION_REVOKED" })
    );
    assert_eq!(
        app.get(ME, &other.token).await.status,
        200,
        "only that login session ends"
    );
    // Its refresh token is dead too.
    let r = app
        .anon_post(REFRESH, json!({ "refreshToken": u.refresh }))
        .await;
    assert_eq!((r.status, r.code()), (401, "INVALID_REFRESH_TOKEN"));
}

#[actix_web::test]
async fn logout_all_revokes_every_login_session_and_counts_them() {
    let app = TestApp::spawn().await;
    let u = app.register("all@example.com").await;
    let other = app.login("all@example.com", "password123").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&u.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!({ "revoked": 2 }));
    assert_eq!(app.get(ME, &u.token).await.code(), "SESSION_REVOKED");
    assert_eq!(app.get(ME, &other.token).await.code(), "SESSION_REVOKED");
}

#[actix_web::test]
async fn login_sessions_list_the_active_ones_newest_first_marking_the_current() {
    let app = TestApp::spawn().await;
    let first = app.register("list@example.com").await;
    let second = app.login("list@example.com", "password123").await;
    let third = app.login("list@example.com", "password123").await;
    app.call(
        Method::POST,
        "/api/v1/auth/logout",
        Some(&third.token),
        None,
    )
    .await;
    let r = app.get("/api/v1/auth/sessions", &first.token).await;
    assert_eq!(r.status, 200);
    let items = r.data()["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.session_id.as_str(), first.session_id.as_str()]);
    let current: Vec<bool> = items
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, true]);
    let mut keys: Vec<&str> = items[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "current",
            "deviceName",
            "expiresAt",
            "id",
            "ipAddress",
            "lastUsedAt",
            "userAgent"
        ]
    );
}

#[actix_web::test]
async fn revoking_one_login_session_ends_its_tokens() {
    let app = TestApp::spawn().await;
    let u = app.register("rev@example.com").await;
    let other = app.login("rev@example.com", "password123").await;
    let r = app
        .delete(
            &format!("/api/v1/auth/sessions/{}", other.session_id),
            &u.token,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "status": "success", "message": "Login session revoked", "data": null })
    );
    assert_eq!(app.get(ME, &other.token).await.code(), "SESSION_REVOKED");
    assert_eq!(app.get(ME, &u.token).await.status, 200);
}

#[actix_web::test]
async fn another_users_login_session_is_not_found() {
    let app = TestApp::spawn().await;
    let a = app.register("a@example.com").await;
    let b = app.register("b@example.com").await;
    let r = app
        .delete(&format!("/api/v1/auth/sessions/{}", b.session_id), &a.token)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Login session not found", "code": "NOT_FOUND" })
    );
    assert_eq!(app.get(ME, &b.token).await.status, 200);
}

#[actix_web::test]
async fn refresh_rotates_the_token_and_updates_last_used() {
    let app = TestApp::spawn().await;
    let u = app.register("rot@example.com").await;
    app.sql("UPDATE login_sessions SET last_used_at = now() - interval '1 hour'");
    let r = app
        .anon_post(REFRESH, json!({ "refreshToken": u.refresh }))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Token refreshed");
    let tokens = &r.data()["tokens"];
    assert_eq!(tokens["tokenType"], "Bearer");
    let new_refresh = tokens["refreshToken"].as_str().unwrap();
    assert_ne!(new_refresh, u.refresh);
    assert_eq!(
        app.get(ME, tokens["accessToken"].as_str().unwrap())
            .await
            .status,
        200
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM login_sessions WHERE last_used_at > now() - interval '1 minute'"), 1);
    // The new one works once more.
    assert_eq!(
        app.anon_post(REFRESH, json!({ "refreshToken": new_refresh }))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_login_session() {
    let app = TestApp::spawn().await;
    let u = app.register("reuse@example.com").await;
    let r = app
        .anon_post(REFRESH, json!({ "refreshToken": u.refresh }))
        .await;
    let fresh_access = r.data()["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh_refresh = r.data()["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let reuse = app
        .anon_post(REFRESH, json!({ "refreshToken": u.refresh }))
        .await;
    assert_eq!(reuse.status, 401);
    assert_eq!(
        reuse.body,
        json!({ "status": "error", "message": "Invalid refresh token", "code": "INVALID_REFRESH_TOKEN" })
    );
    // Everything of that login session is dead: both access tokens and the newest refresh token.
    assert_eq!(app.get(ME, &fresh_access).await.code(), "SESSION_REVOKED");
    assert_eq!(app.get(ME, &u.token).await.code(), "SESSION_REVOKED");
    assert_eq!(
        app.anon_post(REFRESH, json!({ "refreshToken": fresh_refresh }))
            .await
            .code(),
        "INVALID_REFRESH_TOKEN"
    );
}

#[actix_web::test]
async fn twenty_concurrent_refreshes_of_one_token_yield_exactly_one_success() {
    let app = TestApp::spawn().await;
    let u = app.register("race@example.com").await;
    let body = json!({ "refreshToken": u.refresh });
    let results = join_all((0..20).map(|_| app.anon_post(REFRESH, body.clone()))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    let rejected = results
        .iter()
        .filter(|r| r.status == 401 && r.code() == "INVALID_REFRESH_TOKEN")
        .count();
    assert_eq!((ok, rejected), (1, 19));
    // At most one live token: the losers presented a rotated-away token, which is
    // reuse, so the login session ends.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM login_sessions WHERE revoked_at IS NULL"),
        0
    );
}

#[actix_web::test]
async fn an_unknown_garbled_or_expired_refresh_token_is_invalid() {
    let app = TestApp::spawn().await;
    let u = app.register("exp@example.com").await;
    for token in [
        "",
        "garbage",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = app
            .anon_post(REFRESH, json!({ "refreshToken": token }))
            .await;
        assert_eq!(
            r.status,
            if token.is_empty() { 400 } else { 401 },
            "{token:?}"
        );
    }
    app.sql("UPDATE login_sessions SET created_at = now() - interval '31 days', expires_at = now() - interval '1 day'");
    let r = app
        .anon_post(REFRESH, json!({ "refreshToken": u.refresh }))
        .await;
    assert_eq!((r.status, r.code()), (401, "INVALID_REFRESH_TOKEN"));
}

#[actix_web::test]
async fn rotation_never_extends_the_login_session() {
    let app = TestApp::spawn().await;
    let u = app.register("abs@example.com").await;
    let before =
        app.count("SELECT extract(epoch FROM expires_at)::bigint AS n FROM login_sessions");
    app.anon_post(REFRESH, json!({ "refreshToken": u.refresh }))
        .await;
    let after = app.count("SELECT extract(epoch FROM expires_at)::bigint AS n FROM login_sessions");
    assert_eq!(before, after);
}

#[actix_web::test]
async fn concurrent_logins_with_many_bcrypt_checks_all_succeed() {
    let app = TestApp::spawn().await;
    app.register("many@example.com").await;
    let body = json!({ "email": "many@example.com", "password": "password123" });
    let results = join_all((0..8).map(|_| app.anon_post(LOGIN, body.clone()))).await;
    assert!(results.iter().all(|r| r.status == 200));
    assert_eq!(app.count("SELECT count(*) AS n FROM login_sessions"), 9);
}

#[actix_web::test]
async fn a_missing_or_bad_token_is_refused_before_the_path_or_body_is_judged() {
    let app = TestApp::spawn().await;
    for token in [None, Some("not.a.jwt")] {
        let r = app
            .call(
                Method::PATCH,
                "/api/v1/sessions/not-a-uuid",
                token,
                Some(json!({ "unknown": true })),
            )
            .await;
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        assert_eq!(r.code(), "UNAUTHENTICATED");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let user = app.register("path@example.com").await;
    let r = app
        .call(
            Method::GET,
            "/api/v1/sessions/not-a-uuid",
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "a valid token meets the path's own rule");
    assert_eq!(r.code(), "VALIDATION_ERROR");
}
