//! The counts of a plan's summary: what it changes, uploads, downloads and deletes, counted
//! as apply will do it.

use crate::model::Kind;
use crate::plan::document::{Action, PlanEntry, ScanCounts, Summary};
use crate::plan::effective::effective_actions;

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
            if e.resolution.chosen().is_none() {
                s.unresolved += 1;
            }
        }
        if !matches!(action, Action::Equal | Action::Skip) {
            s.changes += 1;
        }
    }
    s
}
