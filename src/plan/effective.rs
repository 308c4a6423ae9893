//! What apply does with each entry of a plan: conflicts follow their resolution, entries
//! inside a whole-folder action follow that folder.

use std::collections::HashMap;

use crate::model::relpath::RelPath;
use crate::plan::document::{Action, PlanEntry, Reason};

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
