//! Who may read a medium, signed links, and the collector's row rules, on the
//! real services over `testkit::memory::MemoryStore`: no database, no HTTP,
//! no storage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ::media::{MediaService, Upload};
use chat::ChatService;
use chat::inputs::{NewSessionInput, PostMessageInput};
use domain::media::{MediaUrls, now};
use domain::page::Cursors;
use domain::ports::{MediaStore, Posted};
use domain::*;
use std::sync::Arc;
use std::time::Duration;
use testkit::memory::MemoryStore;

fn actor(store: &MemoryStore, name: &str, role: Role) -> Actor {
    store.signed_in(name, role).unwrap()
}

fn upload(sha: char, name: &str) -> Upload {
    Upload {
        sha256: sha.to_string().repeat(64),
        size_bytes: 10,
        mime_type: "image/png",
        file_name: Some(name.to_owned()),
    }
}

struct World {
    store: Arc<MemoryStore>,
    media: MediaService,
    chat: ChatService,
}

fn world(orphan_ttl: Duration) -> World {
    let store = Arc::new(MemoryStore::new());
    let urls = MediaUrls::new(b"test secret", Duration::from_secs(900));
    World {
        media: MediaService::new(store.clone(), urls.clone(), 1000, orphan_ttl),
        chat: ChatService::new(store.clone(), Cursors::new(b"test secret")).with_media_urls(urls),
        store,
    }
}

fn post_media(w: &World, who: &Actor, session: ChatSessionId, id: MediaId) -> Message {
    let posted = w
        .chat
        .post_message(
            who,
            session,
            PostMessageInput {
                kind: Some(MessageKind::Media),
                media_id: Some(id),
                ..PostMessageInput::default()
            },
        )
        .unwrap();
    match posted {
        Posted::Created(m) => m,
        Posted::Existing(m) => m,
    }
}

#[test]
fn the_owner_and_whoever_may_read_a_message_carrying_it_read_a_medium() {
    let w = world(Duration::from_secs(86_400));
    let ann = actor(&w.store, "ann", Role::User);
    let bob = actor(&w.store, "bob", Role::User);
    let agent = actor(&w.store, "agent", Role::Agent);
    let m = w.media.create(&ann, upload('a', "../x/cat.png")).unwrap();
    assert_eq!(m.file_name.as_deref(), Some("cat.png"));
    assert!(
        m.url
            .starts_with(&format!("/api/v1/media/{}?expires=", m.id))
    );

    assert_eq!(w.media.get(&ann, m.id).unwrap().id, m.id);
    for who in [&bob, &agent] {
        assert!(matches!(
            w.media.get(who, m.id),
            Err(DomainError::NotFound("Media"))
        ));
    }
    let session = w
        .chat
        .create_session(&ann, NewSessionInput::default())
        .unwrap()
        .id;
    let message = post_media(&w, &ann, session, m.id);
    assert!(message.media.unwrap().url.contains("sig="));
    // Agents read every chat, so they read what its messages carry; bob does not.
    assert_eq!(w.media.get(&agent, m.id).unwrap().id, m.id);
    assert!(matches!(
        w.media.get(&bob, m.id),
        Err(DomainError::NotFound("Media"))
    ));
}

#[test]
fn uploads_are_checked_before_a_row_is_written() {
    let w = world(Duration::from_secs(86_400));
    let ann = actor(&w.store, "ann", Role::User);
    let empty = Upload {
        size_bytes: 0,
        ..upload('a', "a.png")
    };
    assert!(matches!(
        w.media.create(&ann, empty),
        Err(DomainError::UnsupportedMediaType(_))
    ));
    let large = Upload {
        size_bytes: 1001,
        ..upload('a', "a.png")
    };
    assert!(matches!(
        w.media.create(&ann, large),
        Err(DomainError::PayloadTooLarge(_))
    ));
    let svg = Upload {
        mime_type: "image/svg+xml",
        ..upload('a', "a.svg")
    };
    assert!(w.media.create(&ann, svg).is_err());
    assert_eq!(w.media.gone_objects(10).unwrap(), Vec::<String>::new());
}

#[test]
fn signed_links_open_a_medium_without_an_actor_until_they_expire() {
    let w = world(Duration::from_secs(86_400));
    let ann = actor(&w.store, "ann", Role::User);
    let m = w.media.create(&ann, upload('b', "b.png")).unwrap();
    let urls = MediaUrls::new(b"test secret", Duration::from_secs(900));
    let parts = |link: &str| {
        let q = link.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut sig = String::new();
        for p in q.split('&') {
            match p.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap(),
                Some(("sig", v)) => sig = v.to_owned(),
                _ => {}
            }
        }
        (expires, sig)
    };
    let (expires, sig) = parts(&m.url);
    assert_eq!(w.media.get_signed(m.id, expires, &sig).unwrap().id, m.id);
    let (old, old_sig) = parts(&urls.link(m.id, now() - 3600));
    assert!(matches!(
        w.media.get_signed(m.id, old, &old_sig),
        Err(DomainError::NotFound("Media"))
    ));
    assert!(matches!(
        w.media.get_signed(m.id, expires, "bad"),
        Err(DomainError::NotFound("Media"))
    ));
}

#[test]
fn the_collector_deletes_old_uncarried_uploads_and_lists_their_objects() {
    let w = world(Duration::ZERO);
    let ann = actor(&w.store, "ann", Role::User);
    let kept = w.media.create(&ann, upload('c', "c.png")).unwrap();
    let session = w
        .chat
        .create_session(&ann, NewSessionInput::default())
        .unwrap()
        .id;
    post_media(&w, &ann, session, kept.id);
    let orphan = w.media.create(&ann, upload('d', "d.png")).unwrap();
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(w.media.delete_orphans().unwrap(), 1);
    assert!(w.store.media(orphan.id).unwrap().is_none());
    assert!(w.store.media(kept.id).unwrap().is_some());
    let gone = w.media.gone_objects(10).unwrap();
    assert_eq!(gone, vec!["d".repeat(64)]);
    let claim = w.media.claim_unreferenced(&gone[0]).unwrap().unwrap();
    claim.release().unwrap();
    assert_eq!(w.media.gone_objects(10).unwrap(), Vec::<String>::new());
    // Still referred to: no claim.
    assert!(
        w.media
            .claim_unreferenced(&"c".repeat(64))
            .unwrap()
            .is_none()
    );
}
