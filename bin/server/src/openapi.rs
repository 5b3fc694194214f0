//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations and the domain types' schemas, plus the conventions every
//! operation shares (written once here rather than on each handler): the error
//! responses a route can give, its path parameters, the bearer scheme, an
//! explicit `security: []` on the public operations, links from the responses
//! that create resources to the operations on them, and no component that
//! nothing refers to.

use crate::error::{ErrorBody, ErrorCode};
use crate::routes;
use std::collections::HashMap;
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, Object, Ref, RefOr, ResponseBuilder, Schema, Type, header::HeaderBuilder,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dealroom API",
        version = "1",
        description = "The backend of a chat product in which people work out purchases. \
            Every body is JSON in the envelope `{status, message, data}`; errors carry a \
            stable `code`. Authenticated routes take `Authorization: Bearer <access token>`. \
            A string holding a NUL character is a `400 VALIDATION_ERROR` wherever it is sent."
    ),
    servers((url = "/", description = "The server that serves this document")),
    components(schemas(ErrorBody, domain::FieldError, domain::SearchHit)),
    tags(
        (name = "auth", description = "Register, log in, refresh, log out; login sessions"),
        (name = "users", description = "The caller's profile; user administration (admins)"),
        (name = "sessions", description = "Chat sessions"),
        (name = "messages", description = "Messages in chat sessions"),
        (name = "vendors", description = "The vendor a chat session is about"),
        (name = "sellers", description = "Sellers' product offers in a chat session, and their comparison"),
        (name = "exchange-rates", description = "Daily reference exchange rates against one base currency"),
        (name = "media", description = "Uploaded files: photos, PDFs, voice notes, short videos"),
        (name = "webhooks", description = "Endpoints that receive every event of every chat session, signed (Standard Webhooks), retried until acknowledged (admins)"),
        (name = "service", description = "Liveness, readiness, metrics, this document"),
    )
)]
struct ApiDoc;

/// The whole document: the areas' paths merged into [`ApiDoc`], then the
/// shared conventions applied (once, to every path).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in [
        routes::auth::Doc::openapi(),
        routes::users::Doc::openapi(),
        routes::chat::Doc::openapi(),
        routes::market::Doc::openapi(),
        routes::events::Doc::openapi(),
        routes::media::Doc::openapi(),
        routes::webhooks::Doc::openapi(),
        routes::health::Doc::openapi(),
        routes::docs::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    doc.paths.add_path_operation(
        "/metrics",
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag("service")
            .summary(Some("Prometheus metrics"))
            .description(Some(
                "Request counts and latency histograms by route pattern and status, \
                 and the database pool's size, idle and waiting counts, in the \
                 Prometheus text format.",
            ))
            .operation_id(Some("metrics"))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Prometheus text format 0.0.4")
                    .content(
                        "text/plain",
                        ContentBuilder::new()
                            .schema(Some(Object::with_type(Type::String)))
                            .build(),
                    ),
            ),
    );
    use utoipa::Modify;
    Conventions.modify(&mut doc);
    doc
}

/// The document as served, serialised once.
pub static JSON: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&document()).unwrap_or_else(|e| {
        log::error!("cannot serialise the OpenAPI document: {e}");
        String::from("{}")
    })
});

/// The methods of each documented route pattern (`/api/v1/sessions/{id}` →
/// `GET, PATCH, DELETE`): the `Allow` header of a `405`. The document is the
/// route table's twin (a test calls every documented operation), so this is
/// where that list already lives.
static ALLOW: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let doc = document();
    doc.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods: Vec<&str> = [
                ("GET", item.get.is_some()),
                ("HEAD", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ]
            .into_iter()
            .filter_map(|(m, present)| present.then_some(m))
            .collect();
            (path.clone(), methods.join(", "))
        })
        .collect()
});

/// What `Allow` says for a matched route pattern; `GET, HEAD` for the few
/// undocumented resources (the docs page's assets), which only answer those.
pub fn allowed_methods(pattern: Option<&str>) -> &'static str {
    pattern
        .and_then(|p| ALLOW.get(p))
        .map_or("GET, HEAD", String::as_str)
}

/// The error responses of the document, one per status, generated from the
/// one table of errors ([`ErrorCode`]): the component is named after the
/// status's first code, and describes every code that status can carry.
/// (`405` is left out: no operation of the document answers it by design.)
static ERRORS: LazyLock<Vec<(u16, String, utoipa::openapi::Response)>> = LazyLock::new(|| {
    let mut out: Vec<(u16, String, utoipa::openapi::Response)> = Vec::new();
    for code in ErrorCode::ALL {
        let status = code.status().as_u16();
        if status == 405 || out.iter().any(|(s, _, _)| *s == status) {
            continue;
        }
        // The shared 401 is the bearer token's: wrong credentials and a bad
        // refresh token are answered only by login, refresh and a password
        // change, which document them in their own words.
        let all: Vec<ErrorCode> = ErrorCode::ALL
            .into_iter()
            .filter(|c| c.status() == code.status())
            .filter(|c| {
                !matches!(
                    c,
                    ErrorCode::InvalidCredentials | ErrorCode::InvalidRefreshToken
                )
            })
            .collect();
        out.push((status, format!("{code:?}"), error_response(code, &all)));
    }
    out
});

struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (name, description) in EDGE_HEADERS {
            components.headers.insert(
                name.to_owned(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(Object::with_type(Type::String)))
                        .description(Some(description))
                        .build(),
                ),
            );
        }
        // The error components serve only /api/v1 routes, which are rate limited.
        for (_, name, res) in ERRORS.iter() {
            let mut res = res.clone();
            add_edge_headers(&mut res, true);
            components.responses.insert(name.clone(), RefOr::T(res));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let api = path.starts_with("/api/v1/");
            let names = path_params(path);
            for op in operations(item) {
                for res in op.responses.responses.values_mut() {
                    if let RefOr::T(res) = res {
                        add_edge_headers(res, api);
                    }
                }
                // The whole /api/v1 scope is rate limited, the document too.
                let rate_limited = api;
                let api = api && path != "/api/v1/openapi.json";
                add_path_params(op, &names);
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                // A public operation says so (`security: []`) rather than
                // leaving the reader to guess.
                op.security.get_or_insert_with(Vec::new);
                let has_body = op.request_body.is_some();
                let has_query = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
                let mut add = |status: u16, when: bool| {
                    if when {
                        add_error(op, status);
                    }
                };
                add(400, has_body || has_query || !names.is_empty());
                add(401, secured);
                add(404, !names.is_empty());
                add(408, has_body);
                add(413, has_body);
                add(415, has_body);
                add(429, rate_limited);
                add(500, api);
                add(503, api && (secured || has_body));
            }
        }
        add_links(doc);
        reference_named_schemas(doc);
        prune_unused_components(doc);
    }
}

/// The links from a response that creates a resource to the operations on
/// it: the creating `POST`, its status, the JSON pointer of the new id in its
/// body, and the operations (`method path`) whose `{id}` it fills, each of
/// which then finds the resource (a new chat session has no vendor yet, so
/// `GET .../vendor` is not among them). Clients, and schemathesis's stateful
/// phase, follow them to real resources.
const LINKS: [(&str, &str, &str, &[&str]); 5] = [
    (
        "/api/v1/auth/register",
        "201",
        "/data/user/id",
        &[
            "get /api/v1/users/{id}",
            "patch /api/v1/users/{id}",
            "delete /api/v1/users/{id}",
            "delete /api/v1/users/{id}/sessions",
        ],
    ),
    (
        "/api/v1/sessions",
        "201",
        "/data/session/id",
        &[
            "get /api/v1/sessions/{id}",
            "patch /api/v1/sessions/{id}",
            "delete /api/v1/sessions/{id}",
            "get /api/v1/sessions/{id}/messages",
            "post /api/v1/sessions/{id}/messages",
            "post /api/v1/sessions/{id}/vendor",
            "get /api/v1/sessions/{id}/sellers",
            "post /api/v1/sessions/{id}/sellers",
        ],
    ),
    (
        "/api/v1/sessions/{id}/messages",
        "201",
        "/data/message/id",
        &["get /api/v1/messages/{id}", "delete /api/v1/messages/{id}"],
    ),
    (
        "/api/v1/sessions/{id}/vendor",
        "201",
        "/data/vendor/id",
        &[
            "get /api/v1/vendors/{id}",
            "patch /api/v1/vendors/{id}",
            "delete /api/v1/vendors/{id}",
        ],
    ),
    (
        "/api/v1/sessions/{id}/sellers",
        "201",
        "/data/seller/id",
        &[
            "get /api/v1/sellers/{id}",
            "patch /api/v1/sellers/{id}",
            "delete /api/v1/sellers/{id}",
        ],
    ),
];

fn add_links(doc: &mut utoipa::openapi::OpenApi) {
    let mut targets: Vec<(String, String)> = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("get", &item.get),
            ("put", &item.put),
            ("post", &item.post),
            ("delete", &item.delete),
            ("patch", &item.patch),
        ] {
            if let Some(id) = op.as_ref().and_then(|op| op.operation_id.as_ref()) {
                targets.push((format!("{method} {path}"), id.clone()));
            }
        }
    }
    for (from, status, pointer, to) in LINKS {
        let Some(op) = doc
            .paths
            .paths
            .get_mut(from)
            .and_then(|item| item.post.as_mut())
        else {
            continue;
        };
        let Some(RefOr::T(res)) = op.responses.responses.get_mut(status) else {
            continue;
        };
        for (_, id) in targets
            .iter()
            .filter(|(target, _)| to.contains(&target.as_str()))
        {
            let link = LinkBuilder::new()
                .operation_id(id)
                .parameter("id", format!("$response.body#{pointer}"))
                .build();
            res.links.insert(id.clone(), RefOr::T(link));
        }
    }
}

/// Replaces each inline copy of a named object schema with a `$ref` to it: a
/// generic body (`Page<Message>`) inlines its argument, and client generators
/// then make a class per copy (one `Message` class per list).
fn reference_named_schemas(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let values: Vec<(String, serde_json::Value)> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| Some((name.clone(), serde_json::to_value(schema).ok()?)))
        .collect();
    // Objects with properties only, and only those no other name shares.
    let named: Vec<(String, serde_json::Value)> = values
        .iter()
        .filter(|(_, v)| v.get("properties").is_some())
        .filter(|(name, v)| !values.iter().any(|(other, w)| other != name && w == v))
        .map(|(name, v)| (format!("#/components/schemas/{name}"), v.clone()))
        .collect();
    // A named schema's own root stays; what it holds is replaced. (The
    // paths' bodies and responses name their schemas already.)
    for schema in components.schemas.values_mut() {
        if let RefOr::T(schema) = schema {
            replace_children(schema, &named);
        }
    }
}

fn replace_copies(schema: &mut RefOr<Schema>, named: &[(String, serde_json::Value)]) {
    let RefOr::T(inner) = schema else { return };
    let value = serde_json::to_value(&*inner).ok();
    if let Some((target, _)) = named.iter().find(|(_, v)| Some(v) == value.as_ref()) {
        *schema = RefOr::Ref(Ref::new(target.clone()));
        return;
    }
    replace_children(inner, named);
}

fn replace_children(schema: &mut Schema, named: &[(String, serde_json::Value)]) {
    match schema {
        Schema::Object(object) => object
            .properties
            .values_mut()
            .for_each(|p| replace_copies(p, named)),
        Schema::Array(array) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items {
                replace_copies(items, named);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(|i| replace_copies(i, named)),
        Schema::AllOf(all) => all.items.iter_mut().for_each(|i| replace_copies(i, named)),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|i| replace_copies(i, named)),
        _ => {}
    }
}

/// Drops the schemas, responses and headers of `components` that nothing in
/// the document reaches (the schemas a generic body inlines, the error
/// responses every route that can give them declares in its own words), so
/// that validators and client generators see only what is used.
fn prune_unused_components(doc: &mut utoipa::openapi::OpenApi) {
    let value = match serde_json::to_value(&*doc) {
        Ok(value) => value,
        Err(e) => {
            log::error!("cannot walk the OpenAPI document: {e}");
            return;
        }
    };
    let mut reached = std::collections::HashSet::new();
    let mut queue = Vec::new();
    if let serde_json::Value::Object(top) = &value {
        for (key, part) in top {
            if key != "components" {
                collect_refs(part, &mut queue);
            }
        }
    }
    while let Some(target) = queue.pop() {
        if !reached.insert(target.clone()) {
            continue;
        }
        if let Some(part) = value.pointer(target.trim_start_matches('#')) {
            collect_refs(part, &mut queue);
        }
    }
    if let Some(components) = doc.components.as_mut() {
        let keep =
            |kind: &str, name: &String| reached.contains(&format!("#/components/{kind}/{name}"));
        components.schemas.retain(|name, _| keep("schemas", name));
        components
            .responses
            .retain(|name, _| keep("responses", name));
        components.headers.retain(|name, _| keep("headers", name));
    }
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", serde_json::Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Headers every response carries (the request id), and every `/api/v1`
/// response (the rate limit's), declared once under `components.headers`.
const EDGE_HEADERS: [(&str, &str); 3] = [
    (
        "X-Request-Id",
        "The request's id: the client's own if it sent a sane one, else a new UUID",
    ),
    (
        "X-RateLimit-Limit",
        "Requests allowed per window for this client (`RATE_LIMIT_MAX`, or `AUTH_RATE_LIMIT_MAX` on register, login and refresh)",
    ),
    (
        "X-RateLimit-Remaining",
        "Requests left in the current window",
    ),
];

fn add_edge_headers(res: &mut utoipa::openapi::Response, rate_limited: bool) {
    for (name, _) in EDGE_HEADERS {
        if name == "X-Request-Id" || rate_limited {
            res.headers.insert(
                name.to_owned(),
                RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
            );
        }
    }
}

fn error_response(code: ErrorCode, all: &[ErrorCode]) -> utoipa::openapi::Response {
    let status = code.status().as_u16();
    let example =
        serde_json::json!({ "status": "error", "message": code.message(), "code": code.code() });
    let codes: Vec<String> = all.iter().map(|c| format!("`{}`", c.code())).collect();
    let mut res = ResponseBuilder::new()
        .description(codes.join(" or "))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .example(Some(example))
                .build(),
        );
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(Some(Object::with_type(Type::String)))
            .description(Some(description))
            .build()
    };
    match status {
        401 => res = res.header("WWW-Authenticate", header("`Bearer`")),
        429 => res = res.header("Retry-After", header("whole seconds, at least 1")),
        503 => res = res.header("Retry-After", header("seconds")),
        _ => {}
    }
    res.build()
}

fn add_error(op: &mut Operation, status: u16) {
    if let Some((_, name, _)) = ERRORS.iter().find(|(s, _, _)| *s == status) {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Every `{name}` of a path is a UUID; declared here unless the handler did.
fn add_path_params(op: &mut Operation, names: &[String]) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    for name in names.iter().rev() {
        let declared = params.iter().any(
            |p| matches!(p, RefOr::T(p) if p.name == *name && p.parameter_in == ParameterIn::Path),
        );
        if !declared {
            let param: Parameter = ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(utoipa::openapi::Required::True)
                .description(Some("A UUID"))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                            utoipa::openapi::KnownFormat::Uuid,
                        ))),
                ))
                .build();
            params.insert(0, RefOr::T(param));
        }
    }
    if params.is_empty() {
        op.parameters = None;
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;

    /// The committed document; `UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p server`
    /// rewrites it after an intended change, which then shows in review.
    fn snapshot_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
    }

    #[test]
    fn the_document_matches_its_committed_snapshot() {
        let now = format!("{}\n", super::JSON.as_str());
        let path = snapshot_path();
        if std::env::var_os("UPDATE_OPENAPI_SNAPSHOT").is_some() {
            std::fs::write(&path, &now).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == now,
            "the OpenAPI document changed; if intended, run \
             `UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p server openapi` and commit bin/server/openapi.json"
        );
    }
}
