//! `--workers` for `scan` and `tree`: while they walk a target depth-first (printing as they
//! go, in the same order whatever the number of workers), further connections list the
//! folders the walk will ask for next. The walk lists a folder itself when no worker has taken
//! it yet, so one worker (or a target that refuses more connections) is the plain walk.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard};

use anyhow::Result;

use super::browse::{Folder, read_folder};
use crate::backend::Target;
use crate::error::caught::caught;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::planner::filter::Filter;

/// What the walk and the workers share.
#[derive(Default)]
struct State {
    /// Folders the walk will want, not yet taken (a stack: the next one in walk order last).
    todo: Vec<RelPath>,
    /// Folders a worker is listing.
    reading: HashSet<RelPath>,
    /// Folders listed by a worker, not yet handed to the walk.
    ready: HashMap<RelPath, Result<Folder>>,
    /// The walk is over: workers stop.
    over: bool,
}

struct Shared<'f> {
    state: Mutex<State>,
    wake: Condvar,
    filter: &'f Filter,
    /// Whether the walk visits sub-folders (their listings are worth reading ahead).
    descend: bool,
}

impl Shared<'_> {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists `dir` and queues its sub-folders (in walk order) for the workers.
    fn read(&self, target: &mut dyn Target, dir: &RelPath) -> Result<Folder> {
        let folder = read_folder(target, dir, self.filter);
        if let Ok(f) = &folder
            && self.descend
        {
            // A bad name is the walk's error to report when it gets there.
            let subs: Vec<RelPath> = f
                .entries
                .iter()
                .rev()
                .filter(|e| e.entry.kind == Kind::Dir)
                .filter_map(|e| dir.join(&e.entry.name).ok())
                .collect();
            if !subs.is_empty() {
                self.lock().todo.extend(subs);
                self.wake.notify_all();
            }
        }
        folder
    }
}

/// The walk's access to the folders of its target.
pub struct Folders<'a> {
    target: &'a mut dyn Target,
    shared: &'a Shared<'a>,
}

impl Folders<'_> {
    /// The folder `dir`, listed ahead by a worker or now.
    pub fn read(&mut self, dir: &RelPath) -> Result<Folder> {
        let mut state = self.shared.lock();
        loop {
            if let Some(folder) = state.ready.remove(dir) {
                return folder;
            }
            if !state.reading.contains(dir) {
                if let Some(at) = state.todo.iter().rposition(|d| d == dir) {
                    state.todo.remove(at);
                }
                drop(state);
                return self.shared.read(&mut *self.target, dir);
            }
            state = self.shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The walk's own connection (for what it changes, e.g. `scan --remove-meta`).
    pub fn target(&mut self) -> &mut dyn Target {
        &mut *self.target
    }
}

/// Runs `walk` over `target`'s folders with up to `workers` connections listing ahead;
/// `descend`: the walk visits the sub-folders of what it reads (else only what it asks for).
pub fn walk_folders<R>(
    target: &mut dyn Target,
    filter: &Filter,
    workers: usize,
    descend: bool,
    walk: impl FnOnce(&mut Folders) -> Result<R>,
) -> Result<R> {
    let shared = Shared { state: Mutex::new(State::default()), wake: Condvar::new(), filter, descend };
    let extra = if descend { workers.max(1) - 1 } else { 0 };
    let opener = target.opener();
    std::thread::scope(|s| {
        for k in 1..=extra {
            let (shared, opener) = (&shared, opener.clone());
            s.spawn(move || {
                // The k-th extra connection opens only once k folders wait (a small tree logs
                // in once); a server may refuse some: the walk does not need them.
                if !wait_for(shared, |st| st.todo.len() >= k) {
                    return;
                }
                if let Ok(mut conn) = opener() {
                    work(&mut *conn, shared);
                }
            });
        }
        // Over however the walk ends (a panic included): the workers stop waiting.
        let _over = Over(&shared);
        walk(&mut Folders { target, shared: &shared })
    })
}

/// Ends the walk when dropped.
struct Over<'a, 'f>(&'a Shared<'f>);

impl Drop for Over<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().over = true;
        self.0.wake.notify_all();
    }
}

/// Waits until `ready` holds (true) or the walk is over (false).
fn wait_for(shared: &Shared, ready: impl Fn(&State) -> bool) -> bool {
    let mut state = shared.lock();
    loop {
        if state.over {
            return false;
        }
        if ready(&state) {
            return true;
        }
        state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// A worker: lists waiting folders, next in walk order first, until the walk is over.
fn work(conn: &mut dyn Target, shared: &Shared) {
    loop {
        if !wait_for(shared, |st| !st.todo.is_empty()) {
            return;
        }
        let dir = {
            let mut state = shared.lock();
            let Some(dir) = state.todo.pop() else { continue };
            state.reading.insert(dir.clone());
            dir
        };
        // The walk waits for this folder: a panic must still hand it a result.
        let folder = caught(|| shared.read(conn, &dir));
        let mut state = shared.lock();
        state.reading.remove(&dir);
        state.ready.insert(dir, folder);
        drop(state);
        shared.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::memory::{MemoryFs, MemoryOptions};
    use crate::model::SystemClock;

    /// Walks every folder depth-first, returning the first error.
    fn visit(folders: &mut Folders, dir: &RelPath) -> Result<()> {
        let folder = folders.read(dir)?;
        for e in folder.entries.iter().filter(|e| e.entry.kind == Kind::Dir) {
            visit(folders, &dir.join(&e.entry.name)?)?;
        }
        Ok(())
    }

    #[test]
    fn a_worker_whose_listing_panics_hands_the_walk_an_error() {
        let fs = MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default());
        for i in 0..8 {
            fs.put_file(&format!("d{i}/a.txt"), b"a", 1e9);
        }
        fs.panic_listing("d6");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut target = fs.target("m", true);
            let filter = Filter::new(&[], &[]).unwrap();
            let walked = walk_folders(&mut target, &filter, 4, true, |f| {
                // The workers take every sub-folder meanwhile: one of them meets the panic.
                let root = f.read(&RelPath::root())?;
                std::thread::sleep(std::time::Duration::from_millis(300));
                root.entries.iter().try_for_each(|e| visit(f, &RelPath::root().join(&e.entry.name)?))
            });
            let _ = tx.send(walked.map_err(|e| format!("{e:#}")));
        });
        let walked = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the walk hung");
        let err = walked.expect_err("a folder could not be read");
        assert!(err.contains("internal error") && err.contains("listing panicked"), "{err}");
    }
}
