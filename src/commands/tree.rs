//! `ftpsync tree TARGET`: the folder structure of one target (a folder or an FTP URL), in
//! pyftpsync's layout; with `--files` also the files, with time and size. Read-only.

use anyhow::Result;

use super::targets::{open, root_path};
use crate::error::{Exit, ExitError};
use crate::model::relpath::RelPath;
use crate::model::{Clock, Kind, SystemClock};
use crate::output::Printer;
use crate::output::listing::{summary, tree_line, tree_prefix};
use crate::planner::filter::Filter;
use crate::scan::browse::note_skipped;
use crate::scan::prefetch::{Folders, walk_folders};
use crate::settings::{Global, TreeSettings};

/// Files and folders shown so far (the root counts as a folder, as in pyftpsync).
struct Counts {
    files: u64,
    dirs: u64,
}

pub fn run(s: &TreeSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, false);
    let filter = Filter::new(&s.matches, &s.exclude).map_err(|e| ExitError::usage(format!("{e:#}")))?;
    let started = SystemClock.now();
    let mut target = open(&s.target, &s.conn, &printer, false)?;
    let root = root_path(target.info());
    printer.data(&format!("[{root}]"));
    let mut counts = Counts { files: 0, dirs: 1 };
    walk_folders(&mut *target, &filter, s.conn.workers, true, |folders| {
        let mut walk = Walk { folders, root: &root, s, printer: &printer, counts: &mut counts };
        walk.show_folder(&RelPath::root(), &mut Vec::new())
    })?;
    target.close()?;
    printer.data(&summary(counts.files, counts.dirs, SystemClock.now() - started));
    Ok(Exit::Success)
}

/// The walk's state.
struct Walk<'a, 'f> {
    folders: &'a mut Folders<'f>,
    /// The target's root as shown.
    root: &'a str,
    s: &'a TreeSettings,
    printer: &'a Printer,
    counts: &'a mut Counts,
}

impl Walk<'_, '_> {
    /// Prints the entries of `dir` and, depth-first, of its sub-folders. `ancestors_last` says,
    /// per ancestor below the root, whether it was the last of its siblings.
    fn show_folder(&mut self, dir: &RelPath, ancestors_last: &mut Vec<bool>) -> Result<()> {
        let folder = self.folders.read(dir)?;
        note_skipped(self.printer, self.root, dir, &folder);
        let mut entries = folder.entries;
        entries.retain(|e| self.s.files || e.entry.kind == Kind::Dir);
        if self.s.sort {
            entries.sort_by_cached_key(|e| (e.entry.kind == Kind::Dir, e.entry.name.to_lowercase()));
        }
        let count = entries.len();
        for (i, e) in entries.iter().enumerate() {
            let is_last = i + 1 == count;
            self.printer.data(&tree_line(&tree_prefix(ancestors_last, is_last), e));
            if e.entry.kind == Kind::Dir {
                self.counts.dirs += 1;
                ancestors_last.push(is_last);
                self.show_folder(&dir.join(&e.entry.name)?, ancestors_last)?;
                ancestors_last.pop();
            } else {
                self.counts.files += 1;
            }
        }
        Ok(())
    }
}
