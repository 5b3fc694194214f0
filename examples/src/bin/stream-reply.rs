//! `stream-reply`: an agent service's reply, streamed into a chat session
//! word by word (contract 3.12), acting as an agent or admin without a login.
//!
//! ```text
//! DATABASE_URL=postgres://… stream-reply --as bot@example.com --session <chat session id> reply.txt
//! DATABASE_URL=postgres://… stream-reply --as bot@example.com --session <id> --words-per-second 5 reply.txt
//! ```
//!
//! Each word of the file (with the whitespace after it) is one delta, sent
//! at `--words-per-second` (default 20); the reply is completed at the end.
//! Exit status: 0 when the reply was completed, 1 otherwise. What it did goes
//! to stdout; logs (`RUST_LOG`, default `info`) and errors to stderr.

use dealroom::{ChatSessionId, Dealroom};
use dealroom_examples::stream::{pieces, stream_reply};
use std::process::ExitCode;
use std::time::Duration;

/// The name this job acts under, in the `security` log and every `Actor`'s
/// `Display`.
const PURPOSE: &str = "stream-reply";

struct Args {
    acting_as: String,
    session: String,
    rate: f64,
    file: String,
}

fn args() -> Result<Args, String> {
    let usage =
        "usage: stream-reply --as EMAIL --session ID [--words-per-second N] FILE.txt".to_owned();
    let (mut acting_as, mut session, mut rate, mut file) = (None, None, 20.0, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--as" => acting_as = it.next(),
            "--session" => session = it.next(),
            "--words-per-second" => {
                rate = it
                    .next()
                    .and_then(|r| r.parse::<f64>().ok())
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| {
                        format!("--words-per-second takes a positive number\n{usage}")
                    })?;
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{usage}")),
            _ => file = Some(a),
        }
    }
    match (acting_as, session, file) {
        (Some(acting_as), Some(session), Some(file)) => Ok(Args {
            acting_as,
            session,
            rate,
            file,
        }),
        _ => Err(usage),
    }
}

fn run() -> Result<(), String> {
    let args = args()?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file))?;
    let pieces = pieces(&text);
    if pieces.is_empty() {
        return Err(format!("{}: nothing to say", args.file));
    }
    let session: ChatSessionId = args
        .session
        .parse()
        .map_err(|_| format!("{:?} is not an id", args.session))?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set".to_owned())?;

    let dr = Dealroom::connect(&url).map_err(|e| e.to_string())?;
    let actor = dr
        .act_as_email(&args.acting_as, PURPOSE)
        .map_err(|e| format!("cannot act as {}: {e}", args.acting_as))?;
    println!("acting as {actor}");
    let every = Duration::from_secs_f64(1.0 / args.rate);
    let mut out = String::new();
    let streamed = stream_reply(&dr, &actor, session, &pieces, every, &mut out);
    print!("{out}");
    streamed.map_err(|e| format!("the reply stopped: {e}"))?;
    dr.close(Duration::from_secs(2));
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream-reply: {e}");
            ExitCode::FAILURE
        }
    }
}
