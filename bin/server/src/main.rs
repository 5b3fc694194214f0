use server::cli;
use std::collections::HashMap;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = std::env::vars().collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(f) => return fail(&f),
    };
    if matches!(
        command,
        cli::Command::Serve | cli::Command::Migrate | cli::Command::CreateAdmin { .. }
    ) {
        init_logging(&env);
    }
    let stdin = std::io::stdin();
    match cli::run(command, &env, &mut stdin.lock(), &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(&f),
    }
}

fn fail(f: &cli::Failure) -> ExitCode {
    eprintln!("dealroom: {}", f.message);
    ExitCode::from(f.code)
}

/// Logging at the settings' level (`RUST_LOG` wins): compact lines, or in
/// production one JSON object a line.
fn init_logging(env: &HashMap<String, String>) {
    let settings = server::Settings::load(env).ok();
    let level = settings.as_ref().map_or("info", |s| s.log_level.as_str());
    if !settings.as_ref().is_some_and(|s| s.is_production()) {
        server::init_logging(level);
        return;
    }
    let mut b = env_logger::Builder::new();
    server::quiet_dispatcher(&mut b);
    b.parse_filters(level);
    if let Ok(filter) = std::env::var("RUST_LOG") {
        b.parse_filters(&filter);
    }
    b.format(|buf, record| {
        use std::io::Write;
        writeln!(buf, "{}", json_line(record))
    });
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
