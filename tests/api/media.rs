//! Contract §3.5 (media) and media messages of §3.4: uploads, downloads,
//! signed links, bad input, deletion and the collector, on the disk and on S3.

use crate::helpers::{TestApp, TestUser, dealroom_binary};
use awc::http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- files

/// A PNG's signature and header, then `len` bytes in all.
fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    let mut i: u32 = 7;
    while b.len() < len {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        b.push((i >> 16) as u8);
    }
    b.truncate(len);
    b
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const BOUNDARY: &str = "dealroom-test-boundary-7MA4YWxkTrZu0gW";

/// One part of a multipart body: name, `filename` (or the raw disposition
/// tail), content type, bytes.
struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: &'a str,
    bytes: &'a [u8],
}

fn file(bytes: &[u8]) -> Part<'_> {
    Part {
        name: "file",
        filename: Some("filename=\"upload.bin\""),
        content_type: "application/octet-stream",
        bytes,
    }
}

fn multipart(parts: &[Part<'_>], close: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
        if let Some(f) = p.filename {
            disposition.push_str("; ");
            disposition.push_str(f);
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(format!("\r\nContent-Type: {}\r\n\r\n", p.content_type).as_bytes());
        body.extend_from_slice(p.bytes);
        body.extend_from_slice(b"\r\n");
    }
    if close {
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    }
    body
}

fn form_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

// ---------------------------------------------------------------- requests

/// A response with its raw body.
struct Got {
    status: u16,
    headers: awc::http::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Got {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let res = match body {
        Some(b) => req.send_body(b).await,
        None => req.send().await,
    };
    let mut res = res.unwrap_or_else(|e| panic!("{path}: {e}"));
    let body = res.body().limit(64 * 1024 * 1024).await.unwrap_or_default();
    Got {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: body.to_vec(),
    }
}

async fn upload_parts(app: &TestApp, token: &str, parts: &[Part<'_>]) -> Got {
    let ct = form_type();
    send(
        app,
        Method::POST,
        "/api/v1/media",
        Some(token),
        &[("Content-Type", ct.as_str())],
        Some(multipart(parts, true)),
    )
    .await
}

/// Uploads `bytes` as `name`; the `Media`.
async fn upload(app: &TestApp, user: &TestUser, bytes: &[u8], name: &str) -> Value {
    let filename = format!("filename=\"{name}\"");
    let r = upload_parts(
        app,
        &user.token,
        &[Part {
            filename: Some(&filename),
            ..file(bytes)
        }],
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["data"]["media"].clone()
}

async fn download(app: &TestApp, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Got {
    send(app, Method::GET, path, token, headers, None).await
}

fn assert_error(got: &Got, status: u16, code: &str, message: &str) {
    let body = got.json();
    assert_eq!(got.status, status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["message"], message, "{body}");
}

fn assert_invalid(got: &Got, field: &str, message: &str) {
    assert_error(got, 400, "VALIDATION_ERROR", "Validation failed");
    assert_eq!(
        got.json()["errors"],
        json!([{ "field": field, "message": message }])
    );
}

// ---------------------------------------------------------------- storage state

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn objects(app: &TestApp) -> Vec<PathBuf> {
    files(&app.media_dir().join("objects"))
}

fn temps(app: &TestApp) -> Vec<PathBuf> {
    files(&app.media_dir().join("tmp"))
}

fn object_path(app: &TestApp, sha: &str) -> PathBuf {
    app.media_dir()
        .join("objects")
        .join(&sha[0..2])
        .join(&sha[2..4])
        .join(sha)
}

/// Nothing of a refused upload anywhere: no row, no object, no temporary file.
fn assert_nothing_stored(app: &TestApp) {
    assert_eq!(app.count("SELECT count(*) AS n FROM media"), 0);
    assert_eq!(objects(app), Vec::<PathBuf>::new());
    assert_eq!(temps(app), Vec::<PathBuf>::new());
}

/// Waits up to 10 s for `check`.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- uploads

#[actix_web::test]
async fn an_upload_is_sniffed_hashed_stored_under_its_hash_and_served_back() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bytes = png(300_000);
    // The part claims HTML; the bytes are a PNG.
    let r = upload_parts(
        &app,
        &ann.token,
        &[Part {
            name: "file",
            filename: Some("filename=\"cat.png\""),
            content_type: "text/html",
            bytes: &bytes,
        }],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let body = r.json();
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], "Media uploaded");
    let m = &body["data"]["media"];
    let sha = hex_sha256(&bytes);
    assert_eq!(m["mimeType"], "image/png");
    assert_eq!(m["sizeBytes"], 300_000);
    assert_eq!(m["fileName"], "cat.png");
    assert_eq!(m["sha256"], sha.as_str());
    assert!(crate::helpers::is_timestamp(&m["createdAt"]));
    assert_eq!(m.get("ownerId"), None);
    let id = m["id"].as_str().unwrap();
    let url = m["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/api/v1/media/{id}?expires=")),
        "{url}"
    );
    assert_eq!(std::fs::read(object_path(&app, &sha)).unwrap(), bytes);
    assert_eq!(temps(&app), Vec::<PathBuf>::new());

    // Served back, whole, with the headers of §3.5.
    let path = format!("/api/v1/media/{id}");
    let got = download(
        &app,
        &path,
        Some(&ann.token),
        &[("Accept-Encoding", "gzip, br")],
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bytes);
    let etag = format!("\"{sha}\"");
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("content-length"), Some("300000"));
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(got.header("cache-control"), Some("private"));
    assert_eq!(got.header("accept-ranges"), Some("bytes"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        got.header("content-security-policy"),
        Some("sandbox; default-src 'none'")
    );
    assert_eq!(
        got.header("content-disposition"),
        Some("inline; filename=\"cat.png\"; filename*=UTF-8''cat.png")
    );

    // 304 for a matching If-None-Match.
    let got = download(&app, &path, Some(&ann.token), &[("If-None-Match", &etag)]).await;
    assert_eq!(got.status, 304);
    assert!(got.body.is_empty());
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    let got = download(
        &app,
        &path,
        Some(&ann.token),
        &[("If-None-Match", "\"other\"")],
    )
    .await;
    assert_eq!(got.status, 200);

    // One range.
    let got = download(&app, &path, Some(&ann.token), &[("Range", "bytes=100-199")]).await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body, bytes[100..200].to_vec());
    assert_eq!(got.header("content-range"), Some("bytes 100-199/300000"));
    assert_eq!(got.header("content-length"), Some("100"));
    let got = download(&app, &path, Some(&ann.token), &[("Range", "bytes=-10")]).await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body, bytes[299_990..].to_vec());
    // A stale If-Range gets the whole file.
    let got = download(
        &app,
        &path,
        Some(&ann.token),
        &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")],
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len(), 300_000);
    // A range past the end.
    let got = download(&app, &path, Some(&ann.token), &[("Range", "bytes=300000-")]).await;
    assert_error(&got, 416, "RANGE_NOT_SATISFIABLE", "Range not satisfiable");
    assert_eq!(got.header("content-range"), Some("bytes */300000"));

    // HEAD: the headers, no body.
    let got = send(&app, Method::HEAD, &path, Some(&ann.token), &[], None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-length"), Some("300000"));
    assert!(got.body.is_empty());

    // A PDF is an attachment.
    let doc = upload(&app, &ann, &pdf(), "Quote 2026 (final).pdf").await;
    assert_eq!(doc["mimeType"], "application/pdf");
    let got = download(
        &app,
        &format!("/api/v1/media/{}", doc["id"].as_str().unwrap()),
        Some(&ann.token),
        &[],
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, pdf());
    assert_eq!(
        got.header("content-disposition"),
        Some(
            "attachment; filename=\"Quote 2026 (final).pdf\"; filename*=UTF-8''Quote%202026%20%28final%29.pdf"
        )
    );
}

#[actix_web::test]
async fn the_same_bytes_twice_are_two_media_and_one_object() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bytes = png(5000);
    let a = upload(&app, &ann, &bytes, "a.png").await;
    let b = upload(&app, &ann, &bytes, "b.png").await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["sha256"], b["sha256"]);
    assert_eq!(objects(&app).len(), 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM media"), 2);
}

#[actix_web::test]
async fn a_signed_url_works_without_a_token_until_it_expires_or_is_altered() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bytes = png(2000);
    let m = upload(&app, &ann, &bytes, "a.png").await;
    let url = m["url"].as_str().unwrap().to_owned();
    let got = download(&app, &url, None, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bytes);

    // Tampered: another signature, another expiry, another medium.
    let id = m["id"].as_str().unwrap();
    let (path, query) = url.split_once('?').unwrap();
    let mut sig = query.split("sig=").nth(1).unwrap().to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flipped);
    let expires: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let other = upload(&app, &ann, &png(2001), "b.png").await;
    let good_sig = query.split("sig=").nth(1).unwrap();
    for bad in [
        format!("{path}?expires={expires}&sig={sig}"),
        format!("{path}?expires={}&sig={good_sig}", expires + 60),
        format!("{path}?expires=soon&sig={good_sig}"),
        format!("{path}?sig={good_sig}"),
        format!(
            "/api/v1/media/{}?expires={expires}&sig={good_sig}",
            other["id"].as_str().unwrap()
        ),
    ] {
        let got = download(&app, &bad, None, &[]).await;
        assert_error(&got, 404, "NOT_FOUND", "Media not found");
    }
    // Expired: a link made an hour ago with a TTL of 15 minutes.
    let urls = domain::media::MediaUrls::new(
        app.settings.jwt_secret.expose().as_bytes(),
        Duration::from_secs(900),
    );
    let media_id = domain::MediaId(id.parse().unwrap());
    let old = urls.link(media_id, domain::media::now() - 3600);
    let got = download(&app, &old, None, &[]).await;
    assert_error(&got, 404, "NOT_FOUND", "Media not found");
    // The same key, a fresh link: good (the server signs like this).
    let fresh = urls.link(media_id, domain::media::now());
    assert_eq!(download(&app, &fresh, None, &[]).await.status, 200);

    // No signature and no token: 401.
    let got = download(&app, path, None, &[]).await;
    assert_error(&got, 401, "UNAUTHENTICATED", "Authentication required");
}

// ---------------------------------------------------------------- bad input

#[actix_web::test]
async fn bad_uploads_get_a_clear_error_and_leave_nothing_behind() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let image = png(1000);
    let other = Part {
        name: "caption",
        filename: None,
        content_type: "text/plain",
        bytes: b"hello",
    };

    // No part at all (RFC 2046 wants one), only a part with another name.
    let r = upload_parts(&app, &ann.token, &[]).await;
    assert_invalid(
        &r,
        "body",
        "malformed multipart body: Multipart stream is incomplete",
    );
    let r = upload_parts(&app, &ann.token, &[other]).await;
    assert_invalid(&r, "file", "is required");
    // Two `file` parts.
    let r = upload_parts(&app, &ann.token, &[file(&image), file(&image)]).await;
    assert_invalid(&r, "file", "must be sent once");

    // Types from the bytes: empty, HTML, SVG, executables named .png, with
    // the part's Content-Type saying image/png.
    let not_allowed = "This type of file is not allowed: PNG, JPEG, GIF, WebP, PDF, MP3, Ogg, MPEG-4 audio, MP4, WebM or QuickTime only";
    let cases: [(&[u8], &str); 5] = [
        (b"", "The file is empty"),
        (
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            not_allowed,
        ),
        (
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
            not_allowed,
        ),
        (b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0", not_allowed),
        (b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0PE\0\0", not_allowed),
    ];
    for (bytes, message) in cases {
        let r = upload_parts(
            &app,
            &ann.token,
            &[Part {
                name: "file",
                filename: Some("filename=\"photo.png\""),
                content_type: "image/png",
                bytes,
            }],
        )
        .await;
        assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", message);
    }

    // A truncated multipart body: no closing boundary.
    let body = multipart(&[file(&image)], false);
    let truncated = body[..body.len() - 200].to_vec();
    let ct = form_type();
    let r = send(
        &app,
        Method::POST,
        "/api/v1/media",
        Some(&ann.token),
        &[("Content-Type", &ct)],
        Some(truncated),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.json());
    assert_eq!(r.json()["code"], "VALIDATION_ERROR");
    assert_eq!(r.json()["errors"][0]["field"], "body");

    // Not multipart at all.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/media",
        Some(&ann.token),
        &[("Content-Type", "image/png")],
        Some(image.clone()),
    )
    .await;
    assert_error(
        &r,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type must be multipart/form-data",
    );
    // No token.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/media",
        None,
        &[("Content-Type", &ct)],
        Some(multipart(&[file(&image)], true)),
    )
    .await;
    assert_error(&r, 401, "UNAUTHENTICATED", "Authentication required");

    assert_nothing_stored(&app);
}

#[actix_web::test]
async fn file_names_are_reduced_to_a_safe_base_name() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let long = format!("{}.png", "n".repeat(1000));
    let cases = [
        (
            "filename=\"../../etc/passwd.png\"".to_owned(),
            json!("passwd.png"),
        ),
        (
            "filename=\"..\\\\..\\\\boot.ini\"".to_owned(),
            json!("boot.ini"),
        ),
        // RFC 5987: a NUL and a newline, percent-encoded.
        (
            "filename*=UTF-8''a%00b%0Ac.png".to_owned(),
            json!("abc.png"),
        ),
        (
            "filename*=UTF-8''%C3%A9t%C3%A9.png".to_owned(),
            json!("été.png"),
        ),
        ("filename=\"..\"".to_owned(), Value::Null),
        (
            format!("filename=\"{long}\""),
            json!(format!("{}.png", "n".repeat(251))),
        ),
    ];
    for (disposition, want) in cases {
        let r = upload_parts(
            &app,
            &ann.token,
            &[Part {
                filename: Some(&disposition),
                ..file(&png(100))
            }],
        )
        .await;
        assert_eq!(r.status, 201, "{disposition}: {}", r.json());
        assert_eq!(r.json()["data"]["media"]["fileName"], want, "{disposition}");
    }
    // No file name at all.
    let r = upload_parts(
        &app,
        &ann.token,
        &[Part {
            filename: None,
            ..file(&png(100))
        }],
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["data"]["media"]["fileName"], Value::Null);
    // Nothing is named after the client's file name.
    for p in objects(&app) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(domain::blobs::is_object_name(&name), "{name}");
    }
}

/// Sends a request on a raw connection from another thread, ignoring write
/// errors (the server may answer and close before the body is all sent), and
/// reads the answer.
async fn raw_upload(
    app: &TestApp,
    token: &str,
    head: Vec<(String, String)>,
    body: Vec<u8>,
    chunked: bool,
) -> (u16, Value) {
    use std::io::{Read, Write};
    let port: u16 = app.addr.rsplit(':').next().unwrap().parse().unwrap();
    let token = token.to_owned();
    let reply = actix_web::rt::task::spawn_blocking(move || {
        let mut stream =
            std::net::TcpStream::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut req = format!(
            "POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: {}\r\n",
            form_type()
        );
        for (k, v) in &head {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if chunked {
            req.push_str("Transfer-Encoding: chunked\r\n");
        }
        req.push_str("\r\n");
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(req.as_bytes());
            for piece in body.chunks(16 * 1024) {
                let ok = if chunked {
                    writer
                        .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                        .and_then(|_| writer.write_all(piece))
                        .and_then(|_| writer.write_all(b"\r\n"))
                } else {
                    writer.write_all(piece)
                };
                if ok.is_err() {
                    return;
                }
            }
            if chunked {
                let _ = writer.write_all(b"0\r\n\r\n");
            }
        });
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        // Read until the headers and the body (Content-Length) are in.
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let _ = sender.join();
        String::from_utf8_lossy(&raw).into_owned()
    })
    .await
    .unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[actix_web::test]
async fn an_upload_over_the_limit_is_refused_while_streaming_with_or_without_content_length() {
    let app = TestApp::spawn_with(&[("MEDIA_MAX_BYTES", "100000")]).await;
    let ann = app.register("ann@example.com").await;
    let too_large = json!({
        "status": "error", "code": "PAYLOAD_TOO_LARGE",
        "message": "The file is larger than the limit of 100000 bytes"
    });

    // Declared too large: refused before a byte of the body is read.
    let body = multipart(&[file(&png(3_000_000))], true);
    let len = body.len().to_string();
    let (status, reply) = raw_upload(
        &app,
        &ann.token,
        vec![("Content-Length".into(), len)],
        body.clone(),
        false,
    )
    .await;
    assert_eq!((status, reply), (413, too_large.clone()));

    // No Content-Length (chunked): cut off once the limit is crossed.
    let (status, reply) = raw_upload(&app, &ann.token, vec![], body, true).await;
    assert_eq!((status, reply), (413, too_large.clone()));

    // Declared within the framing allowance, but the file itself is too large.
    let body = multipart(&[file(&png(100_001))], true);
    let len = body.len().to_string();
    let (status, reply) = raw_upload(
        &app,
        &ann.token,
        vec![("Content-Length".into(), len)],
        body,
        false,
    )
    .await;
    assert_eq!((status, reply), (413, too_large));

    // Exactly the limit is fine.
    let m = upload(&app, &ann, &png(100_000), "max.png").await;
    assert_eq!(m["sizeBytes"], 100_000);
    app.sql("DELETE FROM media");
    for p in objects(&app) {
        std::fs::remove_file(p).unwrap();
    }
    eventually("temporary files removed", || temps(&app).is_empty()).await;
    assert_nothing_stored(&app);
}

#[actix_web::test]
async fn a_client_that_disconnects_half_way_leaves_nothing_behind() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let body = multipart(&[file(&png(2_000_000))], true);
    let port: u16 = app.addr.rsplit(':').next().unwrap().parse().unwrap();
    let token = ann.token.clone();
    let ct = form_type();
    let half = body.len() / 2;
    let tmp = app.media_dir().join("tmp");
    actix_web::rt::task::spawn_blocking(move || {
        let mut s =
            std::net::TcpStream::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        let head = format!(
            "POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body[..half]).unwrap();
        s.flush().unwrap();
        // The upload is under way: a temporary file exists.
        let deadline = Instant::now() + Duration::from_secs(10);
        while files(&tmp).is_empty() {
            assert!(Instant::now() < deadline, "no temporary file appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(s);
    })
    .await
    .unwrap();
    eventually("the temporary file removed", || temps(&app).is_empty()).await;
    assert_nothing_stored(&app);
    // The server goes on serving.
    let m = upload(&app, &ann, &png(10), "after.png").await;
    assert_eq!(m["sizeBytes"], 10);
}

// ---------------------------------------------------------------- access and messages

async fn session_of(app: &TestApp, user: &TestUser) -> String {
    let r = app.post("/api/v1/sessions", &user.token, json!({})).await;
    assert_eq!(r.status, 201);
    r.data()["session"]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn media_messages_need_the_posters_own_upload_and_share_it_with_the_sessions_readers() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let session = session_of(&app, &ann).await;
    let path = format!("/api/v1/sessions/{session}/messages");
    let mine = upload(&app, &ann, &png(4000), "mine.png").await;
    let theirs = upload(&app, &bob, &png(4001), "theirs.png").await;
    let mine_path = format!("/api/v1/media/{}", mine["id"].as_str().unwrap());
    let theirs_path = format!("/api/v1/media/{}", theirs["id"].as_str().unwrap());

    // Another user's upload, and one that does not exist: 404.
    for id in [
        theirs["id"].as_str().unwrap().to_owned(),
        "0190f0f0-0000-7000-8000-000000000000".to_owned(),
    ] {
        let r = app
            .post(&path, &ann.token, json!({ "type": "media", "mediaId": id }))
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(r.code(), "NOT_FOUND");
        assert_eq!(r.body["message"], "Media not found");
    }
    // Before it is posted, only the owner reads it.
    let got = download(&app, &mine_path, Some(&agent.token), &[]).await;
    assert_error(&got, 404, "NOT_FOUND", "Media not found");
    let got = download(&app, &theirs_path, Some(&ann.token), &[]).await;
    assert_error(&got, 404, "NOT_FOUND", "Media not found");

    let r = app
        .post(
            &path,
            &ann.token,
            json!({ "type": "media", "mediaId": mine["id"], "content": "the colour I want" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let msg = &r.data()["message"];
    assert_eq!(msg["type"], "media");
    assert_eq!(msg["content"], "the colour I want");
    assert_eq!(msg["media"]["id"], mine["id"]);
    assert_eq!(msg["media"]["sha256"], mine["sha256"]);
    let url = msg["media"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{mine_path}?expires=")));

    // Every Message carries the medium with a fresh url.
    let page = app.get(&path, &ann.token).await;
    assert_eq!(page.data()["items"][0]["media"]["id"], mine["id"]);
    // The page's message is the posted one, medium and all (its url aside).
    let (mut listed, mut posted) = (page.data()["items"][0].clone(), msg.clone());
    listed["media"]["url"] = Value::Null;
    posted["media"]["url"] = Value::Null;
    assert_eq!(listed, posted);
    assert!(
        page.data()["items"][0]["media"]["url"]
            .as_str()
            .unwrap()
            .contains("sig=")
    );
    let one = app
        .get(
            &format!("/api/v1/messages/{}", msg["id"].as_str().unwrap()),
            &ann.token,
        )
        .await;
    assert!(
        one.data()["message"]["media"]["url"]
            .as_str()
            .unwrap()
            .contains("sig=")
    );
    assert_eq!(download(&app, &url, None, &[]).await.status, 200);

    // Whoever may read the session reads the medium; others do not.
    assert_eq!(
        download(&app, &mine_path, Some(&agent.token), &[])
            .await
            .status,
        200
    );
    let got = download(&app, &mine_path, Some(&bob.token), &[]).await;
    assert_error(&got, 404, "NOT_FOUND", "Media not found");
}

/// The known bug: deleting a user cascaded through their media into media
/// messages in other users' sessions, which kept counting them.
#[actix_web::test]
async fn deleting_a_user_keeps_their_media_messages_in_other_sessions_and_their_counts() {
    let app = TestApp::spawn().await;
    let admin = app.user_with_role("admin@example.com", "admin").await;
    let bob = app.register("bob@example.com").await;
    let agent = app.user_with_role("agent@example.com", "agent").await;
    let session = session_of(&app, &bob).await;
    let path = format!("/api/v1/sessions/{session}/messages");
    let shown = upload(&app, &agent, &png(3000), "catalogue.png").await;
    let kept_aside = upload(&app, &agent, &png(3001), "draft.png").await;
    let r = app
        .post(
            &path,
            &agent.token,
            json!({ "type": "media", "role": "assistant", "mediaId": shown["id"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(&path, &bob.token, json!({ "content": "thanks" }))
        .await;
    assert_eq!(r.status, 201);

    let r = app
        .delete(&format!("/api/v1/users/{}", agent.id), &admin.token)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let s = app
        .get(&format!("/api/v1/sessions/{session}"), &bob.token)
        .await;
    assert_eq!(s.data()["session"]["messageCount"], 2);
    let page = app.get(&path, &bob.token).await;
    let items = page.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["media"]["id"], shown["id"]);
    assert_eq!(items[0]["senderId"], Value::Null);
    // Bob still sees it; the upload nothing carried went with its owner.
    let got = download(
        &app,
        &format!("/api/v1/media/{}", shown["id"].as_str().unwrap()),
        Some(&bob.token),
        &[],
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM media WHERE id = '{}'",
            kept_aside["id"].as_str().unwrap()
        )),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM media WHERE id = '{}' AND owner_id IS NULL",
            shown["id"].as_str().unwrap()
        )),
        1
    );
}

// ---------------------------------------------------------------- the collector

fn gc_media(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(dealroom_binary());
    cmd.arg("gc-media")
        .env_clear()
        .env("APP_ENV", "test")
        .env("DATABASE_URL", app.db.url())
        .env("MEDIA_DIR", app.media_dir());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "gc-media failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[actix_web::test]
async fn the_collector_removes_orphans_and_objects_that_no_row_refers_to() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let session = session_of(&app, &ann).await;
    let path = format!("/api/v1/sessions/{session}/messages");
    let shared = png(7000);
    let carried = upload(&app, &ann, &shared, "carried.png").await;
    let same_bytes = upload(&app, &ann, &shared, "again.png").await;
    let orphan = upload(&app, &ann, &png(7001), "orphan.png").await;
    let r = app
        .post(
            &path,
            &ann.token,
            json!({ "type": "media", "mediaId": carried["id"] }),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(objects(&app).len(), 2);

    // Too young to be an orphan.
    assert_eq!(
        gc_media(&app, &[]),
        "removed 0 orphan uploads, 0 stored objects, 0 temporary files"
    );
    // Everything is old enough now: the two uploads no message carries go;
    // the orphan's object goes, the shared one stays for the carried row.
    app.sql("UPDATE media SET created_at = now() - interval '25 hours'");
    assert_eq!(
        gc_media(&app, &[]),
        "removed 2 orphan uploads, 1 stored objects, 0 temporary files"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM media"), 1);
    assert!(object_path(&app, carried["sha256"].as_str().unwrap()).exists());
    assert!(!object_path(&app, orphan["sha256"].as_str().unwrap()).exists());
    let _ = same_bytes;
    assert_eq!(app.count("SELECT count(*) AS n FROM media_gone"), 0);

    // Deleting the session removes the medium only it carried at once, and
    // its object with the next run.
    let r = app
        .delete(&format!("/api/v1/sessions/{session}"), &ann.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.count("SELECT count(*) AS n FROM media"), 0);
    assert_eq!(
        gc_media(&app, &[]),
        "removed 0 orphan uploads, 1 stored objects, 0 temporary files"
    );
    assert_eq!(objects(&app), Vec::<PathBuf>::new());
}

/// An upload of bytes whose object the collector is deleting waits for the
/// delete, then stores its object again: it never loses it.
#[actix_web::test]
async fn an_upload_racing_the_deletion_of_its_bytes_keeps_its_object() {
    use domain::ports::{MediaStore, NewMedia};
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bytes = png(6000);
    let first = upload(&app, &ann, &bytes, "first.png").await;
    let sha = first["sha256"].as_str().unwrap().to_owned();
    app.sql("DELETE FROM media");

    let store = store::PgStore::connect(app.db.url(), &store::PoolSettings::default());
    let claim = store
        .claim_unreferenced(&sha)
        .unwrap()
        .expect("nothing refers to it");
    // A racing upload's row waits for the claim.
    let racer = store.clone();
    let owner = domain::UserId(ann.id.parse().unwrap());
    let row = NewMedia {
        id: domain::MediaId::new(),
        owner_id: owner,
        mime_type: "image/png".into(),
        size_bytes: 6000,
        file_name: None,
        sha256: sha.clone(),
    };
    let inserting = std::thread::spawn(move || racer.insert_media(&row));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!inserting.is_finished(), "the upload's row did not wait");
    std::fs::remove_file(object_path(&app, &sha)).unwrap();
    claim.release().unwrap();
    inserting.join().unwrap().unwrap();
    // With its row in, a new claim is refused and the hash is forgotten.
    assert!(store.claim_unreferenced(&sha).unwrap().is_none());

    // Over HTTP: the upload stores the object again after its row.
    let again = upload(&app, &ann, &bytes, "again.png").await;
    assert_eq!(again["sha256"], sha.as_str());
    assert_eq!(std::fs::read(object_path(&app, &sha)).unwrap(), bytes);
}

// ---------------------------------------------------------------- S3

#[actix_web::test]
async fn uploads_downloads_and_collection_work_on_s3_storage() {
    let s3 = testkit::s3::S3Server::start();
    let endpoint = s3.endpoint();
    let config = blobs::S3Config {
        endpoint: endpoint.clone(),
        bucket: "dealroom-media".into(),
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
    };
    let scratch = std::env::temp_dir().join(format!("dealroom-s3-{}", uuid::Uuid::new_v4()));
    let bucket = blobs::S3Blobs::new(config, &scratch).unwrap();
    bucket.create_bucket().await.unwrap();
    let s3_env = [
        ("MEDIA_STORAGE", "s3"),
        ("S3_ENDPOINT", endpoint.as_str()),
        ("S3_BUCKET", "dealroom-media"),
        ("S3_ACCESS_KEY_ID", "test"),
        ("S3_SECRET_ACCESS_KEY", "test"),
    ];
    let app = TestApp::spawn_with(&s3_env).await;
    let ann = app.register("ann@example.com").await;
    let bytes = png(1_500_000);
    let m = upload(&app, &ann, &bytes, "big.png").await;
    let sha = m["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha, hex_sha256(&bytes));
    assert_eq!(
        objects(&app),
        Vec::<PathBuf>::new(),
        "nothing on the local disk"
    );
    assert_eq!(temps(&app), Vec::<PathBuf>::new());
    use domain::blobs::BlobStore;
    assert_eq!(bucket.size(&sha).await.unwrap(), Some(1_500_000));

    let path = format!("/api/v1/media/{}", m["id"].as_str().unwrap());
    let got = download(&app, &path, Some(&ann.token), &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bytes);
    let got = download(
        &app,
        &path,
        Some(&ann.token),
        &[("Range", "bytes=1000000-1000099")],
    )
    .await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body, bytes[1_000_000..1_000_100].to_vec());
    let got = download(&app, m["url"].as_str().unwrap(), None, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len(), 1_500_000);

    // Refused uploads leave nothing in the bucket or on the disk.
    let r = upload_parts(&app, &ann.token, &[file(b"<html></html>")]).await;
    assert_eq!(r.status, 415);
    assert_eq!(temps(&app), Vec::<PathBuf>::new());

    // Collected: the orphan's row and its object in the bucket.
    app.sql("UPDATE media SET created_at = now() - interval '25 hours'");
    let out = gc_media(&app, &s3_env);
    assert_eq!(
        out,
        "removed 1 orphan uploads, 1 stored objects, 0 temporary files"
    );
    assert_eq!(bucket.size(&sha).await.unwrap(), None);
    let _ = std::fs::remove_dir_all(scratch);
}

#[actix_web::test]
async fn an_upload_slower_than_the_timeout_is_cut_off_and_leaves_nothing() {
    use std::io::{Read, Write};
    let app = TestApp::spawn_with(&[("MEDIA_UPLOAD_TIMEOUT", "1s")]).await;
    let ann = app.register("ann@example.com").await;
    let body = multipart(&[file(&png(500_000))], true);
    let port: u16 = app.addr.rsplit(':').next().unwrap().parse().unwrap();
    let token = ann.token.clone();
    let ct = form_type();
    let reply = actix_web::rt::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body[..100_000]).unwrap();
        // ... and then nothing: the server gives up after a second.
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).into_owned()
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap_or(Value::Null),
        json!({ "status": "error", "code": "REQUEST_TIMEOUT",
                "message": "The request body did not arrive in time" })
    );
    eventually("the temporary file removed", || temps(&app).is_empty()).await;
    assert_nothing_stored(&app);
}
