//! SFTP servers (`sftp://`) as a target.
//!
//! [`connect`] makes one SSH connection (host key judged by [`hostkeys`], login by agent, key
//! files or password) with an SFTP channel; [`SftpTarget`] is one such connection rooted at
//! the URL's folder, with the same guarantees as FTP: every file is written under a temporary
//! name, its size checked with a stat and its time set (`FSETSTAT`, in the same train of
//! requests as the data: [`transfer`]), then renamed into place with
//! `posix-rename@openssh.com`, which replaces atomically. A server without that extension
//! gets the fallback described at [`SftpTarget::place`]. Folders are listed with their
//! attributes (`READDIR`), several at once ([`Target::list_dirs`], [`folders`]), and every
//! name is checked ([`listing`]). Failures are sorted by [`errors`]; a lost connection is
//! reopened and the operation tried again, as for FTP.
//!
//! The lock file is created exclusively (`SSH_FXF_EXCL`): of two runs starting together only
//! one can create it, so no second reading is needed as with FTP's `APPE` (see `ftp::lock`
//! for the file's content and when a lock is stale, shared with FTP; `lock_io` for its
//! requests).
//!
//! All connections of a target share one small tokio runtime ([`Shared`]); the [`Target`]
//! methods block on it, so the rest of ftpsync stays synchronous. They also share SSH
//! sessions: many workers send their requests on one channel ([`sessions`]).

pub mod connect;
pub mod errors;
pub mod folders;
pub mod hostkeys;
pub mod listing;
mod lock_io;
mod lockfile;
pub mod sessions;
mod small;
pub mod transfer;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};

use self::connect::{Conn, KeyFile, Login, Settings, Unauthenticated};
use self::errors::{failed, is_missing};
use self::sessions::{Lane, PER_SESSION, Pool};
use self::transfer::{Download, send};
use super::ftp::lock::LockFile;
use super::{Guard, ListedWith, ReadSink, StagedFile, Target, Written, is_transient};
use crate::meta::{JOURNAL_FILE, LOCK_FILE};
use crate::model::listing::{Listing, TEMP_PREFIX, is_temp_name};
use crate::model::relpath::RelPath;
use crate::model::target::{TargetInfo, TargetKind};
use crate::model::{Entry, Kind};

/// Options of an SFTP target beyond the connection itself.
#[derive(Clone, Debug)]
pub struct Options {
    /// Attempts for an operation that failed transiently (reconnecting in between).
    pub retries: u32,
    /// `--create-folder`: a missing root folder is planned as empty and created by apply.
    pub create_root: bool,
}

/// Small files written at once on one channel ([`Target::write_staged_all`]).
const STAGED_BATCH: usize = 3;
/// Folders listed at once on one channel ([`Target::list_dirs`]).
const LIST_IN_FLIGHT: usize = 64;
/// The largest file [`Target::list_dirs_reading`] reads with its folder's listing (a
/// metadata file is far smaller; a larger one is read the usual way).
const READ_WITH_LISTING: usize = 1 << 20;

/// State shared by all connections of one target.
struct Shared {
    settings: Settings,
    user: String,
    login: Login,
    options: Options,
    temp_counter: AtomicU64,
    /// Never use `posix-rename@openssh.com` ([`SftpTarget::without_posix_rename`]).
    no_posix_rename: std::sync::atomic::AtomicBool,
    /// The server's clock minus ours, learnt from the lock file's time.
    time_offset: Mutex<f64>,
    /// The sessions, shared by this target's connections (the scan's stay for apply's).
    pool: Pool,
    /// Dropped last: the connections above run on it.
    rt: Option<tokio::runtime::Runtime>,
}

impl Shared {
    /// Opens sessions like the first one (held by no `Shared`: a pool that kept it would keep
    /// its target alive).
    fn connector(shared: &Arc<Shared>) -> sessions::Connect {
        let shared = shared.clone();
        Arc::new(move || shared.reconnect())
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("the runtime lives as long as the target")
    }

    /// A new connection, logged in the way the first one was.
    fn reconnect(&self) -> Result<Conn> {
        let server = self.settings.url.display();
        self.rt().block_on(connect::bounded(self.settings.timeout * 3, async {
            let mut un = connect::connect(&self.settings).await?;
            if !un.again(&self.user, &self.login).await? {
                return Err(un.refused(&server));
            }
            un.sftp(self.settings.timeout).await
        }))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.pool.clear();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_millis(200));
        }
    }
}

/// A connection being opened: the key exchange is done (the host key accepted), the login
/// is driven by the caller (`commands::targets`), which knows where passwords come from.
pub struct Opening {
    rt: tokio::runtime::Runtime,
    settings: Settings,
    un: Unauthenticated,
}

impl Opening {
    /// Connects and judges the host key.
    pub fn start(settings: Settings) -> Result<Opening> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ftpsync-sftp")
            .enable_all()
            .build()
            .context("cannot start the SFTP runtime")?;
        let un = rt.block_on(connect::connect(&settings))?;
        Ok(Opening { rt, settings, un })
    }

    /// The `SHA256:` fingerprint of the server's host key.
    pub fn host_key(&self) -> &str {
        self.un.host_key()
    }

    /// Learns the methods the server takes; `Some` when it needs none.
    pub fn try_nothing(&mut self, user: &str) -> Result<Option<Login>> {
        Ok(self.rt.block_on(connect::bounded(self.settings.timeout, self.un.methods(user)))?.then_some(Login::Nothing))
    }

    pub fn try_agent(&mut self, user: &str) -> Result<Option<Login>> {
        self.rt.block_on(connect::bounded(self.settings.timeout, self.un.agent(user)))
    }

    pub fn try_keys(&mut self, user: &str, keys: &[KeyFile]) -> Result<Option<Login>> {
        self.rt.block_on(connect::bounded(self.settings.timeout, self.un.keys(user, keys)))
    }

    pub fn takes_password(&self) -> bool {
        self.un.takes_password()
    }

    pub fn try_password(&mut self, user: &str, password: &super::secret::Secret) -> Result<Option<Login>> {
        self.rt.block_on(connect::bounded(self.settings.timeout, self.un.password(user, password)))
    }

    /// The error when no method worked.
    pub fn refused(&self) -> anyhow::Error {
        self.un.refused(&self.settings.url.display())
    }

    /// Opens the SFTP channel and checks the root folder.
    pub fn finish(self, user: String, login: Login, options: Options) -> Result<SftpTarget> {
        let Opening { rt, settings, un } = self;
        let conn = rt.block_on(un.sftp(settings.timeout))?;
        let url = &settings.url;
        let info = TargetInfo {
            kind: TargetKind::Sftp,
            url: url.redacted(),
            id: url.id(),
            display: url.display(),
            records_mtimes: true,
            host_key: Some(conn.host_key.clone()),
        };
        if !conn.posix_rename {
            crate::backend::ftp::learned::chose!(
                "sftp: the server does not offer posix-rename@openssh.com: files are replaced by moving the old one aside first"
            );
        }
        let shared = Arc::new(Shared {
            settings,
            user,
            login,
            options,
            temp_counter: AtomicU64::new(0),
            no_posix_rename: Default::default(),
            time_offset: Mutex::new(0.0),
            pool: Pool::default(),
            rt: Some(rt),
        });
        let lane = Lane::open(conn);
        shared.pool.adopt(&lane);
        let mut target = SftpTarget {
            shared,
            info,
            lane: Some(lane),
            using: None,
            root_missing: false,
            lock: None,
            lock_stamped: None,
            lock_writing: None,
            early: None,
        };
        let root = target.abs(&RelPath::root());
        let journal = RelPath::root().join_unchecked(JOURNAL_FILE);
        let journal_abs = target.abs(&journal);
        // The commit journal, which every command looks for next (`apply::commit::recover`),
        // looked up in the same train as the root ([`Early`]).
        let (found, early) = target.retry(|s| {
            let (root, journal_abs, s2) = (root.clone(), journal_abs.clone(), s.clone());
            async move {
                let looked = send(async move { s2.lstat(journal_abs).await });
                let found = match s.stat(root.clone()).await {
                    Ok(a) => Some(a.attrs),
                    Err(e) if is_missing(&e) => None,
                    Err(e) => return Err(failed(e, &format!("cannot look at {root}"))),
                };
                let early = match looked.await {
                    Ok(a) => listing::entry_of(JOURNAL_FILE, &a.attrs, "").ok(),
                    Err(e) if is_missing(&e) => None,
                    // Looked up again when asked.
                    Err(_) => return Ok((found, None)),
                };
                Ok((found, Some(early)))
            }
        })?;
        target.early = early.filter(|_| found.is_some()).map(|entry| Early { path: journal, entry });
        match found {
            Some(a) if listing::kind_of(&a, "") == listing::Kind::Dir => {}
            Some(_) => bail!("{} on {} is not a folder", target.shared.settings.url.path, target.info.display),
            None if target.shared.options.create_root => target.root_missing = true,
            None => bail!(
                "the remote folder {} does not exist on {} (pass --create-folder to create it)",
                target.shared.settings.url.path,
                target.info.display
            ),
        }
        Ok(target)
    }
}

/// One connection to an SFTP server, rooted at the URL's folder.
pub struct SftpTarget {
    shared: Arc<Shared>,
    info: TargetInfo,
    /// The session this connection's requests go to (shared with others: [`sessions`]).
    lane: Option<Arc<Lane>>,
    /// The session the last requests went to (this connection's, or another while that one
    /// is being opened).
    using: Option<Arc<Lane>>,
    root_missing: bool,
    lock: Option<lockfile::Held>,
    /// The time the server gave the lock file this connection just created.
    lock_stamped: Option<f64>,
    /// The lock's content on its way (see `lock_io`'s `create_exclusive`).
    lock_writing: Option<LockWriting>,
    /// An answer sent for before it was asked ([`Early`]).
    early: Option<Early>,
}

/// The requests that write the lock just created, sent and not yet answered.
struct LockWriting {
    written: transfer::Pending<()>,
    stat: transfer::Pending<russh_sftp::protocol::Attrs>,
    closed: transfer::Pending<()>,
}

/// An entry looked up before it was asked for, in the train of an earlier request: the answer
/// to the next [`Target::stat`] of its path, if that comes before any other request of this
/// connection (which forgets it: [`SftpTarget::sftp`]). It is then as fresh as a look-up sent
/// at once would have been.
struct Early {
    path: RelPath,
    entry: Option<Entry>,
}

/// An SSH string: its length (4 bytes, big-endian), then its bytes.
fn ssh_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl SftpTarget {
    /// The absolute server path of a relative path.
    fn abs(&self, path: &RelPath) -> String {
        let root = self.shared.settings.url.path.trim_end_matches('/');
        if path.is_root() { if root.is_empty() { "/".into() } else { root.into() } } else { format!("{root}/{path}") }
    }

    fn temp_name(&self, path: &RelPath) -> RelPath {
        let n = self.shared.temp_counter.fetch_add(1, Ordering::Relaxed);
        path.parent().join_unchecked(&format!("{TEMP_PREFIX}{}-{n}", std::process::id()))
    }

    /// The channel for the next requests: this connection's session, or while that is still
    /// being opened, another open one ([`sessions`]).
    fn sftp(&mut self) -> Result<Arc<RawSftpSession>> {
        self.early = None;
        for _ in 0..2 {
            // A session that another user of it found lost (a request timed out, the
            // connection failed) is not used again: each user would wait out its own timeout
            // on it (a stalled commit's rollback did, once per step).
            if let Some(lane) = self.lane.take_if(|l| !l.usable()) {
                self.shared.pool.release(&lane);
            }
            let lane = match &self.lane {
                Some(l) => l.clone(),
                None => {
                    let lane = self.shared.pool.take(&Shared::connector(&self.shared))?;
                    self.lane = Some(lane.clone());
                    lane
                }
            };
            let used = if lane.opening() { self.shared.pool.any_open().unwrap_or(lane) } else { lane };
            self.using = Some(used.clone());
            match used.wait() {
                Ok(conn) => return Ok(conn.sftp.clone()),
                // Its session could not be opened: another one, once.
                Err(_) if self.lane.as_ref().is_some_and(|l| Arc::ptr_eq(l, &used)) => self.lost(),
                Err(e) => return Err(e),
            }
        }
        let lane = self.shared.pool.take(&Shared::connector(&self.shared))?;
        self.lane = Some(lane.clone());
        self.using = Some(lane.clone());
        Ok(lane.wait()?.sftp.clone())
    }

    /// Gives up the session the last requests went to, after a failure of its connection:
    /// nobody gets it again, and the next request goes to another one.
    fn lost(&mut self) {
        let Some(used) = self.using.take() else { return };
        used.lose();
        if let Some(lane) = self.lane.take_if(|l| Arc::ptr_eq(l, &used) || !l.usable()) {
            self.shared.pool.release(&lane);
        }
    }

    fn posix_rename(&self) -> bool {
        !self.shared.no_posix_rename.load(Ordering::Relaxed)
            && self.using.as_ref().or(self.lane.as_ref()).and_then(|l| l.conn()).is_some_and(|c| c.posix_rename)
    }

    /// Replaces files as on a server without `posix-rename@openssh.com` ([`SftpTarget::place`]'s
    /// fallback), on every connection of this target: how the tests reach that path on servers
    /// that all offer the extension.
    pub fn without_posix_rename(self) -> SftpTarget {
        self.shared.no_posix_rename.store(true, Ordering::Relaxed);
        self
    }

    /// Runs `op` on the live connection, reconnecting and trying again (with growing pauses)
    /// while it fails transiently.
    fn retry<T, F, Fut>(&mut self, mut op: F) -> Result<T>
    where
        F: FnMut(Arc<RawSftpSession>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let attempts = self.shared.options.retries.max(1);
        let mut pause = Duration::from_millis(250);
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(pause);
                pause *= 2;
            }
            let sftp = match self.sftp() {
                Ok(s) => s,
                Err(e) if is_transient(&e) => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let shared = self.shared.clone();
            match shared.rt().block_on(op(sftp)) {
                Err(e) if is_transient(&e) => {
                    self.lost();
                    last = Some(e);
                }
                other => return other,
            }
        }
        let e = last.unwrap_or_else(|| anyhow!("no attempt was made"));
        Err(e.context(format!("gave up after {attempts} attempts")))
    }

    /// Runs one request that must succeed (retried while the connection fails).
    fn simple<F, Fut>(&mut self, doing: String, op: F) -> Result<()>
    where
        F: Fn(Arc<RawSftpSession>) -> Fut,
        Fut: std::future::Future<Output = Result<(), russh_sftp::client::error::Error>>,
    {
        self.retry(|s| {
            let fut = op(s);
            let doing = doing.clone();
            async move { fut.await.map_err(|e| failed(e, &doing)) }
        })
    }

    /// Writes `data` at `abs` (no rename); the file is removed again after a failure.
    fn upload(&mut self, abs: &str, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        let sftp = self.sftp()?;
        let shared = self.shared.clone();
        let result = shared.rt().block_on(transfer::upload(&sftp, abs, data, None, mtime));
        match result {
            Ok(s) => Ok(Written { bytes: s.bytes, mtime_set: s.mtime_set }),
            Err(e) => {
                if is_transient(&e) {
                    self.lost();
                }
                let abs = abs.to_string();
                let _ = self.retry(|s| {
                    let abs = abs.clone();
                    async move {
                        let _ = s.remove(abs).await;
                        Ok(())
                    }
                });
                Err(e)
            }
        }
    }

    /// Renames `tmp` onto `dest`, replacing what is there. With `posix-rename@openssh.com` one
    /// atomic request. Without it (SFTP version 3's `RENAME` refuses a taken name), the old
    /// file is first renamed to a temporary name, in the same train of requests as the rename
    /// into place: the name is missing only between two requests the server handles one after
    /// the other, never for a round trip. The old file is removed once the new one is in
    /// place; if the new one could not be placed, the old one is renamed back (and if even that
    /// fails, it stays under the temporary name, which the next apply reports and removes).
    fn place(&mut self, tmp: &str, dest: &str, dest_rel: &RelPath) -> Result<()> {
        let sftp = self.sftp()?;
        let shared = self.shared.clone();
        let doing = format!("cannot rename {tmp} to {dest}");
        if self.posix_rename() {
            let mut data = Vec::new();
            ssh_string(&mut data, tmp);
            ssh_string(&mut data, dest);
            let reply = shared.rt().block_on(sftp.extended(connect::POSIX_RENAME, data));
            return match reply {
                Ok(russh_sftp::protocol::Packet::Status(s)) if s.status_code == StatusCode::Ok => Ok(()),
                Ok(russh_sftp::protocol::Packet::Status(s)) => Err(failed(s.into(), &doing)),
                Ok(_) => Err(anyhow!("{doing}: unexpected answer to {}", connect::POSIX_RENAME)),
                Err(e) => Err(failed(e, &doing)),
            };
        }
        let aside = self.abs(&self.temp_name(dest_rel));
        let (t, d, a) = (tmp.to_string(), dest.to_string(), aside.clone());
        shared.rt().block_on(async move {
            let (s1, s2, s3) = (sftp.clone(), sftp.clone(), sftp.clone());
            let (d1, a1, t2, d2, a3) = (d.clone(), a.clone(), t.clone(), d.clone(), a.clone());
            let moved = send(async move { s1.rename(d1, a1).await.map(drop) });
            let placed = send(async move { s2.rename(t2, d2).await.map(drop) });
            let (moved, placed) = (moved.await.is_ok(), placed.await);
            match placed {
                Ok(()) if moved => {
                    let _ = s3.remove(a3).await;
                    Ok(())
                }
                Ok(()) => Ok(()),
                Err(e) => {
                    if moved {
                        let _ = s3.rename(a3, d).await;
                    }
                    Err(failed(e, &doing))
                }
            }
        })
    }

    /// Uploads under a temporary name, checks, guards and renames into place.
    fn store(
        &mut self,
        path: &RelPath,
        data: &mut dyn Read,
        mtime: Option<f64>,
        guard: Option<Guard<'_>>,
    ) -> Result<Written> {
        let tmp = self.abs(&self.temp_name(path));
        let dest = self.abs(path);
        let written = self.upload(&tmp, data, mtime)?;
        let checked = match guard {
            Some(g) => self.stat(path).and_then(|found| g(found.as_ref())),
            None => Ok(()),
        };
        let placed = checked.and_then(|()| self.place(&tmp, &dest, path));
        if let Err(e) = placed {
            let _ = self.remove_quietly(&tmp);
            return Err(e);
        }
        Ok(written)
    }

    fn remove_quietly(&mut self, abs: &str) -> Result<()> {
        let abs = abs.to_string();
        self.retry(|s| {
            let abs = abs.clone();
            async move {
                let _ = s.remove(abs).await;
                Ok(())
            }
        })
    }
}

impl Target for SftpTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn list_dir(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        Ok(self.list_dirs(std::slice::from_ref(dir))?.pop().flatten())
    }

    /// All folders at once on the one channel: every `OPENDIR` is sent before the first answer
    /// is awaited, so a batch costs the round trips of its largest folder.
    fn list_dirs(&mut self, dirs: &[RelPath]) -> Result<Vec<Option<Listing>>> {
        let root_missing = self.root_missing;
        let abs: Vec<(bool, String)> = dirs.iter().map(|d| (d.is_root() && root_missing, self.abs(d))).collect();
        let server = self.info.display.clone();
        self.retry(|s| {
            let futs: Vec<_> = abs
                .iter()
                .map(|(missing_root, a)| {
                    let (s, a, server, missing_root) = (s.clone(), a.clone(), server.clone(), *missing_root);
                    async move {
                        if missing_root {
                            return Ok(Some(Listing::default()));
                        }
                        folders::list_one(s, a, server).await
                    }
                })
                .collect();
            // In order, at most LIST_IN_FLIGHT folders open at once (a server limits handles).
            async move {
                use futures::StreamExt;
                futures::stream::iter(futs).buffered(LIST_IN_FLIGHT).collect::<Vec<_>>().await.into_iter().collect()
            }
        })
    }

    /// Each folder's file `name` opened in the same train as its `OPENDIR`, and read while its
    /// names are: a folder and its metadata cost the round trips of the listing alone, where
    /// reading the file after the listing costs two more. A file that could not be read this
    /// way (larger than [`READ_WITH_LISTING`], or any failure) is left to the caller.
    fn list_dirs_reading(&mut self, dirs: &[RelPath], name: &str) -> Result<Vec<ListedWith>> {
        let root_missing = self.root_missing;
        let abs: Vec<(bool, String, String)> = dirs
            .iter()
            .map(|d| (d.is_root() && root_missing, self.abs(d), self.abs(&d.join_unchecked(name))))
            .collect();
        let server = self.info.display.clone();
        self.retry(|s| {
            let futs: Vec<_> = abs
                .iter()
                .map(|(missing_root, dir, file)| {
                    let (s, dir, file, server, missing_root) =
                        (s.clone(), dir.clone(), file.clone(), server.clone(), *missing_root);
                    async move {
                        if missing_root {
                            return Ok((Some(Listing::default()), None));
                        }
                        // Both started before either is awaited: one train.
                        let listed = folders::list_one(s.clone(), dir, server);
                        let read = small::read_whole(s, file, READ_WITH_LISTING);
                        let (listed, read) = futures::join!(listed, read);
                        Ok((listed?, read.ok().flatten()))
                    }
                })
                .collect();
            // As `list_dirs`: in order, at most LIST_IN_FLIGHT folders at once (two handles each).
            async move {
                use futures::StreamExt;
                futures::stream::iter(futs).buffered(LIST_IN_FLIGHT).collect::<Vec<_>>().await.into_iter().collect()
            }
        })
    }

    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        if let Some(early) = self.early.take_if(|e| e.path == *path) {
            return Ok(early.entry);
        }
        if path.is_root() {
            return Ok((!self.root_missing).then(|| Entry::dir("", 0.0)));
        }
        if path.parent().is_root() && self.root_missing {
            return Ok(None);
        }
        let (abs, name) = (self.abs(path), path.name().to_string());
        self.retry(|s| {
            let (abs, name) = (abs.clone(), name.clone());
            async move {
                match s.lstat(abs.clone()).await {
                    Ok(a) => Ok(listing::entry_of(&name, &a.attrs, "").ok()),
                    Err(e) if is_missing(&e) => Ok(None),
                    Err(e) => Err(failed(e, &format!("cannot look at {abs}"))),
                }
            }
        })
    }

    /// Every entry's `LSTAT` sent before the first answer is awaited: one round trip, where
    /// listing their folders costs two (the open, then the names) and reads every name of a
    /// folder to find a few.
    fn look_up_all(&mut self, paths: &[RelPath]) -> Result<Vec<Option<Entry>>> {
        let root_missing = self.root_missing;
        let special = |p: &RelPath| p.is_root() || (p.parent().is_root() && root_missing);
        let asked: Vec<(String, String)> =
            paths.iter().filter(|p| !special(p)).map(|p| (self.abs(p), p.name().to_string())).collect();
        let found: Vec<Option<Entry>> = self.retry(|s| {
            let asked = asked.clone();
            async move {
                // Sent here, in the runtime (a request's timeout needs it).
                let sent: Vec<_> = asked
                    .iter()
                    .map(|(abs, _)| {
                        let (s, abs) = (s.clone(), abs.clone());
                        send(async move { s.lstat(abs).await })
                    })
                    .collect();
                let mut out = Vec::with_capacity(sent.len());
                for ((abs, name), reply) in asked.iter().zip(sent) {
                    out.push(match reply.await {
                        Ok(a) => listing::entry_of(name, &a.attrs, "").ok(),
                        Err(e) if is_missing(&e) => None,
                        Err(e) => return Err(failed(e, &format!("cannot look at {abs}"))),
                    });
                }
                Ok(out)
            }
        })?;
        let mut found = found.into_iter();
        paths.iter().map(|p| if special(p) { self.stat(p) } else { Ok(found.next().flatten()) }).collect()
    }

    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()> {
        self.refresh_lock()?;
        let abs = self.abs(path);
        let shared = self.shared.clone();
        // The sink starts over (a new temporary file) if a transient failure forces a retry.
        let attempts = self.shared.options.retries.max(1);
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt.min(4)));
            }
            let sftp = match self.sftp() {
                Ok(s) => s,
                Err(e) if is_transient(&e) => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            // The size in the same train as the open: a read that ends there is the end, with
            // no round trip to ask for more (a server may answer short before the end).
            let (s1, s2, a1, a2) = (sftp.clone(), sftp.clone(), abs.clone(), abs.clone());
            let (opened, size) = shared.rt().block_on(async move {
                let opened = send(async move { s1.open(a1, OpenFlags::READ, FileAttributes::empty()).await });
                let size = send(async move { s2.lstat(a2).await });
                (opened.await, size.await.ok().and_then(|a| a.attrs.size))
            });
            let handle = match opened {
                Ok(h) => h.handle,
                Err(e) => {
                    let e = failed(e, &format!("cannot download {abs}"));
                    if is_transient(&e) {
                        self.lost();
                        last = Some(e);
                        continue;
                    }
                    return Err(e);
                }
            };
            let mut dl = Download::new(shared.rt().handle().clone(), sftp, handle, abs.clone(), size);
            let result = sink(&mut dl);
            let lost = dl.lost;
            dl.close();
            match result {
                Err(e) if lost => {
                    self.lost();
                    last = Some(e);
                }
                other => return other,
            }
        }
        let e = last.unwrap_or_else(|| anyhow!("no attempt was made"));
        Err(e.context(format!("gave up after {attempts} attempts")))
    }

    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        self.refresh_lock()?;
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

    fn workers_per_session(&self) -> usize {
        PER_SESSION
    }

    /// No: the lock is proved ours by its exclusive creation ([`Target::begin_lock`]), so the
    /// check does not wait for the lock, and the journal is written while the transfers start.
    fn journal_while_checking(&self) -> bool {
        false
    }

    fn write_attempts(&self) -> u32 {
        self.shared.options.retries.max(1)
    }

    fn write_staged(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        self.refresh_lock()?;
        let abs = self.abs(path);
        self.upload(&abs, data, mtime)
    }

    fn staged_batch(&self) -> usize {
        STAGED_BATCH
    }

    /// Every file's open sent at once, then each file's writes, time, size check and close as
    /// soon as its handle comes ([`transfer::upload`] for each, side by side on this channel):
    /// two round trips for the batch, where one file at a time costs two each. A file that
    /// failed is left to the caller (written again with [`Target::write_staged`], which removes
    /// it after a failure of its own).
    fn write_staged_all(&mut self, files: &[StagedFile<'_>]) -> Vec<Result<Written>> {
        let sftp = match self.refresh_lock().and_then(|()| self.sftp()) {
            Ok(s) => s,
            // Each file meets the same failure on its own, with its own message.
            Err(_) => return files.iter().map(|f| self.write_staged(f.path, &mut &f.data[..], f.mtime)).collect(),
        };
        let abs: Vec<String> = files.iter().map(|f| self.abs(f.path)).collect();
        let shared = self.shared.clone();
        let stored = shared.rt().block_on(futures::future::join_all(files.iter().zip(&abs).map(|(f, abs)| {
            let sftp = sftp.clone();
            async move { transfer::upload(&sftp, abs, &mut &f.data[..], Some(f.data.len()), f.mtime).await }
        })));
        if stored.iter().any(|r| r.as_ref().is_err_and(is_transient)) {
            self.lost();
        }
        stored.into_iter().map(|r| r.map(|s| Written { bytes: s.bytes, mtime_set: s.mtime_set })).collect()
    }

    fn rename(&mut self, from: &RelPath, to: &RelPath) -> Result<()> {
        self.rename_all(&[(from.clone(), to.clone())])
    }

    /// All renames sent before the first answer is awaited; the server runs them in order.
    /// Not retried on a new connection: a rename cut off may have happened.
    fn rename_all(&mut self, renames: &[(RelPath, RelPath)]) -> Result<()> {
        self.refresh_lock()?;
        let pairs: Vec<(String, String)> = renames.iter().map(|(f, t)| (self.abs(f), self.abs(t))).collect();
        let sftp = self.sftp()?;
        let shared = self.shared.clone();
        let result = shared.rt().block_on(async move {
            let sent: Vec<_> = pairs
                .iter()
                .map(|(f, t)| {
                    let (s, f, t) = (sftp.clone(), f.clone(), t.clone());
                    send(async move { s.rename(f, t).await.map(drop) })
                })
                .collect();
            let mut first = None;
            for ((f, t), r) in pairs.iter().zip(sent) {
                if let Err(e) = r.await
                    && first.is_none()
                {
                    first = Some(failed(e, &format!("cannot rename {f} to {t}")));
                }
            }
            first.map_or(Ok(()), Err)
        });
        if result.as_ref().is_err_and(is_transient) {
            self.lost();
        }
        result
    }

    fn make_dir(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs(path);
        self.simple(format!("cannot create folder {abs}"), |s| {
            let abs = abs.clone();
            async move { s.mkdir(abs, FileAttributes::empty()).await.map(drop) }
        })
    }

    fn remove_file(&mut self, path: &RelPath) -> Result<()> {
        if !path.components().any(is_temp_name) {
            self.refresh_lock()?;
        }
        let abs = self.abs(path);
        self.simple(format!("cannot delete {abs}"), |s| {
            let abs = abs.clone();
            async move { s.remove(abs).await.map(drop) }
        })
    }

    /// Every file's `REMOVE` sent at once (the backups after a commit); a file whose removal
    /// failed (gone already, or a folder after all) and every folder then as by default.
    fn remove_all(&mut self, entries: &[(RelPath, Kind)]) -> Result<()> {
        if entries.iter().any(|(p, _)| !p.components().any(is_temp_name)) {
            self.refresh_lock()?;
        }
        let files: Vec<String> = entries.iter().filter(|(_, k)| *k == Kind::File).map(|(p, _)| self.abs(p)).collect();
        let sftp = self.sftp()?;
        let shared = self.shared.clone();
        let removed: Vec<Result<(), russh_sftp::client::error::Error>> = shared.rt().block_on(async move {
            let sent: Vec<_> = files
                .into_iter()
                .map(|abs| {
                    let s = sftp.clone();
                    send(async move { s.remove(abs).await.map(drop) })
                })
                .collect();
            futures::future::join_all(sent).await
        });
        if removed.iter().any(|r| r.as_ref().is_err_and(errors::is_lost)) {
            self.lost();
        }
        let mut removed = removed.into_iter();
        for (path, kind) in entries {
            match kind {
                Kind::File if removed.next().is_some_and(|r| r.is_ok()) => {}
                Kind::File => self.remove_file(path).or_else(|_| self.remove_tree(path))?,
                Kind::Dir => self.remove_folder(path)?,
            }
        }
        Ok(())
    }

    fn remove_dir(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs(path);
        self.simple(format!("cannot delete folder {abs}"), |s| {
            let abs = abs.clone();
            async move { s.rmdir(abs).await.map(drop) }
        })
    }

    fn remove_stale_temporary(&mut self, path: &RelPath) -> Result<bool> {
        if !is_temp_name(path.name()) {
            bail!("{path} is not a temporary file");
        }
        // Every ftpsync run applying here holds the lock: while it is ours, a temporary file
        // belongs to no running one. Without the lock nothing is known.
        self.settle_lock_write()?;
        if self.lock.is_none() {
            return Ok(false);
        }
        match self.stat_any(path)? {
            None => Ok(false),
            Some(Kind::Dir) => self.remove_folder(path).map(|()| true),
            Some(Kind::File) => self.remove_file(path).map(|()| true),
        }
    }

    fn opener(&self) -> super::Opener {
        let (shared, info, root_missing) = (self.shared.clone(), self.info.clone(), self.root_missing);
        Arc::new(move || {
            let lane = shared.pool.take(&Shared::connector(&shared))?;
            Ok(Box::new(SftpTarget {
                shared: shared.clone(),
                info: info.clone(),
                lane: Some(lane),
                using: None,
                root_missing,
                lock: None,
                lock_stamped: None,
                lock_writing: None,
                early: None,
            }) as Box<dyn Target>)
        })
    }

    fn begin_lock(&mut self, break_lock: bool) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        if self.root_missing {
            let abs = self.abs(&RelPath::root());
            self.simple(format!("cannot create the remote folder {abs}"), |s| {
                let abs = abs.clone();
                async move { s.mkdir(abs, FileAttributes::empty()).await.map(drop) }
            })?;
            self.root_missing = false;
            notes.push(format!("Created the remote folder {abs}."));
        }
        let (held, more) = lockfile::take(self, break_lock)?;
        notes.extend(more);
        self.lock = Some(held);
        Ok(notes)
    }

    /// The answers to the lock's content, awaited while apply checks the plan (the server's
    /// time of it is learnt here).
    fn confirm_lock(&mut self) -> Result<Vec<String>> {
        self.settle_lock_write()?;
        Ok(Vec::new())
    }

    fn reconfirm_lock(&mut self) -> Result<()> {
        self.settle_lock_write()?;
        let Some(held) = &self.lock else { return Ok(()) };
        let me = held.content.lock_holder.clone();
        let current = self.read_small(&self.lock_abs())?.and_then(|b| LockFile::parse(&b));
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
        self.settle_lock_write()?;
        let Some(held) = self.lock.take() else { return Ok(()) };
        // Only remove the lock if it is still ours (it may have been broken and retaken).
        let current = self.read_small(&self.lock_abs())?.and_then(|b| LockFile::parse(&b));
        if current.as_ref().and_then(|l| l.lock_holder.as_ref()) == held.content.lock_holder.as_ref() {
            let abs = self.lock_abs();
            self.simple(format!("cannot remove the lock {abs}"), |s| {
                let abs = abs.clone();
                async move { s.remove(abs).await.map(drop) }
            })?;
        }
        Ok(())
    }

    /// The lock was read and found ours one round trip before ([`Target::reconfirm_lock`]),
    /// as [`Target::unlock`] would read it: removed without reading it again.
    fn unlock_reconfirmed(&mut self) -> Result<()> {
        self.settle_lock_write()?;
        if self.lock.take().is_none() {
            return Ok(());
        }
        let abs = self.lock_abs();
        self.simple(format!("cannot remove the lock {abs}"), |s| {
            let abs = abs.clone();
            async move { s.remove(abs).await.map(drop) }
        })
    }

    fn folds_case(&mut self) -> Result<bool> {
        self.settle_lock_write()?;
        if self.lock.is_none() {
            bail!("internal error: the server's case rules are asked under the lock");
        }
        // The lock file is known to exist now, under exactly this name.
        let swapped: String = LOCK_FILE
            .chars()
            .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        Ok(self.stat_any(&RelPath::root().join_unchecked(&swapped))?.is_some())
    }

    fn time_offset(&self) -> f64 {
        *self.shared.time_offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&mut self) -> Result<()> {
        let unlocked = self.unlock();
        // The session waits for the next worker (scan, then apply, use the same ones).
        self.using = None;
        if let Some(lane) = self.lane.take() {
            self.shared.pool.release(&lane);
        }
        unlocked
    }
}

impl SftpTarget {
    /// The kind of whatever is at `path` (links and special files count as files: they are
    /// removed with `REMOVE`), `None` if nothing is.
    fn stat_any(&mut self, path: &RelPath) -> Result<Option<Kind>> {
        let abs = self.abs(path);
        self.retry(|s| {
            let abs = abs.clone();
            async move {
                match s.lstat(abs.clone()).await {
                    Ok(a) if listing::kind_of(&a.attrs, "") == listing::Kind::Dir => Ok(Some(Kind::Dir)),
                    Ok(_) => Ok(Some(Kind::File)),
                    Err(e) if is_missing(&e) => Ok(None),
                    Err(e) => Err(failed(e, &format!("cannot look at {abs}"))),
                }
            }
        })
    }
}

impl Drop for SftpTarget {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
