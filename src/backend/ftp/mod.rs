//! FTP/FTPS servers as a target.
//!
//! [`listing`] turns what a server sends on the data connection for `MLSD` or `LIST` into
//! entries, without any I/O and without trusting a single name, size or time it contains.
//! [`FtpTarget`] is one logged-in connection: binary mode, `MLSD` (or `LIST` plus `MDTM` for
//! servers without it), uploads under a temporary name that are checked (`SIZE`) and renamed
//! into place, modification times set where the server allows ([`mtime`]), reconnects and
//! bounded retries for transient failures, and the remote lock ([`lock`]). Every optional
//! command is judged by the server's answer, not by `FEAT`: one it does not implement falls
//! back to the next method, for all the target's connections ([`learned`]).
//!
//! A connection is a [`session`] (connect, TLS, login), prepared after login by `setup`; what
//! the server announced is its [`features`], and [`errors`] sorts failures into those worth a
//! retry and final ones. [`hash`] has the server hash its own files (`HASH`, `XSHA256`) for
//! `ftpsync verify`.

pub mod ahead;
pub mod encoding;
pub mod errors;
pub mod features;
pub mod hash;
pub mod learned;
pub mod list_method;
pub mod listing;
pub mod lock;
pub mod lock_gate;
pub mod mtime;
pub mod ops;
pub mod plain_stat;
pub mod session;
mod setup;
pub mod spare;
pub mod tls;
mod upload;
pub mod wire;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use self::ahead::TimesAhead;
use self::errors::{failed, refused};
use self::lock::{LockFile, Verdict};
use self::ops::{ByStat, Watched, entered_ok, exists, list, list_by_stat_only, mlst, read_small, stat_safe};
use self::session::{Session, Settings, Turn};
use self::spare::Spare;
use self::wire::Direction;
use super::{Guard, ListedWith, ReadSink, Target, Written, is_transient};
use crate::error::caught::caught;
use crate::meta::{JOURNAL_FILE, LOCK_FILE};
use crate::model::listing::{Listing, TEMP_PREFIX, is_temp_name};
use crate::model::relpath::RelPath;
use crate::model::target::{TargetInfo, TargetKind};
use crate::model::{Clock, Entry, Kind, SystemClock};

/// Options of an FTP target beyond the connection itself.
#[derive(Clone, Debug)]
pub struct Options {
    /// Attempts for an operation that failed transiently (reconnecting in between).
    pub retries: u32,
    /// `--create-folder`: a missing root folder is planned as empty and created by apply.
    pub create_root: bool,
}

/// State shared by all connections of one target.
/// `RNFR`/`RNTO` pairs sent in one write ([`Target::rename_all`]): some 4 KiB of commands.
const RENAMES_PER_WRITE: usize = 32;

/// How an upload's temporary file takes its name: after the lock's last look (a change others
/// see), or without one ([`unseen`]).
#[derive(Clone, Copy)]
enum Rename {
    Settled,
    Unseen,
}

/// Names that are no part of the site: temporary names (staged entries, backups) and the
/// commit journal.
fn unseen(path: &RelPath) -> bool {
    path.components().any(is_temp_name) || is_journal(path)
}

fn is_journal(path: &RelPath) -> bool {
    path.parent().is_root() && path.name() == JOURNAL_FILE
}

struct Shared {
    settings: Settings,
    options: Options,
    mtime: mtime::Shared,
    temp_counter: AtomicU64,
    /// Logged-in connections not in use, and those logging in ahead.
    spare: Spare<Session>,
    /// Whether (and how) the server lists folders over the control connection, as learnt.
    stat_mode: plain_stat::Learning,
    /// The last look at our lock, before the first change others can see.
    gate: lock_gate::Gate,
    /// The server's clock minus ours, learnt when the lock is confirmed.
    time_offset: Mutex<f64>,
    /// How folders are listed here (`MLSD`, `LIST -a`, `LIST`), as learnt so far.
    list_method: list_method::ListMethod,
    /// The server's optional commands that work, and those it refused.
    learned: Arc<learned::Learned>,
    /// Whether folders can be renamed here, once probed ([`Target::renames_folders`]).
    folder_rename: std::sync::OnceLock<bool>,
    /// How the server hashes files, as learnt so far ([`Target::hash_files`]).
    hashing: hash::State,
}

impl Drop for Shared {
    fn drop(&mut self) {
        Session::quit_all(self.spare.drain());
    }
}

/// One connection to an FTP server, rooted at the URL's folder.
pub struct FtpTarget {
    shared: Arc<Shared>,
    info: TargetInfo,
    session: Option<Session>,
    root_missing: bool,
    lock: Option<Held>,
    pending_lock: Option<PendingLock>,
    /// The files the next listing's folders are expected to hold (`Target::expect_files`).
    expected: Option<Vec<Vec<String>>>,
}

/// Our lock, while we hold it.
struct Held {
    content: LockFile,
    written: f64,
}

/// Our lock line, appended but not yet proven first in the file.
struct PendingLock {
    content: LockFile,
    break_lock: bool,
    /// When our line was appended, and how long that took.
    appended: std::time::Instant,
    took: Duration,
    /// Another lock was removed to make way for ours.
    replaced: bool,
}

impl FtpTarget {
    /// Connects and checks the root folder.
    pub fn open(settings: Settings, options: Options) -> Result<FtpTarget> {
        FtpTarget::open_ahead(settings, options, 0)
    }

    /// [`FtpTarget::open`], with `ahead` more connections the run foresees work for logging in
    /// beside the first ([`spare`]).
    pub fn open_ahead(settings: Settings, options: Options, ahead: usize) -> Result<FtpTarget> {
        let url = &settings.url;
        let info = TargetInfo {
            kind: TargetKind::Ftp,
            url: url.redacted(),
            id: url.id(),
            display: url.display(),
            records_mtimes: true,
            host_key: None,
        };
        let learned: Arc<learned::Learned> = Default::default();
        let list_method = list_method::ListMethod::new(url.display(), learned.clone());
        let shared = Arc::new(Shared {
            settings,
            options,
            mtime: Default::default(),
            temp_counter: AtomicU64::new(0),
            spare: Spare::default(),
            stat_mode: Default::default(),
            gate: Default::default(),
            time_offset: Mutex::new(0.0),
            list_method,
            learned,
            folder_rename: std::sync::OnceLock::new(),
            hashing: Default::default(),
        });
        log_in_ahead(&shared, ahead);
        let first = Session::open_in_turn(&shared.settings, &shared.learned, Turn::First(&shared.spare));
        shared.spare.verdict(first.is_ok());
        let mut target = FtpTarget {
            shared,
            info,
            session: None,
            root_missing: false,
            lock: None,
            pending_lock: None,
            expected: None,
        };
        // Entered (at login), not listed: the scan lists it (one listing per folder, and the
        // first listing learns whether the server lists over the control connection).
        let entered = target.session.insert(first?).take_entered();
        let root = target.abs(&RelPath::root());
        let exists_now = match entered {
            Some(reply) => entered_ok(&reply, &root)?,
            None => target.retry(|s| exists(s, &root))?,
        };
        if !exists_now {
            if !target.shared.options.create_root {
                bail!(
                    "the remote folder {} does not exist on {} (pass --create-folder to create it)",
                    target.shared.settings.url.path,
                    target.info.display
                );
            }
            target.root_missing = true;
        }
        Ok(target)
    }

    fn connect(&mut self) -> Result<&mut Session> {
        if self.session.is_none() {
            self.session = Some(Session::open_learning(&self.shared.settings, &self.shared.learned)?);
        }
        Ok(self.session.as_mut().expect("just connected"))
    }

    /// The absolute server path of a relative path.
    fn abs(&self, path: &RelPath) -> String {
        let root = self.shared.settings.url.path.trim_end_matches('/');
        if path.is_root() { if root.is_empty() { "/".into() } else { root.into() } } else { format!("{root}/{path}") }
    }

    /// Runs `op` on a live session, reconnecting and trying again (with growing pauses) while
    /// it fails transiently. A session left out of step (a reply still outstanding) is dropped.
    fn retry<T>(&mut self, mut op: impl FnMut(&mut Session) -> Result<T>) -> Result<T> {
        let attempts = self.shared.options.retries.max(1);
        let mut pause = Duration::from_millis(250);
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(pause);
                pause *= 2;
            }
            let mut session = match self.session.take() {
                Some(s) => s,
                None => match Session::open_learning(&self.shared.settings, &self.shared.learned) {
                    Ok(s) => s,
                    Err(e) if is_transient(&e) => {
                        last = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            session.refresh();
            let result = op(&mut session);
            let healthy = session.healthy();
            match result {
                // The connection is suspect: drop it and start over.
                Err(e) if is_transient(&e) => last = Some(e),
                other => {
                    if healthy {
                        self.session = Some(session);
                    }
                    return other;
                }
            }
        }
        let e = last.unwrap_or_else(|| anyhow!("no attempt was made"));
        Err(e.context(format!("gave up after {attempts} attempts")))
    }

    /// Lists a folder; `None` if it does not exist.
    fn list_raw(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        let (abs, shared) = (self.abs(dir), self.shared.clone());
        self.retry(|s| list(s, &abs, None, &shared.list_method))
    }

    /// A temporary name next to `path`; the journal's keeps its name as a suffix (as a staged
    /// metadata file does), so that whoever lists the folder can tell what is being written.
    fn temp_name(&self, path: &RelPath) -> RelPath {
        let n = self.shared.temp_counter.fetch_add(1, Ordering::Relaxed);
        let suffix = if is_journal(path) { JOURNAL_FILE } else { "" };
        path.parent().join_unchecked(&format!("{TEMP_PREFIX}{}-{n}{suffix}", std::process::id()))
    }

    /// Rewrites the lock when it is getting old (called while applying).
    fn refresh_lock(&mut self) -> Result<()> {
        let now = SystemClock.now();
        let due = self.lock.as_ref().is_some_and(|h| now - h.written > lock::REFRESH_EVERY);
        if due {
            let content = LockFile { lock_time: now, lock_holder: Some(lock::me()) };
            self.store(&RelPath::root().join_unchecked(LOCK_FILE), &mut content.to_bytes().as_slice(), None, None)?;
            self.lock = Some(Held { content, written: now });
        }
        Ok(())
    }

    /// Uploads under a temporary name and renames into place ([`upload::store`]).
    fn store(
        &mut self,
        path: &RelPath,
        data: &mut dyn Read,
        mtime: Option<f64>,
        guard: Option<Guard<'_>>,
    ) -> Result<Written> {
        let tmp = self.abs(&self.temp_name(path));
        let dest = self.abs(path);
        let rename = if unseen(path) { Rename::Unseen } else { Rename::Settled };
        self.upload(&tmp, &dest, data, mtime, guard, Some(rename))
    }

    /// Uploads to `tmp`, checked, and (with `rename`) renames it to `dest` ([`upload::store`]);
    /// removes `tmp` after a failure.
    fn upload(
        &mut self,
        tmp: &str,
        dest: &str,
        data: &mut dyn Read,
        mtime: Option<f64>,
        guard: Option<Guard<'_>>,
        rename: Option<Rename>,
    ) -> Result<Written> {
        let lock_abs = self.lock_abs();
        let shared = self.shared.clone();
        let s = self.connect()?;
        s.refresh();
        let settle = |s: &mut Session| match rename {
            Some(Rename::Settled) => Self::settle_on(&shared, s, &lock_abs).map(drop),
            _ => Ok(()),
        };
        let rename = rename.is_some();
        let up = upload::Upload { tmp, dest, mtime, guard, settle: &settle, list_method: &shared.list_method, rename };
        let result = upload::store(s, &shared.mtime, &up, data);
        if let Err(e) = &result {
            self.discard(tmp, is_transient(e));
        }
        result
    }

    /// Removes the temporary file of a failed upload. After a transient failure the connection
    /// is suspect: it is dropped, and if it could not remove the file, a new one does.
    fn discard(&mut self, tmp: &str, suspect: bool) {
        let dele = format!("DELE {tmp}");
        let healthy = self.session.as_ref().is_some_and(Session::healthy);
        // The server answered: the file is gone or was never created.
        let removed =
            healthy && self.session.as_mut().is_some_and(|s| s.exec(&dele, "removing a temporary file").is_ok());
        if (suspect || !removed)
            && let Some(s) = self.session.take()
        {
            s.quit();
        }
        if !removed && let Ok(s) = self.connect() {
            let _ = s.exec(&dele, "removing a temporary file");
        }
    }

    /// The absolute server path of the lock file.
    fn lock_abs(&self) -> String {
        self.abs(&RelPath::root().join_unchecked(LOCK_FILE))
    }

    /// Settles the lock on `s` ([`lock_gate`]): the second reading, where it is still due.
    /// Settles the lock on this session; whether that read it (the reading was still due).
    fn settle_on(shared: &Shared, s: &mut Session, lock_abs: &str) -> Result<bool> {
        let mut read = false;
        shared.gate.settle(|| {
            read = true;
            Ok(read_small(s, lock_abs).context("reading the lock")?.as_deref().and_then(LockFile::parse))
        })?;
        Ok(read)
    }

    /// The server's clock, from the time it gave the lock file written at `written`.
    fn learn_time_offset(&mut self, written: f64) {
        let mdtm = format!("MDTM {}", self.lock_abs());
        let read = |s: &mut Session| {
            if !s.features.mdtm {
                return Ok(None);
            }
            let reply = s.exec(&mdtm, "MDTM").ok();
            if let Some(r) = reply.as_ref().filter(|r| learned::unsupported(r.code)) {
                s.refuse(learned::Capability::Mdtm, &r.text());
            }
            Ok(reply.as_ref().and_then(mtime::parse_mdtm))
        };
        if let Ok(Some(t)) = self.retry(read) {
            *self.shared.time_offset.lock().unwrap_or_else(|e| e.into_inner()) = t as f64 - written.floor();
        }
    }

    /// Appends one lock line to the lock file.
    fn append_lock(&mut self, content: &LockFile) -> Result<()> {
        let abs = self.lock_abs();
        let mut line = content.to_bytes();
        line.push(b'\n');
        self.retry(|s| ops::append(s, &abs, &line))
    }

    /// Reads a small file (the lock), `None` if it does not exist.
    fn read_small(&mut self, path: &RelPath) -> Result<Option<Vec<u8>>> {
        let abs = self.abs(path);
        self.retry(|s| read_small(s, &abs)).context("reading the lock")
    }

    /// The lock's last look before a change others can see; none for a change under a
    /// temporary name (staged, a backup) or of the commit journal, which are no part of the
    /// site: a run that lost its lock still cleans up after itself, and a staged apply writes
    /// its journal while staging, long before its commit shows anything.
    fn settle_unless_hidden(&mut self, path: &RelPath) -> Result<()> {
        if unseen(path) { Ok(()) } else { self.settle_lock() }
    }

    /// Lists folders over the control connection (`ops::list_by_stat_only`) in the form the
    /// server is known to take, and learns from the first answer to `STAT -la` whether it
    /// lists that way: a server that did, always; one that refused every folder, perhaps
    /// with plain `STAT` ([`plain_stat`]); one that did not, never.
    /// `expected`: the files each folder is expected to hold, their times asked ahead
    /// ([`ahead`]; none, or one list per folder).
    fn list_by_stat(&mut self, paths: &[String], only: Option<&str>, expected: &[Vec<String>]) -> Result<Vec<ByStat>> {
        let mode = self.shared.stat_mode.get();
        let Some(form) = mode.form() else { return Ok(paths.iter().map(|_| ByStat::Unsure).collect()) };
        let found = self.retry(|s| list_by_stat_only(s, paths, only, form, TimesAhead::new(paths, expected)))?;
        if mode == plain_stat::Mode::Unknown && !found.iter().any(|f| matches!(f, ByStat::Again)) {
            let seen = if found.iter().any(|f| matches!(f, ByStat::Listed(_))) {
                plain_stat::Dotted::Listed
            } else if found.iter().all(|f| matches!(f, ByStat::Missing)) {
                plain_stat::Dotted::AllMissing
            } else {
                plain_stat::Dotted::NotListed
            };
            self.shared.stat_mode.learn_dotted(seen);
        }
        Ok(found)
    }

    /// Lists folders while plain `STAT` is on probation ([`plain_stat`]): asks plain `STAT` of
    /// all of them and of a path that cannot exist (one round trip), and pins the replies'
    /// times at once (`MDTM`), taken as the listings they would be if plain `STAT` lists as
    /// the data connection does. That is then proven, or not, by one connection at a time
    /// ([`plain_stat::Learning::claim_proof`]) whose replies can prove it, the others waiting
    /// for its verdict: it lists folders one by one on data connections, as before (those
    /// whose reply shows a hidden entry first: only they can prove), comparing each with its
    /// `STAT` reply until one proves or disproves plain `STAT`; the rest are listed as the
    /// server then deserves.
    ///
    /// Times first, proof after: `MDTM`s keep a server busy that does one thing at a time
    /// (pyftpdlib), and a connection proving first held up its own folders' times behind a
    /// data connection the busy server served last. So the first folder's data-connection
    /// listing goes behind the probe, in its write ([`Session::read_behind`]): the server
    /// sends it once done with the times, and the proof (or that folder's listing) costs no
    /// round trip of its own.
    fn probe_plain_stat(
        &mut self,
        dirs: &[RelPath],
        abs: &[String],
        expected: &[Vec<String>],
    ) -> Result<Vec<Option<Listing>>> {
        let listings = self.probe_plain_stat_reading(dirs, abs, expected);
        if let Some(s) = self.session.as_mut() {
            s.drop_read();
        }
        listings
    }

    /// [`FtpTarget::probe_plain_stat`], leaving what was read behind the probe to the caller.
    fn probe_plain_stat_reading(
        &mut self,
        dirs: &[RelPath],
        abs: &[String],
        expected: &[Vec<String>],
    ) -> Result<Vec<Option<Listing>>> {
        use plain_stat::{Mode, Verdict};
        let shared = self.shared.clone();
        let absent = plain_stat::absent_path(&abs[0]);
        let first = listing_by_path(&shared.list_method, &abs[0]);
        let mut reading = None;
        let probe = self.retry(|s| {
            // A connection readying its next transfer's data connection (the scan's main
            // one, for the lock) keeps it for that, where other connections probe too.
            let keeps = s.readies_transfer() && dirs.len() > 1;
            if let Some(cmd) = first.clone().filter(|_| !keeps && s.features.mlsd)
                && s.read_behind(cmd)
            {
                reading.get_or_insert_with(|| shared.stat_mode.reading_proof());
            }
            ops::probe_plain_stat(s, abs, &absent, TimesAhead::new(abs, expected))
        })?;
        let mut verdict = probe.as_ref().map_or(Verdict::Undecided, |p| plain_stat::judge_absent(&p.absent));
        let (mut pinned, mut claim) = (None, None);
        // Pinned where the replies may become the listings: this batch can prove (a reply
        // shows a hidden entry), or another connection is proving. A batch that can only
        // disprove is listed on data connections at once, as before, and claims nothing.
        let can_prove = probe.as_ref().is_some_and(|p| p.folders.iter().any(plain_stat::Plain::shows_hidden));
        // With its first folder's listing in hand, this one proves at once where it can.
        let has_read = first.as_ref().is_some_and(|cmd| self.session.as_ref().is_some_and(|s| s.has_read(cmd)));
        if can_prove && has_read {
            claim = shared.stat_mode.claim_proof();
        }
        drop(reading);
        let worth_pinning = can_prove || shared.stat_mode.proving();
        if let Some(p) = probe.as_ref().filter(|_| verdict == Verdict::Undecided && worth_pinning) {
            let (parsed, codes): (Vec<Option<listing::Parsed>>, Vec<u16>) = p
                .folders
                .iter()
                .map(|plain| {
                    (plain.clone().into_listing(), if let plain_stat::Plain::Refused(c) = plain { *c } else { 0 })
                })
                .unzip();
            let found = self.retry(|s| ops::settle_by_stat(s, abs, parsed.clone(), &codes, None, &p.ahead))?;
            // Another connection's proof is waited for twice at most (a proof that outlasts
            // --timeout: this one proves too, without the claim).
            for _ in 0..if claim.is_some() { 0 } else { 2 } {
                match shared.stat_mode.after_proof(shared.settings.timeout) {
                    Mode::Plain => {
                        return found.into_iter().zip(dirs).map(|(f, d)| self.listed_or_listing(f, d)).collect();
                    }
                    Mode::No => return self.list_dirs(dirs),
                    _ if can_prove => claim = shared.stat_mode.claim_proof(),
                    _ => break,
                }
                if claim.is_some() {
                    break;
                }
            }
            pinned = Some(found);
        }
        let mut order: Vec<usize> = (0..dirs.len()).collect();
        if let Some(p) = &probe {
            // The first folder's listing came with the probe: it goes first among its kind.
            order.sort_by_key(|&i| (!p.folders[i].shows_hidden(), i != 0));
        }
        let mut listings: Vec<Option<Option<Listing>>> = vec![None; dirs.len()];
        for &i in &order {
            if verdict != Verdict::Undecided {
                break;
            }
            let listing = self.list_dir(&dirs[i])?;
            if let Some(p) = &probe {
                verdict = plain_stat::judge(&p.folders[i], listing.as_ref(), &abs[i]);
            }
            listings[i] = Some(listing);
        }
        let proven = verdict == Verdict::Proven;
        shared.stat_mode.learn_plain(verdict);
        drop(claim);
        let rest: Vec<usize> = (0..dirs.len()).filter(|&i| listings[i].is_none()).collect();
        match pinned {
            // Proven: the probe's own replies are the other folders' listings.
            Some(mut pinned) if proven => {
                for &i in &rest {
                    let found = std::mem::replace(&mut pinned[i], ByStat::Unsure);
                    listings[i] = Some(self.listed_or_listing(found, &dirs[i])?);
                }
            }
            // Disproven: data connections.
            _ if !rest.is_empty() => {
                let rest_dirs: Vec<RelPath> = rest.iter().map(|&i| dirs[i].clone()).collect();
                for (&i, l) in rest.iter().zip(self.list_dirs(&rest_dirs)?) {
                    listings[i] = Some(l);
                }
            }
            _ => {}
        }
        listings
            .into_iter()
            .map(|l| l.ok_or_else(|| anyhow!("internal error, please report it: a folder was left unlisted")))
            .collect()
    }

    /// A folder's listing over the control connection where there is one, otherwise listed on
    /// a data connection.
    fn listed_or_listing(&mut self, found: ByStat, dir: &RelPath) -> Result<Option<Listing>> {
        match found {
            ByStat::Listed(l) => Ok(Some(l)),
            _ => self.list_dir(dir),
        }
    }

    /// Runs one command that must succeed.
    fn simple(&mut self, cmd: &str, doing: &str) -> Result<()> {
        self.retry(|s| s.ok(cmd, doing).map(drop))
    }
}

/// The command that lists the folder `abs` on a data connection without entering it (`MLSD
/// PATH`), where that is how this target lists once the server has `MLSD`: a command that
/// can go behind others.
fn listing_by_path(method: &list_method::ListMethod, abs: &str) -> Option<String> {
    (method.first(true) == list_method::Command::Mlsd && stat_safe(abs)).then(|| format!("MLSD {abs}"))
}

impl Target for FtpTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn list_dir(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        if dir.is_root() && self.root_missing {
            return Ok(Some(Listing::default()));
        }
        self.list_raw(dir)
    }

    fn list_dirs(&mut self, dirs: &[RelPath]) -> Result<Vec<Option<Listing>>> {
        // Several folders: over the control connection (see `ops::list_by_stat`), where the
        // server lists that way; the others one by one.
        let mut out: Vec<Option<Option<Listing>>> = vec![None; dirs.len()];
        let abs: Vec<String> = dirs.iter().map(|d| self.abs(d)).collect();
        let expected = self.expected.take().filter(|e| e.len() == dirs.len()).unwrap_or_default();
        // The names expected in the folders of `of` (none where nothing was expected).
        let expected_in = |of: &[usize]| -> Vec<Vec<String>> {
            if expected.is_empty() { Vec::new() } else { of.iter().map(|&i| expected[i].clone()).collect() }
        };
        let batch: Vec<usize> =
            (0..dirs.len()).filter(|&i| !(dirs[i].is_root() && self.root_missing) && stat_safe(&abs[i])).collect();
        if !batch.is_empty() {
            let paths: Vec<String> = batch.iter().map(|&i| abs[i].clone()).collect();
            let found = self.list_by_stat(&paths, None, &expected_in(&batch))?;
            let mut unlisted = Vec::new();
            for (&i, f) in batch.iter().zip(found) {
                match f {
                    ByStat::Listed(l) => out[i] = Some(Some(l)),
                    _ => unlisted.push(i),
                }
            }
            // Right after `STAT -la` was refused too: the same folders are the first probe.
            if !unlisted.is_empty() && matches!(self.shared.stat_mode.get(), plain_stat::Mode::Probing { .. }) {
                let folders: Vec<RelPath> = unlisted.iter().map(|&i| dirs[i].clone()).collect();
                let paths: Vec<String> = unlisted.iter().map(|&i| abs[i].clone()).collect();
                for (&i, l) in unlisted.iter().zip(self.probe_plain_stat(&folders, &paths, &expected_in(&unlisted))?) {
                    out[i] = Some(l);
                }
            }
        }
        dirs.iter().zip(out).map(|(d, o)| o.map_or_else(|| self.list_dir(d), Ok)).collect()
    }

    fn list_dirs_reading(&mut self, dirs: &[RelPath], name: &str) -> Result<Vec<ListedWith>> {
        // Where folders are listed over the control connection, the first one's file is read
        // behind their listings, in the same write ([`Session::read_behind`]): the check's
        // first metadata file then costs no round trip of its own.
        let first = match dirs.first() {
            Some(d) if self.shared.stat_mode.get().form().is_some() => {
                Some(format!("RETR {}", self.abs(&d.join_unchecked(name))))
            }
            _ => None,
        };
        if let Some(cmd) = &first {
            self.connect()?.read_behind(cmd.clone());
        }
        let listings = self.list_dirs(dirs);
        let mut read = None;
        if let Some(s) = self.session.as_mut() {
            read = first.and_then(|cmd| s.take_read(&cmd)).and_then(Result::ok);
            s.drop_read();
        }
        Ok(listings?.into_iter().map(|l| (l, read.take())).collect())
    }

    fn look_up_all(&mut self, paths: &[RelPath]) -> Result<Vec<Option<Entry>>> {
        // With MLST: one write for all of them (a listing costs two round trips where the
        // server lists over the control connection, the second for the exact times).
        if self.session.as_ref().is_some_and(|s| s.features.mlst) && !paths.iter().any(RelPath::is_root) {
            let abs: Vec<String> = paths.iter().map(|p| self.abs(p)).collect();
            if let Some(found) = self.retry(|s| ops::mlst_all(s, &abs))? {
                return Ok(found
                    .into_iter()
                    .zip(paths)
                    .map(|(f, p)| {
                        f.map(|mut e| {
                            e.name = p.name().to_string();
                            e
                        })
                    })
                    .collect());
            }
        }
        crate::backend::look_up_by_listing(self, paths)
    }

    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        if self.session.as_ref().is_some_and(|s| s.features.mlst) && !path.is_root() {
            let abs = self.abs(path);
            let name = path.name().to_string();
            // `None`: the server refused MLST after all; its folder's listing tells.
            if let Some(found) = self.retry(|s| mlst(s, &abs))? {
                return Ok(found.map(|mut e| {
                    e.name = name;
                    e
                }));
            }
        }
        let parent = path.parent();
        if parent.is_root() && self.root_missing {
            return Ok(None);
        }
        let (abs, name) = (self.abs(&parent), path.name().to_string());
        // Without MLST: the folder's listing over the control connection where the server
        // lists that way (one round trip; LIST needs a data connection: three or more).
        if self.shared.stat_mode.get().form().is_some()
            && stat_safe(&abs)
            && let Some(ByStat::Listed(l)) = self.list_by_stat(std::slice::from_ref(&abs), Some(&name), &[])?.pop()
        {
            return Ok(l.entries.into_iter().find(|e| e.name == name));
        }
        let shared = self.shared.clone();
        let listing = self.retry(|s| list(s, &abs, Some(&name), &shared.list_method))?;
        Ok(listing.and_then(|l| l.entries.into_iter().find(|e| e.name == name)))
    }

    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()> {
        self.refresh_lock()?;
        let abs = self.abs(path);
        // The sink starts over (a new temporary file) if a transient failure forces a retry.
        self.retry(|s| {
            let then = s.after_download();
            let mut t = s
                .transfer(&format!("RETR {abs}"), Direction::Download)
                .map_err(|f| failed(f, &format!("cannot download {abs}")))?;
            let (result, net) = {
                let mut watched = Watched::new(&mut t);
                let result = sink(&mut watched);
                (result, watched.failure(&format!("download of {abs} interrupted")))
            };
            if let Some(net) = net {
                // The connection failed: waiting for its reply would only wait out a timeout
                // again. The session, a reply short, is dropped.
                return Err(net);
            }
            let (last, replies) = t.finish(&then, true).map_err(|f| failed(f, &format!("download of {abs} failed")))?;
            s.announced_after_download(&last, replies)?;
            let finished =
                if last.is_ok() { Ok(()) } else { Err(refused(&last, &format!("download of {abs} failed"))) };
            match (result, finished) {
                (Ok(()), finished) => finished,
                // The data ended early and the server says why (426, 451...).
                (Err(_), Err(f)) if is_transient(&f) => Err(f),
                (Err(e), _) => Err(e),
            }
        })
    }

    fn hash_files(
        &mut self,
        paths: &[RelPath],
        alg: crate::model::digest::HashAlg,
    ) -> Result<Vec<Result<crate::model::digest::Hashed>>> {
        let abs: Vec<String> = paths.iter().map(|p| self.abs(p)).collect();
        let shared = self.shared.clone();
        self.retry(|s| hash::hash_files(s, &shared.hashing, &abs, alg))
    }

    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        self.refresh_lock()?;
        // The source stream cannot be rewound here: a transient failure is retried by the
        // caller, with the source read again (`write_attempts`).
        self.store(path, data, mtime, None)
    }

    fn replace_file(
        &mut self,
        path: &RelPath,
        data: &mut dyn Read,
        mtime: Option<f64>,
        guard: Guard<'_>,
    ) -> Result<Written> {
        self.refresh_lock()?;
        self.store(path, data, mtime, Some(guard))
    }

    fn write_attempts(&self) -> u32 {
        self.shared.options.retries.max(1)
    }

    fn write_staged(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        self.refresh_lock()?;
        let abs = self.abs(path);
        // Checked and stamped like any upload, but left at its staged name.
        self.upload(&abs, &abs, data, mtime, None, None)
    }

    fn rename(&mut self, from: &RelPath, to: &RelPath) -> Result<()> {
        self.rename_all(&[(from.clone(), to.clone())])
    }

    /// All pairs in one write where the server takes commands ahead ([`Session::batch`]); not
    /// retried on a new connection, because a rename cut off may have happened.
    fn rename_all(&mut self, renames: &[(RelPath, RelPath)]) -> Result<()> {
        self.settle_lock()?;
        self.refresh_lock()?;
        let pairs: Vec<(String, String)> = renames.iter().map(|(f, t)| (self.abs(f), self.abs(t))).collect();
        let s = self.connect()?;
        // A bounded number per write: a client that writes more than the socket buffers hold
        // before reading blocks with a server that stops reading until its replies are read
        // (seen with TLS, one connection and hundreds of renames).
        for chunk in pairs.chunks(RENAMES_PER_WRITE) {
            let cmds: Vec<String> =
                chunk.iter().flat_map(|(f, t)| [format!("RNFR {f}"), format!("RNTO {t}")]).collect();
            let replies = s.batch(&cmds, "renaming")?;
            for ((from, to), pair) in chunk.iter().zip(replies.chunks(2)) {
                if let Some(bad) = pair.iter().find(|r| !r.is_ok()) {
                    return Err(refused(bad, &format!("cannot rename {from} to {to}")));
                }
            }
        }
        Ok(())
    }

    /// The files' `DELE`s in one write where the server takes commands ahead (as the renames);
    /// a file whose `DELE` fails is looked for and removed the slow way (it may be gone
    /// already), folders one by one.
    fn remove_all(&mut self, entries: &[(RelPath, Kind)]) -> Result<()> {
        let files: Vec<&RelPath> = entries.iter().filter(|(_, k)| *k == Kind::File).map(|(p, _)| p).collect();
        if files.iter().any(|p| !unseen(p)) {
            self.settle_lock()?;
            self.refresh_lock()?;
        }
        let mut failed = Vec::new();
        for chunk in files.chunks(RENAMES_PER_WRITE * 2) {
            let cmds: Vec<String> = chunk.iter().map(|p| format!("DELE {}", self.abs(p))).collect();
            let replies = self.connect()?.batch(&cmds, "removing")?;
            failed.extend(chunk.iter().zip(&replies).filter(|(_, r)| !r.is_ok()).map(|(p, _)| (*p).clone()));
        }
        for path in failed {
            self.remove_tree(&path)?;
        }
        for (path, _) in entries.iter().filter(|(_, k)| *k == Kind::Dir) {
            self.remove_folder(path)?;
        }
        Ok(())
    }

    /// Probed once per target, on temporary names in the root (no content): a folder is
    /// created, renamed, and removed again.
    fn renames_folders(&mut self) -> Result<bool> {
        if let Some(known) = self.shared.folder_rename.get() {
            return Ok(*known);
        }
        let n = self.shared.temp_counter.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let root = RelPath::root();
        let (from, to) = (
            self.abs(&root.join_unchecked(&format!("{TEMP_PREFIX}{pid}-p{n}"))),
            self.abs(&root.join_unchecked(&format!("{TEMP_PREFIX}{pid}-q{n}"))),
        );
        let s = self.connect()?;
        s.ok(&format!("MKD {from}"), "probing whether folders can be renamed")?;
        let replies =
            s.batch(&[format!("RNFR {from}"), format!("RNTO {to}")], "probing whether folders can be renamed")?;
        let renamed = replies.iter().all(|r| r.is_ok());
        let left = if renamed { &to } else { &from };
        s.ok(&format!("RMD {left}"), "removing the folder that probed renaming")?;
        if !renamed {
            let answer = replies.iter().find(|r| !r.is_ok()).map(|r| r.text()).unwrap_or_default();
            s.refuse(learned::Capability::FolderRename, &answer);
        }
        Ok(*self.shared.folder_rename.get_or_init(|| renamed))
    }

    fn make_dir(&mut self, path: &RelPath) -> Result<()> {
        self.settle_unless_hidden(path)?;
        let abs = self.abs(path);
        self.simple(&format!("MKD {abs}"), &format!("cannot create folder {abs}"))
    }

    fn remove_file(&mut self, path: &RelPath) -> Result<()> {
        if !unseen(path) {
            self.settle_lock()?;
            self.refresh_lock()?;
        }
        let abs = self.abs(path);
        self.simple(&format!("DELE {abs}"), &format!("cannot delete {abs}"))
    }

    fn remove_dir(&mut self, path: &RelPath) -> Result<()> {
        self.settle_unless_hidden(path)?;
        let abs = self.abs(path);
        self.simple(&format!("RMD {abs}"), &format!("cannot delete folder {abs}"))
    }

    fn remove_stale_temporary(&mut self, path: &RelPath) -> Result<bool> {
        if !is_temp_name(path.name()) {
            bail!("{path} is not a temporary file");
        }
        // Every ftpsync run applying on this remote holds its lock: while it is ours (settled),
        // a temporary file here belongs to no running one. Without the lock nothing is known.
        if self.lock.is_none() {
            return Ok(false);
        }
        self.settle_lock()?;
        let parent = self.list_raw(&path.parent())?.unwrap_or_default();
        if parent.temporary.iter().any(|e| e.name == path.name() && e.kind == Kind::Dir) {
            // A staged folder or the backup of one.
            self.remove_tree(path)?;
            return Ok(true);
        }
        let abs = self.abs(path);
        let reply = self.retry(|s| s.exec(&format!("DELE {abs}"), &format!("cannot delete {abs}")))?;
        match reply.code {
            c if (200..300).contains(&c) => Ok(true),
            // Gone already (its run finished after all, or another run cleaned up).
            c if ops::missing(c) => Ok(false),
            _ => Err(refused(&reply, &format!("cannot delete {abs}"))),
        }
    }

    fn expect_transfer(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.expect_transfer();
        }
    }

    fn expect_files(&mut self, names: Vec<Vec<String>>) {
        self.expected = Some(names);
    }

    fn ready_transfer(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.announce_now();
            if !s.healthy() {
                // It failed: the next operation logs in again.
                self.session = None;
            }
        }
    }

    fn opener(&self) -> super::Opener {
        let (shared, info, root_missing) = (self.shared.clone(), self.info.clone(), self.root_missing);
        Arc::new(move || {
            // A connection another worker has finished with or logged in ahead, or a new one.
            let spare = shared.spare.take(shared.settings.timeout);
            let session = match spare {
                Some(mut s) => {
                    s.refresh();
                    s
                }
                None => Session::open_learning(&shared.settings, &shared.learned)?,
            };
            Ok(Box::new(FtpTarget {
                shared: shared.clone(),
                info: info.clone(),
                session: Some(session),
                root_missing,
                lock: None,
                pending_lock: None,
                expected: None,
            }) as Box<dyn Target>)
        })
    }

    fn begin_lock(&mut self, break_lock: bool) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        if self.root_missing {
            let abs = self.abs(&RelPath::root());
            self.simple(&format!("MKD {abs}"), &format!("cannot create the remote folder {abs}"))?;
            self.root_missing = false;
            notes.push(format!("Created the remote folder {abs}."));
        }
        // Appended at once, judged in `confirm_lock`: a lock already there stays first.
        let now = SystemClock.now();
        let content = LockFile { lock_time: now, lock_holder: Some(lock::me()) };
        let started = std::time::Instant::now();
        self.append_lock(&content)?;
        let (appended, took) = (std::time::Instant::now(), started.elapsed());
        self.pending_lock = Some(PendingLock { content, break_lock, appended, took, replaced: false });
        Ok(notes)
    }

    fn confirm_lock(&mut self) -> Result<Vec<String>> {
        let Some(mut pending) = self.pending_lock.take() else { return Ok(Vec::new()) };
        let mut notes = Vec::new();
        let lock_path = RelPath::root().join_unchecked(LOCK_FILE);
        let me = pending.content.lock_holder.clone().unwrap_or_default();
        // Our line must be first in the file. A second reading follows before the first
        // change others can see (`lock_gate`: some servers append by rewriting the file).
        loop {
            let back = self.read_small(&lock_path)?;
            let first = back.as_deref().map(LockFile::parse);
            if let Some(Some(l)) = &first
                && l.lock_holder.as_deref() == Some(me.as_str())
            {
                break;
            }
            if pending.replaced {
                bail!("{}", lock_gate::raced(&self.info.display, first.flatten()));
            }
            // Another lock was there before ours.
            match first.flatten() {
                None => notes.push(format!("Replacing an unreadable lock {LOCK_FILE}.")),
                Some(other) => match lock::judge(Some(&other), SystemClock.now(), &me) {
                    Verdict::Free => {}
                    Verdict::Stale(why) => notes.push(format!("Replacing a stale lock {LOCK_FILE} of {why}.")),
                    Verdict::Held(who) if pending.break_lock => {
                        notes.push(format!("Breaking the lock {LOCK_FILE} of {who} (--break-lock)."))
                    }
                    Verdict::Held(who) => bail!(
                        "{} is locked by {who} ({LOCK_FILE} in the remote folder): another run is applying changes. Wait for it to finish, or pass --break-lock if it is dead",
                        self.info.display
                    ),
                },
            }
            let abs = self.abs(&lock_path);
            self.simple(&format!("DELE {abs}"), &format!("cannot remove the lock {abs}"))?;
            pending.content.lock_time = SystemClock.now();
            pending.replaced = true;
            let started = std::time::Instant::now();
            self.append_lock(&pending.content)?;
            (pending.appended, pending.took) = (std::time::Instant::now(), started.elapsed());
        }
        self.learn_time_offset(pending.content.lock_time);
        let claim = lock_gate::Claim { holder: me, display: self.info.display.clone() };
        self.shared.gate.claimed(pending.appended, pending.took, claim);
        let now = pending.content.lock_time;
        self.lock = Some(Held { content: pending.content, written: now });
        Ok(notes)
    }

    fn reconfirm_lock(&mut self) -> Result<()> {
        // The lock's second reading, if it is still due, is this reading: it finds the first
        // line of the file ours, as below.
        let (shared, lock_abs) = (self.shared.clone(), self.lock_abs());
        let just_read = self.retry(|s| Self::settle_on(&shared, s, &lock_abs))?;
        let Some(held) = &self.lock else { return Ok(()) };
        if just_read {
            return Ok(());
        }
        let me = held.content.lock_holder.clone();
        let lock_path = RelPath::root().join_unchecked(LOCK_FILE);
        let current = self.read_small(&lock_path)?.and_then(|b| LockFile::parse(&b));
        match current {
            Some(l) if l.lock_holder == me => Ok(()),
            other => Err(anyhow::Error::new(crate::backend::LockLost(format!(
                "the lock {LOCK_FILE} on {} is no longer ours ({}): another run took it over; nothing was committed",
                self.info.display,
                other.and_then(|l| l.lock_holder).unwrap_or_else(|| "it is gone".into())
            )))),
        }
    }

    fn unlock(&mut self) -> Result<()> {
        let Some(held) = self.lock.take() else { return Ok(()) };
        self.shared.gate.release();
        let lock_path = RelPath::root().join_unchecked(LOCK_FILE);
        // Only remove the lock if it is still ours (it may have been broken and retaken).
        let current = self.read_small(&lock_path)?.and_then(|b| LockFile::parse(&b));
        if current.as_ref().and_then(|l| l.lock_holder.as_ref()) == held.content.lock_holder.as_ref() {
            let abs = self.abs(&lock_path);
            self.simple(&format!("DELE {abs}"), &format!("cannot remove the lock {abs}"))?;
        }
        Ok(())
    }

    fn unlock_reconfirmed(&mut self) -> Result<()> {
        if self.lock.take().is_none() {
            return Ok(());
        }
        self.shared.gate.release();
        let abs = self.lock_abs();
        self.simple(&format!("DELE {abs}"), &format!("cannot remove the lock {abs}")).map(drop)
    }

    fn folds_case(&mut self) -> Result<bool> {
        if self.lock.is_none() {
            bail!("internal error: the server's case rules are asked under the lock");
        }
        // The lock file is known to exist now, under exactly this name.
        let (abs, swapped) = (self.lock_abs(), self.abs(&RelPath::root().join_unchecked(&swap_case(LOCK_FILE))));
        self.retry(|s| ops::folds_case(s, &abs, &swapped))
    }

    fn time_offset(&self) -> f64 {
        *self.shared.time_offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settle_lock(&mut self) -> Result<()> {
        let (shared, lock_abs) = (self.shared.clone(), self.lock_abs());
        self.retry(|s| Self::settle_on(&shared, s, &lock_abs)).map(drop)
    }

    fn close(&mut self) -> Result<()> {
        let unlocked = self.unlock();
        // The connection waits for the next worker (scan, then apply, use the same ones).
        if let Some(s) = self.session.take().filter(Session::healthy) {
            self.shared.spare.put(s);
        }
        unlocked
    }
}

/// Starts `n` logins ahead ([`spare`]), each on a thread of its own; they end in the target's
/// spare connections, bounded by its --timeout.
fn log_in_ahead(shared: &Arc<Shared>, n: usize) {
    shared.spare.coming(n);
    for _ in 0..n {
        let shared_here = shared.clone();
        let spawned = std::thread::Builder::new().name("ftpsync-ahead".into()).spawn(move || {
            let s = &shared_here;
            // Arrived however the login ends (a panic included): openers wait for it.
            s.spare.arrived(caught(|| Session::open_in_turn(&s.settings, &s.learned, Turn::Ahead(&s.spare))));
        });
        if let Err(e) = spawned {
            shared.spare.arrived(Err(anyhow!("cannot start a thread to connect: {e}")));
        }
    }
}

/// `name` with upper and lower case swapped (ASCII).
fn swap_case(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

impl Drop for FtpTarget {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
