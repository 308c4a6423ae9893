//! The matrix's SFTP rows (issue 14): every SFTP server `.ci/servers.sh` starts (OpenSSH's sshd,
//! chrooted, and proftpd's mod_sftp), with the matrix's own fixture, edits and comparisons,
//! through the binary as a user runs it: the password from `FTPSYNC_PASSWORD`, the host key
//! verified against `~/.ssh/known_hosts` (a HOME of the test's, holding the run's
//! `FTPSYNC_TEST_SFTP_KNOWN_HOSTS`).
//!
//! missing → upload → replan → edits → sync → nochange → drift → download, as for FTP (see
//! `servers.rs`); SFTP sets modification times (SETSTAT), so the served files must carry the
//! local times. A further row, `key`, uploads as the key-only login with `--ssh-key` (ed25519)
//! and checks that the password login sees the same tree; then the staging rows of every
//! server (`staged.rs`: primitives, rollback, recovery).
//!
//! Servers come from `FTPSYNC_TEST_SFTP_SERVERS` / `_ROOTS` / `_KNOWN_HOSTS` / `_KEY_USER` /
//! `_KEY_DIR` (format in `.ci/servers.sh`); with `CI=true` both servers must be listed.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Instant;

use ftpsync::model::{Clock, SystemClock};
use ftpsync::settings::PASSWORD_ENV;

use super::{Row, Tree, Unstorable, known_problem, pairs, read_tree, same_tree, write_file, write_tree};
use crate::support::ftpsync_command;
pub(crate) use crate::support::sftp::SftpServer;
use crate::support::world::{bounded_output, text};

/// The SFTP servers `.ci/servers.sh` starts: with `CI=true`, each must be listed.
pub(super) const CI_SFTP_SERVERS: [&str; 2] = ["sshd", "proftpd-sftp"];

/// The URL of `folder` below the server's path for `user`, without a password (the binary
/// takes it from the environment, as a CI job would).
pub(crate) fn url(server: &SftpServer, user: &str, folder: &str) -> String {
    format!("sftp://{user}@{}{}/{folder}", address(server), server.url.path.trim_end_matches('/'))
}

/// The password login's name.
pub(crate) fn user(server: &SftpServer) -> &str {
    server.url.user.as_deref().unwrap_or_default()
}

/// `host:port`.
pub(crate) fn address(server: &SftpServer) -> String {
    format!("{}:{}", server.url.host, server.url.effective_port())
}

/// The version `.ci/servers.sh` found (`FTPSYNC_TEST_SERVER_VERSIONS`).
pub(super) fn version(server: &SftpServer) -> String {
    pairs("FTPSYNC_TEST_SERVER_VERSIONS")
        .into_iter()
        .find(|(name, _)| *name == server.name)
        .map_or_else(|| "unknown".into(), |(_, v)| v)
}

/// A HOME for the binary whose `~/.ssh/known_hosts` is the run's (nothing else: no keys, no
/// agent, no keyring).
fn home(scratch: &Path, server: &SftpServer) -> PathBuf {
    let home = scratch.join(format!("{}-sftp-home", server.name));
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/known_hosts"), known_hosts()).unwrap();
    home
}

/// The run's known_hosts file (`FTPSYNC_TEST_SFTP_KNOWN_HOSTS`).
fn known_hosts() -> String {
    let known = std::env::var_os("FTPSYNC_TEST_SFTP_KNOWN_HOSTS").expect("FTPSYNC_TEST_SFTP_KNOWN_HOSTS is not set");
    fs::read_to_string(&known).unwrap_or_else(|e| panic!("{}: {e}", PathBuf::from(&known).display()))
}

/// A HOME for both tools against one server: pysftp (pyftpsync) looks a host up without its
/// port, so this server's keys are there under the plain host too (only this server's: two
/// servers on 127.0.0.1 would otherwise claim the same name).
pub(crate) fn home_for_both(dir: &Path, server: &SftpServer) -> PathBuf {
    let home = dir.join(format!("{}-home", server.name));
    fs::create_dir_all(home.join(".ssh")).unwrap();
    let address = address(server);
    let (host, port) = address.rsplit_once(':').unwrap();
    let bracketed = format!("[{host}]:{port} ");
    let mut lines = String::new();
    for line in known_hosts().lines().filter(|l| l.starts_with(&bracketed)) {
        lines.push_str(&format!("{line}\n{host} {}\n", &line[bracketed.len()..]));
    }
    assert!(!lines.is_empty(), "{}: no host key for {} in FTPSYNC_TEST_SFTP_KNOWN_HOSTS", server.name, address);
    fs::write(home.join(".ssh/known_hosts"), lines).unwrap();
    home
}

/// Runs the binary (bounded) with the server's password in the environment.
pub(crate) fn binary(server: &SftpServer, home: &Path, args: &[&str]) -> Output {
    let mut cmd = ftpsync_command(args);
    cmd.args(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "20"])
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .env(PASSWORD_ENV, server.password())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    bounded_output(cmd)
}

/// The binary must succeed.
fn ok(server: &SftpServer, home: &Path, args: &[&str]) -> Result<String, String> {
    let out = binary(server, home, args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("ftpsync {}: {}", args[0], text(&out)))
    }
}

/// Whether a plan of `local` against `url` has nothing to do (`--detailed-exitcode`: 0).
fn plan_is_empty(server: &SftpServer, home: &Path, local: &Path, url: &str, plan: &Path) -> Result<(), String> {
    let out = binary(
        server,
        home,
        &["plan", "sync", local.to_str().unwrap(), url, "-o", plan.to_str().unwrap(), "--detailed-exitcode"],
    );
    match out.status.code() {
        Some(0) => Ok(()),
        Some(5) => Err(format!("the plan is not empty: {}", text(&out))),
        _ => Err(format!("plan failed: {}", text(&out))),
    }
}

type Step<'a> = Box<dyn FnMut() -> Result<String, String> + 'a>;

/// The rows of one SFTP server.
pub(super) fn rows(server: &SftpServer, scratch: &Path) -> Vec<Row> {
    let home = home(scratch, server);
    let stamp = format!("{}-{}", std::process::id(), SystemClock.now() as u64);
    let folder = format!("sftp-{stamp}");
    let served = server.root.join(&folder);
    let root_meta = fs::metadata(&server.root)
        .unwrap_or_else(|e| panic!("{}: served folder {}: {e}", server.name, server.root.display()));
    let owner = (root_meta.uid(), root_meta.gid());
    fs::create_dir(&served).unwrap();
    std::os::unix::fs::chown(&served, Some(owner.0), Some(owner.1)).unwrap();
    let local = scratch.join(format!("{}-sftp-local", server.name));
    let fresh = scratch.join(format!("{}-sftp-download", server.name));
    let plan = scratch.join(format!("{}-sftp-plan.json", server.name));
    let names = Unstorable::default();
    let base = super::fixture_for(&names);
    write_tree(&local, &base, None);
    let expected = std::cell::RefCell::new(base.clone());
    let url = url(server, user(server), &folder);
    let (home, local, served, fresh, plan, url) = (&home, &local, &served, &fresh, &plan, &url);
    let l = local.to_str().unwrap();
    let files = base.keys().filter(|p| !p.ends_with('/')).count();

    let mut steps: Vec<(&'static str, Step)> = Vec::new();
    steps.push((
        "missing",
        Box::new(|| {
            let out = binary(server, home, &["tree", &format!("{url}/not-here")]);
            let said = text(&out);
            match out.status.code() {
                Some(0) => Err(format!("a folder that does not exist was listed: {said}")),
                _ if said.contains("does not exist") => Ok("reported as missing".into()),
                _ => Err(format!("unexpected error: {said}")),
            }
        }),
    ));
    steps.push((
        "upload",
        Box::new(|| {
            ok(server, home, &["upload", l, url])?;
            same_tree("served folder", &read_tree(served), &base, true)?;
            Ok(format!("{files} files; mtimes kept"))
        }),
    ));
    steps.push(("replan", Box::new(|| plan_is_empty(server, home, local, url, plan).map(|()| "nothing to do".into()))));
    steps.push((
        "edits",
        Box::new(|| {
            let mut expected = expected.borrow_mut();
            let n = super::edit_hard_names(local, &mut expected);
            ok(server, home, &["upload", l, url])?;
            same_tree("served folder", &read_tree(served), &expected, true)?;
            Ok(format!("{n} files with hard names replaced"))
        }),
    ));
    steps.push((
        "sync",
        Box::new(|| {
            let mut expected = expected.borrow_mut();
            super::edit_both(local, served, owner, &mut expected, &names);
            ok(server, home, &["sync", l, url])?;
            same_tree("local folder", &read_tree(local), &expected, true)?;
            same_tree("served folder", &read_tree(served), &expected, true)?;
            plan_is_empty(server, home, local, url, plan)?;
            Ok("both sides as expected; a further plan is empty".into())
        }),
    ));
    steps.push((
        "nochange",
        Box::new(|| {
            let (local_before, served_before) = (read_tree(local), read_tree(served));
            ok(server, home, &["sync", l, url])?;
            same_tree("local folder after the sync", &read_tree(local), &local_before, true)?;
            same_tree("served folder after the sync", &read_tree(served), &served_before, true)?;
            Ok("nothing copied or deleted".into())
        }),
    ));
    steps.push((
        "drift",
        Box::new(|| {
            let mut expected = expected.borrow_mut();
            let file = ["a b/x.txt", "p/q r/y.txt"]
                .into_iter()
                .find(|f| expected.contains_key(*f))
                .unwrap_or_else(|| expected.keys().find(|p| !p.ends_with('/')).unwrap())
                .to_string();
            write_file(local, &file, b"local edit, planned\n", super::T_EDIT + 100, None);
            let out = binary(server, home, &["plan", "upload", l, url, "-o", plan.to_str().unwrap()]);
            if !out.status.success() {
                return Err(format!("plan failed: {}", text(&out)));
            }
            let server_edit = b"changed on the server after the plan\r\n".to_vec();
            write_file(served, &file, &server_edit, super::T_EDIT + 101, Some(owner));
            expected.insert(file.clone(), (server_edit, super::T_EDIT + 101));
            let (local_before, served_before) = (read_tree(local), read_tree(served));
            let out = binary(server, home, &["apply", plan.to_str().unwrap()]);
            same_tree("local folder after the refused apply", &read_tree(local), &local_before, true)?;
            same_tree("served folder after the refused apply", &read_tree(served), &served_before, true)?;
            let said = text(&out);
            match out.status.code() {
                Some(4) if said.contains(&file) => Ok(format!("refused with exit 4, {file:?} named")),
                Some(4) => Err(format!("refused, but {file:?} is not named: {said}")),
                _ => Err(format!("apply should refuse with exit 4: {said}")),
            }
        }),
    ));
    steps.push((
        "download",
        Box::new(|| {
            fs::create_dir_all(fresh).unwrap();
            ok(server, home, &["download", fresh.to_str().unwrap(), url])?;
            same_tree("downloaded folder", &read_tree(fresh), &read_tree(served), true)?;
            Ok(format!("{} entries", read_tree(fresh).len()))
        }),
    ));
    steps.push(("key", Box::new(|| key_login(server, home, scratch, &folder))));

    let mut out = Vec::new();
    let mut failed: Option<&'static str> = None;
    for (operation, mut step) in steps {
        if let Some(first) = failed {
            let detail = format!("not run ({first} failed)");
            out.push(Row { operation, ok: false, skipped: false, seconds: 0.0, detail, protocol: None });
            continue;
        }
        if let Some(why) = known_problem(&server.name, operation) {
            out.push(Row { operation, ok: true, skipped: true, seconds: 0.0, detail: why.into(), protocol: None });
            continue;
        }
        let started = Instant::now();
        let result = step();
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(detail) => out.push(Row { operation, ok: true, skipped: false, seconds, detail, protocol: None }),
            Err(detail) => {
                if operation != "missing" {
                    failed = failed.or(Some(operation));
                }
                out.push(Row { operation, ok: false, skipped: false, seconds, detail, protocol: None });
            }
        }
    }
    let _ = fs::remove_dir_all(served);
    // All-or-nothing apply over SFTP: the staging rows of every server (servers/staged.rs).
    out.extend(super::staged::rows(super::staged::Remote::Sftp(server, home), scratch));
    out
}

/// The key-only login uploads a small tree with `--ssh-key` (ed25519, no passphrase) into
/// a fresh folder; the password login then plans nothing against it.
fn key_login(server: &SftpServer, home: &Path, scratch: &Path, folder: &str) -> Result<String, String> {
    let key_user = server.key_user.as_deref().ok_or("FTPSYNC_TEST_SFTP_KEY_USER names no key user")?;
    let keys = std::env::var_os("FTPSYNC_TEST_SFTP_KEY_DIR").ok_or("FTPSYNC_TEST_SFTP_KEY_DIR is not set")?;
    let key = PathBuf::from(keys).join("id_ed25519");
    let local = scratch.join(format!("{}-sftp-key-local", server.name));
    let tree: Tree = [("k/one.txt", b"one\n".to_vec()), ("two.bin", vec![0, 13, 10, 255])]
        .into_iter()
        .map(|(p, c)| (p.to_string(), (c, super::T_EDIT)))
        .collect();
    write_tree(&local, &tree, None);
    let key_folder = format!("{folder}-key");
    let l = local.to_str().unwrap();
    // No password at all for the key login: the key must be what lets it in.
    let mut cmd = ftpsync_command(&["upload", l, &url(server, key_user, &key_folder), "--create-folder"]);
    cmd.args(["--ssh-key", key.to_str().unwrap(), "--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "20"])
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = bounded_output(cmd);
    let served = server.root.join(&key_folder);
    let result = (|| {
        if !out.status.success() {
            return Err(format!("upload with the key: {}", text(&out)));
        }
        same_tree("served folder (key login)", &read_tree(&served), &tree, true)?;
        let plan = scratch.join(format!("{}-sftp-key-plan.json", server.name));
        plan_is_empty(server, home, &local, &url(server, user(server), &key_folder), &plan)?;
        Ok(format!("{key_user} with id_ed25519: uploaded; the password login plans nothing after it"))
    })();
    let _ = fs::remove_dir_all(&served);
    result
}
