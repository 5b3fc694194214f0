//! `import-offers`: a back-office job that imports a CSV of sellers' offers
//! into a chat session, acting as a user (an admin, say) without a login.
//!
//! ```text
//! DATABASE_URL=postgres://… import-offers --as ops@example.com --title "Office chairs" offers.csv
//! DATABASE_URL=postgres://… import-offers --as ops@example.com --session <chat session id> offers.csv
//! ```
//!
//! Exit status: 0 when every line went in or was already there, 2 when some
//! line was invalid, 1 when the import could not run. What it did goes to
//! stdout; logs (`RUST_LOG`, default `info`) and errors to stderr.

use dealroom::{ChatSessionId, Dealroom, NewSessionInput};
use dealroom_examples::{import, read_offers};
use std::process::ExitCode;
use std::time::Duration;

/// The name this job acts under, in the `security` log and every `Actor`'s
/// `Display`.
const PURPOSE: &str = "import-offers";

struct Args {
    acting_as: String,
    session: Option<String>,
    title: Option<String>,
    file: String,
}

fn args() -> Result<Args, String> {
    let mut acting_as = None;
    let mut session = None;
    let mut title = None;
    let mut file = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--as" => acting_as = it.next(),
            "--session" => session = it.next(),
            "--title" => title = it.next(),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => file = Some(a),
        }
    }
    let usage = "usage: import-offers --as EMAIL (--session ID | --title TITLE) FILE.csv";
    match (acting_as, file) {
        (Some(acting_as), Some(file)) if session.is_some() != title.is_some() => Ok(Args {
            acting_as,
            session,
            title,
            file,
        }),
        _ => Err(usage.into()),
    }
}

fn run() -> Result<bool, String> {
    let args = args()?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file))?;
    let lines = read_offers(&text)?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set".to_owned())?;

    let dr = Dealroom::connect(&url).map_err(|e| e.to_string())?;
    let actor = dr
        .act_as_email(&args.acting_as, PURPOSE)
        .map_err(|e| format!("cannot act as {}: {e}", args.acting_as))?;
    println!("acting as {actor}");
    let session = match (args.session, args.title) {
        (Some(id), _) => {
            let id: ChatSessionId = id.parse().map_err(|_| format!("{id:?} is not an id"))?;
            dr.chat.session(&actor, id)
        }
        (None, title) => dr.chat.create_session(&actor, NewSessionInput { title }),
    }
    .map_err(|e| format!("chat session: {e}"))?;
    println!("chat session {} {:?}", session.id, session.title);

    let mut out = String::new();
    let report = import(&dr, &actor, session.id, lines, &mut out);
    print!("{out}");
    let report = report.map_err(|e| format!("import stopped: {e}"))?;
    dr.close(Duration::from_secs(2));
    Ok(report.invalid.is_empty())
}

fn main() -> ExitCode {
    // On stderr, `info` unless RUST_LOG says otherwise: among it the
    // `security` line recording that this job acts as the user.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("import-offers: {e}");
            ExitCode::FAILURE
        }
    }
}
