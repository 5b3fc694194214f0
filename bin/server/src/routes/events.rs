//! `GET /sessions/{id}/events`: a chat session's live events as SSE
//! (contract §3.8). The hub, the listener and the replay's rules live in the
//! `events` and `chat` crates; this is the wire.

use super::{Id, get};
use crate::error::ApiError;
use crate::extract::StreamCaller;
use crate::reply::blocking;
use crate::state::AppState;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::events::EventKind;
use domain::ports::Streamed;
use domain::{Actor, ChatSessionId, DomainError, MessageId, MessageStatus};
use events::{Delivery, Event, Subscription};
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sessions/{id}/events").route(get(session_events)));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(session_events))]
pub struct Doc;

/// What the stream needs between two frames.
struct Stream {
    state: web::Data<AppState>,
    sub: Subscription,
    actor: Actor,
    /// The caller's token, checked again on every heartbeat.
    token: auth::VerifiedToken,
    session: ChatSessionId,
    /// The newest message position written to the stream: `message.created`
    /// events at or below it were replayed already.
    last_seq: i64,
    /// Streamed messages whose state this stream wrote: the last delta
    /// written (by a `message.snapshot` or a `message.delta`), or [`ENDED`]
    /// once their `message.completed` went out. Live copies of what a
    /// catch-up wrote are dropped by it. Empty (no memory) until a stream
    /// has streamed messages to follow.
    streamed: HashMap<MessageId, i64>,
    heartbeat: actix_web::rt::time::Interval,
    /// Frames to write before waiting for anything.
    pending: Option<Bytes>,
}

/// Live events of a chat session, as `text/event-stream`.
///
/// Events: `message.created` (data: the Message), `message.deleted`
/// (`{id}`), `session.updated` (the ChatSession), `vendor.changed`
/// (`{sessionId, vendor}`, `vendor` null once removed), `seller.changed`
/// (the Seller), `seller.deleted` (`{id}`), and `reset` (too much was
/// missed to replay, or the `Last-Event-ID` is one the session never
/// reached: reload). Each event's `id` is the session's position, and so is
/// the opening block's (sent before any event) and a `reset`'s: reconnect
/// with the last one as `Last-Event-ID` to receive, first and in order, the
/// `message.created` events missed, then live ones, none lost or repeated.
///
/// Streamed replies: `message.delta` (`{id, seq, text}`: append `text` to
/// the message's content; in `seq` order, each once) and
/// `message.completed` (the whole Message, `complete`, or `incomplete`
/// after the idle timeout). After the opening block, and after a replay or
/// a `reset`, each reply streaming then comes as `message.snapshot` (the
/// whole Message with `lastSeq`, the last delta its content includes: the
/// deltas after it follow), and, on a resume, each reply that ended since
/// as one `message.completed`. A `message.created` of a reply may hold its
/// first deltas already: the deltas sent after it are the later ones.
/// Append every `message.delta` received, and the text equals the stored
/// content.
/// A comment line goes out at least every `EVENTS_HEARTBEAT` (15 s); the
/// stream ends within that time of the login session being revoked, the user
/// deactivated or the access lost, when the session is deleted, when the
/// client falls too far behind (it reconnects), and at once on shutdown.
/// The token may come as the `access_token` query parameter (this route
/// only), for clients that cannot set headers. Never compressed or buffered.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/events", tag = "sessions",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received, to resume after it"),
        ("access_token" = Option<String>, Query, description = "The access token, for clients that cannot send `Authorization` (this route only)"),
    ),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
    ),
    security(("bearer" = [])))]
pub async fn session_events(
    state: web::Data<AppState>,
    caller: StreamCaller,
    id: Id,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let session = ChatSessionId(id.into_inner());
    let StreamCaller { actor, token } = caller;
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    // Subscribe first, then replay: whatever commits in between arrives twice
    // and the second copy is dropped, so nothing falls in a gap.
    let sub = state.events.subscribe(session);
    let mut live = Stream {
        heartbeat: actix_web::rt::time::interval_at(
            actix_web::rt::time::Instant::now() + state.settings.events_heartbeat,
            state.settings.events_heartbeat,
        ),
        state,
        sub,
        actor,
        token,
        session,
        last_seq: 0,
        streamed: HashMap::new(),
        pending: None,
    };
    // The opening block carries the session's position as its `id:`, so a
    // client that drops before its first event resumes from there.
    let opening = match resume.map(|r| r.parse::<i64>()) {
        // The replay checks access; without one it is checked here.
        Some(Ok(after)) if after >= 0 => live.catch_up(after).await?,
        resume => {
            let (state, actor) = (live.state.clone(), live.actor);
            let opening = blocking(move || state.chat.opening(&actor, session)).await?;
            live.last_seq = opening.position;
            let mut frames = if resume.is_some() {
                reset(opening.position)
            } else {
                position_frame(opening.position)
            };
            // Each reply streaming now, as it is: the deltas that follow
            // apply to it.
            frames.extend(live.streamed_frames(&opening.streams));
            frames
        }
    };
    let mut first = b"retry: 2000\n: connected\n".to_vec();
    first.extend(opening);
    live.pending = Some(Bytes::from(first));
    // The stream runs as a task of its own and hands its frames to the
    // response through a small queue: a client that stops reading fills the
    // queue and is ended at once (counted as lag), whatever its socket does,
    // and never holds up the hub, the writers or anyone else.
    let (tx, body) = queue::pair();
    actix_web::rt::spawn(async move {
        loop {
            let frames = tokio::select! {
                f = live.next_frames() => f,
                () = tx.gone() => None,
            };
            let Some(frames) = frames else { break };
            match tx.push(frames, QUEUE) {
                Ok(()) => {}
                Err(queue::Refused::Full) => {
                    live.sub.lagged();
                    break;
                }
                Err(queue::Refused::Gone) => break,
            }
        }
    });
    let mut res = HttpResponse::Ok();
    // The connection ends with the stream (a client reconnects on a new one).
    res.force_close();
    Ok(res
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Compress passes a response that already names its encoding; SSE
        // frames must go out as they are written.
        .insert_header((
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        ))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// The queue between a stream's task and its response body. Both run on the
/// worker thread that accepted the request (`rt::spawn` is local to it), so it
/// needs no atomics; it allocates nothing until a frame first waits in it, which
/// keeps an idle stream small (contract: thousands of them per instance).
mod queue {
    use actix_web::web::Bytes;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    #[derive(Default)]
    struct Shared {
        frames: VecDeque<Bytes>,
        /// The body, waiting for a frame.
        reader: Option<Waker>,
        /// The task, waiting for the body to go.
        writer: Option<Waker>,
        /// The task ended: no more frames after those queued.
        done: bool,
        /// The body was dropped: the client left or the connection ended.
        gone: bool,
    }

    /// Why a frame was not queued.
    pub enum Refused {
        /// `max` frames wait already: the client does not read.
        Full,
        /// Nobody will read it.
        Gone,
    }

    /// The task's end.
    pub struct Tx(Rc<RefCell<Shared>>);

    /// The response body's end.
    pub struct Rx(Rc<RefCell<Shared>>);

    pub fn pair() -> (Tx, Rx) {
        let shared = Rc::new(RefCell::new(Shared::default()));
        (Tx(shared.clone()), Rx(shared))
    }

    impl Tx {
        /// Queues `frames` unless `max` frames already wait or the body is gone.
        pub fn push(&self, frames: Bytes, max: usize) -> Result<(), Refused> {
            let mut q = self.0.borrow_mut();
            if q.gone {
                return Err(Refused::Gone);
            }
            if q.frames.len() >= max {
                return Err(Refused::Full);
            }
            q.frames.push_back(frames);
            if let Some(w) = q.reader.take() {
                w.wake();
            }
            Ok(())
        }

        /// Completes once the body is gone.
        pub async fn gone(&self) {
            std::future::poll_fn(|cx| {
                let mut q = self.0.borrow_mut();
                if q.gone {
                    Poll::Ready(())
                } else {
                    q.writer = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
        }
    }

    impl Drop for Tx {
        fn drop(&mut self) {
            let mut q = self.0.borrow_mut();
            q.done = true;
            if let Some(w) = q.reader.take() {
                w.wake();
            }
        }
    }

    impl futures_util::Stream for Rx {
        type Item = Result<Bytes, actix_web::Error>;

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let mut q = self.0.borrow_mut();
            if let Some(frames) = q.frames.pop_front() {
                if q.frames.is_empty() && q.frames.capacity() > 4 {
                    // A burst is over: give back what it grew (a few slots
                    // stay, so that steady events do not allocate each time).
                    q.frames = VecDeque::with_capacity(4);
                }
                return Poll::Ready(Some(Ok(frames)));
            }
            if q.done {
                return Poll::Ready(None);
            }
            q.reader = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    impl Drop for Rx {
        fn drop(&mut self) {
            let mut q = self.0.borrow_mut();
            q.gone = true;
            q.frames.clear();
            if let Some(w) = q.writer.take() {
                w.wake();
            }
        }
    }
}

/// Frames a stream may have written but its client not yet taken.
const QUEUE: usize = 64;

/// In [`Stream::streamed`]: the message's `message.completed` was written.
const ENDED: i64 = i64::MAX;

/// Tells the client to reload (too much was missed to replay, or it asked
/// for a position the session never reached), and where the stream now is.
fn reset(position: i64) -> Vec<u8> {
    format!("id: {position}\nevent: reset\ndata: {{}}\n\n").into_bytes()
}

/// A block with only an `id:`: it dispatches no event, but sets the
/// client's last event id to the session's position.
fn position_frame(position: i64) -> Vec<u8> {
    format!("id: {position}\n\n").into_bytes()
}

impl Stream {
    /// The next frames to write; `None` ends the stream.
    async fn next_frames(&mut self) -> Option<Bytes> {
        if let Some(b) = self.pending.take() {
            return Some(b);
        }
        loop {
            tokio::select! {
                _ = self.heartbeat.tick() => {
                    // Live copies of a catch-up's ends have long come by now.
                    self.streamed.retain(|_, last| *last != ENDED);
                    if self.streamed.is_empty() {
                        self.streamed = HashMap::new();
                    }
                    return self.still_allowed().await.then(|| Bytes::from_static(b": ping\n\n"));
                }
                got = self.sub.next() => match got {
                    Ok(Delivery::Event(e)) => {
                        match (e.kind, e.message) {
                            (EventKind::MessageCreated, _) => {
                                if e.seq <= self.last_seq {
                                    continue;
                                }
                                self.last_seq = e.seq;
                                // A reply heard with some deltas in it already.
                                if let Some((m, last)) = e.through {
                                    let held = self.streamed.entry(m).or_insert(last);
                                    *held = (*held).max(last);
                                }
                            }
                            // In seq order; one a snapshot already held is dropped.
                            (EventKind::MessageDelta, Some(m)) => {
                                if self.streamed.get(&m).is_some_and(|&last| e.seq <= last) {
                                    continue;
                                }
                                self.streamed.insert(m, e.seq);
                            }
                            // Once: a catch-up may have written it.
                            (EventKind::MessageCompleted, Some(m)) => {
                                let before = self.streamed.insert(m, ENDED);
                                if before == Some(ENDED) {
                                    continue;
                                }
                            }
                            _ => {}
                        }
                        self.sub.sent(1);
                        // A streamed message's event takes the stream's
                        // position (an end's own, if later).
                        let at = match e.kind {
                            EventKind::MessageCompleted => self.last_seq.max(e.seq),
                            _ => self.last_seq,
                        };
                        return Some(e.frame_at(at));
                    }
                    Ok(Delivery::CatchUp) => match self.catch_up(self.last_seq).await {
                        Ok(frames) if frames.is_empty() => continue,
                        Ok(frames) => return Some(Bytes::from(frames)),
                        Err(_) => return None,
                    },
                    Ok(Delivery::End) | Err(_) => return None,
                },
            }
        }
    }

    /// The `message.created` events after `after`, from the database; a
    /// `reset` instead when there are more than `EVENTS_REPLAY_MAX` or the
    /// session never reached `after`.
    async fn catch_up(&mut self, after: i64) -> Result<Vec<u8>, ApiError> {
        let max = i64::from(self.state.settings.events_replay_max);
        let (state, actor, session) = (self.state.clone(), self.actor, self.session);
        let replay = blocking(move || state.chat.replay(&actor, session, after, max)).await?;
        self.last_seq = self.last_seq.max(replay.position);
        let Some(missed) = replay.missed else {
            let mut out = reset(replay.position);
            out.extend(self.streamed_frames(&replay.streams));
            return Ok(out);
        };
        let mut out = Vec::new();
        for m in &missed {
            out.extend_from_slice(&Event::message_created(m).frame);
        }
        self.sub.sent(missed.len() as u64);
        if let Some(last) = missed.last() {
            self.last_seq = self.last_seq.max(last.seq);
        }
        out.extend(self.streamed_frames(&replay.streams));
        Ok(out)
    }

    /// After a replay (or the opening): one `message.snapshot` for each
    /// reply streaming now (its content so far and `lastSeq`: the live
    /// deltas after it follow, those it holds are dropped), and one
    /// `message.completed` for each that ended since (unless this stream
    /// wrote it already). Their `id` is the stream's position.
    fn streamed_frames(&mut self, streams: &[Streamed]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in streams {
            let id = s.message.id;
            let event = if s.message.status == MessageStatus::Streaming {
                self.streamed.insert(id, s.last_seq);
                Event::message_snapshot(&s.message, s.last_seq)
            } else if self.streamed.insert(id, ENDED) == Some(ENDED) {
                continue;
            } else {
                Event::message_completed(&s.message, self.last_seq)
            };
            out.extend_from_slice(&event.frame_at(self.last_seq));
            self.sub.sent(1);
        }
        out
    }

    /// The token not expired, its login session live, its user active, and the
    /// chat session still readable by them.
    async fn still_allowed(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if now > self.token.expires_at {
            return false;
        }
        let (state, token, session) = (self.state.clone(), self.token, self.session);
        let checked = blocking(move || {
            let actor = state.auth.caller(token)?;
            state.chat.session(&actor, session).map(drop)
        })
        .await;
        match checked {
            Ok(()) => true,
            // A database outage does not end a stream; the next check decides.
            Err(ApiError(DomainError::Unavailable)) => true,
            Err(_) => false,
        }
    }
}
