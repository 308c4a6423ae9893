//! A hostile SFTP server (`support/hostile_sftp.py`, a real SSH server made with asyncssh whose
//! SFTP subsystem invents its tree): names that are paths or climb out (`a/b.txt`,
//! `../escape.txt`, `/abs.txt`, `.`, `..`), control characters, a name that is not UTF-8, an
//! empty and a 10,000-byte name, sizes of 2^63-1 and 2^64-1 bytes, symbolic links to
//! themselves, to `..`, to `/etc/passwd`, and links that resolve to folders containing
//! themselves, and a file whose reads never end.
//!
//! `download`, `sync` and `tree` against it, with a short `--timeout`: the binary finishes
//! (bounded), never panics, exits 0 or 1, writes nothing outside the local root (a watched
//! parent folder, and the place `../../../../tmp/...` points to), brings the valid files,
//! reports the bad entries, and names the file whose reads stall (exit 1).
//!
//! The server needs Python with asyncssh: `FTPSYNC_TEST_PYTHON` (`.ci/run` sets it), else
//! `python3`. Without asyncssh the test says so and passes, unless `CI=true`, where it fails.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ftpsync::settings::PASSWORD_ENV;

use crate::support::ftpsync_command;
use crate::support::world::{bounded_output, text};

const USER: &str = "hostile";
const PASSWORD: &str = "hostile-sftp-pw";
/// Where `../../../../tmp/ftpsync-hostile-sftp-escape` would land if a name were trusted.
const ESCAPE: &str = "/tmp/ftpsync-hostile-sftp-escape";
const VALID: &[u8] = b"valid content\n";
const INNER: &[u8] = b"inner content\n";

/// The running server; stopped (stdin closed, then killed) when dropped.
struct Hostile {
    child: Child,
    port: u16,
    host_key: String,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<PathBuf> {
    let exe = std::env::var_os("FTPSYNC_TEST_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let ok = Command::new(&exe).args(["-c", "import asyncssh"]).output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(exe);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {} cannot import asyncssh (.ci/run installs it and sets FTPSYNC_TEST_PYTHON)",
        exe.display()
    );
    eprintln!("skipping the hostile SFTP server: {} has no asyncssh (set FTPSYNC_TEST_PYTHON)", exe.display());
    None
}

/// Starts the server and reads its port and host key (bounded).
fn start(python: &Path) -> Hostile {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/hostile_sftp.py");
    let mut child = Command::new(python)
        .args(["-W", "ignore"])
        .arg(&script)
        .args([USER, PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the hostile SFTP server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let second = lines.next().and_then(Result::ok);
        let _ = tx.send((first, second));
    });
    let mut server = Hostile { child, port: 0, host_key: String::new() };
    let (first, second) =
        rx.recv_timeout(Duration::from_secs(30)).expect("the hostile SFTP server did not say its port within 30 s");
    let port = first.as_deref().and_then(|l| l.strip_prefix("PORT ")).and_then(|p| p.trim().parse().ok());
    server.port = port.unwrap_or_else(|| panic!("the hostile SFTP server said {first:?} instead of its port"));
    server.host_key = second.filter(|k| k.starts_with("ssh-")).expect("the hostile SFTP server gave no host key");
    server
}

/// A HOME whose `~/.ssh/known_hosts` knows the server's key (so host keys are verified as by
/// default, without touching the real HOME).
fn home_knowing(dir: &Path, server: &Hostile) -> PathBuf {
    let home = dir.join("home");
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/known_hosts"), format!("[127.0.0.1]:{} {}\n", server.port, server.host_key)).unwrap();
    home
}

/// Every path below `root` (folders end with `/`).
fn paths(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
                out.insert(format!("{rel}/"));
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

/// The checks every run must pass.
fn check_run(what: &str, out: &std::process::Output, parent: &Path, local: &Path) {
    let said = text(out);
    assert!(!said.contains("panicked"), "{what}: ftpsync panicked:\n{said}");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{what}: exit code outside 0/1:\n{said}");
    let outside: Vec<String> =
        paths(parent).into_iter().filter(|p| !p.starts_with("local/") && p != "local/").collect();
    assert!(outside.is_empty(), "{what}: written outside the local root: {outside:?}\n{said}");
    assert!(!Path::new(ESCAPE).exists(), "{what}: {ESCAPE} was written (a server's name was trusted)\n{said}");
    // Only the valid files (and ftpsync's own metadata) may arrive.
    let allowed = ["ok.txt", "sub/", "sub/inner.txt", ".pyftpsync-meta.json", "sub/.pyftpsync-meta.json"];
    let unexpected: Vec<String> = paths(local).into_iter().filter(|p| !allowed.contains(&p.as_str())).collect();
    assert!(unexpected.is_empty(), "{what}: unexpected entries in the local folder: {unexpected:?}\n{said}");
}

fn run(home: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = ftpsync_command(args);
    cmd.args(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "5", "--retries", "1"])
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .env(PASSWORD_ENV, PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    bounded_output(cmd)
}

#[test]
fn hostile_sftp_server_cannot_write_outside_panic_or_hang() {
    let Some(python) = python() else { return };
    let _ = fs::remove_file(ESCAPE);
    let server = start(&python);
    let scratch = tempfile::tempdir().unwrap();
    let home = home_knowing(scratch.path(), &server);
    let parent = scratch.path().join("watched");
    let local = parent.join("local");
    fs::create_dir_all(&local).unwrap();
    let url = format!("sftp://{USER}@127.0.0.1:{}/site", server.port);
    let local_arg = local.to_str().unwrap();

    // The stalling file aside (a failed transfer rolls the whole staged apply back): the valid
    // files arrive, every bad entry is skipped.
    let out = run(&home, &["download", local_arg, &url, "--resolve", "skip", "--exclude", "stall.bin"]);
    check_run("download", &out, &parent, &local);
    assert_eq!(out.status.code(), Some(0), "download without stall.bin:\n{}", text(&out));
    assert_eq!(fs::read(local.join("ok.txt")).ok().as_deref(), Some(VALID), "download: ok.txt\n{}", text(&out));
    assert_eq!(fs::read(local.join("sub/inner.txt")).ok().as_deref(), Some(INNER), "download: inner\n{}", text(&out));
    let said = text(&out);
    for skipped in ["a/b.txt", "../escape.txt", "/abs.txt", "huge63.bin", "huge64.bin", "loop", "cycle", "passwd"] {
        assert!(said.contains(&format!("Skipping remote \"{skipped}\"")), "download: {skipped} not reported:\n{said}");
    }
    // With it: the read that never answers ends with the timeout, the file named, exit 1.
    let out = run(&home, &["download", local_arg, &url, "--resolve", "skip"]);
    check_run("download with the stalling file", &out, &parent, &local);
    assert!(text(&out).contains("stall.bin"), "download: the stalled file is not named:\n{}", text(&out));
    assert_eq!(out.status.code(), Some(1), "download: a file could not be read, exit 1:\n{}", text(&out));

    // A local file to upload, beside what arrived: sync reads and writes on the server.
    fs::write(local.join("ok.txt"), b"changed locally, longer than before\n").unwrap();
    let out = run(&home, &["sync", local_arg, &url, "--resolve", "skip", "--exclude", "stall.bin"]);
    check_run("sync", &out, &parent, &local);

    let out = run(&home, &["tree", "--files", &url]);
    check_run("tree", &out, &parent, &local);
    drop(server);
}
