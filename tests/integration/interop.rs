//! Metadata interoperability with the real pyftpsync 4.1 (installed by `.ci/run`; its path in
//! `PYFTPSYNC`, else `pyftpsync` on PATH): each tool continues where the other left off, and
//! the outcome is the one the continuing tool gives on its own.

use std::path::Path;
use std::process::Command;

use ftpsync::plan::options::{Mode, PlanOptions, Resolve};
use serde_json::Value;

use crate::support::fixture::{self, MODIFY};
use crate::support::{pyftpsync, repo, sync_fs};

/// Runs pyftpsync with a private HOME (no ~/.pyftpsyncrc, keyring or .netrc involved).
fn run_pyftpsync(exe: &Path, home: &Path, args: &[&str]) -> String {
    let out = Command::new(exe).args(args).env("HOME", home).env_remove("PYFTPSYNC_VERBOSE_META").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pyftpsync {args:?} failed:\n{text}");
    assert!(
        !text.contains("Could not read meta info") && !text.contains("Invalid meta data version"),
        "pyftpsync could not use the metadata:\n{text}"
    );
    text
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// pyftpsync's recorded result for a scenario, with ftpsync's listed deliberate differences
/// applied when `ftpsync_continues`.
fn expected_tree(key: &str, ftpsync_continues: bool) -> Value {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(repo().join(format!("golden/pyftpsync/{key}.json"))).unwrap()).unwrap();
    let tree = doc["tree"].clone();
    if ftpsync_continues { with_differences(tree, key) } else { tree }
}

/// A pyftpsync result with the tree cells `golden/differences.json` lists for the scenario set
/// to ftpsync's values (each with its reason there).
fn with_differences(mut tree: Value, key: &str) -> Value {
    let diffs: Value = serde_json::from_slice(&std::fs::read(repo().join("golden/differences.json")).unwrap()).unwrap();
    for (cell, d) in diffs["scenarios"][key].as_object().cloned().unwrap_or_default() {
        let Some(rest) = cell.strip_prefix("tree.") else { continue };
        let (side, path) = rest.split_once('/').unwrap();
        match &d["ftpsync"] {
            Value::Null => {
                tree[side].as_object_mut().unwrap().remove(path);
            }
            v => {
                tree[side][path] = v.clone();
            }
        }
    }
    tree
}

fn observed_tree(root: &Path) -> Value {
    serde_json::json!({"local": fixture::read_tree(&root.join("local")), "remote": fixture::read_tree(&root.join("remote"))})
}

const SCENARIOS: [(&str, &str); 3] = [("B1", "skip"), ("B2", "local"), ("B3", "remote")];

#[test]
fn pyftpsync_first_then_ftpsync() {
    let Some(exe) = pyftpsync() else { return };
    let home = tempfile::tempdir().unwrap();
    let base = tempfile::tempdir().unwrap();
    for (key, _) in SCENARIOS {
        let root = base.path().join(key);
        fixture::initial_local(&root);
        run_pyftpsync(
            &exe,
            home.path(),
            &["sync", s(&root.join("local")), s(&root.join("remote")), "--resolve", "skip", "-q"],
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for (key, resolve) in SCENARIOS {
        let root = base.path().join(key);
        fixture::apply_edits(&root, MODIFY);
        let before = observed_tree(&root);
        let mut options = PlanOptions::new(Mode::Sync);
        options.resolve = match resolve {
            "local" => Resolve::Local,
            "remote" => Resolve::Remote,
            _ => Resolve::Skip,
        };
        sync_fs(&root.join("local"), &root.join("remote"), options);
        // pyftpsync keeps no copy of the local records in a local-folder remote, so after the
        // local `folder3` was deleted nothing proves the remote's `folder3/file3_1.txt`
        // unchanged: a conflict (kept with `skip`, restored with `remote`), where ftpsync's
        // own metadata lets the deletion through (as in the golden scenarios).
        let mut expected = expected_tree(key, true);
        let unproven = "folder3/file3_1.txt";
        let sides: &[&str] = match resolve {
            "skip" => &["remote"],
            "remote" => &["local", "remote"],
            _ => &[],
        };
        for side in sides {
            expected[*side][unproven] = before["remote"][unproven].clone();
        }
        assert_eq!(observed_tree(&root), expected, "{key}: pyftpsync, then ftpsync");
        // ftpsync's metadata still loads in pyftpsync, without --migrate, and a further
        // pyftpsync run finds nothing left to copy.
        let out = run_pyftpsync(
            &exe,
            home.path(),
            &["sync", s(&root.join("local")), s(&root.join("remote")), "--resolve", "skip", "--dry-run"],
        );
        assert!(out.contains("Wrote 0/"), "{key}: pyftpsync still wants to copy after ftpsync:\n{out}");
    }
}

#[test]
fn ftpsync_first_then_pyftpsync() {
    let Some(exe) = pyftpsync() else { return };
    let home = tempfile::tempdir().unwrap();
    let base = tempfile::tempdir().unwrap();
    for (key, _) in SCENARIOS {
        let root = base.path().join(key);
        fixture::initial_local(&root);
        sync_fs(&root.join("local"), &root.join("remote"), PlanOptions::new(Mode::Sync));
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for (key, resolve) in SCENARIOS {
        let root = base.path().join(key);
        fixture::apply_edits(&root, MODIFY);
        run_pyftpsync(
            &exe,
            home.path(),
            &["sync", s(&root.join("local")), s(&root.join("remote")), "--resolve", resolve, "-q"],
        );
        assert_eq!(observed_tree(&root), expected_tree(key, false), "{key}: ftpsync, then pyftpsync");
        // And back: ftpsync reads what pyftpsync wrote and has nothing left but the conflicts
        // pyftpsync skipped (and the deliberate folder conflicts).
        let second = crate::support::plan_fs(&root.join("local"), &root.join("remote"), PlanOptions::new(Mode::Sync));
        let transfers = second
            .entries
            .iter()
            .filter(|e| {
                matches!(
                    e.effective_action(),
                    ftpsync::plan::document::Action::Upload | ftpsync::plan::document::Action::Download
                )
            })
            .count();
        assert_eq!(transfers, 0, "{key}: ftpsync wants to copy after pyftpsync: {:?}", second.summary);
    }
}

// ---------------------------------------------------------------------------------------------
// Over SFTP (issue 14): the remote is a folder of each SFTP server of `.ci/servers.sh`, reached
// by both tools as `sftp://` (pyftpsync 4.1 through pysftp, ftpsync through the binary), the
// fixture's remote edits made on the served folder on disk.
//
// Each scenario runs three ways on each server: pyftpsync alone (initial sync, edits, sync),
// pyftpsync then ftpsync, ftpsync then pyftpsync. Both mixed runs must end with the trees of
// the pure pyftpsync run (with ftpsync continuing: with the differences
// `golden/differences.json` lists), except, by design, the remote files' modification times:
// pyftpsync cannot set them over SFTP (the server keeps the upload time, pyftpsync records the
// real time in `mtimes`), ftpsync sets them (SETSTAT); the remote side is compared by content.

mod over_sftp {
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use serde_json::Value;

    use super::{SCENARIOS, observed_tree, run_pyftpsync, s, with_differences};
    use crate::servers::sftp::{binary, home_for_both, url, user};
    use crate::support::fixture::{self, MODIFY};
    use crate::support::pyftpsync;
    use crate::support::sftp::{Scratch, SftpServer};

    /// Who syncs first and who continues.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Order {
        Pure,
        PyftpsyncFirst,
        FtpsyncFirst,
    }

    fn servers() -> Vec<SftpServer> {
        crate::support::sftp::servers()
    }

    /// Gives the served folder to the server's login (the fixture writes it as this process).
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

    fn sync_with(tool: &str, exe: &Path, server: &SftpServer, home: &Path, local: &Path, folder: &str, resolve: &str) {
        if tool == "pyftpsync" {
            let url = server.url_of(folder);
            run_pyftpsync(
                exe,
                home,
                &["sync", s(local), &url, "--resolve", resolve, "--no-keyring", "--no-netrc", "-q"],
            );
        } else {
            let url = url(server, user(server), folder);
            let out = binary(server, home, &["sync", s(local), &url, "--resolve", resolve]);
            let said = crate::support::world::text(&out);
            assert!(out.status.success(), "{}: ftpsync sync {folder} failed:\n{said}", server.name);
        }
    }

    /// The trees, the remote side without modification times (see above).
    fn comparable(mut tree: Value) -> Value {
        for entry in tree["remote"].as_object_mut().unwrap().values_mut() {
            entry.as_object_mut().unwrap().remove("mtime");
        }
        tree
    }

    /// Runs every scenario in `order` on `server`; returns (key, tree) per scenario.
    /// `test` names the test it runs for: each has its own folders (tests run in parallel).
    fn run_all(exe: &Path, server: &SftpServer, base: &Path, order: Order, test: Order) -> Vec<(&'static str, Value)> {
        let home = home_for_both(base, server);
        let (first, then) = match order {
            Order::Pure => ("pyftpsync", "pyftpsync"),
            Order::PyftpsyncFirst => ("pyftpsync", "ftpsync"),
            Order::FtpsyncFirst => ("ftpsync", "pyftpsync"),
        };
        let served = Scratch::new(server, &format!("interop-{test:?}-{order:?}"));
        let (stamp, served_base) = (&served.name, &served.dir);
        let folder = |key: &str| format!("{stamp}/{key}/remote");
        for (key, _) in SCENARIOS {
            // local/ and remote/ side by side in the served area, so that the fixture's
            // remote edits are made on the served folder on disk.
            let root = served_base.join(key);
            fixture::initial_local(&root);
            chown_like_root(server, served_base);
            sync_with(first, exe, server, &home, &root.join("local"), &folder(key), "skip");
        }
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let mut out = Vec::new();
        for (key, resolve) in SCENARIOS {
            let root = served_base.join(key);
            fixture::apply_edits(&root, MODIFY);
            chown_like_root(server, &root.join("remote"));
            sync_with(then, exe, server, &home, &root.join("local"), &folder(key), resolve);
            out.push((key, comparable(observed_tree(&root))));
        }
        out
    }

    fn check(order: Order) {
        let Some(exe) = pyftpsync() else { return };
        for server in servers() {
            let base = tempfile::tempdir().unwrap();
            let pure = run_all(&exe, &server, base.path(), Order::Pure, order);
            let mixed = run_all(&exe, &server, base.path(), order, order);
            for ((key, want), (_, got)) in pure.into_iter().zip(mixed) {
                let want = if order == Order::PyftpsyncFirst { comparable(with_differences(want, key)) } else { want };
                assert_eq!(got, want, "{}: {key}: {order:?} over SFTP differs from pyftpsync alone", server.name);
            }
        }
    }

    #[test]
    fn pyftpsync_first_then_ftpsync_over_sftp() {
        check(Order::PyftpsyncFirst);
    }

    #[test]
    fn ftpsync_first_then_pyftpsync_over_sftp() {
        check(Order::FtpsyncFirst);
    }
}
