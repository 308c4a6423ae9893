//! `ftpsync scan TARGET`: counts (and with `--list` lists) the files and folders of one target;
//! `--remove-meta` and `--remove-locks` remove the metadata and lock files found, for real
//! (pyftpsync only prints them). Nothing else is changed.

use anyhow::Result;

use super::targets::{open, root_path};
use crate::backend::Target;
use crate::error::{Exit, ExitError};
use crate::meta::{LOCK_FILE, META_FILE};
use crate::model::relpath::RelPath;
use crate::model::{Clock, Kind, SystemClock};
use crate::output::Printer;
use crate::output::listing::{scan_line, summary};
use crate::planner::filter::Filter;
use crate::scan::browse::{Folder, full_path, note_skipped};
use crate::scan::prefetch::{Folders, walk_folders};
use crate::settings::{Global, ScanSettings};

/// The walk's state: settings, what was seen and what was removed.
struct Scan<'a> {
    s: &'a ScanSettings,
    printer: Printer,
    root: String,
    files: u64,
    dirs: u64,
    metas_removed: u64,
    locks_removed: u64,
}

pub fn run(s: &ScanSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, false);
    let filter = Filter::new(&s.matches, &s.exclude).map_err(|e| ExitError::usage(format!("{e:#}")))?;
    let started = SystemClock.now();
    let mut target = open(&s.target, &s.conn, &printer, false)?;
    if s.remove_meta && !s.remove_locks && !s.dry_run {
        // Removing the sync state while another run uses it would confuse that run.
        for remark in target.lock(s.conn.break_lock)? {
            printer.note(1, &remark);
        }
    }
    let root = root_path(target.info());
    let mut scan = Scan { s, printer, root, files: 0, dirs: 1, metas_removed: 0, locks_removed: 0 };
    walk_folders(&mut *target, &filter, s.conn.workers, s.recursive, |folders| {
        scan.visit(folders, &RelPath::root(), 0)
    })?;
    target.close()?;
    scan.report_removals();
    scan.printer.data(&summary(scan.files, scan.dirs, SystemClock.now() - started));
    Ok(Exit::Success)
}

impl Scan<'_> {
    fn visit(&mut self, folders: &mut Folders, dir: &RelPath, depth: usize) -> Result<()> {
        let folder = folders.read(dir)?;
        note_skipped(&self.printer, &self.root, dir, &folder);
        self.remove_special_files(folders.target(), dir, &folder)?;
        for e in &folder.entries {
            if self.s.list {
                self.printer.data(&scan_line(depth, e));
            }
            if e.entry.kind == Kind::Dir {
                self.dirs += 1;
                if self.s.recursive {
                    self.visit(folders, &dir.join(&e.entry.name)?, depth + 1)?;
                }
            } else {
                self.files += 1;
            }
        }
        Ok(())
    }

    /// `--remove-meta`, `--remove-locks`: one `DELETE path` line per file, removed unless
    /// `--dry-run`.
    fn remove_special_files(&mut self, target: &mut dyn Target, dir: &RelPath, folder: &Folder) -> Result<()> {
        let wanted = [
            (self.s.remove_meta && folder.has_meta, META_FILE),
            (self.s.remove_locks && folder.lock.is_some(), LOCK_FILE),
        ];
        for (_, name) in wanted.into_iter().filter(|(remove, _)| *remove) {
            let path = dir.join(name)?;
            let dry = if self.s.dry_run { "(DRY-RUN) " } else { "" };
            self.printer.data(&format!("{dry}DELETE {}", full_path(&self.root, &path)));
            if !self.s.dry_run {
                target.remove_file(&path)?;
            }
            if name == META_FILE { self.metas_removed += 1 } else { self.locks_removed += 1 }
        }
        Ok(())
    }

    fn report_removals(&self) {
        let (s, metas, locks) = (self.s, self.metas_removed, self.locks_removed);
        if !(s.remove_meta || s.remove_locks) {
            return;
        }
        let mut what = Vec::new();
        if s.remove_meta {
            what.push(format!("{metas} metadata file{}", if metas == 1 { "" } else { "s" }));
        }
        if s.remove_locks {
            what.push(format!("{locks} lock file{}", if locks == 1 { "" } else { "s" }));
        }
        let verb = if s.dry_run { "(DRY-RUN) Would remove" } else { "Removed" };
        self.printer.data(&format!("{verb} {}.", what.join(" and ")));
    }
}
