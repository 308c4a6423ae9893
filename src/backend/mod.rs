//! Targets: the two sides of a synchronisation, behind one trait.
//!
//! A [`Target`] lists folders, streams files in and out, creates and removes entries. The
//! local folder ([`local::LocalTarget`]), the in-memory tree used by tests
//! ([`memory::MemoryTarget`]), FTP servers and SFTP servers ([`sftp::SftpTarget`]) all implement it, so scanning, planning and apply
//! never know which one they talk to. Writes are atomic: a file is written under a temporary
//! name and renamed into place only when complete.
//!
//! A target is one connection; [`Target::open_another`] opens an independent one so apply and
//! the scanner can work on several at once.

pub mod conformance;
pub mod copy;
pub mod ftp;
pub mod hash;
pub mod local;
pub mod memory;
pub mod pool;
pub mod secret;
pub mod sftp;
pub mod url;

use std::io::Read;

use anyhow::Result;

use crate::model::digest::{HashAlg, Hashed};
use crate::model::listing::Listing;
use crate::model::relpath::RelPath;
use crate::model::target::TargetInfo;
use crate::model::{Entry, Kind};

/// Network timeout in seconds when nobody says otherwise (`--timeout`).
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Attempts for a failed connection or transfer when nobody says otherwise (`--retries`).
pub const DEFAULT_RETRIES: u32 = 3;

/// Result of writing one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Bytes stored.
    pub bytes: u64,
    /// Whether the requested modification time was applied to the stored file.
    pub mtime_set: bool,
}

/// One small file for [`Target::write_staged_all`]: where it goes, its content, its time.
pub struct StagedFile<'a> {
    pub path: &'a RelPath,
    pub data: &'a [u8],
    pub mtime: Option<f64>,
}

/// Opens a new connection to a target ([`Target::opener`]).
pub type Opener = std::sync::Arc<dyn Fn() -> Result<Box<dyn Target>> + Send + Sync>;

/// Receives the content of a file being read.
pub type ReadSink<'a> = dyn FnMut(&mut dyn Read) -> Result<()> + 'a;

/// A last look at the destination of a write, just before it is replaced: fails unless the
/// entry found there (`None`: nothing) is the one that may be replaced.
pub type Guard<'a> = &'a dyn Fn(Option<&Entry>) -> Result<()>;

/// A folder's listing and the content of one of its files, read with it
/// ([`Target::list_dirs_reading`]).
pub type ListedWith = (Option<Listing>, Option<Vec<u8>>);

/// One side of a synchronisation.
pub trait Target: Send {
    fn info(&self) -> &TargetInfo;

    /// Lists a folder; `Ok(None)` if it does not exist. A folder that exists but cannot be
    /// read is an error, never an empty listing.
    fn list_dir(&mut self, dir: &RelPath) -> Result<Option<Listing>>;

    /// Lists several folders, in order (see [`Target::list_dir`]); a target may need fewer
    /// round trips for all of them than for each on its own.
    fn list_dirs(&mut self, dirs: &[RelPath]) -> Result<Vec<Option<Listing>>> {
        dirs.iter().map(|d| self.list_dir(d)).collect()
    }

    /// Lists several folders ([`Target::list_dirs`]) and, with each listing, the content of
    /// its file `name` where the target read it at the same time as the listing (`None`: not
    /// read, absent, or not read that way: the caller reads it if the listing shows it). A
    /// target whose reads cost round trips saves them here; by default nothing is read.
    fn list_dirs_reading(&mut self, dirs: &[RelPath], _name: &str) -> Result<Vec<ListedWith>> {
        Ok(self.list_dirs(dirs)?.into_iter().map(|l| (l, None)).collect())
    }

    /// Streams the content of a file to `sink`.
    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()>;

    /// Stores `data` as `path`, atomically replacing any existing file, and sets its
    /// modification time where the target allows.
    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written>;

    /// Like [`Target::write_file`], but the file found at `path` must pass `guard` first. FTP
    /// looks at it after the upload, just before the rename, in the same write as the upload's
    /// own checks, so the guard costs no round trip.
    fn replace_file(
        &mut self,
        path: &RelPath,
        data: &mut dyn Read,
        mtime: Option<f64>,
        guard: Guard<'_>,
    ) -> Result<Written> {
        let found = self.stat(path)?;
        guard(found.as_ref())?;
        self.write_file(path, data, mtime)
    }

    /// How many attempts in all a caller makes at [`Target::write_file`] when it fails
    /// transiently, reading the source again for each ([`with_write_attempts`]).
    fn write_attempts(&self) -> u32 {
        1
    }

    /// A hint that this connection's next operations are a batch of requests (a listing, say)
    /// and then a transfer: a target that can ready the transfer in the batch's round trip
    /// does (FTP: its data connection announced with `EPSV` behind the batch). Harmless when
    /// no transfer follows after all; nothing by default.
    fn expect_transfer(&mut self) {}

    /// A hint for the next [`Target::list_dirs`] (or [`Target::list_dirs_reading`]): the files
    /// each of its folders is expected to hold, one list per folder, in order. A target that
    /// asks each file's exact time apart from the listing (FTP listing over the control
    /// connection: `MDTM`) asks these in the listing's own write: one round trip instead of
    /// two where the listing shows no file that was not expected. A name that proves absent,
    /// or no file, costs its request and nothing else. Nothing by default.
    fn expect_files(&mut self, _names: Vec<Vec<String>>) {}

    /// Readies a transfer that may follow, now, while this connection has nothing else to
    /// do: FTP announces a data connection on its own (a round trip nothing waits for) and
    /// opens it, so that a transfer that comes soon needs no round trip for that. Harmless
    /// when none comes; nothing by default.
    fn ready_transfer(&mut self) {}

    /// How many of apply's workers one connection of `--workers` carries. One by default;
    /// a target whose connection takes the requests of several at once offers more (SFTP:
    /// one channel, many requests in flight), and its [`Target::opener`] shares connections.
    fn workers_per_session(&self) -> usize {
        1
    }

    /// Creates a folder (its parent exists).
    fn make_dir(&mut self, path: &RelPath) -> Result<()>;

    /// Removes a file.
    fn remove_file(&mut self, path: &RelPath) -> Result<()>;

    /// Removes an empty folder.
    fn remove_dir(&mut self, path: &RelPath) -> Result<()>;

    /// Writes `data` at exactly `path`, where nothing is visible yet: a temporary name
    /// ([`is_temp_name`](crate::model::listing::is_temp_name)) or a name inside a folder that
    /// has one (a staged apply). Nothing is renamed. The name is this run's own (its process id
    /// and a counter; leftovers of dead runs are removed before anything is staged), so a
    /// target may replace what is there (FTP's `STOR` does: a failed attempt's file) or refuse
    /// (the local folder, which then removes it first). Sets the modification time where the
    /// target allows; the caller compares the size stored ([`Written::bytes`]) with what it
    /// sent.
    fn write_staged(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written>;

    /// How many small files apply hands [`Target::write_staged_all`] at once. One by default
    /// (each goes to [`Target::write_staged`]); a target whose every file costs round trips
    /// however small it is, and that keeps many requests in flight on one connection, offers
    /// more (SFTP: a file's open, then its writes, time, size and close, for all at once).
    fn staged_batch(&self) -> usize {
        1
    }

    /// [`Target::write_staged`] for several small files in memory, each with its own result in
    /// the same order: a file that failed leaves the others' results standing (the caller
    /// writes it again the usual way, or gives up on it).
    fn write_staged_all(&mut self, files: &[StagedFile<'_>]) -> Vec<Result<Written>> {
        files.iter().map(|f| self.write_staged(f.path, &mut &f.data[..], f.mtime)).collect()
    }

    /// Renames an entry (a file, or a folder with everything in it) within the target. Nothing
    /// may exist at `to`: callers move an entry aside before another takes its name, so a
    /// server never has to replace one (some refuse, some do it silently).
    fn rename(&mut self, from: &RelPath, to: &RelPath) -> Result<()>;

    /// Renames several entries, in order ([`Target::rename`]); a target may send them all at
    /// once (FTP pipelines `RNFR`/`RNTO` where the server allows it). After an error, which of
    /// them ran is not known: the caller looks.
    fn rename_all(&mut self, renames: &[(RelPath, RelPath)]) -> Result<()> {
        renames.iter().try_for_each(|(from, to)| self.rename(from, to))
    }

    /// Whether a folder can be renamed (with its content). A staged apply that cannot creates
    /// new folders under their final names before its commit and moves a deleted folder's
    /// files aside one by one. FTP asks the server once (some refuse, see the README).
    fn renames_folders(&mut self) -> Result<bool> {
        Ok(true)
    }

    /// Removes an entry and everything in it (a backup, a staged folder); nothing there is no
    /// error. Temporary names inside are removed too.
    fn remove_tree(&mut self, path: &RelPath) -> Result<()> {
        let parent = self.list_dir(&path.parent())?.unwrap_or_default();
        let Some(found) = parent.entries.iter().chain(&parent.temporary).find(|e| e.name == path.name()) else {
            return Ok(());
        };
        if found.kind == Kind::File {
            return self.remove_file(path);
        }
        self.remove_folder(path)
    }

    /// Removes a folder known to be one, and everything in it (temporary names too); nothing
    /// there is no error. Unlike [`Target::remove_tree`] it does not look at the parent folder,
    /// which other connections may be changing meanwhile (a server may fail a listing then).
    fn remove_folder(&mut self, path: &RelPath) -> Result<()> {
        let Some(inside) = self.list_dir(path)? else { return Ok(()) };
        for e in inside.entries.iter().chain(&inside.temporary) {
            let p = path.join_unchecked(&e.name);
            if e.kind == Kind::Dir { self.remove_folder(&p)? } else { self.remove_file(&p)? }
        }
        self.remove_dir(path)
    }

    /// Removes entries whose kind is known (backups after a commit): a file with one command
    /// (falling back to [`Target::remove_tree`] when that fails, which also takes a file that
    /// is already gone), a folder with everything in it ([`Target::remove_folder`]). A target may
    /// send the files' removals all at once (FTP pipelines `DELE` where the server allows it).
    fn remove_all(&mut self, entries: &[(RelPath, Kind)]) -> Result<()> {
        for (path, kind) in entries {
            match kind {
                Kind::File => self.remove_file(path).or_else(|_| self.remove_tree(path))?,
                Kind::Dir => self.remove_folder(path)?,
            }
        }
        Ok(())
    }

    /// Removes a file with a temporary name ([`is_temp_name`](crate::model::listing::is_temp_name)) if it provably belongs to a run
    /// that is gone; `Ok(false)` when it is left (it may be a running one's) or was gone
    /// already. FTP: only while this connection holds the lock (no other run applies on the
    /// remote then); a local folder: when the process named in it no longer runs.
    fn remove_stale_temporary(&mut self, _path: &RelPath) -> Result<bool> {
        Ok(false)
    }

    /// Hashes files with `alg` without sending their content: an FTP server's own hashing
    /// (`HASH`, `XSHA256`...), a local folder reading its disk. One answer per path, in order:
    /// a digest, [`Hashed::Unsupported`] when this target cannot (the caller falls back, e.g.
    /// to downloading), or an error for that file (it could not be hashed: missing, a
    /// server failure). The outer error is the connection's. By default nothing is supported.
    fn hash_files(&mut self, paths: &[RelPath], alg: HashAlg) -> Result<Vec<Result<Hashed>>> {
        let why = format!("{} cannot compute {} itself", self.info().display, alg.name());
        Ok(paths.iter().map(|_| Ok(Hashed::Unsupported(why.clone()))).collect())
    }

    /// Looks up one entry; `Ok(None)` if it does not exist.
    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        if path.is_root() {
            return Ok(Some(Entry::dir("", 0.0)));
        }
        let listing = self.list_dir(&path.parent())?;
        Ok(listing.and_then(|l| l.entries.into_iter().find(|e| e.name == path.name())))
    }

    /// Looks up several entries at once (`None`: absent, or its folder is), with times as
    /// exact as listings give them: by default from the listings of their folders, listed
    /// together ([`Target::list_dirs`]). FTP asks for each entry itself, all in one write.
    fn look_up_all(&mut self, paths: &[RelPath]) -> Result<Vec<Option<Entry>>> {
        look_up_by_listing(self, paths)
    }

    /// Something that opens independent connections to the same target, from any thread.
    fn opener(&self) -> Opener;

    /// Opens an independent connection to the same target.
    fn open_another(&self) -> Result<Box<dyn Target>> {
        (self.opener())()
    }

    /// Takes the target's lock before apply changes anything (FTP: `.pyftpsync-lock.json` in
    /// the root; folders need none). Returns remarks for the user (a stale lock replaced...).
    fn lock(&mut self, break_lock: bool) -> Result<Vec<String>> {
        let mut notes = self.begin_lock(break_lock)?;
        notes.extend(self.confirm_lock()?);
        self.settle_lock()?;
        Ok(notes)
    }

    /// The first half of [`Target::lock`]: claims the lock, so that a run starting from now
    /// on sees it. Nothing may be changed until [`Target::confirm_lock`] proved it ours; apply
    /// checks its plan meanwhile.
    fn begin_lock(&mut self, _break_lock: bool) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// The second half of [`Target::lock`]: makes sure the claimed lock is ours (replacing a
    /// stale one, or failing when another run holds it). A target may leave a last look at
    /// the lock to [`Target::settle_lock`].
    fn confirm_lock(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Whether apply's first connection writes a staged apply's journals while the others
    /// check the plan (`apply::check_while_locking`), rather than while they start
    /// transferring. Worth it where confirming the lock keeps that connection busy for round
    /// trips of its own (FTP). A target whose lock is confirmed at once says no: there the
    /// journal (written aside, then renamed: three round trips on SFTP) would take longer
    /// than the check (two) and hold up the first transfer.
    fn journal_while_checking(&self) -> bool {
        true
    }

    /// Takes the last look at a confirmed lock that the target put off until the first change
    /// others can see (FTP: see `ftp::lock_gate`). The target does this itself before each of
    /// its own changes; apply calls it before changing the other side. Fails with
    /// [`LockLost`] when another run's lock replaced ours.
    fn settle_lock(&mut self) -> Result<()> {
        Ok(())
    }

    /// Reads the lock again just before a commit's burst of renames: fails with [`LockLost`]
    /// unless it is still ours (a staged apply may have taken long enough for another run to
    /// break it).
    fn reconfirm_lock(&mut self) -> Result<()> {
        Ok(())
    }

    /// Whether the target holds one entry for names that differ only in case (a Windows/IIS
    /// server). FTP asks the server (after [`Target::lock`]: it looks up the lock file under
    /// another spelling); other targets say no.
    fn folds_case(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// Releases the lock taken by [`Target::lock`].
    fn unlock(&mut self) -> Result<()> {
        Ok(())
    }

    /// [`Target::unlock`] for a caller that has just found the lock ours with
    /// [`Target::reconfirm_lock`] on this connection, nothing else having run on it since: a
    /// target may remove it without reading it again. The reading happened as long before the
    /// removal as it would have in [`Target::unlock`]: one round trip.
    fn unlock_reconfirmed(&mut self) -> Result<()> {
        self.unlock()
    }

    /// The server's clock minus ours (estimated when locking): shifts the upload times kept in
    /// `mtimes` so they compare with the server's times.
    fn time_offset(&self) -> f64 {
        0.0
    }

    /// Ends the session (logs out, removes a lock); further calls are errors.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// [`Target::look_up_all`] from the listings of the entries' folders.
pub fn look_up_by_listing<T: Target + ?Sized>(target: &mut T, paths: &[RelPath]) -> Result<Vec<Option<Entry>>> {
    let mut folders: Vec<RelPath> = paths.iter().map(RelPath::parent).collect();
    folders.sort();
    folders.dedup();
    let listings = target.list_dirs(&folders)?;
    Ok(paths
        .iter()
        .map(|p| {
            let at = folders.binary_search(&p.parent()).expect("every entry's folder was listed");
            listings[at].as_ref().and_then(|l| l.entries.iter().find(|e| e.name == p.name()).cloned())
        })
        .collect())
}

/// Reads a whole (small) file into memory.
pub fn read_to_vec(target: &mut dyn Target, path: &RelPath) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    target.read_file(path, &mut |r| {
        r.read_to_end(&mut out)?;
        Ok(())
    })?;
    Ok(out)
}

/// Marks an error that may go away when the operation is tried again: a lost connection, a
/// timeout, a busy server.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

/// True when an error (anywhere in its chain) is [`Transient`], or an [`Unreadable`] folder
/// worth reading again.
pub fn is_transient(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<Transient>().is_some() || e.downcast_ref::<Unreadable>().is_some_and(|u| u.again))
}

/// A folder whose listing cannot be trusted: not wholly understood (error text in it, an
/// unknown line), cut short, or refused although the folder can be entered. Never an empty
/// or partial listing: the plan stops, or with `--skip-unreadable` leaves the folder alone.
#[derive(Debug, thiserror::Error)]
#[error(
    "the folder {folder} on {server} is unreadable: {why} (pass --skip-unreadable to leave it out, or report the server's listing)"
)]
pub struct Unreadable {
    /// The folder as the server names it.
    pub folder: String,
    pub server: String,
    /// What was wrong, quoting the server.
    pub why: String,
    /// Reading it again may help (a listing refused once).
    pub again: bool,
}

/// The [`Unreadable`] folder of an error (anywhere in its chain).
pub fn unreadable_of(err: &anyhow::Error) -> Option<&Unreadable> {
    err.chain().find_map(|e| e.downcast_ref::<Unreadable>())
}

/// Another run's lock replaced ours after it was confirmed: nothing may be changed, and the
/// whole run stops (not only the action that found out).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LockLost(pub String);

/// True when an error (anywhere in its chain) is [`LockLost`].
pub fn is_lock_lost(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<LockLost>().is_some())
}

/// The server refused the user name or password (`530` to `USER` or `PASS`): trying again
/// with the same credentials cannot help, asking for them again may.
#[derive(Debug, thiserror::Error)]
#[error("login as {user:?} to {server} failed: wrong user name or password")]
pub struct LoginRefused {
    pub user: String,
    /// The server as shown to people.
    pub server: String,
}

/// True when an error (anywhere in its chain) is [`LoginRefused`].
pub fn is_login_refused(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<LoginRefused>().is_some())
}

/// Runs `write` (a [`Target::write_file`] from a source it opens afresh) up to `attempts`
/// times while it fails transiently, pausing 250 ms, 500 ms, ... in between.
pub fn with_write_attempts<T>(attempts: u32, mut write: impl FnMut() -> Result<T>) -> Result<T> {
    let attempts = attempts.max(1);
    let mut pause = std::time::Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match write() {
            Err(e) if is_transient(&e) && attempt < attempts => {
                std::thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            Err(e) if is_transient(&e) && attempts > 1 => {
                return Err(e.context(format!("gave up after {attempts} attempts")));
            }
            other => return other,
        }
    }
}

/// Whether the process `pid` of this host is known to be gone (Linux `/proc`; where there is
/// none, nothing is known and every process counts as running).
pub fn process_gone(pid: u32) -> bool {
    std::path::Path::new("/proc/self").exists() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}
