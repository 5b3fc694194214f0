//! Contract §3.9: message search (`GET /messages/search`) and title search
//! (`GET /sessions?q=`).

use crate::helpers::{Reply, TestApp, TestUser};
use serde_json::{Value, json};
use std::collections::HashSet;

const SEARCH: &str = "/api/v1/messages/search";
const SESSIONS: &str = "/api/v1/sessions";

/// `s` with the characters a query string needs escaped, escaped.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn new_session(app: &TestApp, user: &TestUser, title: &str) -> String {
    let r = app
        .post(SESSIONS, &user.token, json!({ "title": title }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["session"]["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, user: &TestUser, session: &str, content: &str) -> String {
    let r = app
        .post(
            &format!("{SESSIONS}/{session}/messages"),
            &user.token,
            json!({ "content": content }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["message"]["id"].as_str().unwrap().to_owned()
}

async fn search(app: &TestApp, user: &TestUser, q: &str) -> Reply {
    app.get(&format!("{SEARCH}?q={}", enc(q)), &user.token)
        .await
}

/// The ids of a successful search's items, in order (`sort=recent`).
async fn found(app: &TestApp, user: &TestUser, q: &str) -> Vec<String> {
    let r = search(app, user, q).await;
    assert_eq!(r.status, 200, "{q}: {:?}", r.body);
    assert_eq!(r.data()["truncated"], false, "recent is never truncated");
    ids(&r)
}

/// The ids of a successful `sort=relevance` search's items, in order.
async fn ranked(app: &TestApp, user: &TestUser, q: &str) -> Vec<String> {
    let r = app
        .get(
            &format!("{SEARCH}?q={}&sort=relevance", enc(q)),
            &user.token,
        )
        .await;
    assert_eq!(r.status, 200, "{q}: {:?}", r.body);
    ids(&r)
}

fn ids(r: &Reply) -> Vec<String> {
    r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn validation_error(field: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "message": "Validation failed",
        "code": "VALIDATION_ERROR",
        "errors": [{ "field": field, "message": message }]
    })
}

#[actix_web::test]
async fn a_message_with_both_words_ranks_above_one_with_one() {
    let app = TestApp::spawn().await;
    let u = app.register("rank@example.com").await;
    let s = new_session(&app, &u, "Bikes").await;
    let one = post(&app, &u, &s, "Is the red paint still available?").await;
    let both = post(&app, &u, &s, "A red bike with a basket").await;
    let neither = post(&app, &u, &s, "Something else entirely").await;
    // Either word (or), best first: both words, then the older one-word match.
    let got = ranked(&app, &u, "red or bike").await;
    assert_eq!(got, vec![both.clone(), one.clone()]);
    assert!(!got.contains(&neither));
    // Both words required by default; word forms match (bikes ~ bike).
    assert_eq!(found(&app, &u, "RED Bikes").await, vec![both.clone()]);

    // Equal ranks: newest first.
    let newer = post(&app, &u, &s, "red again").await;
    assert_eq!(
        ranked(&app, &u, "red").await,
        vec![newer.clone(), both.clone(), one.clone()]
    );
    // A better match that is older stays below with sort=recent (the default).
    let best_old = ranked(&app, &u, "red or bike").await;
    assert_eq!(best_old, vec![both.clone(), newer.clone(), one.clone()]);
    assert_eq!(
        found(&app, &u, "red or bike").await,
        vec![newer, both.clone(), one],
        "the default is newest first, whatever the rank"
    );

    let r = search(&app, &u, "bike").await;
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["message"], "Search results");
    let item = &r.data()["items"][0];
    assert_eq!(item["sessionTitle"], "Bikes");
    assert_eq!(item["message"]["content"], "A red bike with a basket");
    assert_eq!(item["message"]["sessionId"], s.as_str());
    assert_eq!(item["message"]["media"], Value::Null);
    assert_eq!(item["snippet"], "A red [[bike]] with a basket");
    assert_eq!(r.data()["nextCursor"], Value::Null);
}

#[actix_web::test]
async fn phrases_or_and_minus_follow_web_search_syntax() {
    let app = TestApp::spawn().await;
    let u = app.register("syntax@example.com").await;
    let s = new_session(&app, &u, "Syntax").await;
    let red_bike = post(&app, &u, &s, "I want a red bike").await;
    let bike_red = post(&app, &u, &s, "The bike is red").await;
    let blue_car = post(&app, &u, &s, "A blue car").await;

    assert_eq!(
        found(&app, &u, "\"red bike\"").await,
        vec![red_bike.clone()]
    );
    let mut either = found(&app, &u, "car or \"red bike\"").await;
    either.sort();
    let mut want = vec![red_bike.clone(), blue_car.clone()];
    want.sort();
    assert_eq!(either, want);
    assert_eq!(found(&app, &u, "bike -want").await, vec![bike_red.clone()]);
    assert_eq!(found(&app, &u, "red -\"red bike\"").await, vec![bike_red]);
    assert_eq!(
        found(&app, &u, "nothing like this").await,
        Vec::<String>::new()
    );
}

#[actix_web::test]
async fn a_query_of_only_stop_words_is_an_empty_page() {
    let app = TestApp::spawn().await;
    let u = app.register("stop@example.com").await;
    let s = new_session(&app, &u, "Stop").await;
    post(&app, &u, &s, "the and of it is").await;
    for q in ["the", "and of the", "\"it is\"", "-the", "or"] {
        let r = search(&app, &u, q).await;
        assert_eq!(r.status, 200, "{q}: {:?}", r.body);
        assert_eq!(
            r.data(),
            &json!({ "items": [], "nextCursor": null, "truncated": false }),
            "{q}"
        );
    }
}

#[actix_web::test]
async fn a_user_finds_only_their_own_messages_and_an_agent_finds_any() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let sa = new_session(&app, &ann, "Ann's").await;
    let sb = new_session(&app, &bob, "Bob's").await;
    let by_ann = post(&app, &ann, &sa, "secret tandem offer").await;
    let by_bob = post(&app, &bob, &sb, "another tandem offer").await;

    assert_eq!(found(&app, &ann, "tandem").await, vec![by_ann.clone()]);
    assert_eq!(found(&app, &bob, "tandem").await, vec![by_bob.clone()]);
    assert_eq!(found(&app, &bob, "secret").await, Vec::<String>::new());
    for reader in [&agent, &admin] {
        let mut all = found(&app, reader, "tandem").await;
        all.sort();
        let mut want = vec![by_ann.clone(), by_bob.clone()];
        want.sort();
        assert_eq!(all, want);
    }
    // The limit is applied after the access filter: Bob's page of one is his.
    for _ in 0..5 {
        post(&app, &ann, &sa, "tandem again").await;
    }
    let r = app
        .get(&format!("{SEARCH}?q=tandem&limit=1"), &bob.token)
        .await;
    assert_eq!(ids(&r), vec![by_bob]);
    assert_eq!(r.data()["nextCursor"], Value::Null);
}

#[actix_web::test]
async fn deleted_messages_are_never_found() {
    let app = TestApp::spawn().await;
    let u = app.register("deleted@example.com").await;
    let s = new_session(&app, &u, "Deleted").await;
    let gone = post(&app, &u, &s, "obsolete quotation").await;
    let kept = post(&app, &u, &s, "current quotation").await;
    let r = app
        .delete(&format!("/api/v1/messages/{gone}"), &u.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(found(&app, &u, "quotation").await, vec![kept]);
    assert_eq!(found(&app, &u, "obsolete").await, Vec::<String>::new());
    // A deleted session's messages too.
    let r = app.delete(&format!("{SESSIONS}/{s}"), &u.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(found(&app, &u, "quotation").await, Vec::<String>::new());
}

#[actix_web::test]
async fn paging_over_120_hits_skips_and_repeats_nothing_while_posts_arrive() {
    let app = TestApp::spawn().await;
    let u = app.register("pager@example.com").await;
    let s = new_session(&app, &u, "Pages").await;
    // Ranks of several levels (1 to 3 occurrences), many ties among each.
    app.sql(&format!(
        "INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, created_at) \
         SELECT gen_random_uuid(), '{s}', g, '{}', 'user', 'text', \
                repeat('kayak ', 1 + g % 3) || 'number ' || g, \
                now() - interval '1 hour' + (g / 7) * interval '1 second' \
         FROM generate_series(1, 120) g",
        u.id
    ));
    app.sql(&format!(
        "UPDATE chat_sessions SET message_seq = 120, message_count = 120 WHERE id = '{s}'"
    ));
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("{SEARCH}?q=kayak&limit=25");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, &u.token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        seen.extend(ids(&r));
        pages += 1;
        match r.data()["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        // New hits of every rank arrive between pages.
        for n in 1..=3 {
            post(&app, &u, &s, &"kayak ".repeat(n)).await;
        }
    }
    assert_eq!(pages, 5);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a hit was repeated");
    // Every one of the 120 seeded hits was seen (new ones may or may not be).
    let seeded = app.count(&format!(
        "SELECT count(*) AS n FROM messages WHERE session_id = '{s}' AND seq <= 120"
    ));
    assert_eq!(seeded, 120);
    let listed = seen
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let seeded_seen = app.count(&format!(
        "SELECT count(*) AS n FROM messages WHERE id IN ({listed}) AND seq <= 120"
    ));
    assert_eq!(seeded_seen, 120, "a seeded hit was skipped");

    // A cursor is good only for its own query and caller.
    let r = app
        .get(&format!("{SEARCH}?q=kayak&limit=1"), &u.token)
        .await;
    let c = r.data()["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("{SEARCH}?q=kayaks&limit=1&cursor={c}"), &u.token)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        validation_error("cursor", "is not a valid cursor for this list")
    );
    let other = app.register("other-pager@example.com").await;
    let r = app
        .get(
            &format!("{SEARCH}?q=kayak&limit=1&cursor={c}"),
            &other.token,
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get(&format!("{SEARCH}?q=kayak&limit=1&cursor={c}"), &u.token)
        .await;
    assert_eq!(r.status, 200);
}

/// Every page of a search, following `nextCursor`: (ids, truncated) per page.
async fn all_pages(app: &TestApp, user: &TestUser, query: &str) -> Vec<(Vec<String>, bool)> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{SEARCH}?{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, &user.token).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        pages.push((ids(&r), r.data()["truncated"].as_bool().unwrap()));
        match r.data()["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return pages,
        }
    }
}

/// A user with eight matches of `kayak`, oldest first; the oldest is the
/// best match of all.
async fn eight_kayaks(app: &TestApp) -> (TestUser, Vec<String>) {
    let u = app.register("window@example.com").await;
    let s = new_session(app, &u, "Window").await;
    let mut posted = vec![post(app, &u, &s, "kayak kayak kayak kayak").await];
    for i in 1..8 {
        posted.push(post(app, &u, &s, &format!("kayak number {i}")).await);
    }
    (u, posted)
}

#[actix_web::test]
async fn relevance_ranks_only_the_newest_window_and_says_truncated_while_recent_reaches_all() {
    let app = TestApp::spawn_with(&[("SEARCH_RANK_WINDOW", "5")]).await;
    let (u, posted) = eight_kayaks(&app).await;
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();
    // recent (the default): all eight, newest first, never truncated.
    let pages = all_pages(&app, &u, "q=kayak&limit=3").await;
    assert_eq!(pages.len(), 3);
    let all: Vec<String> = pages.iter().flat_map(|(ids, _)| ids.clone()).collect();
    assert_eq!(all, newest_first);
    assert!(pages.iter().all(|(_, truncated)| !truncated));
    // relevance: only the five newest are ranked, on every page truncated.
    let pages = all_pages(&app, &u, "q=kayak&sort=relevance&limit=2").await;
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|(_, truncated)| *truncated));
    let window: Vec<String> = pages.iter().flat_map(|(ids, _)| ids.clone()).collect();
    assert!(
        !window.contains(&posted[0]),
        "the best match is outside the window"
    );
    assert_eq!(
        window,
        newest_first[..5].to_vec(),
        "equal ranks: newest first"
    );

    // With a window that holds them all, the best comes first, untruncated.
    let app = TestApp::spawn_with(&[("SEARCH_RANK_WINDOW", "8")]).await;
    let (u, posted) = eight_kayaks(&app).await;
    let r = app
        .get(&format!("{SEARCH}?q=kayak&sort=relevance"), &u.token)
        .await;
    assert_eq!(ids(&r)[0], posted[0]);
    assert_eq!(ids(&r).len(), 8);
    assert_eq!(r.data()["truncated"], false);
}

#[actix_web::test]
async fn a_message_posted_between_relevance_pages_never_enters_the_window() {
    let app = TestApp::spawn().await;
    let u = app.register("between@example.com").await;
    let s = new_session(&app, &u, "Between").await;
    for i in 0..6 {
        post(
            &app,
            &u,
            &s,
            &format!("{} canoe {i}", "canoe ".repeat(i % 3)),
        )
        .await;
    }
    let r = app
        .get(
            &format!("{SEARCH}?q=canoe&sort=relevance&limit=2"),
            &u.token,
        )
        .await;
    let mut seen = ids(&r);
    let mut cursor = r.data()["nextCursor"].as_str().map(str::to_owned);
    // The best match of all arrives after the first page.
    let late = post(&app, &u, &s, "canoe canoe canoe canoe canoe canoe").await;
    while let Some(c) = cursor {
        let r = app
            .get(
                &format!("{SEARCH}?q=canoe&sort=relevance&limit=2&cursor={c}"),
                &u.token,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        seen.extend(ids(&r));
        cursor = r.data()["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 6, "the six of the window, once each: {seen:?}");
    assert!(!seen.contains(&late));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 6);
    // A new search sees it first.
    assert_eq!(ranked(&app, &u, "canoe").await[0], late);
}

#[actix_web::test]
async fn a_cursor_is_bound_to_its_sort_and_an_unknown_sort_is_a_400() {
    let app = TestApp::spawn().await;
    let u = app.register("sorts@example.com").await;
    let s = new_session(&app, &u, "Sorts").await;
    for i in 0..3 {
        post(&app, &u, &s, &format!("paddle {i}")).await;
    }
    for (from, to) in [("recent", "relevance"), ("relevance", "recent")] {
        let r = app
            .get(&format!("{SEARCH}?q=paddle&sort={from}&limit=1"), &u.token)
            .await;
        let c = r.data()["nextCursor"].as_str().unwrap().to_owned();
        let r = app
            .get(
                &format!("{SEARCH}?q=paddle&sort={to}&limit=1&cursor={c}"),
                &u.token,
            )
            .await;
        assert_eq!(r.status, 400, "a {from} cursor used with {to}");
        assert_eq!(
            r.body,
            validation_error("cursor", "is not a valid cursor for this list")
        );
    }
    // A cursor issued without sort is a recent cursor.
    let r = app
        .get(&format!("{SEARCH}?q=paddle&limit=1"), &u.token)
        .await;
    let c = r.data()["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(
            &format!("{SEARCH}?q=paddle&sort=recent&limit=1&cursor={c}"),
            &u.token,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .get(&format!("{SEARCH}?q=paddle&sort=best"), &u.token)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        validation_error("sort", "must be recent or relevance")
    );
}

#[actix_web::test]
async fn a_users_window_holds_only_their_own_sessions_matches() {
    let app = TestApp::spawn_with(&[("SEARCH_RANK_WINDOW", "3")]).await;
    let ann = app.register("ann-window@example.com").await;
    let bob = app.register("bob-window@example.com").await;
    let a = new_session(&app, &ann, "Ann's").await;
    let b = new_session(&app, &bob, "Bob's").await;
    let mut anns = Vec::new();
    for i in 0..3 {
        anns.push(post(&app, &ann, &a, &format!("sail {i}")).await);
    }
    // Newer matches of someone else must not crowd Ann's out of her window.
    for i in 0..10 {
        post(&app, &bob, &b, &format!("sail {i}")).await;
    }
    let r = app
        .get(&format!("{SEARCH}?q=sail&sort=relevance"), &ann.token)
        .await;
    let mut got = ids(&r);
    got.sort();
    anns.sort();
    assert_eq!(got, anns);
    assert_eq!(r.data()["truncated"], false);
}

/// Seeds `n` messages into `session` (owned by `owner`), numbered from
/// `from`, one a second from `start_s` seconds ago, `content` with `{n}` for
/// the number.
fn seed(app: &TestApp, session: &str, owner: &str, from: i64, n: i64, start_s: i64, content: &str) {
    let content = content.replace("{n}", "' || g || '");
    app.sql(&format!(
        "INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, created_at) \
         SELECT gen_random_uuid(), '{session}', g, '{owner}', 'user', 'text', '{content}', \
                now() - interval '{start_s} seconds' + (g - {from}) * interval '1 second' \
         FROM generate_series({from}, {from} + {n} - 1) g"
    ));
    app.sql(&format!(
        "UPDATE chat_sessions SET message_seq = {from} + {n} - 1, \
         message_count = message_count + {n} WHERE id = '{session}'"
    ));
}

#[actix_web::test]
async fn an_agent_pages_every_match_newest_first_through_the_walk_and_the_exact_path() {
    // Every session is a large scope: a word is walked through the newest
    // rows, and one whose matches are older than the walk's 10,000 newest
    // rows falls through to the exact statement.
    let app = TestApp::spawn().await;
    let ann = app.register("many@example.com").await;
    let agent = app.user_with_role("agent-many@example.com", "agent").await;
    let s = new_session(&app, &ann, "Many").await;
    // 1,500 old `canoe`s, then 10,500 newer messages of which every 7th says
    // `kayak` (1,500 of them), and one `umiak`.
    seed(&app, &s, &ann.id, 1, 1_500, 20_000, "canoe {n}");
    seed(&app, &s, &ann.id, 1_501, 10_500, 15_000, "paddle {n}");
    app.sql(&format!(
        "UPDATE messages SET content = content || ' kayak' WHERE session_id = '{s}' \
         AND seq > 1500 AND seq % 7 = 0"
    ));
    app.sql(&format!(
        "UPDATE messages SET content = 'umiak' WHERE session_id = '{s}' AND seq = 5000"
    ));
    app.sql("ANALYZE messages");
    let expected = |word: &str| -> Vec<i64> {
        let mut c = app.db.conn();
        #[derive(diesel::QueryableByName)]
        struct Seq {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            seq: i64,
        }
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT seq FROM messages WHERE session_id = '{s}' AND search @@ \
             websearch_to_tsquery('english', '{word}') ORDER BY created_at DESC, id DESC"
        ))
        .load::<Seq>(&mut c)
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect()
    };
    for (word, count) in [("kayak", 1_500), ("canoe", 1_500), ("umiak", 1)] {
        let want = expected(word);
        assert_eq!(want.len(), count, "{word}");
        let pages = all_pages(&app, &agent, &format!("q={word}&limit=200")).await;
        let got: Vec<String> = pages.iter().flat_map(|(ids, _)| ids.clone()).collect();
        let listed = got
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(",");
        let seqs = {
            let mut c = app.db.conn();
            #[derive(diesel::QueryableByName)]
            struct Pair {
                #[diesel(sql_type = diesel::sql_types::Text)]
                id: String,
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                seq: i64,
            }
            use diesel::RunQueryDsl;
            let pairs = diesel::sql_query(format!(
                "SELECT id::text AS id, seq FROM messages WHERE id IN ({listed})"
            ))
            .load::<Pair>(&mut c)
            .unwrap();
            got.iter()
                .map(|id| pairs.iter().find(|p| &p.id == id).unwrap().seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs, want, "{word}: every match once, newest first");
    }
}

#[actix_web::test]
async fn snippets_mark_hits_and_give_markup_back_as_plain_text() {
    let app = TestApp::spawn().await;
    let u = app.register("snippet@example.com").await;
    let s = new_session(&app, &u, "Snippets").await;
    let script = "<script>alert('kayak')</script> & <b>bold</b> kayak";
    post(&app, &u, &s, script).await;
    let r = search(&app, &u, "kayak").await;
    assert_eq!(r.status, 200);
    let item = &r.data()["items"][0];
    assert_eq!(item["message"]["content"], script);
    assert_eq!(
        item["snippet"],
        "<script>alert('[[kayak]]')</script> & <b>bold</b> [[kayak]]"
    );

    // Brackets of the text never read as markers.
    post(&app, &u, &s, "[[canoe]] and [paddle]").await;
    let r = search(&app, &u, "canoe or paddle").await;
    let snippet = r.data()["items"][0]["snippet"].as_str().unwrap().to_owned();
    assert_eq!(
        snippet,
        "[\u{200B}[\u{200B}[[canoe]]\u{200B}]\u{200B}] and [\u{200B}[[paddle]]\u{200B}]"
    );
    assert_eq!(snippet.matches("[[").count(), 2);
    assert_eq!(snippet.matches("]]").count(), 2);

    // A long message: the parts around the hits.
    let long = format!(
        "{}needle{}",
        "filler words here. ".repeat(30),
        " more text".repeat(30)
    );
    post(&app, &u, &s, &long).await;
    let r = search(&app, &u, "needle").await;
    let snippet = r.data()["items"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("[[needle]]"), "{snippet}");
    assert!(snippet.len() < long.len() / 2, "{snippet}");
}

#[actix_web::test]
async fn session_id_narrows_to_one_readable_session() {
    let app = TestApp::spawn().await;
    let u = app.register("narrow@example.com").await;
    let other = app.register("narrow-other@example.com").await;
    let agent = app
        .user_with_role("narrow-agent@example.com", "agent")
        .await;
    let s1 = new_session(&app, &u, "One").await;
    let s2 = new_session(&app, &u, "Two").await;
    let so = new_session(&app, &other, "Other").await;
    let in1 = post(&app, &u, &s1, "pedal in one").await;
    post(&app, &u, &s2, "pedal in two").await;
    post(&app, &other, &so, "pedal elsewhere").await;

    let r = app
        .get(&format!("{SEARCH}?q=pedal&sessionId={s1}"), &u.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(ids(&r), vec![in1]);
    let not_found =
        json!({ "status": "error", "message": "Chat session not found", "code": "NOT_FOUND" });
    let r = app
        .get(&format!("{SEARCH}?q=pedal&sessionId={so}"), &u.token)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, not_found);
    let r = app
        .get(
            &format!("{SEARCH}?q=pedal&sessionId={}", uuid::Uuid::now_v7()),
            &u.token,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, not_found);
    let r = app
        .get(&format!("{SEARCH}?q=pedal&sessionId={so}"), &agent.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("{SEARCH}?q=pedal&sessionId=nope"), &u.token)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn q_limit_and_cursor_are_validated() {
    let app = TestApp::spawn().await;
    let u = app.register("validate@example.com").await;
    let check = async |query: &str, field: &str, message: &str| {
        let r = app.get(&format!("{SEARCH}?{query}"), &u.token).await;
        assert_eq!(r.status, 400, "{query}: {:?}", r.body);
        assert_eq!(r.body, validation_error(field, message), "{query}");
    };
    check("", "q", "is required").await;
    check("q=", "q", "must not be empty").await;
    check("q=%20%20", "q", "must not be empty").await;
    check(
        &format!("q={}", "a".repeat(201)),
        "q",
        "must be at most 200 characters",
    )
    .await;
    check("q=a&limit=0", "limit", "must be between 1 and 200").await;
    check("q=a&limit=201", "limit", "must be between 1 and 200").await;
    check(
        "q=a&cursor=garbage",
        "cursor",
        "is not a valid cursor for this list",
    )
    .await;
    let r = app
        .get(
            &format!("{SEARCH}?q={}&limit=200", "a".repeat(200)),
            &u.token,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get(&format!("{SEARCH}?q=a&sort=rank"), &u.token).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "VALIDATION_ERROR");
    let r = app
        .call(awc::http::Method::GET, &format!("{SEARCH}?q=a"), None, None)
        .await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn title_search_is_a_case_insensitive_substring_with_literal_wildcards() {
    let app = TestApp::spawn().await;
    let u = app.register("titles@example.com").await;
    let other = app.register("titles-other@example.com").await;
    for title in [
        "100% cotton",
        "100 percent",
        "snake_case",
        "snakeXcase",
        "Road BIKE",
    ] {
        new_session(&app, &u, title).await;
    }
    new_session(&app, &other, "Bike of another").await;
    let titles = async |q: &str| -> Vec<String> {
        let r = app.get(&format!("{SESSIONS}?q={}", enc(q)), &u.token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mut t: Vec<String> = r.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        t
    };
    assert_eq!(titles("0%").await, vec!["100% cotton"]);
    assert_eq!(titles("%").await, vec!["100% cotton"]);
    assert_eq!(titles("e_c").await, vec!["snake_case"]);
    assert_eq!(titles("_").await, vec!["snake_case"]);
    assert_eq!(titles("bike").await, vec!["Road BIKE"]);
    assert_eq!(titles("AD bi").await, vec!["Road BIKE"]);
    assert_eq!(titles("\\").await, Vec::<String>::new());
}

// ------------------------------------------------------------------ plans

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

fn plan_text(lines: Vec<PlanLine>) -> String {
    lines
        .into_iter()
        .map(|p| p.line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[actix_web::test]
async fn message_search_and_title_search_use_their_indexes() {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid};

    let app = TestApp::spawn().await;
    let u = app.register("plans@example.com").await;
    let owner = uuid::Uuid::parse_str(&u.id).unwrap();
    // 20 000 sessions of 100 users, 200 of them this user's; 20 000 messages
    // in those; one rare word. Seeded off the runtime the server runs on.
    let statements = vec![
        "INSERT INTO users (id, email, name, password_hash) \
         SELECT gen_random_uuid(), 'p' || g || '@example.com', 'P', 'h' FROM generate_series(1, 99) g"
            .to_owned(),
        format!(
            "INSERT INTO chat_sessions (id, user_id, title) \
             SELECT gen_random_uuid(), \
                    CASE WHEN g % 100 = 77 THEN '{owner}'::uuid \
                         ELSE (SELECT id FROM users ORDER BY id OFFSET g % 100 LIMIT 1) END, \
                    'Session ' || g || ' ' || substr(md5(g::text), 1, 8) || ' about ' || \
                    (ARRAY['bikes','laptops','shoes','phones'])[1 + g % 4] \
             FROM generate_series(1, 20000) g"
        ),
        format!(
            "INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content) \
             SELECT gen_random_uuid(), s.id, g, '{owner}', 'user', 'text', \
                    'message ' || g || ' about the price' || \
                    CASE WHEN g = 3 AND s.title LIKE 'Session 77 %' THEN ' zeppelin' ELSE '' END \
             FROM chat_sessions s, generate_series(1, 100) g \
             WHERE s.user_id = '{owner}' AND s.title LIKE 'Session %7 %'"
        ),
        "INSERT INTO chat_sessions (id, user_id, title) \
         VALUES (gen_random_uuid(), (SELECT id FROM users LIMIT 1), 'Zeppelin tour')"
            .to_owned(),
        "ANALYZE".to_owned(),
    ];
    let url = app.db.url().to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(&url).unwrap();
        for s in statements {
            diesel::sql_query(s).execute(&mut c).unwrap();
        }
    })
    .await
    .unwrap();

    let mut conn = app.db.conn();
    #[derive(diesel::QueryableByName)]
    struct Config {
        #[diesel(sql_type = diesel::sql_types::Oid)]
        oid: u32,
    }
    let english = diesel::sql_query("SELECT 'english'::regconfig::oid AS oid")
        .get_result::<Config>(&mut conn)
        .unwrap()
        .oid;
    diesel::sql_query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .unwrap();
    use store::search::{Scope, Shape, WALK_BUDGET, search_sql};
    let far = "9999-12-31T00:00:00Z";
    let epoch = "1970-01-01T00:00:00Z";
    for (scope, who, time_index) in [
        (Scope::Owner, Some(owner), "messages_owner_time_idx"),
        (Scope::All, None, "messages_time_idx"),
    ] {
        for shape in [Shape::Walk, Shape::Exact] {
            let query = diesel::sql_query(format!("EXPLAIN {}", search_sql(scope, shape)))
                .bind::<diesel::sql_types::Oid, _>(english)
                .bind::<Text, _>("zeppelin")
                .bind::<Nullable<Uuid>, _>(who)
                .bind::<Nullable<Uuid>, _>(None::<uuid::Uuid>)
                .bind::<Text, _>(far)
                .bind::<Uuid, _>(uuid::Uuid::max())
                .bind::<Text, _>(epoch)
                .bind::<Uuid, _>(uuid::Uuid::nil())
                .bind::<BigInt, _>(51_i64);
            let plan: Vec<PlanLine> = match shape {
                Shape::Walk => query
                    .bind::<BigInt, _>(WALK_BUDGET)
                    .bind::<Bool, _>(false)
                    .load(&mut conn),
                Shape::Exact => query.bind::<Bool, _>(false).load(&mut conn),
            }
            .unwrap();
            let text = plan_text(plan);
            assert!(!text.contains("Seq Scan on messages"), "{shape:?}:\n{text}");
            match shape {
                // Here every message is this owner's: the planner may walk
                // either time index.
                Shape::Walk => assert!(
                    text.contains(&format!("Index Scan using {time_index}"))
                        || text.contains("Index Scan using messages_time_idx"),
                    "the walk reads the newest rows through a time index:\n{text}"
                ),
                Shape::Exact => {
                    assert!(
                        text.contains("Bitmap Index Scan on messages_search_idx"),
                        "the exact search uses messages_search_idx:\n{text}"
                    );
                    assert!(
                        !text.contains("BitmapAnd"),
                        "never ANDed with a time index:\n{text}"
                    );
                }
            }
        }
    }
    // Through the API, the same query finds the one message.
    let r = app.get(&format!("{SEARCH}?q=zeppelin"), &u.token).await;
    assert_eq!(
        r.data()["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        r.body
    );
    assert_eq!(
        r.data()["items"][0]["sessionTitle"],
        "Session 77 28dd2c79 about laptops"
    );

    // The title search, as the store builds it.
    let sql = format!(
        "EXPLAIN SELECT * FROM chat_sessions WHERE user_id = '{owner}' \
         AND title ILIKE '%7 28DD2C7%' ORDER BY updated_at DESC, id DESC LIMIT 51"
    );
    let text = plan_text(diesel::sql_query(sql).load(&mut conn).unwrap());
    assert!(
        text.contains("Bitmap Index Scan on chat_sessions_title_trgm_idx"),
        "title search must use chat_sessions_title_trgm_idx:\n{text}"
    );
    let r = app
        .get(&format!("{SESSIONS}?q=7%2028DD2C7"), &u.token)
        .await;
    assert_eq!(
        r.data()["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        r.body
    );
}
