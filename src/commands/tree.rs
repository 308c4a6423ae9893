//! `ftpsync tree TARGET`: the folder structure of one target (a folder or an FTP URL), in
//! pyftpsync's layout; with `--files` also the files, with time and size. Read-only.

use anyhow::Result;

use super::targets::{open, root_path};
use crate::backend::Target;
use crate::error::{Exit, ExitError};
use crate::model::relpath::RelPath;
use crate::model::{Clock, Kind, SystemClock};
use crate::output::Printer;
use crate::output::listing::{summary, tree_line, tree_prefix};
use crate::planner::filter::Filter;
use crate::scan::browse::{note_skipped, read_folder};
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
    printer.data(&format!("[{}]", root_path(target.info())));
    let mut counts = Counts { files: 0, dirs: 1 };
    show_folder(&mut *target, &RelPath::root(), &mut Vec::new(), s, &filter, &printer, &mut counts)?;
    target.close()?;
    printer.data(&summary(counts.files, counts.dirs, SystemClock.now() - started));
    Ok(Exit::Success)
}

/// Prints the entries of `dir` and, depth-first, of its sub-folders. `ancestors_last` says,
/// per ancestor below the root, whether it was the last of its siblings.
fn show_folder(
    target: &mut dyn Target,
    dir: &RelPath,
    ancestors_last: &mut Vec<bool>,
    s: &TreeSettings,
    filter: &Filter,
    printer: &Printer,
    counts: &mut Counts,
) -> Result<()> {
    let folder = read_folder(target, dir, filter)?;
    note_skipped(printer, &root_path(target.info()), dir, &folder);
    let mut entries = folder.entries;
    entries.retain(|e| s.files || e.entry.kind == Kind::Dir);
    if s.sort {
        entries.sort_by_cached_key(|e| (e.entry.kind == Kind::Dir, e.entry.name.to_lowercase()));
    }
    let count = entries.len();
    for (i, e) in entries.iter().enumerate() {
        let is_last = i + 1 == count;
        printer.data(&tree_line(&tree_prefix(ancestors_last, is_last), e));
        if e.entry.kind == Kind::Dir {
            counts.dirs += 1;
            ancestors_last.push(is_last);
            show_folder(target, &dir.join(&e.entry.name)?, ancestors_last, s, filter, printer, counts)?;
            ancestors_last.pop();
        } else {
            counts.files += 1;
        }
    }
    Ok(())
}
