//! A [`Target`] that reports to a [`Progress`] what passes through it — folders listed, bytes
//! and files written — and otherwise does exactly what the target it wraps does. Wrapping both
//! sides of a run feeds the bars without scanning or apply knowing about them: every transfer
//! ends in a `write_file` on its destination, so counting what is written counts each transfer
//! once, uploads and downloads alike.

use std::io::Read;

use anyhow::Result;

use super::{Progress, Show};
use crate::backend::{Guard, ListedWith, Opener, ReadSink, StagedFile, Target, Written};
use crate::meta::{LOCK_FILE, META_FILE};
use crate::model::digest::{HashAlg, Hashed};
use crate::model::listing::Listing;
use crate::model::listing::is_temp_name;
use crate::model::relpath::RelPath;
use crate::model::target::TargetInfo;
use crate::model::{Entry, Kind};

pub struct Watched {
    inner: Box<dyn Target>,
    progress: Progress,
}

impl Watched {
    /// Wraps `target`, unless nothing is shown (then it is returned as it is).
    pub fn wrap(target: Box<dyn Target>, progress: &Progress) -> Box<dyn Target> {
        if progress.show() == Show::Never {
            return target;
        }
        Box::new(Watched { inner: target, progress: progress.clone() })
    }
}

/// Counts the bytes read through it.
struct Counting<'a> {
    inner: &'a mut dyn Read,
    progress: &'a Progress,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes(n as u64);
        Ok(n)
    }
}

/// Metadata and lock files (also staged ones, whose names end in the metadata file's name)
/// are bookkeeping, not part of what the bar counts.
fn is_bookkeeping(path: &RelPath) -> bool {
    [META_FILE, LOCK_FILE].contains(&path.name()) || (is_temp_name(path.name()) && path.name().ends_with(META_FILE))
}

impl Target for Watched {
    fn info(&self) -> &TargetInfo {
        self.inner.info()
    }

    fn list_dir(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        let listing = self.inner.list_dir(dir)?;
        if let Some(l) = &listing {
            self.progress.listed(l.entries.len());
        }
        Ok(listing)
    }

    fn list_dirs(&mut self, dirs: &[RelPath]) -> Result<Vec<Option<Listing>>> {
        let listings = self.inner.list_dirs(dirs)?;
        for l in listings.iter().flatten() {
            self.progress.listed(l.entries.len());
        }
        Ok(listings)
    }

    fn list_dirs_reading(&mut self, dirs: &[RelPath], name: &str) -> Result<Vec<ListedWith>> {
        let listed = self.inner.list_dirs_reading(dirs, name)?;
        for (l, _) in &listed {
            if let Some(l) = l {
                self.progress.listed(l.entries.len());
            }
        }
        Ok(listed)
    }

    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()> {
        self.inner.read_file(path, sink)
    }

    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        // Metadata and lock files are bookkeeping, not part of what the bar counts.
        if is_bookkeeping(path) {
            return self.inner.write_file(path, data, mtime);
        }
        let written = self.inner.write_file(path, &mut Counting { inner: data, progress: &self.progress }, mtime)?;
        self.progress.file_done();
        Ok(written)
    }

    fn replace_file(
        &mut self,
        path: &RelPath,
        data: &mut dyn Read,
        mtime: Option<f64>,
        guard: Guard<'_>,
    ) -> Result<Written> {
        if is_bookkeeping(path) {
            return self.inner.replace_file(path, data, mtime, guard);
        }
        let counting = &mut Counting { inner: data, progress: &self.progress };
        let written = self.inner.replace_file(path, counting, mtime, guard)?;
        self.progress.file_done();
        Ok(written)
    }

    fn write_staged(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        if is_bookkeeping(path) {
            return self.inner.write_staged(path, data, mtime);
        }
        let written = self.inner.write_staged(path, &mut Counting { inner: data, progress: &self.progress }, mtime)?;
        self.progress.file_done();
        Ok(written)
    }

    fn staged_batch(&self) -> usize {
        self.inner.staged_batch()
    }

    fn write_staged_all(&mut self, files: &[StagedFile<'_>]) -> Vec<Result<Written>> {
        let results = self.inner.write_staged_all(files);
        for (f, r) in files.iter().zip(&results) {
            if r.is_ok() && !is_bookkeeping(f.path) {
                self.progress.bytes(f.data.len() as u64);
                self.progress.file_done();
            }
        }
        results
    }

    fn rename(&mut self, from: &RelPath, to: &RelPath) -> Result<()> {
        self.inner.rename(from, to)
    }

    fn rename_all(&mut self, renames: &[(RelPath, RelPath)]) -> Result<()> {
        self.inner.rename_all(renames)
    }

    fn renames_folders(&mut self) -> Result<bool> {
        self.inner.renames_folders()
    }

    fn remove_folder(&mut self, path: &RelPath) -> Result<()> {
        self.inner.remove_folder(path)
    }

    fn remove_tree(&mut self, path: &RelPath) -> Result<()> {
        self.inner.remove_tree(path)
    }

    fn write_attempts(&self) -> u32 {
        self.inner.write_attempts()
    }

    fn workers_per_session(&self) -> usize {
        self.inner.workers_per_session()
    }

    fn expect_transfer(&mut self) {
        self.inner.expect_transfer()
    }

    fn expect_files(&mut self, names: Vec<Vec<String>>) {
        self.inner.expect_files(names)
    }

    fn ready_transfer(&mut self) {
        self.inner.ready_transfer()
    }

    fn journal_while_checking(&self) -> bool {
        self.inner.journal_while_checking()
    }

    fn make_dir(&mut self, path: &RelPath) -> Result<()> {
        self.inner.make_dir(path)
    }

    fn remove_file(&mut self, path: &RelPath) -> Result<()> {
        self.inner.remove_file(path)
    }

    fn remove_dir(&mut self, path: &RelPath) -> Result<()> {
        self.inner.remove_dir(path)
    }

    fn remove_all(&mut self, entries: &[(RelPath, Kind)]) -> Result<()> {
        self.inner.remove_all(entries)
    }

    fn hash_files(&mut self, paths: &[RelPath], alg: HashAlg) -> Result<Vec<Result<Hashed>>> {
        self.inner.hash_files(paths, alg)
    }

    fn remove_stale_temporary(&mut self, path: &RelPath) -> Result<bool> {
        self.inner.remove_stale_temporary(path)
    }

    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        self.inner.stat(path)
    }

    fn opener(&self) -> Opener {
        let (open, progress) = (self.inner.opener(), self.progress.clone());
        std::sync::Arc::new(move || {
            Ok(Box::new(Watched { inner: open()?, progress: progress.clone() }) as Box<dyn Target>)
        })
    }

    fn begin_lock(&mut self, break_lock: bool) -> Result<Vec<String>> {
        self.inner.begin_lock(break_lock)
    }

    fn confirm_lock(&mut self) -> Result<Vec<String>> {
        self.inner.confirm_lock()
    }

    fn settle_lock(&mut self) -> Result<()> {
        self.inner.settle_lock()
    }

    fn reconfirm_lock(&mut self) -> Result<()> {
        self.inner.reconfirm_lock()
    }

    fn folds_case(&mut self) -> Result<bool> {
        self.inner.folds_case()
    }

    fn unlock(&mut self) -> Result<()> {
        self.inner.unlock()
    }

    fn look_up_all(&mut self, paths: &[RelPath]) -> Result<Vec<Option<Entry>>> {
        self.inner.look_up_all(paths)
    }

    fn unlock_reconfirmed(&mut self) -> Result<()> {
        self.inner.unlock_reconfirmed()
    }

    fn time_offset(&self) -> f64 {
        self.inner.time_offset()
    }

    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::backend::memory::{MemoryFs, MemoryOptions};
    use crate::model::SystemClock;

    #[test]
    fn counts_what_is_written_and_listed_and_changes_nothing_else() {
        let progress = Progress::new(Show::Lines);
        progress.transferring(2, 11);
        let fs = MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default());
        let mut t = Watched::wrap(Box::new(fs.target("m", false)), &progress);
        let file = RelPath::parse("a.txt").unwrap();
        t.write_file(&file, &mut &b"hello world"[..], Some(1.0)).unwrap();
        t.write_file(&RelPath::parse(META_FILE).unwrap(), &mut &b"{}"[..], None).unwrap();
        assert_eq!(crate::backend::read_to_vec(&mut *t, &file).unwrap(), b"hello world");
        let bar = progress.current().unwrap();
        assert_eq!(bar.position(), 11, "metadata is not counted");
        assert_eq!(progress.counts.files.load(Ordering::Relaxed), 1);
        let listing = t.list_dir(&RelPath::root()).unwrap().unwrap();
        assert_eq!(listing.entries.len(), 2);
        assert_eq!(progress.counts.entries.load(Ordering::Relaxed), 2);
        progress.done();
        assert!(progress.current().is_none());
    }

    /// The names of the methods declared at the top level of the block that starts at `start`.
    fn methods_of(source: &str, start: &str) -> Vec<String> {
        let at = source.find(start).unwrap_or_else(|| panic!("{start:?} not found"));
        let body = &source[at..];
        let body = &body[..body.find("\n}\n").expect("the block ends")];
        body.lines()
            .filter_map(|l| l.strip_prefix("    fn "))
            .map(|l| l.split(['(', '<']).next().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn every_target_method_is_passed_on() {
        // A method left to the trait's default would run the default on the wrapped target's
        // behalf: a target's own way (reading metadata with a listing, say) would be lost
        // whenever progress is shown, and only then.
        let declared = methods_of(include_str!("../../backend/mod.rs"), "pub trait Target: Send {");
        let passed_on = methods_of(include_str!("watched.rs"), "impl Target for Watched {");
        // Composed of methods that are passed on, and overridden by no target.
        let composed = ["open_another", "lock"];
        let missing: Vec<&String> =
            declared.iter().filter(|m| !passed_on.contains(m) && !composed.contains(&m.as_str())).collect();
        assert!(declared.len() > 30, "the trait was not read: {declared:?}");
        assert!(missing.is_empty(), "Watched does not pass these on to the target it wraps: {missing:?}");
    }
}
