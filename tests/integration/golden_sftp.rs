//! The golden fixture scenarios again, with the remote side on a real SFTP server (OpenSSH's
//! sshd of `.ci/servers.sh`): the final trees, counters and action lines must be those of the
//! local→local runs (as `golden_ftp.rs` checks for FTP). The fixture's remote edits are made
//! directly on the served folder on disk.
//!
//! The remote is opened as a command opens it (`commands::targets::open`), with the flags a CI
//! job would give: the password in the URL and the server's host key pinned with `--host-key`
//! (the test process's HOME is not touched). Without `FTPSYNC_TEST_SFTP_SERVERS` the test says
//! so and passes, unless `CI=true`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use clap::Parser;
use ftpsync::apply::apply;
use ftpsync::backend::Target;
use ftpsync::backend::local::LocalTarget;
use ftpsync::cli::ConnArgs;
use ftpsync::commands::targets;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::output::Printer;
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan_with;
use ftpsync::settings::Connection;
use serde_json::Value;

use crate::golden::{load_scenarios, observe_with};
use crate::support::fixture::{self, MODIFY, X_EDITS};
use crate::support::sftp::{Scratch, SftpServer, servers};
use crate::support::{settings, workers};

/// The connection flags, parsed as the command line parses them.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    conn: ConnArgs,
}

fn open_remote(server: &SftpServer, folder: &str, pin: &str) -> Box<dyn Target> {
    let flags = Flags::try_parse_from([
        "ftpsync",
        "--no-prompt",
        "--no-keyring",
        "--no-netrc",
        "--timeout",
        "20",
        "--host-key",
        pin,
    ])
    .unwrap_or_else(|e| panic!("connection flags: {e}"));
    let conn = Connection::from_args(&flags.conn);
    targets::open(&server.url_of(folder), &conn, &Printer::silent(), false)
        .unwrap_or_else(|e| panic!("{}: open {folder}: {e:#}", server.name))
}

/// Gives `dir` and everything in it to the owner of the served root (the server's login).
fn chown_like_root(server: &SftpServer, dir: &Path) {
    let meta = fs::metadata(&server.root).unwrap();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::lchown(&p, Some(meta.uid()), Some(meta.gid())).unwrap();
        if p.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
}

#[test]
fn pyftpsync_fixture_scenarios_over_sftp() {
    let Some(server) = servers().into_iter().find(|s| s.name == "sshd") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but FTPSYNC_TEST_SFTP_SERVERS has no sshd: .ci/run starts it with .ci/servers.sh"
        );
        eprintln!("skipping the golden scenarios over SFTP: FTPSYNC_TEST_SFTP_SERVERS has no sshd");
        return;
    };
    let pin = server.fingerprint();
    let scenarios = load_scenarios();
    let local_base = tempfile::tempdir().unwrap();
    let served = Scratch::new(&server, "golden");
    let (stamp, served_base) = (&served.name, &served.dir);
    let root_of = |key: &str, variant: &str| match variant {
        "fs" => local_base.path().join(format!("{key}-fs")),
        _ => served_base.join(key),
    };
    for s in &scenarios {
        for variant in ["fs", "sftp"] {
            let root = root_of(&s.key, variant);
            fixture::initial_local(&root);
            if s.fixture == "no_meta" {
                fixture::copy_local_to_remote(&root);
            } else {
                let mut l = LocalTarget::open(&root.join("local")).unwrap();
                let mut r: Box<dyn Target> = if variant == "fs" {
                    Box::new(LocalTarget::open(&root.join("remote")).unwrap())
                } else {
                    chown_like_root(&server, served_base);
                    open_remote(&server, &format!("{stamp}/{}/remote", s.key), &pin)
                };
                let plan =
                    make_plan_with(&mut l, r.as_mut(), PlanOptions::new(Mode::Sync), SystemClock.now(), workers())
                        .unwrap()
                        .plan;
                apply(&plan, &mut l, r.as_mut(), &settings()).unwrap();
                r.close().unwrap();
            }
            if variant == "sftp" {
                chown_like_root(&server, served_base);
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mut failures = Vec::new();
    for s in &scenarios {
        let mut observed: Vec<Value> = Vec::new();
        for variant in ["fs", "sftp"] {
            let root = root_of(&s.key, variant);
            fixture::apply_edits(&root, MODIFY);
            if s.fixture == "x" {
                fixture::apply_edits(&root, X_EDITS);
            }
            let mut l = LocalTarget::open(&root.join("local")).unwrap();
            let (mut obs, _) = if variant == "fs" {
                observe_with(&root, s, &mut l, &mut LocalTarget::open(&root.join("remote")).unwrap())
            } else {
                chown_like_root(&server, &root);
                let mut r = open_remote(&server, &format!("{stamp}/{}/remote", s.key), &pin);
                let result = observe_with(&root, s, &mut l, r.as_mut());
                r.close().unwrap();
                result
            };
            // Metadata differs by design: the remote's target id is the server's.
            obs.as_object_mut().unwrap().remove("meta");
            observed.push(obs);
        }
        if observed[0] != observed[1] {
            failures.push(format!("{}:\n  local:  {}\n  sftp:   {}", s.key, observed[0], observed[1]));
        }
    }
    drop(served);
    assert!(failures.is_empty(), "SFTP runs differ from local runs:\n{}", failures.join("\n"));
}
