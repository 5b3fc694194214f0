//! The `stream-reply` program, run as an agent service's operator runs it,
//! against a fresh database from testkit: the reply it streams ends
//! complete, with exactly the file's text, and a user may not stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dealroom::{
    Dealroom, MessageListQuery, MessageRole, MessageStatus, NewSessionInput, Options,
    RegisterInput, User,
};
use std::path::PathBuf;
use std::process::{Command, Output};

/// A text file in the temp directory, removed when dropped.
struct File(PathBuf);

impl File {
    fn new(db: &testkit::TestDb, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.txt", db.name()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn register(dr: &Dealroom, email: &str) -> User {
    let input = RegisterInput {
        email: Some(email.into()),
        password: Some("a long password".into()),
        name: Some("Someone".into()),
        device_name: None,
    };
    dr.auth.register(input, Default::default()).unwrap().user
}

fn stream_reply(db: &testkit::TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stream-reply"))
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
fn an_admin_streams_a_file_word_by_word_and_the_reply_ends_as_its_text() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let ann = register(&dr, "ann@example.com");
    let ann_actor = dr.act_as(ann.id, "test").unwrap();
    let session = dr
        .chat
        .create_session(&ann_actor, NewSessionInput::default())
        .unwrap();
    let admin = RegisterInput {
        email: Some("bot@example.com".into()),
        password: Some("a long password".into()),
        name: Some("Bot".into()),
        device_name: None,
    };
    dr.auth.create_admin(admin).unwrap();
    let reply = "Oak chairs:  12 in stock,\nwalnut ones next week. Shall I reserve four?\n";
    let file = File::new(&db, reply);

    let out = stream_reply(
        &db,
        &[
            "--as",
            "bot@example.com",
            "--session",
            &session.id.to_string(),
            "--words-per-second",
            "200",
            file.0.to_str().unwrap(),
        ],
    );

    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("streaming reply "), "{stdout}");
    assert!(
        stdout.contains("13 deltas, 71 characters, complete"),
        "{stdout}"
    );
    // Ann reads it: one assistant message, complete, the file's text exactly.
    let page = dr
        .chat
        .messages(&ann_actor, session.id, MessageListQuery::default())
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let m = &page.items[0];
    assert_eq!(m.role, MessageRole::Assistant);
    assert_eq!(m.status, MessageStatus::Complete);
    assert_eq!(m.content.as_deref(), Some(reply));
    assert!(m.completed_at.is_some_and(|at| at >= m.created_at));
}

#[test]
fn a_user_may_not_stream_and_nothing_is_posted() {
    let db = testkit::TestDb::new();
    let dr = Dealroom::connect_with(db.url(), Options::for_tests()).unwrap();
    let ann = register(&dr, "ann@example.com");
    let ann_actor = dr.act_as(ann.id, "test").unwrap();
    let session = dr
        .chat
        .create_session(&ann_actor, NewSessionInput::default())
        .unwrap();
    let file = File::new(&db, "hello there");

    let out = stream_reply(
        &db,
        &[
            "--as",
            "ann@example.com",
            "--session",
            &session.id.to_string(),
            file.0.to_str().unwrap(),
        ],
    );

    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("stream-reply: the reply stopped: You do not have permission to do this"),
        "{}",
        text(&out.stderr)
    );
    let page = dr
        .chat
        .messages(&ann_actor, session.id, MessageListQuery::default())
        .unwrap();
    assert!(page.items.is_empty());
}
