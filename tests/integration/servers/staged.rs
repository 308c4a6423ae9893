//! All-or-nothing apply (issue 13) on every server of the matrix, in each mode (FTP, FTPS and,
//! through [`Remote::Sftp`], SFTP):
//! - `primitives`: [`check_staging_primitives`] (staged names invisible, renames of files and
//!   folders with their content, several at once, trees removed) in a fresh folder;
//! - `rollback`: a staged apply of a release (files replaced, added and deleted, a new folder
//!   with content) whose staging fails on the server partway (a folder the server's user can
//!   no longer write, made so on disk after the plan): `ftpsync apply` exits 1 with
//!   `result: rolled_back`, and the served tree is byte for byte and time for time as before,
//!   with no temporary name, journal or lock left;
//! - `recover`: the state a commit cut short leaves (staged entries, the journal, the first k
//!   of its renames done, built with the library against the server), resolved by
//!   `ftpsync recover URL`: forward when every staged entry is there, back when one is
//!   missing; the served tree is then exactly the new or the old one, nothing temporary left.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use ftpsync::apply::commit::burst::journal_path;
use ftpsync::apply::commit::journal::{Journal, Step};
use ftpsync::backend::conformance::check_staging_primitives;
use ftpsync::backend::url::{FtpUrl, Location, Tls};
use ftpsync::backend::{Target, with_write_attempts};
use ftpsync::commands::sftp_login::open_sftp;
use ftpsync::meta::{JOURNAL_FILE, LOCK_FILE};
use ftpsync::model::listing::{TEMP_PREFIX, is_temp_name};
use ftpsync::model::relpath::RelPath;
use ftpsync::model::side::Side;
use ftpsync::model::{Clock, Kind, SystemClock};
use ftpsync::output::Printer;
use ftpsync::settings::{Connection, PASSWORD_ENV};

use super::{Row, Server, Tree, connect, known_problem, make_dirs};
use crate::support::ftpsync_command;
use crate::support::sftp::SftpServer;
use crate::support::world::{bounded_output, text};

/// Every entry below `root` (files: bytes and mtime; folders: `/`), bookkeeping included: a
/// metadata file, lock, journal or temporary name that should not be there is a difference.
fn everything(root: &Path) -> Tree {
    super::walk_tree(root, &|_| true)
}

/// Names below `root` that a finished run must not leave: temporary names, journal, lock.
fn leftovers(tree: &Tree) -> Vec<String> {
    tree.keys()
        .filter(|p| p.trim_end_matches('/').split('/').any(|n| is_temp_name(n) || n == JOURNAL_FILE || n == LOCK_FILE))
        .cloned()
        .collect()
}

/// The tree without ftpsync's temporary names, journal and lock: what a visitor sees.
fn visible(tree: &Tree) -> Tree {
    let hidden: Vec<String> = leftovers(tree);
    tree.iter().filter(|(p, _)| !hidden.contains(p)).map(|(p, v)| (p.clone(), v.clone())).collect()
}

/// A server of the matrix in one mode: FTP or FTPS (a server of the environment or the
/// built-in one, with its URL), or SFTP (with a HOME whose `~/.ssh/known_hosts` knows it).
#[derive(Clone, Copy)]
pub(super) enum Remote<'a> {
    Ftp(&'a Server, &'a FtpUrl),
    Sftp(&'a SftpServer, &'a Path),
}

impl Remote<'_> {
    fn name(&self) -> &str {
        match self {
            Remote::Ftp(server, _) => &server.name,
            Remote::Sftp(server, _) => &server.name,
        }
    }

    /// The folder on disk behind the URL's path.
    fn root(&self) -> &Path {
        match self {
            Remote::Ftp(server, _) => &server.root,
            Remote::Sftp(server, _) => &server.root,
        }
    }

    fn mode(&self) -> &'static str {
        match self {
            Remote::Ftp(_, url) => super::mode_name(url),
            Remote::Sftp(..) => "sftp",
        }
    }

    /// `ftp[s]://user:password@host:port/PATH/folder` for the binary (folder names are plain
    /// ASCII); for SFTP without the password (the binary gets it from the environment).
    fn url_of(&self, folder: &str) -> String {
        match self {
            Remote::Ftp(_, url) => {
                let user = url.user.as_deref().unwrap_or("anonymous");
                let password = url.password.as_deref().unwrap_or_default();
                let base = url.path.trim_end_matches('/');
                format!("{}://{user}:{password}@{}:{}{base}/{folder}", url.scheme(), url.host, url.effective_port())
            }
            Remote::Sftp(server, _) => super::sftp::url(server, super::sftp::user(server), folder),
        }
    }

    /// A library connection to `folder` (the host key pinned for SFTP).
    fn connect(&self, folder: &str) -> anyhow::Result<Box<dyn Target>> {
        match self {
            Remote::Ftp(server, url) => Ok(Box::new(connect(url, folder, server.ca.as_deref())?)),
            Remote::Sftp(server, _) => {
                let Ok(Location::Sftp(url)) = Location::parse(&server.url_of(folder)) else {
                    anyhow::bail!("{}: not an sftp:// URL", server.name)
                };
                let conn =
                    Connection { host_keys: vec![server.fingerprint()], no_prompt: true, ..Connection::for_demo() };
                Ok(Box::new(open_sftp(url, &conn, &Printer::silent(), false)?))
            }
        }
    }

    /// Runs the binary against this server (bounded): no prompt, keyring or netrc, the password
    /// from the environment (a plan keeps the URL without it), the test CA for FTPS, the
    /// known_hosts HOME for SFTP.
    fn binary(&self, home: &Path, args: &[&str]) -> std::process::Output {
        let mut cmd = ftpsync_command(args);
        cmd.args(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "20"]);
        match self {
            Remote::Ftp(server, url) => {
                cmd.env("HOME", home);
                if url.tls != Tls::None {
                    cmd.arg("--ca-file").arg(server.ca.as_deref().expect("FTPSYNC_TEST_CA is needed for TLS"));
                }
                cmd.env(PASSWORD_ENV, url.password.as_deref().unwrap_or_default());
            }
            Remote::Sftp(server, sftp_home) => {
                cmd.env("HOME", sftp_home).env_remove("SSH_AUTH_SOCK").env(PASSWORD_ENV, server.password());
            }
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        bounded_output(cmd)
    }

    /// The in-process built-in server runs as this process (root in CI).
    fn is_builtin(&self) -> bool {
        matches!(self, Remote::Ftp(server, _) if server.name == super::BUILTIN)
    }
}

/// A fresh folder in the served root, owned like the root (so the server's user may write).
fn fresh(remote: Remote, name: &str) -> std::path::PathBuf {
    let stamp = format!("{}-{}-{}", remote.mode(), std::process::id(), SystemClock.now() as u64);
    let dir = remote.root().join(format!("{name}-{stamp}"));
    let meta = fs::metadata(remote.root()).unwrap();
    make_dirs(remote.root(), &dir, Some(owner(&meta)));
    dir
}

fn owner(meta: &fs::Metadata) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    (meta.uid(), meta.gid())
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// The three rows for one server in one mode.
pub(super) fn rows(remote: Remote, scratch: &Path) -> Vec<Row> {
    type Check<'a> = Box<dyn Fn() -> Result<String, String> + 'a>;
    let checks: [(&'static str, Check); 3] = [
        ("primitives", Box::new(|| primitives(remote))),
        ("rollback", Box::new(|| rollback(remote, scratch))),
        ("recover", Box::new(|| recover(remote, scratch))),
    ];
    checks
        .into_iter()
        .map(|(operation, check)| {
            if let Some(why) = known_problem(remote.name(), operation) {
                return Row { operation, ok: true, skipped: true, seconds: 0.0, detail: why.into(), protocol: None };
            }
            let started = Instant::now();
            let result = check();
            let seconds = started.elapsed().as_secs_f64();
            match result {
                Ok(detail) => Row { operation, ok: true, skipped: false, seconds, detail, protocol: None },
                Err(detail) => Row { operation, ok: false, skipped: false, seconds, detail, protocol: None },
            }
        })
        .collect()
}

fn primitives(remote: Remote) -> Result<String, String> {
    let dir = fresh(remote, "staging");
    let result = (|| {
        let mut t = remote.connect(&folder_name(&dir)).map_err(|e| format!("connect: {e:#}"))?;
        let t = t.as_mut();
        learn_transfers(t)?;
        let work = RelPath::parse("work").unwrap();
        t.make_dir(&work).map_err(|e| format!("MKD work: {e:#}"))?;
        check_staging_primitives(t, &work).map_err(|e| format!("{e:#}"))?;
        t.close().map_err(|e| format!("close: {e:#}"))?;
        let left = everything(&dir);
        if !left.is_empty() {
            return Err(format!("left on the server: {:?}", left.keys().collect::<Vec<_>>()));
        }
        Ok("staged names invisible; files and folders renamed with content, several at once; trees removed".into())
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

/// One transfer as the apply makes it (attempts as the target says, the source read again):
/// a server's quirks about transfers (Twisted aborts a `STOR` sent with its `EPSV` with 426)
/// are learned here, as the apply's first transfer learns them, and not by the check.
fn learn_transfers(t: &mut dyn Target) -> Result<(), String> {
    let probe = RelPath::parse("probe.txt").unwrap();
    write_retrying(t, &probe, b"probe", None, false)?;
    t.remove_file(&probe).map_err(|e| format!("DELE probe.txt: {e:#}"))
}

/// [`Target::write_file`] or [`Target::write_staged`] with the attempts the apply makes.
fn write_retrying(
    t: &mut dyn Target,
    path: &RelPath,
    data: &[u8],
    mtime: Option<f64>,
    staged: bool,
) -> Result<(), String> {
    let attempts = t.write_attempts();
    with_write_attempts(attempts, || {
        if staged { t.write_staged(path, &mut &data[..], mtime) } else { t.write_file(path, &mut &data[..], mtime) }
    })
    .map(drop)
    .map_err(|e| format!("storing {path}: {e:#}"))
}

/// The release both `rollback` and `recover` use: the old served tree and the new one.
fn release() -> (Tree, Tree) {
    let t_old = 1_600_000_000;
    let t_new = 1_650_000_000;
    let f = |s: &str, t: i64| (s.as_bytes().to_vec(), t);
    let old: Tree = [
        ("index.html", f("old index", t_old)),
        ("css/site.css", f("old css", t_old)),
        ("locked/page.html", f("old page in a folder the server cannot write to", t_old)),
        ("old.js", f("old js", t_old)),
        ("gone/a.txt", f("a", t_old)),
        ("keep.txt", f("kept as it is", t_old)),
    ]
    .into_iter()
    .map(|(p, v)| (p.to_string(), v))
    .collect();
    let mut new = old.clone();
    new.insert("index.html".into(), f("new index, longer than the old one", t_new));
    new.insert("css/site.css".into(), f("new css", t_new));
    new.insert("locked/page.html".into(), f("new page", t_new));
    new.insert("new.css".into(), f("new file", t_new));
    new.insert("img/1.png".into(), f("one", t_new));
    new.insert("img/sub/2.png".into(), f("two", t_new));
    new.remove("old.js");
    new.remove("gone/a.txt");
    (old, new)
}

fn rollback(remote: Remote, scratch: &Path) -> Result<String, String> {
    let served = fresh(remote, "rollback");
    let owner = owner(&fs::metadata(&served).unwrap());
    let local = scratch.join(format!("{}-{}-rollback-local", remote.name(), remote.mode()));
    let home = scratch.join(format!("{}-{}-rollback-home", remote.name(), remote.mode()));
    let locked = served.join("locked");
    let result = (|| {
        let (old, new) = release();
        super::write_tree(&served, &old, Some(owner));
        super::write_tree(&local, &new, None);
        fs::create_dir_all(&home).unwrap();
        let plan = scratch.join(format!("{}-{}-rollback-plan.json", remote.name(), remote.mode()));
        let report = scratch.join(format!("{}-{}-rollback-report.json", remote.name(), remote.mode()));
        let url = remote.url_of(&folder_name(&served));
        let run = |args: &[&str]| remote.binary(&home, args);
        let out = run(&["plan", "upload", local.to_str().unwrap(), &url, "-o", plan.to_str().unwrap(), "--delete"]);
        if !out.status.success() {
            return Err(format!("plan failed: {}", text(&out)));
        }
        let before = everything(&served);
        // After the plan: the server's user can no longer create anything in `locked/`, so
        // staging its new page fails while the other changes stage fine.
        lock(&locked, remote)?;
        let out = run(&["apply", plan.to_str().unwrap(), "--report", report.to_str().unwrap(), "--retries", "1"]);
        unlock(&locked, remote);
        let after = everything(&served);
        super::same_tree("served folder after the rolled-back apply", &after, &before, true)?;
        let left = leftovers(&after);
        if !left.is_empty() {
            return Err(format!("left behind: {left:?}"));
        }
        if out.status.code() != Some(1) {
            return Err(format!("apply should exit 1: {}", text(&out)));
        }
        let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).map_err(|e| format!("report: {e}"))?)
            .map_err(|e| format!("report: {e}"))?;
        if report["result"] != "rolled_back" {
            return Err(format!("report result {} instead of rolled_back: {}", report["result"], text(&out)));
        }
        // The failure, as ftpsync reports it: the server's refusal where it got to read it (over
        // TLS a server may close the data connection first: then the broken pipe).
        let said = text(&out);
        let line = said
            .lines()
            .find(|l| l.starts_with("error:") && l.contains("locked/page.html"))
            .ok_or_else(|| format!("apply does not name the file it could not stage: {said}"))?;
        let cause = match line.find("the server answered") {
            Some(at) => &line[at..],
            None => line.rsplit_once(": ").map_or(line, |(_, why)| why),
        }
        .trim();
        Ok(format!("staging refused ({cause}): exit 1, result rolled_back, served tree as before"))
    })();
    unlock(&locked, remote);
    let _ = fs::remove_dir_all(&served);
    result
}

/// Makes `dir` unwritable for the server: read-only for its user (the servers of the
/// environment run as their login's user); the built-in server runs in this process, as root
/// in CI, which permissions do not stop, so the folder is also made immutable (`chattr +i`).
fn lock(dir: &Path, remote: Remote) -> Result<(), String> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
    if remote.is_builtin() && is_root() {
        let out = std::process::Command::new("chattr").arg("+i").arg(dir).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "chattr +i (to make a folder unwritable for root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("chattr +i (to make a folder unwritable for root): {e}")),
        }
    }
    Ok(())
}

fn unlock(dir: &Path, remote: Remote) {
    if remote.is_builtin() && is_root() {
        let _ = std::process::Command::new("chattr").arg("-i").arg(dir).output();
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// One cut-short commit on the server: the release staged, the journal written, the first
/// `done` renames made, then (when `lose_staged`) a staged entry lost; `ftpsync recover`
/// must give the new tree (forward) or the old one (back).
fn cut_short(remote: Remote, scratch: &Path, done: usize, lose_staged: bool) -> Result<String, String> {
    let served = fresh(remote, if lose_staged { "recover-back" } else { "recover-forward" });
    let owner = owner(&fs::metadata(&served).unwrap());
    let home = scratch.join(format!("{}-{}-recover-home", remote.name(), remote.mode()));
    fs::create_dir_all(&home).unwrap();
    let result = (|| {
        let (old, new) = release();
        super::write_tree(&served, &old, Some(owner));
        let before = everything(&served);
        let mut t = remote.connect(&folder_name(&served)).map_err(|e| format!("connect: {e:#}"))?;
        let t = t.as_mut();
        let pid = std::process::id();
        let p = |s: &str| RelPath::parse(s).unwrap();
        let mut n = 0;
        let mut temp = |folder: &str| {
            n += 1;
            let name = format!("{TEMP_PREFIX}{pid}-s{n}");
            if folder.is_empty() { p(&name) } else { p(&format!("{folder}/{name}")) }
        };
        // Staged: the changed files beside their final names, the new folder with content.
        let mut steps = Vec::new();
        for path in ["index.html", "css/site.css", "locked/page.html", "new.css"] {
            let folder = path.rsplit_once('/').map_or("", |(f, _)| f);
            let staged = temp(folder);
            let (content, mtime) = &new[path];
            write_retrying(t, &staged, content, Some(*mtime as f64), true)?;
            if old.contains_key(path) {
                let backup = p(&staged.to_string().replace("-s", "-b"));
                steps.push(Step::Aside { path: p(path), backup, kind: Kind::File });
            }
            steps.push(Step::Place { staged, path: p(path), kind: Kind::File });
        }
        let img = temp("");
        t.make_dir(&img).map_err(|e| format!("MKD: {e:#}"))?;
        t.make_dir(&p(&format!("{img}/sub"))).map_err(|e| format!("MKD: {e:#}"))?;
        for (inner, path) in [("1.png", "img/1.png"), ("sub/2.png", "img/sub/2.png")] {
            let (content, mtime) = &new[path];
            write_retrying(t, &p(&format!("{img}/{inner}")), content, Some(*mtime as f64), true)?;
        }
        steps.push(Step::Place { staged: img.clone(), path: p("img"), kind: Kind::Dir });
        for (path, kind) in [("old.js", Kind::File), ("gone", Kind::Dir)] {
            let backup = temp("");
            let backup = p(&backup.to_string().replace("-s", "-b"));
            steps.push(Step::Aside { path: p(path), backup, kind });
        }
        let journal = Journal::new(
            Side::Remote,
            &format!("ftpsync {pid}@test"),
            "2026-01-01T00:00:00Z",
            "0",
            &remote.url_of(&folder_name(&served)),
            scratch.to_str().unwrap(),
            steps,
        );
        t.write_file(&journal_path(), &mut &journal.to_bytes()[..], None).map_err(|e| format!("journal: {e:#}"))?;
        let renames: Vec<(RelPath, RelPath)> = journal
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Aside { path, backup, .. } => Some((path.clone(), backup.clone())),
                Step::Place { staged, path, .. } => Some((staged.clone(), path.clone())),
                _ => None,
            })
            .collect();
        for (from, to) in &renames[..done] {
            t.rename(from, to).map_err(|e| format!("rename {from} → {to}: {e:#}"))?;
        }
        if lose_staged {
            t.remove_tree(&img).map_err(|e| format!("remove staged folder: {e:#}"))?;
        }
        t.close().map_err(|e| format!("close: {e:#}"))?;
        let mixed = everything(&served);
        if super::same_tree("", &visible(&mixed), &visible(&before), true).is_ok()
            || super::same_tree("", &visible(&mixed), &super::with_folders(&new), false).is_ok()
        {
            return Err(format!("{done} of {} renames should leave a mix", renames.len()));
        }

        let out = remote.binary(&home, &["recover", &remote.url_of(&folder_name(&served))]);
        if !out.status.success() {
            return Err(format!("recover failed: {}", text(&out)));
        }
        let after = everything(&served);
        let left = leftovers(&after);
        if !left.is_empty() {
            return Err(format!("left behind by recover: {left:?}"));
        }
        let said = text(&out);
        if lose_staged {
            super::same_tree("served folder after recovery (back)", &after, &before, true)?;
            if !said.contains("Undid") {
                return Err(format!("recover did not say it undid the commit: {said}"));
            }
            Ok(format!("{done}/{} renames done, staged folder lost: undone, old tree", renames.len()))
        } else {
            super::same_tree(
                "served folder after recovery (forward)",
                &visible(&after),
                &super::with_folders(&new),
                false,
            )?;
            if !said.contains("Completed") {
                return Err(format!("recover did not say it completed the commit: {said}"));
            }
            Ok(format!("{done}/{} renames done: completed, new tree", renames.len()))
        }
    })();
    let _ = fs::remove_dir_all(&served);
    result
}

/// A tree with its folders (as [`everything`] lists them).
fn recover(remote: Remote, scratch: &Path) -> Result<String, String> {
    let forward = cut_short(remote, scratch, 3, false)?;
    let back = cut_short(remote, scratch, 5, true)?;
    Ok(format!("forward: {forward}; back: {back}"))
}
