//! The `import-offers` program, run as a back-office operator runs it, against
//! a fresh database from testkit, used exactly as a downstream crate uses it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dealroom::{
    AdminUserInput, Dealroom, DomainError, NewSessionInput, Options, RegisterInput, Role,
    SellerListQuery, User,
};
use std::path::PathBuf;
use std::process::{Command, Output};

/// A CSV in the temp directory, removed when dropped.
struct Csv(PathBuf);

impl Csv {
    fn new(db: &testkit::TestDb, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.csv", db.name()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for Csv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn user(dr: &Dealroom, email: &str, role: Role) -> User {
    let input = RegisterInput {
        email: Some(email.into()),
        password: Some("a long password".into()),
        name: Some("Someone".into()),
        device_name: None,
    };
    match role {
        Role::Admin => dr.auth.create_admin(input).unwrap(),
        _ => dr.auth.register(input, Default::default()).unwrap().user,
    }
}

fn import_offers(db: &testkit::TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_import-offers"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn an_admin_imports_offers_and_a_duplicate_is_the_markets_conflict() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let ops = user(&dr, "ops@example.com", Role::Admin);
    let csv = Csv::new(
        &db,
        "seller,email,product,price_minor,currency,quantity,unit\n\
         Acme,sales@acme.test,Oak chair,12900,EUR,4,piece\n\
         \"Birch & Co\",,Birch chair,9900,EUR,,\n\
         Acme,,oak chair,12500,EUR,,\n",
    );

    let out = import_offers(
        &db,
        &[
            "--as",
            "OPS@example.com",
            "--title",
            "Office chairs",
            csv.0.to_str().unwrap(),
        ],
    );

    // The job's acting as the admin is recorded, on the `security` target.
    assert_eq!(
        text(&out.stderr),
        format!(
            "[INFO  security] user {} (admin) via service import-offers acts without a login\n",
            ops.id
        )
    );
    assert_eq!(out.status.code(), Some(0));
    let sessions = dr
        .chat
        .list_sessions(&dr.act_as(ops.id, "test").unwrap(), Default::default())
        .unwrap()
        .items;
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    let admin = dr.act_as(ops.id, "test").unwrap();
    let sellers = dr
        .market
        .sellers(&admin, session.id, SellerListQuery::default())
        .unwrap();
    let id_of = |name: &str| sellers.iter().find(|s| s.name == name).unwrap().id;
    assert_eq!(
        text(&out.stdout),
        format!(
            "acting as user {} (admin) via service import-offers\n\
             chat session {} \"Office chairs\"\n\
             line 2: added Acme / Oak chair at 12900 EUR (seller {})\n\
             line 3: added Birch & Co / Birch chair at 9900 EUR (seller {})\n\
             line 4: duplicate, skipped: This seller already offers this product in this chat session\n\
             2 added, 1 duplicate, 0 invalid\n",
            ops.id,
            session.id,
            id_of("Acme"),
            id_of("Birch & Co"),
        )
    );
    assert_eq!(sellers.len(), 2);
    let acme = sellers.iter().find(|s| s.name == "Acme").unwrap();
    assert_eq!(acme.email.as_deref(), Some("sales@acme.test"));
    assert_eq!(acme.product.quantity, Some(4));
    assert_eq!(acme.product.unit.as_deref(), Some("piece"));
}

#[test]
fn invalid_lines_are_reported_with_the_rules_field_errors_and_exit_2() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    user(&dr, "ops@example.com", Role::Admin);
    let csv = Csv::new(
        &db,
        "seller,product,price_minor,currency\n\
         Acme,Oak chair,-1,EUR\n\
         Acme,Oak chair,ten,EUR\n\
         Acme,Oak chair,100\n\
         Acme,Oak chair,100,EUR\n",
    );

    let out = import_offers(
        &db,
        &[
            "--as",
            "ops@example.com",
            "--title",
            "Chairs",
            csv.0.to_str().unwrap(),
        ],
    );

    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().skip(2).collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines[0].starts_with("line 2: invalid: product.priceMinor "),
        "{stdout}"
    );
    assert_eq!(lines[1], "line 3: invalid: price_minor: not a whole number");
    assert_eq!(
        lines[2],
        "line 4: invalid: 3 fields where the header names 4"
    );
    assert!(lines[3].starts_with("line 5: added Acme / Oak chair at 100 EUR (seller "));
    assert_eq!(lines[4], "1 added, 0 duplicate, 3 invalid");
}

#[test]
fn a_plain_user_cannot_import_into_someone_elses_session() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let ann = user(&dr, "ann@example.com", Role::User);
    let bob = user(&dr, "bob@example.com", Role::User);
    let anns = dr
        .chat
        .create_session(
            &dr.act_as(ann.id, "test").unwrap(),
            NewSessionInput {
                title: Some("Ann's".into()),
            },
        )
        .unwrap();
    let csv = Csv::new(
        &db,
        "seller,product,price_minor,currency\nAcme,Oak chair,100,EUR\n",
    );

    let out = import_offers(
        &db,
        &[
            "--as",
            "bob@example.com",
            "--session",
            &anns.id.to_string(),
            csv.0.to_str().unwrap(),
        ],
    );

    // The same rule as over HTTP: a session the caller may not read is not found.
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "[INFO  security] user {} (user) via service import-offers acts without a login\n\
             import-offers: chat session: Chat session not found\n",
            bob.id
        )
    );
}

#[test]
fn an_unknown_or_deactivated_user_cannot_be_acted_as() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let csv = Csv::new(&db, "seller,product,price_minor,currency\n");

    let out = import_offers(
        &db,
        &[
            "--as",
            "nobody@example.com",
            "--title",
            "T",
            csv.0.to_str().unwrap(),
        ],
    );

    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "import-offers: cannot act as nobody@example.com: User not found\n"
    );
    let ops = user(&dr, "ops@example.com", Role::Admin);
    let gone = user(&dr, "gone@example.com", Role::User);
    dr.accounts
        .update_user(
            &dr.act_as(ops.id, "test").unwrap(),
            gone.id,
            AdminUserInput::deactivate(),
        )
        .unwrap();
    assert!(matches!(
        dr.act_as(gone.id, "test"),
        Err(DomainError::Forbidden)
    ));
    let out = import_offers(
        &db,
        &[
            "--as",
            "gone@example.com",
            "--title",
            "T",
            csv.0.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "[WARN  security] service import-offers refused: user {} is inactive\n\
             import-offers: cannot act as gone@example.com: You do not have permission to do this\n",
            gone.id
        )
    );
}

#[test]
fn an_import_stops_at_its_next_call_once_its_user_is_deactivated() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let boss = user(&dr, "boss@example.com", Role::Admin);
    let boss = dr.act_as(boss.id, "test").unwrap();
    let ops = user(&dr, "ops@example.com", Role::Admin);
    // The job acts as `ops` and keeps its actor for the whole import.
    let job = dr.act_as(ops.id, "import-offers").unwrap();
    let session = dr
        .chat
        .create_session(
            &job,
            NewSessionInput {
                title: Some("Chairs".into()),
            },
        )
        .unwrap();
    dr.accounts
        .update_user(&boss, ops.id, AdminUserInput::deactivate())
        .unwrap();

    let lines = dealroom_examples::read_offers(
        "seller,product,price_minor,currency\nAcme,Oak chair,12900,EUR\n",
    )
    .unwrap();
    let mut out = String::new();
    let report = dealroom_examples::import(&dr, &job, session.id, lines, &mut out);

    assert!(matches!(report, Err(DomainError::Forbidden)), "{report:?}");
    assert_eq!(out, "");
    let sellers = dr
        .market
        .sellers(&boss, session.id, SellerListQuery::default())
        .unwrap();
    assert_eq!(sellers.len(), 0);
}
