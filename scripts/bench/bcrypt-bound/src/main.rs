//! The ceiling of `make bench`'s scenario (d), as pgbench is (b)'s and (c)'s:
//! how many bcrypt verifications per second every core of this machine does
//! at the server's cost, with the same crate the server uses. A login is one
//! verification, so no server can log users in faster.
//!
//! `bcrypt-bound COST SECONDS` prints one JSON line:
//! `{"cost":10,"threads":2,"seconds":5.0,"verifies":180,"per_second":36.0}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cost: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let seconds: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let hash = match bcrypt::hash("bench password 1", cost) {
        Ok(h) => Arc::new(h),
        Err(e) => {
            eprintln!("bcrypt-bound: {e}");
            std::process::exit(1);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hash, stop, done) = (hash.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if bcrypt::verify("bench password 1", &hash).unwrap_or(false) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    // Verifications finished after the stop count, over the time they took.
    let elapsed = started.elapsed().as_secs_f64();
    let verifies = done.load(Ordering::Relaxed);
    println!(
        "{{\"cost\":{cost},\"threads\":{threads},\"seconds\":{elapsed:.3},\"verifies\":{verifies},\"per_second\":{:.2}}}",
        verifies as f64 / elapsed
    );
}
