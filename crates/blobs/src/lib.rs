#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

mod disk;
mod s3;

pub use disk::DiskBlobs;
pub use s3::{S3Blobs, S3Config};

use domain::blobs::{BlobError, BlobResult};

/// Runs blocking file I/O on the runtime's blocking pool.
pub(crate) async fn run_blocking<T, F>(f: F) -> BlobResult<T>
where
    F: FnOnce() -> BlobResult<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Failed(format!("blocking task failed: {e}")))?
}

pub(crate) fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> BlobError {
    BlobError::Failed(format!("{what}: {e}"))
}
