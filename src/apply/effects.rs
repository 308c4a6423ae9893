//! Which metadata documents (side, folder) an action changes, so apply knows when a folder's
//! metadata is complete and can be written.

use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, PlanEntry};

/// The metadata documents an action changes, as (side, folder).
pub(crate) fn meta_effects(
    e: &PlanEntry,
    action: Action,
    local_mtimes: bool,
    remote_mtimes: bool,
) -> Vec<(Side, RelPath)> {
    let folder = e.path.parent();
    let top = e.part_of.is_none();
    let mut out = Vec::new();
    match action {
        Action::Upload | Action::Download | Action::Record | Action::Forget => out.push((Side::Local, folder.clone())),
        Action::DeleteLocal | Action::DeleteRemote if top => out.push((Side::Local, folder.clone())),
        _ => {}
    }
    // The remote copy of the local records changes with them.
    if copies_records_to_remote(remote_mtimes) && !out.is_empty() {
        out.push((Side::Remote, folder.clone()));
    }
    let file = e.kind == Kind::File;
    match action {
        Action::Upload if file && remote_mtimes => out.push((Side::Remote, folder)),
        Action::DeleteRemote if top && remote_mtimes => out.push((Side::Remote, folder)),
        Action::Download if file && local_mtimes => out.push((Side::Local, folder)),
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// Whether the remote keeps a copy of the local records (see [`super::metastore`]): a remote that
/// sets its own modification times, where no `mtimes` records could prove a file unchanged.
pub(crate) fn copies_records_to_remote(remote_mtimes: bool) -> bool {
    !remote_mtimes
}
