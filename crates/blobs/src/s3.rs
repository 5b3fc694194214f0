//! Blobs in any S3-compatible object store, over `awc` with our own AWS
//! Signature Version 4 (`hmac` and `sha2`): path-style URLs
//! (`{endpoint}/{bucket}/media/{sha256}`), `PutObject`, ranged `GetObject`,
//! `HeadObject`, `DeleteObject`, and `CreateBucket` for setup.
//!
//! An upload is written to a local temporary file first (bounded by the disk,
//! never held in memory), then put under its hash with its SHA-256 as the
//! signed payload hash, so the store checks what it received. `awc`'s client
//! belongs to the thread's runtime: each thread keeps its own (with its
//! connection pool), and the futures stay on the thread that made them.

use crate::disk::{DiskBlobs, file_stream, own_temp};
use crate::{failed, run_blocking};
use awc::http::{Method, StatusCode};
use bytes::Bytes;
use domain::blobs::{
    BlobError, BlobResult, BlobStore, BlobStream, ByteRange, TempBlob, is_object_name,
};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

/// SHA-256 of no bytes: the payload hash of a request without a body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Where the store is and how to sign for it.
#[derive(Clone)]
pub struct S3Config {
    /// `http://host:port` (path-style requests go to `{endpoint}/{bucket}/…`).
    pub endpoint: String,
    /// The bucket, which must exist (see [`S3Blobs::create_bucket`]).
    pub bucket: String,
    /// The region requests are signed for (`us-east-1` for most local servers).
    pub region: String,
    /// The access key's id.
    pub access_key_id: String,
    /// The access key's secret.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

/// The S3-compatible adapter.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    config: S3Config,
    /// `host[:port]` of the endpoint, as the `Host` header carries it.
    host: String,
    /// Temporary uploads, on the local disk.
    local: DiskBlobs,
}

thread_local! {
    static CLIENT: awc::Client = awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(60))
        .finish();
}

fn client() -> awc::Client {
    CLIENT.with(Clone::clone)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The parts of a request that SigV4 signs.
struct Signed {
    authorization: String,
    amz_date: String,
}

impl S3Blobs {
    /// An adapter for `config`, keeping temporary uploads under `temp_dir`.
    pub fn new(config: S3Config, temp_dir: impl Into<PathBuf>) -> BlobResult<Self> {
        let endpoint = config.endpoint.trim_end_matches('/').to_owned();
        let host = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| {
                BlobError::Failed(format!(
                    "S3_ENDPOINT must be like http://host:port, not {endpoint:?}"
                ))
            })?
            .to_owned();
        let bucket_ok = (3..=63).contains(&config.bucket.len())
            && config
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(BlobError::Failed(format!(
                "S3_BUCKET must be a bucket name (3..63 of a-z, 0-9, '-', '.'), not {:?}",
                config.bucket
            )));
        }
        Ok(Self {
            config: S3Config { endpoint, ..config },
            host,
            local: DiskBlobs::open(temp_dir)?,
        })
    }

    /// The path of an object, or of the bucket with `key` empty.
    fn path(&self, key: &str) -> String {
        if key.is_empty() {
            format!("/{}", self.config.bucket)
        } else {
            format!("/{}/{key}", self.config.bucket)
        }
    }

    fn key(sha256: &str) -> BlobResult<String> {
        if !is_object_name(sha256) {
            return Err(BlobError::Failed(format!("not an object name: {sha256:?}")));
        }
        Ok(format!("media/{sha256}"))
    }

    /// AWS Signature Version 4 of a request without a query string, signing
    /// `host`, `x-amz-content-sha256` and `x-amz-date`.
    fn sign(&self, method: &Method, path: &str, payload_sha256: &str) -> Signed {
        let now = time::OffsetDateTime::now_utc();
        let date = format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let amz_date = format!(
            "{date}T{:02}{:02}{:02}Z",
            now.hour(),
            now.minute(),
            now.second()
        );
        let signed_headers = "host;x-amz-content-sha256;x-amz-date";
        let canonical = format!(
            "{method}\n{path}\n\nhost:{}\nx-amz-content-sha256:{payload_sha256}\nx-amz-date:{amz_date}\n\n{signed_headers}\n{payload_sha256}",
            self.host
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.config.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(
            format!("AWS4{}", self.config.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        for part in [self.config.region.as_str(), "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        Signed {
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.config.access_key_id
            ),
            amz_date,
        }
    }

    /// A signed request, ready for its body.
    fn request(&self, method: Method, key: &str, payload_sha256: &str) -> awc::ClientRequest {
        let path = self.path(key);
        let signed = self.sign(&method, &path, payload_sha256);
        client()
            .request(method, format!("{}{path}", self.config.endpoint))
            .no_decompress()
            .insert_header(("x-amz-date", signed.amz_date))
            .insert_header(("x-amz-content-sha256", payload_sha256.to_owned()))
            .insert_header(("authorization", signed.authorization))
    }

    /// Creates the bucket if it does not exist yet (for setup and tests).
    pub async fn create_bucket(&self) -> BlobResult<()> {
        let res = self
            .request(Method::PUT, "", EMPTY_SHA256)
            .send()
            .await
            .map_err(|e| failed("S3 CreateBucket", e))?;
        match res.status() {
            s if s.is_success() => Ok(()),
            // BucketAlreadyOwnedByYou
            StatusCode::CONFLICT => Ok(()),
            s => Err(refused("CreateBucket", s, res).await),
        }
    }

    async fn put_file(&self, key: &str, path: PathBuf, sha256: &str) -> BlobResult<()> {
        let (file, len) = run_blocking(move || {
            let file =
                std::fs::File::open(&path).map_err(|e| failed("cannot reopen an upload", e))?;
            let len = file
                .metadata()
                .map_err(|e| failed("cannot stat an upload", e))?
                .len();
            Ok((file, len))
        })
        .await?;
        let body = awc::body::SizedStream::new(
            len,
            file_stream(file, len).map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))),
        );
        let res = self
            .request(Method::PUT, key, sha256)
            .send_body(body)
            .await
            .map_err(|e| failed("S3 PutObject", e))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(refused("PutObject", res.status(), res).await)
        }
    }
}

/// The error for an answer we did not expect, with the start of its body.
async fn refused<S>(what: &str, status: StatusCode, mut res: awc::ClientResponse<S>) -> BlobError
where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = res.body().limit(4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    BlobError::Failed(format!("S3 {what} answered {status}: {}", text.trim()))
}

impl BlobStore for S3Blobs {
    fn create_temp(&self) -> LocalBoxFuture<'_, BlobResult<Box<dyn TempBlob>>> {
        Box::pin(async move { Ok(Box::new(self.local.temp().await?) as Box<dyn TempBlob>) })
    }

    fn commit<'a>(
        &'a self,
        temp: Box<dyn TempBlob>,
        sha256: &'a str,
    ) -> LocalBoxFuture<'a, BlobResult<()>> {
        Box::pin(async move {
            let key = Self::key(sha256)?;
            let mut temp = own_temp(temp)?;
            // Content-addressed: the same bytes are already there.
            if self.size(sha256).await?.is_some() {
                return Ok(());
            }
            let path = temp.finish().await?;
            let put = self.put_file(&key, path, sha256).await;
            drop(temp);
            put
        })
    }

    fn read<'a>(
        &'a self,
        sha256: &'a str,
        range: Option<ByteRange>,
    ) -> LocalBoxFuture<'a, BlobResult<BlobStream>> {
        Box::pin(async move {
            let key = Self::key(sha256)?;
            let mut req = self.request(Method::GET, &key, EMPTY_SHA256);
            if let Some(r) = range {
                req = req.insert_header(("range", format!("bytes={}-{}", r.first, r.last)));
            }
            let res = req.send().await.map_err(|e| failed("S3 GetObject", e))?;
            match res.status() {
                StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                    let stream = res.map(|chunk| chunk.map_err(|e| failed("S3 GetObject body", e)));
                    Ok(Box::pin(stream) as BlobStream)
                }
                StatusCode::NOT_FOUND => Err(BlobError::NotFound),
                s => Err(refused("GetObject", s, res).await),
            }
        })
    }

    fn size<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, BlobResult<Option<u64>>> {
        Box::pin(async move {
            let key = Self::key(sha256)?;
            let res = self
                .request(Method::HEAD, &key, EMPTY_SHA256)
                .send()
                .await
                .map_err(|e| failed("S3 HeadObject", e))?;
            match res.status() {
                StatusCode::OK => Ok(res
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())),
                StatusCode::NOT_FOUND => Ok(None),
                s => Err(BlobError::Failed(format!("S3 HeadObject answered {s}"))),
            }
        })
    }

    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, BlobResult<bool>> {
        Box::pin(async move {
            let existed = self.size(sha256).await?.is_some();
            let key = Self::key(sha256)?;
            let res = self
                .request(Method::DELETE, &key, EMPTY_SHA256)
                .send()
                .await
                .map_err(|e| failed("S3 DeleteObject", e))?;
            match res.status() {
                s if s.is_success() => Ok(existed),
                StatusCode::NOT_FOUND => Ok(false),
                s => Err(refused("DeleteObject", s, res).await),
            }
        })
    }

    fn sweep_temps(&self, age: Duration) -> LocalBoxFuture<'_, BlobResult<u64>> {
        Box::pin(self.local.sweep(age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of AWS's "Signature Calculations for the Authorization
    /// Header" (GET Object), with its documented signing key and date: the
    /// key derivation and hex encoding must give the documented signature.
    #[test]
    fn the_signing_key_chain_matches_the_sigv4_derivation() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let mut key = hmac(format!("AWS4{secret}").as_bytes(), b"20130524");
        for part in ["us-east-1", "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let canonical = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(
            hex(&hmac(&key, to_sign.as_bytes())),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }
}
