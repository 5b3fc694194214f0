//! A local S3-compatible server for tests: moto's server mode (PyPI
//! `moto[server]`, pinned in `scripts/moto.sh`, installed into
//! `target/moto-venv` on first use), one process per [`S3Server`], on a free
//! loopback port, killed on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct S3Server {
    child: Child,
    port: u16,
}

/// The workspace's root (this crate is `crates/testkit`).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// `moto_server`'s path, installing it first if it is missing.
fn moto_server() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let root = workspace_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/moto.sh"))
        .arg("ensure")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run scripts/moto.sh: {e}"))?;
    if !out.status.success() {
        return Err("scripts/moto.sh could not install moto".into());
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(PathBuf::from(path))
}

impl S3Server {
    /// Starts one; panics with the reason if it cannot.
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(s) => s,
            Err(e) => panic!("testkit: cannot start the S3 server: {e}"),
        }
    }

    /// [`S3Server::start`] that returns the failure instead of panicking.
    pub fn try_start() -> Result<Self, String> {
        let bin = moto_server()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = Self { child, port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("moto_server exited at start: {status}"));
            }
            if Instant::now() >= deadline {
                return Err("moto_server did not listen within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
