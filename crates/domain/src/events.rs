//! Live events of a chat session (contract §3.8): what a write tells the other
//! instances through PostgreSQL `NOTIFY`, and the port that listens.
//!
//! A notice is small (well under `NOTIFY`'s 8000 bytes): the session, the
//! session's event position, the kind and the id of what changed. A listener
//! reads the rest from the database.

use crate::ids::{ChatSessionId, UserId};
use crate::ports::StoreResult;
use uuid::Uuid;

/// What happened in a chat session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    MessageCreated,
    MessageDeleted,
    SessionUpdated,
    /// The session is gone: its streams end.
    SessionDeleted,
    VendorChanged,
    SellerChanged,
    SellerDeleted,
}

impl EventKind {
    const ALL: [EventKind; 7] = [
        Self::MessageCreated,
        Self::MessageDeleted,
        Self::SessionUpdated,
        Self::SessionDeleted,
        Self::VendorChanged,
        Self::SellerChanged,
        Self::SellerDeleted,
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
    pub session: ChatSessionId,
    /// The session's event position at the change: a message's `seq` for
    /// `message.created`; for any other kind, the `seq` of the newest message
    /// when it committed. Positions follow commit order within a session (the
    /// write holds the session's row lock), so "every message after `seq`" is
    /// exactly what a client that saw this event may have missed.
    pub seq: i64,
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

/// What a listening connection hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A change in a chat session (channel `dealroom_events`).
    Event(Notice),
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
}
