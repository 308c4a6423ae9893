//! The whole tree of a target as verify sees it: every file and folder with the size and the
//! modification time the planner would use (the metadata's `mtimes` applied), listed with
//! `--workers` connections ([`walk_folders`]).

use std::collections::BTreeMap;

use anyhow::Result;

use crate::backend::Target;
use crate::model::relpath::RelPath;
use crate::model::{Entry, Kind};
use crate::planner::filter::Filter;
use crate::scan::prefetch::{Folders, walk_folders};

/// Every entry below the root that passes `filter`, by path.
pub fn whole_tree(target: &mut dyn Target, filter: &Filter, workers: usize) -> Result<BTreeMap<RelPath, Entry>> {
    let mut found = BTreeMap::new();
    walk_folders(target, filter, workers, true, |folders| visit(folders, &RelPath::root(), &mut found))?;
    Ok(found)
}

fn visit(folders: &mut Folders, dir: &RelPath, found: &mut BTreeMap<RelPath, Entry>) -> Result<()> {
    crate::error::interrupt::check()?;
    let folder = folders.read(dir)?;
    for e in folder.entries {
        let path = dir.join(&e.entry.name)?;
        if e.entry.kind == Kind::Dir {
            visit(folders, &path, found)?;
        }
        found.insert(path, e.entry);
    }
    Ok(())
}
