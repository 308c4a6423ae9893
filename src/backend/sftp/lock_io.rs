//! The lock's I/O over SFTP ([`LockIo`] for [`SftpTarget`]), and the lock checks the target
//! makes while it holds it: created with its content, the server's time of it and the close
//! in one train of requests; read back with two reads at once (a lock check costs two round
//! trips); rewritten aside and renamed over the old one when it gets old. When a lock may be
//! taken is [`super::lockfile`]'s.

use anyhow::{Result, bail};
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};

use super::SftpTarget;
use super::errors::{failed, is_missing};
use super::lockfile::{self, LockIo};
use super::transfer::{self, send};
use crate::backend::Target;
use crate::backend::ftp::lock::LockFile;
use crate::meta::LOCK_FILE;
use crate::model::relpath::RelPath;

impl LockIo for SftpTarget {
    fn create_exclusive(&mut self, content: &LockFile) -> Result<bool> {
        let abs = self.lock_abs();
        let bytes = content.to_bytes();
        let (created, stamped) = self.retry(|s| {
            let (abs, bytes) = (abs.clone(), bytes.clone());
            async move {
                let flags = OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE;
                let h = match s.open(abs.clone(), flags, FileAttributes::empty()).await {
                    Ok(h) => h.handle,
                    // SFTP version 3 has no "exists" code (OpenSSH says "Failure"): whether a
                    // lock is there is read next, and a real failure shows there.
                    Err(russh_sftp::client::error::Error::Status(_)) => return Ok((false, None)),
                    Err(e) => return Err(failed(e, &format!("cannot create the lock {abs}"))),
                };
                // One train: the content, its time as the server stamped it (the server's
                // clock, `learn_time_offset`), the close.
                let (sw, hw, sf, hf) = (s.clone(), h.clone(), s.clone(), h.clone());
                let written = send(async move { sw.write(hw, 0, bytes).await.map(drop) });
                let stat = send(async move { sf.fstat(hf).await });
                let closed = send(async move { s.close(h).await.map(drop) });
                let (written, stat, closed) = (written.await, stat.await, closed.await);
                written.and(closed).map_err(|e| failed(e, &format!("cannot write the lock {abs}")))?;
                Ok((true, stat.ok().and_then(|a| a.attrs.mtime)))
            }
        })?;
        self.lock_stamped = stamped.map(f64::from);
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

    /// Rewrites the lock when it is getting old (called while applying).
    pub(super) fn refresh_lock(&mut self) -> Result<()> {
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
        self.retry(|s| {
            let abs = abs.clone();
            async move {
                let h = match s.open(abs.clone(), OpenFlags::READ, FileAttributes::empty()).await {
                    Ok(h) => h.handle,
                    Err(e) if is_missing(&e) => return Ok(None),
                    Err(e) => return Err(failed(e, &format!("cannot read {abs}"))),
                };
                // The first two reads at once: a file shorter than one read costs two round
                // trips (the open, then its content and the end).
                let chunk = transfer::CHUNK as u32;
                let (s1, h1, s2, h2) = (s.clone(), h.clone(), s.clone(), h.clone());
                let first = send(async move { s1.read(h1, 0, chunk).await });
                let second = send(async move { s2.read(h2, u64::from(chunk), chunk).await });
                let is_end = |r: &Result<_, russh_sftp::client::error::Error>| {
                    matches!(r, Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::Eof)
                };
                let (first, second) = (first.await, second.await);
                let whole = match (&first, is_end(&second)) {
                    (Ok(d), true) if d.data.len() < transfer::CHUNK => Some(d.data.clone()),
                    (r, true) if is_end(r) => Some(Vec::new()),
                    _ => None,
                };
                if let Some(whole) = whole {
                    drop(send(async move { s.close(h).await }));
                    return Ok(Some(whole));
                }
                // Longer (or answered otherwise): read on, one read at a time.
                let mut out = Vec::new();
                loop {
                    match s.read(h.clone(), out.len() as u64, transfer::CHUNK as u32).await {
                        Ok(d) if d.data.is_empty() => break,
                        Ok(d) => out.extend_from_slice(&d.data),
                        Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::Eof => break,
                        Err(e) => {
                            drop(send(async move { s.close(h).await }));
                            return Err(failed(e, &format!("cannot read {abs}")));
                        }
                    }
                    if out.len() > 1 << 20 {
                        drop(send(async move { s.close(h).await }));
                        bail!("{abs} is larger than a lock file can be");
                    }
                }
                let _ = s.close(h).await;
                Ok(Some(out))
            }
        })
    }
}
