//! Live events of a chat session (contract §3.8): what a write tells the other
//! instances through PostgreSQL `NOTIFY`, and the port that listens.
//!
//! A notice is small (well under `NOTIFY`'s 8000 bytes): the session, the
//! session's event position, the kind and the id of what changed. A listener
//! reads the rest from the database.

use crate::ids::{ChatSessionId, MessageId, UserId};
use crate::ports::StoreResult;
use uuid::Uuid;

/// What happened in a chat session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A message was posted.
    MessageCreated,
    /// A message was deleted.
    MessageDeleted,
    /// The session was renamed, or its counts moved.
    SessionUpdated,
    /// The session is gone: its streams end.
    SessionDeleted,
    /// The session's vendor was recorded, changed or removed.
    VendorChanged,
    /// A seller was added or changed.
    SellerChanged,
    /// A seller was removed.
    SellerDeleted,
    /// A delta was appended to a streamed message (never a webhook).
    MessageDelta,
    /// A streamed message ended: completed by its sender, or incomplete
    /// after the idle timeout.
    MessageCompleted,
    /// A streamed message as it is now, sent to a live stream that resumes
    /// (never notified).
    MessageSnapshot,
}

impl EventKind {
    const ALL: [EventKind; 10] = [
        Self::MessageCreated,
        Self::MessageDeleted,
        Self::SessionUpdated,
        Self::SessionDeleted,
        Self::VendorChanged,
        Self::SellerChanged,
        Self::SellerDeleted,
        Self::MessageDelta,
        Self::MessageCompleted,
        Self::MessageSnapshot,
    ];

    /// The SSE event name.
    pub fn name(self) -> &'static str {
        match self {
            Self::MessageCreated => "message.created",
            Self::MessageDeleted => "message.deleted",
            Self::SessionUpdated => "session.updated",
            Self::SessionDeleted => "session.deleted",
            Self::VendorChanged => "vendor.changed",
            Self::SellerChanged => "seller.changed",
            Self::SellerDeleted => "seller.deleted",
            Self::MessageDelta => "message.delta",
            Self::MessageCompleted => "message.completed",
            Self::MessageSnapshot => "message.snapshot",
        }
    }

    /// One letter in a notice's payload.
    pub fn letter(self) -> char {
        match self {
            Self::MessageCreated => 'm',
            Self::MessageDeleted => 'd',
            Self::SessionUpdated => 's',
            Self::SessionDeleted => 'x',
            Self::VendorChanged => 'v',
            Self::SellerChanged => 'e',
            Self::SellerDeleted => 'r',
            Self::MessageDelta => 'D',
            Self::MessageCompleted => 'C',
            Self::MessageSnapshot => 'S',
        }
    }

    fn of_letter(c: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| {
            let mut buf = [0u8; 4];
            k.letter().encode_utf8(&mut buf) == c
        })
    }
}

/// One committed change, as `NOTIFY` carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The chat session it happened in.
    pub session: ChatSessionId,
    /// The session's event position at the change: a message's `seq` for
    /// `message.created`; for any other kind, the `seq` of the newest message
    /// when it committed. Positions follow commit order within a session (the
    /// write holds the session's row lock), so "every message after `seq`" is
    /// exactly what a client that saw this event may have missed.
    pub seq: i64,
    /// What happened.
    pub kind: EventKind,
    /// The message, session, vendor or seller concerned.
    pub id: Uuid,
}

impl Notice {
    /// `"<session> <seq> <letter> <id>"`.
    pub fn payload(&self) -> String {
        format!(
            "{} {} {} {}",
            self.session.0,
            self.seq,
            self.kind.letter(),
            self.id
        )
    }

    /// A payload made by [`Notice::payload`]; `None` for anything else.
    pub fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(' ');
        let session = parts.next()?.parse().ok().map(ChatSessionId)?;
        let seq = parts.next()?.parse().ok()?;
        let kind = EventKind::of_letter(parts.next()?)?;
        let id = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            session,
            seq,
            kind,
            id,
        })
    }
}

/// A delta applied to a streamed message, as `NOTIFY` carries it: its
/// message's session, the message, the delta's `seq`, and its text when the
/// payload has room for it (NOTIFY's 8000 bytes: a delta of 4000 characters
/// can take 16000 bytes of UTF-8). Without it, a listener reads the delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaNotice {
    /// The chat session of the message.
    pub session: ChatSessionId,
    /// The streamed message.
    pub message: MessageId,
    /// The delta's position in the message, from 1.
    pub seq: i64,
    /// The delta's text, if it came with the notice.
    pub text: Option<String>,
}

impl DeltaNotice {
    /// The most bytes of text a payload carries (NOTIFY's limit is 8000
    /// bytes, with the ids and `seq` before it).
    pub const MAX_INLINE_BYTES: usize = 7800;

    /// `"<session> <seq> D <message>"`, then `" <text>"` if the text has at
    /// most [`DeltaNotice::MAX_INLINE_BYTES`] bytes (as the store's SQL
    /// writes it).
    pub fn payload(&self) -> String {
        let mut p = format!(
            "{} {} {} {}",
            self.session.0,
            self.seq,
            EventKind::MessageDelta.letter(),
            self.message.0
        );
        if let Some(t) = self
            .text
            .as_deref()
            .filter(|t| t.len() <= Self::MAX_INLINE_BYTES)
        {
            p.push(' ');
            p.push_str(t);
        }
        p
    }

    /// A payload of [`DeltaNotice::payload`]'s form; `None` for anything else.
    pub fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.splitn(5, ' ');
        let session = parts.next()?.parse().ok().map(ChatSessionId)?;
        let seq = parts.next()?.parse().ok()?;
        (EventKind::of_letter(parts.next()?)? == EventKind::MessageDelta).then_some(())?;
        let message = parts.next()?.parse().ok().map(MessageId)?;
        Some(Self {
            session,
            message,
            seq,
            text: parts.next().map(str::to_owned),
        })
    }
}

/// What a listening connection hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A change in a chat session (channel `dealroom_events`).
    Event(Notice),
    /// A delta of a streamed message (channel `dealroom_events`).
    Delta(DeltaNotice),
    /// Who this user is, or whether one of their login sessions lives, changed:
    /// a login session was revoked or deleted, or the user's role or state
    /// changed, or the user was deleted (channel `dealroom_auth`, sent by the
    /// database's triggers, whoever wrote).
    AccessChanged(UserId),
}

/// A dedicated listening connection: the notices committed since the last
/// call, in commit order.
pub trait Notices: Send {
    /// Every notice received so far, without waiting; an error means the
    /// connection is gone (listen again: notices in between are lost, so
    /// streams must catch up from the database, and caches of the per-request
    /// check must start over).
    fn poll(&mut self) -> StoreResult<Vec<Heard>>;
    /// A round trip, to find out that a quiet connection died.
    fn ping(&mut self) -> StoreResult<()>;
}

/// Opens listening connections (never through a transaction pooler).
pub trait NoticeSource: Send + Sync {
    /// Opens a connection of its own and listens on the events channel.
    fn listen(&self) -> StoreResult<Box<dyn Notices>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_round_trips_through_its_payload() {
        for kind in EventKind::ALL {
            let n = Notice {
                session: ChatSessionId::new(),
                seq: 42,
                kind,
                id: Uuid::now_v7(),
            };
            assert!(n.payload().len() < 100);
            assert_eq!(Notice::parse(&n.payload()), Some(n));
        }
        assert_eq!(Notice::parse("nope"), None);
        assert_eq!(Notice::parse(""), None);
    }

    #[test]
    fn a_delta_notice_carries_its_text_when_it_fits() {
        let mut d = DeltaNotice {
            session: ChatSessionId::new(),
            message: MessageId::new(),
            seq: 7,
            text: Some(" two  words ".to_owned()),
        };
        assert_eq!(DeltaNotice::parse(&d.payload()), Some(d.clone()));
        // 2000 four-byte characters: 8000 bytes, more than NOTIFY takes.
        d.text = Some("\u{1F4AC}".repeat(2000));
        let p = d.payload();
        assert!(p.len() < 100, "{}", p.len());
        assert_eq!(
            DeltaNotice::parse(&p),
            Some(DeltaNotice { text: None, ..d })
        );
        // A notice of another kind is not a delta.
        let n = Notice {
            session: ChatSessionId::new(),
            seq: 1,
            kind: EventKind::MessageCreated,
            id: Uuid::now_v7(),
        };
        assert_eq!(DeltaNotice::parse(&n.payload()), None);
    }
}
