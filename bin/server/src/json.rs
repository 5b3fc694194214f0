//! The page of messages written as JSON by hand.
//!
//! `GET /sessions/{id}/messages` is the hottest response (`make bench`'s
//! (b)), and serde's derived serialisation of its 50 messages was about a
//! tenth of the server's CPU there: an escape scan of every id, role and
//! timestamp and a map entry per field. This writes the same bytes as
//! serde_json writes for [`Envelope`](crate::reply::Envelope)`<Page<Message>>`
//! (the tests compare the two for every shape of message), copying what
//! cannot need escaping and scanning only the texts.

use domain::{Media, Message, Page};
use uuid::Uuid;

/// `{"status":"success","message":…,"data":{"items":[…],"nextCursor":…}}`.
pub fn message_page(out: &mut Vec<u8>, message: &str, page: &Page<Message>) {
    out.extend_from_slice(br#"{"status":"success","message":"#);
    string(out, message);
    out.extend_from_slice(br#","data":{"items":["#);
    for (i, m) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        self::message(out, m);
    }
    out.extend_from_slice(br#"],"nextCursor":"#);
    opt_string(out, page.next_cursor.as_deref());
    out.extend_from_slice(b"}}");
}

/// One message, as serde writes [`Message`].
fn message(out: &mut Vec<u8>, m: &Message) {
    out.extend_from_slice(br#"{"id":"#);
    uuid(out, &m.id.0);
    out.extend_from_slice(br#","sessionId":"#);
    uuid(out, &m.session_id.0);
    out.extend_from_slice(br#","senderId":"#);
    match &m.sender_id {
        Some(id) => uuid(out, &id.0),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","role":""#);
    out.extend_from_slice(m.role.as_str().as_bytes());
    out.extend_from_slice(br#"","type":""#);
    out.extend_from_slice(m.kind.as_str().as_bytes());
    out.extend_from_slice(br#"","content":"#);
    opt_string(out, m.content.as_deref());
    out.extend_from_slice(br#","media":"#);
    match &m.media {
        Some(media) => self::media(out, media),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","clientMessageId":"#);
    opt_string(out, m.client_message_id.as_deref());
    out.extend_from_slice(br#","status":""#);
    out.extend_from_slice(m.status.as_str().as_bytes());
    out.extend_from_slice(br#"","createdAt":""#);
    domain::timefmt::append(&m.created_at, out);
    out.extend_from_slice(br#"","completedAt":"#);
    match &m.completed_at {
        Some(at) => {
            out.push(b'"');
            domain::timefmt::append(at, out);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// A message's medium, as serde writes [`Media`].
fn media(out: &mut Vec<u8>, m: &Media) {
    out.extend_from_slice(br#"{"id":"#);
    uuid(out, &m.id.0);
    out.extend_from_slice(br#","mimeType":"#);
    string(out, &m.mime_type);
    out.extend_from_slice(br#","sizeBytes":"#);
    out.extend_from_slice(m.size_bytes.to_string().as_bytes());
    out.extend_from_slice(br#","fileName":"#);
    opt_string(out, m.file_name.as_deref());
    out.extend_from_slice(br#","sha256":"#);
    string(out, &m.sha256);
    out.extend_from_slice(br#","url":"#);
    string(out, &m.url);
    out.extend_from_slice(br#","createdAt":""#);
    domain::timefmt::append(&m.created_at, out);
    out.extend_from_slice(br#""}"#);
}

/// A quoted uuid: hex and hyphens, nothing to escape.
fn uuid(out: &mut Vec<u8>, id: &Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.as_hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string escaped as serde_json escapes it: `"` and `\`, and the
/// control characters below U+0020 (`\b \t \n \f \r` short, the others as
/// `\u00XX`); everything else as it is, in runs.
fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Envelope;
    use domain::{
        ChatSessionId, MediaId, MessageId, MessageKind, MessageRole, MessageStatus, UserId,
    };
    use time::macros::datetime;

    fn text(content: &str) -> Message {
        Message {
            id: MessageId(Uuid::from_u128(0x0190_c1a2_7b7e_7c4e_9a51_3b0f_6c2d_9e10)),
            session_id: ChatSessionId(Uuid::from_u128(7)),
            seq: 3,
            sender_id: Some(UserId(Uuid::from_u128(u128::MAX))),
            role: MessageRole::Assistant,
            kind: MessageKind::Text,
            content: Some(content.to_owned()),
            media: None,
            client_message_id: Some("c-1".to_owned()),
            status: MessageStatus::Complete,
            created_at: datetime!(2026-11-30 10:00:00.123 UTC),
            completed_at: Some(datetime!(2026-11-30 10:00:00.123 UTC)),
        }
    }

    fn serde_page(page: Page<Message>) -> (Vec<u8>, Page<Message>) {
        let envelope = Envelope {
            status: "success",
            message: "Messages",
            data: page,
        };
        let bytes = serde_json::to_vec(&envelope).unwrap_or_default();
        (bytes, envelope.data)
    }

    fn assert_same(page: Page<Message>) {
        let (expected, page) = serde_page(page);
        let mut out = Vec::new();
        message_page(&mut out, "Messages", &page);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn the_hand_written_page_is_byte_for_byte_what_serde_writes() {
        // Every character class a text can hold: quotes, backslashes, each
        // control character, DEL, non-ASCII, and a `<script>`.
        let mut awkward: String = (0u8..0x20).map(char::from).collect();
        awkward.push_str("\"quoted\" \\back\\ \u{7f} é 💬 </script><script>");
        let mut sender_gone = text("a");
        sender_gone.sender_id = None;
        sender_gone.client_message_id = None;
        sender_gone.role = MessageRole::System;
        let mut media = text("caption");
        media.kind = MessageKind::Media;
        media.content = None;
        media.role = MessageRole::User;
        media.media = Some(Media {
            id: MediaId(Uuid::from_u128(9)),
            owner_id: Some(UserId(Uuid::from_u128(1))),
            mime_type: "image/png".to_owned(),
            size_bytes: 1_048_576,
            file_name: Some("quote \"v2\".png".to_owned()),
            sha256: "ab".repeat(32),
            url: "/api/v1/media/x?expires=1&sig=a-b_c".to_owned(),
            created_at: datetime!(1999-01-02 03:04:05 UTC),
        });
        let mut no_file_name = media.clone();
        if let Some(m) = no_file_name.media.as_mut() {
            m.file_name = None;
        }
        // A streamed reply while it streams, and once it ended.
        let mut streaming = text("so far");
        streaming.status = MessageStatus::Streaming;
        streaming.completed_at = None;
        let mut incomplete = text("cut short");
        incomplete.status = MessageStatus::Incomplete;
        incomplete.completed_at = Some(datetime!(2026-11-30 10:01:00 UTC));
        assert_same(Page {
            items: vec![
                text(&awkward),
                sender_gone,
                media,
                no_file_name,
                text(""),
                streaming,
                incomplete,
            ],
            next_cursor: Some("abc_-".to_owned()),
        });
        assert_same(Page {
            items: vec![text("only")],
            next_cursor: None,
        });
        assert_same(Page {
            items: vec![],
            next_cursor: None,
        });
    }
}
