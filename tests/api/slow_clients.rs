//! Slow, stalled and departing clients (issue 18), against the real `dealroom`
//! process over raw sockets: body timeouts, the connection cap, the send
//! timeout, a shutdown that answers what it received, and protocol-level
//! rejections in the access log. Timeouts are set to a second or two here;
//! timings are asserted only as generous upper bounds.

use crate::helpers::ServerProcess;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A keep-alive connection speaking hand-written HTTP/1.1.
struct Conn {
    reader: BufReader<TcpStream>,
    port: u16,
}

/// One response, read by its `Content-Length`.
#[derive(Debug)]
struct Res {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Res {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Conn {
    fn open(port: u16) -> std::io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            reader: BufReader::new(stream),
            port,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let s = self.reader.get_mut();
        s.write_all(bytes)?;
        s.flush()
    }

    fn get(&mut self, path: &str) -> std::io::Result<()> {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        );
        self.write(req.as_bytes())
    }

    /// The next response; an error if the connection ends before it is whole.
    fn read(&mut self) -> std::io::Result<Res> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(Res {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// True once the server has closed the connection (EOF or reset).
    fn closed_within(&mut self, limit: Duration) -> bool {
        let _ = self.reader.get_ref().set_read_timeout(Some(limit));
        let mut buf = [0; 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
    }
}

/// Headers of a JSON POST promising `length` bytes, and `part` of the body.
fn partial_post(port: u16, path: &str, length: usize, part: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{part}"
    )
}

#[test]
fn a_body_that_stops_coming_is_answered_408_in_the_envelope_and_the_connection_closes() {
    let server = ServerProcess::spawn(&[("BODY_IDLE_TIMEOUT", "1s"), ("BODY_TIMEOUT", "60s")]);
    let mut c = Conn::open(server.port).unwrap();
    let started = Instant::now();
    c.write(partial_post(server.port, "/api/v1/auth/register", 1000, "{").as_bytes())
        .unwrap();
    let r = c.read().unwrap();
    assert_eq!(r.status, 408, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({ "status": "error", "message": "The request body did not arrive in time", "code": "REQUEST_TIMEOUT" })
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.header("x-request-id").is_some());
    assert!(c.closed_within(Duration::from_secs(10)));
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        server
            .wait_for_line("POST /api/v1/auth/register 408", Duration::from_secs(5))
            .is_some(),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_body_trickled_byte_by_byte_is_cut_off_at_its_total_bound() {
    let server = ServerProcess::spawn(&[("BODY_IDLE_TIMEOUT", "10s"), ("BODY_TIMEOUT", "1s")]);
    let mut c = Conn::open(server.port).unwrap();
    c.write(partial_post(server.port, "/api/v1/auth/register", 1000, "{").as_bytes())
        .unwrap();
    let mut writer = c.reader.get_ref().try_clone().unwrap();
    let started = Instant::now();
    // A byte every 200 ms: never idle for long, never done.
    let trickle = std::thread::spawn(move || {
        while started.elapsed() < Duration::from_secs(20) {
            if writer.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let r = c.read().unwrap();
    assert_eq!(r.status, 408, "{}", r.body);
    assert_eq!(r.json()["code"], "REQUEST_TIMEOUT");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(c.closed_within(Duration::from_secs(10)));
    drop(c);
    trickle.join().unwrap();
}

#[test]
fn a_flood_of_stalled_bodies_meets_the_connection_cap_which_is_logged_once() {
    let server = ServerProcess::spawn(&[
        ("MAX_CONNECTIONS", "10"),
        ("WORKERS", "2"),
        ("RATE_LIMIT_MAX", "100000"),
        ("AUTH_RATE_LIMIT_MAX", "100000"),
        ("BODY_IDLE_TIMEOUT", "1s"),
    ]);
    let mut flood = Vec::new();
    for _ in 0..30 {
        let mut c = Conn::open(server.port).unwrap();
        c.write(partial_post(server.port, "/api/v1/auth/register", 1000, "{").as_bytes())
            .unwrap();
        flood.push(c);
    }
    assert!(
        server
            .wait_for_line("connection cap reached", Duration::from_secs(10))
            .is_some(),
        "{}",
        server.stderr()
    );
    // Each stalled body is answered 408 in turn, which frees a slot for the
    // next one waiting in the backlog, and at last for /health.
    for c in &mut flood {
        assert_eq!(c.read().unwrap().status, 408);
    }
    let r = server.request("GET", "/health", &[], "");
    assert_eq!(r.status, 200);
    let stderr = server.stderr();
    assert_eq!(
        stderr.matches("connection cap reached").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_client_that_reads_nothing_is_disconnected_after_the_send_timeout() {
    let server = ServerProcess::spawn(&[("SEND_TIMEOUT", "1s")]);
    let mut c = Conn::open(server.port).unwrap();
    // Many pipelined requests for the largest static answer, none read: far
    // more than the kernel's socket buffers hold.
    let one = format!(
        "GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port
    );
    let mut writer = c.reader.get_ref().try_clone().unwrap();
    let pipeline = std::thread::spawn(move || {
        for _ in 0..500 {
            if writer.write_all(one.as_bytes()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(4));
    let started = Instant::now();
    let mut answered = 0;
    while c.read().is_ok() {
        answered += 1;
    }
    assert!(answered < 500, "the server gave up on the stalled reader");
    assert!(started.elapsed() < Duration::from_secs(20));
    pipeline.join().unwrap();
    // It goes on serving others.
    assert_eq!(server.request("GET", "/health", &[], "").status, 200);
}

#[test]
fn requests_written_on_idle_keep_alive_connections_just_before_sigterm_are_answered() {
    let mut server = ServerProcess::spawn(&[("SHUTDOWN_GRACE", "5s")]);
    let mut conns: Vec<Conn> = (0..20).map(|_| Conn::open(server.port).unwrap()).collect();
    for c in &mut conns {
        c.get("/health").unwrap();
        assert_eq!(c.read().unwrap().status, 200);
    }
    // Idle keep-alive connections now; a request on each, then the signal.
    for c in &mut conns {
        c.get("/health").unwrap();
    }
    server.signal("TERM");
    for c in &mut conns {
        let r = c
            .read()
            .expect("a response to a request sent before the signal");
        assert_eq!(r.status, 200);
        assert!(c.closed_within(Duration::from_secs(10)));
    }
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}",
        server.stderr()
    );
}

#[test]
fn during_shutdown_ready_is_503_and_every_response_closes_its_connection() {
    let mut server = ServerProcess::spawn(&[("SHUTDOWN_GRACE", "8s")]);
    let mut idle = Conn::open(server.port).unwrap();
    idle.get("/ready").unwrap();
    assert_eq!(idle.read().unwrap().status, 200);
    // A slow body keeps a request in flight, so the server is still there.
    let mut slow = Conn::open(server.port).unwrap();
    slow.write(partial_post(server.port, "/api/v1/auth/register", 1000, "{").as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal("TERM");
    assert!(
        server
            .wait_for_line("SIGTERM received", Duration::from_secs(5))
            .is_some()
    );
    idle.get("/ready").unwrap();
    let r = idle.read().unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["code"], "UNAVAILABLE");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(idle.closed_within(Duration::from_secs(5)));
    drop(slow);
    let status = server.wait_exit(Duration::from_secs(15));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}",
        server.stderr()
    );
}

/// Under load, every request on a connection the server accepted is
/// answered. (A connection still in the kernel's listen backlog when the
/// listener closes, a second after the signal, is reset before the server ever
/// saw it: TCP has no way around that; a load balancer watching `/ready` has
/// stopped opening connections by then. Those are counted apart.)
#[test]
fn under_load_no_request_goes_unanswered_across_sigterm() {
    let mut server = ServerProcess::spawn(&[("SHUTDOWN_GRACE", "5s")]);
    let port = server.port;
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut answered, mut unanswered, mut never_accepted) = (0u32, 0u32, 0u32);
                let started = Instant::now();
                'connect: while started.elapsed() < Duration::from_secs(20) {
                    let Ok(mut c) = Conn::open(port) else { break };
                    let mut on_this = 0;
                    loop {
                        if c.get("/health").is_err() {
                            // Closed before the request went out: not sent.
                            continue 'connect;
                        }
                        match c.read() {
                            Ok(r) => {
                                assert_eq!(r.status, 200);
                                answered += 1;
                                on_this += 1;
                                if r.header("connection") == Some("close") {
                                    continue 'connect;
                                }
                            }
                            Err(e)
                                if on_this == 0
                                    && e.kind() == std::io::ErrorKind::ConnectionReset =>
                            {
                                never_accepted += 1;
                                continue 'connect;
                            }
                            Err(e) => {
                                eprintln!("unanswered: {e} after {on_this} on this connection");
                                unanswered += 1;
                                continue 'connect;
                            }
                        }
                    }
                }
                (answered, unanswered, never_accepted)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    server.signal("TERM");
    let (mut answered, mut unanswered, mut never_accepted) = (0, 0, 0);
    for c in clients {
        let (a, u, n) = c.join().unwrap();
        answered += a;
        unanswered += u;
        never_accepted += n;
    }
    eprintln!("{answered} answered, {never_accepted} reset in the backlog");
    assert!(answered > 100, "{answered}");
    assert_eq!(unanswered, 0, "requests sent and never answered");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}",
        server.stderr()
    );
}

#[test]
fn protocol_level_rejections_get_an_access_line_and_no_error_line() {
    let server = ServerProcess::spawn(&[]);
    let mut c = Conn::open(server.port).unwrap();
    c.write(b"NOT HTTP AT ALL\x01\r\n\r\n").unwrap();
    assert_eq!(c.read().unwrap().status, 400);
    let mut c = Conn::open(server.port).unwrap();
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(140_000)
    );
    let _ = c.write(huge.as_bytes());
    assert_eq!(c.read().unwrap().status, 431);
    // Headers that never finish: actix-http's 5 s request-head timeout.
    let mut c = Conn::open(server.port).unwrap();
    c.write(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert_eq!(c.read().unwrap().status, 408);
    for status in ["400", "431", "408"] {
        let line = format!("- - {status} 0B");
        assert!(
            server
                .wait_for_line(&line, Duration::from_secs(5))
                .is_some(),
            "{line}: {}",
            server.stderr()
        );
    }
    let stderr = server.stderr();
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

/// An app whose pages hold at most 100,000 bytes, a user, and a session of
/// ten messages of `content(i)` (whose first character is `i`); the path of
/// its messages.
async fn ten_long_messages(
    content: impl Fn(usize) -> String,
) -> (crate::helpers::TestApp, crate::helpers::TestUser, String) {
    let app = crate::helpers::TestApp::spawn_with(&[("PAGE_MAX_BYTES", "100000")]).await;
    let u = app.register("long@example.com").await;
    let s = app
        .post("/api/v1/sessions", &u.token, serde_json::json!({}))
        .await;
    let sid = s.data()["session"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/sessions/{sid}/messages");
    for i in 0..10 {
        let r = app
            .post(
                &path,
                &u.token,
                serde_json::json!({ "content": content(i) }),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    (app, u, path)
}

/// What a stalled reader can pin is bounded: a page of messages is at most
/// `PAGE_MAX_BYTES` of JSON; the client pages on with `nextCursor`.
#[actix_web::test]
async fn a_page_over_the_byte_cap_carries_fewer_messages_and_pages_on() {
    let (app, u, path) = ten_long_messages(|i| format!("{i}{}", "x".repeat(31_000))).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let q = match &cursor {
            Some(c) => format!("{path}?limit=200&cursor={c}"),
            None => format!("{path}?limit=200"),
        };
        let r = app.get(&q, &u.token).await;
        assert_eq!(r.status, 200);
        let items = r.data()["items"].as_array().unwrap().clone();
        assert!(!items.is_empty() && items.len() <= 3, "{}", items.len());
        seen.extend(
            items
                .iter()
                .map(|m| m["content"].as_str().unwrap()[..1].to_owned()),
        );
        cursor = r.data()["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected, "every message once, in order");
}

/// Headers of a chunked POST and its first chunk; the body never ends.
fn chunked_post(port: u16, path: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{extra}Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n"
    )
}

#[test]
fn a_chunked_body_answered_before_it_was_read_closes_its_connection_at_once() {
    let server = ServerProcess::spawn(&[("BODY_IDLE_TIMEOUT", "1s"), ("BODY_TIMEOUT", "2s")]);
    for (path, status) in [("/api/v1/sessions", 401), ("/no/such/route", 404)] {
        let mut c = Conn::open(server.port).unwrap();
        c.write(chunked_post(server.port, path, "").as_bytes())
            .unwrap();
        let r = c.read().unwrap();
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(
            r.header("connection"),
            Some("close"),
            "{path}: a response sent before the body was read closes"
        );
        assert!(
            c.closed_within(Duration::from_secs(3)),
            "{path}: the connection is closed, not left draining a body that never ends"
        );
    }
    let r = server.request("GET", "/health", &[], "");
    assert_eq!(r.status, 200);
}

#[test]
fn a_chunked_body_that_stops_coming_is_a_408_and_its_connection_closes() {
    let server = ServerProcess::spawn(&[("BODY_IDLE_TIMEOUT", "1s"), ("BODY_TIMEOUT", "60s")]);
    let mut c = Conn::open(server.port).unwrap();
    let started = Instant::now();
    c.write(chunked_post(server.port, "/api/v1/auth/register", "").as_bytes())
        .unwrap();
    let r = c.read().unwrap();
    assert_eq!(r.status, 408, "{}", r.body);
    assert_eq!(r.json()["code"], "REQUEST_TIMEOUT");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "closed after the 408"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn many_unauthenticated_chunked_bodies_do_not_take_health_down() {
    let server = ServerProcess::spawn(&[("MAX_CONNECTIONS", "20")]);
    // Forty clients, twice the cap, each sending a chunked body that never
    // ends to a route that refuses them: each is answered and let go.
    let mut held = Vec::new();
    for _ in 0..40 {
        let mut c = Conn::open(server.port).unwrap();
        c.write(chunked_post(server.port, "/api/v1/sessions", "").as_bytes())
            .unwrap();
        assert_eq!(c.read().unwrap().status, 401);
        held.push(c);
    }
    let r = server.request("GET", "/health", &[], "");
    assert_eq!(
        r.status, 200,
        "/health answers while they hold their sockets"
    );
}

#[test]
fn an_upload_slower_than_the_body_timeout_but_within_the_upload_timeout_succeeds() {
    let server = ServerProcess::spawn(&[
        ("BODY_IDLE_TIMEOUT", "2s"),
        ("BODY_TIMEOUT", "1s"),
        ("MEDIA_UPLOAD_TIMEOUT", "30s"),
        ("BCRYPT_ROUNDS", "4"),
    ]);
    let reg = server.request(
        "POST",
        "/api/v1/auth/register",
        &[],
        r#"{"email":"slow@example.com","password":"password123","name":"Slow"}"#,
    );
    assert_eq!(reg.status, 201, "{}", reg.body);
    let token = reg.json()["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut file = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    file.resize(4000, 7);
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.extend_from_slice(&file);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let head = format!(
        "POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {}\r\n\r\n",
        server.port,
        body.len()
    );
    let mut c = Conn::open(server.port).unwrap();
    c.write(head.as_bytes()).unwrap();
    let started = Instant::now();
    // Eight pieces, 400 ms apart: 2.8 s in all, past BODY_TIMEOUT (1 s),
    // never idle for BODY_IDLE_TIMEOUT (2 s).
    for piece in body.chunks(body.len().div_ceil(8)) {
        c.write(piece).unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    let r = c.read().unwrap();
    assert!(started.elapsed() > Duration::from_secs(2));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["data"]["media"]["mimeType"], "image/png");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_within_a_second_of_sigterm() {
    let mut server = ServerProcess::spawn(&[("SHUTDOWN_GRACE", "10s")]);
    let mut c = Conn::open(server.port).unwrap();
    c.get("/health").unwrap();
    assert_eq!(c.read().unwrap().status, 200);
    c.get("/api/v1/openapi.json").unwrap();
    assert_eq!(c.read().unwrap().status, 200);
    // Idle now, well inside its 5 s keep-alive.
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    server.signal("TERM");
    assert!(
        c.closed_within(Duration::from_secs(4)),
        "the idle connection is closed"
    );
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "closed {took:?} after the signal: the 500 ms step, not the 5 s keep-alive"
    );
    assert_eq!(
        server
            .wait_exit(Duration::from_secs(5))
            .and_then(|s| s.code()),
        Some(0)
    );
}

#[actix_web::test]
async fn a_search_page_over_the_byte_cap_carries_fewer_hits_and_pages_on() {
    // Quotes double in JSON: 15,000 of them are 30,000 bytes on the wire.
    let (app, u, _) = ten_long_messages(|i| format!("{i} apple {}", "\"".repeat(15_000))).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let q = match &cursor {
            Some(c) => format!("/api/v1/messages/search?q=apple&limit=200&cursor={c}"),
            None => "/api/v1/messages/search?q=apple&limit=200".to_owned(),
        };
        let r = app.get(&q, &u.token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let items = r.data()["items"].as_array().unwrap().clone();
        assert!(!items.is_empty() && items.len() <= 3, "{}", items.len());
        let bytes = serde_json::to_string(&r.data()["items"]).unwrap().len();
        assert!(bytes <= 100_000, "a page of {bytes} bytes");
        seen.extend(
            items
                .iter()
                .map(|h| h["message"]["content"].as_str().unwrap()[..1].to_owned()),
        );
        cursor = r.data()["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    seen.sort();
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(seen, expected, "every hit once");
}
