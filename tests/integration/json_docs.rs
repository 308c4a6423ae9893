//! Every machine-readable document validates against its schema in `schemas/` (issue 6,
//! acceptance 6): `plan --json` (plan-summary), the plan itself (`show --format json`), and
//! the result report of `apply --json`, of the one-step commands (real and dry runs) and of a
//! refused apply. With `--json`, stdout carries the document and nothing else.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::fixture;
use crate::support::{assert_schema_valid, ftpsync, repo};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Stdout as one JSON document (fails if anything else is there).
fn doc(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn plan_summary_apply_and_show_documents() {
    let dir = fixture::synced_then_modified();
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    let plan = dir.path().join("plan.json");
    let out = ftpsync(&["plan", "sync", s(&local), s(&remote), "--resolve", "local", "-o", s(&plan), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = doc(&out);
    assert_schema_valid("plan-summary", &summary);
    let digest = String::from_utf8(ftpsync(&["show", s(&plan), "--sha256"]).stdout).unwrap().trim().to_string();
    let plan_doc: Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    assert_eq!(summary["plan_sha256"], digest.as_str());
    assert_eq!(summary["summary"], plan_doc["summary"]);
    assert_eq!(summary["plan_file"], s(&plan));
    assert!(summary["summary"]["changes"].as_u64().unwrap() > 0);
    // The human summary went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("sha256: {digest}")));

    let shown = ftpsync(&["show", s(&plan), "--format", "json"]);
    assert_schema_valid("plan", &doc(&shown));

    let out = ftpsync(&["apply", s(&plan), "--json", "--expect-sha256", &digest]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = doc(&out);
    assert_schema_valid("report", &report);
    assert_eq!((report["result"].as_str(), report["plan_sha256"].as_str()), (Some("success"), Some(digest.as_str())));
    assert!(
        report["entries"].as_array().unwrap().iter().all(|e| e["status"] == "done" || e["status"] == "skipped"),
        "{report:#}"
    );
    // Format 1.2: every file written carries its size, time and the sha256 of the bytes sent,
    // which are the bytes now in place on the side it was written to.
    let written: Vec<&Value> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["status"] == "done" && e["kind"] == "file" && matches!(e["action"].as_str(), Some("upload" | "download"))
        })
        .collect();
    assert!(!written.is_empty(), "{report:#}");
    for e in written {
        let side = if e["action"] == "upload" { &remote } else { &local };
        let bytes = std::fs::read(side.join(e["path"].as_str().unwrap())).unwrap();
        assert_eq!(e["content"]["sha256"], ftpsync::model::digest::sha256_hex(&bytes), "{e:#}");
        assert_eq!(e["content"]["size"], bytes.len() as u64, "{e:#}");
        assert!(e["content"]["mtime"].as_f64().is_some(), "{e:#}");
    }
    // A report of format 1.1 (no `content`) stays valid.
    let mut older = report.clone();
    older["format_version"] = "1.1".into();
    older["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .for_each(|e| drop(e.as_object_mut().unwrap().remove("content")));
    assert_schema_valid("report", &older);

    // Applied again: the targets changed since, so the report says rejected, with the drift.
    let out = ftpsync(&["apply", s(&plan), "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let rejected = doc(&out);
    assert_schema_valid("report", &rejected);
    assert_eq!(rejected["result"], "rejected");
    assert!(!rejected["drift"].as_array().unwrap().is_empty());

    // `-o -` and `--json` would both write to stdout.
    let out = ftpsync(&["plan", "sync", s(&local), s(&remote), "-o", "-", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim().lines().count(), 1);
}

#[test]
fn one_step_commands_report_real_and_dry_runs() {
    for (command, extra) in
        [("sync", &["--resolve", "remote"][..]), ("upload", &["--delete"]), ("download", &["--resolve", "remote"])]
    {
        for dry in [true, false] {
            let dir = fixture::synced_then_modified();
            let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
            let mut args = vec![command, s(&local), s(&remote), "--json"];
            args.extend_from_slice(extra);
            if dry {
                args.push("--dry-run");
            }
            let out = ftpsync(&args);
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            let report = doc(&out);
            assert_schema_valid("report", &report);
            assert_eq!(report["result"], if dry { "dry_run" } else { "success" }, "{args:?}");
            assert_eq!(report["mode"], command);
            assert!(report["counters"]["files_written"].as_u64().unwrap() > 0, "{args:?}: {report:#}");
        }
    }
}

#[test]
fn plan_summary_schema_shares_the_plan_schema_definitions() {
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(repo().join(format!("schemas/{name}.schema.json"))).unwrap()).unwrap()
    };
    let (plan, summary) = (read("plan"), read("plan-summary"));
    for (name, def) in summary["$defs"].as_object().unwrap() {
        assert_eq!(def, &plan["$defs"][name], "$defs/{name} differs from plan.schema.json");
    }
    assert_eq!(summary["properties"]["tool"], plan["properties"]["tool"]);
    assert_eq!(summary["properties"]["mode"], plan["properties"]["mode"]);
}
