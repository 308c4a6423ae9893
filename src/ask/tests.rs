//! The prompt's keys, decided on a scripted console (the terminal itself is tested through a
//! pseudo-terminal in `tests/integration/ask.rs`).

use std::collections::VecDeque;

use serde_json::json;

use super::*;
use crate::model::target::TargetKind;
use crate::plan::document::{Summary, TargetDesc};
use crate::plan::options::PlanOptions;

struct Script {
    answers: VecDeque<&'static str>,
    shown: Vec<String>,
}

impl Console for Script {
    fn ask(&mut self, prompt: &str) -> std::io::Result<Option<String>> {
        self.shown.push(prompt.to_string());
        Ok(self.answers.pop_front().map(String::from))
    }
    fn say(&mut self, line: &str) {
        self.shown.push(line.to_string());
    }
}

struct Same;

impl Compare for Same {
    fn compare(&mut self, _: &PlanEntry) -> Result<String> {
        Ok("    Files are equal.".into())
    }
}

/// A conflict on `path`: local and remote times (`None` = absent on that side).
fn conflict(path: &str, local: Option<f64>, remote: Option<f64>) -> PlanEntry {
    let state = |t: Option<f64>| t.map(|t| json!({"kind": "file", "size": 3, "mtime": t}));
    serde_json::from_value(json!({
        "path": path, "kind": "file", "local": state(local), "remote": state(remote),
        "record": {"m": 1.0, "s": 3, "u": 2.0},
        "classification": {"local": "modified", "remote": "modified"},
        "operation": "conflict", "action": "conflict", "reason": "both_modified",
        "reason_text": "modified on both sides", "resolution": null
    }))
    .unwrap()
}

fn plan(mode: Mode, entries: Vec<PlanEntry>) -> Plan {
    let desc = |url: &str| TargetDesc {
        kind: TargetKind::Local,
        url: url.into(),
        id: url.into(),
        display: url.into(),
        host_key: None,
    };
    Plan {
        format: "ftpsync-plan".into(),
        format_version: "1.0".into(),
        tool: crate::plan::tool(),
        created: "now".into(),
        mode,
        local: desc("/l"),
        remote: desc("/r"),
        options: PlanOptions::new(mode),
        summary: Summary::default(),
        folders: Vec::new(),
        entries,
    }
}

fn run(
    mode: Mode,
    entries: Vec<PlanEntry>,
    answers: &[&'static str],
) -> (Result<Vec<(usize, Resolution)>>, Vec<String>) {
    let mut script = Script { answers: answers.iter().copied().collect(), shown: Vec::new() };
    let result = ask_all(&plan(mode, entries), &mut script, &mut Same, false);
    (result, script.shown)
}

fn three() -> Vec<PlanEntry> {
    vec![
        conflict("a", Some(100.0), Some(200.0)),
        conflict("b", Some(300.0), Some(100.0)),
        conflict("c", Some(100.0), Some(200.0)),
    ]
}

#[test]
fn each_key_decides_its_conflict() {
    let (r, shown) = run(Mode::Sync, three(), &["l", "r", "s"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Local), (1, Resolution::Remote), (2, Resolution::Skip)]);
    assert_eq!(
        shown.iter().filter(|l| *l == "Use Local, Remote, Older, Newer, Skip, Binary compare, Help ? ").count(),
        3
    );
    assert!(shown.iter().any(|l| l.starts_with("CONFLICT: 'a' was modified on both targets")));
    // Older and newer follow the times: a is older locally, b newer locally.
    let (r, _) = run(Mode::Sync, three(), &["o", "o", "n"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Local), (1, Resolution::Remote), (2, Resolution::Remote)]);
}

#[test]
fn upper_case_decides_every_remaining_conflict() {
    let (r, shown) = run(Mode::Sync, three(), &["s", "N"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Skip), (1, Resolution::Local), (2, Resolution::Remote)]);
    assert_eq!(shown.iter().filter(|l| l.starts_with("Use ")).count(), 2, "the third is not asked");
    // "for all" by age cannot decide same-time files: that one is asked.
    let entries = vec![
        conflict("a", Some(1.0), Some(9.0)),
        conflict("b", Some(5.0), Some(5.5)),
        conflict("c", Some(9.0), Some(1.0)),
    ];
    let (r, shown) = run(Mode::Sync, entries, &["O", "r"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Local), (1, Resolution::Remote), (2, Resolution::Remote)]);
    assert!(shown.contains(&"Files have identical modification times.".to_string()));
}

#[test]
fn other_keys_ask_again() {
    let (r, shown) = run(Mode::Sync, vec![conflict("a", Some(1.0), Some(1.0))], &["x", "", "ll", "b", "h", "n", "l"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Local)]);
    assert_eq!(shown.iter().filter(|l| l.starts_with("Use ")).count(), 7);
    assert!(shown.contains(&"    Files are equal.".to_string()), "b compares");
    assert!(shown.contains(&"The following keys are supported:".to_string()), "h helps");
    assert!(shown.contains(&"Files have identical modification times.".to_string()), "n on same times");
}

#[test]
fn by_age_needs_both_sides() {
    let (r, shown) = run(Mode::Sync, vec![conflict("gone", Some(1.0), None)], &["n", "r"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Remote)]);
    assert!(shown.iter().any(|l| l.contains("Cannot resolve using 'new' strategy")), "{shown:?}");
    assert!(shown.contains(&"    Remote: n.a.".to_string()));
}

#[test]
fn upload_and_download_offer_their_own_keys() {
    let (r, shown) = run(Mode::Upload, three(), &["r", "o", "l", "S"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Local), (1, Resolution::Skip), (2, Resolution::Skip)]);
    assert!(shown.contains(&"Use Local, Skip, Binary compare, Help ? ".to_string()));
    let (r, shown) = run(Mode::Download, three(), &["l", "R"]);
    assert_eq!(r.unwrap(), [(0, Resolution::Remote), (1, Resolution::Remote), (2, Resolution::Remote)]);
    assert!(shown.contains(&"Use Remote, Skip, Binary compare, Help ? ".to_string()));
}

#[test]
fn end_of_input_aborts() {
    let (r, _) = run(Mode::Sync, three(), &["l"]);
    let err = r.unwrap_err();
    assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Aborted);
}

#[test]
fn only_open_conflicts_are_asked_and_answers_are_recorded() {
    let mut decided = conflict("a", Some(1.0), Some(9.0));
    decided.resolution = ResolutionChoice::Chosen(Resolution::Skip);
    let mut p = plan(Mode::Sync, vec![decided, conflict("b", Some(1.0), Some(9.0))]);
    let mut script = Script { answers: ["r"].into_iter().collect(), shown: Vec::new() };
    let answers = ask_all(&p, &mut script, &mut Same, false).unwrap();
    assert_eq!(answers, [(1, Resolution::Remote)]);
    record(&mut p, &answers);
    assert_eq!(p.entries[1].resolution, ResolutionChoice::Chosen(Resolution::Remote));
    assert_eq!((p.summary.conflicts, p.summary.unresolved, p.summary.changes), (2, 0, 1));
}

#[test]
fn byte_compare_finds_the_first_difference() {
    let diff = |a: &[u8], b: &[u8]| describe::first_difference(&mut &a[..], &mut &b[..]).unwrap();
    assert_eq!(diff(b"same", b"same"), None);
    assert_eq!(diff(b"abcX", b"abcY"), Some(3));
    assert_eq!(diff(b"abc", b"abcd"), Some(3));
    let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut other = big.clone();
    other[70_000] ^= 1;
    assert_eq!(diff(&big, &other), Some(70_000));
}
