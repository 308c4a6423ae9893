//! The connections apply works with (one pair per worker: a connection to each side), and
//! sharing a list of independent jobs out among them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

use super::check::SideKey;
use crate::target::Target;

/// One worker's connections.
pub struct Worker<'t> {
    pub local: &'t mut dyn Target,
    pub remote: &'t mut dyn Target,
}

impl Worker<'_> {
    pub fn side(&mut self, side: impl Into<SideKey>) -> &mut dyn Target {
        match side.into() {
            SideKey::Local => &mut *self.local,
            SideKey::Remote => &mut *self.remote,
        }
    }
}

/// Runs `job` for every item, the workers taking items in turn at the same time; stops
/// handing out items at the first error (the error that concerns the whole run: an
/// interruption, a metadata file that cannot be written) and returns it.
pub fn share_out(items: &[usize], workers: &mut [Worker<'_>], job: impl Fn(&mut Worker<'_>, usize) -> Result<()> + Sync) -> Result<()> {
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
