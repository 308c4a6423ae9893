//! The second reading of a claimed lock, put off until the first change that others can see.
//!
//! Some servers (libunftp) append by rewriting the file from the size they saw, so a rival's
//! append that started before ours can still replace our line a moment after our first reading
//! found it first. The lock file is therefore read a second time, no sooner than our append
//! took (and [`SETTLE_AFTER`]) after it ended. Waiting for that moment before any work would
//! cost every run the wait; instead apply goes on (checks, uploads to temporary names that
//! nobody sees), and each connection of the target settles the lock before its first change
//! that others can see: a rename into place, a folder created or removed, a file deleted.
//! Apply settles it before its first change on the local side. The first connection to get
//! there reads; the others wait for its verdict, which then holds for all.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::lock::LockFile;
use crate::backend::LockLost;

/// The shortest wait between claiming the lock and its second reading.
pub const SETTLE_AFTER: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
enum State {
    /// Nothing to read: no lock claimed, or the claim is settled.
    #[default]
    Settled,
    /// Our line was first at the first reading; the second is due at `at`.
    Due { at: Instant, claim: Claim },
    /// The second reading found another run's lock first: nothing may change.
    Lost(String),
}

/// What the second reading needs to know about the claim.
#[derive(Clone, Debug)]
pub struct Claim {
    /// Our holder string, as in the lock file.
    pub holder: String,
    /// The target, as the user knows it (for the message).
    pub display: String,
}

/// One per target, shared by all its connections.
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<State>,
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Our lock line was appended at `appended`, which took `took`, and the first reading
    /// found it first: the second reading is due once a rival's append that started before
    /// ours has had as long as ours took.
    pub fn claimed(&self, appended: Instant, took: Duration, claim: Claim) {
        *self.state() = State::Due { at: appended + took.max(SETTLE_AFTER), claim };
    }

    /// Forgets the claim (the lock is released).
    pub fn release(&self) {
        *self.state() = State::Settled;
    }

    /// Makes sure the claim is settled before a change: waits for the moment of the second
    /// reading if it is still due, and has `read` return the first lock in the file. An error
    /// of `read` leaves the reading due (the next change tries again); a lock not ours fails
    /// this and every later change with [`LockLost`].
    pub fn settle(&self, read: impl FnOnce() -> Result<Option<LockFile>>) -> Result<()> {
        let mut state = self.state();
        let (at, claim) = match &*state {
            State::Settled => return Ok(()),
            State::Lost(why) => return Err(LockLost(why.clone()).into()),
            State::Due { at, claim } => (*at, claim.clone()),
        };
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let first = read()?;
        if first.as_ref().and_then(|l| l.lock_holder.as_deref()) == Some(claim.holder.as_str()) {
            *state = State::Settled;
            return Ok(());
        }
        let why = raced(&claim.display, first);
        *state = State::Lost(why.clone());
        Err(LockLost(why).into())
    }
}

/// What a run that lost the race for the lock says: `first` is the lock found first.
pub fn raced(display: &str, first: Option<LockFile>) -> String {
    let who = first.and_then(|l| l.lock_holder).unwrap_or_else(|| "another client".into());
    format!("{display} was locked by {who} at the same moment; that run goes on, this one stops")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::backend::is_lock_lost;

    fn claim() -> Claim {
        Claim { holder: "ftpsync 7@here #0".into(), display: "ftp://h/site".into() }
    }

    fn lock_of(holder: &str) -> Option<LockFile> {
        Some(LockFile { lock_time: 1000.0, lock_holder: Some(holder.into()) })
    }

    #[test]
    fn nothing_claimed_means_nothing_to_read() {
        let gate = Gate::default();
        gate.settle(|| panic!("read without a claim")).unwrap();
    }

    #[test]
    fn the_second_reading_waits_for_its_moment_and_happens_once() {
        let gate = Gate::default();
        let appended = Instant::now();
        gate.claimed(appended, Duration::from_millis(1), claim());
        let reads = AtomicUsize::new(0);
        let read = || {
            assert!(appended.elapsed() >= SETTLE_AFTER, "read before its moment");
            reads.fetch_add(1, Ordering::Relaxed);
            Ok(lock_of("ftpsync 7@here #0"))
        };
        gate.settle(read).unwrap();
        gate.settle(|| panic!("read twice")).unwrap();
        assert_eq!(reads.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_slow_append_is_waited_for_as_long_as_it_took() {
        let gate = Gate::default();
        let appended = Instant::now();
        gate.claimed(appended, Duration::from_millis(60), claim());
        gate.settle(|| {
            assert!(appended.elapsed() >= Duration::from_millis(60));
            Ok(lock_of("ftpsync 7@here #0"))
        })
        .unwrap();
    }

    #[test]
    fn a_lock_taken_over_stops_this_and_every_later_change() {
        let gate = Gate::default();
        gate.claimed(Instant::now(), Duration::ZERO, claim());
        let err = gate.settle(|| Ok(lock_of("ftpsync 1@rival"))).unwrap_err();
        assert!(is_lock_lost(&err));
        assert_eq!(
            err.to_string(),
            "ftp://h/site was locked by ftpsync 1@rival at the same moment; that run goes on, this one stops"
        );
        let again = gate.settle(|| panic!("read after the verdict")).unwrap_err();
        assert!(is_lock_lost(&again));
        // A lock file gone or unreadable is not ours either.
        let gate = Gate::default();
        gate.claimed(Instant::now(), Duration::ZERO, claim());
        assert!(gate.settle(|| Ok(None)).unwrap_err().to_string().contains("locked by another client"));
    }

    #[test]
    fn a_failed_reading_is_tried_again_by_the_next_change() {
        let gate = Gate::default();
        gate.claimed(Instant::now(), Duration::ZERO, claim());
        let err = gate.settle(|| Err(anyhow::anyhow!("connection reset"))).unwrap_err();
        assert!(!is_lock_lost(&err));
        gate.settle(|| Ok(lock_of("ftpsync 7@here #0"))).unwrap();
    }

    #[test]
    fn connections_arriving_together_share_one_reading() {
        let gate = Gate::default();
        gate.claimed(Instant::now(), Duration::ZERO, claim());
        let reads = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    gate.settle(|| {
                        reads.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(10));
                        Ok(lock_of("ftpsync 7@here #0"))
                    })
                    .unwrap()
                });
            }
        });
        assert_eq!(reads.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_released_claim_is_not_read() {
        let gate = Gate::default();
        gate.claimed(Instant::now(), Duration::ZERO, claim());
        gate.release();
        gate.settle(|| panic!("read after release")).unwrap();
    }
}
