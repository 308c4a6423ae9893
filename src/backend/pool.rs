//! Extra connections for parallel work, coming up in the background: the work starts with the
//! connections it has and each new one joins when it is ready. A login can be slow for reasons
//! of the server's own (proftpd makes a session wait 400 ms when its scoreboard lock is taken by
//! another one starting at the same moment, bench/RESULTS.md issue 17): nothing waits for it.
//!
//! A server that refuses some ("421 too many connections") leaves the work to those it
//! accepted; why is kept ([`Joining::failures`]). An opening that ends after its [`Joining`] is
//! gone drops its connections (an FTP or SFTP session goes to its target's spare ones, which
//! the next opener takes or the target closes), and every opening is bounded by the target's
//! --timeout.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Opener, Target};
use crate::error::caught::caught;

/// A connection to each side.
pub type Pair = (Box<dyn Target>, Box<dyn Target>);

/// Pairs of connections being opened in the background, and those ready to be taken.
pub struct Joining {
    shared: Arc<Shared>,
    local: Opener,
    remote: Opener,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Pair>,
    opening: usize,
    failures: Vec<String>,
    /// No one takes pairs any more: those still opening are dropped when they come up.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Joining {
    /// Nothing opening yet; [`Joining::open`] starts openings.
    pub fn new(local: &dyn Target, remote: &dyn Target) -> Joining {
        Joining {
            shared: Arc::new(Shared { state: Mutex::new(State::default()), changed: Condvar::new() }),
            local: local.opener(),
            remote: remote.opener(),
        }
    }

    /// Starts opening `n` more pairs, each on a thread of its own.
    pub fn open(&self, n: usize) {
        for _ in 0..n {
            let (shared, local, remote) = (self.shared.clone(), self.local.clone(), self.remote.clone());
            shared.lock().opening += 1;
            let spawned = std::thread::Builder::new().name("ftpsync-connect".into()).spawn({
                let shared = shared.clone();
                move || {
                    // A panic here must still count the opening as ended: else every
                    // `next` would wait for it for ever.
                    let opened = caught(|| local().and_then(|l| Ok((l, remote()?))));
                    let mut st = shared.lock();
                    st.opening -= 1;
                    let dropped = match opened {
                        Ok(pair) if !st.closed => {
                            st.ready.push_back(pair);
                            None
                        }
                        Ok(pair) => Some(pair),
                        Err(e) => {
                            st.failures.push(format!("{e:#}"));
                            None
                        }
                    };
                    drop(st);
                    shared.changed.notify_all();
                    // Closing a connection may cost a round trip: not while holding the lock.
                    drop(dropped);
                }
            });
            if let Err(e) = spawned {
                let mut st = shared.lock();
                st.opening -= 1;
                st.failures.push(format!("cannot start a thread to connect: {e}"));
            }
        }
    }

    /// A pair that is ready now, without waiting.
    pub fn take(&self) -> Option<Pair> {
        self.shared.lock().ready.pop_front()
    }

    /// The next pair to come up; `None` once none is ready or opening, or `stop` is set (then
    /// [`Joining::wake`] ends the wait).
    pub fn next(&self, stop: &AtomicBool) -> Option<Pair> {
        let mut st = self.shared.lock();
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(pair) = st.ready.pop_front() {
                return Some(pair);
            }
            if st.opening == 0 {
                return None;
            }
            st = self.shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Ends the waits of [`Joining::next`] whose `stop` was set.
    pub fn wake(&self) {
        drop(self.shared.lock());
        self.shared.changed.notify_all();
    }

    /// Puts a pair back for later work.
    pub fn give_back(&self, pair: Pair) {
        self.shared.lock().ready.push_back(pair);
        self.shared.changed.notify_all();
    }

    /// Pairs ready or still opening: how many more workers may join.
    pub fn expected(&self) -> usize {
        let st = self.shared.lock();
        st.ready.len() + st.opening
    }

    /// Why the pairs that did not come up failed, so far.
    pub fn failures(&self) -> Vec<String> {
        self.shared.lock().failures.clone()
    }

    /// Says at `-vv` why connections did not come up (the work went on without them).
    pub fn report_failures(&self) {
        let failures = self.failures();
        if let Some(first) = failures.first() {
            log::debug!(
                target: super::ftp::learned::METHODS_TARGET,
                "connections: {} more did not come up, the work went on without them: {first}",
                failures.len()
            );
        }
    }
}

impl Drop for Joining {
    fn drop(&mut self) {
        let ready = {
            let mut st = self.shared.lock();
            st.closed = true;
            std::mem::take(&mut st.ready)
        };
        self.shared.changed.notify_all();
        drop(ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory::{MemoryFs, MemoryOptions, MemoryTarget};
    use crate::model::SystemClock;

    fn pair() -> (MemoryTarget, MemoryTarget) {
        let fs = || MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default());
        (fs().target("l", true), fs().target("r", true))
    }

    #[test]
    fn pairs_come_up_in_the_background_and_next_ends_when_none_is_left() {
        let (local, remote) = pair();
        let joining = Joining::new(&local, &remote);
        joining.open(3);
        let stop = AtomicBool::new(false);
        let mut got = 0;
        while let Some(pair) = joining.next(&stop) {
            got += 1;
            drop(pair);
        }
        assert_eq!(got, 3);
        assert_eq!(joining.expected(), 0);
        assert!(joining.failures().is_empty());
    }

    #[test]
    fn an_opening_that_panics_ends_the_wait_for_it() {
        let (local, remote) = pair();
        let mut joining = Joining::new(&local, &remote);
        joining.remote = Arc::new(|| panic!("an opener that fails badly"));
        joining.open(1);
        assert!(joining.next(&AtomicBool::new(false)).is_none());
        assert!(joining.failures()[0].contains("an opener that fails badly"), "{:?}", joining.failures());
    }

    #[test]
    fn a_stopped_wait_ends_and_a_pair_given_back_is_taken_again() {
        let (local, remote) = pair();
        let joining = Joining::new(&local, &remote);
        let stop = AtomicBool::new(true);
        joining.open(1);
        assert!(joining.next(&stop).is_none());
        let pair = joining.next(&AtomicBool::new(false)).expect("one opened");
        joining.give_back(pair);
        assert!(joining.take().is_some());
        assert!(joining.take().is_none());
    }
}
