//! Media plumbing between the services and blob storage: opening the store
//! `MEDIA_STORAGE` names, and running the collector (once for `dealroom
//! gc-media`, periodically in the server). The collector's rules are
//! `media::MediaService`'s and `store`'s; this only sequences the database
//! steps (on the blocking pool) with the storage steps (async, on this thread).

use crate::reply::blocking;
use crate::settings::{MediaStorage, Settings};
use crate::state::AppState;
use blobs::{DiskBlobs, S3Blobs, S3Config};
use domain::DomainError;
use domain::blobs::BlobStore;
use media::Collected;
use std::sync::Arc;
use std::time::Duration;

/// Temporary uploads older than this are leftovers of a crash.
const TEMP_AGE: Duration = Duration::from_secs(6 * 3600);

/// Hashes checked per database round trip.
const BATCH: i64 = 200;

/// [`blocking`], with the domain error.
async fn db<T, F>(f: F) -> Result<T, DomainError>
where
    F: FnOnce() -> Result<T, DomainError> + Send + 'static,
    T: Send + 'static,
{
    blocking(f).await.map_err(|e| e.0)
}

/// The blob store of the settings.
pub fn open_blobs(settings: &Settings) -> Result<Arc<dyn BlobStore>, DomainError> {
    let bad = |e: domain::blobs::BlobError| DomainError::Internal(format!("media storage: {e}"));
    Ok(match settings.media_storage {
        MediaStorage::Disk => Arc::new(DiskBlobs::open(&settings.media_dir).map_err(bad)?),
        MediaStorage::S3 => Arc::new(
            S3Blobs::new(
                S3Config {
                    endpoint: settings.s3_endpoint.clone(),
                    bucket: settings.s3_bucket.clone(),
                    region: settings.s3_region.clone(),
                    access_key_id: settings.s3_access_key_id.clone(),
                    secret_access_key: settings.s3_secret_access_key.expose().to_owned(),
                },
                &settings.media_dir,
            )
            .map_err(bad)?,
        ),
    })
}

/// One run of the collector: orphan uploads' rows, then every stored object
/// no row refers to any more, then temporary uploads left by a crash.
pub async fn collect(state: &actix_web::web::Data<AppState>) -> Result<Collected, DomainError> {
    let mut done = Collected::default();
    let s = state.clone();
    done.orphan_rows = db(move || s.media.delete_orphans()).await?;
    // Hashes whose check failed stay listed; skip them for the rest of this run.
    let mut skipped = 0;
    loop {
        let s = state.clone();
        let hashes = db(move || s.media.gone_objects(BATCH + skipped)).await?;
        let todo: Vec<String> = hashes
            .into_iter()
            .skip(usize::try_from(skipped).unwrap_or(0))
            .collect();
        if todo.is_empty() {
            break;
        }
        for sha in todo {
            let s = state.clone();
            let h = sha.clone();
            let Some(claim) = db(move || s.media.claim_unreferenced(&h)).await? else {
                continue;
            };
            match state.blobs.delete(&sha).await {
                Ok(deleted) => {
                    db(move || claim.release().map_err(DomainError::from)).await?;
                    done.objects += u64::from(deleted);
                }
                Err(e) => {
                    // Dropping the claim unlocks the hash and keeps it listed.
                    log::warn!("media collector: cannot delete object {sha}: {e}");
                    drop(claim);
                    skipped += 1;
                }
            }
        }
    }
    done.temps = state
        .blobs
        .sweep_temps(TEMP_AGE)
        .await
        .map_err(|e| DomainError::Internal(format!("media storage: {e}")))?;
    Ok(done)
}

/// Runs the collector every `MEDIA_GC_INTERVAL`, first one interval after start.
pub async fn collect_periodically(state: actix_web::web::Data<AppState>) {
    let every = state.settings.media_gc_interval;
    loop {
        actix_web::rt::time::sleep(every).await;
        match collect(&state).await {
            Ok(c) if c == Collected::default() => {}
            Ok(c) => log::info!(
                "media collector removed {} orphan uploads, {} stored objects, {} temporary files",
                c.orphan_rows,
                c.objects,
                c.temps
            ),
            Err(e) => log::warn!("media collector failed: {e:?}"),
        }
    }
}
