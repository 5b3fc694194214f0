//! One scenario, run on `MemoryStore` and on `PgStore`: every outcome (the
//! conflicts, missing parents, CHECKs, counters, cascades and list orders)
//! must be the same, so the in-memory store cannot drift from PostgreSQL
//! unnoticed. Ids are fixed, so both runs name the same rows; times differ
//! and are compared only through the orders they make.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use domain::page::ByteBudget;
use domain::ports::*;
use domain::*;
use std::fmt::Debug;
use testkit::memory::MemoryStore;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

trait Ports: AuthStore + AccountStore + ChatStore + MarketStore + HealthStore {}
impl<T: AuthStore + AccountStore + ChatStore + MarketStore + HealthStore> Ports for T {}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

fn user(n: u128, email: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId(id(n)),
        email: email.to_owned(),
        name: format!("User {n}"),
        password_hash: "not a real hash".to_owned(),
        role,
    }
}

fn login(n: u128) -> NewLoginSession {
    NewLoginSession {
        id: LoginSessionId(id(n)),
        refresh_token_hash: hash(n),
        device_name: None,
        user_agent: Some("parity".to_owned()),
        ip_address: None,
        expires_at: OffsetDateTime::now_utc() + Duration::days(1),
    }
}

fn hash(n: u128) -> Vec<u8> {
    let mut h = vec![0u8; 16];
    h.extend_from_slice(&n.to_be_bytes());
    h
}

fn text(n: u128, session: u128, sender: u128, body: &str, cid: Option<&str>) -> NewMessage {
    NewMessage {
        id: MessageId(id(n)),
        session_id: ChatSessionId(id(session)),
        sender_id: UserId(id(sender)),
        role: MessageRole::User,
        kind: MessageKind::Text,
        content: Some(body.to_owned()),
        media_id: None,
        client_message_id: cid.map(str::to_owned),
        stream: false,
    }
}

fn offer(name: &str, product: &str, price: i64) -> SellerFields {
    SellerFields {
        name: name.to_owned(),
        email: None,
        phone: None,
        product: Product {
            name: product.to_owned(),
            description: None,
            price_minor: price,
            currency: "EUR".to_owned(),
            quantity: None,
            unit: None,
        },
    }
}

/// The outcome of one step, without times.
fn show<T>(r: StoreResult<T>, f: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => f(v),
        Err(StoreError::Invalid(name)) => format!("Invalid({name})"),
        Err(
            e @ (StoreError::Conflict(_) | StoreError::MissingParent(_) | StoreError::NotFound),
        ) => {
            format!("{e:?}")
        }
        Err(e) => panic!("unexpected store error: {e:?}"),
    }
}

fn dbg<T: Debug>(v: T) -> String {
    format!("{v:?}")
}

fn session_line(s: &ChatSession) -> String {
    format!(
        "session {} owner {} {:?} messages {} sellers {} vendor {:?} last message {}",
        s.id,
        s.user_id,
        s.title,
        s.message_count,
        s.seller_count,
        s.vendor.as_ref().map(|v| v.id),
        s.last_message_at.is_some()
    )
}

fn ids<T>(items: &[T], f: impl Fn(&T) -> Uuid) -> String {
    let ids: Vec<String> = items.iter().map(|i| f(i).to_string()).collect();
    ids.join(",")
}

fn posted(p: Option<Posted>) -> String {
    match p {
        None => "no session".to_owned(),
        Some(Posted::Created(m)) => format!("created {} seq {}", m.id, m.seq),
        Some(Posted::Existing(m)) => format!("existing {} seq {}", m.id, m.seq),
    }
}

/// A message's state, without its times (they differ between the stores).
fn state(m: &Message) -> String {
    format!(
        "{} {:?} {:?} ended {}",
        m.id,
        m.status,
        m.content,
        m.completed_at.is_some()
    )
}

fn appended(a: Appended) -> String {
    match a {
        Appended::Applied(m) => format!("applied {}", state(&m)),
        Appended::Repeated(m) => format!("repeated {}", state(&m)),
        other => format!("{other:?}"),
    }
}

fn completion(c: Completion) -> String {
    match c {
        Completion::Completed(m) => format!("completed {}", state(&m)),
        Completion::Unchanged(m) => format!("unchanged {}", state(&m)),
        other => format!("{other:?}"),
    }
}

fn page(p: Option<Vec<Message>>) -> String {
    match p {
        None => "not visible".to_owned(),
        Some(ms) => {
            let seqs: Vec<String> = ms
                .iter()
                .map(|m| format!("{}:{:?}", m.seq, m.sender_id.map(|u| u.0)))
                .collect();
            seqs.join(" ")
        }
    }
}

fn scenario(s: &dyn Ports, add_media: &dyn Fn(&Media) -> StoreResult<()>) -> Vec<String> {
    let mut log = Vec::new();
    let mut step = |name: &str, outcome: String| log.push(format!("{name}: {outcome}"));
    let (ann, bob, carl) = (UserId(id(1)), UserId(id(2)), UserId(id(3)));
    let sid = |n| ChatSessionId(id(n));

    // ---- users and login sessions
    let reg = |u: NewUser, l: u128| show(s.register(&u, &login(l)), |(u, l)| dbg((u.id, l.id)));
    step(
        "register ann",
        reg(user(1, "ann@example.com", Role::User), 101),
    );
    step(
        "register bob",
        reg(user(2, "bob@example.com", Role::User), 102),
    );
    step(
        "register carl",
        reg(user(3, "carl@example.com", Role::Agent), 103),
    );
    step(
        "taken email",
        reg(user(4, "ann@example.com", Role::User), 104),
    );
    step(
        "upper-case email",
        reg(user(4, "Ann@example.com", Role::User), 104),
    );
    step("taken id", reg(user(1, "dan@example.com", Role::User), 104));
    step("taken refresh hash", {
        let l = NewLoginSession {
            refresh_token_hash: hash(101),
            ..login(104)
        };
        show(
            s.register(&user(4, "dan@example.com", Role::User), &l),
            |_| "ok".into(),
        )
    });
    step("expired at birth", {
        let mut l = login(104);
        l.expires_at = OffsetDateTime::now_utc() - Duration::hours(1);
        show(
            s.register(&user(4, "dan@example.com", Role::User), &l),
            |_| "ok".into(),
        )
    });
    step(
        "credentials by email",
        show(s.credentials_by_email("bob@example.com"), |c| {
            dbg(c.map(|c| c.user.id))
        }),
    );
    step(
        "login of nobody",
        show(s.open_login_session(UserId(id(9)), &login(109)), |_| {
            "ok".into()
        }),
    );
    for n in [111, 112] {
        step(
            "second login",
            show(s.open_login_session(bob, &login(n)), |(u, _)| {
                dbg(u.last_login_at.is_some())
            }),
        );
    }
    step(
        "bob's logins, newest first",
        show(s.active_login_sessions(bob), |l| ids(&l, |l| l.id.0)),
    );
    let bob_login = LoginSessionId(id(102));
    // The actor, not the expiry (each store takes its own clock at login).
    let live = |l: Option<LiveActor>| format!("{:?}", l.map(|l| l.actor));
    step("actor", show(s.actor(bob, bob_login), live));
    step(
        "actor of another's login",
        show(s.actor(ann, bob_login), live),
    );
    step(
        "rotate with a wrong hash",
        show(
            s.rotate_refresh_token(bob_login, &hash(1), &hash(201)),
            |r| dbg(r.map(|(l, _)| l.refresh_generation)),
        ),
    );
    step(
        "rotate",
        show(
            s.rotate_refresh_token(bob_login, &hash(102), &hash(202)),
            |r| dbg(r.map(|(l, u)| (l.refresh_generation, u.id))),
        ),
    );
    step(
        "rotate onto a taken hash",
        show(
            s.rotate_refresh_token(bob_login, &hash(202), &hash(101)),
            |r| dbg(r.is_some()),
        ),
    );
    step(
        "revoke one",
        show(s.revoke_login_session(bob, LoginSessionId(id(111))), dbg),
    );
    step(
        "revoke it again",
        show(s.revoke_login_session(bob, LoginSessionId(id(111))), dbg),
    );
    step(
        "revoke all but one",
        show(s.revoke_login_sessions(bob, Some(bob_login)), dbg),
    );
    step("actor after", show(s.actor(bob, bob_login), live));
    step(
        "make carl an admin",
        show(
            s.update_user(
                carl,
                &UserPatch {
                    role: Some(Role::Admin),
                    ..UserPatch::default()
                },
            ),
            |u| dbg(u.map(|u| u.role)),
        ),
    );
    step(
        "a name too long",
        show(
            s.update_user(
                carl,
                &UserPatch {
                    name: Some("x".repeat(101)),
                    ..UserPatch::default()
                },
            ),
            |_| "ok".into(),
        ),
    );
    step(
        "upsert admin",
        show(
            s.upsert_admin(&user(5, "eve@example.com", Role::Admin)),
            |u| dbg((u.id, u.role)),
        ),
    );
    step(
        "users newest first",
        show(s.list_users(&UserFilter::default(), None, 10), |l| {
            ids(&l, |u| u.id.0)
        }),
    );
    step(
        "users after bob, two",
        show(s.list_users(&UserFilter::default(), Some(bob), 2), |l| {
            ids(&l, |u| u.id.0)
        }),
    );
    step(
        "admins",
        show(
            s.list_users(
                &UserFilter {
                    role: Some(Role::Admin),
                    q: None,
                },
                None,
                10,
            ),
            |l| ids(&l, |u| u.id.0),
        ),
    );
    step(
        "users matching 'BOB'",
        show(
            s.list_users(
                &UserFilter {
                    role: None,
                    q: Some("BOB".into()),
                },
                None,
                10,
            ),
            |l| ids(&l, |u| u.id.0),
        ),
    );
    step(
        "users matching '_'",
        show(
            s.list_users(
                &UserFilter {
                    role: None,
                    q: Some("_".into()),
                },
                None,
                10,
            ),
            |l| ids(&l, |u| u.id.0),
        ),
    );

    // ---- chat sessions
    let create = |n: u128, owner: UserId, title: &str| {
        show(s.create_chat_session(sid(n), owner, title), |c| {
            session_line(&c)
        })
    };
    step("session of nobody", create(10, UserId(id(9)), "x"));
    step("session 11", create(11, ann, "Laptop"));
    step("session 12", create(12, ann, "100% cotton"));
    step("session 13", create(13, ann, "Bike"));
    step("session 14 of bob", create(14, bob, "Chairs"));
    step("taken session id", create(11, ann, "again"));
    step("title too long", create(15, ann, &"t".repeat(201)));

    // ---- messages
    let post = |m: NewMessage| show(s.post_message(&m), posted);
    step("post 1", post(text(21, 11, 1, "hello", Some("c1"))));
    step("post 2", post(text(22, 11, 3, "hi, an agent here", None)));
    step(
        "post again with c1",
        post(text(23, 11, 1, "hello?", Some("c1"))),
    );
    step(
        "c1 in another session",
        post(text(24, 13, 1, "x", Some("c1"))),
    );
    step("post to nowhere", post(text(25, 99, 1, "x", None)));
    step("post by nobody", post(text(26, 11, 9, "x", None)));
    step("taken message id", post(text(21, 11, 1, "x", None)));
    step("empty content", post(text(27, 11, 1, "", None)));
    step(
        "text with a medium",
        post(NewMessage {
            media_id: Some(MediaId(id(31))),
            ..text(28, 11, 1, "x", None)
        }),
    );
    step(
        "a missing medium",
        post(NewMessage {
            kind: MessageKind::Media,
            content: None,
            media_id: Some(MediaId(id(31))),
            ..text(29, 11, 1, "x", None)
        }),
    );
    let medium = Media {
        id: MediaId(id(31)),
        owner_id: Some(carl),
        mime_type: "image/png".to_owned(),
        size_bytes: 3,
        file_name: Some("a.png".to_owned()),
        sha256: "ab".repeat(32),
        url: String::new(),
        created_at: OffsetDateTime::now_utc(),
    };
    step("carl's medium", show(add_media(&medium), dbg));
    step(
        "carl posts it in bob's session",
        post(NewMessage {
            kind: MessageKind::Media,
            content: None,
            media_id: Some(MediaId(id(31))),
            ..text(30, 14, 3, "x", None)
        }),
    );
    step("bob posts", post(text(32, 14, 2, "mine", None)));
    step("post 3", post(text(33, 11, 1, "three", None)));
    step(
        "the medium reads back",
        show(s.message(MessageId(id(30))), |m| {
            dbg(m.map(|(m, owner)| (m.media.map(|md| md.id), owner)))
        }),
    );
    step(
        "delete post 2",
        show(s.delete_message(MessageId(id(22))), dbg),
    );
    step(
        "delete it again",
        show(s.delete_message(MessageId(id(22))), dbg),
    );
    step("post 4", post(text(34, 11, 1, "four", None)));
    let pg = |owner: Option<UserId>, after, order, limit| {
        let mut budget = ByteBudget::unlimited();
        show(
            s.message_page(sid(11), owner, after, order, limit, &mut budget),
            page,
        )
    };
    step("page asc", pg(None, None, SortOrder::Asc, 10));
    step(
        "page asc after 1",
        pg(Some(ann), Some(1), SortOrder::Asc, 2),
    );
    step("page desc", pg(Some(ann), None, SortOrder::Desc, 2));
    step("page desc after 3", pg(None, Some(3), SortOrder::Desc, 10));
    step(
        "page for another owner",
        pg(Some(bob), None, SortOrder::Asc, 10),
    );
    step(
        "page of nowhere",
        show(
            s.message_page(
                sid(99),
                None,
                None,
                SortOrder::Asc,
                10,
                &mut ByteBudget::unlimited(),
            ),
            page,
        ),
    );
    // Two short messages fit in 2,100 bytes (1,024 each and their text), a
    // third does not: the same rows are decoded, and the cut is told.
    let mut budget = ByteBudget::new(2100);
    step(
        "page under a byte cap",
        show(
            s.message_page(sid(11), None, None, SortOrder::Asc, 10, &mut budget),
            page,
        ),
    );
    step("the cap cut it", format!("{}", budget.was_cut()));

    // ---- streamed replies (carl's, in ann's session 13)
    let streamed = |n: u128, start: Option<String>| NewMessage {
        role: MessageRole::Assistant,
        content: start,
        stream: true,
        ..text(n, 13, 3, "", None)
    };
    step("stream 41", post(streamed(41, Some("Hel".into()))));
    step("stream 42, empty", post(streamed(42, None)));
    step(
        "stream 43, nearly full",
        post(streamed(43, Some("f".repeat(31_990)))),
    );
    step(
        "stream into nowhere",
        post(NewMessage {
            session_id: sid(99),
            ..streamed(44, None)
        }),
    );
    let delta = |n: u128, sender: u128, seq: i64, text: &str| {
        let d = NewDelta {
            message: MessageId(id(n)),
            sender: UserId(id(sender)),
            seq,
            text,
        };
        show(s.append_delta(&d), appended)
    };
    step("delta 1", delta(41, 3, 1, "lo"));
    step("delta 1 again", delta(41, 3, 1, "lo"));
    step("delta 1 with another text", delta(41, 3, 1, "LO"));
    step("delta 3 before 2", delta(41, 3, 3, "x"));
    step("delta 0", delta(41, 3, 0, "x"));
    step("delta by someone else", delta(41, 1, 2, "x"));
    step("delta to a message not streamed", delta(21, 1, 1, "x"));
    step("delta to no message", delta(99, 3, 1, "x"));
    // Past the 512 characters of a part, then a tail again.
    step("delta 2, long", delta(41, 3, 2, &"w".repeat(600)));
    step("delta 3", delta(41, 3, 3, " and more"));
    step("delta 2 again", delta(41, 3, 2, &"w".repeat(600)));
    step("delta over 32,000", delta(43, 3, 1, &"x".repeat(11)));
    step("delta of 10 fits", delta(43, 3, 1, &"x".repeat(10)));
    step("a delta text too long", delta(42, 3, 1, &"x".repeat(4001)));
    let so_far = |n: u128| {
        show(s.message(MessageId(id(n))), |m| {
            m.map_or("none".into(), |(m, _)| state(&m))
        })
    };
    step("41 so far", so_far(41));
    let streams = |since: Option<i64>| {
        show(s.streamed(sid(13), since), |l| {
            let l: Vec<String> = l
                .iter()
                .map(|x| format!("{} last {}", state(&x.message), x.last_seq))
                .collect();
            l.join("; ")
        })
    };
    step("streaming in 13", streams(None));
    step(
        "the delta's text",
        show(s.delta_text(MessageId(id(41)), 3), dbg),
    );
    let complete = |n: u128, sender: Option<u128>, content: Option<&str>| {
        show(
            s.complete_message(MessageId(id(n)), sender.map(|u| UserId(id(u))), content),
            completion,
        )
    };
    step("completed by someone else", complete(41, Some(1), None));
    step("complete 41", complete(41, Some(3), None));
    step("complete 41 again", complete(41, Some(3), Some("other")));
    step("delta after it ended", delta(41, 3, 4, "x"));
    step(
        "its delta's text is gone",
        show(s.delta_text(MessageId(id(41)), 3), dbg),
    );
    step(
        "complete a message not streamed",
        complete(21, Some(1), None),
    );
    step("complete no message", complete(99, Some(3), None));
    step(
        "complete 42 with a content",
        complete(42, None, Some("final")),
    );
    step("41 at the end", so_far(41));
    step("ended since position 0", streams(Some(0)));
    step("ended since later", streams(Some(1000)));
    step(
        "idle streams end incomplete",
        show(s.expire_idle_streams(std::time::Duration::ZERO, 10), |l| {
            let l: Vec<String> = l.iter().map(state).collect();
            l.join("; ")
        }),
    );
    step("43 at the end", so_far(43).chars().take(200).collect());
    step("nothing streams in 13", streams(None));

    // ---- search: words, or, minus, the access scopes, the keyset
    let find = |text: &str, scope, before: Option<TimeKey>, limit| {
        let search = MessageSearch {
            text: text.to_owned(),
            scope,
            before,
            since: None,
            limit,
            ranked: true,
            max_bytes: usize::MAX,
        };
        show(s.search_messages(&search, &mut |m| m), |found| {
            found
                .iter()
                .map(|f| format!("{} {} {:?}", f.at.key.id, f.at.rank, f.hit.snippet))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    step(
        "search three or four",
        find("three or four", SearchScope::Owner(ann), None, 10),
    );
    step(
        "search four -three",
        find("four -three", SearchScope::All, None, 10),
    );
    step(
        "search mine as ann",
        find("mine", SearchScope::Owner(ann), None, 10),
    );
    step(
        "search mine as an agent",
        find("mine", SearchScope::All, None, 10),
    );
    step(
        "search mine in bob's session as ann",
        find("mine", SearchScope::Session(sid(14), Some(ann)), None, 10),
    );
    step(
        "search stop words",
        find("the and", SearchScope::All, None, 10),
    );
    let first = s
        .search_messages(
            &MessageSearch {
                text: "three or four".to_owned(),
                scope: SearchScope::All,
                before: None,
                since: None,
                limit: 1,
                ranked: false,
                max_bytes: usize::MAX,
            },
            &mut |m| m,
        )
        .unwrap();
    step(
        "search before the newest",
        find(
            "three or four",
            SearchScope::All,
            first.first().map(|f| f.at.key),
            10,
        ),
    );
    let newest = first.first().map(|f| f.at.key);
    step(
        "search since the newest",
        show(
            s.search_messages(
                &MessageSearch {
                    text: "three or four".to_owned(),
                    scope: SearchScope::All,
                    before: None,
                    since: newest,
                    limit: 10,
                    ranked: false,
                    max_bytes: usize::MAX,
                },
                // The page keeps the oldest only.
                &mut |mut m| m.split_off(m.len().saturating_sub(1)),
            ),
            |found| {
                found
                    .iter()
                    .map(|f| format!("{} {}", f.at.key.id, f.at.rank))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    );

    // ---- sessions list: most recent activity first
    step(
        "rename 12",
        show(s.rename_chat_session(sid(12), "100% wool"), |c| {
            dbg(c.map(|c| c.title))
        }),
    );
    step(
        "rename nowhere",
        show(s.rename_chat_session(sid(99), "x"), |c| dbg(c.is_some())),
    );
    let list = |q: Option<&str>, after, limit| {
        show(s.list_chat_sessions(ann, q, after, limit), |l| {
            ids(&l, |c| c.id.0)
        })
    };
    step("ann's sessions", list(None, None, 10));
    let first_two = s.list_chat_sessions(ann, None, None, 2).unwrap();
    let key = first_two.last().map(|c| (c.updated_at, c.id));
    step("ann's sessions after two", list(None, key, 10));
    step("titles with '0%'", list(Some("0%"), None, 10));
    step("titles with 'LAP'", list(Some("LAP"), None, 10));
    step("titles with '_'", list(Some("_"), None, 10));

    // ---- vendors
    let vendor = |n: u128, session: u128, name: &str| {
        let fields = VendorFields {
            name: name.to_owned(),
            email: Some("shop@example.com".to_owned()),
            ..VendorFields::default()
        };
        show(
            s.create_vendor(VendorId(id(n)), sid(session), &fields),
            |v| dbg(v.id),
        )
    };
    step("vendor of nowhere", vendor(40, 99, "Shop"));
    step("vendor", vendor(41, 11, "Shop"));
    step("second vendor", vendor(42, 11, "Other shop"));
    step("vendor name too long", vendor(43, 13, &"v".repeat(201)));
    step(
        "clear the vendor's email",
        show(
            s.update_vendor(
                VendorId(id(41)),
                &VendorChanges {
                    email: Some(None),
                    ..VendorChanges::default()
                },
            ),
            |v| dbg(v.map(|v| v.email)),
        ),
    );
    step(
        "a bad website",
        show(
            s.update_vendor(
                VendorId(id(41)),
                &VendorChanges {
                    website: Some(Some("ftp://x".into())),
                    ..VendorChanges::default()
                },
            ),
            |_| "ok".into(),
        ),
    );
    step(
        "the vendor with its owner",
        show(s.vendor(VendorId(id(41))), |v| {
            dbg(v.map(|(v, o)| (v.id, o)))
        }),
    );

    // ---- sellers
    let add = |n: u128, session: u128, f: SellerFields| {
        show(
            s.add_seller(SellerId(id(n)), sid(session), &f, 3),
            |a| match a {
                SellerAdded::Added(s) => format!("added {}", s.id),
                other => dbg(other),
            },
        )
    };
    step("seller a", add(51, 11, offer("Acme", "Widget", 500)));
    step("same offer", add(52, 11, offer("ACME", "widget", 400)));
    step("seller b", add(53, 11, offer("bolt", "Widget", 300)));
    step("seller c", add(54, 11, offer("Zeta", "Gadget", 200)));
    step("past the cap", add(55, 11, offer("Dyna", "Widget", 100)));
    step(
        "cap and duplicate",
        add(55, 11, offer("Acme", "Widget", 100)),
    );
    step("seller of nowhere", add(56, 99, offer("Acme", "Widget", 1)));
    step("bad currency", {
        let mut f = offer("Acme", "Widget", 1);
        f.product.currency = "eur".into();
        add(57, 13, f)
    });
    step(
        "same offer elsewhere",
        add(58, 13, offer("Acme", "Widget", 1)),
    );
    step(
        "rename into a duplicate",
        show(
            s.update_seller(
                SellerId(id(54)),
                &SellerChanges {
                    name: Some("acme".into()),
                    product_name: Some("WIDGET".into()),
                    ..SellerChanges::default()
                },
            ),
            |_| "ok".into(),
        ),
    );
    step("delete b", show(s.delete_seller(SellerId(id(53))), dbg));
    step("seller d", add(55, 11, offer("beta", "Widget", 500)));
    for sort in [
        SellerSort::CreatedAt,
        SellerSort::PriceAsc,
        SellerSort::PriceDesc,
        SellerSort::Name,
    ] {
        step(
            &format!("sellers by {sort:?}"),
            show(s.sellers(sid(11), sort), |l| ids(&l, |s| s.id.0)),
        );
    }

    // ---- exchange rates, and a session's offers with the rates of a day
    let day = |date: time::Date, base: &str, rates: &[(&str, &str)]| ExchangeRates {
        base: base.to_owned(),
        date,
        rates: rates
            .iter()
            .map(|(c, r)| ((*c).to_owned(), r.parse().unwrap()))
            .collect(),
    };
    let (d1, d2) = (
        time::macros::date!(2026 - 12 - 01),
        time::macros::date!(2026 - 12 - 04),
    );
    let replace = |days: &[ExchangeRates]| show(s.replace_exchange_rates(days), dbg);
    step(
        "rates of a lower-case base",
        replace(&[day(d1, "eur", &[])]),
    );
    step(
        "rates of a lower-case code",
        replace(&[day(d1, "EUR", &[("USD", "1"), ("usd", "1")])]),
    );
    step(
        "a rate of zero",
        replace(&[day(d1, "EUR", &[("USD", "0")])]),
    );
    step(
        "two days",
        replace(&[
            day(d1, "EUR", &[("USD", "1.0799"), ("JPY", "157")]),
            day(d2, "EUR", &[("USD", "1.08120"), ("GBP", "0.8583")]),
        ]),
    );
    step(
        "the same two days again",
        replace(&[day(d2, "EUR", &[("USD", "1.0812"), ("GBP", "0.8583")])]),
    );
    step(
        "a day replaced",
        replace(&[day(d1, "USD", &[("EUR", "0.926")])]),
    );
    for on in [
        d1 - time::Duration::days(1),
        d1,
        d1 + time::Duration::days(1),
        d2 + time::Duration::days(30),
    ] {
        step(
            &format!("rates on {on}"),
            show(s.exchange_rates_on(on), dbg),
        );
    }
    step(
        "offers of session 11",
        show(s.session_offers(sid(11), d2), |o| {
            dbg(o.map(|o| (o.owner, ids(&o.sellers, |s| s.id.0), o.rates)))
        }),
    );
    step(
        "offers of session 11 before any rates",
        show(
            s.session_offers(sid(11), d1 - time::Duration::days(1)),
            |o| dbg(o.map(|o| (ids(&o.sellers, |s| s.id.0), o.rates))),
        ),
    );
    step(
        "offers of no session",
        show(s.session_offers(sid(99), d2), |o| dbg(o.is_none())),
    );
    step(
        "session 11",
        show(
            s.chat_session(sid(11)),
            |c| dbg(c.map(|c| session_line(&c))),
        ),
    );
    step(
        "vendor and sellers moved session 11 up",
        list(None, None, 10),
    );

    // ---- cascades
    step(
        "delete session 11",
        show(s.delete_chat_session(sid(11)), dbg),
    );
    step(
        "its message",
        show(s.message(MessageId(id(21))), |m| dbg(m.is_some())),
    );
    step(
        "its vendor",
        show(s.vendor(VendorId(id(41))), |v| dbg(v.is_some())),
    );
    step(
        "its sellers",
        show(s.seller(SellerId(id(51))), |v| dbg(v.is_some())),
    );
    step("delete it again", show(s.delete_chat_session(sid(11)), dbg));
    step(
        "carl's medium is carried in bob's session",
        show(s.media_carried(MediaId(id(31)), Some(bob)), dbg),
    );
    step(
        "not in ann's",
        show(s.media_carried(MediaId(id(31)), Some(ann)), dbg),
    );
    step("delete carl", show(s.delete_user(carl), dbg));
    // The message that carries carl's medium stays in bob's session, and so
    // does the medium, unowned; bob's session keeps its count.
    step(
        "carl's medium after",
        show(s.media(MediaId(id(31))), |m| {
            dbg(m.map(|m| (m.owner_id, m.sha256)))
        }),
    );
    step("nothing gone yet", show(s.gone_objects(10), dbg));
    step(
        "bob's session after",
        show(
            s.chat_session(sid(14)),
            |c| dbg(c.map(|c| session_line(&c))),
        ),
    );
    step(
        "bob's page after",
        show(
            s.message_page(
                sid(14),
                None,
                None,
                SortOrder::Asc,
                10,
                &mut ByteBudget::unlimited(),
            ),
            page,
        ),
    );
    step(
        "carl's login",
        show(s.login_session(LoginSessionId(id(103))), |l| {
            dbg(l.is_some())
        }),
    );
    step("delete ann", show(s.delete_user(ann), dbg));
    step("ann's sessions", show(s.chat_session_owner(sid(13)), dbg));
    step("delete ann again", show(s.delete_user(ann), dbg));
    step(
        "an upload of bob",
        show(
            s.insert_media(&NewMedia {
                id: MediaId(id(32)),
                owner_id: bob,
                mime_type: "image/png".into(),
                size_bytes: 1,
                file_name: None,
                sha256: "cd".repeat(32),
            }),
            |m| dbg(m.owner_id),
        ),
    );
    step(
        "an orphan only once old enough",
        show(s.delete_orphan_media(OffsetDateTime::UNIX_EPOCH, 10), dbg),
    );
    step(
        "orphans",
        show(
            s.delete_orphan_media(OffsetDateTime::now_utc() + time::Duration::hours(1), 10),
            dbg,
        ),
    );
    step("gone", show(s.gone_objects(10), dbg));
    step(
        "claim a gone object",
        show(s.claim_unreferenced(&"cd".repeat(32)), |c| {
            let held = c.is_some();
            let released = c.map(|c| c.release());
            dbg((held, released))
        }),
    );
    step("gone after", show(s.gone_objects(10), dbg));
    step(
        "claim an object still referred to",
        show(s.claim_unreferenced(&"ab".repeat(32)), |c| dbg(c.is_some())),
    );
    step("end bob's logins", show(s.end_login_sessions(bob), dbg));
    step("end nobody's logins", show(s.end_login_sessions(ann), dbg));
    step("ready", show(s.ready(), dbg));
    log
}

#[test]
fn memory_store_and_postgres_agree_on_one_scenario() {
    let memory = MemoryStore::new();
    let in_memory = scenario(&memory, &|m| memory.seed_media(m.clone()).map(|_| ()));

    let db = testkit::TestDb::new();
    let pg = store::PgStore::connect(db.url(), &store::PoolSettings::default());
    let on_postgres = scenario(&pg, &|m| {
        diesel::sql_query(
            "INSERT INTO media (id, owner_id, mime_type, size_bytes, file_name, sha256) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind::<SqlUuid, _>(m.id.0)
        .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(m.owner_id.map(|o| o.0))
        .bind::<Text, _>(&m.mime_type)
        .bind::<BigInt, _>(m.size_bytes)
        .bind::<diesel::sql_types::Nullable<Text>, _>(m.file_name.as_deref())
        .bind::<Text, _>(&m.sha256)
        .execute(&mut db.conn())
        .map(|_| ())
        .map_err(store::classify)
    });

    for line in &on_postgres {
        println!("{line}");
    }
    for (i, (a, b)) in in_memory.iter().zip(&on_postgres).enumerate() {
        assert_eq!(a, b, "step {i} differs (left: memory, right: PostgreSQL)");
    }
    assert_eq!(in_memory.len(), on_postgres.len());
}

// ---------------------------------------------------------------- webhooks

trait HookPorts: Ports + domain::webhooks::WebhookStore {}
impl<T: Ports + domain::webhooks::WebhookStore> HookPorts for T {}

fn hook(n: u128, url: &str, events: &[&str]) -> domain::webhooks::NewWebhook {
    domain::webhooks::NewWebhook {
        id: WebhookId(id(n)),
        url: url.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        description: None,
        secret: domain::webhooks::WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    }
}

/// Endpoints, their CHECKs, and the deliveries the writes record: which
/// endpoint gets which event, in which order.
fn webhook_scenario(s: &dyn HookPorts) -> Vec<String> {
    use domain::webhooks::{DeliveryStatus, WebhookChanges};
    let mut out = Vec::new();
    let mut step = |name: &str, line: String| out.push(format!("{name}: {line}"));
    let webhook = |w: domain::webhooks::Webhook| {
        format!(
            "{} {} {:?} {:?} {}",
            w.id, w.url, w.events, w.description, w.enabled
        )
    };
    let all = WebhookId(id(500));
    let messages = WebhookId(id(501));
    let off = WebhookId(id(502));
    step(
        "all",
        show(
            s.create_webhook(&hook(500, "https://a.example/in", &["*"])),
            webhook,
        ),
    );
    step(
        "messages",
        show(
            s.create_webhook(&hook(
                501,
                "https://m.example/in",
                &["message.created", "session.deleted"],
            )),
            webhook,
        ),
    );
    step(
        "off",
        show(
            s.create_webhook(&hook(502, "https://o.example/in", &["*"])),
            webhook,
        ),
    );
    step(
        "again",
        show(
            s.create_webhook(&hook(500, "https://a.example/in", &["*"])),
            webhook,
        ),
    );
    step(
        "no events",
        show(
            s.create_webhook(&hook(503, "https://x.example/in", &[])),
            webhook,
        ),
    );
    step(
        "long url",
        show(
            s.create_webhook(&hook(503, &"h".repeat(2049), &["*"])),
            webhook,
        ),
    );
    let blank = domain::webhooks::NewWebhook {
        description: Some(String::new()),
        ..hook(503, "https://x.example/in", &["*"])
    };
    step("blank description", show(s.create_webhook(&blank), webhook));
    let disable = WebhookChanges {
        enabled: Some(false),
        description: Some(Some("paused".into())),
        ..WebhookChanges::default()
    };
    step(
        "disable",
        show(s.update_webhook(off, &disable), |w| {
            format!("{:?}", w.map(webhook))
        }),
    );
    step(
        "unknown",
        show(s.update_webhook(WebhookId(id(599)), &disable), |w| {
            format!("{:?}", w.map(webhook))
        }),
    );
    step("list", show(s.webhooks(), |l| ids(&l, |w| w.id.0)));

    s.register(&user(510, "wh@example.com", Role::User), &login(511))
        .unwrap();
    let session = ChatSessionId(id(512));
    s.create_chat_session(session, UserId(id(510)), "Lamps")
        .unwrap();
    s.post_message(&text(513, 512, 510, "hello", None)).unwrap();
    s.post_message(&text(513, 512, 510, "same id", None)).ok();
    s.rename_chat_session(session, "Desk lamps").unwrap();
    s.create_vendor(
        VendorId(id(514)),
        session,
        &VendorFields {
            name: "Acme".into(),
            ..VendorFields::default()
        },
    )
    .unwrap();
    s.add_seller(SellerId(id(515)), session, &offer("Bo", "Lamp", 100), 10)
        .unwrap();
    s.delete_seller(SellerId(id(515))).unwrap();
    s.delete_message(MessageId(id(513))).unwrap();
    step(
        "test",
        show(
            s.enqueue_test_delivery(off, DeliveryId(id(516)), "{}"),
            |d| {
                format!(
                    "{:?}",
                    d.map(|d| (d.id, d.event_type, d.session_id, d.status))
                )
            },
        ),
    );
    step(
        "test unknown",
        show(
            s.enqueue_test_delivery(WebhookId(id(599)), DeliveryId(id(517)), "{}"),
            |d| format!("{:?}", d.map(|d| d.id)),
        ),
    );
    s.delete_user(UserId(id(510))).unwrap();
    let list = |w: WebhookId, status: Option<DeliveryStatus>, before: Option<i64>| {
        show(s.webhook_deliveries(w, status, before, 100), |l| {
            format!(
                "{:?}",
                l.map(|l| l
                    .into_iter()
                    .map(|d| format!(
                        "{} {:?} {:?} {}",
                        d.event_type, d.session_id, d.status, d.attempts
                    ))
                    .collect::<Vec<_>>())
            )
        })
    };
    step("all's", list(all, None, None));
    step("messages'", list(messages, None, None));
    step("off's", list(off, None, None));
    step(
        "pending",
        list(messages, Some(DeliveryStatus::Pending), None),
    );
    step(
        "delivered",
        list(messages, Some(DeliveryStatus::Delivered), None),
    );
    step("unknown's", list(WebhookId(id(599)), None, None));
    let first = s
        .webhook_deliveries(all, None, None, 2)
        .unwrap()
        .unwrap_or_default();
    let before = first.last().map(|d| d.position);
    step(
        "page 2",
        show(s.webhook_deliveries(all, None, before, 2), |l| {
            format!(
                "{:?}",
                l.map(|l| l.into_iter().map(|d| d.event_type).collect::<Vec<_>>())
            )
        }),
    );
    step(
        "rotate",
        show(
            s.rotate_webhook_secret(
                all,
                &domain::webhooks::WebhookSecret::new("whsec_new"),
                OffsetDateTime::now_utc(),
            ),
            |w| format!("{:?}", w.map(|w| w.id)),
        ),
    );
    step("delete", show(s.delete_webhook(all), dbg));
    step("delete again", show(s.delete_webhook(all), dbg));
    step("gone's", list(all, None, None));
    out
}

#[test]
fn memory_store_and_postgres_agree_on_webhooks() {
    let memory = MemoryStore::new();
    let in_memory = webhook_scenario(&memory);
    let db = testkit::TestDb::new();
    let pg = store::PgStore::connect(db.url(), &store::PoolSettings::default());
    let on_postgres = webhook_scenario(&pg);
    for line in &on_postgres {
        println!("{line}");
    }
    for (i, (a, b)) in in_memory.iter().zip(&on_postgres).enumerate() {
        assert_eq!(a, b, "step {i} differs (left: memory, right: PostgreSQL)");
    }
    assert_eq!(in_memory.len(), on_postgres.len());
}
