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
    let mut tree = doc["tree"].clone();
    if ftpsync_continues {
        let diffs: Value =
            serde_json::from_slice(&std::fs::read(repo().join("golden/differences.json")).unwrap()).unwrap();
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
