//! All-or-nothing apply seen from outside (issue 13, acceptance 2): while `ftpsync apply` uploads
//! a release (200 changed files, 10 new folders with content, 20 deletions) to the built-in FTP
//! server, two independent observers look at the site in a loop:
//! - the served folder on disk, as the web server in front of it would see it (fast
//!   snapshots: every name, every byte);
//! - a second FTP client (suppaftp) listing the whole tree and reading every file.
//!
//! Each observation is timed (start, end) and classified by the content under final names
//! (ftpsync's temporary names, journal and lock ignored; metadata files included on disk) as
//! the old tree, the new tree, or a mix. The commit window's length comes from the apply's
//! report (`commit_window_ms`); its position from the observations themselves: the first
//! visible change happened after the start of the last observation that still saw the old
//! tree (`lo`) and before the end of the first one that did not (`hi`), and the commit began no
//! later than that change. So every change is visible within `[lo, hi + window]`, and every
//! mixed observation must overlap it. The site must be seen old while files are being staged
//! (temporary names present), new at the end, and never old again once it changed. (How short
//! the window is, is a benchmark's question: `bench/commit_window.py` measures it at 20 ms
//! round-trip time against its targets; on a loaded test machine its length says little.)

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ftpsync::meta::{JOURNAL_FILE, LOCK_FILE};
use ftpsync::model::listing::is_temp_name;
use suppaftp::FtpStream;
use suppaftp::types::FileType;

use crate::support::ftp::serve;
use crate::support::world::{bounded_output, text};
use crate::support::{bounded, ftpsync_command};

/// Path → bytes (folders end with `/` and have no bytes).
type Tree = BTreeMap<String, Vec<u8>>;

const FOLDERS: usize = 10;
/// Per folder: the first 20 change, the next 2 are deleted, the last stays.
const FILES_PER_FOLDER: usize = 23;
const CHANGED_PER_FOLDER: usize = 20;
const FILE_SIZE: usize = 24_000;
/// Bound on the whole test, on each FTP operation, and on the observers after the apply ended.
const DEADLINE: Duration = Duration::from_secs(240);
const FTP_TIMEOUT: Duration = Duration::from_secs(20);
const AFTER: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Old,
    New,
    Mixed,
}

#[derive(Debug)]
struct Observation {
    who: &'static str,
    start: Instant,
    end: Instant,
    state: State,
    /// Temporary (staged or backup) names present (disk only).
    staged: bool,
    /// Why it is a mix (first difference), for the failure message.
    why: String,
}

fn bytes(path: &str, version: u32) -> Vec<u8> {
    let mut x = path
        .bytes()
        .fold(0x9e37_79b9_7f4a_7c15u64 ^ u64::from(version), |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
        | 1;
    (0..FILE_SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes a file with the modification time of its version (whole days apart, so the plan
/// sees every change whatever the clock).
fn write(root: &Path, rel: &str, content: &[u8], version: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    let t = filetime::FileTime::from_unix_time(1_600_000_000 + i64::from(version) * 86_400, 0);
    filetime::set_file_times(&p, t, t).unwrap();
}

/// Whether a name is ftpsync's bookkeeping, not content: temporary names, journal, lock.
fn bookkeeping(name: &str) -> bool {
    is_temp_name(name) || name == JOURNAL_FILE || name == LOCK_FILE
}

/// The visible tree on disk (metadata included), whether temporary names were present, and
/// whether an entry vanished while it was being read (a rename between listing and reading).
fn disk_tree(root: &Path) -> (Tree, bool, bool) {
    let (mut tree, mut staged, mut torn) = (Tree::new(), false, false);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            torn = true;
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if bookkeeping(&name) {
                staged |= is_temp_name(&name);
                continue;
            }
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            match e.file_type() {
                Ok(t) if t.is_dir() => {
                    stack.push(e.path());
                    tree.insert(format!("{rel}/"), Vec::new());
                }
                Ok(_) => match fs::read(e.path()) {
                    Ok(b) => {
                        tree.insert(rel, b);
                    }
                    Err(_) => torn = true,
                },
                Err(_) => torn = true,
            }
        }
    }
    (tree, staged, torn)
}

/// Content only (no dotfile, so no metadata): what the FTP observer compares.
fn content_only(tree: &Tree) -> Tree {
    tree.iter()
        .filter(|(p, _)| !p.trim_end_matches('/').split('/').any(|n| n.starts_with('.')))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect()
}

fn first_difference(got: &Tree, want: &Tree) -> Option<String> {
    for (p, b) in want {
        match got.get(p) {
            None => return Some(format!("{p} missing")),
            Some(g) if g != b => return Some(format!("{p} differs")),
            _ => {}
        }
    }
    got.keys().find(|p| !want.contains_key(*p)).map(|p| format!("{p} extra"))
}

fn classify(got: &Tree, old: &Tree, new: &Tree, torn: bool) -> (State, String) {
    if torn {
        return (State::Mixed, "an entry vanished while it was read".into());
    }
    match (first_difference(got, old), first_difference(got, new)) {
        (None, _) => (State::Old, String::new()),
        (_, None) => (State::New, String::new()),
        (Some(o), Some(n)) => (State::Mixed, format!("vs old: {o}; vs new: {n}")),
    }
}

/// What one pass of the FTP observer got.
enum Pass {
    Tree(Tree),
    /// A file listed, then not there to read: the tree changed under the observer.
    Torn(String),
    /// The server could not list a folder. libunftp fails a `LIST` with 550 when an entry of the
    /// folder is removed while it lists it (the backups are removed after the commit); that
    /// is no state of the site, so it is counted and shown, not classified.
    ListFailed(String),
}

/// The tree as a second FTP client sees it: `LIST` of every folder, `RETR` of every file
/// (dotfiles left out: whether a server lists them varies).
fn ftp_tree(ftp: &mut FtpStream) -> Pass {
    let mut tree = Tree::new();
    let mut stack = vec![String::new()];
    while let Some(dir) = stack.pop() {
        let lines = match ftp.list(Some(&format!("/{dir}"))) {
            Ok(lines) => lines,
            Err(e) => return Pass::ListFailed(format!("LIST /{dir}: {e}")),
        };
        for line in lines {
            let Some(name) = line.split_whitespace().nth(8) else { continue };
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{dir}{name}");
            if line.starts_with('d') {
                tree.insert(format!("{rel}/"), Vec::new());
                stack.push(format!("{rel}/"));
            } else {
                match ftp.retr_as_buffer(&format!("/{rel}")) {
                    Ok(b) => tree.insert(rel, b.into_inner()),
                    Err(e) => return Pass::Torn(format!("RETR /{rel}: {e}")),
                };
            }
        }
    }
    Pass::Tree(tree)
}

fn connect(addr: std::net::SocketAddr) -> FtpStream {
    let tcp = TcpStream::connect_timeout(&addr, FTP_TIMEOUT).unwrap();
    tcp.set_read_timeout(Some(FTP_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(FTP_TIMEOUT)).unwrap();
    let mut ftp = FtpStream::connect_with_stream(tcp).unwrap();
    ftp.login("anonymous", "observer@").unwrap();
    ftp.transfer_type(FileType::Binary).unwrap();
    ftp
}

struct Site {
    _dir: tempfile::TempDir,
    local: PathBuf,
    served: PathBuf,
    home: PathBuf,
    url: String,
}

impl Site {
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = ftpsync_command(args);
        cmd.args(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "20"]).env("HOME", &self.home);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        bounded_output(cmd)
    }

    /// `ftpsync plan upload LOCAL URL --delete`; the plan's path.
    fn plan(&self, name: &str) -> PathBuf {
        let plan = self.home.join(name);
        let out = self.run(&[
            "plan",
            "upload",
            self.local.to_str().unwrap(),
            &self.url,
            "--delete",
            "-o",
            plan.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "plan failed:\n{}", text(&out));
        plan
    }
}

#[test]
fn an_observer_sees_the_old_site_the_new_site_or_the_commit_window() {
    bounded(DEADLINE, observe);
}

fn observe() {
    let dir = tempfile::tempdir().unwrap();
    let (local, served, home) = (dir.path().join("local"), dir.path().join("served"), dir.path().join("home"));
    for d in [&local, &served, &home] {
        fs::create_dir_all(d).unwrap();
    }
    let server = serve(&served);
    let site = Site { url: server.url(None), _dir: dir, local, served, home };

    // The old site, uploaded once.
    for f in 0..FOLDERS {
        for i in 0..FILES_PER_FOLDER {
            let p = format!("d{f:02}/f{i:02}.html");
            write(&site.local, &p, &bytes(&p, 1), 1);
        }
    }
    write(&site.local, "index.html", &bytes("index.html", 1), 1);
    let first = site.plan("first.json");
    let out = site.run(&["apply", first.to_str().unwrap()]);
    assert!(out.status.success(), "the first upload failed:\n{}", text(&out));
    let (old, staged, torn) = disk_tree(&site.served);
    assert!(!staged && !torn);

    // The release: 200 changed, 20 deleted, 10 new folders with content.
    let (mut changed, mut deleted, mut added) = (0, 0, 0);
    for f in 0..FOLDERS {
        for i in 0..FILES_PER_FOLDER {
            let p = format!("d{f:02}/f{i:02}.html");
            if i < CHANGED_PER_FOLDER {
                write(&site.local, &p, &bytes(&p, 2), 2);
                changed += 1;
            } else if i < FILES_PER_FOLDER - 1 {
                fs::remove_file(site.local.join(&p)).unwrap();
                deleted += 1;
            }
        }
        for i in 0..3 {
            let p = format!("n{f:02}/sub/g{i}.css");
            write(&site.local, &p, &bytes(&p, 2), 2);
        }
        added += 1;
    }
    assert_eq!((changed, deleted, added), (200, 20, 10));
    let plan = site.plan("release.json");

    // The observers.
    let stop = Arc::new(AtomicBool::new(false));
    // Observations made by each observer, so the apply starts once both have seen the site.
    let made = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let old = Arc::new(old);
    let expected_new = {
        let mut t = Tree::new();
        let (local_tree, _, _) = disk_tree(&site.local);
        for (p, b) in local_tree {
            t.insert(p, b);
        }
        content_only(&t)
    };
    // The new tree with metadata is only known afterwards: observations are classified then.
    let disk = {
        let (stop, served, made) = (stop.clone(), site.served.clone(), made.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let (tree, staged, torn) = disk_tree(&served);
                seen.push((start, Instant::now(), tree, staged, torn));
                made[0].fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
            seen
        })
    };
    let ftp = {
        let (stop, addr, made) = (stop.clone(), server.addr(), made.clone());
        std::thread::spawn(move || {
            let mut ftp = connect(addr);
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let tree = ftp_tree(&mut ftp);
                seen.push((start, Instant::now(), tree));
                made[1].fetch_add(1, Ordering::Relaxed);
            }
            let _ = ftp.quit();
            seen
        })
    };
    let ready = Instant::now() + Duration::from_secs(60);
    while made.iter().any(|n| n.load(Ordering::Relaxed) == 0) {
        assert!(Instant::now() < ready, "the observers did not make a first observation within 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let report = site.home.join("report.json");
    let apply_start = Instant::now();
    let out = site.run(&["apply", plan.to_str().unwrap(), "--report", report.to_str().unwrap()]);
    let apply_end = Instant::now();
    // Each observer looks at least once more from start to end after the apply.
    let counts: Vec<usize> = made.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    let after = Instant::now() + AFTER;
    while made.iter().zip(&counts).any(|(n, c)| n.load(Ordering::Relaxed) < c + 2) {
        assert!(Instant::now() < after, "the observers did not look again within {AFTER:?} after the apply");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let disk = disk.join().expect("the disk observer panicked");
    let ftp = ftp.join().expect("the FTP observer panicked");
    assert!(out.status.success(), "the release apply failed:\n{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let window = Duration::from_secs_f64(
        report["commit_window_ms"].as_f64().unwrap_or_else(|| panic!("no commit_window_ms in {report:#}")) / 1e3,
    );

    // The new site: the local tree's content, and nothing left over.
    let (new, staged, torn) = disk_tree(&site.served);
    assert!(!staged && !torn, "temporary names left after the apply");
    let release = content_only(&new);
    assert!(
        release == expected_new,
        "the served content is not the release: {:?}",
        first_difference(&release, &expected_new)
    );
    assert_ne!(new, *old);

    let mut seen: Vec<Observation> = disk
        .into_iter()
        .map(|(start, end, tree, staged, torn)| {
            let (state, why) = classify(&tree, &old, &new, torn);
            Observation { who: "disk", start, end, state, staged, why }
        })
        .collect();
    let (old_c, new_c) = (content_only(&old), content_only(&new));
    let mut list_failed = Vec::new();
    for (start, end, pass) in ftp {
        let (state, why) = match pass {
            Pass::Tree(t) => classify(&t, &old_c, &new_c, false),
            Pass::Torn(e) => (State::Mixed, format!("torn: {e}")),
            Pass::ListFailed(e) => {
                let (from, to) =
                    (start.saturating_duration_since(apply_start), end.saturating_duration_since(apply_start));
                list_failed.push(format!("{:.0}-{:.0} ms: {e}", from.as_secs_f64() * 1e3, to.as_secs_f64() * 1e3));
                continue;
            }
        };
        seen.push(Observation { who: "ftp", start, end, state, staged: false, why });
    }

    // Where the changes became visible.
    let hi = seen.iter().filter(|o| o.state != State::Old).map(|o| o.end).min().expect("never saw a change");
    let lo = seen.iter().filter(|o| o.state == State::Old && o.start < hi).map(|o| o.start).max().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |t: Instant| ms(t.saturating_duration_since(apply_start));
    let count = |who: &str, s: State| seen.iter().filter(|o| o.who == who && o.state == s).count();
    eprintln!(
        "apply {:.0} ms; commit window {:.1} ms; first change visible in [{:.1}, {:.1}] ms; disk: {} old ({} while \
         staged), {} new, {} mixed; ftp: {} old, {} new, {} mixed, {} listing(s) refused {:?}",
        ms(apply_end - apply_start),
        ms(window),
        at(lo),
        at(hi),
        count("disk", State::Old),
        seen.iter().filter(|o| o.who == "disk" && o.state == State::Old && o.staged).count(),
        count("disk", State::New),
        count("disk", State::Mixed),
        count("ftp", State::Old),
        count("ftp", State::New),
        count("ftp", State::Mixed),
        list_failed.len(),
        list_failed,
    );

    // The site changed during the apply, and the observers saw it before and after.
    assert!(lo > apply_start && hi < apply_end, "the change was not seen during the apply");
    for who in ["disk", "ftp"] {
        assert!(count(who, State::Old) > 0, "the {who} observer never saw the old site");
        assert!(count(who, State::New) > 0, "the {who} observer never saw the new site");
    }
    assert!(
        seen.iter().any(|o| o.state == State::Old && o.staged),
        "the old site was never seen while files were staged"
    );
    // The position of the first change is known closely enough for the check to mean something.
    // (A loaded machine makes both the snapshots and the commit slower.)
    let resolution = window.max(Duration::from_millis(200));
    assert!(hi - lo < resolution, "observations too slow: first change in [{lo:?}, {hi:?}], window {window:?}");
    // Once changed, the site never looks old again.
    if let Some(o) = seen.iter().find(|o| o.state == State::Old && o.start >= hi) {
        panic!("the {} observer saw the old site again {:.1} ms after a change", o.who, ms(o.start - hi));
    }
    // Every mix overlaps the commit window.
    let last_change = hi + window + Duration::from_millis(1);
    for o in seen.iter().filter(|o| o.state == State::Mixed) {
        assert!(
            o.start <= last_change && o.end >= lo,
            "the {} observer saw a mix from {:.1} to {:.1} ms, outside the commit window (changes visible from {:.1} \
             to at most {:.1} ms): {}",
            o.who,
            at(o.start),
            at(o.end),
            at(lo),
            at(last_change),
            o.why
        );
    }
    server.shutdown();
}
