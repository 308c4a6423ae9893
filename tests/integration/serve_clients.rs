//! Real FTP clients against `ftpsync serve` (issue 12, point 7): pyftpsync 4.1 (upload,
//! download, sync), lftp (`mirror -R` keeping times, passive and active), curl (passive, EPRT,
//! PORT) and Python's ftplib (active and passive STOR/RETR/LIST/MLSD, also over FTPS), each
//! checked on disk: bytes, and modification times where the client keeps them. Plus the server's side of the
//! protocol the clients rely on, with a raw socket: a bad parameter does not end the session,
//! `FEAT` lists `MFMT`, and active mode connects only back to the client (no FTP bounce).
//!
//! Each test starts `ftpsync serve` on a free loopback port, waits until it answers, runs the
//! client under a deadline and stops the server. A missing client skips the test with a
//! message, or fails it when CI=true (`.ci/run` installs them all).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use filetime::FileTime;
use serde_json::Value;

use crate::support::{bin, pyftpsync};

/// The longest a client run may take (they take well under a second here).
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// 2020-01-02 03:04:05 UTC; file `i` of the tree gets `BASE_TIME + 61 * i`.
const BASE_TIME: i64 = 1_577_934_245;

/// `ftpsync serve ROOT --port 0` as a child process; stopped (SIGINT, then kill) when dropped.
struct Serve {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(root: &Path) -> Serve {
        Serve::start_with(root, &[])
    }

    /// With more options (`--tls-cert`, ...).
    fn start_with(root: &Path, options: &[&str]) -> Serve {
        let mut child = Command::new(bin())
            .args(["serve", "--port", "0", "--passive-ports", "0"])
            .args(options)
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first line names the URL (the port is only known then); read it under a deadline.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(IO_TIMEOUT).unwrap_or_default();
        let url = line.split(" at ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
        let Ok(addr) = url.split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/').parse::<SocketAddr>()
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ftpsync serve printed no URL: {line:?}");
        };
        let serve = Serve { child, addr };
        // Ready when it greets.
        let mut control = Control::connect(addr);
        assert!(control.reply().starts_with("220"), "no greeting");
        serve
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn url(&self) -> String {
        format!("ftp://127.0.0.1:{}/", self.port())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Ctrl-C, as a user stops it; where `kill` is missing, straight to the hard kill.
        let interrupted =
            Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(if interrupted { 5 } else { 0 });
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

/// A raw control connection: send a line, read a (possibly multi-line) reply.
struct Control {
    reader: BufReader<TcpStream>,
}

impl Control {
    fn connect(addr: SocketAddr) -> Control {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Control { reader: BufReader::new(stream) }
    }

    /// The whole reply; its last line starts with the code and a space.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).unwrap() > 0, "connection closed; replies so far: {all:?}");
            all.push_str(&line);
            let b = line.as_bytes();
            if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                return all;
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.reader.get_mut().write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
}

/// The client program `name` (checked with `--version`), or `None` (skip) with a message;
/// when CI=true a missing client fails the test.
fn client(name: &str) -> Option<PathBuf> {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(PathBuf::from(name));
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is required when CI=true (.ci/run installs it)");
    eprintln!("skipping a test of ftpsync serve with {name}: not installed");
    None
}

/// Runs `cmd` to completion within [`CLIENT_DEADLINE`] (killed and failed after it); fails
/// unless it succeeds. Returns stdout and stderr.
fn run(cmd: &mut Command) -> String {
    let out_dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let deadline = Instant::now() + CLIENT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    match status {
        Some(status) if status.success() => text,
        Some(status) => panic!("{cmd:?} failed ({status}):\n{text}"),
        None => panic!("{cmd:?} did not finish within {CLIENT_DEADLINE:?}:\n{text}"),
    }
}

/// Files of the test tree: names with spaces, `#`, non-ASCII; text with CR LF and binary
/// bytes (so an ASCII-mode transfer would show); an empty file; two folder levels.
fn make_tree(root: &Path) -> BTreeMap<String, (Vec<u8>, i64)> {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let files: [(&str, Vec<u8>); 5] = [
        ("a b.txt", b"hello\r\nworld\n".to_vec()),
        ("\u{e9} \u{fc}.txt", "\u{e9}t\u{e9}\n".as_bytes().to_vec()),
        ("empty.dat", Vec::new()),
        ("sub dir/c#1.txt", b"in a folder\n".to_vec()),
        ("sub dir/deep/d.bin", binary),
    ];
    for (i, (rel, data)) in files.iter().enumerate() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        filetime::set_file_mtime(&path, FileTime::from_unix_time(BASE_TIME + 61 * i as i64, 0)).unwrap();
    }
    files_under(root)
}

/// Every file below `root` (except pyftpsync's metadata) with its bytes and mtime (seconds).
fn files_under(root: &Path) -> BTreeMap<String, (Vec<u8>, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != ".pyftpsync-meta.json" {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let mtime = FileTime::from_last_modification_time(&std::fs::metadata(&path).unwrap()).unix_seconds();
                out.insert(rel, (std::fs::read(&path).unwrap(), mtime));
            }
        }
    }
    out
}

fn without_times(files: &BTreeMap<String, (Vec<u8>, i64)>) -> BTreeMap<String, Vec<u8>> {
    files.iter().map(|(k, (data, _))| (k.clone(), data.clone())).collect()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// pyftpsync's metadata file in `dir`.
fn meta(dir: &Path) -> Value {
    let path = dir.join(".pyftpsync-meta.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Runs pyftpsync with a private HOME (no ~/.pyftpsyncrc, keyring or .netrc involved).
fn pyftpsync_run(exe: &Path, home: &Path, args: &[&str]) -> String {
    let text = run(Command::new(exe).args(args).args(["--no-prompt", "--no-keyring", "--no-netrc"]).env("HOME", home));
    for bad in ["Could not read meta info", "Invalid meta data version", "Traceback", "Could not send 'OPTS UTF8 ON'"] {
        assert!(!text.contains(bad), "pyftpsync {args:?} reported {bad:?}:\n{text}");
    }
    text
}

#[test]
fn pyftpsync_uploads_downloads_and_syncs_with_serve() {
    let Some(exe) = pyftpsync() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (root, local, local2, home) =
        (dir.path().join("root"), dir.path().join("local"), dir.path().join("local2"), dir.path().join("home"));
    for d in [&root, &local2, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    let tree = make_tree(&local);
    let server = Serve::start(&root);
    let url = server.url();

    // upload: pyftpsync sends OPTS UTF-8 (501) and OPTS UTF8 ON (200) first; the session must go on.
    pyftpsync_run(&exe, &home, &["upload", s(&local), &url]);
    assert_eq!(without_times(&files_under(&root)), without_times(&tree), "upload: bytes on the server");
    // pyftpsync keeps the times in its metadata (it cannot set them on a server).
    for (rel, (data, mtime)) in &tree {
        let (folder, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let entry = &meta(&root.join(folder))["mtimes"][name];
        assert_eq!(entry["m"].as_f64(), Some(*mtime as f64), "{rel}: recorded mtime in {entry}");
        assert_eq!(entry["s"].as_u64(), Some(data.len() as u64), "{rel}: recorded size in {entry}");
    }

    // download, in active mode (PORT): bytes, and the times from the metadata.
    pyftpsync_run(&exe, &home, &["download", s(&local2), &url, "--ftp-active"]);
    assert_eq!(files_under(&local2), tree, "download: bytes and times");

    // sync: a local edit goes up, a file new on the server comes down.
    std::fs::write(local.join("a b.txt"), "edited locally\n").unwrap();
    filetime::set_file_mtime(local.join("a b.txt"), FileTime::from_unix_time(BASE_TIME + 86_400, 0)).unwrap();
    std::fs::write(root.join("sub dir/from server.txt"), "new on the server\n").unwrap();
    let out = pyftpsync_run(&exe, &home, &["sync", s(&local), &url, "--resolve", "skip"]);
    assert!(out.contains("Wrote 2/"), "sync should copy two files:\n{out}");
    assert_eq!(std::fs::read(root.join("a b.txt")).unwrap(), b"edited locally\n");
    assert_eq!(std::fs::read(local.join("sub dir/from server.txt")).unwrap(), b"new on the server\n");
    let synced = files_under(&local);
    assert_eq!(without_times(&files_under(&root)), without_times(&synced), "after sync both sides hold the same bytes");
    // Both sides' metadata describe the synced state: the server's the uploaded file's local
    // time, the local side's the peer state of the last sync.
    let up = &meta(&root)["mtimes"]["a b.txt"];
    assert_eq!((up["m"].as_f64(), up["s"].as_u64()), (Some((BASE_TIME + 86_400) as f64), Some(15)), "{up}");
    let peer = meta(&local)["peer_sync"].as_object().unwrap().values().next().cloned().unwrap_or_default();
    assert_eq!(peer["a b.txt"]["s"].as_u64(), Some(15), "local peer_sync: {peer}");
    let peer_sub =
        meta(&local.join("sub dir"))["peer_sync"].as_object().unwrap().values().next().cloned().unwrap_or_default();
    assert_eq!(peer_sub["from server.txt"]["s"].as_u64(), Some(18), "local peer_sync of sub dir: {peer_sub}");

    // A second sync finds nothing to do and changes no file on either side.
    let before = (files_under(&local), files_under(&root));
    let out = pyftpsync_run(&exe, &home, &["sync", s(&local), &url, "--resolve", "skip"]);
    assert!(out.contains("Wrote 0/"), "the second sync copied something:\n{out}");
    assert_eq!((files_under(&local), files_under(&root)), before);
}

/// lftp sets times with `MFMT` once FEAT lists it; `mirror -R` must keep them all, in passive
/// and in active mode, and `mirror` back must give the same tree.
#[test]
fn lftp_mirror_r_keeps_modification_times() {
    let Some(lftp) = client("lftp") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (root, local, back) = (dir.path().join("root"), dir.path().join("local"), dir.path().join("back"));
    std::fs::create_dir_all(&root).unwrap();
    let tree = make_tree(&local);
    let server = Serve::start(&root);
    for (passive, target) in [("on", "passive"), ("off", "active")] {
        let script = format!(
            "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; set ftp:passive-mode {passive}; \
             open -u anonymous,ftpsync-test ftp://127.0.0.1:{}; mirror -R --no-perms '{}' /{target}",
            server.port(),
            s(&local)
        );
        run(Command::new(&lftp).args(["-c", &script]).env("HOME", dir.path()));
        assert_eq!(
            files_under(&root.join(target)),
            tree,
            "lftp mirror -R with passive mode {passive}: bytes and times on the server"
        );
    }
    let script = format!(
        "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; open -u anonymous,ftpsync-test ftp://127.0.0.1:{}; mirror --no-perms /active '{}'",
        server.port(),
        s(&back)
    );
    run(Command::new(&lftp).args(["-c", &script]).env("HOME", dir.path()));
    assert_eq!(files_under(&back), tree, "lftp mirror back: bytes and times");
}

/// curl: upload (passive), download over EPRT and over PORT, a listing; `-R` takes the time
/// from `MDTM`.
#[test]
fn curl_uploads_lists_and_downloads_in_both_modes() {
    let Some(curl) = client("curl") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (root, local) = (dir.path().join("root"), dir.path().join("local"));
    std::fs::create_dir_all(&root).unwrap();
    let tree = make_tree(&local);
    let server = Serve::start(&root);
    let base = format!("ftp://127.0.0.1:{}", server.port());
    let curl_cmd = || {
        let mut cmd = Command::new(&curl);
        cmd.args(["--silent", "--show-error", "--fail", "--connect-timeout", "10", "--max-time", "30"]);
        cmd
    };

    run(curl_cmd().args([
        "--ftp-create-dirs",
        "-T",
        s(&local.join("sub dir/deep/d.bin")),
        &format!("{base}/up/deep/d.bin"),
    ]));
    assert_eq!(std::fs::read(root.join("up/deep/d.bin")).unwrap(), tree["sub dir/deep/d.bin"].0, "curl upload");
    let server_time =
        FileTime::from_last_modification_time(&std::fs::metadata(root.join("up/deep/d.bin")).unwrap()).unix_seconds();

    for (mode, extra) in [("EPRT", &["-P", "-"][..]), ("PORT", &["-P", "-", "--disable-eprt"][..]), ("EPSV", &[][..])] {
        let out = local.join(format!("got-{mode}.bin"));
        let trace = run(curl_cmd().args(extra).args(["-v", "-R", "-o", s(&out), &format!("{base}/up/deep/d.bin")]));
        assert!(trace.contains(&format!("> {mode}")), "curl did not use {mode}:\n{trace}");
        assert_eq!(std::fs::read(&out).unwrap(), tree["sub dir/deep/d.bin"].0, "curl download over {mode}");
        let got_time = FileTime::from_last_modification_time(&std::fs::metadata(&out).unwrap()).unix_seconds();
        assert_eq!(got_time, server_time, "curl -R over {mode}: the server's time");
    }
    let listing = run(curl_cmd().args(["-P", "-", &format!("{base}/up/deep/")]));
    assert!(
        listing.lines().any(|l| l.ends_with(" d.bin") && l.contains(" 70000 ")),
        "curl listing in active mode:\n{listing}"
    );
}

/// Python's ftplib (stdlib only): login, then in active and in passive mode STOR, RETR, LIST,
/// MLSD and MFMT.
#[test]
fn python_ftplib_works_in_active_and_passive_mode() {
    let Some(python) = client("python3") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub dir")).unwrap();
    let server = Serve::start(&root);
    let script = r#"
import ftplib, io, sys
port = int(sys.argv[1])
data = bytes(range(256)) * 41 + b"\r\n\n"
for passive in (False, True):
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login()
    ftp.set_pasv(passive)
    ftp.cwd("/sub dir")
    name = "ftplib %s.bin" % ("passive" if passive else "active")
    ftp.storbinary("STOR " + name, io.BytesIO(data))
    got = bytearray()
    ftp.retrbinary("RETR " + name, got.extend)
    assert bytes(got) == data, "RETR returned other bytes"
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert any(l.endswith(" " + name) for l in lines), lines
    facts = dict(ftp.mlsd())
    assert facts[name]["type"] == "file" and facts[name]["size"] == str(len(data)), facts
    reply = ftp.sendcmd("MFMT 20200102030405 " + name)
    assert reply.startswith("213 Modify=20200102030405"), reply
    ftp.quit()
print("ftplib ok")
"#;
    let out = run(Command::new(&python).args(["-c", script, &server.port().to_string()]));
    assert!(out.contains("ftplib ok"), "{out}");
    let expected: Vec<u8> = (0..=255u8).cycle().take(256 * 41).chain(*b"\r\n\n").collect();
    for mode in ["active", "passive"] {
        let path = root.join(format!("sub dir/ftplib {mode}.bin"));
        assert_eq!(std::fs::read(&path).unwrap(), expected, "{mode}: bytes on the server");
        let mtime = FileTime::from_last_modification_time(&std::fs::metadata(&path).unwrap());
        assert_eq!(mtime.unix_seconds(), BASE_TIME, "{mode}: MFMT relative to the working directory");
    }
}

/// FTPS (AUTH TLS, PROT P) in active and passive mode, with ftplib verifying an rcgen
/// certificate. (Not curl: curl 7.87-7.88, Debian 12's, never starts TLS on an active data
/// connection and waits until its timeout, curl/curl#10666.)
#[test]
fn python_ftplib_over_ftps_in_active_and_passive_mode() {
    let Some(python) = client("python3") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, key.cert.pem()).unwrap();
    std::fs::write(&key_pem, key.signing_key.serialize_pem()).unwrap();
    let server = Serve::start_with(&root, &["--tls-cert", s(&cert_pem), "--tls-key", s(&key_pem)]);
    let script = r#"
import ftplib, io, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
data = bytes(range(256)) * 50
for passive in (False, True):
    ftp = ftplib.FTP_TLS(context=ctx, timeout=10)
    ftp.connect("127.0.0.1", port)
    ftp.login()
    ftp.prot_p()
    ftp.set_pasv(passive)
    name = "tls %s.bin" % ("passive" if passive else "active")
    ftp.storbinary("STOR " + name, io.BytesIO(data))
    got = bytearray()
    ftp.retrbinary("RETR " + name, got.extend)
    assert bytes(got) == data, "RETR returned other bytes"
    assert name in dict(ftp.mlsd()), "MLSD"
    ftp.quit()
print("ftps ok")
"#;
    let out = run(Command::new(&python).args(["-c", script, &server.port().to_string(), s(&cert_pem)]));
    assert!(out.contains("ftps ok"), "{out}");
    let expected: Vec<u8> = (0..=255u8).cycle().take(256 * 50).collect();
    for mode in ["active", "passive"] {
        assert_eq!(
            std::fs::read(root.join(format!("tls {mode}.bin"))).unwrap(),
            expected,
            "{mode}: bytes on the server"
        );
    }
}

/// A data connection whose TLS handshake fails (here: plain text instead of a ClientHello)
/// gets `426` on the control connection, touches no file, and the session goes on. (The
/// server used to panic in the data task: no reply ever came, and the session never timed out.)
#[test]
fn a_failed_data_tls_handshake_gets_426_and_changes_nothing() {
    let Some(python) = client("python3") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("keep.txt"), "keep").unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, key.cert.pem()).unwrap();
    std::fs::write(&key_pem, key.signing_key.serialize_pem()).unwrap();
    let server = Serve::start_with(&root, &["--tls-cert", s(&cert_pem), "--tls-key", s(&key_pem)]);
    let script = r#"
import ftplib, socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=cafile), timeout=10)
ftp.connect("127.0.0.1", port)
ftp.login()
ftp.prot_p()
for cmd in ("STOR keep.txt", "APPE keep.txt", "RETR keep.txt", "LIST", "MLSD"):
    host, data_port = ftp.makepasv()
    data = socket.create_connection((host, data_port), timeout=10)
    ftp.putcmd(cmd)
    first = ftp.getline()
    assert first.startswith("150"), (cmd, first)
    data.sendall(b"this is not a TLS ClientHello\r\n" * 4)
    second = ftp.getline()
    assert second.startswith("426"), (cmd, second)
    data.close()
assert ftp.sendcmd("NOOP").startswith("200")
print("handshake failures ok")
"#;
    let out = run(Command::new(&python).args(["-c", script, &server.port().to_string(), s(&cert_pem)]));
    assert!(out.contains("handshake failures ok"), "{out}");
    assert_eq!(std::fs::read_to_string(root.join("keep.txt")).unwrap(), "keep");
}

/// The protocol details the clients above rely on, with a raw socket (no client needed).
#[test]
fn serve_keeps_the_session_after_a_bad_parameter_lists_mfmt_and_refuses_ftp_bounce() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "abc").unwrap();
    std::fs::create_dir(dir.path().join("sub dir")).unwrap();
    std::fs::write(dir.path().join("sub dir/g.txt"), "g").unwrap();
    let server = Serve::start(dir.path());
    let mut c = Control::connect(server.addr);
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("USER anonymous").starts_with("331"));
    assert!(c.cmd("PASS x").starts_with("230"));
    // pyftpsync's first two OPTS: the unknown one is refused, and the session goes on.
    assert!(c.cmd("OPTS UTF-8").starts_with("501"));
    assert!(c.cmd("OPTS UTF8 ON").starts_with("200"));
    assert!(c.cmd("PORT 1,2,3").starts_with("501"));
    assert!(c.cmd("NOOP").starts_with("200"), "the session did not survive bad parameters");
    let feat = c.cmd("FEAT");
    assert!(feat.lines().any(|l| l.trim() == "MFMT"), "{feat}");
    assert!(c.cmd("MFMT 20200102030405 f.txt").starts_with("213 Modify=20200102030405; f.txt"));
    assert!(c.cmd("MFMT 2020 f.txt").starts_with("501"));
    assert!(c.cmd("MFMT 20200102030405 missing.txt").starts_with("550"));
    // lftp without MFMT: SITE UTIME with a path relative to the working directory.
    assert!(c.cmd("CWD sub dir").starts_with("250"));
    assert!(c.cmd("SITE UTIME 20200102030405 g.txt").starts_with("200"));
    let g_time = FileTime::from_last_modification_time(&std::fs::metadata(dir.path().join("sub dir/g.txt")).unwrap());
    assert_eq!(g_time.unix_seconds(), BASE_TIME, "SITE UTIME relative to the working directory");
    assert!(c.cmd("CWD /").starts_with("250"));

    // A "third host": 127.0.0.2 is another address on the loopback; nothing may connect to it.
    let third = TcpListener::bind("127.0.0.2:0").unwrap();
    third.set_nonblocking(true).unwrap();
    let p = third.local_addr().unwrap().port();
    for line in [format!("PORT 127,0,0,2,{},{}", p >> 8, p & 255), format!("EPRT |1|127.0.0.2|{p}|")] {
        let reply = c.cmd(&line);
        assert!(reply.starts_with("501"), "{line}: {reply}");
    }
    assert!(c.cmd("EPRT |1|127.0.0.1|21|").starts_with("501"), "privileged port");
    assert!(c.cmd("EPRT |9|x|2000|").starts_with("522"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(third.accept().is_err(), "the server connected to a third host");

    // Back to the client itself: works, for PORT and EPRT.
    for extended in [false, true] {
        assert_eq!(active_retr(&mut c, extended, "f.txt"), "abc");
    }
    assert!(c.cmd("QUIT").starts_with("221"));
}

/// `RETR path` in active mode (`PORT` or `EPRT` to 127.0.0.1) on a logged-in connection.
fn active_retr(c: &mut Control, extended: bool, path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = listener.local_addr().unwrap().port();
    let line =
        if extended { format!("EPRT |1|127.0.0.1|{p}|") } else { format!("PORT 127,0,0,1,{},{}", p >> 8, p & 255) };
    let reply = c.cmd(&line);
    assert!(reply.starts_with("200"), "{line}: {reply}");
    let (mut data, _) = listener.accept().unwrap();
    data.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert!(c.cmd(&format!("RETR {path}")).starts_with("150"));
    let mut body = String::new();
    data.read_to_string(&mut body).unwrap();
    let done = c.reply();
    assert!(done.starts_with("226"), "{done}");
    body
}

/// On an IPv6 socket an IPv4 client's address is IPv4-mapped (`::ffff:127.0.0.1`), as with
/// `--bind ::`; the data connection the server opens to it is plain IPv4 and must be accepted
/// as the same client, and PASV must name the IPv4 address. (`::ffff:127.0.0.1` keeps the
/// test on the loopback.)
#[test]
fn active_and_pasv_work_for_ipv4_clients_of_an_ipv6_listener() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "mapped").unwrap();
    let server = Serve::start_with(dir.path(), &["--bind", "::ffff:127.0.0.1"]);
    let mut c = Control::connect(SocketAddr::from(([127, 0, 0, 1], server.port())));
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("USER anonymous").starts_with("331"));
    assert!(c.cmd("PASS x").starts_with("230"));
    for extended in [false, true] {
        assert_eq!(active_retr(&mut c, extended, "f.txt"), "mapped");
    }
    // PASV names the IPv4 address (it used to close the control connection).
    let reply = c.cmd("PASV");
    let numbers: Vec<u16> =
        reply.split(['(', ')']).nth(1).unwrap_or_default().split(',').filter_map(|n| n.trim().parse().ok()).collect();
    let [127, 0, 0, 1, p1, p2] = numbers[..] else { panic!("PASV: {reply}") };
    let mut data = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], p1 * 256 + p2)), IO_TIMEOUT).unwrap();
    data.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert!(c.cmd("RETR f.txt").starts_with("150"));
    let mut body = String::new();
    data.read_to_string(&mut body).unwrap();
    assert_eq!(body, "mapped");
    assert!(c.reply().starts_with("226"));
    // Still no third host.
    assert!(c.cmd("EPRT |1|127.0.0.2|40000|").starts_with("501"));
}
