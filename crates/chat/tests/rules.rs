//! The role and access rules of chat sessions and messages, on the real
//! service over `testkit::memory::MemoryStore`: no database, no HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat::ChatService;
use chat::inputs::{
    MessageListQuery, NewSessionInput, PostMessageInput, RenameSessionInput, SessionListQuery,
};
use domain::page::Cursors;
use domain::ports::Posted;
use domain::*;
use std::sync::Arc;
use testkit::memory::MemoryStore;
use time::OffsetDateTime;

use testkit::assert_err;

struct World {
    store: Arc<MemoryStore>,
    chat: ChatService,
    /// Owns `session`.
    ann: Actor,
    /// Another user.
    bob: Actor,
    agent: Actor,
    admin: Actor,
    session: ChatSessionId,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let chat = ChatService::new(store.clone(), Cursors::new(b"test secret"));
    let ann = actor(&store, "ann", Role::User);
    let session = chat
        .create_session(&ann, NewSessionInput::default())
        .unwrap()
        .id;
    World {
        bob: actor(&store, "bob", Role::User),
        agent: actor(&store, "carl", Role::Agent),
        admin: actor(&store, "ada", Role::Admin),
        store,
        chat,
        ann,
        session,
    }
}

fn actor(store: &MemoryStore, name: &str, role: Role) -> Actor {
    store.signed_in(name, role).unwrap()
}

fn say(role: MessageRole, content: &str) -> PostMessageInput {
    PostMessageInput {
        role: Some(role),
        content: Some(content.to_owned()),
        ..PostMessageInput::default()
    }
}

fn text(content: &str) -> PostMessageInput {
    say(MessageRole::User, content)
}

fn created(posted: Posted) -> Message {
    match posted {
        Posted::Created(m) => m,
        Posted::Existing(m) => panic!("expected a new message, got the existing {}", m.id),
    }
}

fn title(t: &str) -> RenameSessionInput {
    RenameSessionInput {
        title: Some(t.to_owned()),
    }
}

fn sessions_of(user: Option<UserId>) -> SessionListQuery {
    SessionListQuery {
        user_id: user,
        ..SessionListQuery::default()
    }
}

fn page_query(limit: Option<i64>, cursor: Option<String>, order: Option<&str>) -> MessageListQuery {
    MessageListQuery {
        limit,
        cursor,
        order: order.map(str::to_owned),
    }
}

// ------------------------------------------------------------ sessions

#[test]
fn a_user_cannot_read_another_users_session() {
    let w = world();
    assert_err!(w.chat.session(&w.bob, w.session), DomainError::NotFound(_));
    assert_eq!(w.chat.session(&w.ann, w.session).unwrap().id, w.session);
}

#[test]
fn a_user_cannot_rename_or_delete_another_users_session_nor_learn_it_exists() {
    let w = world();
    assert_err!(
        w.chat.rename_session(&w.bob, w.session, title("Mine now")),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.chat.delete_session(&w.bob, w.session),
        DomainError::NotFound(_)
    );
    assert_eq!(w.chat.session(&w.ann, w.session).unwrap().title, "New chat");
}

#[test]
fn agents_and_admins_read_any_session() {
    let w = world();
    for a in [w.agent, w.admin] {
        assert_eq!(
            w.chat.session(&a, w.session).unwrap().user_id,
            w.ann.user_id
        );
    }
}

#[test]
fn an_agent_cannot_rename_or_delete_another_users_session() {
    let w = world();
    assert_err!(
        w.chat.rename_session(&w.agent, w.session, title("Agent's")),
        DomainError::Forbidden
    );
    assert_err!(
        w.chat.delete_session(&w.agent, w.session),
        DomainError::Forbidden
    );
    assert!(w.chat.session(&w.ann, w.session).is_ok());
}

#[test]
fn an_admin_renames_and_deletes_any_session() {
    let w = world();
    let renamed = w
        .chat
        .rename_session(&w.admin, w.session, title("  Audited "))
        .unwrap();
    assert_eq!(renamed.title, "Audited");
    w.chat.delete_session(&w.admin, w.session).unwrap();
    assert_err!(w.chat.session(&w.ann, w.session), DomainError::NotFound(_));
}

#[test]
fn a_missing_session_is_not_found_for_everyone() {
    let w = world();
    let nowhere = ChatSessionId::new();
    for a in [w.ann, w.agent, w.admin] {
        assert_err!(w.chat.session(&a, nowhere), DomainError::NotFound(_));
        assert_err!(
            w.chat
                .post_message(&a, nowhere, say(MessageRole::System, "x")),
            DomainError::NotFound(_)
        );
        assert_err!(w.chat.delete_session(&a, nowhere), DomainError::NotFound(_));
    }
}

#[test]
fn a_bad_body_on_someone_elses_session_is_not_found_not_invalid() {
    let w = world();
    assert_err!(
        w.chat.rename_session(&w.bob, w.session, title("   ")),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.chat.post_message(&w.bob, w.session, text("   ")),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.chat
            .post_message(&w.bob, w.session, PostMessageInput::default()),
        DomainError::NotFound(_)
    );
    assert_err!(
        w.chat.messages(
            &w.bob,
            w.session,
            page_query(Some(0), None, Some("sideways"))
        ),
        DomainError::NotFound(_)
    );
}

#[test]
fn a_bad_rename_by_an_agent_is_forbidden_before_invalid() {
    let w = world();
    assert_err!(
        w.chat.rename_session(&w.agent, w.session, title("")),
        DomainError::Forbidden
    );
}

#[test]
fn a_bad_body_on_ones_own_session_is_a_validation_error() {
    let w = world();
    assert_err!(
        w.chat.rename_session(&w.ann, w.session, title("   ")),
        DomainError::Validation(_)
    );
    assert_err!(
        w.chat.post_message(&w.ann, w.session, text("   ")),
        DomainError::Validation(_)
    );
    assert_err!(
        w.chat
            .messages(&w.ann, w.session, page_query(None, None, Some("sideways"))),
        DomainError::Validation(_)
    );
}

#[test]
fn a_user_lists_only_their_own_sessions() {
    let w = world();
    assert_err!(
        w.chat
            .list_sessions(&w.bob, sessions_of(Some(w.ann.user_id))),
        DomainError::Forbidden
    );
    assert!(
        w.chat
            .list_sessions(&w.bob, sessions_of(None))
            .unwrap()
            .items
            .is_empty()
    );
    // Naming themself is allowed.
    let own = w
        .chat
        .list_sessions(&w.ann, sessions_of(Some(w.ann.user_id)))
        .unwrap();
    assert_eq!(own.items.len(), 1);
}

#[test]
fn agents_and_admins_list_another_users_sessions() {
    let w = world();
    for a in [w.agent, w.admin] {
        let page = w
            .chat
            .list_sessions(&a, sessions_of(Some(w.ann.user_id)))
            .unwrap();
        let ids: Vec<ChatSessionId> = page.items.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![w.session]);
    }
}

#[test]
fn sessions_list_most_recent_activity_first() {
    let w = world();
    let new = |t: &str| {
        w.chat
            .create_session(
                &w.ann,
                NewSessionInput {
                    title: Some(t.into()),
                },
            )
            .unwrap()
            .id
    };
    let (b, c) = (new("B"), new("C"));
    w.chat.post_message(&w.ann, b, text("bump")).unwrap();
    let ids: Vec<ChatSessionId> = w
        .chat
        .list_sessions(&w.ann, sessions_of(None))
        .unwrap()
        .items
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![b, c, w.session]);
}

#[test]
fn a_session_cursor_is_good_only_for_the_list_it_came_from() {
    let w = world();
    for _ in 0..2 {
        w.chat
            .create_session(&w.ann, NewSessionInput::default())
            .unwrap();
    }
    w.chat
        .create_session(&w.agent, NewSessionInput::default())
        .unwrap();
    let first = w
        .chat
        .list_sessions(
            &w.agent,
            SessionListQuery {
                limit: Some(1),
                user_id: Some(w.ann.user_id),
                ..SessionListQuery::default()
            },
        )
        .unwrap();
    let cursor = first.next_cursor.unwrap();
    // Good for ann's list, read by anyone who may read it...
    let next = w
        .chat
        .list_sessions(
            &w.ann,
            SessionListQuery {
                cursor: Some(cursor.clone()),
                ..SessionListQuery::default()
            },
        )
        .unwrap();
    assert_eq!(next.items.len(), 2);
    // ...but not for the agent's own list.
    assert_err!(
        w.chat.list_sessions(
            &w.agent,
            SessionListQuery {
                cursor: Some(cursor.clone()),
                ..SessionListQuery::default()
            },
        ),
        DomainError::Validation(_)
    );
    // Nor as a message cursor.
    assert_err!(
        w.chat
            .messages(&w.ann, w.session, page_query(None, Some(cursor), None)),
        DomainError::Validation(_)
    );
}

// ------------------------------------------------------------ posting

#[test]
fn an_agent_posts_assistant_and_system_messages_in_any_session() {
    let w = world();
    for role in [MessageRole::Assistant, MessageRole::System] {
        for a in [w.agent, w.admin] {
            let m = created(
                w.chat
                    .post_message(&a, w.session, say(role, "hello"))
                    .unwrap(),
            );
            assert_eq!((m.role, m.sender_id), (role, Some(a.user_id)));
        }
    }
    assert_eq!(w.chat.session(&w.ann, w.session).unwrap().message_count, 4);
}

#[test]
fn an_agent_or_admin_cannot_post_a_user_message_in_someone_elses_session() {
    let w = world();
    for a in [w.agent, w.admin] {
        assert_err!(
            w.chat.post_message(&a, w.session, text("as if ann")),
            DomainError::Forbidden
        );
    }
    assert_eq!(w.chat.session(&w.ann, w.session).unwrap().message_count, 0);
}

#[test]
fn an_agent_posts_user_messages_in_their_own_session() {
    let w = world();
    let own = w
        .chat
        .create_session(&w.agent, NewSessionInput::default())
        .unwrap()
        .id;
    let m = created(w.chat.post_message(&w.agent, own, text("mine")).unwrap());
    assert_eq!(m.role, MessageRole::User);
}

#[test]
fn the_owner_may_not_post_assistant_or_system_messages() {
    let w = world();
    for role in [MessageRole::Assistant, MessageRole::System] {
        assert_err!(
            w.chat
                .post_message(&w.ann, w.session, say(role, "I am the bot")),
            DomainError::Forbidden
        );
    }
    assert_eq!(
        created(w.chat.post_message(&w.ann, w.session, text("hi")).unwrap()).role,
        MessageRole::User
    );
}

#[test]
fn a_user_cannot_post_into_another_users_session() {
    let w = world();
    for role in [MessageRole::User, MessageRole::Assistant] {
        assert_err!(
            w.chat.post_message(&w.bob, w.session, say(role, "hi")),
            DomainError::NotFound(_)
        );
    }
}

#[test]
fn a_client_message_id_makes_a_post_idempotent_per_session() {
    let w = world();
    let with_id = |content: &str| PostMessageInput {
        client_message_id: Some("c-1".into()),
        ..text(content)
    };
    let first = created(
        w.chat
            .post_message(&w.ann, w.session, with_id("one"))
            .unwrap(),
    );
    match w
        .chat
        .post_message(&w.ann, w.session, with_id("two"))
        .unwrap()
    {
        Posted::Existing(m) => assert_eq!((m.id, m.content), (first.id, Some("one".into()))),
        Posted::Created(m) => panic!("a second message {}", m.id),
    }
    assert_eq!(w.chat.session(&w.ann, w.session).unwrap().message_count, 1);
    let other = w
        .chat
        .create_session(&w.ann, NewSessionInput::default())
        .unwrap()
        .id;
    created(
        w.chat
            .post_message(&w.ann, other, with_id("elsewhere"))
            .unwrap(),
    );
}

#[test]
fn a_media_message_needs_a_medium_of_the_posters_own() {
    let w = world();
    let medium = |owner: UserId| {
        w.store
            .seed_media(Media {
                id: MediaId::new(),
                owner_id: Some(owner),
                mime_type: "image/png".into(),
                size_bytes: 1,
                file_name: None,
                sha256: "0".repeat(64),
                url: String::new(),
                created_at: OffsetDateTime::now_utc(),
            })
            .unwrap()
            .id
    };
    let post = |a: &Actor, media: MediaId| {
        w.chat.post_message(
            a,
            w.session,
            PostMessageInput {
                kind: Some(MessageKind::Media),
                media_id: Some(media),
                ..PostMessageInput::default()
            },
        )
    };
    let bobs = medium(w.bob.user_id);
    assert_err!(post(&w.ann, bobs), DomainError::NotFound("Media"));
    assert_err!(post(&w.ann, MediaId::new()), DomainError::NotFound("Media"));
    let anns = medium(w.ann.user_id);
    let m = created(post(&w.ann, anns).unwrap());
    assert_eq!(m.media.map(|md| md.id), Some(anns));
}

// ------------------------------------------------------------ reading

#[test]
fn reading_messages_follows_reading_the_session() {
    let w = world();
    let m = created(w.chat.post_message(&w.ann, w.session, text("hi")).unwrap());
    assert_err!(w.chat.message(&w.bob, m.id), DomainError::NotFound(_));
    assert_err!(
        w.chat
            .messages(&w.bob, w.session, MessageListQuery::default()),
        DomainError::NotFound(_)
    );
    for a in [w.ann, w.agent, w.admin] {
        assert_eq!(w.chat.message(&a, m.id).unwrap().id, m.id);
        let page = w
            .chat
            .messages(&a, w.session, MessageListQuery::default())
            .unwrap();
        assert_eq!(page.items.len(), 1);
    }
}

#[test]
fn message_pages_neither_skip_nor_repeat_in_either_order() {
    let w = world();
    let ids: Vec<MessageId> = (0..5)
        .map(|i| {
            created(
                w.chat
                    .post_message(&w.ann, w.session, text(&format!("m{i}")))
                    .unwrap(),
            )
            .id
        })
        .collect();
    for order in ["asc", "desc"] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = w
                .chat
                .messages(&w.ann, w.session, page_query(Some(2), cursor, Some(order)))
                .unwrap();
            seen.extend(page.items.iter().map(|m| m.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut expected = ids.clone();
        if order == "desc" {
            expected.reverse();
        }
        assert_eq!(seen, expected, "order {order}");
    }
}

#[test]
fn a_message_cursor_is_good_only_for_its_session_and_order() {
    let w = world();
    for i in 0..3 {
        w.chat
            .post_message(&w.ann, w.session, text(&format!("m{i}")))
            .unwrap();
    }
    let other = w
        .chat
        .create_session(&w.ann, NewSessionInput::default())
        .unwrap()
        .id;
    let cursor = w
        .chat
        .messages(&w.ann, w.session, page_query(Some(1), None, None))
        .unwrap()
        .next_cursor
        .unwrap();
    assert_err!(
        w.chat
            .messages(&w.ann, other, page_query(None, Some(cursor.clone()), None)),
        DomainError::Validation(_)
    );
    assert_err!(
        w.chat.messages(
            &w.ann,
            w.session,
            page_query(None, Some(cursor.clone()), Some("desc"))
        ),
        DomainError::Validation(_)
    );
    let first = if cursor.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{first}{}", &cursor[1..]);
    assert_err!(
        w.chat
            .messages(&w.ann, w.session, page_query(None, Some(tampered), None)),
        DomainError::Validation(_)
    );
}

// ------------------------------------------------------------ deleting

#[test]
fn the_sender_the_owner_and_admins_delete_a_message() {
    let w = world();
    let post =
        |a: &Actor, role| created(w.chat.post_message(a, w.session, say(role, "x")).unwrap()).id;
    // The agent deletes their own message in ann's session.
    let m = post(&w.agent, MessageRole::Assistant);
    w.chat.delete_message(&w.agent, m).unwrap();
    // The owner deletes the agent's message.
    let m = post(&w.agent, MessageRole::Assistant);
    w.chat.delete_message(&w.ann, m).unwrap();
    // An admin deletes the owner's message.
    let m = post(&w.ann, MessageRole::User);
    w.chat.delete_message(&w.admin, m).unwrap();
    assert_eq!(w.chat.session(&w.ann, w.session).unwrap().message_count, 0);
    assert_err!(w.chat.message(&w.ann, m), DomainError::NotFound(_));
}

#[test]
fn an_agent_cannot_delete_someone_elses_message() {
    let w = world();
    let m = created(
        w.chat
            .post_message(&w.ann, w.session, text("mine"))
            .unwrap(),
    )
    .id;
    assert_err!(w.chat.delete_message(&w.agent, m), DomainError::Forbidden);
    let other_agent = actor(&w.store, "dora", Role::Agent);
    let by_agent = created(
        w.chat
            .post_message(&w.agent, w.session, say(MessageRole::Assistant, "x"))
            .unwrap(),
    )
    .id;
    assert_err!(
        w.chat.delete_message(&other_agent, by_agent),
        DomainError::Forbidden
    );
}

#[test]
fn a_user_cannot_delete_a_message_they_cannot_read() {
    let w = world();
    let m = created(
        w.chat
            .post_message(&w.ann, w.session, text("mine"))
            .unwrap(),
    )
    .id;
    assert_err!(w.chat.delete_message(&w.bob, m), DomainError::NotFound(_));
    assert_err!(
        w.chat.delete_message(&w.ann, MessageId::new()),
        DomainError::NotFound(_)
    );
}

#[test]
fn deleting_a_session_takes_its_messages() {
    let w = world();
    let m = created(w.chat.post_message(&w.ann, w.session, text("x")).unwrap()).id;
    w.chat.delete_session(&w.ann, w.session).unwrap();
    assert_err!(w.chat.message(&w.admin, m), DomainError::NotFound(_));
}

// ---------------------------------------------------------------- streamed replies

fn stream(role: MessageRole, start: Option<&str>) -> PostMessageInput {
    PostMessageInput {
        role: Some(role),
        content: start.map(str::to_owned),
        stream: Some(true),
        ..PostMessageInput::default()
    }
}

fn delta(seq: i64, text: &str) -> chat::inputs::DeltaInput {
    chat::inputs::DeltaInput {
        seq: Some(seq),
        text: Some(text.to_owned()),
    }
}

fn done(content: Option<&str>) -> chat::inputs::CompleteInput {
    chat::inputs::CompleteInput {
        content: content.map(str::to_owned),
    }
}

#[test]
fn only_agents_and_admins_stream_and_only_assistant_or_system_replies() {
    let w = world();
    for who in [&w.ann, &w.bob] {
        assert_err!(
            w.chat
                .post_message(who, w.session, stream(MessageRole::Assistant, None)),
            DomainError::Forbidden | DomainError::NotFound(_)
        );
    }
    assert_err!(
        w.chat
            .post_message(&w.agent, w.session, stream(MessageRole::User, None)),
        DomainError::Validation(_)
    );
    for (who, role) in [
        (&w.agent, MessageRole::Assistant),
        (&w.admin, MessageRole::System),
    ] {
        let m = created(
            w.chat
                .post_message(who, w.session, stream(role, Some("Hi")))
                .unwrap(),
        );
        assert_eq!(m.status, MessageStatus::Streaming);
        assert_eq!(m.content.as_deref(), Some("Hi"));
        assert_eq!(m.completed_at, None);
    }
}

#[test]
fn a_reply_grows_by_its_senders_deltas_once_each_in_order_then_completes() {
    let w = world();
    let m = created(
        w.chat
            .post_message(&w.agent, w.session, stream(MessageRole::Assistant, None))
            .unwrap(),
    );
    assert_eq!(m.content.as_deref(), Some(""));
    let so_far = w
        .chat
        .append_delta(&w.agent, m.id, delta(1, "Oak "))
        .unwrap();
    assert_eq!(so_far.content.as_deref(), Some("Oak "));
    // A retry changes nothing; any other seq names the next.
    let again = w
        .chat
        .append_delta(&w.agent, m.id, delta(1, "Oak "))
        .unwrap();
    assert_eq!(again.content.as_deref(), Some("Oak "));
    for (seq, text) in [(1, "Elm "), (3, "x"), (0, "x")] {
        let e = w
            .chat
            .append_delta(&w.agent, m.id, delta(seq, text))
            .unwrap_err();
        match (seq, e) {
            (0, DomainError::Validation(_)) => {}
            (_, DomainError::OutOfSequence { expected: 2 }) => {}
            (seq, e) => panic!("seq {seq}: {e:?}"),
        }
    }
    // Only the sender: 403 to those who read the session, 404 to the rest.
    assert_err!(
        w.chat.append_delta(&w.admin, m.id, delta(2, "x")),
        DomainError::Forbidden
    );
    assert_err!(
        w.chat.append_delta(&w.ann, m.id, delta(2, "x")),
        DomainError::Forbidden
    );
    assert_err!(
        w.chat.append_delta(&w.bob, m.id, delta(2, "x")),
        DomainError::NotFound("Message")
    );
    assert_err!(
        w.chat.complete_message(&w.bob, m.id, done(None)),
        DomainError::NotFound("Message")
    );
    assert_err!(
        w.chat.append_delta(&w.bob, m.id, delta(0, "")),
        DomainError::NotFound("Message")
    );
    w.chat
        .append_delta(&w.agent, m.id, delta(2, "chairs"))
        .unwrap();
    let ended = match w.chat.complete_message(&w.agent, m.id, done(None)).unwrap() {
        chat::Completed::Now(m) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(ended.status, MessageStatus::Complete);
    assert_eq!(ended.content.as_deref(), Some("Oak chairs"));
    assert!(ended.completed_at.is_some());
    // Ended: a delta is a conflict, completing again answers it as it is.
    assert_err!(
        w.chat.append_delta(&w.agent, m.id, delta(3, "x")),
        DomainError::Conflict(_)
    );
    let again = w
        .chat
        .complete_message(&w.agent, m.id, done(Some("Other")))
        .unwrap();
    assert_eq!(again, chat::Completed::Already(ended));
}

#[test]
fn a_final_content_replaces_the_deltas_and_32000_characters_is_the_most() {
    let w = world();
    let long = "x".repeat(31_999);
    let m = created(
        w.chat
            .post_message(
                &w.agent,
                w.session,
                stream(MessageRole::Assistant, Some(&long)),
            )
            .unwrap(),
    );
    assert_err!(
        w.chat.append_delta(&w.agent, m.id, delta(1, "ab")),
        DomainError::LimitReached(_)
    );
    w.chat.append_delta(&w.agent, m.id, delta(1, "a")).unwrap();
    let ended = w
        .chat
        .complete_message(&w.agent, m.id, done(Some("Short.")))
        .unwrap();
    assert_eq!(ended.message().content.as_deref(), Some("Short."));
}

#[test]
fn an_idle_reply_ends_incomplete_with_what_it_has() {
    let w = world();
    let m = created(
        w.chat
            .post_message(&w.agent, w.session, stream(MessageRole::Assistant, None))
            .unwrap(),
    );
    w.chat
        .append_delta(&w.agent, m.id, delta(1, "half"))
        .unwrap();
    let none = w
        .chat
        .expire_idle_streams(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(none.is_empty());
    let ended = w
        .chat
        .expire_idle_streams(std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].status, MessageStatus::Incomplete);
    assert_eq!(ended[0].content.as_deref(), Some("half"));
    let page = w
        .chat
        .messages(&w.ann, w.session, MessageListQuery::default())
        .unwrap();
    assert_eq!(page.items, ended);
}
