//! A streamed reply, as an agent service writes one (contract 3.12): the
//! reply is posted `streaming`, its text goes in delta by delta while it is
//! being written (here: the words of a text, at a fixed rate), and it is
//! completed at the end. Readers of the chat session see it grow on their
//! live event streams (`message.delta`), and whole once it is complete.

use dealroom::{
    Actor, ChatSessionId, CompleteInput, Completed, Dealroom, DeltaInput, DomainError, Message,
    MessageRole, PostMessageInput, Posted,
};
use std::fmt::Write as _;
use std::time::Duration;

/// The most characters a delta may carry.
pub const MAX_DELTA_CHARS: usize = 4000;

/// `text` cut into deltas: each word with the whitespace after it (the first
/// with any whitespace before it too), and a word longer than
/// [`MAX_DELTA_CHARS`] in pieces of that length. Joined, they are `text`.
pub fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut piece = String::new();
    let mut chars = 0;
    let mut in_space = false;
    for c in text.chars() {
        let space = c.is_whitespace();
        // A word starts after whitespace: the piece before it is done.
        let word_starts = in_space && !space && piece.chars().any(|c| !c.is_whitespace());
        if word_starts || chars == MAX_DELTA_CHARS {
            out.push(std::mem::take(&mut piece));
            chars = 0;
        }
        piece.push(c);
        chars += 1;
        in_space = space;
    }
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

/// Streams `pieces` into `session` as an `assistant` reply of `actor` (an
/// agent or an admin): posts it with `stream: true`, appends each piece as
/// the next delta, `every` apart, and completes it; the message as it ends.
/// What it does goes to `out`, a line per step.
///
/// A delta that failed because the database was away for a moment
/// (`Unavailable`) is sent again, with the same `seq`: if the first try was
/// in fact applied, the server answers the repeat as applied, and changes
/// nothing. If the reply cannot go on, it is left as it is: after
/// `STREAM_IDLE_TIMEOUT` the server ends it `incomplete`, with what it has.
pub fn stream_reply(
    dr: &Dealroom,
    actor: &Actor,
    session: ChatSessionId,
    pieces: &[String],
    every: Duration,
    out: &mut String,
) -> Result<Message, DomainError> {
    let posted = dr.chat.post_message(
        actor,
        session,
        PostMessageInput {
            role: Some(MessageRole::Assistant),
            stream: Some(true),
            ..PostMessageInput::default()
        },
    )?;
    let message = match posted {
        Posted::Created(m) | Posted::Existing(m) => m,
    };
    let _ = writeln!(out, "streaming reply {}", message.id);
    for (i, piece) in pieces.iter().enumerate() {
        let seq = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
        let delta = || DeltaInput {
            seq: Some(seq),
            text: Some(piece.clone()),
        };
        match dr.chat.append_delta(actor, message.id, delta()) {
            Err(DomainError::Unavailable) => {
                std::thread::sleep(every.max(Duration::from_millis(200)));
                dr.chat.append_delta(actor, message.id, delta())?;
            }
            other => {
                other?;
            }
        }
        std::thread::sleep(every);
    }
    let done = dr
        .chat
        .complete_message(actor, message.id, CompleteInput::default())?;
    let message = match done {
        Completed::Now(m) => m,
        Completed::Already(m) => {
            let _ = writeln!(out, "it had ended already ({})", m.status);
            m
        }
    };
    let chars = message.content.as_deref().map_or(0, |c| c.chars().count());
    let _ = writeln!(
        out,
        "{} deltas, {chars} characters, {}",
        pieces.len(),
        message.status
    );
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pieces_are_the_words_and_give_the_text_back() {
        let text = "  Hello,  world!\nA line\tand more \n";
        let p = pieces(text);
        assert_eq!(
            p,
            ["  Hello,  ", "world!\n", "A ", "line\t", "and ", "more \n"]
        );
        assert_eq!(p.concat(), text);
        assert!(pieces("").is_empty());
        let long = "x".repeat(MAX_DELTA_CHARS * 2 + 5);
        let p = pieces(&format!("{long} y"));
        assert_eq!(
            p.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [MAX_DELTA_CHARS, MAX_DELTA_CHARS, 6, 1]
        );
    }
}
