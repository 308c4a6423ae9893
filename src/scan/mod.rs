//! Scanning: lists the folders the planner asks for, on both sides, into a snapshot.
//!
//! Read-only: listing folders and reading metadata files is all it does. Folders are listed by
//! several workers at once, each with its own connection to each side ([`Target::open_another`]);
//! which folders follow from a listed one is the planner's (pure) decision. The snapshot is the
//! same whatever the order in which folders were listed.

pub mod browse;
pub mod engine;
pub mod prefetch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use anyhow::{Context, Result};

use crate::backend::pool::Joining;
use crate::backend::{Target, Unreadable, read_to_vec, unreadable_of};
use crate::error::caught::caught;
use crate::meta::META_FILE;
use crate::model::Kind;
use crate::model::listing::Listing;
use crate::model::relpath::RelPath;
use crate::plan::options::{Mode, PlanOptions};
use crate::planner::filter::Filter;
use crate::planner::snapshot::{DirScan, ScanRequest, SideDir, Snapshot, meta_can_matter};
use crate::planner::{PlanContext, follow_up};

/// Lists one folder of one side, with its metadata.
pub fn read_side(target: &mut dyn Target, path: &RelPath) -> Result<SideDir> {
    let listing = target.list_dir(path)?;
    finish_side(target, path, listing, |_| true)
}

/// Turns a folder's listing into its [`SideDir`], reading the metadata file if `needed` says
/// so for the listing.
fn finish_side(
    target: &mut dyn Target,
    path: &RelPath,
    listing: Option<Listing>,
    needed: impl FnOnce(&Listing) -> bool,
) -> Result<SideDir> {
    // Listed in its parent, yet not there: removed meanwhile, or a name the server lists but
    // cannot enter (Twisted and non-ASCII names). Either way nothing in it can be trusted.
    let listing = listing.ok_or_else(|| Unreadable {
        folder: format!("{:?}", path.as_str()),
        server: target.info().display.clone(),
        why: "it is listed in its parent folder, but cannot be entered or listed itself (it may have been removed during the scan)".into(),
        again: false,
    })?;
    if !SideDir::lists_meta(&listing) {
        return Ok(SideDir::new(listing, None));
    }
    if !needed(&listing) {
        return Ok(SideDir::with_unread_meta(listing));
    }
    let file = path.join_unchecked(META_FILE);
    let meta =
        read_to_vec(target, &file).with_context(|| format!("cannot read {file} on {}", target.info().display))?;
    Ok(SideDir::new(listing, Some(&meta)))
}

/// Lists requested folders on the sides that have them (the remote ones together, see
/// [`Target::list_dirs`]). A remote folder's metadata is read only where it could change the
/// plan ([`meta_can_matter`]). With `--skip-unreadable`, a folder whose listing cannot be
/// trusted is recorded as such ([`DirScan::unreadable`]) instead of ending the scan.
fn scan_some(
    local: &mut dyn Target,
    remote: &mut dyn Target,
    ctx: &PlanContext,
    reqs: Vec<ScanRequest>,
) -> Result<Vec<DirScan>> {
    let skip = ctx.options.skip_unreadable;
    let mut unreadable: Vec<Option<String>> = vec![None; reqs.len()];
    let mut locals = Vec::with_capacity(reqs.len());
    for (i, r) in reqs.iter().enumerate() {
        locals.push(match &r.local_path {
            None => None,
            Some(p) => match read_side(local, p) {
                Err(e) if skip && unreadable_of(&e).is_some() => {
                    unreadable[i] = Some(skipped_text("local", &e));
                    Some(SideDir::new(Listing::default(), None))
                }
                other => Some(other?),
            },
        });
    }
    let remote_paths: Vec<RelPath> = reqs.iter().filter_map(|r| r.remote_path.clone()).collect();
    let peer = &ctx.remote.id;
    remote.expect_files(
        reqs.iter()
            .zip(&locals)
            .filter(|(r, _)| r.remote_path.is_some())
            .map(|(_, l)| expected_files(l.as_ref(), peer))
            .collect(),
    );
    let mut listings = match remote.list_dirs(&remote_paths) {
        Ok(listings) => listings.into_iter().map(Ok).collect(),
        // One folder spoils the batch: each on its own, to know which.
        Err(e) if skip && unreadable_of(&e).is_some() => {
            remote_paths.iter().map(|p| remote.list_dir(p)).collect::<Vec<_>>()
        }
        Err(e) => return Err(e),
    }
    .into_iter();
    let lazy = remote.info().records_mtimes && !local.info().records_mtimes;
    let mut scans = Vec::with_capacity(reqs.len());
    for ((req, local_dir), unreadable) in reqs.into_iter().zip(locals).zip(unreadable) {
        let mut unreadable = unreadable;
        let remote_dir = match &req.remote_path {
            None => None,
            Some(p) => match listings.next().unwrap_or(Ok(None)) {
                Err(e) if skip && unreadable_of(&e).is_some() => {
                    unreadable.get_or_insert_with(|| skipped_text("remote", &e));
                    Some(SideDir::new(Listing::default(), None))
                }
                listing => {
                    let needed = |l: &Listing| !lazy || meta_can_matter(l, local_dir.as_ref(), &ctx.remote.id);
                    match listing.and_then(|l| finish_side(remote, p, l, needed)) {
                        Err(e) if skip && unreadable_of(&e).is_some() => {
                            unreadable.get_or_insert_with(|| skipped_text("remote", &e));
                            Some(SideDir::new(Listing::default(), None))
                        }
                        side => Some(side?),
                    }
                }
            },
        };
        scans.push(DirScan { request: req, local: local_dir, remote: remote_dir, unreadable });
    }
    Ok(scans)
}

/// The files a remote folder is expected to hold (see [`Target::expect_files`]): those its
/// local counterpart's metadata records as synchronised with this remote (`peer`), whether
/// still there locally or not, and then the remote's metadata file. Files never synchronised
/// are not expected: a first upload into a folder the remote has asks nothing ahead of it,
/// however many files the local side holds.
fn expected_files(local: Option<&SideDir>, peer: &str) -> Vec<String> {
    let Some(records) = local.and_then(|l| l.meta.valid()).and_then(|m| m.peer(peer)).map(|p| &p.records) else {
        return Vec::new();
    };
    let files = records.iter().filter(|(_, r)| r.m.is_some()).map(|(name, _)| name.clone());
    std::iter::once(META_FILE.to_string()).chain(files).collect()
}

/// The warning for a folder left out because it is unreadable.
fn skipped_text(side: &str, e: &anyhow::Error) -> String {
    match unreadable_of(e) {
        Some(u) => format!(
            "Skipping the unreadable {side} folder {} on {} and everything in it (--skip-unreadable): {}",
            u.folder, u.server, u.why
        ),
        None => format!("Skipping an unreadable {side} folder: {e:#}"),
    }
}

/// Most folders one worker takes at once.
const MAX_BATCH: usize = 32;

/// Work shared by the scan workers.
struct Queue {
    todo: Vec<ScanRequest>,
    /// Folders queued so far: the k-th extra connection opens once k were (see [`work_waits`]).
    queued: usize,
    /// Folders the local root shows that the scan will visit ([`foreseen_folders`]): the k-th
    /// extra connection opens at once when k are foreseen.
    foreseen: usize,
    /// Requests taken but not finished (their follow-ups may still come).
    busy: usize,
    error: Option<anyhow::Error>,
    snapshot: Snapshot,
    /// How many workers share the queue (each takes its share of what is waiting at once).
    workers: usize,
}

/// Scans everything the plan needs, with up to `workers` connections per side, the extra ones
/// opened through `joining`; when it returns, those it used are back in `joining`, and those
/// still coming up will be: apply (of a one-step command) works on with them instead of
/// logging in again.
pub fn scan(
    local: &mut dyn Target,
    remote: &mut dyn Target,
    ctx: &PlanContext,
    workers: usize,
    joining: &Joining,
) -> Result<Snapshot> {
    // The first connection lists the root; each further one opens only once enough folders
    // wait to give it something to do (the k-th extra one when k folders wait, or are foreseen
    // in the local root), so a tree of one folder logs in once. A server may refuse some: one
    // is enough. Nothing waits for a slow login (proftpd's scoreboard lock: 400 ms): the scan
    // ends without it, and it comes up for apply.
    let extra = workers.max(1) - 1;
    let foreseen = if extra > 0 { foreseen_folders(local, ctx.options.mode, &ctx.filter) } else { 0 };
    let queue = Mutex::new(Queue {
        todo: Vec::new(),
        queued: 0,
        foreseen,
        busy: 1,
        error: None,
        snapshot: Snapshot::default(),
        workers: extra + 1,
    });
    let wake = Condvar::new();
    let over = AtomicBool::new(false);
    std::thread::scope(|s| {
        for k in 1..=extra {
            let (queue, wake, over) = (&queue, &wake, &over);
            s.spawn(move || {
                if !work_waits(queue, wake, k) {
                    return;
                }
                joining.open(1);
                if let Some((mut l, mut r)) = joining.next(over) {
                    work(&mut *l, &mut *r, ctx, queue, wake, Vec::new(), false);
                    joining.give_back((l, r));
                }
            });
        }
        work(local, remote, ctx, &queue, &wake, vec![ScanRequest::root()], true);
        over.store(true, Ordering::SeqCst);
        joining.wake();
    });
    let q = queue.into_inner().unwrap_or_else(|e| e.into_inner());
    match q.error {
        Some(e) => Err(e),
        None => Ok(q.snapshot),
    }
}

/// How many folders below the root the scan will visit, as far as the local root shows it now
/// (a local listing costs no round trip): with `upload` and `sync`, every local folder the
/// filter passes is visited (compared, copied or removed), so the connections that list them
/// log in while the first one lists the remote root, not one round trip of listing and one of
/// logging in after it. With `download`, local folders absent on the remote need no visit
/// unless deleted: nothing is foreseen, and the connections open as folders are queued.
fn foreseen_folders(local: &mut dyn Target, mode: Mode, filter: &Filter) -> usize {
    if mode == Mode::Download {
        return 0;
    }
    match local.list_dir(&RelPath::root()) {
        Ok(Some(listing)) => {
            listing.entries.iter().filter(|e| e.kind == Kind::Dir && filter.passes(&e.name, e.kind)).count()
        }
        // The scan's own listing of the root reports what is wrong.
        _ => 0,
    }
}

/// How many connections beside the first a scan with `options` and up to `workers`
/// connections will open at its start ([`foreseen_folders`]): they can log in while the first
/// one does.
pub fn foreseen_connections(local: &mut dyn Target, options: &PlanOptions, workers: usize) -> usize {
    let extra = workers.max(1) - 1;
    match Filter::new(&options.matches, &options.exclude) {
        Ok(filter) if extra > 0 => extra.min(foreseen_folders(local, options.mode, &filter)),
        // A bad filter is reported by the scan.
        _ => 0,
    }
}

/// Waits until at least `k` folders were foreseen, or queued with one still waiting (true), or
/// the scan is over (false). Counted since the start, not as waiting now: the connections that
/// took the first ones may have taken all but a few by the time this one looks, and a
/// connection that apply opens later (it uses the scan's) costs a login in the middle of the
/// run instead of one beside the others.
fn work_waits(queue: &Mutex<Queue>, wake: &Condvar, k: usize) -> bool {
    let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if q.error.is_some() || (q.todo.is_empty() && q.busy == 0) {
            return false;
        }
        if q.foreseen >= k || (q.queued >= k && !q.todo.is_empty()) {
            return true;
        }
        q = wake.wait(q).unwrap_or_else(|e| e.into_inner());
    }
}

/// Lists folders from the queue until none are left; `first` is a batch already taken (and
/// counted as busy). `main`: the targets' own connections, which an apply in the same run
/// goes on with (the remote lock is claimed on them). Every batch they take may be their
/// last, and readies a transfer ([`Target::expect_transfer`]) for the lock's first write:
/// FTP announces its data connection behind the listing, and the connection is open by the
/// time the lock is claimed, so the write needs no round trip for either. Taking the
/// batch that leaves nothing waiting is no sign of being last: a share of a level's folders
/// is taken while the other connections' shares still wait, and where the server does one
/// thing at a time (pyftpdlib) every connection ends its share at about the same time. A
/// guess that proves wrong costs one announcement, which a later batch uses or, once
/// stale, replaces (FTP: one a second at most).
fn work(
    local: &mut dyn Target,
    remote: &mut dyn Target,
    ctx: &PlanContext,
    queue: &Mutex<Queue>,
    wake: &Condvar,
    first: Vec<ScanRequest>,
    main: bool,
) {
    let lock = || queue.lock().unwrap_or_else(|e| e.into_inner());
    let mut first = Some(first).filter(|f| !f.is_empty());
    // Readied while waiting for the others, once per wait: the remote lock is claimed once
    // they are done ([`Target::ready_transfer`]).
    let mut readied = false;
    loop {
        let req = if let Some(first) = first.take() {
            first
        } else {
            let mut q = lock();
            loop {
                if q.error.is_some() {
                    return;
                }
                if !q.todo.is_empty() {
                    // A fair share of what waits among the workers free to take some, so that
                    // no connection idles while another has a long list (a target may list
                    // them together), and a level of folders goes out in one round (dividing
                    // by all workers would leave ever smaller shares for further rounds).
                    let idle = q.workers.saturating_sub(q.busy).max(1);
                    let share = q.todo.len().div_ceil(idle).clamp(1, MAX_BATCH);
                    let at = q.todo.len() - share;
                    q.busy += 1;
                    readied = false;
                    break q.todo.split_off(at);
                }
                if q.busy == 0 {
                    return;
                }
                if main && !readied {
                    drop(q);
                    remote.ready_transfer();
                    readied = true;
                    q = lock();
                    continue;
                }
                q = wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        // Counted as busy: a panic must still end as this batch's error ([`caught`]), or
        // the other workers would wait for it for ever.
        if main {
            remote.expect_transfer();
        }
        let result = caught(|| {
            crate::error::interrupt::check()
                .map_err(anyhow::Error::from)
                .and_then(|()| scan_some(local, remote, ctx, req))
                .and_then(|scans| {
                    scans.into_iter().map(|scan| Ok((follow_up(ctx, &scan)?, scan))).collect::<Result<Vec<_>>>()
                })
        });
        let mut q = lock();
        q.busy -= 1;
        match result {
            Ok(done) => {
                for (next, scan) in done {
                    q.queued += next.len();
                    q.todo.extend(next);
                    q.snapshot.dirs.insert(scan.request.path.clone(), scan);
                }
            }
            Err(e) => {
                q.error.get_or_insert(e);
            }
        }
        wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::backend::memory::{MemoryFs, MemoryOptions};
    use crate::model::SystemClock;

    /// Runs the main connection's `work` on `folders` (present on both sides), with `workers`
    /// sharing the queue and one other worker busy until the main one has readied a transfer
    /// (or 10 s passed); returns what the remote side recorded.
    fn main_worker_calls(folders: &[&str], workers: usize) -> Vec<String> {
        let (local_fs, remote_fs) = (
            MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default()),
            MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default()),
        );
        for f in folders {
            local_fs.put_file(&format!("{f}/x.txt"), b"x", 1e9);
            remote_fs.put_file(&format!("{f}/x.txt"), b"x", 1e9);
        }
        remote_fs.record_calls();
        let (mut local, mut remote) = (local_fs.target("local", false), remote_fs.target("remote", true));
        let ctx =
            PlanContext::new(PlanOptions::new(Mode::Upload), local.info().clone(), remote.info().clone()).unwrap();
        // Busy: the main worker's first batch, and another worker's.
        let queue = Mutex::new(Queue {
            todo: Vec::new(),
            queued: 0,
            foreseen: 0,
            busy: 2,
            error: None,
            snapshot: Snapshot::default(),
            workers,
        });
        let wake = Condvar::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                let start = Instant::now();
                while !remote_fs.calls().contains(&"ready".to_string()) && start.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                queue.lock().unwrap().busy -= 1;
                wake.notify_all();
            });
            work(&mut local, &mut remote, &ctx, &queue, &wake, vec![ScanRequest::root()], true);
        });
        assert!(queue.into_inner().unwrap().error.is_none());
        remote_fs.calls()
    }

    #[test]
    fn a_remote_folder_is_expected_to_hold_what_was_synchronised_with_it() {
        let meta = br#"{"_file_version": 3, "mtimes": {}, "peer_sync": {"ftp://h/site": {
            "kept.txt": {"m": 1.0, "s": 1, "u": 2.0},
            "gone.txt": {"m": 1.0, "s": 1, "u": 2.0},
            "sub": {"m": null, "s": null, "u": 2.0}}}}"#;
        let mut listing = Listing::default();
        for name in ["kept.txt", "new.txt", META_FILE] {
            listing.entries.push(crate::model::Entry::file(name, 1, 1.0));
        }
        let local = SideDir::new(listing, Some(meta));
        // Recorded files, present locally or not; no folder, and nothing never synchronised.
        assert_eq!(expected_files(Some(&local), "ftp://h/site"), [META_FILE, "gone.txt", "kept.txt"]);
        assert!(expected_files(Some(&local), "ftp://other/").is_empty());
        assert!(expected_files(Some(&SideDir::new(Listing::default(), None)), "ftp://h/site").is_empty());
        assert!(expected_files(None, "ftp://h/site").is_empty());
    }

    #[test]
    fn the_main_connection_readies_the_locks_transfer_with_every_batch_and_while_it_waits() {
        // Every batch readies one; then the main worker waits for the other one, and readies
        // a transfer meanwhile.
        assert_eq!(main_worker_calls(&["a"], 2), ["expect", "list /", "expect", "list a", "ready"]);
        // Two folders, three workers: the main one takes its share (one) and leaves the other
        // waiting, and readies a transfer with it all the same (the share may be its last).
        assert_eq!(
            main_worker_calls(&["a", "b"], 3),
            ["expect", "list /", "expect", "list b", "expect", "list a", "ready"]
        );
    }
}
