use server::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = std::env::vars().collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(f) => return fail(&f),
    };
    if matches!(
        command,
        cli::Command::Serve
            | cli::Command::Migrate
            | cli::Command::GcMedia
            | cli::Command::CreateAdmin { .. }
    ) {
        server::logging::init(server::Settings::load(&env).ok().as_ref());
    }
    let stdin = std::io::stdin();
    match cli::run(command, &env, &mut stdin.lock(), &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(&f),
    }
}

/// glibc's malloc gives threads arenas of their own (up to eight per core),
/// each keeping what its threads freed: with the workers, the blocking pool
/// and bcrypt's threads, a page-of-messages load peaked at 28.3 MiB resident
/// on default arenas and at 25.4 MiB on two, at the same throughput (README,
/// "Per-request cost"). Two, unless the operator sets `MALLOC_ARENA_MAX`,
/// which glibc reads itself.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: the first call of `main`, before any other thread exists;
        // it only sets a parameter of malloc.
        let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}

fn fail(f: &cli::Failure) -> ExitCode {
    eprintln!("dealroom: {}", f.message);
    ExitCode::from(f.code)
}
