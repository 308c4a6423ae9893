//! No wasted round trips (issue 4), read off the `-vvv` protocol trace of real runs against
//! the in-process server: a run opens only the connections it has work for, and a plan lists
//! every remote folder once.

use std::collections::BTreeMap;
use std::process::Output;

use crate::support::fixture;
use crate::support::{ftp, ftpsync_command};

/// The commands of a `-vvv` trace.
fn commands(out: &Output) -> Vec<String> {
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines().filter_map(|l| l.strip_prefix("*cmd* '")).map(|c| c.trim_end_matches('\'').to_string()).collect()
}

fn run(args: &[&str]) -> Output {
    let out = ftpsync_command(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn a_run_opens_only_the_connections_it_has_work_for() {
    let dir = tempfile::tempdir().unwrap();
    let (local, served) = (dir.path().join("local"), dir.path().join("served"));
    fixture::write(&local, "big.bin", "one file", fixture::T12);
    std::fs::create_dir(&served).unwrap();
    let server = ftp::serve(&served);
    let logins = || {
        let out = run(&["upload", local.to_str().unwrap(), &server.url(None), "--workers", "8", "-vvv"]);
        commands(&out).iter().filter(|c| c.starts_with("USER ")).count()
    };
    // One file in one folder: nothing for a second connection to do, in the scan or apply.
    assert_eq!(logins(), 1);
    // Forty folders: the scan and apply share eight connections (apply reuses the scan's).
    for i in 0..40 {
        fixture::write(&local, &format!("d{i}/f.txt"), "a file", fixture::T12);
    }
    assert_eq!(logins(), 8);
}

/// The connections a run foresees log in beside the first one, but send their password only
/// once the first one's was accepted: a wrong password is tried once, not once per connection
/// (a server counting failed logins would lock the account out).
#[test]
fn a_wrong_password_is_sent_once_however_many_connections_are_foreseen() {
    let dir = tempfile::tempdir().unwrap();
    let (local, served) = (dir.path().join("local"), dir.path().join("served"));
    for i in 0..40 {
        fixture::write(&local, &format!("d{i}/f.txt"), "a file", fixture::T12);
    }
    std::fs::create_dir(&served).unwrap();
    let mut config = ftpsync::server::ServerConfig::new(&served);
    config.login = Some(("deploy".into(), "right".into()));
    let server = ftpsync::server::start(config).unwrap();
    let url = server.url(Some("deploy:wrong"));
    let out = ftpsync_command(&["upload", local.to_str().unwrap(), &url, "--workers", "8", "-vvv"]).output().unwrap();
    assert!(!out.status.success(), "a wrong password must fail");
    let sent = commands(&out);
    assert_eq!(sent.iter().filter(|c| c.starts_with("PASS ")).count(), 1, "{sent:?}");
    // With the right one, the eight connections log in (the first, and seven ahead of the scan).
    let out = run(&["upload", local.to_str().unwrap(), &server.url(Some("deploy:right")), "--workers", "8", "-vvv"]);
    assert_eq!(commands(&out).iter().filter(|c| c.starts_with("PASS ")).count(), 8);
}

#[test]
fn a_plan_lists_every_remote_folder_once() {
    let dir = tempfile::tempdir().unwrap();
    fixture::initial_local(dir.path());
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    let server = ftp::serve(&remote);
    run(&["upload", local.to_str().unwrap(), &server.url(None)]);
    let plan = dir.path().join("plan.json");
    for workers in ["1", "8"] {
        let out = run(&[
            "plan",
            "sync",
            local.to_str().unwrap(),
            &server.url(None),
            "-o",
            plan.to_str().unwrap(),
            "--workers",
            workers,
            "-vvv",
        ]);
        let commands = commands(&out);
        // This server does not list over the control connection (`STAT -la`): asked once.
        let probes: Vec<_> = commands.iter().filter(|c| c.starts_with("STAT ")).collect();
        assert_eq!(probes, ["STAT -la /"], "--workers {workers}");
        let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &commands {
            if let Some(path) = c.strip_prefix("MLSD ") {
                *listed.entry(path).or_default() += 1;
            }
        }
        // The root and its seven folders, each once.
        assert_eq!(listed.len(), 8, "--workers {workers}: {listed:?}");
        assert!(listed.values().all(|&n| n == 1), "--workers {workers}: a folder listed more than once: {listed:?}");
    }
}
