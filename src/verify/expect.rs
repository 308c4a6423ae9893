//! What should be on the remote side after an apply: from its report (the files it wrote, with
//! their sha256, and what it deleted) or from its plan (every entry's state after the apply;
//! content only where the plan pinned it with `--checksum`).

use anyhow::{Context, Result, bail};

use super::State;
use crate::apply::outcome::Status as Done;
use crate::apply::report::{REPORT_FORMAT, Report};
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, EntryState, Plan, TargetDesc};
use crate::plan::effective::effective_actions;
use crate::plan::layout::Layout;

/// The expected remote side: each path that a report or plan says something about, and what
/// should be there (`None`: nothing).
pub struct Expected {
    /// `report` or `plan`.
    pub against: &'static str,
    pub remote: TargetDesc,
    pub entries: Vec<(RelPath, Option<State>)>,
    /// Remarks for people (entries that could not be used, an older report format...).
    pub notes: Vec<String>,
}

/// Reads a report or a plan file (told apart by its `format`).
pub fn load(path: &std::path::Path) -> Result<Expected> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_string));
    if format.as_deref() == Some(REPORT_FORMAT) {
        let report: Report = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a report ftpsync can read", path.display()))?;
        if !report.format_version.starts_with("1.") {
            bail!("{}: report format {} is not supported (1.x is)", path.display(), report.format_version);
        }
        return Ok(from_report(&report));
    }
    let loaded = crate::plan::io::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(from_plan(&loaded.plan))
}

/// What a report proves should be on the remote side: the files it uploaded (size, time,
/// sha256 since format 1.2) and the entries it deleted there. Entries not done say nothing.
pub fn from_report(report: &Report) -> Expected {
    let mut entries = Vec::new();
    let mut without_content = 0;
    for e in report.entries.iter().filter(|e| e.outcome.status == Done::Done) {
        match (e.action, e.kind) {
            (Action::Upload, Kind::File) => match &e.content {
                Some(c) => entries.push((
                    e.path.clone(),
                    Some(State {
                        kind: Kind::File,
                        size: Some(c.size),
                        mtime: Some(c.mtime),
                        sha256: Some(c.sha256.clone()),
                    }),
                )),
                None => without_content += 1,
            },
            (Action::Upload, Kind::Dir) => {
                entries.push((e.path.clone(), Some(State { kind: Kind::Dir, size: None, mtime: None, sha256: None })))
            }
            (Action::DeleteRemote, _) => entries.push((e.path.clone(), None)),
            _ => {}
        }
    }
    let mut notes = Vec::new();
    if without_content > 0 {
        notes.push(format!(
            "{without_content} uploaded file(s) in the report have no recorded content (report format {}, before 1.2): not checked; verify the plan instead",
            report.format_version
        ));
    }
    Expected { against: "report", remote: report.remote.clone(), entries, notes }
}

/// What a plan says the remote side holds once applied: uploads as their local source (with
/// the sha256 `--checksum` pinned), deletions gone, everything else as it was planned.
pub fn from_plan(plan: &Plan) -> Expected {
    let layout = Layout::new(plan);
    let actions = effective_actions(&plan.entries);
    let entries = plan
        .entries
        .iter()
        .zip(&actions)
        .map(|(e, a)| {
            let path = layout.entry_path(e, Side::Remote);
            let after = match a {
                Action::Upload => e.local.as_ref().map(|s| state(s, e.sha256.clone())),
                Action::DeleteRemote => None,
                _ => e.remote.as_ref().map(|s| state(s, None)),
            };
            (path, after)
        })
        .collect();
    Expected { against: "plan", remote: plan.remote.clone(), entries, notes: Vec::new() }
}

fn state(s: &EntryState, sha256: Option<String>) -> State {
    match s.kind {
        Kind::Dir => State { kind: Kind::Dir, size: None, mtime: None, sha256: None },
        Kind::File => State { kind: Kind::File, size: Some(s.size), mtime: Some(s.mtime), sha256 },
    }
}
