//! `/media`: uploads (streamed, hashed and sniffed on the way to storage) and
//! downloads (streamed from storage, with `ETag`, `Range` and the headers that
//! keep a browser from running what it gets).

use super::{Id, get, post};
use crate::bodies::MediaData;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extract::Caller;
use crate::reply::{Envelope, blocking, created};
use crate::state::AppState;
use actix_multipart::{Multipart, MultipartError};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use domain::blobs::{BlobError, ByteRange, TempBlob};
use domain::{DomainError, FieldError, Media, MediaId};
use futures_util::{Stream, StreamExt};
use media::{SNIFF_BYTES, Upload, is_inline, sniff};
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::task::{Context, Poll};

type Res = Result<HttpResponse, ApiError>;

/// Room for the multipart framing around the file: boundaries, part
/// headers, and small fields beside `file`. A body longer than the file limit
/// plus this is refused on its `Content-Length` alone, and cut off at it when
/// it has none.
const FRAMING_BYTES: u64 = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/media").route(post(upload)))
        .service(web::resource("/media/{id}").route(get(download)));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(upload, download))]
pub struct Doc;

/// The multipart body of an upload, for the document (other parts are read
/// and ignored).
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "a schema only: the handler streams the part")]
pub struct UploadForm {
    /// The file. Its type is sniffed from its bytes (the part's
    /// `Content-Type` and the file name are ignored); its `filename` is kept,
    /// reduced to a safe base name, for display only.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A body of bytes, for the document: `type: string, format: binary`.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .description(Some("The file's bytes, of its stored type"))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// Upload a file.
///
/// `multipart/form-data` with exactly one part named `file` (other parts are
/// ignored). Allowed: PNG, JPEG, GIF, WebP, PDF, MP3, Ogg, MPEG-4 audio, MP4,
/// WebM and QuickTime, decided from the bytes; anything else, an empty file
/// too, is `415`. Larger than `MEDIA_MAX_BYTES` is `413`, refused while
/// streaming. The answer's `url` is a signed link to the bytes.
#[utoipa::path(post, path = "/api/v1/media", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Media uploaded", body = Envelope<MediaData>),
        (status = 400, description = "`VALIDATION_ERROR`: no `file` part, more than one, or a malformed multipart body", body = ErrorBody),
        (status = 408, description = "`REQUEST_TIMEOUT`: the body took longer than `MEDIA_UPLOAD_TIMEOUT`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: larger than `MEDIA_MAX_BYTES`", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`: not `multipart/form-data`, or a file type that is not allowed (an empty file too)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn upload(
    state: web::Data<AppState>,
    Caller(actor): Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Res {
    // The upload's own bound replaces the app's `BODY_TIMEOUT`.
    crate::timeouts::allow_body_for(&req, state.settings.media_upload_timeout);
    let max = state.media.max_bytes();
    let limit = max.saturating_add(FRAMING_BYTES);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError(state.media.too_large()));
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        return Err(ApiError(DomainError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data",
        )));
    }
    // actix-multipart's streaming API has no size limit of its own (its
    // limits are MultipartForm's): this stream is the body limit.
    let body = Limited {
        inner: payload,
        seen: 0,
        limit,
    };
    let form = Multipart::new(req.headers(), body);
    let within = state.settings.media_upload_timeout;
    let staged = match actix_web::rt::time::timeout(within, read_form(&state, form)).await {
        Ok(staged) => staged?,
        // The temporary object went with the abandoned future.
        Err(_) => return Ok(ErrorCode::RequestTimeout.response()),
    };
    let Staged { temp, upload } = staged;
    let s = state.clone();
    let media = blocking(move || s.media.create(&actor, upload)).await?;
    if let Err(e) = state.blobs.commit(temp, &media.sha256).await {
        let (s, id) = (state.clone(), media.id);
        let _ = blocking(move || s.media.abandon(id)).await;
        return Err(storage_failed(e));
    }
    Ok(created("Media uploaded", MediaData { media }))
}

/// Reads the form: its one `file` part into a temporary object, any other
/// part drained.
async fn read_form(state: &AppState, mut form: Multipart) -> Result<Staged, ApiError> {
    let mut staged: Option<Staged> = None;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(|e| multipart_error(state, e))?;
        if part.name() == Some("file") {
            if staged.is_some() {
                return Err(invalid("file", "must be sent once"));
            }
            staged = Some(receive(state, &mut part).await?);
        } else {
            while let Some(chunk) = part.next().await {
                chunk.map_err(|e| multipart_error(state, e))?;
            }
        }
    }
    staged.ok_or_else(|| invalid("file", "is required"))
}

/// A file part, written to a temporary object, hashed, counted and sniffed.
struct Staged {
    temp: Box<dyn TempBlob>,
    upload: Upload,
}

async fn receive(state: &AppState, part: &mut actix_multipart::Field) -> Result<Staged, ApiError> {
    let max = state.media.max_bytes();
    let file_name = part.content_disposition().and_then(|cd| {
        cd.get_filename_ext()
            .map(|v| String::from_utf8_lossy(&v.value).into_owned())
            .or_else(|| cd.get_filename().map(str::to_owned))
    });
    let mut temp = state.blobs.create_temp().await.map_err(storage_failed)?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
    let mut mime = None;
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|e| multipart_error(state, e))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(ApiError(state.media.too_large()));
        }
        if mime.is_none() {
            let take = chunk.len().min(SNIFF_BYTES - head.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() == SNIFF_BYTES {
                mime = Some(sniff(&head)?);
            }
        }
        hash.update(&chunk);
        temp.write(chunk).await.map_err(storage_failed)?;
    }
    let mime_type = match mime {
        Some(m) => m,
        None => sniff(&head)?,
    };
    let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Staged {
        temp,
        upload: Upload {
            sha256,
            size_bytes: size,
            mime_type,
            file_name,
        },
    })
}

/// The request body, cut off with `Overflow` past `limit` bytes.
struct Limited {
    inner: web::Payload,
    seen: u64,
    limit: u64,
}

impl Stream for Limited {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.limit {
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                } else {
                    Poll::Ready(Some(Ok(chunk)))
                }
            }
            other => other,
        }
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError(DomainError::Validation(vec![FieldError::new(
        field, message,
    )]))
}

fn multipart_error(state: &AppState, e: MultipartError) -> ApiError {
    match e {
        MultipartError::Payload(PayloadError::Overflow) => ApiError(state.media.too_large()),
        MultipartError::ContentTypeIncompatible | MultipartError::ContentTypeParse => ApiError(
            DomainError::UnsupportedMediaType("Content-Type must be multipart/form-data"),
        ),
        other => invalid("body", &format!("malformed multipart body: {other}")),
    }
}

fn storage_failed(e: BlobError) -> ApiError {
    ApiError(DomainError::Internal(format!("media storage: {e}")))
}

/// Download a file.
///
/// With a bearer token: its owner, and anyone who may read a message carrying
/// it. Without one: a signed `url` as `POST /media` and every `Media` hand it
/// out (`expires` and `sig`); a tampered or expired one is `404`. The bytes
/// come with their stored type, `ETag` (the SHA-256), `Cache-Control:
/// private`, `X-Content-Type-Options: nosniff`, `Content-Security-Policy:
/// sandbox; default-src 'none'`, and `Content-Disposition` (`inline` for
/// images, audio and video, `attachment` otherwise, with the safe file name).
/// One `Range` of bytes gives `206`; `If-None-Match` with the `ETag` gives `304`.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "media",
    params(
        ("expires" = Option<String>, Query, description = "Of a signed `url` (opaque: copy the `url` whole): when it expires"),
        ("sig" = Option<String>, Query, description = "Of a signed `url` (opaque: copy the `url` whole): its signature"),
        ("Range" = Option<String>, Header, description = "One range of bytes, e.g. `bytes=0-1023`, `bytes=1024-` or `bytes=-500`"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` seen before: `304` if it still matches"),
        ("If-Range" = Option<String>, Header, description = "Honour `Range` only if the `ETag` still matches"),
    ),
    responses(
        (status = 200, description = "The bytes, of the stored type", content_type = "application/octet-stream", body = Binary,
            headers(
                ("Content-Type" = String, description = "The stored type, sniffed at upload"),
                ("Content-Length" = u64, description = "Bytes in the body"),
                ("ETag" = String, description = "The quoted SHA-256 of the bytes"),
                ("Content-Disposition" = String, description = "`inline` (images, audio, video) or `attachment`, with the file name"),
                ("Cache-Control" = String, description = "`private`"),
                ("Accept-Ranges" = String, description = "`bytes`"),
                ("X-Content-Type-Options" = String, description = "`nosniff`"),
                ("Content-Security-Policy" = String, description = "`sandbox; default-src 'none'`"),
            )),
        (status = 206, description = "One range of the bytes", content_type = "application/octet-stream", body = Binary,
            headers(
                ("Content-Range" = String, description = "`bytes first-last/size`"),
                ("Content-Length" = u64, description = "Bytes in the range"),
                ("ETag" = String, description = "The quoted SHA-256 of the bytes"),
            )),
        (status = 304, description = "Not modified: `If-None-Match` matched the `ETag`"),
        (status = 401, description = "`UNAUTHENTICATED` (and the other token errors): no signed `url` and no valid token", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no such medium, one the caller may not read, or a tampered or expired signed `url`", body = ErrorBody),
        (status = 416, description = "`RANGE_NOT_SATISFIABLE`: the range starts past the end; `Content-Range: bytes */size`", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
async fn download(state: web::Data<AppState>, req: HttpRequest, id: Id) -> Res {
    let id = MediaId(id.into_inner());
    let s = state.clone();
    let media = match signed_query(req.query_string()) {
        Some((expires, sig)) => blocking(move || s.media.get_signed(id, expires, &sig)).await?,
        None => {
            let Caller(actor) = Caller::from_request(&req, &mut Payload::None).await?;
            blocking(move || s.media.get(&actor, id)).await?
        }
    };
    serve(&state, &req, &media).await
}

/// `expires` and `sig` of a signed link, if the query has a `sig`; an
/// unreadable `expires` is one that has passed.
fn signed_query(query: &str) -> Option<(i64, String)> {
    let mut expires = None;
    let mut sig = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", v)) => expires = Some(v.parse().unwrap_or(i64::MIN)),
            Some(("sig", v)) => sig = Some(v.to_owned()),
            _ => {}
        }
    }
    sig.map(|s| (expires.unwrap_or(i64::MIN), s))
}

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(ByteRange),
    Unsatisfiable,
}

/// One `bytes=` range; several ranges, or a header we do not understand,
/// get the whole object (RFC 9110 §14.2 lets a server ignore `Range`).
fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => Wanted::Unsatisfiable,
            Some(n) if size == 0 => {
                let _ = n;
                Wanted::Unsatisfiable
            }
            Some(n) => Wanted::Part(ByteRange {
                first: size.saturating_sub(n),
                last: size - 1,
            }),
            None => Wanted::Whole,
        },
        (false, _) => {
            let Some(a) = parse(first) else {
                return Wanted::Whole;
            };
            let b = if last.is_empty() {
                Some(u64::MAX)
            } else {
                parse(last)
            };
            match b {
                None => Wanted::Whole,
                Some(b) if b < a => Wanted::Whole,
                Some(_) if a >= size => Wanted::Unsatisfiable,
                Some(b) => Wanted::Part(ByteRange {
                    first: a,
                    last: b.min(size - 1),
                }),
            }
        }
        (true, true) => Wanted::Whole,
    }
}

/// True if an `If-None-Match` list names `etag` (weakly) or is `*`.
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// `inline` or `attachment`, with the name as ASCII and as UTF-8 (RFC 6266).
fn disposition(media: &Media) -> String {
    let kind = if is_inline(&media.mime_type) {
        "inline"
    } else {
        "attachment"
    };
    let Some(name) = &media.file_name else {
        return kind.to_owned();
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn serve(state: &AppState, req: &HttpRequest, media: &Media) -> Res {
    let size = u64::try_from(media.size_bytes).unwrap_or(0);
    let etag = format!("\"{}\"", media.sha256);
    let header_str = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let common = |status: StatusCode| {
        let mut res = HttpResponse::build(status);
        res.insert_header((header::ETAG, etag.clone()))
            .insert_header((header::CACHE_CONTROL, "private"))
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'",
            ))
            // A signed url is its own authorization: other origins may embed it.
            .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"));
        res
    };
    if header_str(header::IF_NONE_MATCH).is_some_and(|l| etag_matches(&l, &etag)) {
        return Ok(common(StatusCode::NOT_MODIFIED).finish());
    }
    let range_allowed = header_str(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let want = if range_allowed {
        wanted(header_str(header::RANGE).as_deref(), size)
    } else {
        Wanted::Whole
    };
    let (mut res, range, len) = match want {
        Wanted::Unsatisfiable => {
            let mut res = ErrorCode::RangeNotSatisfiable.response();
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            );
            return Ok(res);
        }
        Wanted::Whole => (common(StatusCode::OK), None, size),
        Wanted::Part(r) => {
            let mut res = common(StatusCode::PARTIAL_CONTENT);
            res.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.first, r.last),
            ));
            (res, Some(r), r.len())
        }
    };
    res.insert_header((header::CONTENT_TYPE, media.mime_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, disposition(media)))
        // Already compressed, or to be served byte-exact for ranges: never
        // let the compression middleware touch it.
        .insert_header((header::CONTENT_ENCODING, "identity"));
    if req.method() == Method::HEAD {
        // The length of what GET would send; actix writes no body for HEAD.
        let nothing = futures_util::stream::empty::<Result<Bytes, actix_web::Error>>();
        return Ok(res.no_chunking(len).streaming(nothing));
    }
    let stream = state
        .blobs
        .read(&media.sha256, range)
        .await
        .map_err(storage_failed)?;
    let id = media.id;
    let body = stream.map(move |chunk| {
        chunk.map_err(|e| {
            log::error!("media {id}: reading from storage failed mid-response: {e}");
            actix_web::error::ErrorInternalServerError("storage failed")
        })
    });
    Ok(res.no_chunking(len).streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let part = |first, last| Wanted::Part(ByteRange { first, last });
        assert_eq!(wanted(None, 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-9"), 100), part(0, 9));
        assert_eq!(wanted(Some("bytes=90-"), 100), part(90, 99));
        assert_eq!(wanted(Some("bytes=90-1000"), 100), part(90, 99));
        assert_eq!(wanted(Some("bytes=-10"), 100), part(90, 99));
        assert_eq!(wanted(Some("bytes=-1000"), 100), part(0, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=5-1"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("items=0-1"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=x-1"), 100), Wanted::Whole);
    }

    #[test]
    fn etags_match_weakly_and_in_lists() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }

    #[test]
    fn signed_queries_need_a_sig() {
        assert_eq!(signed_query(""), None);
        assert_eq!(signed_query("expires=5"), None);
        assert_eq!(signed_query("expires=5&sig=abc"), Some((5, "abc".into())));
        assert_eq!(
            signed_query("sig=abc&expires=soon"),
            Some((i64::MIN, "abc".into()))
        );
    }
}
