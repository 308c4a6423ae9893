//! Hostile and stalling FTP servers (contract §5: "names a server sends are never trusted").
//!
//! A scripted server (`support::fake_ftp`) lists, next to one valid file and a valid folder,
//! every kind of bad entry: `../x`, `a/b`, `.`, `..`, names with CR, LF, NUL and ESC, a
//! 10,000-character name, negative and huge sizes, malformed times, symbolic links, an unknown
//! type, an empty name. (Names with a line break, and lines not understood at all, make the
//! whole folder unreadable instead: `unreadable.rs`.) `download` and `sync` into a folder inside a watched parent must write
//! nothing outside the local root, never panic or hang, bring the valid files, and report
//! each bad entry with its specific reason. Servers that stop answering must fail within the
//! configured timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ftpsync::apply::apply;
use ftpsync::backend::Target;
use ftpsync::backend::ftp::tls::{Trust, Verify};
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::local::LocalTarget;
use ftpsync::backend::url::Tls;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::document::Plan;
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan;

use crate::support::fake_ftp::{Dialect, FakeFtp, MODIFY, Script, Stall};
use crate::support::{bin, bounded, ftp, settings, tree_state};

/// Upper bound for one whole scenario; the runs take well under a second.
const DEADLINE: Duration = Duration::from_secs(30);
/// The client's network timeout in these tests.
const TIMEOUT: Duration = Duration::from_secs(5);

const VALID: &[u8] = b"valid content\n";
const INNER: &[u8] = b"inner content\n";
const LONG_NAME_CHARS: usize = 10_000;

/// The bad entries of the root listing: (name as sent, name as reported, reason fragment).
fn hostile_names() -> Vec<(Vec<u8>, String, &'static str)> {
    let long = "x".repeat(LONG_NAME_CHARS);
    vec![
        (b"../x".to_vec(), "../x".into(), "invalid name: contains '/'"),
        (b"a/b".to_vec(), "a/b".into(), "invalid name: contains '/'"),
        (b"/etc/passwd".to_vec(), "/etc/passwd".into(), "invalid name: contains '/'"),
        (b".".to_vec(), ".".into(), "invalid name: '.' and '..' are not allowed"),
        (b"..".to_vec(), "..".into(), "invalid name: '.' and '..' are not allowed"),
        (b"nul\0name".to_vec(), "nul\\0name".into(), "invalid name: contains a control character"),
        (b"esc\x1bname".to_vec(), "esc\\u{1b}name".into(), "invalid name: contains a control character"),
        (long.clone().into_bytes(), format!("{}…", &long[..120]), "invalid name: longer than 255 bytes"),
    ]
}

/// The root listing's injected lines, in the server's dialect, and what each must produce as
/// (reported name, reason fragment).
fn injected_root(dialect: Dialect) -> (Vec<u8>, Vec<(String, &'static str)>) {
    let mut payload = Vec::new();
    let mut expected = Vec::new();
    let mut line = |bytes: &[u8]| {
        payload.extend_from_slice(bytes);
        payload.extend_from_slice(b"\r\n");
    };
    match dialect {
        Dialect::Mlsd => {
            line(format!("type=cdir;modify={MODIFY}; /").as_bytes());
            line(format!("type=pdir;modify={MODIFY}; ..").as_bytes());
            for (raw, _, _) in hostile_names() {
                line(&[format!("type=file;size=5;modify={MODIFY}; ").as_bytes(), &raw].concat());
            }
            line(format!("type=dir;modify={MODIFY}; ../up").as_bytes());
            line(format!("type=dir;modify={MODIFY}; a/d").as_bytes());
            line(format!("type=file;size=-5;modify={MODIFY}; negative.txt").as_bytes());
            line(format!("type=file;size=99999999999999999999999;modify={MODIFY}; huge.txt").as_bytes());
            line(format!("type=file;size=18446744073709551615;modify={MODIFY}; u64max.txt").as_bytes());
            line(b"type=file;size=5;modify=2023-01-02T03:04:05; badtime.txt");
            line(b"type=file;size=5;modify=20231340250000; badtime2.txt");
            line(b"type=file;size=5;modify=-1; badtime3.txt");
            line(format!("type=OS.unix=symlink;modify={MODIFY}; link").as_bytes());
            line(format!("type=OS.unix=slink:/etc/passwd;modify={MODIFY}; slink").as_bytes());
            line(format!("type=device;modify={MODIFY}; dev").as_bytes());
            line(format!("type=file;size=5;modify={MODIFY}; ").as_bytes());
            expected.extend([
                ("../up".to_string(), "invalid name: contains '/'"),
                ("a/d".into(), "invalid name: contains '/'"),
                ("negative.txt".into(), "invalid size \"-5\""),
                ("huge.txt".into(), "absurd size"),
                ("u64max.txt".into(), "absurd size"),
                ("badtime.txt".into(), "malformed modification time"),
                ("badtime2.txt".into(), "malformed modification time"),
                ("badtime3.txt".into(), "malformed modification time"),
                ("link".into(), "symbolic link (not followed)"),
                ("slink".into(), "symbolic link (not followed)"),
                ("dev".into(), "unsupported type \"device\""),
                ("".into(), "invalid name: empty name"),
            ]);
        }
        Dialect::ListOnly => {
            line(b"total 42");
            line(b"drwxr-xr-x   2 ftp      ftp          4096 Jan 02  2023 .");
            line(b"drwxr-xr-x   2 ftp      ftp          4096 Jan 02  2023 ..");
            for (raw, _, _) in hostile_names() {
                line(&[&b"-rw-r--r--   1 ftp      ftp             5 Jan 02  2023 "[..], &raw].concat());
            }
            line(b"drwxr-xr-x   2 ftp      ftp          4096 Jan 02  2023 ../up");
            line(b"-rw-r--r--   1 ftp      ftp            -5 Jan 02  2023 negative.txt");
            line(b"-rw-r--r--   1 ftp      ftp      99999999999999999999999 Jan 02  2023 huge.txt");
            line(b"-rw-r--r--   1 ftp      ftp             5 Feb 30  2023 badtime.txt");
            line(b"lrwxrwxrwx   1 ftp      ftp            11 Jan 02  2023 link -> /etc/passwd");
            line(b"crw-rw----   1 ftp      ftp          4, 1 Jan 02  2023 tty1");
            line(b"-rw-r--r--   1 ftp      ftp             5 Jan 02  2023 arrow -> name");
            expected.extend([
                ("../up".to_string(), "invalid name: contains '/'"),
                ("negative.txt".into(), "invalid size \"-5\""),
                ("huge.txt".into(), "absurd size"),
                ("badtime.txt".into(), "invalid date"),
                ("link".into(), "symbolic link (not followed)"),
                ("tty1".into(), "special file"),
                ("arrow -> name".into(), "ambiguous in a LIST line"),
            ]);
        }
    }
    expected.extend(hostile_names().into_iter().map(|(_, shown, reason)| (shown, reason)));
    (payload, expected)
}

/// A server with `valid.txt`, `sub/inner.txt` and hostile entries in both folders.
fn hostile_server(dialect: Dialect) -> (FakeFtp, Vec<(String, &'static str)>) {
    let (root_payload, expected) = injected_root(dialect);
    let mut script = Script::new(dialect);
    script.files.insert("/valid.txt".into(), VALID.to_vec());
    script.files.insert("/sub/inner.txt".into(), INNER.to_vec());
    script.dirs.insert("/sub".into());
    script.injected.insert("/".into(), root_payload);
    let sub_line: &[u8] = match dialect {
        Dialect::Mlsd => b"type=file;size=5;modify=20230102030405; ../../escape.txt\r\n",
        Dialect::ListOnly => b"-rw-r--r--   1 ftp      ftp             5 Jan 02  2023 ../../escape.txt\r\n",
    };
    script.injected.insert("/sub".into(), sub_line.to_vec());
    let mut expected = expected;
    if dialect == Dialect::ListOnly {
        // LIST times are refined with MDTM: refusals and nonsense there skip the file too.
        for (name, reply, reason) in [
            ("refused.txt", "550 not for you", "unknown modification time (MDTM: the server answered 550 not for you)"),
            ("garbled.txt", "213 yesterday", "unknown modification time (MDTM: the server's answer is not a time)"),
            ("ancient.txt", "213 00010101000000", "unknown modification time (MDTM: modification time before 1970)"),
        ] {
            script.files.insert(format!("/{name}"), b"12345".to_vec());
            script.mdtm.insert(format!("/{name}"), reply.into());
            expected.push((name.into(), reason));
        }
    }
    (FakeFtp::start(script), expected)
}

/// A parent folder holding the local root (`local/`) and a neighbour (`neighbour/`), so that
/// anything written beside or above the local root shows.
struct Playground {
    _dir: tempfile::TempDir,
    parent: PathBuf,
    local: PathBuf,
}

impl Playground {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("parent");
        let local = parent.join("local");
        fs::create_dir_all(&local).unwrap();
        fs::create_dir_all(parent.join("neighbour")).unwrap();
        fs::write(parent.join("neighbour/keep.txt"), "keep").unwrap();
        fs::write(parent.join("x"), "a file named x beside the root").unwrap();
        Playground { _dir: dir, parent, local }
    }

    /// Everything in the parent except the local root itself, and the parent's parent.
    fn outside(&self) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
        let mut state = tree_state(self.parent.parent().unwrap());
        state.retain(|path, _| !path.starts_with("parent/local/"));
        state
    }
}

/// Files below `root` (relative paths).
fn files_below(root: &Path) -> BTreeSet<String> {
    tree_state(root).into_keys().filter(|p| !p.ends_with('/')).collect()
}

/// The remote `skipped` list of a planned folder.
fn skipped_in(plan: &Plan, folder: &str) -> Vec<(String, String)> {
    let f = plan
        .folders
        .iter()
        .find(|f| f.path.as_str() == folder)
        .unwrap_or_else(|| panic!("folder {folder:?} not planned"));
    f.remote.as_ref().unwrap().skipped.iter().map(|s| (s.name.clone(), s.reason.clone())).collect()
}

fn assert_reported(skipped: &[(String, String)], warnings: &[String], expected: &[(String, &str)], folder: &str) {
    for (name, reason) in expected {
        let found = skipped.iter().find(|(n, _)| n == name);
        let Some((_, got)) = found else {
            panic!("{name:?} is not reported as skipped in {folder:?}; skipped: {skipped:#?}")
        };
        assert!(got.contains(reason), "{name:?}: reason {got:?} does not say {reason:?}");
        let path = if folder.is_empty() { name.clone() } else { format!("{folder}/{name}") };
        let warning = format!("Skipping remote {path:?}: {got}");
        assert!(warnings.contains(&warning), "no warning {warning:?} in {warnings:#?}");
    }
    assert_eq!(skipped.len(), expected.len(), "unexpected extra skipped entries: {skipped:#?}");
}

/// What the server was asked: no command may name a refused entry.
fn assert_never_asked_for_bad_names(commands: &[String]) {
    for c in commands {
        let bad = c.contains("..")
            || c.contains("a/b")
            || c.contains("/etc/")
            || c.contains("xxxxxxxx")
            || c.chars().any(char::is_control);
        assert!(!bad, "the client sent {c:?}");
        for name in ["negative.txt", "huge.txt", "badtime", "link", "escape", "dev", "tty1", "arrow"] {
            assert!(!c.contains(name), "the client sent {c:?} about a refused entry");
        }
        for name in ["refused.txt", "garbled.txt", "ancient.txt"] {
            assert!(!c.contains(name) || c.starts_with("MDTM "), "the client sent {c:?} about a refused entry");
        }
    }
}

struct Outcome {
    plan: Plan,
    warnings: Vec<String>,
    failures: usize,
    commands: Vec<String>,
    server_paths: Vec<String>,
    server_up: Option<Vec<u8>>,
    replan_changes: u64,
}

/// Plans and applies `mode` between the playground and a hostile server, then plans again.
fn run(dialect: Dialect, mode: Mode, local: PathBuf) -> (Outcome, Vec<(String, &'static str)>) {
    bounded(DEADLINE, move || {
        let (server, expected) = hostile_server(dialect);
        let options = Options { retries: 1, create_root: false };
        let mut remote = FtpTarget::open(ftp::settings_at(&server.url(), TIMEOUT), options.clone()).unwrap();
        let mut l = LocalTarget::open(&local).unwrap();
        let planned = make_plan(&mut l, &mut remote, PlanOptions::new(mode), SystemClock.now()).unwrap();
        let applied =
            apply(&planned.plan, &mut l, &mut remote, &settings()).unwrap_or_else(|e| panic!("apply failed: {e:#}"));
        for (e, o) in planned.plan.entries.iter().zip(&applied.outcomes) {
            assert!(o.error.is_none(), "{}: {:?}", e.path, o.error);
        }
        let replan = make_plan(&mut l, &mut remote, PlanOptions::new(mode), SystemClock.now()).unwrap();
        remote.close().unwrap();
        let outcome = Outcome {
            failures: applied.failures(),
            plan: planned.plan,
            warnings: planned.warnings,
            commands: server.commands(),
            server_paths: server.paths(),
            server_up: server.file("/up.txt"),
            replan_changes: replan.plan.summary.changes,
        };
        (outcome, expected)
    })
}

fn hostile_run(dialect: Dialect, mode: Mode) {
    let pg = Playground::new();
    if mode == Mode::Sync {
        fs::write(pg.local.join("up.txt"), "from the local side").unwrap();
    }
    let before = pg.outside();
    let (out, expected) = run(dialect, mode, pg.local.clone());

    assert_eq!(pg.outside(), before, "something outside the local root changed");
    assert_eq!(out.failures, 0);
    assert_eq!(fs::read(pg.local.join("valid.txt")).unwrap(), VALID);
    assert_eq!(fs::read(pg.local.join("sub/inner.txt")).unwrap(), INNER);
    let mut want: BTreeSet<String> =
        ["valid.txt", "sub/inner.txt", ".pyftpsync-meta.json", "sub/.pyftpsync-meta.json"].map(String::from).into();
    if mode == Mode::Sync {
        want.insert("up.txt".into());
    }
    assert_eq!(files_below(&pg.local), want, "only the valid files arrive");

    assert_reported(&skipped_in(&out.plan, ""), &out.warnings, &expected, "");
    let sub_expected = [("../../escape.txt".to_string(), "invalid name: contains '/'")];
    assert_reported(&skipped_in(&out.plan, "sub"), &out.warnings, &sub_expected, "sub");
    assert_never_asked_for_bad_names(&out.commands);

    let mut server_files: BTreeSet<String> = ["/valid.txt", "/sub/inner.txt"].map(String::from).into();
    if dialect == Dialect::ListOnly {
        server_files.extend(["/refused.txt", "/garbled.txt", "/ancient.txt"].map(String::from));
    }
    if mode == Mode::Sync {
        assert_eq!(out.server_up.as_deref(), Some(&b"from the local side"[..]));
        server_files.extend(["/up.txt".to_string(), "/.pyftpsync-meta.json".to_string()]);
    }
    let server_paths: BTreeSet<String> = out.server_paths.into_iter().collect();
    assert_eq!(server_paths, server_files, "no lock or temporary file is left on the server");
    assert_eq!(out.replan_changes, 0, "a second plan has nothing to do");
}

#[test]
fn hostile_mlsd_listing_download() {
    hostile_run(Dialect::Mlsd, Mode::Download);
}

#[test]
fn hostile_mlsd_listing_sync() {
    hostile_run(Dialect::Mlsd, Mode::Sync);
}

#[test]
fn hostile_list_listing_download() {
    hostile_run(Dialect::ListOnly, Mode::Download);
}

#[test]
fn hostile_list_listing_sync() {
    hostile_run(Dialect::ListOnly, Mode::Sync);
}

/// Runs the binary with a deadline, killing it if it hangs.
fn run_bin(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
            return (status.code().unwrap_or(-1), text(out.stdout), text(out.stderr));
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("ftpsync {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_cli_reports_every_bad_entry() {
    let pg = Playground::new();
    let before = pg.outside();
    let (server, expected) = hostile_server(Dialect::Mlsd);
    let local = pg.local.to_str().unwrap().to_string();
    let url = server.url();
    let args =
        ["download", &local, &url, "--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "5", "--retries", "1"];
    let (code, stdout, stderr) = run_bin(&args);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let output = format!("{stdout}{stderr}");
    for (name, reason) in &expected {
        let line = format!("warning: Skipping remote {name:?}: ");
        let found = output.lines().find(|l| l.starts_with(&line));
        let Some(found) = found else { panic!("no {line:?} in the output:\n{output}") };
        assert!(found.contains(reason), "{found:?} does not say {reason:?}");
        assert!(found.len() < 400, "a long name is shortened in messages: {found:?}");
    }
    assert_eq!(fs::read(pg.local.join("valid.txt")).unwrap(), VALID);
    assert_eq!(pg.outside(), before);
}

// ---------------------------------------------------------------------------------------------
// Servers that stop answering

/// Opens a target on a stalling server and lists its root; returns the error and how long it
/// took.
fn stalled(stall: Stall, timeout: Duration, retries: u32) -> (String, Duration) {
    bounded(DEADLINE, move || {
        let mut script = Script::new(Dialect::Mlsd);
        script.stall = stall;
        let server = FakeFtp::start(script);
        let started = Instant::now();
        let result = FtpTarget::open(ftp::settings_at(&server.url(), timeout), Options { retries, create_root: false })
            .and_then(|mut t| t.list_dir(&ftpsync::model::relpath::RelPath::root()).map(|_| ()));
        let err = match result {
            Ok(()) => panic!("a stalled server ({stall:?}) cannot succeed"),
            Err(e) => format!("{e:#}"),
        };
        (err, started.elapsed())
    })
}

fn assert_timed_out(stall: Stall, err: &str, took: Duration, bound: Duration) {
    assert!(took < bound, "{stall:?}: took {took:?} (bound {bound:?}): {err}");
    let lower = err.to_lowercase();
    assert!(
        lower.contains("timed out") || lower.contains("would block") || lower.contains("timeout"),
        "{stall:?}: not a timeout: {err}"
    );
}

#[test]
fn a_server_that_never_greets_times_out() {
    let (err, took) = stalled(Stall::Greeting, Duration::from_millis(500), 1);
    assert_timed_out(Stall::Greeting, &err, took, Duration::from_secs(4));
}

#[test]
fn a_server_that_stalls_at_login_times_out() {
    let (err, took) = stalled(Stall::Login, Duration::from_millis(500), 1);
    assert_timed_out(Stall::Login, &err, took, Duration::from_secs(4));
}

#[test]
fn a_server_that_stalls_in_a_listing_times_out_each_attempt() {
    // Two attempts of half a second each (plus the wait for the reply), with a pause between.
    let (err, took) = stalled(Stall::ListingData, Duration::from_millis(500), 2);
    assert_timed_out(Stall::ListingData, &err, took, Duration::from_secs(8));
    assert!(err.contains("gave up after 2 attempts"), "{err}");
}

#[test]
fn a_server_that_stalls_mid_download_fails_the_file_in_time() {
    let pg = Playground::new();
    let local = pg.local.clone();
    let (failed, error, took) = bounded(DEADLINE, move || {
        let mut script = Script::new(Dialect::Mlsd);
        script.stall = Stall::RetrData;
        script.files.insert("/big.bin".into(), vec![7; 100_000]);
        let server = FakeFtp::start(script);
        let options = Options { retries: 2, create_root: false };
        let mut remote = FtpTarget::open(ftp::settings_at(&server.url(), Duration::from_millis(500)), options).unwrap();
        let mut l = LocalTarget::open(&local).unwrap();
        let plan = make_plan(&mut l, &mut remote, PlanOptions::new(Mode::Download), SystemClock.now()).unwrap().plan;
        let started = Instant::now();
        let applied = apply(&plan, &mut l, &mut remote, &settings()).unwrap();
        let took = started.elapsed();
        (applied.failures(), applied.outcomes.iter().find_map(|o| o.error.clone()), took)
    });
    assert_eq!(failed, 1);
    let error = error.unwrap();
    assert!(error.contains("download of /big.bin interrupted: timed out"), "{error}");
    assert!(error.contains("gave up after 2 attempts"), "{error}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Nothing half-downloaded is left, and the metadata does not claim the file.
    let files = files_below(&pg.local);
    assert!(!files.contains("big.bin") && files.iter().all(|f| !f.contains("tmp")), "{files:?}");
    let meta = fs::read_to_string(pg.local.join(".pyftpsync-meta.json")).unwrap_or_default();
    assert!(!meta.contains("big.bin"), "{meta}");
}

#[test]
fn an_implicit_ftps_server_that_never_answers_times_out() {
    // The TLS handshake is the first thing said on an implicit FTPS connection.
    let (err, took) = bounded(DEADLINE, || {
        let mut script = Script::new(Dialect::Mlsd);
        script.stall = Stall::Greeting;
        let server = FakeFtp::start(script);
        let mut settings = ftp::settings_at(&server.url().replacen("ftp://", "ftps://", 1), Duration::from_millis(500));
        settings.url.tls = Tls::Implicit;
        settings.trust = Some(Trust::new(&Verify::Nothing).unwrap());
        let started = Instant::now();
        let result = FtpTarget::open(settings, Options { retries: 1, create_root: false });
        (format!("{:#}", result.err().expect("a silent server cannot succeed")), started.elapsed())
    });
    assert_timed_out(Stall::Greeting, &err, took, Duration::from_secs(4));
}
