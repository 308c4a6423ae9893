//! FTP/FTPS servers as a target.
//!
//! [`listing`] turns what a server sends on the data connection for `MLSD` or `LIST` into
//! entries, without any I/O and without trusting a single name, size or time it contains.
//! [`FtpTarget`] is one logged-in connection: binary mode, `MLSD` (or `LIST` plus `MDTM` for
//! servers without it), uploads under a temporary name that are checked (`SIZE`) and renamed
//! into place, modification times set where the server allows ([`mtime`]), reconnects and
//! bounded retries for transient failures, and the remote lock ([`lock`]).

pub mod encoding;
pub mod listing;
pub mod lock;
pub mod mtime;
pub mod session;
pub mod tls;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use suppaftp::Status;

use self::listing::{Format, Precision, parse_listing, parse_mlsd_line};
use self::lock::{LockFile, Verdict};
use self::session::{Session, Settings, explain, reply_code};
use super::{Listing, ReadSink, TEMP_PREFIX, Target, TargetInfo, TargetKind, Written, is_temp_name, is_transient};
use crate::meta::LOCK_FILE;
use crate::model::{Clock, Entry, Kind, Skipped, SystemClock};
use crate::relpath::RelPath;

/// Data-connection replies that announce a transfer.
const OPENING: [Status; 2] = [Status::AboutToSend, Status::AlreadyOpen];

/// Options of an FTP target beyond the connection itself.
#[derive(Clone, Debug)]
pub struct Options {
    /// Attempts for an operation that failed transiently (reconnecting in between).
    pub retries: u32,
    /// `--create-folder`: a missing root folder is planned as empty and created by apply.
    pub create_root: bool,
}

/// State shared by all connections of one target.
struct Shared {
    settings: Settings,
    options: Options,
    mtime: mtime::Shared,
    temp_counter: AtomicU64,
}

/// One connection to an FTP server, rooted at the URL's folder.
pub struct FtpTarget {
    shared: Arc<Shared>,
    info: TargetInfo,
    session: Option<Session>,
    root_missing: bool,
    lock: Option<Held>,
    time_offset: f64,
}

/// Our lock, while we hold it.
struct Held {
    content: LockFile,
    written: f64,
}

impl FtpTarget {
    /// Connects and checks the root folder.
    pub fn open(settings: Settings, options: Options) -> Result<FtpTarget> {
        let url = &settings.url;
        let info = TargetInfo {
            kind: TargetKind::Ftp,
            url: url.redacted(),
            id: url.id(),
            display: url.display(),
            records_mtimes: true,
        };
        let shared = Arc::new(Shared { settings, options, mtime: Default::default(), temp_counter: AtomicU64::new(0) });
        let mut target = FtpTarget { shared, info, session: None, root_missing: false, lock: None, time_offset: 0.0 };
        target.connect()?;
        if target.list_raw(&RelPath::root())?.is_none() {
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
            self.session = Some(Session::open(&self.shared.settings)?);
        }
        Ok(self.session.as_mut().expect("just connected"))
    }

    /// The absolute server path of a relative path.
    fn abs(&self, path: &RelPath) -> String {
        let root = self.shared.settings.url.path.trim_end_matches('/');
        if path.is_root() { if root.is_empty() { "/".into() } else { root.into() } } else { format!("{root}/{path}") }
    }

    /// Runs `op` on a live session, reconnecting and trying again (with growing pauses) while
    /// it fails transiently.
    fn retry<T>(&mut self, mut op: impl FnMut(&mut Session, &FtpTarget) -> Result<T>) -> Result<T> {
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
                None => match Session::open(&self.shared.settings) {
                    Ok(s) => s,
                    Err(e) if is_transient(&e) => {
                        last = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            match op(&mut session, self) {
                Ok(v) => {
                    self.session = Some(session);
                    return Ok(v);
                }
                Err(e) if is_transient(&e) => {
                    // The connection is suspect: drop it and start over.
                    last = Some(e);
                }
                Err(e) => {
                    self.session = Some(session);
                    return Err(e);
                }
            }
        }
        let e = last.unwrap_or_else(|| anyhow!("no attempt was made"));
        Err(e.context(format!("gave up after {attempts} attempts")))
    }

    /// Lists a folder; `None` if it does not exist.
    fn list_raw(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        let abs = self.abs(dir);
        self.retry(|s, _| list_session(s, &abs, None))
    }

    fn temp_name(&self, path: &RelPath) -> RelPath {
        let n = self.shared.temp_counter.fetch_add(1, Ordering::Relaxed);
        path.parent().join_unchecked(&format!("{TEMP_PREFIX}{}-{n}", std::process::id()))
    }

    /// Rewrites the lock when it is getting old (called while applying).
    fn refresh_lock(&mut self) -> Result<()> {
        let now = SystemClock.now();
        let due = self.lock.as_ref().is_some_and(|h| now - h.written > lock::REFRESH_EVERY);
        if due {
            let content = LockFile { lock_time: now, lock_holder: Some(lock::me()) };
            self.store(&RelPath::root().join_unchecked(LOCK_FILE), &mut content.to_bytes().as_slice(), None)?;
            self.lock = Some(Held { content, written: now });
        }
        Ok(())
    }

    /// Uploads under a temporary name, checks the stored size, sets the time, renames.
    fn store(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        let tmp = self.abs(&self.temp_name(path));
        let dest = self.abs(path);
        let shared = self.shared.clone();
        let s = self.connect()?;
        let result = upload(s, &tmp, &dest, data).and_then(|sent| {
            let stored = stored_size(s, &tmp)?;
            if stored != Some(sent) && stored.is_some() {
                return Err(anyhow::Error::new(super::Transient(format!(
                    "{dest}: the server stored {} bytes of {sent}",
                    stored.unwrap_or(0)
                ))));
            }
            let mtime_set = match mtime {
                Some(t) => mtime::set(s, &shared.mtime, &tmp, t),
                None => false,
            };
            rename_over(s, &tmp, &dest)?;
            Ok(Written { bytes: sent, mtime_set })
        });
        if let Err(e) = &result {
            self.discard(&tmp, is_transient(e));
        }
        result
    }

    /// Removes the temporary file of a failed upload. After a transient failure the connection
    /// is suspect (a reply may be missing or pending): it is dropped, and if it could not
    /// remove the file, a new one does.
    fn discard(&mut self, tmp: &str, suspect: bool) {
        let removed = match self.session.as_mut().map(|s| s.ftp.rm(tmp)) {
            Some(Ok(())) => true,
            // The server answered: the file is gone or was never created.
            Some(Err(e)) => reply_code(&e).is_some(),
            None => false,
        };
        if suspect || !removed {
            self.session = None;
        }
        if !removed
            && let Ok(s) = self.connect()
        {
            let _ = s.ftp.rm(tmp);
        }
    }
}

/// A data connection that remembers a network failure, so that an error the other end of
/// the copy (the sink of a download, `io::copy` of an upload) returns because of it is known
/// as the connection's (transient), not as that of the local file.
struct Watched<S> {
    inner: S,
    failed: Option<(std::io::ErrorKind, String)>,
}

impl<S> Watched<S> {
    fn new(inner: S) -> Self {
        Watched { inner, failed: None }
    }

    /// The remembered failure, as the transient error of `doing`.
    fn failure(&mut self, doing: &str) -> Option<anyhow::Error> {
        let (kind, text) = self.failed.take()?;
        Some(explain(suppaftp::FtpError::ConnectionError(std::io::Error::new(kind, text)), doing))
    }

    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        r.inspect_err(|e| self.failed = Some((e.kind(), e.to_string())))
    }
}

impl<S: Read> Read for Watched<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.inner.read(buf);
        self.note(r)
    }
}

impl<S: std::io::Write> std::io::Write for Watched<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

/// Reads a whole data connection.
fn read_all(stream: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Lists a folder; `None` if it does not exist. After a `LIST`, the exact time of each file
/// is asked with `MDTM`: of every file, or only of the file named `only` (a [`Target::stat`]
/// must not cost one command per file of its folder).
fn list_session(s: &mut Session, abs: &str, only: Option<&str>) -> Result<Option<Listing>> {
    let (cmd, format) = if s.features.mlsd { (format!("MLSD {abs}"), Format::Mlsd) } else { (format!("LIST -a {abs}"), Format::List) };
    let data = match s.ftp.custom_data_command(&cmd, &OPENING) {
        Ok((_, mut stream)) => {
            let data = read_all(&mut stream).map_err(|e| explain(suppaftp::FtpError::ConnectionError(e), &format!("listing {abs}")));
            let finished = stream.finish().map_err(|e| explain(e, &format!("listing {abs}")));
            let data = data?;
            finished?;
            data
        }
        Err(e) if matches!(reply_code(&e), Some(450 | 501 | 550)) => {
            // Missing, or not listable? Only a folder we can enter exists.
            return match s.ftp.cwd(abs) {
                Ok(()) => Err(explain(e, &format!("cannot list {abs}"))),
                Err(_) => Ok(None),
            };
        }
        Err(e) => return Err(explain(e, &format!("cannot list {abs}"))),
    };
    let parsed = parse_listing(&data, format, SystemClock.now());
    if format == Format::List && parsed.listing.entries.is_empty() && parsed.listing.skipped.is_empty() && !exists(s, abs)? {
        return Ok(None);
    }
    let mut listing = parsed.listing;
    listing.entries.retain(|e| !is_temp_name(&e.name));
    for (name, d) in &parsed.details {
        if d.name_from_cp1252 {
            s.names.remember(name, &d.raw_name);
        }
    }
    if format == Format::List && s.features.mdtm {
        // LIST shows minutes at best: ask for the exact time of each file. A file whose time
        // the server refuses or garbles cannot be compared: it is skipped, not the listing.
        let mut unknown = Vec::new();
        for e in listing.entries.iter_mut().filter(|e| e.kind == Kind::File && only.is_none_or(|n| e.name == n)) {
            if parsed.details.get(&e.name).is_some_and(|d| d.precision != Precision::Second) {
                let path = format!("{}/{}", abs.trim_end_matches('/'), e.name);
                let why = match s.ftp.mdtm(&path) {
                    Ok(t) => match listing::checked_mtime(t.and_utc().timestamp() as f64) {
                        Ok(t) => {
                            e.mtime = t;
                            continue;
                        }
                        Err(reason) => format!("MDTM: {reason}"),
                    },
                    Err(err @ suppaftp::FtpError::UnexpectedResponse(_)) if reply_code(&err).is_some_and(|c| c >= 500) => {
                        explain(err, "MDTM").to_string()
                    }
                    Err(suppaftp::FtpError::BadResponse) => "MDTM: the server's answer is not a time".into(),
                    Err(err) => return Err(explain(err, &format!("MDTM {path}"))),
                };
                unknown.push(Skipped { name: e.name.clone(), reason: format!("unknown modification time ({why})") });
            }
        }
        listing.entries.retain(|e| !unknown.iter().any(|u| u.name == e.name));
        listing.skipped.extend(unknown);
    }
    Ok(Some(listing))
}

/// Whether a folder exists, for an empty `LIST`: vsftpd answers `LIST` of a missing folder
/// with an empty listing and `226`, exactly as for an empty folder. Only a folder exists that
/// can be entered.
fn exists(s: &mut Session, abs: &str) -> Result<bool> {
    match s.ftp.cwd(abs) {
        Ok(()) => Ok(true),
        Err(e) if matches!(reply_code(&e), Some(450 | 501 | 550)) => Ok(false),
        Err(e) => Err(explain(e, &format!("cannot enter {abs}"))),
    }
}

/// Sends `data` as `tmp` (on its way to `dest`, the name used in messages); the caller
/// removes `tmp` if this fails.
fn upload(s: &mut Session, tmp: &str, dest: &str, data: &mut dyn Read) -> Result<u64> {
    let mut stream = s.ftp.put_with_stream(tmp).map_err(|e| explain(e, &format!("cannot upload {dest} (as {tmp})")))?;
    let mut watched = Watched::new(&mut stream);
    let copied = std::io::copy(data, &mut watched);
    let failed = watched.failure(&format!("upload of {dest} interrupted"));
    // Closing the data connection ends the transfer whatever happened, and reading its reply
    // keeps the control connection in step. (No ABOR: servers answer it with one or two
    // replies, depending on whether the transfer had ended, and a reply left unread would
    // answer the next command.)
    let finished = stream.finish().map_err(|e| explain(e, &format!("upload of {dest} failed")));
    match (copied, failed) {
        (Ok(n), _) => finished.map(|()| n),
        (Err(_), Some(failed)) => Err(failed),
        // Our side failed (the source).
        (Err(e), None) => Err(anyhow::Error::new(e).context(format!("upload of {dest} interrupted"))),
    }
}

/// The size the server stored, via `SIZE` or `MLST` (`None` if it cannot tell).
fn stored_size(s: &mut Session, path: &str) -> Result<Option<u64>> {
    if s.features.size {
        match s.ftp.size(path) {
            Ok(n) => return Ok(Some(n as u64)),
            Err(e) if reply_code(&e).is_some() => {}
            Err(e) => return Err(explain(e, &format!("SIZE {path}"))),
        }
    }
    if s.features.mlst {
        if let Some(e) = mlst(s, path)? {
            return Ok(Some(e.size));
        }
    }
    Ok(None)
}

/// One entry via `MLST`; `None` if it does not exist.
fn mlst(s: &mut Session, path: &str) -> Result<Option<Entry>> {
    match s.ftp.custom_command(format!("MLST {path}"), &[Status::RequestedFileActionOk]) {
        Ok(r) => {
            let body = r.body;
            let line = body.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).find(|l| l.first() == Some(&b' '));
            let Some(line) = line else { return Ok(None) };
            // The name may come back as a path; the facts are what matter.
            let facts_only: Vec<u8> = match line[1..].iter().position(|&b| b == b' ') {
                Some(i) => [&line[1..=i + 1], b"x"].concat(),
                None => return Ok(None),
            };
            Ok(match parse_mlsd_line(&facts_only) {
                listing::LineResult::Entry(l) => Some(l.entry),
                _ => None,
            })
        }
        Err(e) if matches!(reply_code(&e), Some(450 | 501 | 550)) => Ok(None),
        Err(e) => Err(explain(e, &format!("MLST {path}"))),
    }
}

/// Renames `from` over `to`, removing `to` first on servers that refuse to overwrite.
fn rename_over(s: &mut Session, from: &str, to: &str) -> Result<()> {
    match s.ftp.rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if matches!(reply_code(&e), Some(450 | 550 | 553)) => {
            s.ftp.rm(to).map_err(|e| explain(e, &format!("cannot replace {to}")))?;
            s.ftp.rename(from, to).map_err(|e| explain(e, &format!("cannot rename {from} to {to}")))
        }
        Err(e) => Err(explain(e, &format!("cannot rename {from} to {to}"))),
    }
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

    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        if self.session.as_ref().is_some_and(|s| s.features.mlst) && !path.is_root() {
            let abs = self.abs(path);
            let name = path.name().to_string();
            let found = self.retry(|s, _| mlst(s, &abs))?;
            return Ok(found.map(|mut e| {
                e.name = name;
                e
            }));
        }
        let parent = path.parent();
        if parent.is_root() && self.root_missing {
            return Ok(None);
        }
        let (abs, name) = (self.abs(&parent), path.name().to_string());
        let listing = self.retry(|s, _| list_session(s, &abs, Some(&name)))?;
        Ok(listing.and_then(|l| l.entries.into_iter().find(|e| e.name == name)))
    }

    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()> {
        self.refresh_lock()?;
        let abs = self.abs(path);
        // The sink starts over (a new temporary file) if a transient failure forces a retry.
        self.retry(|s, _| {
            let mut stream = s.ftp.retr_as_stream(&abs).map_err(|e| explain(e, &format!("cannot download {abs}")))?;
            let mut watched = Watched::new(&mut stream);
            let result = sink(&mut watched);
            let failed = watched.failure(&format!("download of {abs} interrupted"));
            let finished = stream.finish().map_err(|e| explain(e, &format!("download of {abs} failed")));
            match (result, failed, finished) {
                (Ok(()), _, finished) => finished,
                // The sink failed because the connection did: that is worth another attempt.
                (Err(_), Some(failed), _) => Err(failed),
                // The data ended early and the server says why (426, 451...).
                (Err(_), None, Err(f)) if is_transient(&f) => Err(f),
                (Err(e), None, _) => Err(e),
            }
        })
    }

    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        self.refresh_lock()?;
        // The source stream cannot be rewound here: a transient failure is retried by the
        // caller, with the source read again (`write_attempts`).
        self.store(path, data, mtime)
    }

    fn write_attempts(&self) -> u32 {
        self.shared.options.retries.max(1)
    }

    fn make_dir(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs(path);
        self.retry(|s, _| s.ftp.mkdir(&abs).map_err(|e| explain(e, &format!("cannot create folder {abs}"))))
    }

    fn remove_file(&mut self, path: &RelPath) -> Result<()> {
        self.refresh_lock()?;
        let abs = self.abs(path);
        self.retry(|s, _| s.ftp.rm(&abs).map_err(|e| explain(e, &format!("cannot delete {abs}"))))
    }

    fn remove_dir(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs(path);
        self.retry(|s, _| s.ftp.rmdir(&abs).map_err(|e| explain(e, &format!("cannot delete folder {abs}"))))
    }

    fn open_another(&self) -> Result<Box<dyn Target>> {
        let session = Session::open(&self.shared.settings)?;
        Ok(Box::new(FtpTarget {
            shared: self.shared.clone(),
            info: self.info.clone(),
            session: Some(session),
            root_missing: self.root_missing,
            lock: None,
            time_offset: self.time_offset,
        }))
    }

    fn lock(&mut self, break_lock: bool) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        if self.root_missing {
            let abs = self.abs(&RelPath::root());
            self.retry(|s, _| s.ftp.mkdir(&abs).map_err(|e| explain(e, &format!("cannot create the remote folder {abs}"))))?;
            self.root_missing = false;
            notes.push(format!("Created the remote folder {abs}."));
        }
        let lock_path = RelPath::root().join_unchecked(LOCK_FILE);
        let me = lock::me();
        let existing = read_small(self, &lock_path)?.and_then(|b| LockFile::parse(&b));
        match lock::judge(existing.as_ref(), SystemClock.now(), &me) {
            Verdict::Free => {}
            Verdict::Stale(why) => notes.push(format!("Replacing a stale lock {LOCK_FILE} of {why}.")),
            Verdict::Held(who) if break_lock => notes.push(format!("Breaking the lock {LOCK_FILE} of {who} (--break-lock).")),
            Verdict::Held(who) => bail!(
                "{} is locked by {who} ({LOCK_FILE} in the remote folder): another run is applying changes. Wait for it to finish, or pass --break-lock if it is dead",
                self.info.display
            ),
        }
        if existing.is_some() {
            // Replacing a stale or broken lock: appending would leave it first.
            let abs = self.abs(&lock_path);
            self.retry(|s, _| s.ftp.rm(&abs).map_err(|e| explain(e, &format!("cannot remove the lock {abs}"))))?;
        }
        let now = SystemClock.now();
        let content = LockFile { lock_time: now, lock_holder: Some(me.clone()) };
        let mut line = content.to_bytes();
        line.push(b'\n');
        let abs = self.abs(&lock_path);
        let started = std::time::Instant::now();
        self.retry(|s, _| append(s, &abs, &line))?;
        // Read back twice: some servers (libunftp) append by rewriting the file from the size
        // they saw, so a rival's append that started before ours can still replace our line a
        // moment later. Waiting as long as our own append and read took covers that moment.
        for check in 0..2 {
            if check == 1 {
                std::thread::sleep(started.elapsed().max(Duration::from_millis(100)));
            }
            let back = read_small(self, &lock_path)?.and_then(|b| LockFile::parse(&b));
            if back.as_ref().and_then(|l| l.lock_holder.as_deref()) != Some(me.as_str()) {
                let who = back.and_then(|l| l.lock_holder).unwrap_or_else(|| "another client".into());
                bail!("{} was locked by {who} at the same moment; that run goes on, this one stops", self.info.display);
            }
        }
        // The server's clock, from the time it gave the lock file.
        let abs = self.abs(&lock_path);
        if let Ok(Some(t)) = self.retry(|s, _| Ok(s.ftp.mdtm(&abs).ok().map(|t| t.and_utc().timestamp() as f64))) {
            self.time_offset = t - now.floor();
        }
        self.lock = Some(Held { content, written: now });
        Ok(notes)
    }

    fn unlock(&mut self) -> Result<()> {
        let Some(held) = self.lock.take() else { return Ok(()) };
        let lock_path = RelPath::root().join_unchecked(LOCK_FILE);
        // Only remove the lock if it is still ours (it may have been broken and retaken).
        let current = read_small(self, &lock_path)?.and_then(|b| LockFile::parse(&b));
        if current.as_ref().and_then(|l| l.lock_holder.as_ref()) == held.content.lock_holder.as_ref() {
            let abs = self.abs(&lock_path);
            self.retry(|s, _| s.ftp.rm(&abs).map_err(|e| explain(e, &format!("cannot remove the lock {abs}"))))?;
        }
        Ok(())
    }

    fn time_offset(&self) -> f64 {
        self.time_offset
    }

    fn close(&mut self) -> Result<()> {
        let unlocked = self.unlock();
        if let Some(s) = self.session.take() {
            s.quit();
        }
        unlocked
    }
}

impl Drop for FtpTarget {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Appends bytes to a file (creating it).
fn append(s: &mut Session, abs: &str, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut stream = s.ftp.append_with_stream(abs).map_err(|e| explain(e, &format!("cannot write {abs}")))?;
    let written = stream.write_all(bytes);
    let finished = stream.finish().map_err(|e| explain(e, &format!("writing {abs} failed")));
    written.map_err(|e| explain(suppaftp::FtpError::ConnectionError(e), &format!("writing {abs}")))?;
    finished
}

/// Reads a small file, `None` if it does not exist.
fn read_small(t: &mut FtpTarget, path: &RelPath) -> Result<Option<Vec<u8>>> {
    let abs = t.abs(path);
    t.retry(|s, _| match s.ftp.retr_as_stream(&abs) {
        Ok(mut stream) => {
            let data = read_all(&mut stream).map_err(|e| explain(suppaftp::FtpError::ConnectionError(e), &format!("reading {abs}")));
            match stream.finish() {
                // Some servers (libunftp) accept the RETR and report the missing file at the end.
                Err(e) if matches!(reply_code(&e), Some(450 | 550)) => Ok(None),
                Err(e) => Err(explain(e, &format!("reading {abs}"))),
                Ok(()) => data.map(Some),
            }
        }
        Err(e) if matches!(reply_code(&e), Some(450 | 550)) => Ok(None),
        Err(e) => Err(explain(e, &format!("cannot read {abs}"))).context("reading the lock"),
    })
}
