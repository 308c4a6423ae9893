//! Plan-then-apply through the command line: `plan` is read-only, `apply` of a plan equals the
//! one-step command, a second plan is empty, drift is refused, bad plan files are refused.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::fixture::{self, MODIFY};
use crate::support::{assert_schema_valid, ftpsync, sync_fs, tree_state};
use ftpsync::plan::options::{Mode, PlanOptions};

/// `n` modified pyftpsync fixtures, each in a fresh folder.
fn modified_fixtures(n: usize) -> Vec<(tempfile::TempDir, PathBuf, PathBuf)> {
    let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    for dir in &dirs {
        fixture::initial_local(dir.path());
        sync_fs(&dir.path().join("local"), &dir.path().join("remote"), PlanOptions::new(Mode::Sync));
    }
    // Edits must be recognisably later than the sync (2.01 s tolerance).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    dirs.into_iter()
        .map(|dir| {
            fixture::apply_edits(dir.path(), MODIFY);
            let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
            (dir, local, remote)
        })
        .collect()
}

fn modified_fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    modified_fixtures(1).pop().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn plan(local: &Path, remote: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["plan", "sync", s(local), s(remote), "-o", s(out), "--resolve", "local"];
    args.extend_from_slice(extra);
    ftpsync(&args)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn plan_is_read_only_and_apply_equals_one_step() {
    let mut two = modified_fixtures(2);
    let (b, _, _) = two.pop().unwrap();
    let (a, local, remote) = two.pop().unwrap();

    let before = (tree_state(&local), tree_state(&remote));
    let plan_file = a.path().join("plan.json");
    let out = plan(&local, &remote, &plan_file, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(before, (tree_state(&local), tree_state(&remote)), "plan changed something");
    let doc = json(&plan_file);
    assert_schema_valid("plan", &doc);

    let applied = ftpsync(&["apply", s(&plan_file)]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let one_step = ftpsync(&["sync", s(&b.path().join("local")), s(&b.path().join("remote")), "--resolve", "local"]);
    assert!(one_step.status.success(), "{}", String::from_utf8_lossy(&one_step.stderr));
    // Same output (paths aside) and same resulting trees.
    let norm = |o: &std::process::Output, root: &Path| {
        String::from_utf8_lossy(&o.stdout).replace(root.to_str().unwrap(), "<ROOT>")
    };
    let strip_elapsed =
        |t: String| t.lines().map(|l| l.split(" Elap:").next().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(strip_elapsed(norm(&applied, a.path())), strip_elapsed(norm(&one_step, b.path())));
    assert_eq!(fixture::read_tree(&local), fixture::read_tree(&b.path().join("local")));
    assert_eq!(fixture::read_tree(&remote), fixture::read_tree(&b.path().join("remote")));

    // A second plan has no operations.
    let second = a.path().join("second.json");
    let out = plan(&local, &remote, &second, &["--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(json(&second)["summary"]["changes"], 0);
}

/// Makes a plan, applies `change`, and checks that apply refuses with exit 4, names the path,
/// and changes nothing.
fn assert_drift(change: impl FnOnce(&Path, &Path), expect_path: &str, expect_found: &str) {
    let (dir, local, remote) = modified_fixture();
    let plan_file = dir.path().join("plan.json");
    assert!(plan(&local, &remote, &plan_file, &[]).status.success());
    change(&local, &remote);
    let before = (tree_state(&local), tree_state(&remote));
    let report = dir.path().join("report.json");
    let out = ftpsync(&["apply", s(&plan_file), "--report", s(&report)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(expect_path) && stderr.contains(expect_found),
        "drift report lacks {expect_path:?}/{expect_found:?}:\n{stderr}"
    );
    assert_eq!(before, (tree_state(&local), tree_state(&remote)), "a refused apply changed something");
    let report = json(&report);
    assert_schema_valid("report", &report);
    assert_eq!(report["result"], "rejected");
}

#[test]
fn drift_content_changed() {
    assert_drift(|l, _| fixture::write(l, "file2.txt", "changed again!", fixture::T13), "file2.txt", "14 bytes");
}

#[test]
fn drift_mtime_changed() {
    assert_drift(|_, r| fixture::write(r, "file4.txt", "remote 13:00", fixture::T1305), "file4.txt", "13:00:05");
}

#[test]
fn drift_new_file() {
    assert_drift(
        |l, _| fixture::write(l, "folder2/surprise.txt", "x", fixture::T13),
        "folder2/surprise.txt",
        "1 bytes",
    );
}

#[test]
fn drift_new_file_inside_folder_to_delete() {
    assert_drift(|_, r| fixture::write(r, "folder3/late.txt", "x", fixture::T13), "folder3/late.txt", "file");
}

#[test]
fn drift_deleted_file() {
    assert_drift(|_, r| std::fs::remove_file(r.join("new_file2.txt")).unwrap(), "new_file2.txt", "absent");
}

#[test]
fn drift_metadata_changed() {
    assert_drift(
        |l, _| {
            let p = l.join(".pyftpsync-meta.json");
            let text = std::fs::read_to_string(&p).unwrap().replace("\"s\":6", "\"s\":7");
            std::fs::write(p, text).unwrap();
        },
        ".pyftpsync-meta.json",
        "sha256",
    );
}

fn rejected(plan_file: &Path, extra: &[&str]) -> String {
    let mut args = vec!["apply", s(plan_file)];
    args.extend_from_slice(extra);
    let out = ftpsync(&args);
    assert_eq!(
        out.status.code(),
        Some(4),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "not a one-line reason: {stderr}");
    stderr
}

#[test]
fn bad_plan_files_are_refused() {
    let (dir, local, remote) = modified_fixture();
    let plan_file = dir.path().join("plan.json");
    assert!(plan(&local, &remote, &plan_file, &[]).status.success());
    let doc = json(&plan_file);
    let before = (tree_state(&local), tree_state(&remote));
    let variant = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        edit(&mut d);
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(&d).unwrap()).unwrap();
        p
    };
    let msg = rejected(&variant("dotdot.json", &|d| d["entries"][1]["path"] = "../escape.txt".into()), &[]);
    assert!(msg.contains("..") || msg.contains("not allowed"), "{msg}");
    let msg = rejected(&variant("abs.json", &|d| d["entries"][1]["path"] = "/etc/passwd".into()), &[]);
    assert!(msg.contains("absolute"), "{msg}");
    let msg = rejected(&variant("major.json", &|d| d["format_version"] = "2.0".into()), &[]);
    assert!(msg.contains("2.0") && msg.contains("not supported"), "{msg}");
    let bytes = std::fs::read(&plan_file).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    rejected(&truncated, &[]);
    let msg = rejected(&plan_file, &["--expect-sha256", &"0".repeat(64)]);
    assert!(msg.contains("expected"), "{msg}");
    assert_eq!(before, (tree_state(&local), tree_state(&remote)));
    // The right digest is accepted.
    let digest = String::from_utf8(ftpsync(&["show", s(&plan_file), "--sha256"]).stdout).unwrap();
    let out = ftpsync(&["apply", s(&plan_file), "--expect-sha256", digest.trim()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn msgpack_round_trip_is_lossless() {
    let (dir, local, remote) = modified_fixture();
    let json_plan = dir.path().join("plan.json");
    let mp_plan = dir.path().join("plan.msgpack");
    assert!(plan(&local, &remote, &json_plan, &[]).status.success());
    // JSON → model → MessagePack → model → JSON.
    let loaded = ftpsync::plan::load(&json_plan).unwrap();
    std::fs::write(&mp_plan, ftpsync::plan::io::encode(&loaded.plan, ftpsync::plan::io::FileFormat::Msgpack)).unwrap();
    let back = ftpsync::plan::load(&mp_plan).unwrap();
    assert_eq!(back.plan, loaded.plan);
    assert_eq!(back.digest, loaded.digest, "the digest does not depend on the file format");
    let again = ftpsync::plan::io::encode(&back.plan, ftpsync::plan::io::FileFormat::Json);
    assert_eq!(again, std::fs::read(&json_plan).unwrap());
    // `show` reads MessagePack, and `plan --format msgpack` writes the same model.
    let shown = ftpsync(&["show", s(&mp_plan), "--format", "json"]);
    assert_eq!(String::from_utf8(shown.stdout).unwrap().trim(), std::fs::read_to_string(&json_plan).unwrap().trim());
    let direct = dir.path().join("direct.msgpack");
    assert!(plan(&local, &remote, &direct, &["--format", "msgpack"]).status.success());
    let direct = ftpsync::plan::load(&direct).unwrap();
    assert_eq!(direct.plan.entries, loaded.plan.entries);
}

#[test]
fn schema_rejects_unknown_fields() {
    let (dir, local, remote) = modified_fixture();
    let plan_file = dir.path().join("plan.json");
    assert!(plan(&local, &remote, &plan_file, &[]).status.success());
    let mut doc = json(&plan_file);
    doc["entries"][0]["surprise"] = Value::Bool(true);
    let result = std::panic::catch_unwind(|| assert_schema_valid("plan", &doc));
    assert!(result.is_err(), "the schema must describe every field exactly");
}

#[test]
fn max_delete_is_checked_again_at_apply() {
    let (dir, local, remote) = modified_fixture();
    let plan_file = dir.path().join("plan.json");
    // B2 deletes 3 files and 3 folders with one file each: 9 entries.
    assert!(plan(&local, &remote, &plan_file, &["--max-delete", "9"]).status.success());
    let refused = ftpsync(&[
        "plan",
        "sync",
        s(&local),
        s(&remote),
        "-o",
        s(&dir.path().join("p2.json")),
        "--resolve",
        "local",
        "--max-delete",
        "8",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("plan deletes 9 files and folders, more than --max-delete 8")
    );
    assert!(!dir.path().join("p2.json").exists());
    // A reviewer lowering the limit in the plan: apply refuses it before changing anything.
    let mut doc = json(&plan_file);
    doc["options"]["max_delete"] = 2.into();
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let before = (tree_state(&local), tree_state(&remote));
    let msg = rejected(&plan_file, &[]);
    assert!(msg.contains("more than --max-delete 2"), "{msg}");
    assert_eq!(before, (tree_state(&local), tree_state(&remote)));
}
