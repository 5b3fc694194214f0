use server::cli;
use std::process::ExitCode;

/// mimalloc serves the server's allocations: on glibc's malloc, a page of
/// messages spent about a sixth of its CPU allocating and freeing, and
/// mimalloc took a fifth off the server's CPU per page (README, "Per-request
/// cost"). libpq's own allocations stay on glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// glibc's malloc, which still serves libpq (each query's result) and the
/// other C libraries, gives threads arenas of their own (up to eight per
/// core), each keeping what its threads freed. When it served the whole
/// server, a page-of-messages load peaked at 28.3 MiB resident on default
/// arenas and at 25.4 MiB on two, at the same throughput (README,
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

/// mimalloc's `arena_eager_commit` (in its `mimalloc.h`, `mi_option_e`).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// mimalloc commits its 1 GiB arena eagerly on Linux by default, and what
/// it then purges stays resident: a page-of-messages load peaked at 62 MiB
/// resident that way, and at 29 MiB with arenas committed as they are used,
/// at the same throughput. Lazily, unless the operator sets
/// `MIMALLOC_ARENA_EAGER_COMMIT`, which mimalloc reads itself.
///
/// This has to run before the first allocation, which reserves the first
/// arena, and Rust's runtime allocates before `main` (the main thread's
/// name): so it runs as a constructor of the executable, after the dynamic
/// loader and before the runtime. It does not allocate.
#[allow(unsafe_code)]
extern "C" fn commit_arenas_lazily() {
    // SAFETY: `getenv` with a NUL-terminated name; nothing writes the
    // environment while constructors run, before any thread exists.
    let set = !unsafe { libc::getenv(c"MIMALLOC_ARENA_EAGER_COMMIT".as_ptr()) }.is_null();
    if !set {
        // SAFETY: only sets one of mimalloc's options, before any thread.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[used]
// SAFETY: a function pointer of the right type (no arguments, C ABI) in the
// section the loader runs the executable's constructors from.
#[unsafe(link_section = ".init_array")]
static COMMIT_ARENAS_LAZILY: extern "C" fn() = commit_arenas_lazily;

fn fail(f: &cli::Failure) -> ExitCode {
    eprintln!("dealroom: {}", f.message);
    ExitCode::from(f.code)
}
