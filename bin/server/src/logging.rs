//! The one logging setup: env_logger at the settings' level (`RUST_LOG`
//! wins); compact lines, or in production one JSON object a line.

use crate::settings::Settings;

/// Installs the logger once; later calls do nothing. Without settings (they
/// did not load), compact lines at `info`.
pub fn init(settings: Option<&Settings>) {
    let level = settings.map_or("info", |s| s.log_level.as_str());
    let mut b = env_logger::Builder::new();
    // actix-http's HTTP/1 dispatcher logs every malformed request at `ERROR`
    // (`stream error: …`), so anyone could fill the error log; those requests
    // get an access-log line from `conn` instead, the reason at `debug` there.
    // `RUST_LOG=actix_http::h1=trace` brings the dispatcher's lines back.
    b.filter_module("actix_http::h1", log::LevelFilter::Off);
    b.parse_filters(level);
    if let Ok(filter) = std::env::var("RUST_LOG") {
        b.parse_filters(&filter);
    }
    if settings.is_some_and(Settings::is_production) {
        b.format(|buf, record| {
            use std::io::Write;
            writeln!(buf, "{}", json_line(record))
        });
    }
    let _ = b.try_init();
}

/// `{"time","level","target","message"}`; an access line's fields (already a
/// JSON object) take the message's place.
fn json_line(record: &log::Record<'_>) -> serde_json::Value {
    use serde_json::Value;
    let mut line = serde_json::Map::new();
    line.insert(
        "time".into(),
        domain::timefmt::format(&time::OffsetDateTime::now_utc()).into(),
    );
    line.insert("level".into(), record.level().as_str().into());
    line.insert("target".into(), record.target().into());
    let message = record.args().to_string();
    let fields = (record.target() == "dealroom::access")
        .then(|| serde_json::from_str::<Value>(&message).ok())
        .flatten();
    match fields {
        Some(Value::Object(fields)) => line.extend(fields),
        _ => {
            line.insert("message".into(), message.into());
        }
    }
    Value::Object(line)
}
