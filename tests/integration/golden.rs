//! Golden tests: every scenario of pyftpsync's fixture (behaviour spec §5.4) run local→local.
//!
//! The expected results are the real pyftpsync's (`golden/pyftpsync/*.json`, recorded by
//! `golden/pyftpsync/record.py`). Where ftpsync deliberately differs, every differing cell is
//! listed with its reason in `golden/differences.json`; the test fails on any difference not
//! listed there and on any listed difference that no longer occurs. The plans of the scenarios
//! are kept in `golden/plans/` (times and paths normalised). `UPDATE_GOLDEN=1` rewrites both
//! files; new differences are then marked "UNEXPLAINED" and still fail until a reason is given.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ftpsync::apply::apply;
use ftpsync::apply::stats::Counters;
use ftpsync::backend::Target;
use ftpsync::backend::local::LocalTarget;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::output::lines::action_line;
use ftpsync::plan::document::Plan;
use ftpsync::plan::effective_actions;
use ftpsync::plan::options::{Mode, PlanOptions, Resolve};
use ftpsync::planner::filter::split_patterns;
use ftpsync::scan::engine::make_plan_with;
use serde_json::{Map, Value, json};

use crate::support::fixture::{self, MODIFY, X_EDITS};
use crate::support::{repo, settings, sync_fs, update_golden, workers};

pub(crate) struct Scenario {
    pub key: String,
    pub mode: Mode,
    pub fixture: String,
    pub options: PlanOptions,
    pub dry_run: bool,
    pub expected: Value,
}

pub(crate) fn load_scenarios() -> Vec<Scenario> {
    let dir = repo().join("golden/pyftpsync");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let expected: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mode = match expected["command"].as_str().unwrap() {
            "sync" => Mode::Sync,
            "upload" => Mode::Upload,
            "download" => Mode::Download,
            other => panic!("unknown command {other}"),
        };
        let o = &expected["options"];
        let mut options = PlanOptions::new(mode);
        options.resolve = match o["resolve"].as_str().unwrap_or("skip") {
            "local" => Resolve::Local,
            "remote" => Resolve::Remote,
            "new" => Resolve::New,
            "old" => Resolve::Old,
            _ => Resolve::Skip,
        };
        options.force = o["force"].as_bool().unwrap_or(false);
        options.delete = o["delete"].as_bool().unwrap_or(false);
        options.delete_unmatched = o["delete_unmatched"].as_bool().unwrap_or(false);
        options.matches = o["match"].as_str().map(split_patterns).unwrap_or_default();
        out.push(Scenario {
            key: expected["scenario"].as_str().unwrap().to_string(),
            mode,
            fixture: expected["fixture"].as_str().unwrap().to_string(),
            options,
            dry_run: o["dry_run"].as_bool().unwrap_or(false),
            expected,
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// Replaces time-dependent values the way record.py does, and the target ids (ftpsync keeps a
/// copy of the local records in a local-folder remote, under the local id).
fn normalise_meta(value: &Value, remote_id: &str, local_id: &str) -> Value {
    const TIME_KEYS: [&str; 6] = ["_time", "_time_str", "u", ":last_sync", "mtime_str", "uploaded_str"];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if k == remote_id {
                        "<REMOTE>".to_string()
                    } else if k == local_id {
                        "<LOCAL>".to_string()
                    } else {
                        k.clone()
                    };
                    let val = if TIME_KEYS.contains(&k.as_str()) {
                        json!("<T>")
                    } else if k == "_version" {
                        json!("<VERSION>")
                    } else {
                        normalise_meta(v, remote_id, local_id)
                    };
                    (key, val)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The metadata files of both sides. ftpsync's copy of the local records in a local-folder
/// remote (pyftpsync keeps none there) is checked here instead of compared cell by cell: it
/// must equal the local folder's records wherever that folder still has them, and it is then
/// left out of the comparison with pyftpsync (with the file, when nothing else is in it).
fn read_metas(root: &Path, remote_id: &str, local_id: &str) -> Map<String, Value> {
    let mut metas = read_meta_files(root, remote_id, local_id);
    let folders: BTreeSet<String> =
        metas.keys().filter_map(|k| k.split_once('/').map(|(_, folder)| folder.to_string())).collect();
    for folder in folders {
        let (local_key, remote_key) = (format!("local/{folder}"), format!("remote/{folder}"));
        let copy =
            metas.get_mut(&remote_key).and_then(|m| m["peer_sync"].as_object_mut()).and_then(|p| p.remove("<LOCAL>"));
        let records = metas.get(&local_key).and_then(|m| m["peer_sync"].get("<REMOTE>")).cloned();
        // Where the local folder is gone (a skipped folder conflict) the copy is all that is left.
        let remote_folder = root.join(&remote_key).parent().unwrap().to_path_buf();
        if metas.contains_key(&local_key) && remote_folder.is_dir() {
            assert_eq!(
                copy,
                records,
                "{}: the remote copy of the local records differs from {local_key}",
                root.display()
            );
        }
        if metas.get(&remote_key).is_some_and(|m| m["mtimes"] == json!({}) && m["peer_sync"] == json!({})) {
            metas.remove(&remote_key);
        }
    }
    metas
}

fn read_meta_files(root: &Path, remote_id: &str, local_id: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for side in ["local", "remote"] {
        let mut stack = vec![root.join(side)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if e.file_name() == ".pyftpsync-meta.json" {
                    let data: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
                    let key = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    out.insert(key, normalise_meta(&data, remote_id, local_id));
                }
            }
        }
    }
    out
}

fn summary_line(c: &Counters, dry_run: bool) -> String {
    format!(
        "{}Wrote {}/{} files in {} directories, skipped: {}, errors: {}.",
        if dry_run { "(DRY-RUN) " } else { "" },
        c.files_written,
        c.local_files,
        c.local_dirs,
        c.conflict_files_skipped,
        c.errors
    )
}

/// Runs one scenario on a prepared fixture; returns the observation and the plan.
fn observe(root: &Path, s: &Scenario) -> (Value, Plan) {
    let mut l = LocalTarget::open(&root.join("local")).unwrap();
    let mut r = LocalTarget::open(&root.join("remote")).unwrap();
    observe_with(root, s, &mut l, &mut r)
}

/// [`observe`] with given targets for the fixture's `local/` and `remote/` folders.
pub(crate) fn observe_with(root: &Path, s: &Scenario, l: &mut dyn Target, r: &mut dyn Target) -> (Value, Plan) {
    let (local, remote) = (root.join("local"), root.join("remote"));
    let plan = make_plan_with(l, r, s.options.clone(), SystemClock.now(), workers()).unwrap().plan;
    let (actions, counters) = if s.dry_run {
        let mut c = Counters::predict(&plan);
        (c.bytes_written, c.upload_bytes_written, c.download_bytes_written) = (0, 0, 0);
        (effective_actions(&plan.entries), c)
    } else {
        let applied = apply(&plan, l, r, &settings()).unwrap_or_else(|e| panic!("{}: apply failed: {e:#}", s.key));
        (applied.actions, applied.counters)
    };
    let mut lines: Vec<String> = plan
        .entries
        .iter()
        .zip(&actions)
        .filter_map(|(e, a)| action_line(e, *a, s.mode))
        .filter(|l| l.min_level <= 4)
        .map(|l| l.render(s.dry_run, false))
        .collect();
    lines.sort();
    let remote_id = std::fs::canonicalize(&remote).unwrap().to_string_lossy().into_owned();
    let local_id = std::fs::canonicalize(&local).unwrap().to_string_lossy().into_owned();
    let observed = json!({
        "tree": {"local": fixture::read_tree(&local), "remote": fixture::read_tree(&remote)},
        "stats": serde_json::to_value(&counters).unwrap(),
        "lines": lines,
        "summary": summary_line(&counters, s.dry_run),
        "meta": read_metas(root, &remote_id, &local_id),
    });
    (observed, plan)
}

/// Flattens a result into comparable cells.
fn cells(doc: &Value, stat_keys: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for side in ["local", "remote"] {
        for (path, v) in doc["tree"][side].as_object().unwrap() {
            out.insert(format!("tree.{side}/{path}"), v.clone());
        }
    }
    for k in stat_keys {
        out.insert(format!("stats.{k}"), doc["stats"][k].clone());
    }
    for line in doc["lines"].as_array().unwrap() {
        out.insert(format!("line: {}", line.as_str().unwrap()), json!(true));
    }
    out.insert("summary".into(), doc["summary"].clone());
    fn leaves(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, v)| leaves(&format!("{prefix}/{k}"), v, out)),
            _ => {
                out.insert(prefix.to_string(), v.clone());
            }
        }
    }
    for (file, v) in doc["meta"].as_object().unwrap() {
        leaves(&format!("meta.{file}"), v, &mut out);
    }
    // The writer's own version naturally differs.
    out.retain(|k, _| !k.ends_with("/_version"));
    out
}

/// Cells whose values differ: cell → (pyftpsync, ftpsync), `null` for absent.
fn diff(expected: &Value, observed: &Value) -> BTreeMap<String, (Value, Value)> {
    let keys: Vec<String> = observed["stats"].as_object().unwrap().keys().cloned().collect();
    let (a, b) = (cells(expected, &keys), cells(observed, &keys));
    let mut out = BTreeMap::new();
    for k in a.keys().chain(b.keys()) {
        let (x, y) = (a.get(k).cloned().unwrap_or(Value::Null), b.get(k).cloned().unwrap_or(Value::Null));
        if x != y {
            out.insert(k.clone(), (x, y));
        }
    }
    out
}

/// Makes a plan comparable across runs: no times that depend on the clock, no temp paths.
fn normalise_plan(plan: &Plan, root: &Path) -> Value {
    let mut v = serde_json::to_value(plan).unwrap();
    let root = std::fs::canonicalize(root).unwrap().to_string_lossy().into_owned();
    fn walk(v: &mut Value, root: &str, key: &str, is_dir: bool) {
        match v {
            Value::Object(m) => {
                let dir = m.get("kind").and_then(Value::as_str) == Some("dir");
                for (k, child) in m.iter_mut() {
                    walk(child, root, k, dir);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, root, key, is_dir)),
            Value::String(s) if key == "created" || key == "meta_sha256" || (key == "version" && s.contains('.')) => {
                *s = format!("<{}>", key.to_uppercase());
            }
            Value::String(s) if s.contains(root) => *s = s.replace(root, "<ROOT>"),
            Value::Number(_) if key == "u" || (is_dir && (key == "mtime" || key == "listed_mtime")) => {
                *v = json!("<T>")
            }
            _ => {}
        }
    }
    walk(&mut v, &root, "", false);
    v
}

fn prepare(root: &Path, fixture_name: &str) {
    fixture::initial_local(root);
    if fixture_name == "no_meta" {
        fixture::copy_local_to_remote(root);
    } else {
        sync_fs(&root.join("local"), &root.join("remote"), PlanOptions::new(Mode::Sync));
    }
}

#[test]
fn pyftpsync_fixture_scenarios() {
    let scenarios = load_scenarios();
    assert!(scenarios.len() >= 25, "golden/pyftpsync holds {} scenarios", scenarios.len());
    let base = tempfile::tempdir().unwrap();
    for s in &scenarios {
        prepare(&base.path().join(&s.key), &s.fixture);
    }
    // Edits must be recognisably later than the sync that recorded the metadata (pyftpsync
    // compares times with a 2.01 s tolerance).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let diff_path = repo().join("golden/differences.json");
    let known: Value = serde_json::from_slice(&std::fs::read(&diff_path).unwrap_or_else(|_| b"{}".to_vec())).unwrap();
    let reasons = known["reasons"].as_object().cloned().unwrap_or_default();
    let mut new_diffs = Map::new();
    let mut failures = Vec::new();
    for s in &scenarios {
        let root = base.path().join(&s.key);
        fixture::apply_edits(&root, MODIFY);
        if s.fixture == "x" {
            fixture::apply_edits(&root, X_EDITS);
        }
        let (observed, plan) = observe(&root, s);
        crate::support::assert_schema_valid("plan", &serde_json::to_value(&plan).unwrap());
        // The plan.
        let plan_path = repo().join(format!("golden/plans/{}.json", s.key));
        let plan_now = serde_json::to_string_pretty(&normalise_plan(&plan, &root)).unwrap() + "\n";
        if update_golden() {
            std::fs::create_dir_all(plan_path.parent().unwrap()).unwrap();
            std::fs::write(&plan_path, &plan_now).unwrap();
        } else if std::fs::read_to_string(&plan_path).ok().as_deref() != Some(plan_now.as_str()) {
            failures.push(format!(
                "{}: plan differs from {} (UPDATE_GOLDEN=1 rewrites it; review the diff)",
                s.key,
                plan_path.display()
            ));
        }
        // The outcome against pyftpsync's.
        let listed = known["scenarios"][&s.key].as_object().cloned().unwrap_or_default();
        let mut scenario_diffs = Map::new();
        for (cell, (py, ours)) in diff(&s.expected, &observed) {
            let reason = listed.get(&cell).and_then(|c| c["reason"].as_str()).unwrap_or("UNEXPLAINED").to_string();
            let entry = listed.get(&cell);
            if entry.is_none_or(|e| e["pyftpsync"] != py || e["ftpsync"] != ours) {
                failures.push(format!(
                    "{}: {cell}: pyftpsync {py}, ftpsync {ours} (not listed in golden/differences.json)",
                    s.key
                ));
            } else if !reasons.contains_key(&reason) {
                failures
                    .push(format!("{}: {cell}: reason {reason:?} is not explained in golden/differences.json", s.key));
            }
            scenario_diffs.insert(cell, json!({"pyftpsync": py, "ftpsync": ours, "reason": reason}));
        }
        for cell in listed.keys() {
            if !scenario_diffs.contains_key(cell) {
                failures
                    .push(format!("{}: {cell}: listed as a difference but ftpsync now agrees with pyftpsync", s.key));
            }
        }
        if !scenario_diffs.is_empty() {
            new_diffs.insert(s.key.clone(), Value::Object(scenario_diffs));
        }
    }
    if update_golden() {
        let doc = json!({"reasons": reasons, "scenarios": new_diffs});
        std::fs::write(&diff_path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        failures.retain(|f| f.contains("UNEXPLAINED") || f.contains("is not explained"));
    }
    assert!(failures.is_empty(), "{} golden mismatch(es):\n{}", failures.len(), failures.join("\n"));
}
