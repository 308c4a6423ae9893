//! Where a staged apply puts things before its commit, and the renames its commit makes (a
//! pure function of the plan).
//!
//! On the side an entry is copied to, a file is written under a temporary name next to its
//! final one (`.ftpsync-tmp-PID-sN`); a new folder is created under one (`…-sN`) with its
//! whole content inside, under final names, since nothing in it is visible. Entries that are
//! replaced or deleted move aside at commit (`…-bN`), to be removed once the commit is complete
//! or renamed back if it is undone. Metadata files are staged the same way once their content
//! is known (`…-mN.pyftpsync-meta.json`: the name says what it is to people and to the progress
//! bar).

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::commit::journal::Step;
use crate::meta::META_FILE;
use crate::model::Kind;
use crate::model::listing::TEMP_PREFIX;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, Plan, PlanEntry};
use crate::plan::layout::Layout;

/// Where one entry's new version goes while staging, and what the commit does with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staged {
    /// The side that changes.
    pub side: Side,
    /// Where the entry is written (a file) or created (a folder) now: a temporary name, or a
    /// final name inside a staged folder. `None` for a deletion.
    pub write_at: Option<RelPath>,
    /// The commit's renames for this entry (none for content of a staged folder).
    pub steps: Vec<Step>,
}

/// Temporary names, numbered in plan order so that a plan always stages the same way.
pub struct Names {
    pid: u32,
    next: usize,
}

impl Names {
    pub fn new(pid: u32) -> Names {
        Names { pid, next: 0 }
    }

    fn next(&mut self, folder: &RelPath, kind: char, suffix: &str) -> RelPath {
        let n = self.next;
        self.next += 1;
        folder.join_unchecked(&format!("{TEMP_PREFIX}{}-{kind}{n}{suffix}", self.pid))
    }

    /// Names that go on where these stop (for what is staged later in the same run).
    pub fn after(&self) -> Names {
        Names { pid: self.pid, next: self.next }
    }

    pub fn staged(&mut self, folder: &RelPath) -> RelPath {
        self.next(folder, 's', "")
    }

    pub fn backup(&mut self, folder: &RelPath) -> RelPath {
        self.next(folder, 'b', "")
    }

    pub fn metadata(&mut self, folder: &RelPath) -> RelPath {
        self.next(folder, 'm', &format!(".{}", META_FILE.trim_start_matches('.')))
    }
}

/// The staging of a whole plan.
pub struct Staging {
    /// Per side (local, remote): new folders created under a temporary name (final actual
    /// path → staged one).
    folders: [BTreeMap<RelPath, RelPath>; 2],
    /// Per plan entry that changes something on a side.
    pub entries: BTreeMap<usize, Staged>,
    pub names: Names,
    /// Per side (local, remote): whether folders can be renamed there.
    renames_folders: [bool; 2],
}

fn index(side: Side) -> usize {
    match side {
        Side::Local => 0,
        Side::Remote => 1,
    }
}

fn destination(action: Action) -> Option<Side> {
    match action {
        Action::Upload | Action::DeleteRemote => Some(Side::Remote),
        Action::Download | Action::DeleteLocal => Some(Side::Local),
        _ => None,
    }
}

impl Staging {
    /// Plans the staging of `plan` with its effective `actions`.
    /// `renames_folders` says, per side (local, remote), whether folders can be renamed there;
    /// where not, new folders are made under their final names while staging (empty until the
    /// commit puts their content in place) and a deleted folder's files move aside one by one.
    pub fn new(
        plan: &Plan,
        actions: &[Action],
        layout: &Layout<'_>,
        pid: u32,
        renames_folders: [bool; 2],
    ) -> Result<Staging> {
        let mut staging =
            Staging { folders: Default::default(), entries: BTreeMap::new(), names: Names::new(pid), renames_folders };
        // Shallowest first, so a folder's own staging is known before its content's.
        let mut order: Vec<usize> = (0..plan.entries.len()).collect();
        order.sort_by_key(|&i| (plan.entries[i].path.depth(), i));
        for i in order {
            let (e, action) = (&plan.entries[i], actions[i]);
            let Some(side) = destination(action) else { continue };
            let at = layout.entry_path(e, side);
            if let Some(staged) = staging.stage(e, action, side, at)? {
                staging.entries.insert(i, staged);
            }
        }
        Ok(staging)
    }

    fn stage(&mut self, e: &PlanEntry, action: Action, side: Side, at: RelPath) -> Result<Option<Staged>> {
        let found = e.state(side);
        let copies = matches!(action, Action::Upload | Action::Download);
        let inside = self.physical(side, &at);
        if inside != at {
            // In a folder that is new on this side: written under its final name there, and
            // visible with the folder. (Deleting there cannot happen: the folder is new.)
            return Ok(copies.then(|| Staged { side, write_at: Some(inside), steps: Vec::new() }));
        }
        let folder = at.parent();
        let renames_folders = self.renames_folders[index(side)];
        let mut steps = Vec::new();
        let kind_found = found.map_or(e.kind, |s| s.kind);
        if copies && e.kind == Kind::Dir && !renames_folders {
            if found.is_some() {
                bail!(
                    "{at} is replaced by a folder, on a side that cannot rename folders: apply this plan with --no-stage"
                );
            }
            // Made now, under its final name; its content is staged inside it.
            return Ok(Some(Staged {
                side,
                write_at: Some(at.clone()),
                steps: vec![Step::Made { path: at, kind: Kind::Dir }],
            }));
        }
        if !copies && kind_found == Kind::Dir && !renames_folders {
            // Deleted: its files move aside one by one (their own entries), the folder goes
            // once the commit is complete.
            return Ok(e.part_of.is_none().then(|| Staged {
                side,
                write_at: None,
                steps: vec![Step::Drop { path: at, kind: Kind::Dir }],
            }));
        }
        if !copies && e.part_of.is_some() && renames_folders {
            // A deletion inside a folder that is deleted goes with the folder.
            return Ok(None);
        }
        if found.is_some() {
            let backup = self.names.backup(&folder);
            steps.push(Step::Aside { path: at.clone(), backup, kind: kind_found });
        }
        let write_at = if copies {
            let staged = self.names.staged(&folder);
            if e.kind == Kind::Dir {
                self.folders[index(side)].insert(at.clone(), staged.clone());
            }
            steps.push(Step::Place { staged: staged.clone(), path: at, kind: e.kind });
            Some(staged)
        } else {
            None
        };
        Ok(Some(Staged { side, write_at, steps }))
    }

    /// Where an entry at the actual path `at` is while staging: inside a staged folder, or
    /// where it is.
    pub fn physical(&self, side: Side, at: &RelPath) -> RelPath {
        let staged_ancestor =
            self.folders[index(side)].range(..=at.clone()).rev().find(|(folder, _)| at.starts_with(folder));
        match staged_ancestor {
            Some((folder, staged)) => {
                let rest = &at.as_str()[folder.as_str().len()..];
                RelPath::parse(&format!("{}{rest}", staged.as_str())).expect("a staged path is valid")
            }
            None => at.clone(),
        }
    }

    /// Whether a folder's actual path is inside (or is) a folder staged on `side`.
    pub fn is_staged_folder_content(&self, side: Side, folder: &RelPath) -> bool {
        self.physical(side, folder) != *folder
    }

    /// Every rename of the commit on one side, in plan order (the journal sorts them).
    pub fn steps(&self, side: Side) -> Vec<Step> {
        self.entries.values().filter(|s| s.side == side).flat_map(|s| s.steps.iter().cloned()).collect()
    }
}
