//! Schema invariants: migrations reverse cleanly, owning foreign keys cascade,
//! and the database itself refuses what the rules forbid.

use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, sql_query};
use testkit::TestDb;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// Tables, columns, constraints and indexes of the public schema, as text.
fn catalog(c: &mut PgConnection) -> Vec<String> {
    let q = "
        SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
               || ' ' || coalesce(column_default, '') AS line
          FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL
        SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'";
    let mut lines: Vec<String> = sql_query(q)
        .load::<Line>(c)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    lines.retain(|l| !l.contains("__diesel_schema_migrations"));
    lines.sort();
    lines
}

#[test]
fn every_down_migration_undoes_its_up_migration() {
    let db = TestDb::new();
    let mut c = db.conn();
    let full = catalog(&mut c);
    // Step down one migration at a time, remembering each state, then back up.
    let mut states = vec![full.clone()];
    let mut reverted = Vec::new();
    while let Ok(name) = store::migrations::revert_last(&mut c) {
        reverted.push(name);
        states.push(catalog(&mut c));
        if states.last().is_some_and(|s| s.is_empty()) {
            break;
        }
    }
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().join("up.sql").exists()))
        .count();
    assert_eq!(
        reverted.len(),
        migrations,
        "every migration reverted: {reverted:?}"
    );
    assert_eq!(
        states.last().unwrap(),
        &Vec::<String>::new(),
        "nothing is left after reverting all"
    );
    // Applying them again one by one reaches each earlier state exactly.
    use diesel_migrations::MigrationHarness;
    for expected in states.iter().rev().skip(1) {
        c.run_next_migration(testkit::MIGRATIONS).unwrap();
        assert_eq!(&catalog(&mut c), expected);
    }
    assert_eq!(catalog(&mut c), full);
}

#[derive(QueryableByName, Debug)]
struct ForeignKey {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    on_delete: String,
}

#[test]
fn every_owning_foreign_key_cascades() {
    let db = TestDb::new();
    let mut c = db.conn();
    let fks: Vec<ForeignKey> = sql_query(
        "SELECT conrelid::regclass || '.' || a.attname AS name, confdeltype::text AS on_delete
           FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
          WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace ORDER BY 1",
    )
    .load(&mut c)
    .unwrap();
    let got: Vec<(String, String)> = fks.into_iter().map(|f| (f.name, f.on_delete)).collect();
    let want: Vec<(String, String)> = [
        ("chat_sessions.user_id", "c"),
        // A date's rates go with it.
        ("exchange_rates.date", "c"),
        ("login_sessions.user_id", "c"),
        // An upload that messages in other people's sessions carry outlives
        // its uploader's account, unowned (store deletes the rest with them).
        ("media.owner_id", "n"),
        // A streamed reply's stream, its parts and deltas go with it.
        ("message_deltas.message_id", "c"),
        ("message_parts.message_id", "c"),
        ("message_streams.message_id", "c"),
        // A medium is never deleted under a message that carries it.
        ("messages.media_id", "r"),
        // The sender does not own a message in someone else's session: it stays, unattributed.
        ("messages.sender_id", "n"),
        ("messages.session_id", "c"),
        ("sellers.session_id", "c"),
        ("vendors.session_id", "c"),
        // An endpoint's deliveries go with it (pending ones are dropped).
        ("webhook_deliveries.webhook_id", "c"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(got, want);
}

/// Runs SQL that must fail with the named constraint.
fn refused(c: &mut PgConnection, sql: &str, constraint: &str) {
    let result =
        c.transaction::<_, diesel::result::Error, _>(|c| sql_query(sql).execute(c).map(|_| ()));
    match result {
        Err(diesel::result::Error::DatabaseError(_, info)) => {
            assert_eq!(info.constraint_name(), Some(constraint), "{sql}")
        }
        other => panic!("{sql}: expected a violation of {constraint}, got {other:?}"),
    }
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

fn names(c: &mut PgConnection, sql: &str) -> Vec<String> {
    sql_query(sql)
        .load::<Named>(c)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

#[test]
fn every_unique_index_maps_to_a_typed_conflict() {
    let db = TestDb::new();
    let mut c = db.conn();
    let unique = names(
        &mut c,
        "SELECT i.relname::text AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE x.indisunique AND i.relnamespace = 'public'::regnamespace \
           AND i.relname <> '__diesel_schema_migrations_pkey' ORDER BY 1",
    );
    assert!(unique.len() >= 13, "{unique:?}");
    for name in &unique {
        assert!(
            store::conflict_of(name).is_some(),
            "unique index {name} has no typed conflict"
        );
    }
    // …and the table names no index that does not exist.
    for (name, _) in store::UNIQUE_INDEXES {
        assert!(
            unique.iter().any(|u| u == name),
            "{name} is not in the schema"
        );
    }
}

#[test]
fn every_foreign_key_maps_to_the_entity_it_refers_to() {
    let db = TestDb::new();
    let mut c = db.conn();
    let fks = names(
        &mut c,
        "SELECT conname::text AS name FROM pg_constraint \
         WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1",
    );
    for name in &fks {
        assert!(
            store::parent_of(name).is_some(),
            "foreign key {name} has no entity"
        );
    }
    assert_eq!(fks.len(), store::FOREIGN_KEYS.len(), "{fks:?}");
}

#[test]
fn a_unique_violation_is_classified_as_its_conflict() {
    let db = TestDb::new();
    let mut c = db.conn();
    let insert = "INSERT INTO users (id, email, name, password_hash) \
                  VALUES (gen_random_uuid(), 'x@y.co', 'X', 'h')";
    sql_query(insert).execute(&mut c).unwrap();
    let err = sql_query(insert).execute(&mut c).unwrap_err();
    assert_eq!(
        store::classify(err),
        domain::StoreError::Conflict(domain::Conflict::EmailTaken)
    );
}

#[test]
fn each_constraint_rejects_what_it_should() {
    let db = TestDb::new();
    let mut c = db.conn();
    let u = "01900000-0000-7000-8000-000000000001";
    let s = "01900000-0000-7000-8000-000000000002";
    sql_query(format!(
        "INSERT INTO users (id, email, name, password_hash) VALUES ('{u}', 'a@b.co', 'A', 'h')"
    ))
    .execute(&mut c)
    .unwrap();
    sql_query(format!(
        "INSERT INTO chat_sessions (id, user_id, title) VALUES ('{s}', '{u}', 'T')"
    ))
    .execute(&mut c)
    .unwrap();
    let user = |id: &str, email: &str, name: &str, role: &str| {
        format!(
            "INSERT INTO users (id, email, name, password_hash, role) VALUES ('{id}', '{email}', '{name}', 'h', '{role}')"
        )
    };
    let id2 = "01900000-0000-7000-8000-0000000000f2";
    refused(
        &mut c,
        &user(id2, "A@B.CO", "A", "user"),
        "users_email_check",
    );
    refused(&mut c, &user(id2, "a@b.co", "A", "user"), "users_email_key");
    refused(&mut c, &user(id2, "c@b.co", "", "user"), "users_name_check");
    refused(
        &mut c,
        &user(id2, "c@b.co", "A", "owner"),
        "users_role_check",
    );
    refused(
        &mut c,
        &format!(
            "INSERT INTO chat_sessions (id, user_id, title) VALUES ('{id2}', '{u}', '{}')",
            "t".repeat(201)
        ),
        "chat_sessions_title_check",
    );
    let msg = |id: &str, seq: i64, kind: &str, content: &str, client: &str| {
        format!(
            "INSERT INTO messages (id, session_id, seq, role, kind, content, client_message_id) \
             VALUES ('{id}', '{s}', {seq}, 'user', '{kind}', {content}, {client})"
        )
    };
    sql_query(msg(
        "01900000-0000-7000-8000-0000000000a1",
        1,
        "text",
        "'hi'",
        "'c1'",
    ))
    .execute(&mut c)
    .unwrap();
    refused(
        &mut c,
        &msg(id2, 1, "text", "'x'", "NULL"),
        "messages_session_seq_key",
    );
    refused(
        &mut c,
        &msg(id2, 2, "text", "'x'", "'c1'"),
        "messages_session_client_message_id_key",
    );
    refused(
        &mut c,
        &msg(id2, 2, "text", "NULL", "NULL"),
        "messages_kind_fields_check",
    );
    refused(
        &mut c,
        &msg(id2, 2, "media", "'x'", "NULL"),
        "messages_kind_fields_check",
    );
    refused(
        &mut c,
        &msg(id2, 2, "text", "''", "NULL"),
        "messages_content_check",
    );
    refused(
        &mut c,
        &msg(id2, 2, "audio", "'x'", "NULL"),
        "messages_kind_check",
    );

    let vendor = |id: &str, name: &str, phone: &str, website: &str| {
        format!(
            "INSERT INTO vendors (id, session_id, name, phone, website) VALUES ('{id}', '{s}', '{name}', {phone}, {website})"
        )
    };
    sql_query(vendor(
        "01900000-0000-7000-8000-0000000000b1",
        "V",
        "'+1 (555) 010-0000'",
        "'https://v.example'",
    ))
    .execute(&mut c)
    .unwrap();
    refused(
        &mut c,
        &vendor(id2, "W", "NULL", "NULL"),
        "vendors_session_id_key",
    );
    sql_query(format!("DELETE FROM vendors WHERE session_id = '{s}'"))
        .execute(&mut c)
        .unwrap();
    refused(
        &mut c,
        &vendor(id2, "W", "'call me'", "NULL"),
        "vendors_phone_check",
    );
    refused(
        &mut c,
        &vendor(id2, "W", "NULL", "'ftp://v.example'"),
        "vendors_website_check",
    );

    let seller = |id: &str, name: &str, product: &str, price: &str, currency: &str| {
        format!(
            "INSERT INTO sellers (id, session_id, name, product_name, price_minor, currency) \
             VALUES ('{id}', '{s}', '{name}', '{product}', {price}, '{currency}')"
        )
    };
    sql_query(seller(
        "01900000-0000-7000-8000-0000000000c1",
        "Acme",
        "Widget",
        "100",
        "EUR",
    ))
    .execute(&mut c)
    .unwrap();
    refused(
        &mut c,
        &seller(id2, "ACME", "widget", "100", "EUR"),
        "sellers_session_name_product_key",
    );
    refused(
        &mut c,
        &seller(id2, "Other", "Widget", "-1", "EUR"),
        "sellers_price_minor_check",
    );
    refused(
        &mut c,
        &seller(id2, "Other", "Widget", "1000000000001", "EUR"),
        "sellers_price_minor_check",
    );
    refused(
        &mut c,
        &seller(id2, "Other", "Widget", "1", "eur"),
        "sellers_currency_check",
    );
    refused(
        &mut c,
        &format!(
            "INSERT INTO login_sessions (id, user_id, refresh_token_hash, expires_at) VALUES ('{id2}', '{u}', '\\x00', now() + interval '1 day')"
        ),
        "login_sessions_refresh_token_hash_check",
    );
    refused(
        &mut c,
        &format!(
            "INSERT INTO chat_sessions (id, user_id, title) VALUES ('{id2}', '01900000-0000-7000-8000-00000000dead', 'T')"
        ),
        "chat_sessions_user_id_fkey",
    );
    // Streamed replies: a streaming message has no content nor end yet, an
    // ended one has its end, and neither is a medium; a delta is 1 to 4,000
    // characters, and a reply at most 32,000.
    let message = |id: &str, content: &str, status: &str, completed: &str| {
        format!(
            "INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, status, completed_at) \
             VALUES ('{id}', '{s}', 9, '{u}', 'assistant', 'text', {content}, {status}, {completed})"
        )
    };
    let m = "01900000-0000-7000-8000-0000000000f3";
    refused(
        &mut c,
        &message(m, "'so far'", "'streaming'", "NULL"),
        "messages_stream_fields_check",
    );
    refused(
        &mut c,
        &message(m, "'done'", "'complete'", "NULL"),
        "messages_stream_fields_check",
    );
    refused(
        &mut c,
        &message(m, "NULL", "'paused'", "NULL"),
        "messages_status_check",
    );
    refused(
        &mut c,
        &message(m, "NULL", "NULL", "NULL"),
        "messages_kind_fields_check",
    );
    sql_query(message(m, "NULL", "'streaming'", "NULL"))
        .execute(&mut c)
        .unwrap();
    sql_query(format!(
        "INSERT INTO message_streams (message_id, session_id, sender_id) VALUES ('{m}', '{s}', '{u}')"
    ))
    .execute(&mut c)
    .unwrap();
    refused(
        &mut c,
        &format!("INSERT INTO message_deltas (message_id, seq, text) VALUES ('{m}', 1, '')"),
        "message_deltas_text_check",
    );
    refused(
        &mut c,
        &format!("UPDATE message_streams SET length = 32001 WHERE message_id = '{m}'"),
        "message_streams_length_check",
    );
}

#[test]
fn deleting_a_user_cascades_to_everything_they_own() {
    let db = TestDb::new();
    let mut c = db.conn();
    let u = "01900000-0000-7000-8000-000000000001";
    let s = "01900000-0000-7000-8000-000000000002";
    for q in [
        format!(
            "INSERT INTO users (id, email, name, password_hash) VALUES ('{u}', 'a@b.co', 'A', 'h')"
        ),
        format!(
            "INSERT INTO login_sessions (id, user_id, refresh_token_hash, expires_at) VALUES ('{s}', '{u}', sha256('x'), now() + interval '1 day')"
        ),
        format!("INSERT INTO chat_sessions (id, user_id, title) VALUES ('{s}', '{u}', 'T')"),
        format!(
            "INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content) VALUES ('{s}', '{s}', 1, '{u}', 'user', 'text', 'hi')"
        ),
        format!("INSERT INTO vendors (id, session_id, name) VALUES ('{s}', '{s}', 'V')"),
        format!(
            "INSERT INTO sellers (id, session_id, name, product_name, price_minor, currency) VALUES ('{s}', '{s}', 'S', 'P', 1, 'EUR')"
        ),
        format!("DELETE FROM users WHERE id = '{u}'"),
    ] {
        sql_query(q).execute(&mut c).unwrap();
    }
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    for table in [
        "login_sessions",
        "chat_sessions",
        "messages",
        "vendors",
        "sellers",
    ] {
        let n = sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<N>(&mut c)
            .unwrap()
            .n;
        assert_eq!(n, 0, "{table}");
    }
}
