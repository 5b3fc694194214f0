use server::cli;
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

fn fail(f: &cli::Failure) -> ExitCode {
    eprintln!("dealroom: {}", f.message);
    ExitCode::from(f.code)
}
