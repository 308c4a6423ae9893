//! Local-side safety (issue 5, acceptance 5): symbolic links are reported and never followed
//! out of the root, a download never writes through one, special files are skipped with a
//! message, and permission problems fail only the files concerned.
//!
//! Permission bits mean nothing to root, and CI runs as root: there the binary is run as the
//! unprivileged user `nobody` (uid 65534), on files owned by it, so the same checks are real
//! either way.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::fixture::write;
use crate::support::world::{bounded_output, text};
use crate::support::{bin, tree_state};

const T: f64 = 1_600_000_000.0;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ftpsync(args: &[&str], home: &Path) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    bounded_output(cmd)
}

/// `local`, `remote` and an `outside` folder next to them, with a secret file.
fn folders() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (local, remote, outside) = (dir.path().join("local"), dir.path().join("remote"), dir.path().join("outside"));
    for d in [&local, &remote, &outside] {
        fs::create_dir_all(d).unwrap();
    }
    write(&outside, "secret.txt", "secret", T);
    (dir, local, remote, outside)
}

#[test]
fn links_and_special_files_are_reported_and_never_followed() {
    let (dir, local, remote, outside) = folders();
    write(&local, "a.txt", "a", T);
    std::os::unix::fs::symlink(outside.join("secret.txt"), local.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, local.join("linkdir")).unwrap();
    let status = Command::new("mkfifo").arg(local.join("fifo")).status().expect("mkfifo");
    assert!(status.success());
    let _socket = std::os::unix::net::UnixListener::bind(local.join("sock")).unwrap();
    // The other way round: the remote has files where the local side has links.
    write(&remote, "link.txt", "remote", T + 10.0);
    write(&remote, "linkdir/x.txt", "remote", T + 10.0);
    let before = tree_state(&outside);

    // A fifo opened for reading would block: a bounded run proves it is not opened.
    let out = ftpsync(&["sync", s(&local), s(&remote), "--resolve", "remote"], dir.path());
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for (name, why) in [
        ("link.txt", "symbolic link (not followed)"),
        ("linkdir", "symbolic link (not followed)"),
        ("fifo", "special file"),
        ("sock", "special file"),
    ] {
        assert!(all.contains(&format!("Skipping local \"{name}\": {why}")), "{name} not reported:\n{all}");
    }
    assert_eq!(tree_state(&outside), before, "something outside the root changed");
    assert!(fs::symlink_metadata(local.join("link.txt")).unwrap().file_type().is_symlink());
    assert!(fs::symlink_metadata(local.join("linkdir")).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_to_string(remote.join("a.txt")).unwrap(), "a");
    for name in ["fifo", "sock", "linkdir/secret.txt"] {
        assert!(!remote.join(name).exists(), "{name} was copied");
    }
    assert_eq!(fs::read_to_string(remote.join("link.txt")).unwrap(), "remote", "the link's target was uploaded");
}

#[test]
fn a_folder_replaced_by_a_link_before_apply_is_drift() {
    let (dir, local, remote, outside) = folders();
    write(&local, "top/sub/a.txt", "a", T);
    write(&remote, "top/sub/a.txt", "a", T);
    write(&remote, "top/sub/b.txt", "new", T);
    let plan = dir.path().join("plan.json");
    let out = ftpsync(&["plan", "download", s(&local), s(&remote), "-o", s(&plan)], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    // After planning, `top/sub` becomes a link to a folder outside that looks the same.
    fs::remove_dir_all(local.join("top/sub")).unwrap();
    write(&outside, "mirror/a.txt", "a", T);
    std::os::unix::fs::symlink(outside.join("mirror"), local.join("top/sub")).unwrap();
    let before = tree_state(&outside);
    let out = ftpsync(&["apply", s(&plan)], dir.path());
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "apply went through a link:\n{all}");
    assert!(all.contains("top/sub (local): planned folder, found absent"), "{all}");
    assert_eq!(tree_state(&outside), before, "a file was written outside the root");
}

#[test]
fn a_download_never_writes_through_a_folder_replaced_by_a_link_during_apply() {
    use crate::support::cut_proxy::{Action, Channel, Fault};
    use crate::support::world::{Side, World};
    let mut w = World::new();
    // `top/big.bin` is downloaded first (a shallower wave), and held up halfway by the proxy
    // while `top/sub` is replaced; `top/sub/b.txt` comes after.
    w.put_both("top/sub/a.txt", 1, 10);
    w.put(Side::Served, "top/big.bin", 1, 4 << 20);
    w.put(Side::Served, "top/sub/b.txt", 1, 10);
    let plan = w.plan(&["download"]);
    let outside = w.root.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::copy(w.local.join("top/sub/a.txt"), outside.join("a.txt")).unwrap();
    let fired = w.proxy.faults_fired();
    w.proxy.arm(Some(Fault {
        channel: Channel::Data,
        at: 2 << 20,
        action: Action::Delay(std::time::Duration::from_secs(2)),
    }));
    let args = World::apply_args(&plan, 20, 1);
    let child = w.command(&args.iter().map(String::as_str).collect::<Vec<_>>()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while w.proxy.faults_fired() == fired {
        assert!(std::time::Instant::now() < deadline, "the download never reached the pause");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    fs::remove_dir_all(w.local.join("top/sub")).unwrap();
    std::os::unix::fs::symlink(&outside, w.local.join("top/sub")).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert!(!outside.join("b.txt").exists(), "a file was written through the link:\n{all}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("is a symbolic link"), "{all}");
    // Staged: the failure rolled the whole download back, nothing staged is left.
    assert!(!w.local.join("top/big.bin").exists(), "{all}");
    let left: Vec<_> = fs::read_dir(w.local.join("top")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().starts_with(".ftpsync-tmp-")), "{left:?}");
}

/// Runs as `nobody` when the tests run as root (whose reads and writes ignore permission bits).
struct Unprivileged {
    uid: Option<u32>,
}

impl Unprivileged {
    const NOBODY: u32 = 65534;

    fn new() -> Self {
        let root = rustix::process::getuid().is_root();
        if root {
            eprintln!("running as root: the permission checks run ftpsync as uid {} (nobody)", Self::NOBODY);
        }
        Unprivileged { uid: root.then_some(Self::NOBODY) }
    }

    /// Hands a folder (all of it) to the user the binary runs as.
    fn own(&self, path: &Path) {
        let Some(uid) = self.uid else { return };
        std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
        if path.is_dir() {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
            for e in fs::read_dir(path).unwrap() {
                self.own(&e.unwrap().path());
            }
        }
    }

    /// The binary, as that user (a copy it can reach, in `dir`).
    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        let exe = dir.join("ftpsync");
        if !exe.exists() {
            fs::copy(bin(), &exe).unwrap();
            fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut cmd = Command::new(&exe);
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env("HOME", dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(uid) = self.uid {
            cmd.uid(uid).gid(uid);
        }
        bounded_output(cmd)
    }
}

fn outcomes(report: &Path) -> Vec<(String, String, String)> {
    let doc: Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap_or("").to_string(),
                e["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn permission_problems_fail_only_the_files_concerned() {
    let (dir, local, remote, _) = folders();
    let user = Unprivileged::new();
    // Upload: one unreadable file among readable ones.
    for name in ["a.txt", "b.txt", "secret.txt", "z.txt"] {
        write(&local, name, name, T);
    }
    // Download: one folder that cannot be written, among writable ones.
    for name in ["in/one.txt", "locked/two.txt", "open/three.txt"] {
        write(&remote, name, name, T);
    }
    fs::create_dir(local.join("locked")).unwrap();
    user.own(dir.path());
    fs::set_permissions(local.join("secret.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(local.join("locked"), fs::Permissions::from_mode(0o555)).unwrap();
    let report = dir.path().join("report.json");

    // Staged (the default): one failure and nothing changes, on either side.
    let (local_before, remote_before) = (tree_state(&local), tree_state(&remote));
    let out = user.run(dir.path(), &["sync", s(&local), s(&remote), "--resolve", "skip", "--report", s(&report)]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("rolled back: nothing was changed"), "{all}");
    assert_eq!((tree_state(&local), tree_state(&remote)), (local_before, remote_before), "{all}");
    let doc: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(doc["result"], "rolled_back", "{doc}");
    assert_eq!(outcomes(&report).iter().find(|o| o.0 == "secret.txt").map(|o| o.1.as_str()), Some("failed"));

    // Streaming (`--no-stage`): only the files concerned fail.
    let args = ["sync", s(&local), s(&remote), "--resolve", "skip", "--report", s(&report), "--no-stage"];
    let out = user.run(dir.path(), &args);
    let all = text(&out);
    fs::set_permissions(local.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(local.join("secret.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{all}");
    let outcomes = outcomes(&report);
    let status = |path: &str| {
        outcomes.iter().find(|o| o.0 == path).unwrap_or_else(|| panic!("no outcome for {path}: {outcomes:?}")).clone()
    };
    for ok in ["a.txt", "b.txt", "z.txt", "in/one.txt", "open/three.txt"] {
        assert_eq!(status(ok).1, "done", "{ok}: {outcomes:?}");
    }
    let (_, st, err) = status("secret.txt");
    assert_eq!(st, "failed");
    assert!(err.contains("secret.txt") && err.contains("ermission denied"), "{err}");
    let (_, st, err) = status("locked/two.txt");
    assert_eq!(st, "failed");
    assert!(err.contains("locked") && err.contains("ermission denied"), "{err}");
    assert!(!remote.join("secret.txt").exists() && !local.join("locked/two.txt").exists());
    assert_eq!(fs::read_to_string(remote.join("z.txt")).unwrap(), "z.txt");
    assert_eq!(fs::read_to_string(local.join("open/three.txt")).unwrap(), "open/three.txt");
    // Once the problems are gone, planning again does the rest.
    user.own(dir.path());
    let out = user.run(dir.path(), &["sync", s(&local), s(&remote), "--resolve", "skip"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(remote.join("secret.txt")).unwrap(), "secret.txt");
    assert_eq!(fs::read_to_string(local.join("locked/two.txt")).unwrap(), "locked/two.txt");
}
