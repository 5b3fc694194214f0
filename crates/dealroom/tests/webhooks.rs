//! A program registers a webhook endpoint and reads its deliveries through
//! the facade, with the same rules as the HTTP API, and runs the dispatcher
//! that sends them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dealroom::webhook_dispatch::Settings;
use dealroom::{
    Dealroom, DeliveryListQuery, DeliveryStatus, DomainError, NewSessionInput, Options,
    PostMessageInput, RegisterInput, UrlPolicy, WebhookInput,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A receiver that answers 200 to one request and hands back its body.
fn receive_one(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut len = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut stream = reader.into_inner();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8(body).unwrap()
    })
}

#[test]
fn a_program_registers_an_endpoint_reads_its_deliveries_and_dispatches_them() {
    let db = testkit::TestDb::new();
    let options = Options {
        webhook_policy: UrlPolicy {
            allow_http: true,
            allow_private: true,
        },
        ..Options::for_tests()
    };
    let dr = Dealroom::connect_with(db.url(), options).unwrap();
    let ada = dr
        .auth
        .create_admin(RegisterInput {
            email: Some("ada@example.com".into()),
            password: Some("correct horse battery".into()),
            name: Some("Ada".into()),
            device_name: None,
        })
        .unwrap();
    let admin = dr.act_as(ada.id, "webhooks-test").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/in",
        listener.local_addr().unwrap().port()
    );
    let created = dr
        .webhooks
        .create(
            &admin,
            WebhookInput {
                url: Some(url),
                events: Some(vec!["message.created".into()]),
                description: Some("the bot".into()),
            },
        )
        .unwrap();
    assert!(created.secret.expose().starts_with("whsec_"));
    let session = dr
        .chat
        .create_session(&admin, NewSessionInput::default())
        .unwrap();
    dr.chat
        .post_message(
            &admin,
            session.id,
            PostMessageInput {
                content: Some("hello".into()),
                ..PostMessageInput::default()
            },
        )
        .unwrap();
    let pending = dr
        .webhooks
        .deliveries(&admin, created.webhook.id, DeliveryListQuery::default())
        .unwrap();
    assert_eq!(pending.items.len(), 1);
    assert_eq!(pending.items[0].status, DeliveryStatus::Pending);
    // The dispatcher sends it.
    let got = receive_one(listener);
    let dispatcher = dr
        .dispatch_webhooks(Settings {
            policy: UrlPolicy {
                allow_http: true,
                allow_private: true,
            },
            ..Settings::default()
        })
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&got.join().unwrap()).unwrap();
    assert_eq!(body["type"], "message.created");
    assert_eq!(body["data"]["content"], "hello");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = dr
            .webhooks
            .deliveries(&admin, created.webhook.id, DeliveryListQuery::default())
            .unwrap();
        if d.items[0].status == DeliveryStatus::Delivered {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", d.items[0]);
        std::thread::sleep(Duration::from_millis(20));
    }
    dispatcher.stop();
    // The rules are the API's: a user may not manage endpoints.
    let user = dr
        .auth
        .register(
            RegisterInput {
                email: Some("ann@example.com".into()),
                password: Some("password123".into()),
                name: Some("Ann".into()),
                device_name: None,
            },
            dealroom::ClientInfo::default(),
        )
        .unwrap();
    let ann = dr.act_as(user.user.id, "webhooks-test").unwrap();
    assert!(matches!(
        dr.webhooks.list(&ann),
        Err(DomainError::Forbidden)
    ));
    assert!(dr.close(Duration::from_secs(2)));
}
