//! The lock's I/O over SFTP ([`LockIo`] for [`SftpTarget`]), and the lock checks the target
//! makes while it holds it: created with its content, the server's time of it and the close
//! in one train of requests; read back whole ([`small`]: a lock check costs two round trips);
//! rewritten aside and renamed over the old one when it gets old. When a lock may be
//! taken is [`super::lockfile`]'s.

use anyhow::{Result, bail};
use russh_sftp::protocol::{FileAttributes, OpenFlags};

use super::errors::failed;
use super::lockfile::{self, LockIo};
use super::transfer::send;
use super::{LockWriting, SftpTarget, small};
use crate::backend::Target;
use crate::backend::ftp::lock::LockFile;
use crate::backend::is_transient;
use crate::meta::LOCK_FILE;
use crate::model::relpath::RelPath;

/// Larger than any lock file: what is read back as the lock is never more.
const LOCK_LIMIT: usize = 1 << 20;

impl LockIo for SftpTarget {
    /// Returns once the server created the file: the lock is claimed then (no other run can
    /// create it). Its content, the server's time of it and the close are sent at once in one
    /// train, and their answers awaited when the lock is confirmed
    /// ([`SftpTarget::settle_lock_write`]): apply checks its plan meanwhile.
    fn create_exclusive(&mut self, content: &LockFile) -> Result<bool> {
        let abs = self.lock_abs();
        let bytes = content.to_bytes();
        let writing = self.retry(|s| {
            let (abs, bytes) = (abs.clone(), bytes.clone());
            async move {
                let flags = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
                let h = match s.open(abs.clone(), flags, FileAttributes::empty()).await {
                    Ok(h) => h.handle,
                    // SFTP version 3 has no "exists" code (OpenSSH says "Failure"): whether a
                    // lock is there is read next, and a real failure shows there.
                    Err(russh_sftp::client::error::Error::Status(_)) => return Ok(None),
                    Err(e) => return Err(failed(e, &format!("cannot create the lock {abs}"))),
                };
                // One train: the content, its time as the server stamped it (the server's
                // clock, `learn_time_offset`), the close.
                let (sw, hw, sf, hf) = (s.clone(), h.clone(), s.clone(), h.clone());
                let written = send(async move { sw.write(hw, 0, bytes).await.map(drop) });
                let stat = send(async move { sf.fstat(hf).await });
                let closed = send(async move { s.close(h).await.map(drop) });
                Ok(Some(LockWriting { written, stat, closed }))
            }
        })?;
        let created = writing.is_some();
        self.lock_writing = writing;
        Ok(created)
    }

    fn read_lock(&mut self) -> Result<Option<Vec<u8>>> {
        self.read_small(&self.lock_abs())
    }

    fn remove_lock(&mut self) -> Result<()> {
        let abs = self.lock_abs();
        self.simple(format!("cannot remove the lock {abs}"), |s| {
            let abs = abs.clone();
            async move { s.remove(abs).await.map(drop) }
        })
    }

    fn shown(&self) -> String {
        self.info.display.clone()
    }
}

impl SftpTarget {
    pub(super) fn lock_abs(&self) -> String {
        self.abs(&RelPath::root().join_unchecked(LOCK_FILE))
    }

    /// The server's clock, from the time it gave the lock file written at `written`.
    pub(super) fn learn_time_offset(&mut self, written: f64) {
        let stamped = match self.lock_stamped.take() {
            Some(t) => Some(t),
            None => self.stat(&RelPath::root().join_unchecked(LOCK_FILE)).ok().flatten().map(|e| e.mtime),
        };
        if let Some(t) = stamped {
            *self.shared.time_offset.lock().unwrap_or_else(|e| e.into_inner()) = t - written.floor();
        }
    }

    /// Awaits the answers to the lock's content ([`LockIo::create_exclusive`]), before anything
    /// else is done with the lock or changed. When they did not come (the connection was
    /// lost), the file, ours, is replaced on another connection.
    pub(super) fn settle_lock_write(&mut self) -> Result<()> {
        let abs = self.lock_abs();
        for _ in 0..self.shared.options.retries.max(1) {
            let Some(w) = self.lock_writing.take() else { return Ok(()) };
            let shared = self.shared.clone();
            let (written, stat, closed) =
                shared.rt().block_on(async move { (w.written.await, w.stat.await, w.closed.await) });
            match written.and(closed).map_err(|e| failed(e, &format!("cannot write the lock {abs}"))) {
                Ok(()) => {
                    self.lock_stamped = stat.ok().and_then(|a| a.attrs.mtime).map(f64::from);
                    if let Some(written) = self.lock.as_ref().map(|h| h.content.lock_time) {
                        self.learn_time_offset(written);
                    }
                    return Ok(());
                }
                Err(e) if is_transient(&e) => {
                    self.lost();
                    // The file is ours (created exclusively just now), whatever it holds:
                    // replaced with the same content, as an unreadable lock would be.
                    let Some(content) = self.lock.as_ref().map(|h| h.content.clone()) else { return Err(e) };
                    self.remove_lock()?;
                    if !self.create_exclusive(&content)? {
                        bail!("{}", crate::backend::ftp::lock_gate::raced(&self.info.display, None));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.lock_writing = None;
        bail!("cannot write the lock {abs}: gave up after {} attempts", self.shared.options.retries.max(1))
    }

    /// Rewrites the lock when it is getting old (called while applying).
    pub(super) fn refresh_lock(&mut self) -> Result<()> {
        self.settle_lock_write()?;
        let now = crate::model::Clock::now(&crate::model::SystemClock);
        let Some(held) = self.lock.as_ref().filter(|h| lockfile::refresh_due(h.written, now)) else { return Ok(()) };
        let content = LockFile { lock_time: now, lock_holder: held.content.lock_holder.clone() };
        // Written aside and renamed over the old one: the lock is never missing or half written.
        self.store(&RelPath::root().join_unchecked(LOCK_FILE), &mut content.to_bytes().as_slice(), None, None)?;
        self.lock = Some(lockfile::Held { content, written: now });
        Ok(())
    }
}

impl SftpTarget {
    /// Reads a small file (the lock), `None` if it does not exist.
    pub(super) fn read_small(&mut self, abs: &str) -> Result<Option<Vec<u8>>> {
        let abs = abs.to_string();
        self.retry(|s| small::read_whole(s, abs.clone(), LOCK_LIMIT))
    }
}
