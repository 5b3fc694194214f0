//! Contract §4: the OpenAPI document and the interactive docs. (The document's
//! exact text is pinned by the snapshot test in the server crate.)

use crate::helpers::TestApp;
use awc::http::Method;
use serde_json::{Value, json};

/// Every operation of contract §3 that this server implements (live events
/// and search are not built yet), with whether it needs a token, and
/// the service endpoints of §4.
const CONTRACT: &[(&str, &str, bool)] = &[
    ("post", "/api/v1/auth/register", false),
    ("post", "/api/v1/auth/login", false),
    ("post", "/api/v1/auth/refresh", false),
    ("post", "/api/v1/auth/logout", true),
    ("post", "/api/v1/auth/logout-all", true),
    ("get", "/api/v1/auth/me", true),
    ("get", "/api/v1/auth/sessions", true),
    ("delete", "/api/v1/auth/sessions/{id}", true),
    ("get", "/api/v1/users/me", true),
    ("patch", "/api/v1/users/me", true),
    ("put", "/api/v1/users/me/password", true),
    ("get", "/api/v1/users", true),
    ("get", "/api/v1/users/{id}", true),
    ("patch", "/api/v1/users/{id}", true),
    ("delete", "/api/v1/users/{id}", true),
    ("delete", "/api/v1/users/{id}/sessions", true),
    ("post", "/api/v1/sessions", true),
    ("get", "/api/v1/sessions", true),
    ("get", "/api/v1/sessions/{id}", true),
    ("patch", "/api/v1/sessions/{id}", true),
    ("delete", "/api/v1/sessions/{id}", true),
    ("post", "/api/v1/sessions/{id}/messages", true),
    ("get", "/api/v1/sessions/{id}/messages", true),
    ("get", "/api/v1/sessions/{id}/events", true),
    ("get", "/api/v1/messages/search", true),
    ("get", "/api/v1/messages/{id}", true),
    ("delete", "/api/v1/messages/{id}", true),
    ("post", "/api/v1/messages/{id}/deltas", true),
    ("post", "/api/v1/messages/{id}/complete", true),
    ("post", "/api/v1/sessions/{id}/vendor", true),
    ("get", "/api/v1/sessions/{id}/vendor", true),
    ("get", "/api/v1/vendors/{id}", true),
    ("patch", "/api/v1/vendors/{id}", true),
    ("delete", "/api/v1/vendors/{id}", true),
    ("post", "/api/v1/sessions/{id}/sellers", true),
    ("get", "/api/v1/sessions/{id}/sellers", true),
    ("get", "/api/v1/sellers/{id}", true),
    ("patch", "/api/v1/sellers/{id}", true),
    ("delete", "/api/v1/sellers/{id}", true),
    ("get", "/api/v1/sessions/{id}/offers", true),
    ("put", "/api/v1/exchange-rates/{date}", true),
    ("get", "/api/v1/exchange-rates", true),
    ("post", "/api/v1/media", true),
    ("post", "/api/v1/webhooks", true),
    ("get", "/api/v1/webhooks", true),
    ("get", "/api/v1/webhooks/{id}", true),
    ("patch", "/api/v1/webhooks/{id}", true),
    ("delete", "/api/v1/webhooks/{id}", true),
    ("post", "/api/v1/webhooks/{id}/rotate-secret", true),
    ("get", "/api/v1/webhooks/{id}/deliveries", true),
    ("post", "/api/v1/webhooks/{id}/test", true),
    // A token or a signed url: no bearer scheme required.
    ("get", "/api/v1/media/{id}", false),
    ("get", "/health", false),
    ("get", "/ready", false),
    ("get", "/api/v1/openapi.json", false),
    ("get", "/docs", false),
    ("get", "/metrics", false),
];

async fn document(app: &TestApp) -> Value {
    let r = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.body
}

#[actix_web::test]
async fn the_openapi_document_is_3_1_and_lists_every_contract_operation_with_its_auth() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" })
    );
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        documented += item.as_object().unwrap().len();
        for (method, _) in item.as_object().unwrap() {
            assert!(
                CONTRACT.iter().any(|(m, p, _)| m == method && p == path),
                "{method} {path} is documented but not in the contract"
            );
        }
    }
    assert_eq!(documented, CONTRACT.len());
    for (method, path, auth) in CONTRACT {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(op["summary"].is_string(), "{method} {path} has no summary");
        let secured = op["security"] == json!([{ "bearer": [] }]);
        assert_eq!(secured, *auth, "{method} {path}: bearer scheme");
        if !auth {
            // Public (`[]`), or a token optional (`{}` among the choices, as
            // a medium read with a signed url).
            let security = op["security"].as_array().cloned().unwrap_or_default();
            assert!(
                security.is_empty() || security.contains(&json!({})),
                "{method} {path}: says it is public: {security:?}"
            );
        }
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} has no success response"
        );
        if *auth {
            assert!(responses.contains_key("401"), "{method} {path}");
        }
        if path.contains("{id}") {
            assert_eq!(
                op["parameters"][0],
                json!({ "name": "id", "in": "path", "description": "A UUID", "required": true,
                        "schema": { "type": "string", "format": "uuid" } }),
                "{method} {path}"
            );
            assert!(responses.contains_key("404"), "{method} {path}");
        }
        if op["requestBody"].is_object() {
            for status in ["400", "413", "415"] {
                assert!(responses.contains_key(status), "{method} {path} {status}");
            }
        }
    }
}

/// What the validators its users run (`make lint`: openapi-spec-validator,
/// redocly's recommended rules, a client generator) ask of the document,
/// checked here too so that a regression shows in `make test`.
#[actix_web::test]
async fn the_document_keeps_the_rules_of_validators_and_client_generators() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(
        doc["servers"],
        json!([{ "url": "/", "description": "The server that serves this document" }])
    );
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            assert!(
                op["security"].is_array(),
                "{method} {path} declares no security"
            );
            let responses = op["responses"].as_object().unwrap();
            if path.starts_with("/api/v1/") {
                assert!(
                    responses.keys().any(|s| s.starts_with('4')),
                    "{method} {path} has no 4xx response"
                );
            }
        }
    }
    // Every component is referred to: nothing unused for a generator to emit.
    let text = doc.to_string();
    for kind in ["schemas", "responses", "headers"] {
        for name in doc["components"][kind].as_object().unwrap().keys() {
            let target = format!("\"#/components/{kind}/{name}\"");
            assert!(text.contains(&target), "components.{kind}.{name} is unused");
        }
    }
}

/// The links lead from a response that creates a resource to the operations
/// on it, and the pointer finds the id in what the server really answers.
#[actix_web::test]
async fn the_documents_links_name_real_operations_and_real_ids() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut ids = std::collections::HashSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            ids.insert(op["operationId"].as_str().unwrap().to_owned());
        }
    }
    let links = &doc["paths"]["/api/v1/sessions"]["post"]["responses"]["201"]["links"];
    assert_eq!(links.as_object().unwrap().len(), 8, "{links}");
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for res in op["responses"].as_object().unwrap().values() {
                for (name, link) in res["links"].as_object().into_iter().flatten() {
                    let target = link["operationId"].as_str().unwrap();
                    assert!(ids.contains(target), "link {name} to {target}");
                }
            }
        }
    }
    let user = app.register("links@example.com").await;
    let r = app.post("/api/v1/sessions", &user.token, json!({})).await;
    assert_eq!(r.status, 201);
    let expression = links["get_session"]["parameters"]["id"].as_str().unwrap();
    let pointer = expression.strip_prefix("$response.body#").unwrap();
    let id = r.body.pointer(pointer).and_then(Value::as_str).unwrap();
    let r = app
        .get(&format!("/api/v1/sessions/{id}"), &user.token)
        .await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let id = "0190f0f0-0000-7000-8000-000000000000";
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let url = path.replace("{id}", id).replace("{date}", "2026-12-04");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = op["requestBody"].is_object().then(|| json!({}));
            let r = app.call(method.clone(), &url, None, body).await;
            assert!(
                ![404, 405].contains(&r.status),
                "{method} {url} answered {} {}: documented but not routed",
                r.status,
                r.body
            );
        }
    }
}

#[actix_web::test]
async fn the_documented_bodies_are_the_ones_served() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let user = app.register("doc@example.com").await;
    let r = app
        .post("/api/v1/sessions", &user.token, json!({ "title": "Bikes" }))
        .await;
    assert_eq!(r.status, 201);
    let session = r.data()["session"].as_object().unwrap();
    let props = schemas["ChatSession"]["properties"].as_object().unwrap();
    let mut served: Vec<_> = session.keys().collect();
    let mut documented: Vec<_> = props.keys().collect();
    served.sort();
    documented.sort();
    assert_eq!(served, documented, "ChatSession fields");
    let r = app.get("/api/v1/auth/me", &user.token).await;
    let mut served: Vec<_> = r.data()["user"].as_object().unwrap().keys().collect();
    let mut documented: Vec<_> = schemas["User"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    served.sort();
    documented.sort();
    assert_eq!(served, documented, "User fields");
    assert_eq!(
        schemas["RegisterInput"]["required"],
        json!(["email", "password", "name"])
    );
    assert_eq!(schemas["RegisterInput"]["additionalProperties"], false);
    // A Message, streamed or not, with its status and completedAt.
    let s = session["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/sessions/{s}/messages"),
            &user.token,
            json!({ "content": "hi" }),
        )
        .await;
    let mut served: Vec<_> = r.data()["message"].as_object().unwrap().keys().collect();
    let mut documented: Vec<_> = schemas["Message"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    served.sort();
    documented.sort();
    assert_eq!(served, documented, "Message fields");
    assert_eq!(
        schemas["MessageStatus"]["enum"],
        json!(["complete", "streaming", "incomplete"])
    );
    assert_eq!(schemas["DeltaInput"]["required"], json!(["seq", "text"]));
    // A post is a text, a medium, or a streamed reply.
    let post = schemas["PostMessageInput"]["oneOf"].as_array().unwrap();
    assert_eq!(post.len(), 3);
    assert_eq!(post[2]["required"], json!(["role", "stream"]));
}

async fn text(app: &TestApp, path: &str) -> (u16, String, String) {
    let mut res = app.client.get(app.url(path)).send().await.unwrap();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.body().await.unwrap();
    (
        res.status().as_u16(),
        ct,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[actix_web::test]
async fn docs_are_served_from_the_binary_and_reference_no_external_host() {
    let app = TestApp::spawn().await;
    let (status, ct, html) = text(&app, "/docs").await;
    assert_eq!(status, 200);
    assert_eq!(ct, "text/html; charset=utf-8");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/docs/"))
        .collect();
    assert_eq!(assets, ["/docs/docs.css", "/docs/docs.js"]);
    for (path, want) in [
        ("/docs/docs.css", "text/css; charset=utf-8"),
        ("/docs/docs.js", "text/javascript; charset=utf-8"),
    ] {
        let (status, ct, body) = text(&app, path).await;
        assert_eq!((status, ct.as_str()), (200, want), "{path}");
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"),
            "{path}"
        );
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    let (_, _, js) = text(&app, "/docs/docs.js").await;
    assert!(js.contains("fetch(\"/api/v1/openapi.json\")"));
    // The document's text becomes text nodes (and `code` elements), never
    // markup: nothing in it can inject HTML into the page.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
    ] {
        assert!(!js.contains(sink), "docs.js uses {sink}");
    }
}
