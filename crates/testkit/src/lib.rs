#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod memory;
pub mod s3;

/// Asserts that `result` is an `Err` matching `pattern`, printing what it was
/// otherwise: `assert_err!(service.call(..), DomainError::NotFound(_))`.
#[macro_export]
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern),
                other.map(|_| "Ok(..)")
            ),
        }
    };
}

use diesel::prelude::*;
use diesel::sql_query;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use store::migrations::MIGRATIONS;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

/// A database of one test's own, migrated, dropped (with `FORCE`) on drop.
pub struct TestDb {
    name: String,
    url: String,
    server: Server,
}

impl TestDb {
    /// A fresh migrated database; panics with the reason if none can be made.
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(db) => db,
            Err(e) => panic!("testkit: cannot create a test database: {e}"),
        }
    }

    /// [`TestDb::new`] that returns the failure instead of panicking.
    pub fn try_new() -> Result<Self> {
        let server = shared_server()?;
        let template = template(&server)?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = server.admin()?;
        sql_query(format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\" STRATEGY FILE_COPY"
        ))
        .execute(&mut admin)?;
        Ok(Self {
            url: server.url(&name),
            name,
            server: server.clone(),
        })
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new connection to this database.
    pub fn conn(&self) -> PgConnection {
        match PgConnection::establish(&self.url) {
            Ok(c) => c,
            Err(e) => panic!("testkit: cannot connect to {}: {e}", self.name),
        }
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.server.admin() {
            let _ = sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// Where databases are created: the URL of the server's `postgres` database and a
/// function of the database name.
#[derive(Clone, Debug)]
struct Server {
    /// `postgres://…/{db}…` with `{db}` in place of the database name.
    pattern: String,
    /// Serialises the template build when the server is not ours.
    external: bool,
    dir: Option<PathBuf>,
}

impl Server {
    fn url(&self, db: &str) -> String {
        self.pattern.replace("{db}", db)
    }

    fn admin(&self) -> Result<PgConnection> {
        Ok(PgConnection::establish(&self.url("postgres"))?)
    }
}

fn shared_server() -> Result<Server> {
    static SERVER: OnceLock<std::result::Result<Server, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| start_shared().map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::from)
}

/// The variable naming a server of the caller's own for test databases.
/// Not `DATABASE_URL`, which names the database of the program under test
/// (and of `make run`): tests must never create and drop databases there
/// because it happens to be set.
pub const DATABASE_URL_VAR: &str = "TESTKIT_DATABASE_URL";

/// The server named by [`DATABASE_URL_VAR`], if set and not empty.
fn external_url() -> Option<String> {
    std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// The directory of the shared local cluster: `$TESTKIT_DIR`, else
/// `dealroom-testkit-<uid>` in the temp directory.
fn shared_dir() -> PathBuf {
    std::env::var_os("TESTKIT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("dealroom-testkit-{}", uid())))
}

fn start_shared() -> Result<Server> {
    if let Some(url) = external_url() {
        return Ok(Server {
            pattern: url_pattern(&url)?,
            external: true,
            dir: None,
        });
    }
    let dir = shared_dir();
    let cluster = Cluster::at(dir.clone());
    let lock = cluster.lock()?;
    let fresh = cluster.ensure_running()?;
    let server = Server {
        pattern: cluster.url("{db}"),
        external: false,
        dir: Some(dir),
    };
    if fresh {
        sweep(&server)?;
    }
    drop(lock);
    Ok(server)
}

/// Stops the local cluster that [`TestDb::new`] starts (in `$TESTKIT_DIR`,
/// else `dealroom-testkit-<uid>` in the temp directory), as its owner (the
/// `postgres` user when run as root, where a plain `pg_ctl stop` is refused);
/// true if it was running. Nothing to do, `false`, when
/// `TESTKIT_DATABASE_URL` names a server of your own, or when no cluster runs.
///
/// Call it after the tests, from a step of its own (a test process still
/// running loses its databases): the next `TestDb::new()` starts the cluster
/// again, in a few seconds, and sweeps what killed runs left behind.
///
/// ```no_run
/// // A `[[bin]]` or an example of a downstream crate, run after `cargo test`:
/// fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     if testkit::stop()? {
///         println!("testkit's cluster stopped");
///     }
///     Ok(())
/// }
/// ```
pub fn stop() -> Result<bool> {
    if external_url().is_some() {
        return Ok(false);
    }
    stop_cluster(&Cluster::at(shared_dir()))
}

/// Stops `cluster` if it runs; true if it did.
fn stop_cluster(cluster: &Cluster) -> Result<bool> {
    if !cluster.dir.join("data/PG_VERSION").exists()
        || PgConnection::establish(&cluster.url("postgres")).is_err()
    {
        return Ok(false);
    }
    // Not while another process starts it or builds the template.
    let _lock = cluster.lock()?;
    let bin = bindir()?;
    cluster.pg_ctl(&bin, &["-D", &cluster.data(), "-m", "fast", "-w", "stop"])?;
    Ok(true)
}

/// Drops databases left by test runs that were killed before their `Drop` ran.
fn sweep(server: &Server) -> Result<()> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let mut admin = server.admin()?;
    let names: Vec<Name> =
        sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
            .load(&mut admin)?;
    for n in names {
        sql_query(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            n.datname
        ))
        .execute(&mut admin)?;
    }
    Ok(())
}

/// `postgres://u@h:p/name?x` → `postgres://u@h:p/{db}?x`.
fn url_pattern(url: &str) -> Result<String> {
    let (before_query, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let scheme_end = before_query
        .find("://")
        .ok_or("TESTKIT_DATABASE_URL is not a postgres:// URL")?
        + 3;
    let base = match before_query[scheme_end..].find('/') {
        Some(i) => &before_query[..scheme_end + i],
        None => before_query,
    };
    Ok(format!("{base}/{{db}}{query}"))
}

/// The migrated template for this set of migrations, built once per server.
fn template(server: &Server) -> Result<String> {
    static TEMPLATE: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| build_template(server).map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::from)
}

fn build_template(server: &Server) -> Result<String> {
    let name = format!("template_{}", migrations_digest());
    let mut admin = server.admin()?;
    // Serialise builders across processes: a file lock on our own cluster, an
    // advisory lock on somebody else's server.
    let _file_lock = match &server.dir {
        Some(dir) => Some(Cluster::at(dir.clone()).lock()?),
        None => None,
    };
    if server.external {
        sql_query("SELECT pg_advisory_lock(715517)").execute(&mut admin)?;
    }
    let result = (|| -> Result<()> {
        if database_exists(&mut admin, &name)? {
            return Ok(());
        }
        let building = format!("{name}_building");
        sql_query(format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut admin)?;
        sql_query(format!("CREATE DATABASE \"{building}\"")).execute(&mut admin)?;
        {
            let mut c = PgConnection::establish(&server.url(&building))?;
            store::migrations::run_pending(&mut c)?;
        }
        sql_query(format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
        ))
        .execute(&mut admin)?;
        Ok(())
    })();
    if server.external {
        sql_query("SELECT pg_advisory_unlock(715517)").execute(&mut admin)?;
    }
    result.map(|()| name)
}

fn database_exists(admin: &mut PgConnection, name: &str) -> Result<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        #[allow(dead_code)]
        one: i32,
    }
    let rows: Vec<Found> = sql_query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .load(admin)?;
    Ok(!rows.is_empty())
}

/// A short digest of the migrations, so a changed migration gets a new template.
fn migrations_digest() -> String {
    use diesel::migration::MigrationSource;
    let mut h = Sha256::new();
    if let Ok(ms) = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS) {
        for m in ms {
            h.update(m.name().to_string().as_bytes());
        }
    }
    // In this workspace, the SQL itself too (a migration edited in place).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    if let Ok(entries) = fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .flat_map(|e| [e.path().join("up.sql"), e.path().join("down.sql")])
            .collect();
        files.sort();
        for f in files {
            if let Ok(text) = fs::read(&f) {
                h.update(&text);
            }
        }
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn uid() -> String {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn is_root() -> bool {
    uid() == "0"
}

/// A local PostgreSQL cluster in a directory: `data/`, `sock/`, `log`.
pub struct Cluster {
    dir: PathBuf,
    private: bool,
    /// Also listening on this loopback TCP port (private clusters only).
    tcp_port: Option<u16>,
}

impl Cluster {
    fn at(dir: PathBuf) -> Self {
        Self {
            dir,
            private: false,
            tcp_port: None,
        }
    }

    /// A cluster of the caller's own in a new temporary directory, started and
    /// holding one migrated database named `app`; stopped and removed on drop.
    pub fn private() -> Self {
        match Self::try_private() {
            Ok(c) => c,
            Err(e) => panic!("testkit: cannot start a private cluster: {e}"),
        }
    }

    /// [`Cluster::private`], also listening on a free TCP port of 127.0.0.1
    /// (see [`Cluster::tcp_url`]): for what only TCP connections do (libpq
    /// negotiates GSS encryption over TCP, never over a Unix socket).
    pub fn private_tcp() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port());
        match port
            .map_err(Into::into)
            .and_then(|p| Self::try_private_on(Some(p)))
        {
            Ok(c) => c,
            Err(e) => panic!("testkit: cannot start a private cluster: {e}"),
        }
    }

    /// The URL of a database of a [`Cluster::private_tcp`] over TCP.
    pub fn tcp_url(&self, db: &str) -> Option<String> {
        self.tcp_port
            .map(|port| format!("postgres://postgres@127.0.0.1:{port}/{db}"))
    }

    fn try_private() -> Result<Self> {
        Self::try_private_on(None)
    }

    fn try_private_on(tcp_port: Option<u16>) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "dealroom-private-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let cluster = Self {
            dir,
            private: true,
            tcp_port,
        };
        cluster.ensure_running()?;
        let mut admin = PgConnection::establish(&cluster.url("postgres"))?;
        sql_query("CREATE DATABASE app").execute(&mut admin)?;
        let mut c = PgConnection::establish(&cluster.url("app"))?;
        store::migrations::run_pending(&mut c)?;
        Ok(cluster)
    }

    /// The URL of a database in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@localhost/{db}?host={}&port={}",
            self.dir.join("sock").display(),
            self.port()
        )
    }

    /// The port of the server (its socket file is named after it).
    fn port(&self) -> u16 {
        self.tcp_port.unwrap_or(5432)
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        if let Ok(bin) = bindir() {
            let _ = self.pg_ctl(&bin, &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        }
    }

    /// Starts the server again.
    pub fn start(&self) {
        if let Err(e) = self.ensure_running() {
            panic!("testkit: cannot start the cluster again: {e}");
        }
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn lock(&self) -> Result<File> {
        fs::create_dir_all(&self.dir)?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("lock"))?;
        f.lock()?;
        Ok(f)
    }

    /// Initialises and starts the cluster unless it runs; true if it was started.
    fn ensure_running(&self) -> Result<bool> {
        if PgConnection::establish(&self.url("postgres")).is_ok() {
            return Ok(false);
        }
        let bin = bindir()?;
        let sock = self.dir.join("sock");
        fs::create_dir_all(&sock)?;
        if is_root() {
            // initdb and postgres refuse to run as root: the postgres user owns the cluster.
            run(Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&self.dir))?;
            run(Command::new("chmod").arg("755").arg(&self.dir))?;
        }
        if !self.dir.join("data/PG_VERSION").exists() {
            self.as_owner(
                &bin.join("initdb"),
                &[
                    "-D",
                    &self.data(),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
            )?;
        }
        let listen = match self.tcp_port {
            Some(_) => "127.0.0.1",
            None => "''",
        };
        let opts = format!(
            "-c listen_addresses={listen} -k {} -p {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=400 -c shared_buffers=64MB",
            sock.display(),
            self.port()
        );
        let log = self.dir.join("log").display().to_string();
        self.pg_ctl(
            &bin,
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        )?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while PgConnection::establish(&self.url("postgres")).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "the cluster in {} did not accept connections",
                    self.dir.display()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(true)
    }

    fn pg_ctl(&self, bin: &Path, args: &[&str]) -> Result<()> {
        self.as_owner(&bin.join("pg_ctl"), args)
    }

    fn as_owner(&self, program: &Path, args: &[&str]) -> Result<()> {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args);
        run(&mut cmd)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.private {
            self.stop();
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

/// The installed PostgreSQL's programs: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn bindir() -> Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("initdb").exists() {
            return Ok(p);
        }
    }
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().ok_or_else(|| {
        "PostgreSQL server programs (initdb, pg_ctl) not found; install postgresql".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_pattern_replaces_the_database() {
        assert_eq!(
            url_pattern("postgres://u:p@h:5/app?sslmode=disable")
                .ok()
                .as_deref(),
            Some("postgres://u:p@h:5/{db}?sslmode=disable")
        );
        assert_eq!(
            url_pattern("postgres://h").ok().as_deref(),
            Some("postgres://h/{db}")
        );
    }

    #[test]
    fn stopping_a_running_cluster_stops_it_once() {
        let cluster = Cluster::private();
        assert!(PgConnection::establish(&cluster.url("app")).is_ok());
        assert_eq!(stop_cluster(&cluster).map_err(|e| e.to_string()), Ok(true));
        assert!(PgConnection::establish(&cluster.url("app")).is_err());
        assert_eq!(stop_cluster(&cluster).map_err(|e| e.to_string()), Ok(false));
    }

    #[test]
    fn two_databases_are_independent() {
        let a = TestDb::new();
        let b = TestDb::new();
        assert_ne!(a.name(), b.name());
        let mut c = a.conn();
        sql_query("INSERT INTO users (id, email, name, password_hash) VALUES (gen_random_uuid(), 'a@b.c', 'A', 'x')")
            .execute(&mut c)
            .ok();
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let count = |db: &TestDb| -> i64 {
            let mut c = db.conn();
            sql_query("SELECT count(*) AS n FROM users")
                .get_result::<N>(&mut c)
                .map(|r| r.n)
                .unwrap_or(-1)
        };
        assert_eq!(count(&a), 1);
        assert_eq!(count(&b), 0);
    }
}
