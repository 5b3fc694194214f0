//! Each field's bounds are said once, in `domain::bounds`: the request types'
//! garde rules and the in-memory store use the constants, and these tests hold
//! the two copies that cannot name them to the same values: the database's
//! `CHECK` constraints and the OpenAPI document (the committed snapshot).

use diesel::{QueryableByName, RunQueryDsl, sql_query};
use domain::bounds;
use serde_json::Value;
use testkit::TestDb;

/// A bound and where it is written besides `domain::bounds`.
struct Fact {
    what: &'static str,
    min: i64,
    max: i64,
    /// The `CHECK` constraint and its column expression, if the database
    /// checks it (`min` is checked only when it is above 0).
    check: Option<(&'static str, &'static str)>,
    /// The OpenAPI schemas' properties that carry it (`Schema.property`).
    openapi: &'static [&'static str],
}

fn n(v: usize) -> i64 {
    i64::try_from(v).unwrap()
}

fn facts() -> Vec<Fact> {
    vec![
        Fact {
            what: "email",
            min: n(bounds::email::MIN),
            max: n(bounds::email::MAX),
            check: Some(("users_email_check", "char_length(email)")),
            openapi: &[
                "RegisterInput.email",
                "VendorInput.email",
                "SellerInput.email",
            ],
        },
        Fact {
            what: "vendor email",
            min: n(bounds::email::MIN),
            max: n(bounds::email::MAX),
            check: Some(("vendors_email_check", "char_length(email)")),
            openapi: &["VendorPatchInput.email"],
        },
        Fact {
            what: "seller email",
            min: n(bounds::email::MIN),
            max: n(bounds::email::MAX),
            check: Some(("sellers_email_check", "char_length(email)")),
            openapi: &["SellerPatchInput.email"],
        },
        Fact {
            what: "user name",
            min: n(bounds::user_name::MIN),
            max: n(bounds::user_name::MAX),
            check: Some(("users_name_check", "char_length(name)")),
            openapi: &[
                "RegisterInput.name",
                "ProfileInput.name",
                "AdminUserInput.name",
            ],
        },
        Fact {
            what: "password",
            min: n(bounds::password::MIN),
            max: n(bounds::password::MAX),
            check: None,
            openapi: &["RegisterInput.password", "ChangePasswordInput.newPassword"],
        },
        Fact {
            what: "device name",
            min: 0,
            max: n(bounds::device_name::MAX),
            check: Some((
                "login_sessions_device_name_check",
                "char_length(device_name)",
            )),
            openapi: &["RegisterInput.deviceName", "LoginInput.deviceName"],
        },
        Fact {
            what: "user agent",
            min: 0,
            max: n(bounds::user_agent::MAX),
            check: Some(("login_sessions_user_agent_check", "char_length(user_agent)")),
            openapi: &[],
        },
        Fact {
            what: "ip address",
            min: 0,
            max: n(bounds::ip_address::MAX),
            check: Some(("login_sessions_ip_address_check", "char_length(ip_address)")),
            openapi: &[],
        },
        Fact {
            what: "file name",
            min: n(bounds::file_name::MIN),
            max: n(bounds::file_name::MAX),
            check: Some(("media_file_name_check", "char_length(file_name)")),
            openapi: &[],
        },
        Fact {
            what: "session title",
            min: n(bounds::session_title::MIN),
            max: n(bounds::session_title::MAX),
            check: Some(("chat_sessions_title_check", "char_length(title)")),
            openapi: &["NewSessionInput.title", "RenameSessionInput.title"],
        },
        Fact {
            what: "message content",
            min: n(bounds::message_content::MIN),
            max: n(bounds::message_content::MAX),
            check: Some(("messages_content_check", "char_length(content)")),
            openapi: &[],
        },
        Fact {
            what: "client message id",
            min: n(bounds::client_message_id::MIN),
            max: n(bounds::client_message_id::MAX),
            check: Some((
                "messages_client_message_id_check",
                "char_length(client_message_id)",
            )),
            openapi: &[],
        },
        Fact {
            what: "vendor name",
            min: n(bounds::name::MIN),
            max: n(bounds::name::MAX),
            check: Some(("vendors_name_check", "char_length(name)")),
            openapi: &["VendorInput.name", "VendorPatchInput.name"],
        },
        Fact {
            what: "seller name",
            min: n(bounds::name::MIN),
            max: n(bounds::name::MAX),
            check: Some(("sellers_name_check", "char_length(name)")),
            openapi: &["SellerInput.name", "SellerPatchInput.name"],
        },
        Fact {
            what: "product name",
            min: n(bounds::name::MIN),
            max: n(bounds::name::MAX),
            check: Some(("sellers_product_name_check", "char_length(product_name)")),
            openapi: &["ProductInput.name", "ProductPatchInput.name"],
        },
        Fact {
            what: "website",
            min: 0,
            max: n(bounds::website::MAX),
            check: Some(("vendors_website_check", "char_length(website)")),
            openapi: &["VendorInput.website", "VendorPatchInput.website"],
        },
        Fact {
            what: "address",
            min: 0,
            max: n(bounds::address::MAX),
            check: Some(("vendors_address_check", "char_length(address)")),
            openapi: &["VendorInput.address", "VendorPatchInput.address"],
        },
        Fact {
            what: "notes",
            min: 0,
            max: n(bounds::notes::MAX),
            check: Some(("vendors_notes_check", "char_length(notes)")),
            openapi: &["VendorInput.notes", "VendorPatchInput.notes"],
        },
        Fact {
            what: "product description",
            min: 0,
            max: n(bounds::notes::MAX),
            check: Some((
                "sellers_product_description_check",
                "char_length(product_description)",
            )),
            openapi: &["ProductInput.description", "ProductPatchInput.description"],
        },
        Fact {
            what: "price",
            min: bounds::price_minor::MIN,
            max: bounds::price_minor::MAX,
            check: Some(("sellers_price_minor_check", "price_minor")),
            openapi: &["ProductInput.priceMinor", "ProductPatchInput.priceMinor"],
        },
        Fact {
            what: "quantity",
            min: bounds::quantity::MIN,
            max: bounds::quantity::MAX,
            check: Some(("sellers_quantity_check", "quantity")),
            openapi: &["ProductInput.quantity", "ProductPatchInput.quantity"],
        },
        Fact {
            what: "unit",
            min: n(bounds::unit::MIN),
            max: n(bounds::unit::MAX),
            check: Some(("sellers_unit_check", "char_length(unit)")),
            openapi: &["ProductInput.unit", "ProductPatchInput.unit"],
        },
        Fact {
            what: "webhook url",
            min: n(bounds::webhook_url::MIN),
            max: n(bounds::webhook_url::MAX),
            check: Some(("webhooks_url_check", "char_length(url)")),
            openapi: &["WebhookInput.url", "WebhookPatchInput.url"],
        },
        Fact {
            what: "webhook description",
            min: n(bounds::webhook_description::MIN),
            max: n(bounds::webhook_description::MAX),
            check: Some(("webhooks_description_check", "char_length(description)")),
            openapi: &["WebhookInput.description", "WebhookPatchInput.description"],
        },
    ]
}

#[derive(QueryableByName)]
struct Def {
    #[diesel(sql_type = diesel::sql_types::Text)]
    def: String,
}

#[test]
fn the_databases_checks_hold_the_bounds_of_domain_bounds() {
    let db = TestDb::new();
    let mut c = db.conn();
    for fact in facts() {
        let Some((name, column)) = fact.check else {
            continue;
        };
        let def = sql_query(format!(
            "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = '{name}'"
        ))
        .get_result::<Def>(&mut c)
        .unwrap_or_else(|e| panic!("{}: no constraint {name}: {e}", fact.what))
        .def;
        // PostgreSQL prints `BETWEEN a AND b` as two comparisons, and a
        // bigint literal quoted.
        let bound = |op: &str, v: i64| {
            [
                format!("({column} {op} {v})"),
                format!("({column} {op} '{v}'::bigint)"),
            ]
        };
        let has = |op, v| bound(op, v).iter().any(|b| def.contains(b.as_str()));
        assert!(
            has("<=", fact.max),
            "{}: {name} is {def}, the bound {}",
            fact.what,
            fact.max
        );
        if fact.min > 0 {
            assert!(
                has(">=", fact.min),
                "{}: {name} is {def}, the bound {}",
                fact.what,
                fact.min
            );
        }
    }
}

#[test]
fn the_openapi_document_holds_the_bounds_of_domain_bounds() {
    // The committed snapshot, which a unit test keeps equal to what is served.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bin/server/openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for fact in facts() {
        for at in fact.openapi {
            let (schema, property) = at.split_once('.').unwrap();
            let p = &schemas[schema]["properties"][property];
            assert!(!p.is_null(), "{}: no property {at}", fact.what);
            // An optional property may be `oneOf` its type and null.
            let find = |key: &str| {
                p.get(key).cloned().or_else(|| {
                    p["oneOf"]
                        .as_array()
                        .and_then(|o| o.iter().find_map(|s| s.get(key).cloned()))
                })
            };
            let (lo, hi) = if p.get("maximum").is_some() || find("maximum").is_some() {
                ("minimum", "maximum")
            } else {
                ("minLength", "maxLength")
            };
            assert_eq!(
                find(hi).and_then(|v| v.as_i64()),
                Some(fact.max),
                "{}: {at}'s {hi}",
                fact.what
            );
            // The OpenAPI document states a positive minimum where the rules
            // refuse less (an email's 3 is left to the email format).
            if let Some(v) = find(lo).and_then(|v| v.as_i64()) {
                assert_eq!(v, fact.min, "{}: {at}'s {lo}", fact.what);
            }
        }
    }
}
