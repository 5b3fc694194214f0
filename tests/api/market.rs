//! Contract §3.6 and §3.7: vendors (one per chat session) and sellers' offers.
//! Chat sessions are created with SQL, so these tests do not depend on the chat
//! routes.

use crate::helpers::{Reply, TestApp, TestUser, is_timestamp};
use futures_util::future::join_all;
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

/// A chat session of `owner`, written directly; its `updated_at` is in the past
/// so that a bump is visible.
fn new_session(app: &TestApp, owner: &TestUser) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    app.sql(&format!(
        "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) \
         VALUES ('{id}', '{}', 'Deal', '2000-01-01T00:00:00Z', '2000-01-01T00:00:00Z')",
        owner.id
    ));
    id
}

/// The session's `updated_at` in microseconds since the epoch.
fn session_updated_at(app: &TestApp, session: &str) -> i64 {
    app.count(&format!(
        "SELECT (extract(epoch FROM updated_at) * 1000000)::bigint AS n \
         FROM chat_sessions WHERE id = '{session}'"
    ))
}

const Y2K_MICROS: i64 = 946_684_800_000_000;

fn reset_updated_at(app: &TestApp, session: &str) {
    app.sql(&format!(
        "UPDATE chat_sessions SET updated_at = '2000-01-01T00:00:00Z' WHERE id = '{session}'"
    ));
}

fn seller_count(app: &TestApp, session: &str) -> i64 {
    app.count(&format!(
        "SELECT seller_count::bigint AS n FROM chat_sessions WHERE id = '{session}'"
    ))
}

fn vendor_path(session: &str) -> String {
    format!("/api/v1/sessions/{session}/vendor")
}

fn sellers_path(session: &str) -> String {
    format!("/api/v1/sessions/{session}/sellers")
}

fn full_vendor() -> Value {
    json!({
        "name": "  Acme Trading  ",
        "email": " Sales@Acme.Example ",
        "phone": "+1 (555) 010-2030",
        "website": "https://acme.example/shop",
        "address": "1 Market Street",
        "notes": "Prefers email"
    })
}

fn seller(name: &str, product: &str, price: i64) -> Value {
    json!({
        "name": name,
        "product": { "name": product, "priceMinor": price, "currency": "USD" }
    })
}

/// The error envelope of a validation failure on one field.
fn invalid(field: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "message": "Validation failed",
        "code": "VALIDATION_ERROR",
        "errors": [ { "field": field, "message": message } ]
    })
}

fn error(message: &str, code: &str) -> Value {
    json!({ "status": "error", "message": message, "code": code })
}

fn assert_reply(r: &Reply, status: u16, body: &Value) {
    assert_eq!((r.status, &r.body), (status, body));
}

/// Strips the server-given fields (id, timestamps) after checking their shape.
fn without_generated(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    assert!(o.remove("id").unwrap().as_str().is_some());
    assert!(is_timestamp(&o.remove("createdAt").unwrap()));
    assert!(is_timestamp(&o.remove("updatedAt").unwrap()));
    v
}

async fn vendor_of(app: &TestApp, owner: &TestUser) -> (String, String) {
    let session = new_session(app, owner);
    let r = app
        .post(&vendor_path(&session), &owner.token, full_vendor())
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["vendor"]["id"].as_str().unwrap().to_owned();
    (session, id)
}

async fn add_seller(app: &TestApp, user: &TestUser, session: &str, body: Value) -> String {
    let r = app.post(&sellers_path(session), &user.token, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["seller"]["id"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------- vendors

#[actix_web::test]
async fn registering_a_vendor_answers_201_with_the_normalised_vendor_and_bumps_the_session() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let r = app
        .post(&vendor_path(&session), &u.token, full_vendor())
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["message"], "Vendor registered");
    let vendor = r.data()["vendor"].clone();
    assert_eq!(
        without_generated(vendor.clone()),
        json!({
            "sessionId": session,
            "name": "Acme Trading",
            "email": "sales@acme.example",
            "phone": "+1 (555) 010-2030",
            "website": "https://acme.example/shop",
            "address": "1 Market Street",
            "notes": "Prefers email"
        })
    );
    assert!(session_updated_at(&app, &session) > Y2K_MICROS);

    let by_session = app.get(&vendor_path(&session), &u.token).await;
    assert_reply(
        &by_session,
        200,
        &json!({ "status": "success", "message": "Vendor", "data": { "vendor": vendor } }),
    );
    let id = vendor["id"].as_str().unwrap();
    let by_id = app.get(&format!("/api/v1/vendors/{id}"), &u.token).await;
    assert_reply(
        &by_id,
        200,
        &json!({ "status": "success", "message": "Vendor", "data": { "vendor": vendor } }),
    );
}

#[actix_web::test]
async fn a_vendor_needs_only_a_name_and_the_rest_is_null() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let r = app
        .post(&vendor_path(&session), &u.token, json!({ "name": "Solo" }))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        without_generated(r.data()["vendor"].clone()),
        json!({
            "sessionId": session, "name": "Solo", "email": null, "phone": null,
            "website": null, "address": null, "notes": null
        })
    );
}

#[actix_web::test]
async fn a_second_vendor_for_a_session_is_a_conflict() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let (session, _) = vendor_of(&app, &u).await;
    let r = app
        .post(&vendor_path(&session), &u.token, json!({ "name": "Other" }))
        .await;
    assert_reply(
        &r,
        409,
        &error("This chat session already has a vendor", "CONFLICT"),
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM vendors WHERE session_id = '{session}'"
        )),
        1
    );
}

#[actix_web::test]
async fn twenty_racing_vendor_registrations_give_one_201_and_nineteen_409() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let path = vendor_path(&session);
    let replies = join_all(
        (0..20).map(|i| app.post(&path, &u.token, json!({ "name": format!("Vendor {i}") }))),
    )
    .await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    let mut expected = vec![201];
    expected.extend(std::iter::repeat_n(409, 19));
    assert_eq!(statuses, expected);
    for r in replies.iter().filter(|r| r.status == 409) {
        assert_eq!(r.code(), "CONFLICT");
    }
}

#[actix_web::test]
async fn a_session_without_a_vendor_answers_404_for_its_vendor() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let r = app.get(&vendor_path(&session), &u.token).await;
    assert_reply(&r, 404, &error("Vendor not found", "NOT_FOUND"));
}

#[actix_web::test]
async fn a_vendor_for_a_session_that_does_not_exist_is_not_found() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let missing = uuid::Uuid::now_v7().to_string();
    let r = app
        .post(&vendor_path(&missing), &u.token, json!({ "name": "X" }))
        .await;
    assert_reply(&r, 404, &error("Chat session not found", "NOT_FOUND"));
    let r = app
        .post(
            "/api/v1/sessions/not-a-uuid/vendor",
            &u.token,
            json!({ "name": "X" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
}

#[actix_web::test]
async fn vendor_fields_are_validated_at_their_bounds() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let path = vendor_path(&session);
    let cases = [
        (json!({}), "name", "is required"),
        (json!({ "name": "   " }), "name", "must not be empty"),
        (
            json!({ "name": "n".repeat(201) }),
            "name",
            "must be at most 200 characters",
        ),
        (
            json!({ "name": "V", "email": "not-an-email" }),
            "email",
            "must be a valid email address",
        ),
        (
            json!({ "name": "V", "website": "ftp://files.example" }),
            "website",
            "must be an http or https URL",
        ),
        (
            json!({ "name": "V", "website": "not a url" }),
            "website",
            "must be a valid URL",
        ),
        (
            json!({ "name": "V", "phone": "555-CALL-NOW" }),
            "phone",
            "may contain only digits, spaces and + - ( )",
        ),
        (
            json!({ "name": "V", "phone": "12" }),
            "phone",
            "must be 3 to 32 characters",
        ),
        (
            json!({ "name": "V", "phone": "1".repeat(33) }),
            "phone",
            "must be 3 to 32 characters",
        ),
        (
            json!({ "name": "V", "address": "a".repeat(501) }),
            "address",
            "must be at most 500 characters",
        ),
        (
            json!({ "name": "V", "notes": "n".repeat(2001) }),
            "notes",
            "must be at most 2000 characters",
        ),
        (
            json!({ "name": "V\u{0}" }),
            "name",
            "must not contain NUL characters",
        ),
        (
            json!({ "name": "V", "rating": 5 }),
            "rating",
            "is not allowed",
        ),
    ];
    for (body, field, message) in cases {
        let r = app.post(&path, &u.token, body.clone()).await;
        assert_eq!(r.body, invalid(field, message), "{body}");
        assert_eq!(r.status, 400, "{body}");
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM vendors"),
        0,
        "nothing invalid is stored"
    );

    let at_bounds = json!({
        "name": "n".repeat(200),
        "phone": "1".repeat(32),
        "website": format!("http://example.com/{}", "p".repeat(2048 - 19)),
        "address": "a".repeat(500),
        "notes": "n".repeat(2000)
    });
    let r = app.post(&path, &u.token, at_bounds).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["vendor"]["name"].as_str().unwrap().len(), 200);
}

#[actix_web::test]
async fn patching_a_vendor_keeps_absent_fields_and_clears_null_ones() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let (session, id) = vendor_of(&app, &u).await;
    reset_updated_at(&app, &session);
    let path = format!("/api/v1/vendors/{id}");
    let r = app
        .patch(
            &path,
            &u.token,
            json!({ "name": " Acme Ltd ", "phone": null, "notes": null }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message"], "Vendor updated");
    assert_eq!(
        without_generated(r.data()["vendor"].clone()),
        json!({
            "sessionId": session,
            "name": "Acme Ltd",
            "email": "sales@acme.example",
            "phone": null,
            "website": "https://acme.example/shop",
            "address": "1 Market Street",
            "notes": null
        })
    );
    assert!(session_updated_at(&app, &session) > Y2K_MICROS);

    let r = app.patch(&path, &u.token, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["vendor"]["name"], "Acme Ltd");
    assert_eq!(r.data()["vendor"]["email"], "sales@acme.example");
}

#[actix_web::test]
async fn a_vendor_name_cannot_be_cleared_and_patches_are_validated() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let (_, id) = vendor_of(&app, &u).await;
    let path = format!("/api/v1/vendors/{id}");
    let cases = [
        (json!({ "name": null }), "name", "must not be null"),
        (json!({ "name": "" }), "name", "must not be empty"),
        (
            json!({ "email": "nope" }),
            "email",
            "must be a valid email address",
        ),
        (
            json!({ "website": "ftp://x.example" }),
            "website",
            "must be an http or https URL",
        ),
        (
            json!({ "notes": "n".repeat(2001) }),
            "notes",
            "must be at most 2000 characters",
        ),
        (json!({ "sessionId": "x" }), "sessionId", "is not allowed"),
    ];
    for (body, field, message) in cases {
        let r = app.patch(&path, &u.token, body.clone()).await;
        assert_eq!(
            (r.status, &r.body),
            (400, &invalid(field, message)),
            "{body}"
        );
    }
    let r = app.get(&path, &u.token).await;
    assert_eq!(r.data()["vendor"]["name"], "Acme Trading");
}

#[actix_web::test]
async fn deleting_a_vendor_answers_200_with_null_data_and_frees_the_session() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let (session, id) = vendor_of(&app, &u).await;
    reset_updated_at(&app, &session);
    let path = format!("/api/v1/vendors/{id}");
    let r = app.delete(&path, &u.token).await;
    assert_reply(
        &r,
        200,
        &json!({ "status": "success", "message": "Vendor deleted", "data": null }),
    );
    assert!(session_updated_at(&app, &session) > Y2K_MICROS);
    assert_reply(
        &app.get(&path, &u.token).await,
        404,
        &error("Vendor not found", "NOT_FOUND"),
    );
    assert_eq!(app.delete(&path, &u.token).await.status, 404);
    let r = app
        .post(&vendor_path(&session), &u.token, json!({ "name": "Next" }))
        .await;
    assert_eq!(r.status, 201);
}

// ---------------------------------------------------------------- sellers

#[actix_web::test]
async fn adding_a_seller_answers_201_with_the_seller_and_counts_it() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let body = json!({
        "name": " Bolt & Co ",
        "email": "Bolt@Example.com",
        "phone": "555 0100",
        "product": {
            "name": " Widget ",
            "description": "Blue, 10 cm",
            "priceMinor": 1999,
            "currency": "EUR",
            "quantity": 100,
            "unit": "piece"
        }
    });
    let r = app.post(&sellers_path(&session), &u.token, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message"], "Seller added");
    let seller = r.data()["seller"].clone();
    assert_eq!(
        without_generated(seller.clone()),
        json!({
            "sessionId": session,
            "name": "Bolt & Co",
            "email": "bolt@example.com",
            "phone": "555 0100",
            "product": {
                "name": "Widget",
                "description": "Blue, 10 cm",
                "priceMinor": 1999,
                "currency": "EUR",
                "quantity": 100,
                "unit": "piece"
            }
        })
    );
    assert_eq!(seller_count(&app, &session), 1);
    assert!(session_updated_at(&app, &session) > Y2K_MICROS);

    let id = seller["id"].as_str().unwrap();
    assert_reply(
        &app.get(&format!("/api/v1/sellers/{id}"), &u.token).await,
        200,
        &json!({ "status": "success", "message": "Seller", "data": { "seller": seller } }),
    );
    assert_reply(
        &app.get(&sellers_path(&session), &u.token).await,
        200,
        &json!({ "status": "success", "message": "Sellers", "data": { "items": [seller] } }),
    );
}

#[actix_web::test]
async fn a_seller_with_only_required_fields_has_nulls_elsewhere() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let r = app
        .post(&sellers_path(&session), &u.token, seller("Min", "Thing", 0))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        without_generated(r.data()["seller"].clone()),
        json!({
            "sessionId": session, "name": "Min", "email": null, "phone": null,
            "product": {
                "name": "Thing", "description": null, "priceMinor": 0,
                "currency": "USD", "quantity": null, "unit": null
            }
        })
    );
}

#[actix_web::test]
async fn seller_fields_are_validated_at_their_bounds() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let path = sellers_path(&session);
    let with_product = |product: Value| {
        let mut p = json!({ "name": "Widget", "priceMinor": 100, "currency": "USD" });
        for (k, v) in product.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!({ "name": "Seller", "product": p })
    };
    let cases = [
        (json!({ "name": "S" }), "product", "is required"),
        (
            json!({ "product": { "name": "W", "priceMinor": 1, "currency": "USD" } }),
            "name",
            "is required",
        ),
        (
            json!({ "name": "s".repeat(201), "product": { "name": "W", "priceMinor": 1, "currency": "USD" } }),
            "name",
            "must be at most 200 characters",
        ),
        (
            json!({ "name": "S", "email": "x", "product": { "name": "W", "priceMinor": 1, "currency": "USD" } }),
            "email",
            "must be a valid email address",
        ),
        (
            json!({ "name": "S", "phone": "call me", "product": { "name": "W", "priceMinor": 1, "currency": "USD" } }),
            "phone",
            "may contain only digits, spaces and + - ( )",
        ),
        (
            with_product(json!({ "priceMinor": -1 })),
            "product.priceMinor",
            "must be at least 0",
        ),
        (
            with_product(json!({ "priceMinor": 1_000_000_000_001_i64 })),
            "product.priceMinor",
            "must be at most 1000000000000",
        ),
        (
            with_product(json!({ "currency": "usd" })),
            "product.currency",
            "must be an upper-case ISO 4217 currency code",
        ),
        (
            with_product(json!({ "currency": "XXQ" })),
            "product.currency",
            "must be an upper-case ISO 4217 currency code",
        ),
        (
            with_product(json!({ "quantity": 0 })),
            "product.quantity",
            "must be at least 1",
        ),
        (
            with_product(json!({ "quantity": 1_000_000_001_i64 })),
            "product.quantity",
            "must be at most 1000000000",
        ),
        (
            with_product(json!({ "unit": "u".repeat(21) })),
            "product.unit",
            "must be at most 20 characters",
        ),
        (
            with_product(json!({ "name": "p".repeat(201) })),
            "product.name",
            "must be at most 200 characters",
        ),
        (
            with_product(json!({ "name": " " })),
            "product.name",
            "must not be empty",
        ),
        (
            with_product(json!({ "description": "d".repeat(2001) })),
            "product.description",
            "must be at most 2000 characters",
        ),
        (
            with_product(json!({ "color": "blue" })),
            "color",
            "is not allowed",
        ),
    ];
    for (body, field, message) in cases {
        let r = app.post(&path, &u.token, body.clone()).await;
        assert_eq!(
            (r.status, &r.body),
            (400, &invalid(field, message)),
            "{body}"
        );
    }
    let r = app
        .post(&path, &u.token, with_product(json!({ "priceMinor": 1.5 })))
        .await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(seller_count(&app, &session), 0);

    let at_bounds = json!({
        "name": "s".repeat(200),
        "product": {
            "name": "p".repeat(200),
            "description": "d".repeat(2000),
            "priceMinor": 1_000_000_000_000_i64,
            "currency": "JPY",
            "quantity": 1_000_000_000,
            "unit": "u".repeat(20)
        }
    });
    let r = app.post(&path, &u.token, at_bounds).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.data()["seller"]["product"]["priceMinor"],
        1_000_000_000_000_i64
    );
}

#[actix_web::test]
async fn the_same_seller_offering_the_same_product_twice_is_a_conflict() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let path = sellers_path(&session);
    add_seller(&app, &u, &session, seller("ACME", "Widget", 100)).await;
    let conflict = error(
        "This seller already offers this product in this chat session",
        "CONFLICT",
    );
    for (name, product) in [
        ("acme", "widget"),
        (" Acme ", "WIDGET "),
        ("ACME", "Widget"),
    ] {
        let r = app.post(&path, &u.token, seller(name, product, 200)).await;
        assert_reply(&r, 409, &conflict);
    }
    assert_eq!(
        seller_count(&app, &session),
        1,
        "a refused insert gives the place back"
    );
    add_seller(&app, &u, &session, seller("acme", "Gadget", 100)).await;
    add_seller(&app, &u, &session, seller("Other", "Widget", 100)).await;
    let other = new_session(&app, &u);
    add_seller(&app, &u, &other, seller("ACME", "Widget", 100)).await;
    assert_eq!(seller_count(&app, &session), 3);
}

#[actix_web::test]
async fn patching_a_seller_into_a_duplicate_offer_is_a_conflict() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    add_seller(&app, &u, &session, seller("ACME", "Widget", 100)).await;
    let id = add_seller(&app, &u, &session, seller("acme", "Gadget", 100)).await;
    let r = app
        .patch(
            &format!("/api/v1/sellers/{id}"),
            &u.token,
            json!({ "product": { "name": "widget" } }),
        )
        .await;
    assert_reply(
        &r,
        409,
        &error(
            "This seller already offers this product in this chat session",
            "CONFLICT",
        ),
    );
    let r = app.get(&format!("/api/v1/sellers/{id}"), &u.token).await;
    assert_eq!(r.data()["seller"]["product"]["name"], "Gadget");
}

#[actix_web::test]
async fn patching_a_seller_changes_given_fields_keeps_absent_ones_and_clears_nulls() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let body = json!({
        "name": "Bolt", "email": "bolt@example.com", "phone": "555 0100",
        "product": {
            "name": "Widget", "description": "Blue", "priceMinor": 500,
            "currency": "USD", "quantity": 3, "unit": "box"
        }
    });
    let id = add_seller(&app, &u, &session, body).await;
    reset_updated_at(&app, &session);
    let path = format!("/api/v1/sellers/{id}");
    let r = app
        .patch(
            &path,
            &u.token,
            json!({
                "phone": null,
                "product": { "priceMinor": 450, "description": null, "quantity": null }
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Seller updated");
    assert_eq!(
        without_generated(r.data()["seller"].clone()),
        json!({
            "sessionId": session, "name": "Bolt", "email": "bolt@example.com", "phone": null,
            "product": {
                "name": "Widget", "description": null, "priceMinor": 450,
                "currency": "USD", "quantity": null, "unit": "box"
            }
        })
    );
    assert!(session_updated_at(&app, &session) > Y2K_MICROS);

    let cases = [
        (json!({ "name": null }), "name", "must not be null"),
        (
            json!({ "product": { "priceMinor": null } }),
            "product.priceMinor",
            "must not be null",
        ),
        (
            json!({ "product": { "currency": null } }),
            "product.currency",
            "must not be null",
        ),
        (
            json!({ "product": { "name": null } }),
            "product.name",
            "must not be null",
        ),
        (
            json!({ "product": { "currency": "eur" } }),
            "product.currency",
            "must be an upper-case ISO 4217 currency code",
        ),
        (
            json!({ "product": { "quantity": 0 } }),
            "product.quantity",
            "must be at least 1",
        ),
        (
            json!({ "product": { "priceMinor": -1 } }),
            "product.priceMinor",
            "must be at least 0",
        ),
        (
            json!({ "product": { "unit": "u".repeat(21) } }),
            "product.unit",
            "must be at most 20 characters",
        ),
    ];
    for (body, field, message) in cases {
        let r = app.patch(&path, &u.token, body.clone()).await;
        assert_eq!(
            (r.status, &r.body),
            (400, &invalid(field, message)),
            "{body}"
        );
    }
}

#[actix_web::test]
async fn sellers_are_listed_in_the_asked_order_with_ties_broken_by_id() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let c = add_seller(&app, &u, &session, seller("charlie", "A", 300)).await;
    let a = add_seller(&app, &u, &session, seller("Alpha", "B", 100)).await;
    let b = add_seller(&app, &u, &session, seller("bravo", "C", 300)).await;
    let d = add_seller(&app, &u, &session, seller("Delta", "D", 200)).await;
    let order = |r: &Reply| -> Vec<String> {
        r.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = sellers_path(&session);
    for (query, expected) in [
        ("", vec![&c, &a, &b, &d]),
        ("?sort=createdAt", vec![&c, &a, &b, &d]),
        ("?sort=price", vec![&a, &d, &c, &b]),
        ("?sort=-price", vec![&c, &b, &d, &a]),
        ("?sort=name", vec![&a, &b, &c, &d]),
    ] {
        let r = app.get(&format!("{base}{query}"), &u.token).await;
        assert_eq!(r.status, 200, "{query}");
        assert_eq!(r.body["message"], "Sellers");
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(order(&r), expected, "{query}");
    }
    let r = app.get(&format!("{base}?sort=cost"), &u.token).await;
    assert_reply(
        &r,
        400,
        &invalid("sort", "must be one of createdAt, price, -price, name"),
    );
    let r = app.get(&format!("{base}?order=asc"), &u.token).await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
}

#[actix_web::test]
async fn sellers_past_the_cap_are_limit_reached() {
    let app = TestApp::spawn_with(&[("MAX_SELLERS_PER_SESSION", "3")]).await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(add_seller(&app, &u, &session, seller(&format!("S{i}"), "W", 1)).await);
    }
    let r = app
        .post(&sellers_path(&session), &u.token, seller("S3", "W", 1))
        .await;
    assert_reply(
        &r,
        422,
        &error("A chat session holds at most 3 sellers", "LIMIT_REACHED"),
    );
    assert_eq!(seller_count(&app, &session), 3);

    let r = app
        .delete(&format!("/api/v1/sellers/{}", ids[0]), &u.token)
        .await;
    assert_reply(
        &r,
        200,
        &json!({ "status": "success", "message": "Seller deleted", "data": null }),
    );
    assert_eq!(seller_count(&app, &session), 2);
    add_seller(&app, &u, &session, seller("S3", "W", 1)).await;
    assert_eq!(seller_count(&app, &session), 3);
}

#[actix_web::test]
async fn concurrent_inserts_never_pass_the_cap() {
    let app = TestApp::spawn_with(&[("MAX_SELLERS_PER_SESSION", "5")]).await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let path = sellers_path(&session);
    let replies = join_all((0..20).map(|i| {
        app.post(
            &path,
            &u.token,
            seller(&format!("Seller {i}"), "Widget", 10),
        )
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let limited = replies
        .iter()
        .filter(|r| r.status == 422 && r.code() == "LIMIT_REACHED")
        .count();
    assert_eq!((created, limited), (5, 15));
    assert_eq!(seller_count(&app, &session), 5);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM sellers WHERE session_id = '{session}'"
        )),
        5
    );
}

#[actix_web::test]
async fn deleting_a_seller_lowers_the_count_and_bumps_the_session() {
    let app = TestApp::spawn().await;
    let u = app.register("owner@example.com").await;
    let session = new_session(&app, &u);
    let id = add_seller(&app, &u, &session, seller("S", "W", 1)).await;
    add_seller(&app, &u, &session, seller("T", "W", 1)).await;
    reset_updated_at(&app, &session);
    let path = format!("/api/v1/sellers/{id}");
    assert_eq!(app.delete(&path, &u.token).await.status, 200);
    assert_eq!(seller_count(&app, &session), 1);
    assert!(session_updated_at(&app, &session) > Y2K_MICROS);
    assert_reply(
        &app.get(&path, &u.token).await,
        404,
        &error("Seller not found", "NOT_FOUND"),
    );
    assert_eq!(app.delete(&path, &u.token).await.status, 404);
    assert_eq!(seller_count(&app, &session), 1);
}

// ---------------------------------------------------------------- access

#[actix_web::test]
async fn strangers_get_404_on_every_vendor_and_seller_route() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let (session, vendor) = vendor_of(&app, &owner).await;
    let seller_id = add_seller(&app, &owner, &session, seller("S", "W", 1)).await;
    let t = &stranger.token;
    let vendor_path_ = format!("/api/v1/vendors/{vendor}");
    let seller_path = format!("/api/v1/sellers/{seller_id}");
    let session_nf = error("Chat session not found", "NOT_FOUND");
    let vendor_nf = error("Vendor not found", "NOT_FOUND");
    let seller_nf = error("Seller not found", "NOT_FOUND");

    assert_reply(&app.get(&vendor_path(&session), t).await, 404, &session_nf);
    assert_reply(
        &app.post(&vendor_path(&session), t, json!({ "name": "X" }))
            .await,
        404,
        &session_nf,
    );
    assert_reply(&app.get(&sellers_path(&session), t).await, 404, &session_nf);
    assert_reply(
        &app.post(&sellers_path(&session), t, seller("X", "Y", 1))
            .await,
        404,
        &session_nf,
    );
    assert_reply(&app.get(&vendor_path_, t).await, 404, &vendor_nf);
    assert_reply(
        &app.patch(&vendor_path_, t, json!({ "name": "X" })).await,
        404,
        &vendor_nf,
    );
    assert_reply(&app.delete(&vendor_path_, t).await, 404, &vendor_nf);
    assert_reply(&app.get(&seller_path, t).await, 404, &seller_nf);
    assert_reply(
        &app.patch(&seller_path, t, json!({ "name": "X" })).await,
        404,
        &seller_nf,
    );
    assert_reply(&app.delete(&seller_path, t).await, 404, &seller_nf);

    assert_eq!(seller_count(&app, &session), 1, "nothing changed");
    let r = app.get(&vendor_path_, &owner.token).await;
    assert_eq!(r.data()["vendor"]["name"], "Acme Trading");
}

#[actix_web::test]
async fn agents_may_read_vendors_and_sellers_but_not_change_them() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let (session, vendor) = vendor_of(&app, &owner).await;
    let seller_id = add_seller(&app, &owner, &session, seller("S", "W", 1)).await;
    let t = &agent.token;
    let vendor_path_ = format!("/api/v1/vendors/{vendor}");
    let seller_path = format!("/api/v1/sellers/{seller_id}");

    assert_eq!(app.get(&vendor_path(&session), t).await.status, 200);
    assert_eq!(app.get(&vendor_path_, t).await.status, 200);
    assert_eq!(app.get(&sellers_path(&session), t).await.status, 200);
    assert_eq!(app.get(&seller_path, t).await.status, 200);

    let forbidden = error("You do not have permission to do this", "FORBIDDEN");
    let empty = new_session(&app, &owner);
    assert_reply(
        &app.post(&vendor_path(&empty), t, json!({ "name": "X" }))
            .await,
        403,
        &forbidden,
    );
    assert_reply(
        &app.post(&sellers_path(&session), t, seller("X", "Y", 1))
            .await,
        403,
        &forbidden,
    );
    assert_reply(
        &app.patch(&vendor_path_, t, json!({ "name": "X" })).await,
        403,
        &forbidden,
    );
    assert_reply(&app.delete(&vendor_path_, t).await, 403, &forbidden);
    assert_reply(
        &app.patch(&seller_path, t, json!({ "name": "X" })).await,
        403,
        &forbidden,
    );
    assert_reply(&app.delete(&seller_path, t).await, 403, &forbidden);
    assert_eq!(seller_count(&app, &session), 1);
}

#[actix_web::test]
async fn admins_may_change_anyones_vendor_and_sellers() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let (session, vendor) = vendor_of(&app, &owner).await;
    let t = &admin.token;
    let r = app
        .patch(
            &format!("/api/v1/vendors/{vendor}"),
            t,
            json!({ "name": "By Admin" }),
        )
        .await;
    assert_eq!(
        (r.status, &r.data()["vendor"]["name"]),
        (200, &json!("By Admin"))
    );
    let id = add_seller(&app, &admin, &session, seller("S", "W", 1)).await;
    assert_eq!(
        app.delete(&format!("/api/v1/sellers/{id}"), t).await.status,
        200
    );
    assert_eq!(
        app.delete(&format!("/api/v1/vendors/{vendor}"), t)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn market_routes_need_a_token() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let session = new_session(&app, &owner);
    let r = app
        .call(awc::http::Method::GET, &sellers_path(&session), None, None)
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
}

#[actix_web::test]
async fn integer_fields_accept_a_zero_fraction_and_refuse_a_real_one() {
    let app = TestApp::spawn().await;
    let owner = app.register("ints@example.com").await;
    let session = new_session(&app, &owner);
    let mut body = seller("Ana", "Bike", 0);
    body["product"]["priceMinor"] = json!(22000.0);
    body["product"]["quantity"] = json!(2.0);
    let r = app.post(&sellers_path(&session), &owner.token, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.data()["seller"]["product"]["priceMinor"], 22000);
    assert_eq!(r.data()["seller"]["product"]["quantity"], 2);
    let id = r.data()["seller"]["id"].as_str().unwrap().to_owned();

    let r = app
        .patch(
            &format!("/api/v1/sellers/{id}"),
            &owner.token,
            json!({ "product": { "priceMinor": 1.5 } }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "VALIDATION_ERROR");
    let r = app
        .patch(
            &format!("/api/v1/sellers/{id}"),
            &owner.token,
            json!({ "product": { "priceMinor": 5.0, "quantity": null } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["seller"]["product"]["priceMinor"], 5);
    assert_eq!(r.data()["seller"]["product"]["quantity"], Value::Null);
}
