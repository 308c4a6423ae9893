//! Temporary files of interrupted runs: a run killed mid-transfer (`kill -9`, a power cut)
//! leaves its `.ftpsync-tmp-*` files behind. The scan records them per folder (the plan's
//! `temporary` names), apply's check finds local ones in the folders it lists again, and apply
//! removes those of runs that are gone before it changes anything else: on the remote once its
//! lock is ours (no other run applies there then), in a local folder when the process named in
//! the file no longer runs (see `Target::remove_stale_temporary`). A plan only records them:
//! planning changes nothing.

use std::collections::BTreeSet;

use anyhow::Result;

use super::check::Fresh;
use super::workers::Worker;
use crate::backend::is_lock_lost;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::Plan;
use crate::plan::layout::Layout;

/// How many temporary files the plan recorded, on both sides.
pub fn recorded(plan: &Plan) -> usize {
    plan.folders.iter().flat_map(|f| [&f.local, &f.remote]).flatten().map(|s| s.temporary.len()).sum()
}

/// The temporary files of one side that the plan recorded or the check found, as paths on
/// that side.
fn paths(plan: &Plan, layout: &Layout<'_>, fresh: &Fresh, side: Side) -> BTreeSet<RelPath> {
    let mut out = BTreeSet::new();
    // The check's listings of the local side too; on the remote, a folder may belong to a
    // nested root of another run (the planner leaves those out, knowing the locks it listed).
    for ((s, folder), sd) in &fresh.dirs {
        if *s == side && side == Side::Local {
            let folder = layout.folder_path(folder, side);
            out.extend(sd.temporary.iter().map(|name| folder.join_unchecked(name)));
        }
    }
    for f in &plan.folders {
        let Some(fs) = (match side {
            Side::Local => &f.local,
            Side::Remote => &f.remote,
        }) else {
            continue;
        };
        let folder = layout.folder_path(&f.path, side);
        out.extend(fs.temporary.iter().map(|name| folder.join_unchecked(name)));
    }
    out
}

/// Removes the recorded temporary files of runs that are gone, on both sides, with the
/// connections of `w` (whose remote holds the lock); returns remarks for the user. A file that
/// cannot be removed is named and left: it is no content, and the run goes on.
pub fn remove(plan: &Plan, layout: &Layout<'_>, fresh: &Fresh, w: &mut Worker<'_>) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let (local, remote) = (paths(plan, layout, fresh, Side::Local), paths(plan, layout, fresh, Side::Remote));
    if local.is_empty() && remote.is_empty() {
        return Ok(notes);
    }
    // Our lock's last look comes first: a run that lost the lock removes nothing.
    w.remote.settle_lock()?;
    for (side, list) in [(Side::Local, local), (Side::Remote, remote)] {
        let target = w.side(side);
        let mut removed = 0;
        for path in &list {
            match target.remove_stale_temporary(path) {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) if is_lock_lost(&e) => return Err(e),
                Err(e) => {
                    notes.push(format!("Could not remove the temporary file {path} of an interrupted run: {e:#}"))
                }
            }
        }
        if removed > 0 {
            let where_ = if side == Side::Local { "local" } else { "remote" };
            notes.push(format!("Removed {removed} temporary file(s) of an interrupted run ({where_})."));
        }
    }
    Ok(notes)
}
