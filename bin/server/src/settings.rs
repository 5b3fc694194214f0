//! Typed settings: `config/default.toml` → `config/{APP_ENV}.toml` → environment.
//!
//! Each setting is declared once: its name, default and meaning in
//! `config/default.toml` (every key there is a setting, and its environment
//! variable is the key in upper case), its type and parser on a field of
//! [`Settings`]. The four files are embedded in the binary, so it runs from
//! anywhere; an operator can layer their own `{APP_ENV}.toml` from
//! `DEALROOM_CONFIG_DIR`. `APP_ENV` (or the Express service's `NODE_ENV`)
//! picks the environment. README's configuration table is checked against
//! `config/default.toml` by a test.

use auth::Secret;
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT: &str = include_str!("../../../config/default.toml");
const DEVELOPMENT: &str = include_str!("../../../config/development.toml");
const TEST: &str = include_str!("../../../config/test.toml");
const PRODUCTION: &str = include_str!("../../../config/production.toml");

/// The development secret; production refuses it.
const DEVELOPMENT_SECRET: &str = "development-only-secret-do-not-use-in-production";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// Everything the server reads from configuration, checked. The meaning of
/// each field is in `config/default.toml`.
#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub app_env: AppEnv,
    pub host: String,
    pub port: u16,
    pub database_url: Secret,
    pub db_pool_size: u32,
    #[serde(deserialize_with = "bare_millis")]
    pub db_pool_timeout: Duration,
    /// Prepare statements once per connection (`on`), or never (`off`).
    #[serde(deserialize_with = "on_off")]
    pub db_statement_cache: bool,
    /// Where session-level work connects; empty: `database_url`.
    pub database_direct_url: Secret,
    /// The read replica; empty: none.
    pub database_replica_url: Secret,
    #[serde(deserialize_with = "bare_millis")]
    pub replica_max_lag: Duration,
    pub jwt_secret: Secret,
    #[serde(deserialize_with = "bare_seconds")]
    pub jwt_expires_in: Duration,
    #[serde(deserialize_with = "bare_seconds")]
    pub refresh_token_ttl: Duration,
    pub bcrypt_rounds: u32,
    /// bcrypt's threads, at idle priority; `BCRYPT_CONCURRENCY=0` (the
    /// default) resolves to one per core.
    #[serde(deserialize_with = "concurrency")]
    pub bcrypt_concurrency: usize,
    /// bcrypt threads' nice value, 0..=19.
    #[serde(deserialize_with = "nice")]
    pub bcrypt_nice: i32,
    pub auth_cache_size: usize,
    /// `None` is any origin (`*`).
    #[serde(rename = "cors_origin", deserialize_with = "origins")]
    pub cors_origins: Option<Vec<String>>,
    #[serde(deserialize_with = "bare_millis")]
    pub rate_limit_window: Duration,
    pub rate_limit_max: u32,
    pub auth_rate_limit_max: u32,
    pub trust_proxy: bool,
    pub request_body_limit: usize,
    #[serde(deserialize_with = "bare_seconds_or_zero")]
    pub shutdown_grace: Duration,
    pub max_sellers_per_session: i32,
    #[serde(deserialize_with = "bare_seconds")]
    pub events_heartbeat: Duration,
    pub events_replay_max: u32,
    pub events_buffer: usize,
    /// A streamed reply that receives nothing for this long ends `incomplete`.
    #[serde(deserialize_with = "bare_seconds")]
    pub stream_idle_timeout: Duration,
    /// A text search configuration name (checked against the database at start).
    pub search_language: String,
    /// How many of the newest matches `sort=relevance` ranks (1..=10000).
    pub search_rank_window: i64,
    pub log_level: String,
    pub workers: usize,
    /// Longest wait for the next bytes of a request body.
    #[serde(deserialize_with = "bare_seconds")]
    pub body_idle_timeout: Duration,
    /// Longest time for a whole JSON request body, from its headers.
    #[serde(deserialize_with = "bare_seconds")]
    pub body_timeout: Duration,
    /// A client that reads nothing of a response for this long is disconnected.
    #[serde(deserialize_with = "bare_seconds")]
    pub send_timeout: Duration,
    /// Connections open at once over all workers; `MAX_CONNECTIONS=0` (the
    /// default) is decided at start from the open-file limit.
    pub max_connections: usize,
    /// Largest page of messages in JSON bytes (at least one message).
    pub page_max_bytes: usize,
    /// Rates older than this before the compared date are stale.
    #[serde(deserialize_with = "bare_seconds")]
    pub rates_max_age: Duration,
    pub media_storage: MediaStorage,
    pub media_dir: PathBuf,
    pub media_max_bytes: u64,
    #[serde(deserialize_with = "bare_seconds")]
    pub media_url_ttl: Duration,
    #[serde(deserialize_with = "bare_seconds")]
    pub media_orphan_ttl: Duration,
    #[serde(deserialize_with = "bare_seconds")]
    pub media_upload_timeout: Duration,
    #[serde(deserialize_with = "bare_seconds")]
    pub media_gc_interval: Duration,
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Secret,
    /// An attempt's whole time, from resolving its host to its answer.
    #[serde(deserialize_with = "bare_seconds")]
    pub webhook_timeout: Duration,
    /// An endpoint failing only for this long is disabled.
    #[serde(deserialize_with = "bare_seconds")]
    pub webhook_disable_after: Duration,
    /// Ended deliveries are kept this long.
    #[serde(deserialize_with = "bare_seconds")]
    pub webhook_retention: Duration,
    /// Attempts in flight at once per instance.
    pub webhook_concurrency: usize,
    pub webhook_allow_http: bool,
    pub webhook_allow_private: bool,
    /// Multiplies the retry schedule (tests only).
    pub webhook_retry_scale: f64,
}

/// Where uploads' bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaStorage {
    Disk,
    S3,
}

/// A setting that cannot be used; the text is one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// The settings' names: the keys of `config/default.toml`.
pub fn names() -> Vec<String> {
    DEFAULT
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

impl Settings {
    /// From the given environment variables (`main` passes the process's,
    /// tests their own).
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
        let ours: config::Map<String, String> = names()
            .into_iter()
            .filter_map(|k| env.get(&k.to_uppercase()).map(|v| (k, v.clone())))
            .collect();
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT, config::FileFormat::Toml))
            .add_source(config::File::from_str(env_file, config::FileFormat::Toml));
        if let Some(dir) = env.get("DEALROOM_CONFIG_DIR") {
            let file = PathBuf::from(dir).join(format!("{}.toml", app_env.as_str()));
            builder = builder.add_source(config::File::from(file).required(false));
        }
        let settings: Settings = builder
            .add_source(config::Environment::default().source(Some(ours)))
            .set_override("app_env", app_env.as_str())
            .and_then(|b| b.build())
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(format!("invalid configuration: {e}")))?;
        settings.check()
    }

    /// The rules between and beyond the types.
    fn check(self) -> Result<Self, SettingsError> {
        let bad = |m: &str| Err(SettingsError(m.to_owned()));
        let secret = self.jwt_secret.expose();
        if self.is_production() {
            if secret.is_empty() {
                return bad("JWT_SECRET must be set in production");
            }
            if secret.len() < 32 {
                return bad("JWT_SECRET must be at least 32 bytes in production");
            }
            if secret == DEVELOPMENT_SECRET {
                return bad("JWT_SECRET must not be the development default in production");
            }
        } else if secret.is_empty() {
            return bad("JWT_SECRET must be set");
        }
        if !(4..=31).contains(&self.bcrypt_rounds) {
            return Err(SettingsError(format!(
                "BCRYPT_ROUNDS must be 4..=31, not {}",
                self.bcrypt_rounds
            )));
        }
        if self.db_pool_size == 0 {
            return bad("DB_POOL_SIZE must be at least 1");
        }
        if self.rate_limit_max == 0 || self.auth_rate_limit_max == 0 {
            return bad("rate limits and their window must be positive");
        }
        if self.max_sellers_per_session < 1 {
            return bad("MAX_SELLERS_PER_SESSION must be at least 1");
        }
        let lang = self.search_language.as_bytes();
        if !lang.first().is_some_and(u8::is_ascii_lowercase)
            || !lang
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        {
            return bad("SEARCH_LANGUAGE must name a text search configuration, e.g. english");
        }
        if !(1..=chat::MAX_RANK_WINDOW).contains(&self.search_rank_window) {
            return bad("SEARCH_RANK_WINDOW must be 1..=10000");
        }
        if self.media_max_bytes == 0 {
            return bad("MEDIA_MAX_BYTES must be at least 1");
        }
        if self.webhook_concurrency == 0 {
            return bad("WEBHOOK_CONCURRENCY must be at least 1");
        }
        if !(self.webhook_retry_scale.is_finite() && self.webhook_retry_scale >= 0.0) {
            return bad("WEBHOOK_RETRY_SCALE must be a number of at least 0");
        }
        if self.media_storage == MediaStorage::S3
            && (self.s3_endpoint.is_empty() || self.s3_bucket.is_empty())
        {
            return bad("MEDIA_STORAGE=s3 needs S3_ENDPOINT and S3_BUCKET");
        }
        Ok(self)
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Where session-level work connects: `DATABASE_DIRECT_URL`, else `DATABASE_URL`.
    pub fn direct_database_url(&self) -> &str {
        match self.database_direct_url.expose() {
            "" => self.database_url.expose(),
            url => url,
        }
    }
}

/// `on` or `off` (also `true`/`false`, `1`/`0`, `yes`/`no`).
fn on_off<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("on or off")
        }
        fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => Ok(true),
                "off" | "false" | "0" | "no" => Ok(false),
                _ => Err(E::custom(format!("must be on or off, not {v:?}"))),
            }
        }
    }
    d.deserialize_any(Visitor)
}

/// A duration whose bare number is in milliseconds (`3000`, or `3s`).
fn bare_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    positive(d, Unit::Millis)
}

/// A duration whose bare number is in seconds (`86400`, or `24h`), as the
/// Express service read `JWT_EXPIRES_IN`.
fn bare_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    positive(d, Unit::Seconds)
}

/// [`bare_seconds`], where zero is allowed.
fn bare_seconds_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = Text::deserialize(d)?.0;
    duration(&text, Unit::Seconds).map_err(serde::de::Error::custom)
}

fn positive<'de, D: Deserializer<'de>>(d: D, bare: Unit) -> Result<Duration, D::Error> {
    let text = Text::deserialize(d)?.0;
    match duration(&text, bare) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(serde::de::Error::custom(format!(
            "a duration must be positive, not {text:?}"
        ))),
        Err(e) => Err(serde::de::Error::custom(e)),
    }
}

/// `0`: one less than the cores, at least one.
fn concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    Ok(match usize::deserialize(d)? {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    })
}

/// A nice value, 0 (the requests' priority) to 19 (the lowest).
fn nice<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    match i32::deserialize(d)? {
        n @ 0..=19 => Ok(n),
        n => Err(serde::de::Error::custom(format!(
            "{n} is not a nice value from 0 to 19"
        ))),
    }
}

/// `*` (any origin) or a comma-separated list of origins.
fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    Ok((text != "*").then(|| {
        text.split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }))
}

/// A number or a string, as text: the files have `3000` or `"3s"`, the
/// environment always text.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration like 3s, 15m, 24h or 30d")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Seconds,
}

/// `"24h"`, `"30d"`, `"15m"`, `"3s"`, `"250ms"`; a bare number is in `bare` units.
fn duration(text: &str, bare: Unit) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("a duration must be like 3s, 15m, 24h or 30d, not {text:?}");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    Ok(match (unit.trim(), bare) {
        ("", Unit::Millis) | ("ms", _) => Duration::from_millis(n),
        ("", Unit::Seconds) | ("s", _) => Duration::from_secs(n),
        ("m", _) => Duration::from_secs(n.saturating_mul(60)),
        ("h", _) => Duration::from_secs(n.saturating_mul(3600)),
        ("d", _) => Duration::from_secs(n.saturating_mul(86_400)),
        _ => return Err(bad()),
    })
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
    fn bcrypt_nice_is_19_by_default_and_must_be_0_to_19() {
        let nice = |v: &[(&str, &str)]| Settings::load(&env(v)).map(|s| s.bcrypt_nice);
        assert_eq!(nice(&[]).ok(), Some(19));
        assert_eq!(nice(&[("BCRYPT_NICE", "0")]).ok(), Some(0));
        assert!(nice(&[("BCRYPT_NICE", "20")]).is_err());
        assert!(nice(&[("BCRYPT_NICE", "-1")]).is_err());
    }

    #[test]
    fn bcrypt_concurrency_0_is_one_thread_per_core_and_a_number_is_kept() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let auto = Settings::load(&env(&[])).map(|s| s.bcrypt_concurrency);
        assert_eq!(auto.ok(), Some(cores));
        let set =
            Settings::load(&env(&[("BCRYPT_CONCURRENCY", "3")])).map(|s| s.bcrypt_concurrency);
        assert_eq!(set.ok(), Some(3));
    }

    #[test]
    fn the_statement_cache_is_on_unless_set_off() {
        let cache = |v: Option<&str>| {
            let e = v.map_or_else(HashMap::new, |v| env(&[("DB_STATEMENT_CACHE", v)]));
            Settings::load(&e)
                .map(|s| s.db_statement_cache)
                .map_err(|e| e.0)
        };
        assert_eq!(cache(None), Ok(true));
        assert_eq!(cache(Some("off")), Ok(false));
        assert_eq!(cache(Some("ON")), Ok(true));
        assert!(
            cache(Some("sometimes"))
                .err()
                .is_some_and(|e| e.contains("db_statement_cache")),
        );
    }

    #[test]
    fn the_direct_url_defaults_to_the_database_url() {
        let url = "postgres://app@pooler:6432/dealroom";
        let s = Settings::load(&env(&[("DATABASE_URL", url)])).map_err(|e| e.0);
        assert_eq!(s.as_ref().map(Settings::direct_database_url), Ok(url));
        let direct = "postgres://app@db:5432/dealroom";
        let s = Settings::load(&env(&[
            ("DATABASE_URL", url),
            ("DATABASE_DIRECT_URL", direct),
        ]))
        .map_err(|e| e.0);
        assert_eq!(s.as_ref().map(Settings::direct_database_url), Ok(direct));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(
            duration("250ms", Unit::Seconds).ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            duration("3600", Unit::Seconds).ok(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            duration("3000", Unit::Millis).ok(),
            Some(Duration::from_secs(3))
        );
        assert!(duration("soon", Unit::Seconds).is_err());
    }

    #[test]
    fn rates_max_age_is_seven_days_unless_set() {
        let age = |v: &[(&str, &str)]| Settings::load(&env(v)).map(|s| s.rates_max_age).ok();
        assert_eq!(age(&[]), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(
            age(&[("RATES_MAX_AGE", "36h")]),
            Some(Duration::from_secs(36 * 3600))
        );
        assert_eq!(age(&[("RATES_MAX_AGE", "0")]), None);
    }

    #[test]
    fn a_bad_duration_names_its_variable() {
        let err = Settings::load(&env(&[("JWT_EXPIRES_IN", "soon")]))
            .err()
            .map(|e| e.0);
        assert!(
            err.as_deref().is_some_and(|e| e.contains("jwt_expires_in")),
            "{err:?}"
        );
        let err = Settings::load(&env(&[("DB_POOL_TIMEOUT", "0")]))
            .err()
            .map(|e| e.0);
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("db_pool_timeout")),
            "{err:?}"
        );
        assert!(Settings::load(&env(&[("SHUTDOWN_GRACE", "0")])).is_ok());
    }

    #[test]
    fn webhooks_are_https_to_public_addresses_with_the_contracts_times_unless_set() {
        let s = Settings::load(&env(&[])).map_err(|e| e.0);
        let s = s.as_ref().map(|s| {
            (
                s.webhook_timeout,
                s.webhook_disable_after,
                s.webhook_retention,
                s.webhook_allow_http,
                s.webhook_allow_private,
                s.webhook_retry_scale,
            )
        });
        assert_eq!(
            s,
            Ok((
                Duration::from_secs(10),
                Duration::from_secs(5 * 86_400),
                Duration::from_secs(7 * 86_400),
                false,
                false,
                1.0
            ))
        );
        let set = Settings::load(&env(&[
            ("WEBHOOK_ALLOW_HTTP", "true"),
            ("WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WEBHOOK_RETRY_SCALE", "0.001"),
            ("WEBHOOK_TIMEOUT", "2s"),
        ]))
        .map_err(|e| e.0);
        assert_eq!(
            set.map(|s| (
                s.webhook_allow_http,
                s.webhook_allow_private,
                s.webhook_retry_scale,
                s.webhook_timeout
            )),
            Ok((true, true, 0.001, Duration::from_secs(2)))
        );
        assert!(Settings::load(&env(&[("WEBHOOK_CONCURRENCY", "0")])).is_err());
        assert!(Settings::load(&env(&[("WEBHOOK_RETRY_SCALE", "-1")])).is_err());
        assert!(Settings::load(&env(&[("WEBHOOK_TIMEOUT", "0")])).is_err());
    }

    #[test]
    fn the_readme_documents_every_setting_and_no_other() {
        let readme = include_str!("../../../README.md");
        let table: Vec<String> = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("| `"))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| {
                cell.split(',')
                    .map(|v| v.trim().trim_matches('`').to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut names: Vec<String> = names()
            .into_iter()
            .filter(|n| n != "app_env")
            .map(|n| n.to_uppercase())
            .collect();
        names.sort();
        let mut documented = table.clone();
        documented.sort();
        assert_eq!(
            documented, names,
            "README's configuration table against config/default.toml"
        );
    }
}
