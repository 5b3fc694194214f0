//! Contract §3.7b and §7: exchange rates, offers compared across currencies
//! and units, `dealroom import-rates`; and §3.7's price sort, which groups by
//! currency. Each test names the rule it checks.

use crate::helpers::{Reply, TestApp, TestUser, dealroom_binary};
use serde_json::{Value, json};
use std::path::PathBuf;

// ---------------------------------------------------------------- helpers

/// A chat session of `owner`, written directly.
fn new_session(app: &TestApp, owner: &TestUser) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    app.sql(&format!(
        "INSERT INTO chat_sessions (id, user_id, title) VALUES ('{id}', '{}', 'Deal')",
        owner.id
    ));
    id
}

/// Adds a seller offering `(priceMinor, currency)` for `(quantity, unit)`.
async fn offer(
    app: &TestApp,
    owner: &TestUser,
    session: &str,
    name: &str,
    (price_minor, currency): (i64, &str),
    (quantity, unit): (Option<i64>, Option<&str>),
) -> String {
    let r = app
        .post(
            &format!("/api/v1/sessions/{session}/sellers"),
            &owner.token,
            json!({
                "name": name,
                "product": {
                    "name": "Coffee", "priceMinor": price_minor, "currency": currency,
                    "quantity": quantity, "unit": unit
                }
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.data()["seller"]["id"].as_str().unwrap().to_owned()
}

async fn put_rates(app: &TestApp, admin: &TestUser, date: &str, body: Value) -> Reply {
    app.put(
        &format!("/api/v1/exchange-rates/{date}"),
        &admin.token,
        body,
    )
    .await
}

/// The ECB-like day the tests compare with: 1 EUR buys these.
async fn ecb_day(app: &TestApp, admin: &TestUser, date: &str) {
    let r = put_rates(
        app,
        admin,
        date,
        json!({ "base": "EUR", "rates": {
            "USD": "1.0812", "JPY": "157.12", "KWD": "0.3312", "GBP": "0.8583"
        } }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn offers(app: &TestApp, user: &TestUser, session: &str, query: &str) -> Reply {
    app.get(
        &format!("/api/v1/sessions/{session}/offers?{query}"),
        &user.token,
    )
    .await
}

/// Each offer without its seller, but the seller's name first.
fn compared(r: &Reply) -> Vec<Value> {
    r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            json!({
                "seller": o["seller"]["name"],
                "price": o["price"],
                "converted": o["converted"],
                "unitPrice": o["unitPrice"],
            })
        })
        .collect()
}

fn names(r: &Reply) -> Vec<String> {
    r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["seller"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn invalid(field: &str, message: &str) -> Value {
    json!({
        "status": "error", "message": "Validation failed", "code": "VALIDATION_ERROR",
        "errors": [ { "field": field, "message": message } ]
    })
}

fn rates_stored(app: &TestApp) -> i64 {
    app.count("SELECT (SELECT count(*) FROM exchange_rate_dates) * 1000 + (SELECT count(*) FROM exchange_rates) AS n")
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

// ---------------------------------------------------------------- exchange rates

#[actix_web::test]
async fn an_admin_stores_a_day_of_rates_and_anyone_reads_the_latest_on_or_before_a_date() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let user = app.register("user@example.com").await;
    let r = put_rates(
        &app,
        &admin,
        "2026-12-04",
        json!({ "base": "EUR", "rates": { "USD": "1.08120", "JPY": "157.12" } }),
    )
    .await;
    let day = json!({ "base": "EUR", "date": "2026-12-04",
                      "rates": { "JPY": "157.12", "USD": "1.0812" } });
    assert_eq!(
        (r.status, &r.body),
        (
            200,
            &json!({ "status": "success", "message": "Exchange rates stored",
                     "data": { "exchangeRates": day } })
        )
    );
    // The latest day on or before the asked one; none before it is a 404.
    for date in ["2026-12-04", "2026-12-05", "2030-01-01"] {
        let r = app
            .get(&format!("/api/v1/exchange-rates?date={date}"), &user.token)
            .await;
        assert_eq!(
            (r.status, &r.body),
            (
                200,
                &json!({ "status": "success", "message": "Exchange rates",
                         "data": { "exchangeRates": day } })
            ),
            "{date}"
        );
    }
    let r = app
        .get("/api/v1/exchange-rates?date=2026-12-03", &user.token)
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            404,
            &json!({ "status": "error", "message": "Exchange rates not found", "code": "NOT_FOUND" })
        )
    );
    let r = app
        .get("/api/v1/exchange-rates?date=04.12.2026", &user.token)
        .await;
    assert_eq!(
        (r.status, &r.body),
        (400, &invalid("date", "must be a date written YYYY-MM-DD"))
    );
}

#[actix_web::test]
async fn the_default_date_is_today_in_utc() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let r = app.get("/api/v1/exchange-rates", &admin.token).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));
    let today = today();
    let r = put_rates(
        &app,
        &admin,
        &today,
        json!({ "base": "USD", "rates": { "EUR": "0.9249" } }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.get("/api/v1/exchange-rates", &admin.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.data()["exchangeRates"],
        json!({ "base": "USD", "date": today, "rates": { "EUR": "0.9249" } })
    );
}

#[actix_web::test]
async fn putting_a_day_again_replaces_its_base_and_all_its_rates() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    ecb_day(&app, &admin, "2026-12-04").await;
    let r = put_rates(
        &app,
        &admin,
        "2026-12-04",
        json!({ "base": "USD", "rates": { "EUR": "0.9249" } }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .get("/api/v1/exchange-rates?date=2026-12-04", &admin.token)
        .await;
    assert_eq!(
        r.data()["exchangeRates"],
        json!({ "base": "USD", "date": "2026-12-04", "rates": { "EUR": "0.9249" } })
    );
    assert_eq!(rates_stored(&app), 1001);
}

#[actix_web::test]
async fn only_admins_store_rates() {
    let app = TestApp::spawn().await;
    let user = app.register("user@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    for caller in [&user, &agent] {
        let r = put_rates(
            &app,
            caller,
            "2026-12-04",
            json!({ "base": "EUR", "rates": { "USD": "1.08" } }),
        )
        .await;
        assert_eq!(
            (r.status, &r.body),
            (
                403,
                &json!({ "status": "error", "message": "You do not have permission to do this",
                         "code": "FORBIDDEN" })
            )
        );
    }
    let r = app
        .call(awc::http::Method::GET, "/api/v1/exchange-rates", None, None)
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    assert_eq!(rates_stored(&app), 0);
}

#[actix_web::test]
async fn rates_are_validated_whole_and_a_bad_body_stores_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    // A day already stored stays as it was after each refused body.
    ecb_day(&app, &admin, "2026-12-04").await;
    let before = app
        .get("/api/v1/exchange-rates?date=2026-12-04", &admin.token)
        .await
        .body;
    let many: serde_json::Map<String, Value> =
        (0..201).map(|i| (format!("C{i:02}"), json!("1"))).collect();
    let cases = [
        // An unknown or lower-case code, next to a good rate that is not kept either.
        (
            json!({ "base": "EUR", "rates": { "USD": "1.1", "usd": "1.1" } }),
            invalid("rates.usd", "must be an upper-case ISO 4217 currency code"),
        ),
        (
            json!({ "base": "EUR", "rates": { "USD": "1.1", "XXQ": "1.1" } }),
            invalid("rates.XXQ", "must be an upper-case ISO 4217 currency code"),
        ),
        (
            json!({ "base": "eur", "rates": { "USD": "1.1" } }),
            invalid("base", "must be an upper-case ISO 4217 currency code"),
        ),
        // Non-positive and malformed rates.
        (
            json!({ "base": "EUR", "rates": { "USD": "0" } }),
            invalid("rates.USD", "must be positive"),
        ),
        (
            json!({ "base": "EUR", "rates": { "USD": "-1.08" } }),
            invalid(
                "rates.USD",
                "must be a positive decimal number written like 1.0812",
            ),
        ),
        (
            json!({ "base": "EUR", "rates": { "USD": "1,08" } }),
            invalid(
                "rates.USD",
                "must be a positive decimal number written like 1.0812",
            ),
        ),
        (
            json!({ "base": "EUR", "rates": { "USD": "1.08e0" } }),
            invalid(
                "rates.USD",
                "must be a positive decimal number written like 1.0812",
            ),
        ),
        // More than 10 significant digits is malformed.
        (
            json!({ "base": "EUR", "rates": { "USD": "1.0812345678" } }),
            invalid("rates.USD", "must have at most 10 significant digits"),
        ),
        // The base among its own rates.
        (
            json!({ "base": "EUR", "rates": { "USD": "1.1", "EUR": "1" } }),
            invalid(
                "rates.EUR",
                "must not be the base currency, whose rate is 1",
            ),
        ),
        // More than 200 rates.
        (
            json!({ "base": "EUR", "rates": many }),
            invalid("rates", "must hold at most 200 rates"),
        ),
        (
            json!({ "rates": { "USD": "1.1" } }),
            invalid("base", "is required"),
        ),
        (json!({ "base": "EUR" }), invalid("rates", "is required")),
        // Rates are decimal strings, never JSON numbers (floats).
        (
            json!({ "base": "EUR", "rates": { "USD": 1.08 } }),
            invalid(
                "body",
                "invalid type: floating point `1.08`, expected a string",
            ),
        ),
    ];
    for (body, want) in cases {
        let r = put_rates(&app, &admin, "2026-12-04", body.clone()).await;
        assert_eq!((r.status, &r.body), (400, &want), "{body}");
        let r = put_rates(&app, &admin, "2026-12-05", body.clone()).await;
        assert_eq!((r.status, &r.body), (400, &want), "{body}");
    }
    let r = put_rates(
        &app,
        &admin,
        "2026-02-30",
        json!({ "base": "EUR", "rates": {} }),
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (400, &invalid("date", "must be a date written YYYY-MM-DD"))
    );
    // Nothing of any refused body was stored: the day is as it was, and no
    // other day exists.
    let after = app
        .get("/api/v1/exchange-rates?date=2026-12-31", &admin.token)
        .await
        .body;
    assert_eq!(after, before);
    assert_eq!(rates_stored(&app), 1004);
}

// ---------------------------------------------------------------- offers compared

#[actix_web::test]
async fn offers_are_converted_through_the_base_with_exact_cross_rates() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let owner = app.register("owner@example.com").await;
    ecb_day(&app, &admin, "2026-12-04").await;
    let session = new_session(&app, &owner);
    offer(&app, &owner, &session, "yen", (1000, "JPY"), (None, None)).await;
    offer(&app, &owner, &session, "dollar", (250, "USD"), (None, None)).await;
    offer(&app, &owner, &session, "euro", (100, "EUR"), (None, None)).await;
    offer(&app, &owner, &session, "dinar", (1234, "KWD"), (None, None)).await;
    offer(&app, &owner, &session, "franc", (500, "CHF"), (None, None)).await;
    let r = offers(&app, &owner, &session, "currency=KWD&date=2026-12-04").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Offers compared");
    assert_eq!(r.data()["currency"], "KWD");
    assert_eq!(r.data()["ratesDate"], "2026-12-04");
    assert_eq!(r.data()["ratesStale"], false);
    // Hand-computed: JPY → KWD is 1000 × 0.3312 / 157.12 = 2.10794…, rate
    // 0.3312 / 157.12 = 0.0021079429735…; USD → KWD 2.50 × 0.3312 / 1.0812
    // = 0.76581…; the base and the currency itself convert at their rate;
    // CHF has no rate that day: null, and last.
    let kwd =
        |amount: &str, rate: &str| json!({ "amount": amount, "currency": "KWD", "rate": rate });
    assert_eq!(
        compared(&r),
        [
            json!({ "seller": "euro", "price": { "amount": "1.00", "currency": "EUR" },
                    "converted": kwd("0.331", "0.3312"), "unitPrice": null }),
            json!({ "seller": "dollar", "price": { "amount": "2.50", "currency": "USD" },
                    "converted": kwd("0.766", "0.3063263041"), "unitPrice": null }),
            json!({ "seller": "dinar", "price": { "amount": "1.234", "currency": "KWD" },
                    "converted": kwd("1.234", "1"), "unitPrice": null }),
            json!({ "seller": "yen", "price": { "amount": "1000", "currency": "JPY" },
                    "converted": kwd("2.108", "0.002107942974"), "unitPrice": null }),
            json!({ "seller": "franc", "price": { "amount": "5.00", "currency": "CHF" },
                    "converted": null, "unitPrice": null }),
        ]
    );
    // Into JPY (no decimals): 2.50 USD × 157.12 / 1.0812 = 363.297… → 363.
    let r = offers(&app, &owner, &session, "currency=JPY&date=2026-12-04").await;
    let dollar = &r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["seller"]["name"] == "dollar")
        .unwrap()["converted"];
    assert_eq!(
        dollar,
        &json!({ "amount": "363", "currency": "JPY", "rate": "145.3200148" })
    );
    // A compared currency the day has no rate for: nothing converts.
    let r = offers(&app, &owner, &session, "currency=CHF&date=2026-12-04").await;
    assert_eq!(r.status, 200);
    assert!(
        r.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["converted"].is_null())
    );
}

#[actix_web::test]
async fn ten_tenths_of_a_euro_compare_exactly_with_one_euro() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let owner = app.register("owner@example.com").await;
    ecb_day(&app, &admin, "2026-12-04").await;
    let session = new_session(&app, &owner);
    for i in 0..10 {
        offer(
            &app,
            &owner,
            &session,
            &format!("tenth {i}"),
            (10, "EUR"),
            (Some(1), Some("pc")),
        )
        .await;
    }
    offer(
        &app,
        &owner,
        &session,
        "ten pack",
        (100, "EUR"),
        (Some(10), Some("pieces")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "one euro",
        (100, "EUR"),
        (Some(1), Some("piece")),
    )
    .await;
    let r = offers(&app, &owner, &session, "currency=USD&date=2026-12-04").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = compared(&r);
    // 0.10 EUR = 0.10812 USD: each tenth shows 0.11, and per piece 0.108120,
    // exactly what the ten pack costs per piece (1.0812 / 10): computed from
    // exact amounts, never from rounded or binary ones. One euro is 1.08,
    // not ten times 0.11.
    let per_piece = json!({ "amount": "0.108120", "currency": "USD", "per": "piece" });
    for item in &items[..11] {
        assert_eq!(item["unitPrice"], per_piece, "{item}");
    }
    for item in &items[..10] {
        assert_eq!(item["converted"]["amount"], "0.11");
    }
    assert_eq!(items[10]["seller"], "ten pack");
    assert_eq!(items[10]["converted"]["amount"], "1.08");
    assert_eq!(
        items[11],
        json!({ "seller": "one euro", "price": { "amount": "1.00", "currency": "EUR" },
                "converted": { "amount": "1.08", "currency": "USD", "rate": "1.0812" },
                "unitPrice": { "amount": "1.081200", "currency": "USD", "per": "piece" } })
    );
    // Equal unit prices keep the sellers' order of creation.
    let want: Vec<String> = (0..10)
        .map(|i| format!("tenth {i}"))
        .chain(["ten pack".into(), "one euro".into()])
        .collect();
    assert_eq!(names(&r), want);
}

#[actix_web::test]
async fn units_are_normalised_per_group_and_an_unknown_unit_keeps_its_own_text() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let owner = app.register("owner@example.com").await;
    ecb_day(&app, &admin, "2026-12-04").await;
    let session = new_session(&app, &owner);
    offer(
        &app,
        &owner,
        &session,
        "crates",
        (1000, "EUR"),
        (Some(2), Some(" Crate ")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "loose",
        (700, "EUR"),
        (None, Some("kg")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "pounds",
        (1000, "EUR"),
        (Some(2), Some("lb")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "grams",
        (300, "EUR"),
        (Some(500), Some("g")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "bulk",
        (5000, "EUR"),
        (Some(10), Some("KG")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "singles",
        (180, "EUR"),
        (Some(3), Some("pc")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "dozen",
        (600, "EUR"),
        (Some(1), Some("dozen")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "boxes",
        (1200, "EUR"),
        (Some(3), Some("box")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "gallons",
        (1200, "EUR"),
        (Some(3), Some("gal")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "inches",
        (300, "EUR"),
        (Some(6), Some("in")),
    )
    .await;
    let r = offers(&app, &owner, &session, "currency=EUR&date=2026-12-04").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let unit = |amount: &str, per: &str| json!({ "amount": amount, "currency": "EUR", "per": per });
    let got: Vec<(String, Value)> = compared(&r)
        .into_iter()
        .map(|o| {
            (
                o["seller"].as_str().unwrap().to_owned(),
                o["unitPrice"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, Value)> = [
        // kg: 10 kg for 50.00 and 500 g for 3.00 are 5.00 and 6.00 per kg;
        // 2 lb for 10.00 is 10 / 0.90718474.
        ("bulk", unit("5.000000", "kg")),
        ("grams", unit("6.000000", "kg")),
        ("pounds", unit("11.023113", "kg")),
        // l: 3 US gallons for 12.00.
        ("gallons", unit("1.056688", "l")),
        // m: 6 inches for 3.00.
        ("inches", unit("19.685039", "m")),
        // piece: a dozen for 6.00 is 0.50 a piece, cheaper than 3 pieces for 1.80.
        ("dozen", unit("0.500000", "piece")),
        ("singles", unit("0.600000", "piece")),
        // Other units by their text, alphabetically: box before crate.
        ("boxes", unit("4.000000", "box")),
        ("crates", unit("5.000000", "crate")),
        // No quantity: converted only.
        ("loose", Value::Null),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    assert_eq!(got, want);
}

#[actix_web::test]
async fn the_order_is_unit_prices_then_converted_totals_then_the_rest_by_currency_and_price() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let owner = app.register("owner@example.com").await;
    ecb_day(&app, &admin, "2026-12-04").await;
    let session = new_session(&app, &owner);
    offer(
        &app,
        &owner,
        &session,
        "chf dear",
        (900, "CHF"),
        (Some(1), Some("kg")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "usd total",
        (500, "USD"),
        (None, None),
    )
    .await;
    offer(&app, &owner, &session, "aud", (100, "AUD"), (None, None)).await;
    offer(
        &app,
        &owner,
        &session,
        "chf cheap",
        (800, "CHF"),
        (None, None),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "eur total",
        (300, "EUR"),
        (None, None),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "litre",
        (9900, "EUR"),
        (Some(1), Some("l")),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "kilo",
        (9900, "EUR"),
        (Some(1), Some("kg")),
    )
    .await;
    let r = offers(&app, &owner, &session, "currency=EUR&date=2026-12-04").await;
    assert_eq!(
        names(&r),
        [
            // With a unit price: kg before l, whatever the amounts.
            "kilo",
            "litre",
            // Converted only, cheapest first (5.00 USD = 4.62 EUR).
            "eur total",
            "usd total",
            // Neither: by currency code, then priceMinor.
            "aud",
            "chf cheap",
            "chf dear",
        ]
    );
    // The same order on every call.
    let again = offers(&app, &owner, &session, "currency=EUR&date=2026-12-04").await;
    assert_eq!(again.body, r.body);
}

#[actix_web::test]
async fn rates_older_than_rates_max_age_are_stale_and_no_rates_convert_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let owner = app.register("owner@example.com").await;
    ecb_day(&app, &admin, "2026-12-01").await;
    let session = new_session(&app, &owner);
    offer(
        &app,
        &owner,
        &session,
        "euro",
        (100, "EUR"),
        (Some(1), Some("kg")),
    )
    .await;
    for (date, rates_date, stale) in [
        ("2026-12-01", json!("2026-12-01"), false),
        // Exactly 7 days (RATES_MAX_AGE's default) is not older than it.
        ("2026-12-08", json!("2026-12-01"), false),
        ("2026-12-09", json!("2026-12-01"), true),
        ("2026-11-30", Value::Null, false),
    ] {
        let r = offers(&app, &owner, &session, &format!("currency=USD&date={date}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (&r.data()["ratesDate"], &r.data()["ratesStale"]),
            (&rates_date, &json!(stale)),
            "{date}"
        );
        let converted = &r.data()["items"][0]["converted"];
        assert_eq!(converted.is_null(), rates_date.is_null(), "{date}");
        assert_eq!(
            r.data()["items"][0]["unitPrice"].is_null(),
            rates_date.is_null(),
            "{date}"
        );
    }
    // RATES_MAX_AGE is a setting.
    let app = TestApp::spawn_with(&[("RATES_MAX_AGE", "1d")]).await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    ecb_day(&app, &admin, "2026-12-01").await;
    let owner = app.register("owner@example.com").await;
    let session = new_session(&app, &owner);
    let r = offers(&app, &owner, &session, "currency=EUR&date=2026-12-03").await;
    assert_eq!(
        (&r.data()["ratesStale"], &r.data()["items"]),
        (&json!(true), &json!([]))
    );
}

#[actix_web::test]
async fn offers_are_read_like_their_session_and_the_query_is_validated() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let stranger = app.register("stranger@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let session = new_session(&app, &owner);
    offer(&app, &owner, &session, "euro", (100, "EUR"), (None, None)).await;
    for caller in [&owner, &agent, &admin] {
        let r = offers(&app, caller, &session, "currency=EUR").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(names(&r), ["euro"]);
    }
    let not_found =
        json!({ "status": "error", "message": "Chat session not found", "code": "NOT_FOUND" });
    let r = offers(&app, &stranger, &session, "currency=EUR").await;
    assert_eq!((r.status, &r.body), (404, &not_found));
    let nowhere = uuid::Uuid::now_v7().to_string();
    let r = offers(&app, &owner, &nowhere, "currency=EUR").await;
    assert_eq!((r.status, &r.body), (404, &not_found));
    let r = app
        .call(
            awc::http::Method::GET,
            &format!("/api/v1/sessions/{session}/offers?currency=EUR"),
            None,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"));
    for (query, field, message) in [
        ("", "currency", "is required"),
        (
            "currency=eur",
            "currency",
            "must be an upper-case ISO 4217 currency code",
        ),
        (
            "currency=EURO",
            "currency",
            "must be an upper-case ISO 4217 currency code",
        ),
        (
            "currency=EUR&date=2026-12-4",
            "date",
            "must be a date written YYYY-MM-DD",
        ),
    ] {
        let r = offers(&app, &owner, &session, query).await;
        assert_eq!(
            (r.status, &r.body),
            (400, &invalid(field, message)),
            "{query}"
        );
    }
    let r = offers(&app, &owner, &session, "currency=EUR&sort=price").await;
    assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
}

// ---------------------------------------------------------------- §3.7 price sort

#[actix_web::test]
async fn sellers_sorted_by_price_are_grouped_by_currency_then_by_price_minor() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let session = new_session(&app, &owner);
    offer(
        &app,
        &owner,
        &session,
        "usd 100",
        (100, "USD"),
        (None, None),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "eur 300",
        (300, "EUR"),
        (None, None),
    )
    .await;
    offer(&app, &owner, &session, "jpy 50", (50, "JPY"), (None, None)).await;
    offer(
        &app,
        &owner,
        &session,
        "eur 200",
        (200, "EUR"),
        (None, None),
    )
    .await;
    offer(
        &app,
        &owner,
        &session,
        "usd 900",
        (900, "USD"),
        (None, None),
    )
    .await;
    for (sort, want) in [
        (
            "price",
            ["eur 200", "eur 300", "jpy 50", "usd 100", "usd 900"],
        ),
        (
            "-price",
            ["eur 300", "eur 200", "jpy 50", "usd 900", "usd 100"],
        ),
    ] {
        let r = app
            .get(
                &format!("/api/v1/sessions/{session}/sellers?sort={sort}"),
                &owner.token,
            )
            .await;
        assert_eq!(r.status, 200);
        let got: Vec<&str> = r.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{sort}");
    }
}

// ---------------------------------------------------------------- dealroom import-rates

/// A file of its own in the temporary directory, named `name`.
fn rate_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dealroom-rates-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `dealroom import-rates` with `args`: its exit code, stdout and stderr.
fn import_rates(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(dealroom_binary())
        .arg("import-rates")
        .args(args)
        .env_clear()
        .env("APP_ENV", "test")
        .env("DATABASE_URL", app.db.url())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

/// Every stored rate with the transaction that last wrote its row: a second
/// import that changes nothing leaves this exactly as it was.
fn stored_rows(app: &TestApp) -> String {
    use diesel::{QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Rows {
        #[diesel(sql_type = diesel::sql_types::Text)]
        rows: String,
    }
    let mut c = app.db.conn();
    diesel::sql_query(
        "SELECT coalesce(string_agg(line, E'\\n' ORDER BY line), '') AS rows FROM (\
           SELECT d.date || ' ' || d.base || ' ' || d.xmin::text AS line FROM exchange_rate_dates d \
           UNION ALL \
           SELECT r.date || ' ' || r.currency || ' ' || r.rate || ' ' || r.xmin::text FROM exchange_rates r) t",
    )
    .get_result::<Rows>(&mut c)
    .unwrap()
    .rows
}

const ECB_DAILY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-12-04'>
			<Cube currency='USD' rate='1.0812'/>
			<Cube currency='JPY' rate='157.12'/>
			<Cube currency='GBP' rate='0.85830'/>
		</Cube>
	</Cube>
</gesmes:Envelope>
"#;

const ECB_HISTORY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time="2026-12-04">
			<Cube currency="USD" rate="1.0812"/>
			<Cube currency="JPY" rate="157.12"/>
		</Cube>
		<Cube time="2026-12-03">
			<Cube currency="USD" rate="1.0799"/>
			<Cube currency="JPY" rate="156.9"/>
		</Cube>
	</Cube>
</gesmes:Envelope>
"#;

#[actix_web::test]
async fn importing_the_ecb_daily_file_stores_its_day_and_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let file = rate_file("eurofxref-daily.xml", ECB_DAILY);
    let path = file.to_str().unwrap();
    let (code, out, err) = import_rates(&app, &[path]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!("stored 1 dates and 3 rates from {path}"));
    let first = stored_rows(&app);
    let (code, out, err) = import_rates(&app, &[path, "--base", "EUR"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!("stored 1 dates and 3 rates from {path}"));
    assert_eq!(stored_rows(&app), first, "the second import wrote rows");
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let r = app
        .get("/api/v1/exchange-rates?date=2026-12-06", &admin.token)
        .await;
    assert_eq!(
        r.data()["exchangeRates"],
        json!({ "base": "EUR", "date": "2026-12-04",
                "rates": { "GBP": "0.8583", "JPY": "157.12", "USD": "1.0812" } })
    );
}

#[actix_web::test]
async fn importing_an_ecb_history_file_stores_each_day_and_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let file = rate_file("eurofxref-hist-90d.xml", ECB_HISTORY);
    let path = file.to_str().unwrap();
    for _ in 0..2 {
        let (code, out, err) = import_rates(&app, &[path]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, format!("stored 2 dates and 4 rates from {path}"));
    }
    let first = stored_rows(&app);
    import_rates(&app, &[path]);
    assert_eq!(stored_rows(&app), first);
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let r = app
        .get("/api/v1/exchange-rates?date=2026-12-03", &admin.token)
        .await;
    assert_eq!(
        r.data()["exchangeRates"],
        json!({ "base": "EUR", "date": "2026-12-03", "rates": { "JPY": "156.9", "USD": "1.0799" } })
    );
}

#[actix_web::test]
async fn importing_a_csv_uses_its_base_and_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let file = rate_file(
        "rates.csv",
        "date,currency,rate\n2026-12-04,EUR,0.9249\n2026-12-04,JPY,145.32\n2026-12-03,EUR,0.926\n",
    );
    let path = file.to_str().unwrap();
    for _ in 0..2 {
        let (code, out, err) = import_rates(&app, &[path, "--base", "USD"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, format!("stored 2 dates and 3 rates from {path}"));
    }
    let first = stored_rows(&app);
    import_rates(&app, &["--base=USD", path]);
    assert_eq!(stored_rows(&app), first);
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let r = app
        .get("/api/v1/exchange-rates?date=2026-12-04", &admin.token)
        .await;
    assert_eq!(
        r.data()["exchangeRates"],
        json!({ "base": "USD", "date": "2026-12-04", "rates": { "EUR": "0.9249", "JPY": "145.32" } })
    );
    // Without --base a CSV is refused before anything is read into the database.
    let (code, _, err) = import_rates(&app, &[path]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "dealroom: a date,currency,rate CSV needs --base, the currency its rates are against; see dealroom --help"
    );
}

#[actix_web::test]
async fn a_file_that_fails_half_way_stores_nothing_and_names_its_line() {
    let app = TestApp::spawn().await;
    let csv = rate_file(
        "rates.csv",
        "date,currency,rate\n2026-12-04,USD,1.0812\n2026-12-05,USD,1.08123456789\n",
    );
    let path = csv.to_str().unwrap();
    let (code, out, err) = import_rates(&app, &[path, "--base", "EUR"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(
        err,
        format!(
            "dealroom: {path}: line 3: 2026-12-05,USD,1.08123456789: USD must have at most 10 significant digits; nothing was stored"
        )
    );
    let xml = rate_file(
        "eurofxref-hist-90d.xml",
        &ECB_HISTORY.replace(
            "<Cube currency=\"JPY\" rate=\"156.9\"/>",
            "<Cube currency=\"JPY\" rate=\"0\"/>",
        ),
    );
    let path = xml.to_str().unwrap();
    let (code, _, err) = import_rates(&app, &[path]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "dealroom: {path}: line 14: <Cube currency=\"JPY\" rate=\"0\">: must be positive; nothing was stored"
        )
    );
    let (code, _, err) = import_rates(&app, &[path, "--base", "USD"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "dealroom: the ECB's rates are against EUR: --base USD applies to a CSV; see dealroom --help"
    );
    assert_eq!(stored_rows(&app), "");
}
