//! The rules of webhook endpoints (contract §3.11) on the real service over
//! `testkit::memory::MemoryStore`: no database, no HTTP, no network (names
//! resolve through a fixed table).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ::webhooks::WebhookService;
use ::webhooks::address::UrlPolicy;
use ::webhooks::inputs::{DeliveryListQuery, WebhookInput, WebhookPatchInput};
use chat::inputs::PostMessageInput;
use domain::page::Cursors;
use domain::ports::ChatStore;
use domain::webhooks::{DeliveryStatus, Resolver};
use domain::*;
use std::net::IpAddr;
use std::sync::Arc;
use testkit::assert_err;
use testkit::memory::MemoryStore;

/// A DNS of a few names.
struct Names;

impl Resolver for Names {
    fn resolve(&self, host: &str, _: u16) -> std::io::Result<Vec<IpAddr>> {
        let ips: &[&str] = match host {
            "hooks.example.com" => &["93.184.215.14", "2606:2800:21f:cb07::1"],
            "inside.example.com" => &["10.20.30.40"],
            "rebinding.example.com" => &["93.184.215.14", "127.0.0.1"],
            "v6.inside.example.com" => &["fd00::7"],
            _ => return Err(std::io::Error::other("no such host")),
        };
        Ok(ips.iter().map(|s| s.parse().unwrap()).collect())
    }
}

struct World {
    store: Arc<MemoryStore>,
    hooks: WebhookService,
    admin: Actor,
    agent: Actor,
    ann: Actor,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let hooks =
        WebhookService::new(store.clone(), Cursors::new(b"secret")).with_resolver(Arc::new(Names));
    World {
        admin: store.signed_in("ada", Role::Admin).unwrap(),
        agent: store.signed_in("carl", Role::Agent).unwrap(),
        ann: store.signed_in("ann", Role::User).unwrap(),
        store,
        hooks,
    }
}

fn input(url: &str, events: &[&str]) -> WebhookInput {
    WebhookInput {
        url: Some(url.to_owned()),
        events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
        description: None,
    }
}

fn fields(e: DomainError) -> Vec<(String, String)> {
    match e {
        DomainError::Validation(f) => f.into_iter().map(|f| (f.field, f.message)).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

#[test]
fn only_admins_manage_endpoints() {
    let w = world();
    let ok = w
        .hooks
        .create(&w.admin, input("https://hooks.example.com/in", &["*"]))
        .unwrap();
    let id = ok.webhook.id;
    for who in [&w.agent, &w.ann] {
        assert_err!(
            w.hooks
                .create(who, input("https://hooks.example.com/in", &["*"])),
            DomainError::Forbidden
        );
        assert_err!(w.hooks.list(who), DomainError::Forbidden);
        assert_err!(w.hooks.get(who, id), DomainError::Forbidden);
        assert_err!(
            w.hooks.update(who, id, WebhookPatchInput::default()),
            DomainError::Forbidden
        );
        assert_err!(w.hooks.rotate_secret(who, id), DomainError::Forbidden);
        assert_err!(
            w.hooks.deliveries(who, id, DeliveryListQuery::default()),
            DomainError::Forbidden
        );
        assert_err!(w.hooks.test(who, id), DomainError::Forbidden);
        assert_err!(w.hooks.delete(who, id), DomainError::Forbidden);
    }
    assert_eq!(w.hooks.list(&w.admin).unwrap().len(), 1);
    let unknown = WebhookId::new();
    assert_err!(
        w.hooks.get(&w.admin, unknown),
        DomainError::NotFound("Webhook")
    );
    assert_err!(
        w.hooks.test(&w.admin, unknown),
        DomainError::NotFound("Webhook")
    );
    assert_err!(
        w.hooks
            .deliveries(&w.admin, unknown, DeliveryListQuery::default()),
        DomainError::NotFound("Webhook")
    );
}

#[test]
fn a_new_endpoint_gets_a_whsec_secret_shown_once_and_rotation_replaces_it() {
    let w = world();
    let created = w
        .hooks
        .create(
            &w.admin,
            WebhookInput {
                description: Some("  the support bot  ".into()),
                ..input(
                    "https://hooks.example.com/in",
                    &["message.created", "session.deleted"],
                )
            },
        )
        .unwrap();
    let secret = created.secret.expose().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        ::webhooks::secret_key(&created.secret).map(|k| k.len()),
        Some(32)
    );
    let hook = created.webhook;
    assert_eq!(hook.description.as_deref(), Some("the support bot"));
    assert_eq!(hook.events, ["message.created", "session.deleted"]);
    assert!(hook.enabled);
    // The endpoint as read never shows its secret.
    let read = serde_json::to_string(&w.hooks.get(&w.admin, hook.id).unwrap()).unwrap();
    assert!(!read.contains("whsec_"), "{read}");
    let rotated = w.hooks.rotate_secret(&w.admin, hook.id).unwrap();
    assert!(rotated.secret.expose().starts_with("whsec_"));
    assert_ne!(rotated.secret.expose(), secret);
}

#[test]
fn urls_events_and_descriptions_are_validated() {
    let w = world();
    let refused = |i: WebhookInput| fields(w.hooks.create(&w.admin, i).unwrap_err());
    assert_eq!(
        refused(input("http://hooks.example.com/in", &["*"])),
        [("url".into(), "must be an https URL".into())]
    );
    assert_eq!(
        refused(input("https://hooks.example.com/in", &[])),
        [("events".into(), "must list at least one event type".into())]
    );
    assert_eq!(
        refused(input(
            "https://hooks.example.com/in",
            &["*", "message.created"]
        )),
        [("events".into(), "\"*\" must be alone".into())]
    );
    let delta = refused(input("https://hooks.example.com/in", &["message.delta"]));
    assert!(
        delta[0]
            .1
            .starts_with("\"message.delta\" is not an event type"),
        "{delta:?}"
    );
    assert_eq!(
        refused(input("https://hooks.example.com/in", &["webhook.test"]))[0].0,
        "events"
    );
    assert_eq!(
        refused(input(
            "https://hooks.example.com/in",
            &["seller.changed", "seller.changed"]
        )),
        [("events".into(), "\"seller.changed\" is listed twice".into())]
    );
    let mut missing = refused(WebhookInput::default());
    missing.sort();
    assert_eq!(
        missing,
        [
            ("events".into(), "is required".into()),
            ("url".into(), "is required".into())
        ]
    );
    let long = WebhookInput {
        description: Some("x".repeat(501)),
        ..input("https://hooks.example.com/in", &["*"])
    };
    assert_eq!(refused(long)[0].0, "description");
    let nul = input("https://hooks.example.com/in\0", &["*"]);
    assert_eq!(refused(nul)[0].0, "url");
    let long_url = input(
        &format!("https://hooks.example.com/{}", "a".repeat(2048)),
        &["*"],
    );
    assert_eq!(refused(long_url)[0].0, "url");
    // Every subscribable type is accepted.
    let all: Vec<&str> = domain::webhooks::EventType::SUBSCRIBABLE
        .iter()
        .map(|t| t.name())
        .collect();
    assert!(
        w.hooks
            .create(&w.admin, input("https://hooks.example.com/in", &all))
            .is_ok()
    );
}

#[test]
fn targets_inside_the_private_network_are_refused_by_address_and_by_name() {
    let w = world();
    for url in [
        "https://127.0.0.1/in",
        "https://10.0.0.1/in",
        "https://[::1]/in",
        "https://[::ffff:127.0.0.1]/in",
        "https://localhost/in",
        "https://inside.example.com/in",
        "https://v6.inside.example.com/in",
        "https://rebinding.example.com/in",
        "https://169.254.169.254/latest/meta-data",
    ] {
        let e = fields(w.hooks.create(&w.admin, input(url, &["*"])).unwrap_err());
        assert_eq!(e.len(), 1, "{url}");
        assert_eq!(e[0].0, "url", "{url}");
    }
    let e = fields(
        w.hooks
            .create(&w.admin, input("https://nowhere.example.com/in", &["*"]))
            .unwrap_err(),
    );
    assert!(e[0].1.contains("cannot be resolved"), "{e:?}");
    // A change of URL is held to the same rule.
    let hook = w
        .hooks
        .create(&w.admin, input("https://hooks.example.com/in", &["*"]))
        .unwrap()
        .webhook;
    let moved = WebhookPatchInput {
        url: Some("https://inside.example.com/in".into()),
        ..WebhookPatchInput::default()
    };
    assert_eq!(
        fields(w.hooks.update(&w.admin, hook.id, moved).unwrap_err())[0].0,
        "url"
    );
    // Unless the server allows it (tests; a receiver on the same network).
    let open = WebhookService::new(w.store.clone(), Cursors::new(b"secret"))
        .with_resolver(Arc::new(Names))
        .with_policy(UrlPolicy {
            allow_http: true,
            allow_private: true,
        });
    assert!(
        open.create(&w.admin, input("http://127.0.0.1:9000/in", &["*"]))
            .is_ok()
    );
    assert!(
        open.create(&w.admin, input("https://inside.example.com/in", &["*"]))
            .is_ok()
    );
}

#[test]
fn changes_apply_and_null_clears_the_description() {
    let w = world();
    let hook = w
        .hooks
        .create(
            &w.admin,
            WebhookInput {
                description: Some("bot".into()),
                ..input("https://hooks.example.com/in", &["*"])
            },
        )
        .unwrap()
        .webhook;
    let changed = w
        .hooks
        .update(
            &w.admin,
            hook.id,
            WebhookPatchInput {
                events: Some(vec!["seller.deleted".into()]),
                description: Some(None),
                enabled: Some(false),
                ..WebhookPatchInput::default()
            },
        )
        .unwrap();
    assert_eq!(changed.events, ["seller.deleted"]);
    assert_eq!(changed.description, None);
    assert!(!changed.enabled);
    assert_eq!(changed.url, hook.url);
    assert_err!(
        w.hooks
            .update(&w.admin, WebhookId::new(), WebhookPatchInput::default()),
        DomainError::NotFound("Webhook")
    );
    w.hooks.delete(&w.admin, hook.id).unwrap();
    assert_err!(
        w.hooks.delete(&w.admin, hook.id),
        DomainError::NotFound("Webhook")
    );
}

fn post(store: &Arc<MemoryStore>, session: ChatSessionId, sender: &Actor, text: &str) {
    chat::ChatService::new(store.clone(), Cursors::new(b"secret"))
        .post_message(
            sender,
            session,
            PostMessageInput {
                content: Some(text.into()),
                ..PostMessageInput::default()
            },
        )
        .unwrap();
}

#[test]
fn writes_deliver_to_the_enabled_endpoints_that_want_their_event_newest_first() {
    let w = world();
    let all = w
        .hooks
        .create(&w.admin, input("https://hooks.example.com/all", &["*"]))
        .unwrap()
        .webhook;
    let messages = w
        .hooks
        .create(
            &w.admin,
            input("https://hooks.example.com/m", &["message.created"]),
        )
        .unwrap()
        .webhook;
    let off = w
        .hooks
        .create(&w.admin, input("https://hooks.example.com/off", &["*"]))
        .unwrap()
        .webhook;
    w.hooks
        .update(
            &w.admin,
            off.id,
            WebhookPatchInput {
                enabled: Some(false),
                ..WebhookPatchInput::default()
            },
        )
        .unwrap();
    let s = w
        .store
        .create_chat_session(ChatSessionId::new(), w.ann.user_id, "Lamps")
        .unwrap()
        .id;
    post(&w.store, s, &w.ann, "one");
    post(&w.store, s, &w.ann, "two");
    w.store.rename_chat_session(s, "Desk lamps").unwrap();
    w.store.delete_chat_session(s).unwrap();
    let types = |id: WebhookId| -> Vec<String> {
        w.hooks
            .deliveries(&w.admin, id, DeliveryListQuery::default())
            .unwrap()
            .items
            .into_iter()
            .map(|d| d.event_type)
            .collect()
    };
    assert_eq!(
        types(all.id),
        [
            "session.deleted",
            "session.updated",
            "message.created",
            "message.created",
            "session.created"
        ]
    );
    assert_eq!(types(messages.id), ["message.created", "message.created"]);
    assert!(types(off.id).is_empty());
    // A test goes to a disabled endpoint too, with no session.
    let test = w.hooks.test(&w.admin, off.id).unwrap();
    assert_eq!(
        (test.event_type.as_str(), test.session_id),
        ("webhook.test", None)
    );
    assert_eq!(test.status, DeliveryStatus::Pending);
    assert_eq!(types(off.id), ["webhook.test"]);
    // Pages of two, newest first, filtered by status.
    let mut seen = Vec::new();
    let mut query = DeliveryListQuery {
        limit: Some(2),
        ..DeliveryListQuery::status(DeliveryStatus::Pending)
    };
    loop {
        let page = w.hooks.deliveries(&w.admin, all.id, query.clone()).unwrap();
        seen.extend(page.items.into_iter().map(|d| d.position));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|p| p[0] > p[1]), "{seen:?}");
    let delivered = w
        .hooks
        .deliveries(
            &w.admin,
            all.id,
            DeliveryListQuery::status(DeliveryStatus::Delivered),
        )
        .unwrap();
    assert!(delivered.items.is_empty());
    let bad = DeliveryListQuery {
        status: Some("done".into()),
        ..DeliveryListQuery::default()
    };
    assert_eq!(
        fields(w.hooks.deliveries(&w.admin, all.id, bad).unwrap_err()),
        [(
            "status".into(),
            "must be pending, delivered or failed".into()
        )]
    );
    // A cursor of one endpoint's list is no good for another's.
    let first = w
        .hooks
        .deliveries(
            &w.admin,
            all.id,
            DeliveryListQuery {
                limit: Some(1),
                ..DeliveryListQuery::default()
            },
        )
        .unwrap();
    let stolen = DeliveryListQuery {
        cursor: first.next_cursor,
        ..DeliveryListQuery::default()
    };
    assert_eq!(
        fields(
            w.hooks
                .deliveries(&w.admin, messages.id, stolen)
                .unwrap_err()
        )[0]
        .0,
        "cursor"
    );
    // Deleting the endpoint drops its deliveries.
    w.hooks.delete(&w.admin, all.id).unwrap();
    assert_err!(
        w.hooks
            .deliveries(&w.admin, all.id, DeliveryListQuery::default()),
        DomainError::NotFound("Webhook")
    );
}
