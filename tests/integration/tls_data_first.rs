//! A server that sends a transfer's `150` only once the data connection's TLS handshake is done
//! (issue 12, point 4): npm's `ftp-srv`, a Node.js server. Python's ftplib and ftpsync used to
//! wait for that `150` before their handshake, and the server for the handshake before its
//! `150`, until the server gave up (`425 No connection established` after 5 s). ftpsync now
//! starts the handshake as soon as the data connection is open, as curl does.
//!
//! The server is the real ftp-srv, installed by `.ci/run` (`npm install ftp-srv` into a cache
//! folder named by `FTPSYNC_FTP_SRV_DIR`) and started here on loopback with explicit FTPS and a
//! fresh rcgen certificate (`support/ftp_srv.js`). Without it the test says why and passes,
//! unless `CI=true`, where it fails. Upload, an empty replan, download and a two-way sync must
//! each finish without the server ever giving up on a data connection (its `425` after 5 s, in
//! the `-vvv` trace: not a timing, which a loaded machine could stretch), with every byte in
//! place.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::world::{bounded_output, text};
use crate::support::{ftpsync_command, repo};

const USER: &str = "tester";
const PASSWORD: &str = "ftp-srv-secret";

/// The folder where `npm install ftp-srv` ran, or `None` (a failure when `CI=true`).
fn ftp_srv_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FTPSYNC_FTP_SRV_DIR").map(PathBuf::from);
    let found = dir.filter(|d| d.join("node_modules/ftp-srv/package.json").is_file());
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if found.is_some() && node {
        return found;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "npm's ftp-srv is required when CI=true: node on PATH and FTPSYNC_FTP_SRV_DIR naming a folder where `npm install ftp-srv@4.6.3` ran (.ci/run does both)"
    );
    eprintln!("skipping: npm's ftp-srv not found (set FTPSYNC_FTP_SRV_DIR; .ci/run installs it)");
    None
}

/// A running ftp-srv; stopped (stdin closed, then killed) when dropped.
struct FtpSrv {
    child: Child,
    port: u16,
}

impl FtpSrv {
    fn start(install: &Path, root: &Path, tls: &Path) -> FtpSrv {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        fs::write(tls.join("cert.pem"), cert.cert.pem()).unwrap();
        fs::write(tls.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        // A passive window of its own, below the ephemeral range (other sockets cannot hold it).
        let low = 20_000 + (std::process::id() % 90) * 100;
        let mut child = Command::new("node")
            .arg(repo().join("tests/integration/support/ftp_srv.js"))
            .args([root, &tls.join("cert.pem"), &tls.join("key.pem")])
            .args([USER, PASSWORD, &low.to_string(), &(low + 99).to_string()])
            .env("FTP_SRV_DIR", install)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(port) = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ftp-srv did not start (it said {line:?})");
        };
        FtpSrv { child, port }
    }

    fn url(&self) -> String {
        format!("ftps://{USER}@localhost:{}/", self.port)
    }
}

impl Drop for FtpSrv {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Files of the test tree: small ones, one larger than the bytes an upload sends before the
/// server's `150`, and one in a subfolder.
fn tree() -> Vec<(&'static str, Vec<u8>)> {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    vec![("a.txt", b"alpha\n".to_vec()), ("empty.txt", Vec::new()), ("big.bin", big), ("sub/b.txt", b"beta\n".to_vec())]
}

fn write_tree(dir: &Path, files: &[(&str, Vec<u8>)]) {
    for (name, bytes) in files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

fn assert_tree(dir: &Path, files: &[(&str, Vec<u8>)]) {
    for (name, bytes) in files {
        assert_eq!(fs::read(dir.join(name)).ok().as_ref(), Some(bytes), "{name} in {}", dir.display());
    }
}

/// Whether the `-vvv` trace shows a `425` reply (ftp-srv's, once it gave up waiting for a
/// data connection).
fn answered_425(out: &std::process::Output) -> bool {
    let trace = String::from_utf8_lossy(&out.stderr);
    let replies: Vec<&str> =
        trace.lines().filter_map(|l| l.strip_prefix("*resp* ")).map(|r| r.trim_start_matches('\'')).collect();
    // Not judged on a trace without its data connections' replies.
    assert!(replies.iter().any(|r| r.starts_with("226")), "no transfer's reply in the trace:\n{trace}");
    replies.iter().any(|r| r.starts_with("425"))
}

/// Runs the binary against the server (bounded in time); returns its output.
fn run(home: &Path, ca: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    let ca = ca.to_str().unwrap();
    all.extend(["--ca-file", ca, "--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "10", "--retries", "1"]);
    let mut cmd = ftpsync_command(&all);
    cmd.env("FTPSYNC_PASSWORD", PASSWORD)
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    bounded_output(cmd)
}

#[test]
fn a_server_that_waits_for_the_data_handshake_before_its_150() {
    let Some(install) = ftp_srv_dir() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let [root, tls, local, back, home] = ["root", "tls", "local", "back", "home"].map(|d| scratch.path().join(d));
    for d in [&root, &tls, &local, &back, &home] {
        fs::create_dir(d).unwrap();
    }
    let server = FtpSrv::start(&install, &root, &tls);
    let ca = tls.join("cert.pem");
    let files = tree();
    write_tree(&local, &files);
    let url = server.url();
    let steps: [(&str, Vec<&str>); 3] = [
        ("upload", vec!["upload", local.to_str().unwrap(), &url]),
        ("download", vec!["download", back.to_str().unwrap(), &url]),
        ("sync", vec!["sync", back.to_str().unwrap(), &url, "--resolve", "skip"]),
    ];
    for (name, mut args) in steps {
        args.push("-vvv");
        let out = run(&home, &ca, &args);
        assert!(out.status.success(), "{name} failed:\n{}", text(&out));
        // No data connection waited for ftp-srv's 5 s: it would have answered `425` then.
        assert!(!answered_425(&out), "{name}: the server gave up on a data connection:\n{}", text(&out));
    }
    assert_tree(&root, &files);
    assert_tree(&back, &files);
    // Nothing left to do.
    let out = run(&home, &ca, &["upload", local.to_str().unwrap(), &url, "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("COPY"),
        "a second upload would copy again:\n{}",
        text(&out)
    );
}
