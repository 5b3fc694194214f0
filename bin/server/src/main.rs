use server::cli;
use std::process::ExitCode;

/// mimalloc serves the server's allocations: on glibc's malloc, a page of
/// messages spent about a sixth of its CPU allocating and freeing, and
/// mimalloc took 10-20% off the server's CPU per page (README, "Per-request
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

/// mimalloc's options `dealroom` sets, each unless the operator sets its
/// environment variable, which mimalloc then reads itself: the option's
/// number (its `mi_option_e` in `mimalloc.h`, v3), its variable, its value.
///
/// - `arena_eager_commit` 0: by default mimalloc commits its 1 GiB arena
///   eagerly on Linux, and what it purges then stays resident: a
///   page-of-messages load peaked at 62 MiB that way, and at 29 MiB with the
///   arena committed as it is used, at the same throughput.
/// - `purge_delay` 0: freed pages go back at once instead of after a second:
///   the same load peaked 2 MiB lower, at the same CPU per page.
const MIMALLOC_OPTIONS: [(
    libmimalloc_sys::mi_option_t,
    &std::ffi::CStr,
    std::ffi::c_long,
); 2] = [
    (4, c"MIMALLOC_ARENA_EAGER_COMMIT", 0),
    (15, c"MIMALLOC_PURGE_DELAY", 0),
];

/// Sets [`MIMALLOC_OPTIONS`]. This has to run before the first allocation,
/// which reserves the first arena, and Rust's runtime allocates before
/// `main` (the main thread's name): so it runs as a constructor of the
/// executable, after the dynamic loader and before the runtime. It does not
/// allocate.
#[allow(unsafe_code)]
extern "C" fn set_mimalloc_options() {
    for (option, variable, value) in MIMALLOC_OPTIONS {
        // SAFETY: `getenv` with a NUL-terminated name; nothing writes the
        // environment while constructors run, before any thread exists.
        let set = !unsafe { libc::getenv(variable.as_ptr()) }.is_null();
        if !set {
            // SAFETY: only sets one of mimalloc's options, before any thread.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[used]
// SAFETY: a function pointer of the right type (no arguments, C ABI) in the
// section the loader runs the executable's constructors from.
#[unsafe(link_section = ".init_array")]
static SET_MIMALLOC_OPTIONS: extern "C" fn() = set_mimalloc_options;

fn fail(f: &cli::Failure) -> ExitCode {
    eprintln!("dealroom: {}", f.message);
    ExitCode::from(f.code)
}
