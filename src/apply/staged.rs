//! A staged apply, the default: everything is written under temporary names first
//! ([`super::waves`] with a [`Staging`]), then the metadata each changed folder will hold, and
//! only then does the commit ([`super::commit::burst`]) make it all visible in one burst of
//! renames. A failure before the commit removes what was staged: both trees stay exactly as
//! they were.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use super::check::{describe_entry, describe_state, matches};
use super::commit::burst::{self, CommitFailed, remove_entry};
use super::commit::journal::{Journal, Step};
use super::outcome::{Outcome, Status};
use super::stage::Staging;
use super::stats::Counters;
use super::waves::{Fixed, State};
use super::workers::{Worker, share_out};
use crate::backend::with_write_attempts;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::EntryState;
use crate::planner::snapshot::MetaFile;

/// How a staged apply ended, when it got as far as its commit.
enum Ended {
    /// Committed: visible on both sides.
    Committed { window: Duration, notes: Vec<String> },
    /// Nothing visible changed (the reason).
    RolledBack(anyhow::Error),
}

/// One metadata file to stage.
struct MetaJob {
    side: Side,
    at: RelPath,
    bytes: Vec<u8>,
}

/// Stages the metadata of every changed folder; returns the commit's steps for them.
fn stage_metadata(
    fixed: &Fixed<'_>,
    staging: &Staging,
    state: &mut State,
    workers: &mut [Worker<'_>],
) -> Result<Vec<(Side, Step)>> {
    let mut names = staging.names.after();
    let mut steps = Vec::new();
    let mut jobs = Vec::new();
    for (side, folder) in state.store.dirty() {
        let now = fixed.settings.clock.now();
        let Some(write) = state.store.take_write(side, &folder, &fixed.layout, now) else { continue };
        let actual = fixed.layout.folder_path(&folder, side);
        let path = write.path().clone();
        if staging.is_staged_folder_content(side, &actual) {
            // In a new folder: written under its final name there, visible with it.
            if let Some(bytes) = write.bytes() {
                jobs.push(MetaJob { side, at: staging.physical(side, &path), bytes: bytes.to_vec() });
            }
            continue;
        }
        let exists = fixed.fresh.dirs.get(&(side, folder.clone())).is_some_and(|sd| sd.meta != MetaFile::Absent);
        if exists {
            steps.push((side, Step::Aside { path: path.clone(), backup: names.backup(&actual), kind: Kind::File }));
        }
        if let Some(bytes) = write.bytes() {
            let staged = names.metadata(&actual);
            steps.push((side, Step::Place { staged: staged.clone(), path, kind: Kind::File }));
            state.staged.push((side, staged.clone(), Kind::File));
            jobs.push(MetaJob { side, at: staged, bytes: bytes.to_vec() });
        }
    }
    let indices: Vec<usize> = (0..jobs.len()).collect();
    share_out(&indices, workers, |w, i| {
        let job = &jobs[i];
        let target = w.side(job.side);
        let written = with_write_attempts(target.write_attempts(), || {
            target.write_staged(&job.at, &mut job.bytes.as_slice(), None)
        })?;
        anyhow::ensure!(written.bytes == job.bytes.len() as u64, "{}: the metadata file was stored short", job.at);
        Ok(())
    })?;
    Ok(steps)
}

/// Removes what was staged (after a failure before the commit); returns a remark when some
/// of it could not be removed (it has temporary names: no content, and a later run removes it).
fn remove_staged(state: &mut State, workers: &mut [Worker<'_>]) -> Option<String> {
    let staged = std::mem::take(&mut state.staged);
    let left = std::sync::atomic::AtomicUsize::new(0);
    let indices: Vec<usize> = (0..staged.len()).collect();
    // Shared out like the staging itself; a connection that fails is replaced once.
    let _ = share_out(&indices, workers, |w, i| {
        let (side, path, kind) = &staged[i];
        let target = w.side(*side);
        let removed = remove_entry(target, path, *kind)
            .or_else(|_| target.open_another().and_then(|mut t| remove_entry(&mut *t, path, *kind)));
        if removed.is_err() {
            left.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    let left = left.into_inner();
    (left > 0).then(|| {
        format!("{left} staged file(s) could not be removed; they have temporary names, and the next run removes them.")
    })
}

/// Just before the commit: every entry it moves aside is still as planned, and every name a
/// staged entry takes is still free (the last look at them; the lock keeps other runs away,
/// this catches anything else). One listing per folder, shared out over the connections.
fn check_commit_targets(fixed: &Fixed<'_>, staging: &Staging, workers: &mut [Worker<'_>]) -> Result<()> {
    let mut expected: BTreeMap<(Side, RelPath), Option<&EntryState>> = BTreeMap::new();
    for (&i, staged) in &staging.entries {
        let planned = fixed.plan.entries[i].state(staged.side);
        for step in &staged.steps {
            match step {
                Step::Aside { path, .. } => {
                    expected.insert((staged.side, path.clone()), planned);
                }
                Step::Place { path, .. } => {
                    expected.entry((staged.side, path.clone())).or_insert(None);
                }
                _ => {}
            }
        }
    }
    let folders: Vec<(Side, RelPath)> =
        expected.keys().map(|(side, p)| (*side, p.parent())).collect::<BTreeSet<_>>().into_iter().collect();
    let drift = Mutex::new(Vec::new());
    let indices: Vec<usize> = (0..folders.len()).collect();
    share_out(&indices, workers, |w, i| {
        let (side, folder) = &folders[i];
        let target = w.side(*side);
        let listing = target.list_dir(folder)?.unwrap_or_default();
        for ((s, path), planned) in &expected {
            if s != side || path.parent() != *folder {
                continue;
            }
            let found = listing.entries.iter().find(|e| e.name == path.name());
            if !matches(*planned, found) {
                drift.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                    "{path} ({}): planned {}, found {}",
                    target.info().display,
                    describe_state(*planned),
                    describe_entry(found)
                ));
            }
        }
        Ok(())
    })?;
    let drift = drift.into_inner().unwrap_or_else(|e| e.into_inner());
    if !drift.is_empty() {
        anyhow::bail!("changed since the plan was checked, nothing was committed: {}", drift.join("; "));
    }
    Ok(())
}

/// After staging: the metadata staged, then the commit.
fn commit(
    fixed: &Fixed<'_>,
    staging: &Staging,
    state: &mut State,
    workers: &mut [Worker<'_>],
    run: &str,
    created: &str,
) -> Result<Ended> {
    let meta_steps = stage_metadata(fixed, staging, state, workers)?;
    check_commit_targets(fixed, staging, workers)?;
    let digest = crate::plan::io::digest(fixed.plan);
    let (local, remote) = (&fixed.plan.local.display, &fixed.plan.remote.display);
    let mut journals = Vec::new();
    for side in [Side::Remote, Side::Local] {
        let mut steps = staging.steps(side);
        steps.extend(meta_steps.iter().filter(|(s, _)| *s == side).map(|(_, step)| step.clone()));
        if steps.is_empty() {
            continue;
        }
        let (me, peer) = if side == Side::Local { (local, remote) } else { (remote, local) };
        journals.push(Journal::new(side, run, created, &digest, me, peer, steps));
    }
    if journals.is_empty() {
        return Ok(Ended::Committed { window: Duration::ZERO, notes: Vec::new() });
    }
    match burst::commit(workers, &mut journals) {
        Ok(done) => {
            state.staged.clear();
            Ok(Ended::Committed { window: done.window, notes: done.notes })
        }
        Err(CommitFailed::RolledBack(cause)) => Ok(Ended::RolledBack(cause)),
        Err(stuck) => Err(stuck.into()),
    }
}

/// How a staged apply ended: the cause when it was rolled back, the commit window when not.
pub struct Ending {
    pub rolled_back: Option<anyhow::Error>,
    pub commit_window: Option<Duration>,
}

/// The end of a staged apply once its waves ran (`staged`: how they ended): the commit; or,
/// after a failure anywhere before it, the rollback (what was staged removed, every entry
/// done counted as not run). Only a commit that could be neither completed nor undone is an
/// error: its journal stays for the next run.
pub fn end(
    fixed: &Fixed<'_>,
    staging: &Staging,
    state: &mut State,
    workers: &mut [Worker<'_>],
    staged: Result<()>,
) -> Result<Ending> {
    let ended = match staged {
        Ok(()) => {
            let created = crate::meta::timefmt::iso_utc(fixed.settings.clock.now());
            let run = format!("ftpsync {}", std::process::id());
            match commit(fixed, staging, state, workers, &run, &created) {
                Ok(ended) => ended,
                // The journal stays, and so do the staged files it needs.
                Err(e) if e.downcast_ref::<CommitFailed>().is_some() => return Err(e),
                Err(e) => Ended::RolledBack(e),
            }
        }
        Err(e) => Ended::RolledBack(e),
    };
    Ok(match ended {
        Ended::Committed { window, notes } => {
            state.store.messages.extend(notes);
            Ending { rolled_back: None, commit_window: Some(window) }
        }
        Ended::RolledBack(cause) => {
            state.store.messages = remove_staged(state, workers).into_iter().collect();
            for o in &mut state.outcomes {
                if o.status == Status::Done {
                    *o = Outcome {
                        status: Status::NotRun,
                        error: Some("rolled back: the commit did not happen".into()),
                    };
                }
            }
            let failed = state.outcomes.iter().filter(|o| o.status == Status::Failed).count();
            state.counters = Counters::from_scan(fixed.plan);
            state.counters.errors = failed as u64;
            Ending { rolled_back: Some(cause), commit_window: None }
        }
    })
}
