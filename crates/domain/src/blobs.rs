//! The blob-storage port: where an upload's bytes live, content-addressed by
//! their SHA-256. Adapters (local disk, S3-compatible) are in the `blobs` crate,
//! the only one that knows a storage client.
//!
//! The port is asynchronous, and its futures and streams are not `Send`: an
//! adapter may use a runtime-local HTTP client, so callers drive them on the
//! thread that made them (an actix worker, or a command's own runtime).
//! Database work stays on the blocking pool, as everywhere else.

use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::LocalBoxStream;

/// What a storage operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No object under that hash.
    #[error("no such object")]
    NotFound,
    /// The storage failed (I/O, network, the remote store's answer); the text
    /// is for the log.
    #[error("storage failed: {0}")]
    Failed(String),
}

/// What every blob-store method returns.
pub type BlobResult<T> = Result<T, BlobError>;

/// An inclusive byte range `first..=last` of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte's offset.
    pub first: u64,
    /// The last byte's offset (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// How many bytes the range holds.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never: a range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Bytes being read from storage, chunk by chunk.
pub type BlobStream = LocalBoxStream<'static, BlobResult<Bytes>>;

/// An upload being written under a temporary name. Dropping it before
/// [`BlobStore::commit`] removes what was written (a refused or abandoned
/// upload leaves nothing behind).
pub trait TempBlob {
    /// Appends a chunk.
    fn write(&mut self, chunk: Bytes) -> LocalBoxFuture<'_, BlobResult<()>>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// For the store that made it, to take it back in [`BlobStore::commit`].
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// Where media bytes are stored, under the hex SHA-256 of their content.
pub trait BlobStore: Send + Sync {
    /// A new, empty temporary object.
    fn create_temp(&self) -> LocalBoxFuture<'_, BlobResult<Box<dyn TempBlob>>>;
    /// Makes a complete temporary object durable under `sha256` (its content's
    /// hash, which the caller computed while writing). Committing bytes that
    /// are already stored is a no-op beside removing the temporary object.
    fn commit<'a>(
        &'a self,
        temp: Box<dyn TempBlob>,
        sha256: &'a str,
    ) -> LocalBoxFuture<'a, BlobResult<()>>;
    /// The object's bytes, all of them or one range (which the caller has
    /// checked against the object's size).
    fn read<'a>(
        &'a self,
        sha256: &'a str,
        range: Option<ByteRange>,
    ) -> LocalBoxFuture<'a, BlobResult<BlobStream>>;
    /// The object's size, if it exists.
    fn size<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, BlobResult<Option<u64>>>;
    /// Deletes the object; false if there was none.
    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, BlobResult<bool>>;
    /// Removes temporary objects older than `age` (left by a crash); how many.
    fn sweep_temps(&self, age: std::time::Duration) -> LocalBoxFuture<'_, BlobResult<u64>>;
}

/// True for a string that can name an object: 64 lower-case hex digits.
pub fn is_object_name(sha256: &str) -> bool {
    sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
