//! `TestApp`: the real server on a free port, on its own fresh database.

use awc::Client;
use awc::http::Method;
use serde_json::{Value, json};
use server::{Application, Settings};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use testkit::TestDb;

pub struct TestApp {
    pub addr: String,
    pub db: TestDb,
    pub client: Client,
    pub settings: Settings,
}

/// A signed-in user of a test.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh: String,
    pub session_id: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

/// Test settings: the test environment's files, plus `overrides`.
pub fn test_settings(db_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("APP_ENV".into(), "test".into());
    env.insert("DATABASE_URL".into(), db_url.into());
    env.insert("PORT".into(), "0".into());
    env.insert("WORKERS".into(), "2".into());
    env.insert("RATE_LIMIT_MAX".into(), "100000".into());
    env.insert("AUTH_RATE_LIMIT_MAX".into(), "100000".into());
    // Uploads of each app in a directory of its own.
    let media_dir = std::env::temp_dir().join(format!("dealroom-media-{}", uuid::Uuid::new_v4()));
    env.insert("MEDIA_DIR".into(), media_dir.to_string_lossy().into_owned());
    for (k, v) in overrides {
        env.insert((*k).into(), (*v).into());
    }
    match Settings::load(&env) {
        Ok(s) => s,
        Err(e) => panic!("test settings: {e}"),
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// With settings overridden by environment-style pairs, e.g. `("MAX_SELLERS_PER_SESSION", "3")`.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        let db = TestDb::new();
        let settings = test_settings(db.url(), overrides);
        Self::spawn_on(db, settings).await
    }

    pub async fn spawn_on(db: TestDb, settings: Settings) -> Self {
        let app = match Application::build(settings.clone()) {
            Ok(a) => a,
            Err(e) => panic!("cannot build the app: {e}"),
        };
        let addr = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        // The server closes a keep-alive connection idle for 5 s (actix's
        // default). A test that blocks its thread for a while (synchronous
        // SQL) must not then reuse a pooled connection the server is closing:
        // the client forgets idle connections well before that.
        let connector = awc::Connector::new().conn_keep_alive(std::time::Duration::from_secs(2));
        let client = Client::builder()
            .connector(connector)
            .disable_redirects()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        Self {
            addr,
            db,
            client,
            settings,
        }
    }

    /// Where this app keeps uploads (`MEDIA_DIR`).
    pub fn media_dir(&self) -> std::path::PathBuf {
        self.settings.media_dir.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        let res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        };
        let mut res = match res {
            Ok(r) => r,
            Err(e) => panic!("{path}: request failed: {e}"),
        };
        let bytes = res.body().limit(16 * 1024 * 1024).await.unwrap_or_default();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }
    pub async fn anon_post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let body = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .body()
            .await
            .unwrap();
        String::from_utf8_lossy(&body).into_owned()
    }

    /// Registers a `user` with password `password123`.
    pub async fn register(&self, email: &str) -> TestUser {
        let r = self
            .anon_post(
                "/api/v1/auth/register",
                json!({ "email": email, "password": "password123", "name": "Test User" }),
            )
            .await;
        assert_eq!(r.status, 201, "register {email}: {:?}", r.body);
        user_from(&r.body["data"])
    }

    /// Logs in again: a second login session of the same user.
    pub async fn login(&self, email: &str, password: &str) -> TestUser {
        let r = self
            .anon_post(
                "/api/v1/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(r.status, 200, "login {email}: {:?}", r.body);
        user_from(&r.body["data"])
    }

    /// A user given `role` (agent or admin) directly in the database, then signed in.
    pub async fn user_with_role(&self, email: &str, role: &str) -> TestUser {
        let u = self.register(email).await;
        self.sql(&format!(
            "UPDATE users SET role = '{role}' WHERE id = '{}'",
            u.id
        ));
        u
    }

    /// Runs SQL on the test's database (for setup and for checking what is stored).
    pub fn sql(&self, statement: &str) {
        use diesel::RunQueryDsl;
        let mut c = self.db.conn();
        if let Err(e) = diesel::sql_query(statement).execute(&mut c) {
            panic!("{statement}: {e}");
        }
    }

    /// One number from SQL, e.g. `SELECT count(*) AS n FROM messages`.
    pub fn count(&self, query: &str) -> i64 {
        use diesel::{QueryableByName, RunQueryDsl};
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = self.db.conn();
        match diesel::sql_query(query).get_result::<N>(&mut c) {
            Ok(r) => r.n,
            Err(e) => panic!("{query}: {e}"),
        }
    }
}

pub fn user_from(data: &Value) -> TestUser {
    TestUser {
        id: data["user"]["id"].as_str().unwrap_or_default().to_owned(),
        email: data["user"]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        token: data["tokens"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        refresh: data["tokens"]["refreshToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        session_id: data["loginSession"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// True if `s` is an RFC 3339 UTC timestamp with milliseconds, as the contract writes them.
pub fn is_timestamp(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    b.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z'
}

/// The `dealroom` binary next to this test binary (`make test` builds it
/// first; built here if missing).
pub fn dealroom_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("dealroom");
    if !bin.exists() {
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--bin", "dealroom"])
                .status()
                .unwrap();
        assert!(status.success());
    }
    bin
}

/// The real `dealroom serve` in a process of its own, on its own database and
/// a port of the kernel's choice (read from its log), its stderr collected.
pub struct ServerProcess {
    child: std::process::Child,
    pub port: u16,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub db: TestDb,
}

impl ServerProcess {
    /// `dealroom serve` with `APP_ENV=test`, `PORT=0`, `LOG_LEVEL=info` and
    /// nothing else from this environment, plus `env`; returns once it listens.
    pub fn spawn(env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let db = TestDb::new();
        let mut cmd = std::process::Command::new(dealroom_binary());
        cmd.arg("serve")
            .env_clear()
            .env("APP_ENV", "test")
            .env("DATABASE_URL", db.url())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_LEVEL", "info")
            .env(
                "MEDIA_DIR",
                std::env::temp_dir().join(format!("dealroom-media-{}", uuid::Uuid::new_v4())),
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Self {
            child,
            port: 0,
            stderr,
            db,
        };
        let line = server.wait_for_line("dealroom serving on http://", Duration::from_secs(60));
        let Some(line) = line else {
            let _ = server.child.kill();
            panic!("the server did not come up:\n{}", server.stderr());
        };
        // `… serving on http://HOST:PORT`, in a plain or a JSON log line.
        let after = line.split("serving on http://").nth(1).unwrap_or_default();
        let authority: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']' | '-'))
            .collect();
        let port: String = authority
            .rsplit_once(':')
            .map(|(_, p)| p.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        server.port = port
            .parse()
            .unwrap_or_else(|_| panic!("no port in {line:?}"));
        server
    }

    /// Everything it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The first stderr line containing `needle`, waiting up to `timeout`.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
                .cloned();
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`, …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Its exit status, if it exits within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One HTTP/1.1 request on a connection of its own (`Connection: close`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> RawReply {
        let mut conn = self.connect().unwrap();
        conn.send(method, path, headers, body).unwrap();
        conn.read_reply().unwrap()
    }

    /// A new connection to the server.
    pub fn connect(&self) -> std::io::Result<RawConn> {
        RawConn::open(self.port)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain TCP connection speaking hand-written HTTP/1.1: no client library
/// between the test and the server's socket.
pub struct RawConn {
    stream: std::net::TcpStream,
    port: u16,
}

/// A response read to the end of its connection.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body's bytes as they came (`body` is their lossy text).
    pub raw_body: Vec<u8>,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl RawConn {
    pub fn open(port: u16) -> std::io::Result<Self> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self { stream, port })
    }

    /// Writes the whole request.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.stream.write_all(req.as_bytes())?;
        self.stream.flush()
    }

    /// Writes `bytes` as they are (a request in parts).
    pub fn write_raw(&mut self, bytes: &str) -> std::io::Result<()> {
        use std::io::Write;
        self.stream.write_all(bytes.as_bytes())?;
        self.stream.flush()
    }

    /// Reads the response to the end of the connection.
    pub fn read_reply(mut self) -> std::io::Result<RawReply> {
        use std::io::Read;
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let raw_body = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|at| raw[at + 4..].to_vec())
            .unwrap_or_default();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("no complete response: {text:?}"),
            ));
        };
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(RawReply {
            status,
            headers,
            body: body.to_owned(),
            raw_body,
        })
    }
}
