//! Streamed replies' idle timeout (contract 3.12): every instance looks for
//! replies that received nothing for `STREAM_IDLE_TIMEOUT` and ends them
//! `incomplete`. Each reply is ended by one instance (its stream's row is
//! taken with `SKIP LOCKED`), so any number of instances may look at once;
//! the rule and the SQL are `chat`'s and `store`'s.

use crate::reply::blocking;
use crate::state::AppState;
use actix_web::web::Data;
use std::time::Duration;

/// How often an instance looks: a quarter of the timeout (a reply ends at
/// most that much after its timeout), between 100 ms and 5 s.
fn interval(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// Ends idle streamed replies, every [`interval`], until the server stops.
pub async fn expire_idle_periodically(state: Data<AppState>) {
    let timeout = state.settings.stream_idle_timeout;
    let mut tick = actix_web::rt::time::interval(interval(timeout));
    loop {
        tick.tick().await;
        // A full batch may leave more behind: go on at once.
        loop {
            let s = state.clone();
            match blocking(move || s.chat.expire_idle_streams(timeout)).await {
                Ok(ended) if ended.is_empty() => break,
                Ok(ended) => {
                    log::info!(
                        "{} streamed replies ended incomplete after {timeout:?} idle",
                        ended.len()
                    );
                    if ended.len() < 100 {
                        break;
                    }
                }
                Err(e) => {
                    log::warn!("idle streamed replies: {:?}", e.0);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_looks_four_times_per_timeout_within_bounds() {
        assert_eq!(interval(Duration::from_secs(60)), Duration::from_secs(5));
        assert_eq!(interval(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(
            interval(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
    }
}
