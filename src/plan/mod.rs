//! The plan: its model, how it is assembled and summarised, and how it is stored.

pub mod document;
pub mod io;
pub mod options;
pub mod written;

use std::collections::HashMap;

use anyhow::Result;

use self::document::{Action, FORMAT, FORMAT_MAJOR, FORMAT_MINOR, Plan, PlanEntry, Reason, Summary, TargetDesc, Tool};
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::target::TargetInfo;
use crate::planner::{Built, PlanContext, ScanCounts};

/// The tool's name and version, as recorded in plans and metadata.
pub fn tool() -> Tool {
    Tool { name: "ftpsync".into(), version: env!("CARGO_PKG_VERSION").into() }
}

fn describe(info: &TargetInfo) -> TargetDesc {
    TargetDesc { kind: info.kind, url: info.url.clone(), id: info.id.clone(), display: info.display.clone() }
}

/// Assembles a plan from the planner's output.
pub fn assemble(ctx: &PlanContext, built: Built, created: String) -> Plan {
    let mut plan = Plan {
        format: FORMAT.into(),
        format_version: format!("{FORMAT_MAJOR}.{FORMAT_MINOR}"),
        tool: tool(),
        created,
        mode: ctx.options.mode,
        local: describe(&ctx.local),
        remote: describe(&ctx.remote),
        options: ctx.options.clone(),
        summary: Summary::default(),
        folders: built.folders,
        entries: built.entries,
    };
    plan.summary = summarize(&plan.entries, built.scan);
    plan
}

/// What a child of a whole-folder action does, given what its folder does.
pub fn child_action(root: Action, child: &PlanEntry) -> Action {
    let included = child.reason != Reason::Unmatched;
    match root {
        // Records of names gone from a folder that is copied from the local side.
        Action::Upload if child.action == Action::Forget => Action::Forget,
        Action::Upload if included && child.local.is_some() => Action::Upload,
        Action::Download if included && child.remote.is_some() => Action::Download,
        Action::DeleteLocal if child.local.is_some() => Action::DeleteLocal,
        Action::DeleteRemote if child.remote.is_some() => Action::DeleteRemote,
        _ => Action::Skip,
    }
}

/// The action apply performs for each entry: conflicts follow their resolution, and entries
/// inside a whole-folder action follow that folder (so editing a folder conflict's resolution
/// changes its contents too).
pub fn effective_actions(entries: &[PlanEntry]) -> Vec<Action> {
    let index: HashMap<&RelPath, usize> = entries.iter().enumerate().map(|(i, e)| (&e.path, i)).collect();
    entries
        .iter()
        .map(|e| match &e.part_of {
            None => e.effective_action(),
            Some(root) => match index.get(root) {
                Some(&i) => child_action(entries[i].effective_action(), e),
                None => Action::Skip,
            },
        })
        .collect()
}

/// Counts for the plan's summary.
pub fn summarize(entries: &[PlanEntry], scan: ScanCounts) -> Summary {
    let mut s = Summary { scan, ..Summary::default() };
    for (e, action) in entries.iter().zip(effective_actions(entries)) {
        *s.actions.entry(action).or_default() += 1;
        let file = e.kind == Kind::File;
        match action {
            Action::Upload if file => {
                s.upload_files += 1;
                s.upload_bytes += e.local.as_ref().map_or(0, |l| l.size);
            }
            Action::Download if file => {
                s.download_files += 1;
                s.download_bytes += e.remote.as_ref().map_or(0, |r| r.size);
            }
            Action::DeleteLocal => s.delete_local += 1,
            Action::DeleteRemote => s.delete_remote += 1,
            _ => {}
        }
        if e.action == Action::Conflict && e.part_of.is_none() {
            s.conflicts += 1;
            if e.resolution.flatten().is_none() {
                s.unresolved += 1;
            }
        }
        if !matches!(action, Action::Equal | Action::Skip) {
            s.changes += 1;
        }
    }
    s
}

/// Plans are files; this is the result of reading one.
pub struct Loaded {
    pub plan: Plan,
    /// sha256 over the canonical encoding (the same for the JSON and MessagePack forms).
    pub digest: String,
}

/// Reads a plan from disk (JSON or MessagePack), checking everything apply relies on.
pub fn load(path: &std::path::Path) -> Result<Loaded, io::PlanError> {
    let bytes = std::fs::read(path).map_err(|e| io::PlanError::new(format!("cannot read {}: {e}", path.display())))?;
    io::decode(&bytes)
}
