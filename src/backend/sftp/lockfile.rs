//! The remote lock `.pyftpsync-lock.json` on an SFTP server: created exclusively
//! (`SSH_FXF_EXCL`), so of two runs starting together exactly one creates it and the other
//! finds it. A lock found there is judged as on FTP (`ftp::lock::judge`: fresh, stale or
//! broken with `--break-lock`); a stale one is removed and the exclusive creation tried once
//! more. The I/O is the target's ([`LockIo`]).

use anyhow::{Result, bail};

use crate::backend::ftp::lock::{self, LockFile, Verdict};
use crate::meta::LOCK_FILE;
use crate::model::SystemClock;
use crate::model::clock::Clock;

/// Our lock, while we hold it.
pub struct Held {
    pub content: LockFile,
    pub written: f64,
}

/// What taking the lock needs of the target.
pub trait LockIo {
    /// Creates the lock file exclusively; `Ok(false)` when one is there already.
    fn create_exclusive(&mut self, content: &LockFile) -> Result<bool>;
    /// The lock file's content, `None` when there is none.
    fn read_lock(&mut self) -> Result<Option<Vec<u8>>>;
    fn remove_lock(&mut self) -> Result<()>;
    /// The target as people know it.
    fn shown(&self) -> String;
}

/// Takes the lock; our lock and remarks for the user (a stale lock replaced...).
pub fn take(io: &mut dyn LockIo, break_lock: bool) -> Result<(Held, Vec<String>)> {
    let mut notes = Vec::new();
    let me = lock::me();
    let mut content = LockFile { lock_time: SystemClock.now(), lock_holder: Some(me.clone()) };
    for attempt in 0..2 {
        if io.create_exclusive(&content)? {
            let written = content.lock_time;
            return Ok((Held { content, written }, notes));
        }
        let Some(found) = io.read_lock()? else {
            if attempt == 0 {
                continue; // removed meanwhile: try again
            }
            bail!("cannot create the lock {LOCK_FILE} on {}", io.shown());
        };
        if attempt > 0 {
            bail!("{}", crate::backend::ftp::lock_gate::raced(&io.shown(), LockFile::parse(&found)));
        }
        match LockFile::parse(&found) {
            None => notes.push(format!("Replacing an unreadable lock {LOCK_FILE}.")),
            Some(other) => match lock::judge(Some(&other), SystemClock.now(), &me) {
                Verdict::Free => {}
                Verdict::Stale(why) => notes.push(format!("Replacing a stale lock {LOCK_FILE} of {why}.")),
                Verdict::Held(who) if break_lock => {
                    notes.push(format!("Breaking the lock {LOCK_FILE} of {who} (--break-lock)."))
                }
                Verdict::Held(who) => bail!(
                    "{} is locked by {who} ({LOCK_FILE} in the remote folder): another run is applying changes. Wait for it to finish, or pass --break-lock if it is dead",
                    io.shown()
                ),
            },
        }
        io.remove_lock()?;
        content.lock_time = SystemClock.now();
    }
    bail!("cannot take the lock {LOCK_FILE} on {}", io.shown())
}

/// Whether a lock taken at `written` is due to be rewritten at `now`.
pub fn refresh_due(written: f64, now: f64) -> bool {
    now - written > lock::REFRESH_EVERY
}
