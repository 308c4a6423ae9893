//! The SSH sessions of one SFTP target, shared by its connections
//! ([`SftpTarget`](super::SftpTarget)s).
//!
//! A worker spends most of its time waiting for answers: a small file costs two round trips
//! (the open, then the train of writes, time, size and close), however few bytes it has. One
//! SFTP channel takes many requests at once, so several workers share a session: up to
//! [`PER_SESSION`] of them send their requests on the same channel, and apply runs that many
//! workers for each session `--workers` asks for
//! ([`Target::workers_per_session`](crate::backend::Target::workers_per_session)). Measured at
//! 20 ms round-trip time: see bench/RESULTS.md, section SFTP.
//!
//! A new session is opened in the background when one is open already: its users send their
//! requests on an open one meanwhile (W1 waited 320 ms for three logins before its first
//! upload). A server that refuses one gets no further attempts: the sessions it accepted
//! take more users.
//!
//! A session that failed (a lost connection) is marked lost: nobody is given it again, and
//! each of its users gets a session of the pool (a new one when none has room) on its next
//! request, so one lost connection costs one new login per [`PER_SESSION`] workers, not one
//! per worker.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Result, anyhow};

use super::connect::Conn;
use crate::backend::{Transient, is_transient};
use crate::error::caught::caught;

/// Workers sharing one session. Measured (2,000 files of 4 KiB at 20 ms, 4 sessions): 8 per
/// session 4.0 s, 16: 3.4 s, 32: 2.3-3.0 s, 64: 3.4 s. With 32, a plan of up to 32 changes
/// needs no login beyond the scan's.
pub const PER_SESSION: usize = 32;

/// Opens a session (logged in, with its SFTP channel).
pub type Connect = Arc<dyn Fn() -> Result<Conn> + Send + Sync>;

/// One SSH session (with its SFTP channel), and who uses it.
pub struct Lane {
    /// Set once, when it is open (or failed to open).
    conn: OnceLock<Result<Arc<Conn>, Failed>>,
    /// Targets holding it.
    users: AtomicUsize,
    /// A request on it failed with the connection: it is not given out again.
    lost: AtomicBool,
}

impl Lane {
    /// A lane around a session already open (the first connection of a target).
    pub fn open(conn: Conn) -> Arc<Lane> {
        let lane = Lane { conn: OnceLock::new(), users: AtomicUsize::new(1), lost: AtomicBool::new(false) };
        let _ = lane.conn.set(Ok(Arc::new(conn)));
        Arc::new(lane)
    }

    fn fresh(users: usize) -> Arc<Lane> {
        Arc::new(Lane { conn: OnceLock::new(), users: AtomicUsize::new(users), lost: AtomicBool::new(false) })
    }

    /// The session; `None` while it is being opened or when opening it failed.
    pub fn conn(&self) -> Option<&Arc<Conn>> {
        self.conn.get().and_then(|c| c.as_ref().ok())
    }

    /// Whether it is still being opened.
    pub fn opening(&self) -> bool {
        self.conn.get().is_none()
    }

    /// Waits until it is open; the error that kept it from opening.
    pub fn wait(&self) -> Result<&Arc<Conn>> {
        self.conn.wait().as_ref().map_err(Failed::error)
    }

    fn set(&self, opened: Result<Conn>) -> Result<(), anyhow::Error> {
        let (kept, result) = match opened {
            Ok(c) => (Ok(Arc::new(c)), Ok(())),
            Err(e) => (Err(Failed(format!("{e:#}"), is_transient(&e))), Err(e)),
        };
        if kept.is_err() {
            self.lose();
        }
        let _ = self.conn.set(kept);
        result
    }

    /// Marks the session lost (a request on it failed with the connection).
    pub fn lose(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    pub fn usable(&self) -> bool {
        !self.lost.load(Ordering::Relaxed) && self.conn().is_none_or(|c| !c.ssh.is_closed())
    }
}

/// Why a lane could not be opened, for those who waited for it: the error's text, and
/// whether it was [`Transient`].
struct Failed(String, bool);

impl Failed {
    fn error(&self) -> anyhow::Error {
        match self {
            Failed(shown, true) => Transient(shown.clone()).into(),
            Failed(shown, false) => anyhow!("{shown}"),
        }
    }
}

/// The lanes of one target.
#[derive(Default)]
pub struct Pool {
    lanes: Mutex<Vec<Arc<Lane>>>,
    /// A session opened in the background failed: no more are opened while one is usable.
    refused: Arc<AtomicBool>,
}

impl Pool {
    /// Keeps a lane handed out elsewhere ([`Lane::open`]) for later users.
    pub fn adopt(&self, lane: &Arc<Lane>) {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner()).push(lane.clone());
    }

    /// A lane for one more user: the least used one with room; else, while one is open, a new
    /// one opened in the background (or, after a server refused one, the least used open
    /// one); else a new one opened now by this caller.
    pub fn take(&self, connect: &Connect) -> Result<Arc<Lane>> {
        let (lane, now) = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes.retain(|l| l.usable() || l.users.load(Ordering::Relaxed) > 0);
            let users = |l: &&Arc<Lane>| l.users.load(Ordering::Relaxed);
            let usable = || lanes.iter().filter(|l| l.usable());
            let roomy = usable().filter(|l| users(l) < PER_SESSION).min_by_key(users).cloned();
            let open = usable().filter(|l| l.conn().is_some()).min_by_key(users).cloned();
            let (lane, now) = match (roomy, open) {
                (Some(l), _) => (l, false),
                (None, Some(l)) if self.refused.load(Ordering::Relaxed) => (l, false),
                (None, Some(_)) => {
                    let fresh = Lane::fresh(0);
                    let (opening, refused, connect) = (fresh.clone(), self.refused.clone(), connect.clone());
                    std::thread::spawn(move || {
                        // Set however the opening ends (a panic included): users wait for it.
                        if opening.set(caught(|| connect())).is_err() {
                            refused.store(true, Ordering::Relaxed);
                        }
                    });
                    lanes.push(fresh.clone());
                    (fresh, false)
                }
                (None, None) => {
                    let fresh = Lane::fresh(0);
                    lanes.push(fresh.clone());
                    (fresh, true)
                }
            };
            lane.users.fetch_add(1, Ordering::Relaxed);
            (lane, now)
        };
        if now && let Err(e) = lane.set(caught(|| connect())) {
            self.release(&lane);
            return Err(e);
        }
        Ok(lane)
    }

    /// The least used open session, for a user whose own is still being opened.
    pub fn any_open(&self) -> Option<Arc<Lane>> {
        let lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes
            .iter()
            .filter(|l| l.usable() && l.conn().is_some())
            .min_by_key(|l| l.users.load(Ordering::Relaxed))
            .cloned()
    }

    /// One user less (a target closed, or gave up its lost session).
    pub fn release(&self, lane: &Arc<Lane>) {
        lane.users.fetch_sub(1, Ordering::Relaxed);
    }

    /// Drops every session (the target is dropped).
    pub fn clear(&self) {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opening_that_panics_is_a_failed_session_not_one_waited_for() {
        let pool = Pool::default();
        let connect: Connect = Arc::new(|| panic!("a login that fails badly"));
        let err = pool.take(&connect).err().expect("the session did not open");
        assert!(format!("{err:#}").contains("a login that fails badly"), "{err:#}");
        // The lane is failed, not half open: nobody waits for it.
        assert!(pool.lanes.lock().unwrap().iter().all(|l| !l.opening()));
    }
}
