//! Typed settings: `config/default.toml` → `config/{APP_ENV}.toml` → environment.
//!
//! The four files are embedded in the binary, so it runs from anywhere; an
//! operator can layer their own `{APP_ENV}.toml` from `DEALROOM_CONFIG_DIR`.
//! Environment variables are the keys in upper case: `DATABASE_URL`,
//! `DB_POOL_SIZE`, `DB_POOL_TIMEOUT`, `JWT_SECRET`, `JWT_EXPIRES_IN`,
//! `REFRESH_TOKEN_TTL`, `BCRYPT_ROUNDS`, `HOST`, `PORT`, `CORS_ORIGIN`,
//! `RATE_LIMIT_WINDOW`, `RATE_LIMIT_MAX`, `AUTH_RATE_LIMIT_MAX`, `TRUST_PROXY`,
//! `REQUEST_BODY_LIMIT`, `SHUTDOWN_GRACE`, `MAX_SELLERS_PER_SESSION`,
//! `MEDIA_DIR`, `MEDIA_MAX_BYTES`, `LOG_LEVEL`, `WORKERS`; `APP_ENV` (or the
//! Express service's `NODE_ENV`) picks the environment.

use auth::Secret;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT: &str = include_str!("../../../config/default.toml");
const DEVELOPMENT: &str = include_str!("../../../config/development.toml");
const TEST: &str = include_str!("../../../config/test.toml");
const PRODUCTION: &str = include_str!("../../../config/production.toml");

/// The development secret; production refuses it.
const DEVELOPMENT_SECRET: &str = "development-only-secret-do-not-use-in-production";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Test => "test",
            AppEnv::Production => "production",
        }
    }
}

/// Everything the server reads from configuration, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub app_env: AppEnv,
    pub host: String,
    pub port: u16,
    pub database_url: Secret,
    pub db_pool_size: u32,
    pub db_pool_timeout: Duration,
    pub jwt_secret: Secret,
    pub jwt_expires_in: Duration,
    pub refresh_token_ttl: Duration,
    pub bcrypt_rounds: u32,
    /// bcrypt computations at once; `BCRYPT_CONCURRENCY=0` (the default)
    /// resolves to one less than the cores, at least one.
    pub bcrypt_concurrency: usize,
    /// `None` is any origin (`*`).
    pub cors_origins: Option<Vec<String>>,
    pub rate_limit_window: Duration,
    pub rate_limit_max: u32,
    pub auth_rate_limit_max: u32,
    pub trust_proxy: bool,
    pub request_body_limit: usize,
    pub shutdown_grace: Duration,
    pub max_sellers_per_session: i32,
    pub media_dir: PathBuf,
    pub media_max_bytes: u64,
    pub log_level: String,
    pub workers: usize,
    /// Longest wait for the next bytes of a request body.
    pub body_idle_timeout: Duration,
    /// Longest time for a whole JSON request body, from its headers.
    pub body_timeout: Duration,
    /// A client that reads nothing of a response for this long is disconnected.
    pub send_timeout: Duration,
    /// Connections open at once over all workers; `MAX_CONNECTIONS=0` (the
    /// default) is decided at start from the open-file limit.
    pub max_connections: usize,
    /// Largest page of messages in JSON bytes (at least one message).
    pub page_max_bytes: usize,
}

/// The raw layered values, before checks.
#[derive(Deserialize)]
struct Raw {
    host: String,
    port: u16,
    database_url: Secret,
    db_pool_size: u32,
    db_pool_timeout: String,
    jwt_secret: Secret,
    jwt_expires_in: String,
    refresh_token_ttl: String,
    bcrypt_rounds: u32,
    bcrypt_concurrency: usize,
    cors_origin: String,
    rate_limit_window: u64,
    rate_limit_max: u32,
    auth_rate_limit_max: u32,
    trust_proxy: bool,
    request_body_limit: usize,
    shutdown_grace: String,
    max_sellers_per_session: i32,
    media_dir: PathBuf,
    media_max_bytes: u64,
    log_level: String,
    workers: usize,
    body_idle_timeout: String,
    body_timeout: String,
    send_timeout: String,
    max_connections: usize,
    page_max_bytes: usize,
}

/// A setting that cannot be used; the text is one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::load(&std::env::vars().collect())
    }

    /// From the given environment variables (tests pass their own).
    pub fn load(env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let app_env = match env
            .get("APP_ENV")
            .or_else(|| env.get("NODE_ENV"))
            .map(|s| s.trim().to_lowercase())
        {
            None => AppEnv::Development,
            Some(s) if s.is_empty() || s == "development" || s == "dev" => AppEnv::Development,
            Some(s) if s == "test" => AppEnv::Test,
            Some(s) if s == "production" || s == "prod" => AppEnv::Production,
            Some(other) => {
                return Err(SettingsError(format!(
                    "APP_ENV must be development, test or production, not {other:?}"
                )));
            }
        };
        let env_file = match app_env {
            AppEnv::Development => DEVELOPMENT,
            AppEnv::Test => TEST,
            AppEnv::Production => PRODUCTION,
        };
        let keys = [
            "host",
            "port",
            "database_url",
            "db_pool_size",
            "db_pool_timeout",
            "jwt_secret",
            "jwt_expires_in",
            "refresh_token_ttl",
            "bcrypt_rounds",
            "bcrypt_concurrency",
            "cors_origin",
            "rate_limit_window",
            "rate_limit_max",
            "auth_rate_limit_max",
            "trust_proxy",
            "request_body_limit",
            "shutdown_grace",
            "max_sellers_per_session",
            "media_dir",
            "media_max_bytes",
            "log_level",
            "workers",
            "body_idle_timeout",
            "body_timeout",
            "send_timeout",
            "max_connections",
            "page_max_bytes",
        ];
        let ours: config::Map<String, String> = keys
            .iter()
            .filter_map(|k| {
                env.get(&k.to_uppercase())
                    .map(|v| ((*k).to_owned(), v.clone()))
            })
            .collect();
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT, config::FileFormat::Toml))
            .add_source(config::File::from_str(env_file, config::FileFormat::Toml));
        if let Some(dir) = env.get("DEALROOM_CONFIG_DIR") {
            let file = PathBuf::from(dir).join(format!("{}.toml", app_env.as_str()));
            builder = builder.add_source(config::File::from(file).required(false));
        }
        let raw: Raw = builder
            .add_source(config::Environment::default().source(Some(ours)))
            .set_override("app_env", app_env.as_str())
            .and_then(|b| b.build())
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(format!("invalid configuration: {e}")))?;
        Self::check(raw, app_env)
    }

    fn check(raw: Raw, app_env: AppEnv) -> Result<Self, SettingsError> {
        let secret = raw.jwt_secret.expose();
        if app_env == AppEnv::Production {
            if secret.is_empty() {
                return Err(SettingsError("JWT_SECRET must be set in production".into()));
            }
            if secret.len() < 32 {
                return Err(SettingsError(
                    "JWT_SECRET must be at least 32 bytes in production".into(),
                ));
            }
            if secret == DEVELOPMENT_SECRET {
                return Err(SettingsError(
                    "JWT_SECRET must not be the development default in production".into(),
                ));
            }
        } else if secret.is_empty() {
            return Err(SettingsError("JWT_SECRET must be set".into()));
        }
        if !(4..=31).contains(&raw.bcrypt_rounds) {
            return Err(SettingsError(format!(
                "BCRYPT_ROUNDS must be 4..=31, not {}",
                raw.bcrypt_rounds
            )));
        }
        if raw.db_pool_size == 0 {
            return Err(SettingsError("DB_POOL_SIZE must be at least 1".into()));
        }
        if raw.rate_limit_window == 0 || raw.rate_limit_max == 0 || raw.auth_rate_limit_max == 0 {
            return Err(SettingsError(
                "rate limits and their window must be positive".into(),
            ));
        }
        if raw.max_sellers_per_session < 1 {
            return Err(SettingsError(
                "MAX_SELLERS_PER_SESSION must be at least 1".into(),
            ));
        }
        let cors = raw.cors_origin.trim();
        let cors_origins = if cors == "*" {
            None
        } else {
            Some(
                cors.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            )
        };
        Ok(Settings {
            app_env,
            host: raw.host,
            port: raw.port,
            database_url: raw.database_url,
            db_pool_size: raw.db_pool_size,
            db_pool_timeout: duration("DB_POOL_TIMEOUT", &raw.db_pool_timeout, Unit::Millis)?,
            jwt_secret: raw.jwt_secret,
            jwt_expires_in: duration("JWT_EXPIRES_IN", &raw.jwt_expires_in, Unit::Seconds)?,
            refresh_token_ttl: duration(
                "REFRESH_TOKEN_TTL",
                &raw.refresh_token_ttl,
                Unit::Seconds,
            )?,
            bcrypt_rounds: raw.bcrypt_rounds,
            bcrypt_concurrency: match raw.bcrypt_concurrency {
                0 => std::thread::available_parallelism()
                    .map_or(1, |n| n.get().saturating_sub(1).max(1)),
                n => n,
            },
            cors_origins,
            rate_limit_window: Duration::from_millis(raw.rate_limit_window),
            rate_limit_max: raw.rate_limit_max,
            auth_rate_limit_max: raw.auth_rate_limit_max,
            trust_proxy: raw.trust_proxy,
            request_body_limit: raw.request_body_limit,
            shutdown_grace: duration("SHUTDOWN_GRACE", &raw.shutdown_grace, Unit::Seconds)?,
            max_sellers_per_session: raw.max_sellers_per_session,
            media_dir: raw.media_dir,
            media_max_bytes: raw.media_max_bytes,
            log_level: raw.log_level,
            workers: raw.workers,
            body_idle_timeout: duration(
                "BODY_IDLE_TIMEOUT",
                &raw.body_idle_timeout,
                Unit::Seconds,
            )?,
            body_timeout: duration("BODY_TIMEOUT", &raw.body_timeout, Unit::Seconds)?,
            send_timeout: duration("SEND_TIMEOUT", &raw.send_timeout, Unit::Seconds)?,
            max_connections: raw.max_connections,
            page_max_bytes: raw.page_max_bytes,
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Seconds,
}

/// `"24h"`, `"30d"`, `"15m"`, `"3s"`, `"250ms"`; a bare number is in `bare` units
/// (seconds, as the Express service read `JWT_EXPIRES_IN`).
fn duration(name: &str, text: &str, bare: Unit) -> Result<Duration, SettingsError> {
    let t = text.trim();
    let bad = || {
        SettingsError(format!(
            "{name} must be a duration like 3s, 15m, 24h or 30d, not {text:?}"
        ))
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match (unit.trim(), bare) {
        ("", Unit::Millis) | ("ms", _) => Duration::from_millis(n),
        ("", Unit::Seconds) | ("s", _) => Duration::from_secs(n),
        ("m", _) => Duration::from_secs(n.saturating_mul(60)),
        ("h", _) => Duration::from_secs(n.saturating_mul(3600)),
        ("d", _) => Duration::from_secs(n.saturating_mul(86_400)),
        _ => return Err(bad()),
    };
    if d.is_zero() && name != "SHUTDOWN_GRACE" {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_load_in_development() {
        let s = Settings::load(&env(&[])).map_err(|e| e.0);
        let s = s.as_ref().map(|s| {
            (
                s.port,
                s.jwt_expires_in,
                s.db_pool_timeout,
                s.cors_origins.clone(),
            )
        });
        assert_eq!(
            s,
            Ok((
                3000,
                Duration::from_secs(86_400),
                Duration::from_secs(3),
                None
            ))
        );
    }

    #[test]
    fn environment_wins_over_files() {
        let s = Settings::load(&env(&[
            ("PORT", "8081"),
            ("CORS_ORIGIN", "https://a.example, https://b.example/"),
        ]));
        let s = s.map_err(|e| e.0);
        assert_eq!(s.as_ref().map(|s| s.port), Ok(8081));
        assert_eq!(
            s.map(|s| s.cors_origins),
            Ok(Some(vec![
                "https://a.example".to_owned(),
                "https://b.example".to_owned()
            ]))
        );
    }

    #[test]
    fn node_env_is_a_synonym_of_app_env() {
        let s = Settings::load(&env(&[("NODE_ENV", "test")])).map_err(|e| e.0);
        assert_eq!(s.map(|s| s.app_env), Ok(AppEnv::Test));
    }

    #[test]
    fn production_refuses_missing_short_or_default_secrets() {
        let err = |secret: Option<&str>| {
            let mut e = env(&[("APP_ENV", "production")]);
            if let Some(s) = secret {
                e.insert("JWT_SECRET".into(), s.into());
            }
            Settings::load(&e).err().map(|e| e.0)
        };
        assert_eq!(
            err(None).as_deref(),
            Some("JWT_SECRET must be set in production")
        );
        assert_eq!(
            err(Some("short")).as_deref(),
            Some("JWT_SECRET must be at least 32 bytes in production")
        );
        assert_eq!(
            err(Some(DEVELOPMENT_SECRET)).as_deref(),
            Some("JWT_SECRET must not be the development default in production")
        );
        assert_eq!(
            err(Some("a-real-production-secret-of-48-bytes-000000000000")),
            None
        );
    }

    #[test]
    fn bcrypt_concurrency_0_leaves_one_core_free_and_a_number_is_kept() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let auto = Settings::load(&env(&[])).map(|s| s.bcrypt_concurrency);
        assert_eq!(auto.ok(), Some(cores.saturating_sub(1).max(1)));
        let set =
            Settings::load(&env(&[("BCRYPT_CONCURRENCY", "3")])).map(|s| s.bcrypt_concurrency);
        assert_eq!(set.ok(), Some(3));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(
            duration("X", "250ms", Unit::Seconds).ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            duration("X", "3600", Unit::Seconds).ok(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            duration("X", "3000", Unit::Millis).ok(),
            Some(Duration::from_secs(3))
        );
        assert!(duration("X", "soon", Unit::Seconds).is_err());
    }
}
