#![warn(missing_docs)]
#![doc = include_str!("../README.md")]

use domain::blobs::is_object_name;
use domain::media::{MediaUrls, now};
use domain::ports::{MediaStore, NewMedia, ObjectClaim};
use domain::timefmt::Timestamp;
use domain::*;
use std::sync::Arc;
use std::time::Duration;

const MEDIA: &str = "Media";

/// The types an upload may be (contract §3.5), as stored and served.
pub const ALLOWED_TYPES: [&str; 11] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "audio/mpeg",
    "audio/ogg",
    "audio/mp4",
    "video/mp4",
    "video/webm",
    "video/quicktime",
];

/// How many leading bytes the type is sniffed from: every allowed type's
/// signature sits well inside them.
pub const SNIFF_BYTES: usize = 4096;

/// The longest file name kept, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = domain::bounds::file_name::MAX;

/// The upload's type, from its first bytes (up to [`SNIFF_BYTES`]); anything
/// not on the allowed list, an empty file included, is refused.
pub fn sniff(head: &[u8]) -> Result<&'static str, DomainError> {
    if head.is_empty() {
        return Err(DomainError::UnsupportedMediaType("The file is empty"));
    }
    let found = infer::get(head).map(|t| t.mime_type());
    let canonical = match found {
        // infer names MPEG-4 audio by its file extension.
        Some("audio/m4a" | "audio/x-m4a") => Some("audio/mp4"),
        // Opus is an Ogg stream.
        Some("audio/opus") => Some("audio/ogg"),
        Some(other) => ALLOWED_TYPES.iter().copied().find(|t| *t == other),
        None => None,
    };
    canonical.ok_or(DomainError::UnsupportedMediaType(
        "This type of file is not allowed: PNG, JPEG, GIF, WebP, PDF, MP3, Ogg, MPEG-4 audio, MP4, WebM or QuickTime only",
    ))
}

/// Images, audio and video are shown inline; anything else is downloaded.
pub fn is_inline(mime_type: &str) -> bool {
    ["image/", "audio/", "video/"]
        .iter()
        .any(|p| mime_type.starts_with(p))
}

/// The client's file name reduced to a safe base name: the last path
/// component (either slash), without control characters, quotes or leading
/// dots, trimmed, at most [`MAX_FILE_NAME_BYTES`] bytes (a long name keeps its
/// extension); `None` if nothing is left. It is only ever shown back, never
/// used to name anything in storage.
pub fn safe_file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\u{2028}' | '\u{2029}'))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return None;
    }
    if cleaned.len() <= MAX_FILE_NAME_BYTES {
        return Some(cleaned.to_owned());
    }
    // Keep a short extension, cut the stem at a character boundary.
    let ext = cleaned
        .rfind('.')
        .map(|i| &cleaned[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let budget = MAX_FILE_NAME_BYTES - ext.len();
    let stem = &cleaned[..cleaned.len() - ext.len()];
    let mut cut = budget.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let name = format!("{}{ext}", stem[..cut].trim_end());
    (!name.is_empty()).then_some(name)
}

/// An upload whose bytes sit in temporary storage, hashed and sniffed.
#[derive(Clone, Debug)]
pub struct Upload {
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Their length.
    pub size_bytes: u64,
    /// The type sniffed from the first bytes ([`sniff`]).
    pub mime_type: &'static str,
    /// The client's file name as sent.
    pub file_name: Option<String>,
}

/// What one run of the collector did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Uploads no message carried, past `MEDIA_ORPHAN_TTL`.
    pub orphan_rows: u64,
    /// Stored objects no row referred to any more.
    pub objects: u64,
    /// Temporary objects left behind by a crash.
    pub temps: u64,
}

/// Uploads and downloads: who may read what, and what is kept.
pub struct MediaService {
    store: Arc<dyn MediaStore>,
    urls: MediaUrls,
    max_bytes: u64,
    orphan_ttl: Duration,
}

impl MediaService {
    /// The service on `store`; `urls` signs links, uploads past `max_bytes` are refused, and an upload no message carries is collected after `orphan_ttl`.
    pub fn new(
        store: Arc<dyn MediaStore>,
        urls: MediaUrls,
        max_bytes: u64,
        orphan_ttl: Duration,
    ) -> Self {
        Self {
            store,
            urls,
            max_bytes,
            orphan_ttl,
        }
    }

    /// The largest upload, in bytes (`MEDIA_MAX_BYTES`).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The error for an upload past [`MediaService::max_bytes`].
    pub fn too_large(&self) -> DomainError {
        DomainError::PayloadTooLarge(format!(
            "The file is larger than the limit of {} bytes",
            self.max_bytes
        ))
    }

    /// What signs and checks media links.
    pub fn urls(&self) -> &MediaUrls {
        &self.urls
    }

    /// `POST /media`, once the bytes are hashed and sniffed: the row, owned by
    /// the actor. The caller then commits the bytes under their hash.
    pub fn create(&self, actor: &Actor, upload: Upload) -> Result<Media, DomainError> {
        if upload.size_bytes == 0 {
            return Err(DomainError::UnsupportedMediaType("The file is empty"));
        }
        if upload.size_bytes > self.max_bytes {
            return Err(self.too_large());
        }
        if !is_object_name(&upload.sha256) || !ALLOWED_TYPES.contains(&upload.mime_type) {
            return Err(DomainError::Internal(
                "an upload without a valid hash or type".into(),
            ));
        }
        let row = NewMedia {
            id: MediaId::new(),
            owner_id: actor.user_id,
            mime_type: upload.mime_type.to_owned(),
            size_bytes: i64::try_from(upload.size_bytes).unwrap_or(i64::MAX),
            file_name: upload.file_name.as_deref().and_then(safe_file_name),
            sha256: upload.sha256,
        };
        let mut media = match self.store.insert_media(&row) {
            Ok(m) => m,
            // The account was deleted while it uploaded.
            Err(StoreError::MissingParent(Entity::User)) => {
                return Err(DomainError::SessionRevoked);
            }
            Err(e) => return Err(e.into()),
        };
        self.urls.sign(&mut media);
        Ok(media)
    }

    /// Forgets an upload whose bytes could not be stored.
    pub fn abandon(&self, id: MediaId) -> Result<(), DomainError> {
        self.store.delete_media(id)?;
        Ok(())
    }

    /// `GET /media/{id}` with a token: the owner, and anyone who may read a
    /// message carrying it (agents and admins read every chat).
    pub fn get(&self, actor: &Actor, id: MediaId) -> Result<Media, DomainError> {
        let mut media = self.store.media(id)?.ok_or(DomainError::NotFound(MEDIA))?;
        // `can_read_chat` of some session whose message carries it: agents and
        // admins read every session, anyone else their own.
        let readable = media.owner_id == Some(actor.user_id)
            || self
                .store
                .media_carried(id, (!actor.reads_any_chat()).then_some(actor.user_id))?;
        if !readable {
            return Err(DomainError::NotFound(MEDIA));
        }
        self.urls.sign(&mut media);
        Ok(media)
    }

    /// `GET /media/{id}?expires=…&sig=…`: anyone holding a link that is
    /// this server's and not expired; a bad one is `NotFound`, like no medium.
    pub fn get_signed(&self, id: MediaId, expires: i64, sig: &str) -> Result<Media, DomainError> {
        if !self.urls.verify(id, expires, sig, now()) {
            return Err(DomainError::NotFound(MEDIA));
        }
        let mut media = self.store.media(id)?.ok_or(DomainError::NotFound(MEDIA))?;
        self.urls.sign(&mut media);
        Ok(media)
    }

    // ------------------------------------------------------------ the collector

    /// Deletes the uploads that no message carries and that are older than
    /// `MEDIA_ORPHAN_TTL`, in batches; how many.
    pub fn delete_orphans(&self) -> Result<u64, DomainError> {
        let ttl = time::Duration::try_from(self.orphan_ttl).unwrap_or(time::Duration::MAX);
        let before = Timestamp::now_utc()
            .checked_sub(ttl)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let mut total = 0;
        loop {
            let n = self.store.delete_orphan_media(before, 500)?;
            total += n;
            if n < 500 {
                return Ok(total);
            }
        }
    }

    /// Hashes whose rows were deleted, to check.
    pub fn gone_objects(&self, limit: i64) -> Result<Vec<String>, DomainError> {
        Ok(self.store.gone_objects(limit)?)
    }

    /// The claim to delete `sha256`'s object if no row refers to it.
    pub fn claim_unreferenced(
        &self,
        sha256: &str,
    ) -> Result<Option<Box<dyn ObjectClaim>>, DomainError> {
        Ok(self.store.claim_unreferenced(sha256)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_reduced_to_a_safe_base_name() {
        assert_eq!(safe_file_name("cat.png").as_deref(), Some("cat.png"));
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            safe_file_name("C:\\Users\\ann\\quote.pdf").as_deref(),
            Some("quote.pdf")
        );
        assert_eq!(safe_file_name("a\0b\r\n.png").as_deref(), Some("ab.png"));
        assert_eq!(safe_file_name("..").as_deref(), None);
        assert_eq!(safe_file_name("../").as_deref(), None);
        assert_eq!(safe_file_name("  ").as_deref(), None);
        assert_eq!(safe_file_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(
            safe_file_name("say \"hi\".png").as_deref(),
            Some("say hi.png")
        );
        let long = format!("{}.jpeg", "é".repeat(600));
        let name = safe_file_name(&long).unwrap_or_default();
        assert!(name.len() <= MAX_FILE_NAME_BYTES, "{}", name.len());
        assert!(name.ends_with(".jpeg"));
    }

    #[test]
    fn types_come_from_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png).ok(), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n").ok(), Some("application/pdf"));
        assert!(sniff(b"").is_err());
        assert!(sniff(b"<!doctype html><html></html>").is_err());
        assert!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>").is_err());
        assert!(sniff(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0").is_err());
        assert!(sniff(b"MZ\x90\0\x03\0\0\0").is_err());
        assert!(is_inline("image/png") && is_inline("video/webm") && !is_inline("application/pdf"));
    }
}
