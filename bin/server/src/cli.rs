//! The `dealroom` command line: `serve`, `migrate`, `create-admin`,
//! `gc-media`, `import-rates`.

use crate::app::{Application, ShutdownSignals};
use crate::settings::Settings;
use crate::state::AppState;
use auth::inputs::RegisterInput;
use domain::ExchangeRates;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;
use store::PoolSettings;

/// The command line, as clap reads it.
#[derive(clap::Parser, Debug)]
#[command(
    name = "dealroom",
    version,
    about = "dealroom — the Dealroom API server",
    after_help = "Settings: config/default.toml, config/{APP_ENV}.toml, then environment \
variables (DATABASE_URL, JWT_SECRET, PORT, ...); see docs/operations.md.",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Apply pending migrations, then serve on HOST:PORT
    Serve,
    /// Apply pending migrations and name each one
    Migrate,
    /// Remove orphan uploads and unreferenced stored objects once, and say
    /// what was removed
    GcMedia,
    /// Create an admin, or promote an existing user; the password comes from
    /// DEALROOM_ADMIN_PASSWORD or the first line of standard input
    CreateAdmin {
        /// The admin's email
        #[arg(long, value_name = "E")]
        email: String,
        /// The admin's name
        #[arg(long, value_name = "N")]
        name: String,
        /// Refused: a password on the command line shows in `ps` and in shell
        /// histories
        #[arg(long, hide = true)]
        password: Option<String>,
    },
    /// Store exchange rates from the ECB's reference-rate XML (daily or
    /// 90-day file; base EUR) or from a date,currency,rate CSV against
    /// --base B; a date in the file replaces what it held; all or nothing
    ImportRates {
        /// The rate file
        file: PathBuf,
        /// The currency a CSV's rates are against
        #[arg(long, value_name = "B")]
        base: Option<String>,
    },
}

/// What a command asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    GcMedia,
    CreateAdmin {
        email: String,
        name: String,
    },
    ImportRates {
        file: PathBuf,
        base: Option<String>,
    },
    /// The help of the program or of one command, as printed.
    Help(String),
    Version,
}

/// A failure for the operator: one line, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: format!("{}; see dealroom --help", message.into()),
            code: 2,
        }
    }
}

/// The command `args` (without the program's name) ask for; a usage error is
/// one line and exit code 2.
pub fn parse(args: &[String]) -> Result<Command, Failure> {
    use clap::Parser;
    use clap::error::ErrorKind;
    let cli = match Cli::try_parse_from(
        std::iter::once("dealroom").chain(args.iter().map(String::as_str)),
    ) {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Command::Help(e.to_string()))
                }
                ErrorKind::DisplayVersion => Ok(Command::Version),
                _ => Err(Failure::usage(clap_line(&e))),
            };
        }
    };
    Ok(match cli.command {
        None => Command::Help(help()),
        Some(Sub::Serve) => Command::Serve,
        Some(Sub::Migrate) => Command::Migrate,
        Some(Sub::GcMedia) => Command::GcMedia,
        Some(Sub::CreateAdmin {
            password: Some(_), ..
        }) => {
            return Err(Failure::usage(
                "the password is never taken from the command line: set DEALROOM_ADMIN_PASSWORD or pipe it",
            ));
        }
        Some(Sub::CreateAdmin { email, name, .. }) => Command::CreateAdmin { email, name },
        Some(Sub::ImportRates { file, base }) => Command::ImportRates { file, base },
    })
}

/// clap's message in one line, without its `error: ` prefix, usage and tips.
fn clap_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let words: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.trim_start().starts_with("tip:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match words.join(" ").trim_start_matches("error: ") {
        "" => "bad arguments".to_owned(),
        line => line.to_owned(),
    }
}

/// The help text.
pub fn help() -> String {
    use clap::CommandFactory;
    Cli::command().render_help().to_string()
}

/// Runs a command with the given environment and standard input; what it
/// prints on success goes to `out`.
pub fn run(
    command: Command,
    env: &HashMap<String, String>,
    stdin: &mut dyn BufRead,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    let line = |out: &mut dyn std::io::Write, s: &str| {
        let _ = writeln!(out, "{s}");
    };
    match command {
        Command::Help(text) => {
            line(out, text.trim_end());
            Ok(())
        }
        Command::Version => {
            line(out, &format!("dealroom {}", env!("CARGO_PKG_VERSION")));
            Ok(())
        }
        Command::Migrate => {
            let settings = settings(env)?;
            let applied = migrate(&settings)?;
            if applied.is_empty() {
                line(out, "no pending migrations");
            }
            for m in applied {
                line(out, &format!("applied {m}"));
            }
            Ok(())
        }
        Command::GcMedia => {
            let settings = settings(env)?;
            migrate(&settings)?;
            let store = crate::app::open_store(
                &settings,
                PoolSettings {
                    max_size: 2,
                    min_idle: 0,
                    ..PoolSettings::default()
                },
                false,
            );
            let closing = store.closing();
            let state = AppState::new(settings, store).map_err(|e| Failure::new(e.to_string()))?;
            let state = actix_web::web::Data::new(state);
            let collected = actix_web::rt::System::new().block_on(crate::media::collect(&state));
            // Every connection closed before the process may exit.
            drop(state);
            closing.wait(Duration::from_secs(10));
            let c = collected.map_err(|e| Failure::new(format!("gc-media failed: {e:?}")))?;
            line(
                out,
                &format!(
                    "removed {} orphan uploads, {} stored objects, {} temporary files",
                    c.orphan_rows, c.objects, c.temps
                ),
            );
            Ok(())
        }
        Command::CreateAdmin { email, name } => {
            let settings = settings(env)?;
            let password = match env.get("DEALROOM_ADMIN_PASSWORD") {
                Some(p) => p.clone(),
                None => {
                    let mut buf = String::new();
                    stdin
                        .read_line(&mut buf)
                        .map_err(|e| Failure::new(format!("cannot read the password: {e}")))?;
                    buf.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            migrate(&settings)?;
            let store = crate::app::open_store(
                &settings,
                PoolSettings {
                    max_size: 1,
                    min_idle: 0,
                    ..PoolSettings::default()
                },
                false,
            );
            let closing = store.closing();
            let state = AppState::new(settings, store).map_err(|e| Failure::new(e.to_string()))?;
            let input = RegisterInput {
                email: Some(email),
                password: Some(password),
                name: Some(name),
                device_name: None,
            };
            let user = state.auth.create_admin(input).map_err(|e| match e {
                domain::DomainError::Validation(list) => Failure::new(
                    list.iter()
                        .map(|f| format!("{} {}", f.field, f.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                other => Failure::new(other.to_string()),
            });
            // Every connection closed before the process may exit.
            drop(state);
            closing.wait(Duration::from_secs(10));
            let user = user?;
            line(out, &format!("admin {} <{}> is ready", user.id, user.email));
            Ok(())
        }
        Command::ImportRates { file, base } => {
            // The file is read whole, and every day checked, before the
            // database is touched: a bad file stores nothing and needs none.
            let days = read_rates(&file, base.as_deref())?;
            let settings = settings(env)?;
            migrate(&settings)?;
            let store = crate::app::open_store(
                &settings,
                PoolSettings {
                    max_size: 1,
                    min_idle: 0,
                    ..PoolSettings::default()
                },
                false,
            );
            let closing = store.closing();
            let state = AppState::new(settings, store).map_err(|e| Failure::new(e.to_string()))?;
            let stored = state.market.import_exchange_rates(&days);
            // Every connection closed before the process may exit.
            drop(state);
            closing.wait(Duration::from_secs(10));
            let stored = stored.map_err(|e| Failure::new(format!("import-rates failed: {e}")))?;
            line(
                out,
                &format!(
                    "stored {} dates and {} rates from {}",
                    stored.dates,
                    stored.rates,
                    file.display()
                ),
            );
            Ok(())
        }
        Command::Serve => {
            let settings = settings(env)?;
            for m in migrate(&settings)? {
                log::info!("applied migration {m}");
            }
            check_search_language(&settings)?;
            let (host, port) = (settings.host.clone(), settings.port);
            match crate::conn::raise_open_files() {
                Ok((before, after)) if after > before => {
                    log::info!("open-file limit raised from {before} to {after}");
                }
                Ok(_) => {}
                Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
            }
            actix_web::rt::System::new().block_on(async move {
                // Before the port accepts: a signal then is ours, never the default action.
                let signals = ShutdownSignals::listen()
                    .map_err(|e| Failure::new(format!("cannot handle signals: {e}")))?;
                let app = Application::build(settings).map_err(|e| Failure::new(e.to_string()))?;
                log::info!("dealroom serving on http://{host}:{}", app.port());
                app.run_until_signalled(signals)
                    .await
                    .map_err(|e| Failure::new(format!("server failed: {e}")))
            })?;
            log::info!("dealroom stopped (port {port})");
            Ok(())
        }
    }
}

/// The days of a rate file, ECB XML or CSV (told by its first bytes), each
/// checked as `PUT /exchange-rates/{date}` checks a body.
fn read_rates(file: &Path, base: Option<&str>) -> Result<Vec<ExchangeRates>, Failure> {
    use market::rate_files::{ECB_BASE, Format, read_csv, read_ecb_xml, sniff};
    let name = file.display();
    let cannot = |e: std::io::Error| Failure::new(format!("cannot read {name}: {e}"));
    let mut input = std::io::BufReader::new(std::fs::File::open(file).map_err(cannot)?);
    let days = match (sniff(&mut input).map_err(cannot)?, base) {
        (Format::EcbXml, Some(base)) if base != ECB_BASE => {
            return Err(Failure::usage(format!(
                "the ECB's rates are against {ECB_BASE}: --base {base} applies to a CSV"
            )));
        }
        (Format::EcbXml, _) => read_ecb_xml(input),
        (Format::Csv, Some(base)) => read_csv(input, base),
        (Format::Csv, None) => {
            return Err(Failure::usage(
                "a date,currency,rate CSV needs --base, the currency its rates are against",
            ));
        }
    };
    days.map_err(|e| Failure::new(format!("{name}: {e}; nothing was stored")))
}

fn settings(env: &HashMap<String, String>) -> Result<Settings, Failure> {
    let s = Settings::load(env).map_err(|e| Failure::new(e.0))?;
    if s.database_url.expose().is_empty() {
        return Err(Failure::new(
            "DATABASE_URL is not set (make run sets it to a local cluster)",
        ));
    }
    Ok(s)
}

/// Applies pending migrations; their names.
pub fn migrate(settings: &Settings) -> Result<Vec<String>, Failure> {
    store::migrations::run_pending_at(settings.direct_database_url())
        .map_err(|e| Failure::new(format!("migration failed: {}", one_line(&e.to_string()))))
}

/// `SEARCH_LANGUAGE` must be the configuration the migrations built the
/// messages' search column with: the language is fixed by a migration.
fn check_search_language(settings: &Settings) -> Result<(), Failure> {
    let built = store::migrations::search_configuration_at(settings.direct_database_url())
        .map_err(|e| Failure::new(one_line(&e.to_string())))?;
    match built {
        Some(built) if built != settings.search_language => Err(Failure::new(format!(
            "SEARCH_LANGUAGE is {} but the messages are indexed in {built}: changing the \
             language takes a migration (README, Search)",
            settings.search_language
        ))),
        _ => Ok(()),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_commands() {
        assert_eq!(parse(&args(&["serve"])).ok(), Some(Command::Serve));
        assert_eq!(parse(&args(&["--version"])).ok(), Some(Command::Version));
        assert_eq!(
            parse(&args(&["create-admin", "--email", "a@b.co", "--name=Ann"])).ok(),
            Some(Command::CreateAdmin {
                email: "a@b.co".into(),
                name: "Ann".into()
            })
        );
        assert_eq!(
            parse(&args(&["create-admin", "--password", "x"]))
                .err()
                .map(|f| f.code),
            Some(2)
        );
        assert_eq!(parse(&args(&["frobnicate"])).err().map(|f| f.code), Some(2));
    }

    #[test]
    fn help_is_clap_s_for_the_program_and_for_each_command() {
        let help = |a: &[&str]| match parse(&args(a)) {
            Ok(Command::Help(text)) => text,
            other => panic!("{a:?}: {other:?}"),
        };
        for a in [&[][..], &["--help"], &["-h"]] {
            let text = help(a);
            for cmd in [
                "serve",
                "migrate",
                "gc-media",
                "create-admin",
                "import-rates",
            ] {
                assert!(text.contains(cmd), "{a:?} lists {cmd}: {text}");
            }
        }
        assert!(help(&["create-admin", "--help"]).contains("--email <E>"));
        let f = parse(&args(&["create-admin", "--email", "a@b.co"])).err();
        assert_eq!(
            f.map(|f| (f.code, f.message)),
            Some((
                2,
                "the following required arguments were not provided: --name <N>; see dealroom --help"
                    .to_owned()
            ))
        );
    }

    #[test]
    fn parses_import_rates() {
        let rates = |file: &str, base: Option<&str>| Command::ImportRates {
            file: PathBuf::from(file),
            base: base.map(str::to_owned),
        };
        assert_eq!(
            parse(&args(&["import-rates", "eurofxref-daily.xml"])).ok(),
            Some(rates("eurofxref-daily.xml", None))
        );
        assert_eq!(
            parse(&args(&["import-rates", "rates.csv", "--base", "USD"])).ok(),
            Some(rates("rates.csv", Some("USD")))
        );
        assert_eq!(
            parse(&args(&["import-rates", "--base=GBP", "rates.csv"])).ok(),
            Some(rates("rates.csv", Some("GBP")))
        );
        for bad in [
            &["import-rates"][..],
            &["import-rates", "a.csv", "b.csv"],
            &["import-rates", "a.csv", "--base"],
            &["import-rates", "a.csv", "--quote", "USD"],
        ] {
            assert_eq!(parse(&args(bad)).err().map(|f| f.code), Some(2), "{bad:?}");
        }
    }
}
