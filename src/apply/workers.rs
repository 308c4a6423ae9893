//! The connections apply works with (one pair per worker: a connection to each side), and
//! sharing a list of independent jobs out among them. Connections still coming up when a list
//! is shared out join the work as they come ([`Joining`]), and stay for the lists after it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use anyhow::Result;

use crate::backend::Target;
use crate::backend::pool::{Joining, Pair};
use crate::error::caught::caught;
use crate::model::side::Side;

/// One worker's connections.
pub struct Worker<'t> {
    pub local: &'t mut dyn Target,
    pub remote: &'t mut dyn Target,
    /// More connections coming up, which join the jobs shared out to this worker's crew.
    pub late: Option<&'t Joining>,
}

impl Worker<'_> {
    pub fn side(&mut self, side: Side) -> &mut dyn Target {
        match side {
            Side::Local => &mut *self.local,
            Side::Remote => &mut *self.remote,
        }
    }
}

/// How many workers a list shared out to `workers` may get: those there and those still coming.
pub fn crew_size(workers: &[Worker<'_>]) -> usize {
    workers.len() + workers.first().and_then(|w| w.late).map_or(0, Joining::expected)
}

/// Runs `work` on every worker at the same time, and on each late connection (see [`Worker::late`])
/// as soon as it is ready, until the first workers are done (`work` returns when nothing is left
/// to take). The late connections go back to be taken by the next list.
fn run_crew(workers: &mut [Worker<'_>], work: &(dyn Fn(&mut Worker<'_>) + Sync)) {
    let late = workers.first().and_then(|w| w.late).filter(|l| l.expected() > 0);
    let joined: Mutex<Vec<Pair>> = Mutex::new(Vec::new());
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        if let Some(late) = late {
            let (joined, done) = (&joined, &done);
            s.spawn(move || {
                while let Some((mut local, mut remote)) = late.next(done) {
                    s.spawn(move || {
                        work(&mut Worker { local: &mut *local, remote: &mut *remote, late: Some(late) });
                        joined.lock().unwrap_or_else(|e| e.into_inner()).push((local, remote));
                    });
                }
            });
        }
        let first: Vec<_> = workers.iter_mut().map(|w| s.spawn(move || work(w))).collect();
        for h in first {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        done.store(true, Ordering::SeqCst);
        late.inspect(|l| l.wake());
    });
    if let Some(late) = late {
        for pair in joined.into_inner().unwrap_or_else(|e| e.into_inner()) {
            late.give_back(pair);
        }
    }
}

/// Runs `job` for every item, the workers taking items in turn at the same time; stops
/// handing out items at the first error (the error that concerns the whole run: an
/// interruption, a metadata file that cannot be written) and returns it.
pub fn share_out(
    items: &[usize],
    workers: &mut [Worker<'_>],
    job: impl Fn(&mut Worker<'_>, usize) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let take = || {
        if failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return None;
        }
        items.get(next.fetch_add(1, Ordering::Relaxed)).copied()
    };
    let work = |w: &mut Worker<'_>| {
        while let Some(i) = take() {
            if let Err(e) = caught(|| job(w, i)) {
                failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
            }
        }
    };
    if items.len() <= 1 || crew_size(workers) == 1 {
        work(&mut workers[0]);
    } else {
        let n = items.len().min(workers.len());
        run_crew(&mut workers[..n], &work);
    }
    match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What the workers of [`share_out_then`] share.
struct Board<T> {
    next: usize,
    first: VecDeque<T>,
    follow_ups: VecDeque<T>,
    running: usize,
    failure: Option<anyhow::Error>,
}

/// [`share_out`] for jobs that leave follow-up work (a metadata file to write once a folder's
/// last transfer is done): `first` goes before the items (work of the same kind as follow-ups,
/// which one worker does while the others start on the items), then items, then follow-ups to
/// whichever worker is free; the workers stay until nothing is left to take and nothing runs
/// that could leave more.
pub fn share_out_then<T: Send>(
    first: Vec<T>,
    items: &[usize],
    workers: &mut [Worker<'_>],
    job: impl Fn(&mut Worker<'_>, usize) -> Result<Vec<T>> + Sync,
    follow_up: impl Fn(&mut Worker<'_>, T) -> Result<()> + Sync,
) -> Result<()> {
    enum Task<T> {
        Item(usize),
        FollowUp(T),
    }
    let board =
        Mutex::new(Board { next: 0, first: first.into(), follow_ups: VecDeque::new(), running: 0, failure: None });
    let changed = Condvar::new();
    let lock = || board.lock().unwrap_or_else(|e| e.into_inner());
    let work = |w: &mut Worker<'_>| loop {
        let task = {
            let mut b = lock();
            loop {
                if b.failure.is_some() {
                    return;
                }
                if let Some(t) = b.first.pop_front() {
                    b.running += 1;
                    break Task::FollowUp(t);
                }
                if let Some(&i) = items.get(b.next) {
                    b.next += 1;
                    b.running += 1;
                    break Task::Item(i);
                }
                if let Some(t) = b.follow_ups.pop_front() {
                    b.running += 1;
                    break Task::FollowUp(t);
                }
                if b.running == 0 {
                    return;
                }
                b = changed.wait(b).unwrap_or_else(|e| e.into_inner());
            }
        };
        // Counted as running: a panic must still end as this task's failure ([`caught`]),
        // or the other workers would wait for it for ever.
        let result = caught(|| match task {
            Task::Item(i) => job(w, i),
            Task::FollowUp(t) => follow_up(w, t).map(|()| Vec::new()),
        });
        let mut b = lock();
        b.running -= 1;
        match result {
            Ok(more) => b.follow_ups.extend(more),
            Err(e) => {
                b.failure.get_or_insert(e);
            }
        }
        changed.notify_all();
    };
    if crew_size(workers) == 1 {
        work(&mut workers[0]);
    } else {
        run_crew(workers, &work);
    }
    match board.into_inner().unwrap_or_else(|e| e.into_inner()).failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
