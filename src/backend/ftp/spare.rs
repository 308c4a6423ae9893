//! Logged-in connections not in use: those a worker has finished with, and those logged in
//! ahead ([`Spare::coming`]).
//!
//! A run that foresees work for several connections (the local root shows the folders an
//! upload or sync will visit) has them connect beside the first one instead of after it: a
//! login is several round trips (vsftpd's, through PAM, eight to ten), and the scan would
//! otherwise list folders on one connection while the others still log in. The connections
//! ahead connect only once the first one was greeted ([`Spare::greeted`]): a server that takes
//! a few connections per address refuses some of the others, never the first. They send their
//! password only once the first login's was accepted ([`Spare::verdict`]): a wrong password is
//! tried once, not once per connection, where a server counting failed logins would lock the
//! account.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// The spare connections (`S`: an FTP session) of one target.
pub struct Spare<S> {
    state: Mutex<State<S>>,
    changed: Condvar,
}

impl<S> Default for Spare<S> {
    fn default() -> Self {
        Spare {
            state: Mutex::new(State { idle: Vec::new(), coming: 0, first: First::Connecting }),
            changed: Condvar::new(),
        }
    }
}

struct State<S> {
    idle: Vec<S>,
    /// Logins ahead still under way.
    coming: usize,
    /// How far the first login has come.
    first: First,
}

/// How far the first login of a target has come ([`Spare::await_first`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum First {
    Connecting,
    /// The server greeted it: it holds its place among the server's connections.
    Greeted,
    /// Its password was accepted.
    Accepted,
    /// It failed (the password refused, or no connection).
    Failed,
}

impl<S> Spare<S> {
    fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a connection for the next worker.
    pub fn put(&self, session: S) {
        self.lock().idle.push(session);
        self.changed.notify_all();
    }

    /// An idle connection, or the next login ahead to come up (waiting at most `timeout`);
    /// `None` when there is neither.
    pub fn take(&self, timeout: Duration) -> Option<S> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if let Some(s) = st.idle.pop() {
                return Some(s);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if st.coming == 0 || left.is_zero() {
                return None;
            }
            st = self.changed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Every idle connection (to log them out).
    pub fn drain(&mut self) -> Vec<S> {
        std::mem::take(&mut self.state.get_mut().unwrap_or_else(|e| e.into_inner()).idle)
    }

    /// Counts `n` logins ahead as coming: [`Spare::take`] waits for them.
    pub fn coming(&self, n: usize) {
        self.lock().coming += n;
    }

    /// A login ahead has ended: its connection is kept, or it failed (and the opener that
    /// would have taken it logs in afresh, or reports why not).
    pub fn arrived(&self, session: Result<S>) {
        let mut st = self.lock();
        st.coming = st.coming.saturating_sub(1);
        match session {
            Ok(s) => st.idle.push(s),
            Err(e) => {
                log::debug!(target: super::learned::METHODS_TARGET, "a connection logged in ahead did not come up: {e:#}")
            }
        }
        drop(st);
        self.changed.notify_all();
    }

    /// The first login was greeted by the server.
    pub fn greeted(&self) {
        self.reached(First::Greeted);
    }

    /// The first login says whether its password was accepted; only the first verdict counts.
    pub fn verdict(&self, accepted: bool) {
        self.reached(if accepted { First::Accepted } else { First::Failed });
    }

    fn reached(&self, stage: First) {
        let mut st = self.lock();
        if st.first < stage && !matches!(st.first, First::Accepted | First::Failed) {
            st.first = stage;
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Waits (at most `timeout`) until the first login has reached `stage`; an error when it
    /// failed, or did not get there in time.
    pub fn await_first(&self, stage: First, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            match st.first {
                First::Failed => bail!("the first login failed: the connections ahead stay away"),
                reached if reached >= stage => return Ok(()),
                _ => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("the first login did not get that far within {timeout:?}");
            }
            st = self.changed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn take_waits_for_a_login_ahead_and_not_for_one_that_failed() {
        let spare = Arc::new(Spare::<u32>::default());
        assert_eq!(spare.take(LONG), None, "nothing idle or coming: no wait");
        spare.coming(2);
        let arriving = {
            let spare = spare.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                spare.arrived(Err(anyhow::anyhow!("421 too many connections")));
                spare.arrived(Ok(7));
            })
        };
        assert_eq!(spare.take(LONG), Some(7));
        arriving.join().unwrap();
        assert_eq!(spare.take(LONG), None, "the failed one is not waited for");
        spare.put(8);
        assert_eq!(spare.take(Duration::ZERO), Some(8));
    }

    #[test]
    fn take_is_bounded_by_its_timeout() {
        let spare = Spare::<u32>::default();
        spare.coming(1);
        let started = Instant::now();
        assert_eq!(spare.take(Duration::from_millis(30)), None);
        assert!(started.elapsed() < LONG);
    }

    #[test]
    fn logins_ahead_connect_after_the_first_greeting_and_log_in_after_its_verdict() {
        let spare = Arc::new(Spare::<u32>::default());
        let waiting = |stage| {
            let spare = spare.clone();
            std::thread::spawn(move || spare.await_first(stage, LONG))
        };
        let (connecting, logging_in) = (waiting(First::Greeted), waiting(First::Accepted));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!connecting.is_finished() && !logging_in.is_finished(), "nothing yet: both wait");
        spare.greeted();
        connecting.join().unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert!(!logging_in.is_finished(), "greeted only: the password waits");
        spare.verdict(false);
        spare.verdict(true); // only the first verdict counts
        let err = logging_in.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("first login failed"), "{err}");
        let accepted = Spare::<u32>::default();
        accepted.verdict(true);
        accepted.await_first(First::Accepted, Duration::ZERO).unwrap();
        accepted.greeted(); // too late to matter
        accepted.await_first(First::Accepted, Duration::ZERO).unwrap();
        let err = Spare::<u32>::default().await_first(First::Greeted, Duration::from_millis(10)).unwrap_err();
        assert!(err.to_string().contains("did not get that far"), "{err}");
    }
}
