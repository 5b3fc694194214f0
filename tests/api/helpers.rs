//! `TestApp`: the real server on a free port, on its own fresh database.

use awc::Client;
use awc::http::Method;
use serde_json::{Value, json};
use server::{Application, Settings};
use std::collections::HashMap;
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
        let client = Client::builder()
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
