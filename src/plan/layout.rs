//! Where the entries of a plan live on each side: actual paths (the spelling may differ per
//! side with `--case`), folders, and which folders apply must look at.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Folder, Plan, PlanEntry};

/// Maps canonical plan paths to the paths on each side.
pub struct Layout<'a> {
    folders: BTreeMap<&'a RelPath, &'a Folder>,
}

impl<'a> Layout<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        Layout { folders: plan.folders.iter().map(|f| (&f.path, f)).collect() }
    }

    pub fn folder(&self, path: &RelPath) -> Option<&'a Folder> {
        self.folders.get(path).copied()
    }

    /// The actual path of a folder on one side (its canonical path unless `--case` renamed it).
    pub fn folder_path(&self, path: &RelPath, side: Side) -> RelPath {
        let actual = self.folder(path).and_then(|f| match side {
            Side::Local => f.local.as_ref(),
            Side::Remote => f.remote.as_ref(),
        });
        match actual.and_then(|s| s.actual_path.clone()) {
            Some(p) => p,
            // A folder the plan creates: its parent's actual path plus its name.
            None if !path.is_root() && self.folder(path).is_none() => {
                self.folder_path(&path.parent(), side).join_unchecked(path.name())
            }
            None => path.clone(),
        }
    }

    /// The actual path of an entry on one side.
    pub fn entry_path(&self, e: &PlanEntry, side: Side) -> RelPath {
        let name = match side {
            Side::Local => e.local_name.as_deref(),
            Side::Remote => e.remote_name.as_deref(),
        }
        .unwrap_or_else(|| e.path.name());
        self.folder_path(&e.path.parent(), side).join_unchecked(name)
    }
}

/// The name of an entry on one side.
pub fn side_name(e: &PlanEntry, side: Side) -> &str {
    match side {
        Side::Local => e.local_name.as_deref(),
        Side::Remote => e.remote_name.as_deref(),
    }
    .unwrap_or_else(|| e.path.name())
}

/// Folders that contain an entry apply changes, and folders apply deletes (they are listed
/// and checked before anything is done).
pub fn touched_folders(plan: &Plan, actions: &[crate::plan::document::Action]) -> BTreeSet<RelPath> {
    use crate::plan::document::Action;
    let mut out = BTreeSet::new();
    for (e, a) in plan.entries.iter().zip(actions) {
        if matches!(a, Action::Equal | Action::Skip) {
            continue;
        }
        out.insert(e.path.parent());
        if e.kind == crate::model::Kind::Dir && matches!(a, Action::DeleteLocal | Action::DeleteRemote) {
            out.insert(e.path.clone());
        }
    }
    out
}
