//! The same storage tests on both adapters: the local disk (in a temporary
//! directory) and S3 (against moto's server, started here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use blobs::{DiskBlobs, S3Blobs, S3Config};
use bytes::Bytes;
use domain::blobs::{BlobError, BlobStore, ByteRange};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dealroom-blobs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn read_all(store: &dyn BlobStore, sha: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut stream = store.read(sha, range).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// Writes `bytes` in uneven chunks and commits them under their hash.
async fn store_bytes(store: &dyn BlobStore, bytes: &[u8]) -> String {
    let mut temp = store.create_temp().await.unwrap();
    for chunk in bytes.chunks(70_001) {
        temp.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(temp.written(), bytes.len() as u64);
    let sha = hash(bytes);
    store.commit(temp, &sha).await.unwrap();
    sha
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Everything the media routes need of a store. `temps` is the directory
/// where both adapters keep temporary uploads.
async fn the_storage_contract(store: &dyn BlobStore, temps: &std::path::Path) {
    // A large object (several chunks), read whole and by ranges.
    let big: Vec<u8> = (0..1_300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = store_bytes(store, &big).await;
    assert_eq!(store.size(&sha).await.unwrap(), Some(big.len() as u64));
    assert_eq!(read_all(store, &sha, None).await, big);
    let r = ByteRange {
        first: 1000,
        last: 299_999,
    };
    assert_eq!(
        read_all(store, &sha, Some(r)).await,
        big[1000..300_000].to_vec()
    );
    let last = big.len() as u64 - 1;
    let tail = ByteRange { first: last, last };
    assert_eq!(
        read_all(store, &sha, Some(tail)).await,
        vec![big[big.len() - 1]]
    );
    assert_eq!(files_under(temps), 0, "the temporary object is gone");

    // The same bytes again: one object, and no temporary file left.
    assert_eq!(store_bytes(store, &big).await, sha);
    assert_eq!(read_all(store, &sha, None).await, big);
    assert_eq!(files_under(temps), 0);

    // An abandoned upload leaves nothing.
    let mut temp = store.create_temp().await.unwrap();
    temp.write(Bytes::from_static(b"half an upload"))
        .await
        .unwrap();
    assert_eq!(files_under(temps), 1);
    drop(temp);
    assert_eq!(files_under(temps), 0);

    // Unknown objects.
    let unknown = hash(b"never stored");
    assert_eq!(store.size(&unknown).await.unwrap(), None);
    assert!(matches!(
        store.read(&unknown, None).await.err(),
        Some(BlobError::NotFound)
    ));
    assert!(!store.delete(&unknown).await.unwrap());
    assert!(store.read("../../etc/passwd", None).await.is_err());

    // Deleting.
    let small = store_bytes(store, b"small").await;
    assert!(store.delete(&small).await.unwrap());
    assert_eq!(store.size(&small).await.unwrap(), None);
    assert!(!store.delete(&small).await.unwrap());

    // Temporary objects left by a crash are swept once old enough.
    let temp = store.create_temp().await.unwrap();
    std::mem::forget(temp);
    assert_eq!(
        store.sweep_temps(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(store.sweep_temps(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(files_under(temps), 0);
}

#[actix_web::test]
async fn the_disk_adapter_keeps_the_storage_contract() {
    let dir = scratch();
    let store = DiskBlobs::open(&dir).unwrap();
    the_storage_contract(&store, &dir.join("tmp")).await;
    // Sharded: objects/ab/cd/<sha256>.
    let sha = store_bytes(&store, b"sharded").await;
    let path = dir
        .join("objects")
        .join(&sha[0..2])
        .join(&sha[2..4])
        .join(&sha);
    assert_eq!(std::fs::read(path).unwrap(), b"sharded");
    std::fs::remove_dir_all(dir).unwrap();
}

#[actix_web::test]
async fn the_s3_adapter_keeps_the_storage_contract() {
    let server = testkit::s3::S3Server::start();
    let dir = scratch();
    let store = S3Blobs::new(
        S3Config {
            endpoint: server.endpoint(),
            bucket: "dealroom-test".into(),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
        },
        &dir,
    )
    .unwrap();
    store.create_bucket().await.unwrap();
    store.create_bucket().await.unwrap();
    the_storage_contract(&store, &dir.join("tmp")).await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_s3_adapter_refuses_a_bad_configuration() {
    let config = |endpoint: &str, bucket: &str| S3Config {
        endpoint: endpoint.into(),
        bucket: bucket.into(),
        region: "us-east-1".into(),
        access_key_id: "k".into(),
        secret_access_key: "s".into(),
    };
    let dir = scratch();
    assert!(S3Blobs::new(config("localhost:9000", "media"), &dir).is_err());
    assert!(S3Blobs::new(config("http://localhost:9000", "Bad_Bucket"), &dir).is_err());
    assert!(S3Blobs::new(config("http://localhost:9000/", "media"), &dir).is_ok());
    std::fs::remove_dir_all(dir).unwrap();
}
