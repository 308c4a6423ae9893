//! The connections apply works with (one pair per worker: a connection to each side), and
//! sharing a list of independent jobs out among them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use anyhow::Result;

use crate::backend::Target;
use crate::model::side::Side;

/// One worker's connections.
pub struct Worker<'t> {
    pub local: &'t mut dyn Target,
    pub remote: &'t mut dyn Target,
}

impl Worker<'_> {
    pub fn side(&mut self, side: Side) -> &mut dyn Target {
        match side {
            Side::Local => &mut *self.local,
            Side::Remote => &mut *self.remote,
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
            if let Err(e) = job(w, i) {
                failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
            }
        }
    };
    if workers.len() == 1 || items.len() <= 1 {
        work(&mut workers[0]);
    } else {
        std::thread::scope(|s| {
            for w in workers.iter_mut().take(items.len()) {
                s.spawn(|| work(w));
            }
        });
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
        let result = match task {
            Task::Item(i) => job(w, i),
            Task::FollowUp(t) => follow_up(w, t).map(|()| Vec::new()),
        };
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
    if workers.len() == 1 {
        work(&mut workers[0]);
    } else {
        std::thread::scope(|s| {
            for w in workers.iter_mut() {
                s.spawn(|| work(w));
            }
        });
    }
    match board.into_inner().unwrap_or_else(|e| e.into_inner()).failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
