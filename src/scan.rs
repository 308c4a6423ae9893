//! Scanning: lists the folders the planner asks for, on both sides, into a snapshot.
//!
//! Read-only: listing folders and reading metadata files is all it does. Folders are listed by
//! several workers at once, each with its own connection to each side ([`Target::open_another`]);
//! which folders follow from a listed one is the planner's (pure) decision. The snapshot is the
//! same whatever the order in which folders were listed.

use std::sync::{Condvar, Mutex};

use anyhow::{Context, Result, anyhow};

use crate::meta::META_FILE;
use crate::planner::snapshot::{DirScan, ScanRequest, SideDir, Snapshot};
use crate::planner::{PlanContext, follow_up};
use crate::relpath::RelPath;
use crate::target::{Target, read_to_vec};

/// Lists one folder of one side, with its metadata.
pub fn read_side(target: &mut dyn Target, path: &RelPath) -> Result<SideDir> {
    let listing = target
        .list_dir(path)?
        .ok_or_else(|| anyhow!("folder {:?} does not exist on {} (it may have been removed during the scan)", path.as_str(), target.info().display))?;
    let meta = if SideDir::lists_meta(&listing) {
        let file = path.join_unchecked(META_FILE);
        Some(read_to_vec(target, &file).with_context(|| format!("cannot read {file} on {}", target.info().display))?)
    } else {
        None
    };
    Ok(SideDir::new(listing, meta.as_deref()))
}

/// Lists one requested folder on the sides that have it.
fn scan_one(local: &mut dyn Target, remote: &mut dyn Target, req: ScanRequest) -> Result<DirScan> {
    let local_dir = req.local_path.as_ref().map(|p| read_side(local, p)).transpose()?;
    let remote_dir = req.remote_path.as_ref().map(|p| read_side(remote, p)).transpose()?;
    Ok(DirScan { request: req, local: local_dir, remote: remote_dir })
}

/// Work shared by the scan workers.
struct Queue {
    todo: Vec<ScanRequest>,
    /// Requests taken but not finished (their follow-ups may still come).
    busy: usize,
    error: Option<anyhow::Error>,
    snapshot: Snapshot,
}

/// Scans everything the plan needs, with up to `workers` connections per side.
pub fn scan(local: &mut dyn Target, remote: &mut dyn Target, ctx: &PlanContext, workers: usize) -> Result<Snapshot> {
    // Fewer connections are fine (a server may limit them); one is enough.
    let mut handles = crate::target::pool::open_pairs(local, remote, workers.max(1) - 1);
    let queue = Mutex::new(Queue { todo: vec![ScanRequest::root()], busy: 0, error: None, snapshot: Snapshot::default() });
    let wake = Condvar::new();
    std::thread::scope(|s| {
        for (l, r) in handles.iter_mut() {
            let (queue, wake) = (&queue, &wake);
            s.spawn(move || work(&mut **l, &mut **r, ctx, queue, wake));
        }
        work(local, remote, ctx, &queue, &wake);
    });
    let q = queue.into_inner().unwrap_or_else(|e| e.into_inner());
    match q.error {
        Some(e) => Err(e),
        None => Ok(q.snapshot),
    }
}

fn work(local: &mut dyn Target, remote: &mut dyn Target, ctx: &PlanContext, queue: &Mutex<Queue>, wake: &Condvar) {
    let lock = || queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let req = {
            let mut q = lock();
            loop {
                if q.error.is_some() {
                    return;
                }
                if let Some(req) = q.todo.pop() {
                    q.busy += 1;
                    break req;
                }
                if q.busy == 0 {
                    return;
                }
                q = wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = crate::interrupt::check()
            .map_err(anyhow::Error::from)
            .and_then(|()| scan_one(local, remote, req))
            .and_then(|scan| Ok((follow_up(ctx, &scan)?, scan)));
        let mut q = lock();
        q.busy -= 1;
        match result {
            Ok((next, scan)) => {
                q.todo.extend(next);
                q.snapshot.dirs.insert(scan.request.path.clone(), scan);
            }
            Err(e) => {
                q.error.get_or_insert(e);
            }
        }
        wake.notify_all();
    }
}
