//! Reading the folders of one target for `scan` and `tree`: the filtered entries with the
//! modification times the metadata gives (as the planner sees them), and the metadata and lock
//! files found. Read-only.

use anyhow::Result;

use crate::backend::Target;
use crate::model::relpath::RelPath;
use crate::model::{Entry, Skipped};
use crate::output::Printer;
use crate::planner::filter::Filter;
use crate::planner::pairs::{SideEntry, effective_entries};
use crate::planner::snapshot::MetaFile;
use crate::scan::read_side;

/// One folder of a target.
#[derive(Clone, Debug)]
pub struct Folder {
    /// Files and folders that pass the filter, by name.
    pub entries: Vec<SideEntry>,
    /// The folder has a `.pyftpsync-meta.json`.
    pub has_meta: bool,
    /// The folder's `.pyftpsync-lock.json`, if any.
    pub lock: Option<Entry>,
    /// Entries that cannot be synchronised (links, special files, bad names).
    pub skipped: Vec<Skipped>,
}

/// Lists `dir` and applies its metadata and the filter.
pub fn read_folder(target: &mut dyn Target, dir: &RelPath, filter: &Filter) -> Result<Folder> {
    crate::error::interrupt::check()?;
    let side = read_side(target, dir)?;
    let (entries, _) = effective_entries(&side);
    let entries = entries.into_iter().filter(|e| filter.passes(&e.entry.name, e.entry.kind)).collect();
    Ok(Folder { entries, has_meta: side.meta != MetaFile::Absent, lock: side.lock, skipped: side.skipped })
}

/// Mentions (at `-v`) the entries of `dir` that were left out because they cannot be synchronised.
pub fn note_skipped(printer: &Printer, root: &str, dir: &RelPath, folder: &Folder) {
    for s in &folder.skipped {
        printer.note(4, &format!("Skipped {}/{}: {}", full_path(root, dir).trim_end_matches('/'), s.name, s.reason));
    }
}

/// The path of `rel` below a target root shown as `root` (a local path or an FTP folder).
pub fn full_path(root: &str, rel: &RelPath) -> String {
    if rel.is_root() { root.to_string() } else { format!("{}/{}", root.trim_end_matches('/'), rel.as_str()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_paths() {
        let rel = RelPath::parse("a/.pyftpsync-meta.json").unwrap();
        assert_eq!(full_path("/srv/site", &rel), "/srv/site/a/.pyftpsync-meta.json");
        assert_eq!(full_path("/", &rel), "/a/.pyftpsync-meta.json");
        assert_eq!(full_path("/srv", &RelPath::root()), "/srv");
    }
}
