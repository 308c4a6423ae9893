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
//! A session that failed (a lost connection) is marked lost: nobody is given it again, and
//! each of its users gets a session of the pool (a new one when none has room) on its next
//! request, so one lost connection costs one new login per [`PER_SESSION`] workers, not one
//! per worker.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Result, anyhow};

use super::connect::Conn;
use crate::backend::{Transient, is_transient};

/// Workers sharing one session. Measured (2,000 files of 4 KiB at 20 ms, 4 sessions): 8 per
/// session 4.0 s, 16: 3.4 s, 32: 2.3-3.0 s, 64: 3.4 s. With 32, a plan of up to 32 changes
/// needs no login beyond the scan's.
pub const PER_SESSION: usize = 32;

/// One SSH session (with its SFTP channel), and who uses it.
pub struct Lane {
    /// Set once, by the worker that opens it (the others given this lane meanwhile wait).
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

    /// The session; `None` while it is being opened (only its opener asks then) or when
    /// opening it failed.
    pub fn conn(&self) -> Option<&Arc<Conn>> {
        self.conn.get().and_then(|c| c.as_ref().ok())
    }

    /// Marks the session lost (a request on it failed with the connection).
    pub fn lose(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    fn usable(&self) -> bool {
        !self.lost.load(Ordering::Relaxed) && self.conn().is_none_or(|c| !c.ssh.is_closed())
    }
}

/// Why a lane could not be opened, for those who waited for it: the error's text, and
/// whether it was [`Transient`].
struct Failed(String, bool);

/// The lanes of one target.
#[derive(Default)]
pub struct Pool {
    lanes: Mutex<Vec<Arc<Lane>>>,
}

impl Pool {
    /// Keeps a lane handed out elsewhere ([`Lane::open`]) for later users.
    pub fn adopt(&self, lane: &Arc<Lane>) {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner()).push(lane.clone());
    }

    /// A lane for one more user: the least used one with room, else a new one (opened with
    /// `connect`, by this caller, while others given the same lane wait for it).
    pub fn take(&self, connect: impl FnOnce() -> Result<Conn>) -> Result<Arc<Lane>> {
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes.retain(|l| l.usable() || l.users.load(Ordering::Relaxed) > 0);
            let roomy = lanes
                .iter()
                .filter(|l| l.usable() && l.users.load(Ordering::Relaxed) < PER_SESSION)
                .min_by_key(|l| l.users.load(Ordering::Relaxed))
                .cloned();
            let lane = roomy.unwrap_or_else(|| {
                let fresh =
                    Arc::new(Lane { conn: OnceLock::new(), users: AtomicUsize::new(0), lost: AtomicBool::new(false) });
                lanes.push(fresh.clone());
                fresh
            });
            lane.users.fetch_add(1, Ordering::Relaxed);
            lane
        };
        let mut failure = None;
        let opened = lane.conn.get_or_init(|| {
            connect().map(Arc::new).map_err(|e| {
                let shown = Failed(format!("{e:#}"), is_transient(&e));
                failure = Some(e);
                shown
            })
        });
        if opened.is_ok() {
            return Ok(lane);
        }
        self.release(&lane);
        lane.lose();
        // The opener reports the error itself (its kind decides about retries); those who
        // waited for it get its text.
        Err(failure.unwrap_or_else(|| match opened {
            Err(Failed(shown, true)) => Transient(shown.clone()).into(),
            Err(Failed(shown, false)) => anyhow!("{shown}"),
            Ok(_) => anyhow!("internal error: an open session refused"),
        }))
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
