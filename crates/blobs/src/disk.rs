//! Blobs on the local disk: `objects/ab/cd/<sha256>` under the root (two
//! levels of 256 shards, so no directory holds more than a few thousand files
//! per hundred million objects), temporary uploads under `tmp/`. An upload is
//! written to `tmp/`, flushed to disk (`fsync`), then renamed into place (an
//! atomic replace on one file system), and the shard directory is synced, so
//! a crash never leaves a partial file under a real name.

use crate::{failed, run_blocking};
use bytes::Bytes;
use domain::blobs::{
    BlobError, BlobResult, BlobStore, BlobStream, ByteRange, TempBlob, is_object_name,
};
use futures_util::future::LocalBoxFuture;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Received bytes held before each write to the file, and the size of a read
/// chunk: large enough that a trip to the blocking pool is cheap next to the
/// I/O, small enough that many transfers at once stay within a few MiB.
pub(crate) const CHUNK: usize = 128 * 1024;

/// The local-disk adapter.
#[derive(Clone, Debug)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// Blobs under `root`, creating its directories.
    pub fn open(root: impl Into<PathBuf>) -> BlobResult<Self> {
        let root = root.into();
        for dir in [root.join("objects"), root.join("tmp")] {
            fs::create_dir_all(&dir)
                .map_err(|e| failed(format!("cannot create {}", dir.display()), e))?;
        }
        Ok(Self { root })
    }

    fn object_path(&self, sha256: &str) -> BlobResult<PathBuf> {
        if !is_object_name(sha256) {
            return Err(BlobError::Failed(format!("not an object name: {sha256:?}")));
        }
        Ok(self
            .root
            .join("objects")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(sha256))
    }

    /// A new temporary file under `tmp/`.
    pub(crate) async fn temp(&self) -> BlobResult<DiskTemp> {
        let path = self
            .root
            .join("tmp")
            .join(format!("{}.part", uuid::Uuid::new_v4()));
        let p = path.clone();
        let file = run_blocking(move || {
            File::options()
                .write(true)
                .create_new(true)
                .open(&p)
                .map_err(|e| failed("cannot create a temporary file", e))
        })
        .await?;
        Ok(DiskTemp {
            path,
            file: Some(file),
            pending: Vec::new(),
            pending_len: 0,
            written: 0,
            moved: false,
        })
    }

    pub(crate) async fn sweep(&self, age: Duration) -> BlobResult<u64> {
        let dir = self.root.join("tmp");
        run_blocking(move || {
            let mut removed = 0;
            let now = SystemTime::now();
            for entry in fs::read_dir(&dir).map_err(|e| failed("cannot list tmp", e))? {
                let Ok(entry) = entry else { continue };
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|a| a >= age);
                if old && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

/// An upload being written to `tmp/`; removed on drop unless moved into place.
pub(crate) struct DiskTemp {
    path: PathBuf,
    file: Option<File>,
    /// Chunks received and not written yet (kept as received: no copy).
    pending: Vec<Bytes>,
    pending_len: usize,
    written: u64,
    moved: bool,
}

impl DiskTemp {
    /// Writes what is pending.
    async fn flush(&mut self) -> BlobResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut file = self
            .file
            .take()
            .ok_or_else(|| BlobError::Failed("temporary file already closed".into()))?;
        let pending = std::mem::take(&mut self.pending);
        let (file, mut pending) = run_blocking(move || {
            for chunk in &pending {
                file.write_all(chunk)
                    .map_err(|e| failed("cannot write a temporary file", e))?;
            }
            Ok((file, pending))
        })
        .await?;
        pending.clear();
        self.pending = pending;
        self.pending_len = 0;
        self.file = Some(file);
        Ok(())
    }

    /// Flushes and syncs the file to disk and closes it; its path.
    pub(crate) async fn finish(&mut self) -> BlobResult<PathBuf> {
        self.flush().await?;
        if let Some(file) = self.file.take() {
            run_blocking(move || file.sync_all().map_err(|e| failed("cannot sync", e))).await?;
        }
        Ok(self.path.clone())
    }

    /// Moves the finished file to `dest` (durably); nothing is removed on drop then.
    async fn move_to(mut self, dest: PathBuf) -> BlobResult<()> {
        let from = self.finish().await?;
        run_blocking(move || {
            let dir = dest
                .parent()
                .ok_or_else(|| BlobError::Failed("an object path has no parent".into()))?;
            fs::create_dir_all(dir).map_err(|e| failed("cannot create a shard", e))?;
            fs::rename(&from, &dest).map_err(|e| failed("cannot move an upload into place", e))?;
            // The rename is durable once the directory holding it is.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| failed("cannot sync a shard", e))
        })
        .await?;
        self.moved = true;
        Ok(())
    }
}

impl Drop for DiskTemp {
    fn drop(&mut self) {
        if !self.moved {
            self.file = None;
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl TempBlob for DiskTemp {
    fn write(&mut self, chunk: Bytes) -> LocalBoxFuture<'_, BlobResult<()>> {
        Box::pin(async move {
            self.written += chunk.len() as u64;
            self.pending_len += chunk.len();
            self.pending.push(chunk);
            if self.pending_len >= CHUNK {
                self.flush().await?;
            }
            Ok(())
        })
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Takes back one of our own temporary objects.
pub(crate) fn own_temp(temp: Box<dyn TempBlob>) -> BlobResult<DiskTemp> {
    temp.into_any()
        .downcast::<DiskTemp>()
        .map(|t| *t)
        .map_err(|_| BlobError::Failed("a temporary object of another store".into()))
}

/// Reads `file` from its current position, `remaining` bytes, chunk by chunk
/// on the blocking pool.
pub(crate) fn file_stream(file: File, remaining: u64) -> BlobStream {
    let stream = futures_util::stream::unfold((Some(file), remaining), |(file, left)| async move {
        let file = file?;
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let read = run_blocking(move || {
            let mut file = file;
            let mut buf = vec![0; want];
            let mut filled = 0;
            while filled < want {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(failed("cannot read an object", e)),
                }
            }
            if filled == 0 {
                return Err(BlobError::Failed("an object ended early".into()));
            }
            buf.truncate(filled);
            Ok((file, buf))
        })
        .await;
        Some(match read {
            Ok((file, buf)) => {
                let n = buf.len() as u64;
                (Ok(Bytes::from(buf)), (Some(file), left - n))
            }
            Err(e) => (Err(e), (None, 0)),
        })
    });
    Box::pin(stream)
}

fn open_at(path: &Path, range: Option<ByteRange>) -> BlobResult<(File, u64)> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
        Err(e) => return Err(failed("cannot open an object", e)),
    };
    let size = file
        .metadata()
        .map_err(|e| failed("cannot stat an object", e))?
        .len();
    match range {
        None => Ok((file, size)),
        Some(r) if r.last < size => {
            file.seek(SeekFrom::Start(r.first))
                .map_err(|e| failed("cannot seek in an object", e))?;
            Ok((file, r.len()))
        }
        Some(_) => Err(BlobError::Failed("a range past the object's end".into())),
    }
}

impl BlobStore for DiskBlobs {
    fn create_temp(&self) -> LocalBoxFuture<'_, BlobResult<Box<dyn TempBlob>>> {
        Box::pin(async move { Ok(Box::new(self.temp().await?) as Box<dyn TempBlob>) })
    }

    fn commit<'a>(
        &'a self,
        temp: Box<dyn TempBlob>,
        sha256: &'a str,
    ) -> LocalBoxFuture<'a, BlobResult<()>> {
        Box::pin(async move {
            let dest = self.object_path(sha256)?;
            own_temp(temp)?.move_to(dest).await
        })
    }

    fn read<'a>(
        &'a self,
        sha256: &'a str,
        range: Option<ByteRange>,
    ) -> LocalBoxFuture<'a, BlobResult<BlobStream>> {
        Box::pin(async move {
            let path = self.object_path(sha256)?;
            let (file, len) = run_blocking(move || open_at(&path, range)).await?;
            Ok(file_stream(file, len))
        })
    }

    fn size<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, BlobResult<Option<u64>>> {
        Box::pin(async move {
            let path = self.object_path(sha256)?;
            run_blocking(move || match fs::metadata(&path) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(failed("cannot stat an object", e)),
            })
            .await
        })
    }

    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, BlobResult<bool>> {
        Box::pin(async move {
            let path = self.object_path(sha256)?;
            run_blocking(move || match fs::remove_file(&path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(failed("cannot delete an object", e)),
            })
            .await
        })
    }

    fn sweep_temps(&self, age: Duration) -> LocalBoxFuture<'_, BlobResult<u64>> {
        Box::pin(self.sweep(age))
    }
}
