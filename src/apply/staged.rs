//! A staged apply, the default: everything is written under temporary names first
//! ([`super::waves`] with a [`Staging`]), the metadata each changed folder will hold included
//! (staged as the folder's last change is), and only then does the commit
//! ([`super::commit::burst`]) make it all visible in one burst of renames. A failure before the
//! commit removes what was staged: both trees stay exactly as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;

use super::check::{describe_entry, describe_state, groups_by_side, matches};
use super::commit::burst::{self, CommitFailed, remove_entry};
use super::commit::journal::{Journal, Step};
use super::outcome::{Outcome, Status};
use super::stage::Staging;
use super::stats::Counters;
use super::waves::{Fixed, State};
use super::workers::{Worker, share_out};
use crate::meta::META_FILE;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::EntryState;
use crate::planner::snapshot::MetaFile;

/// How a staged apply ended, when it got as far as its commit.
enum Ended {
    /// Committed: visible on both sides.
    Committed { window: Duration, notes: Vec<String> },
    /// Nothing visible changed (the reason); whether the journals are gone already (the
    /// commit undid itself) or are still to be removed.
    RolledBack { cause: anyhow::Error, journals_removed: bool },
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
/// this catches anything else); and the lock is still ours, read by the first worker while
/// the others list (each takes a group of folders of one side, which a target may list in one
/// round trip, as apply's first check does).
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
    let sides: Vec<Side> = folders.iter().map(|(side, _)| *side).collect();
    let groups: Vec<(Side, Vec<RelPath>)> = groups_by_side(&sides, workers.len().saturating_sub(1).max(1))
        .into_iter()
        .map(|g| (folders[g[0]].0, g.iter().map(|&i| folders[i].1.clone()).collect()))
        .collect();
    let drift = Mutex::new(Vec::new());
    let list = |listers: &mut [Worker<'_>]| {
        let indices: Vec<usize> = (0..groups.len()).collect();
        share_out(&indices, listers, |w, g| {
            let (side, group) = &groups[g];
            let target = w.side(*side);
            let listings = target.list_dirs(group)?;
            for (folder, listing) in group.iter().zip(listings) {
                let listing = listing.unwrap_or_default();
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
            }
            Ok(())
        })
    };
    let (first, others) = workers.split_first_mut().expect("apply has at least one worker");
    if others.is_empty() {
        first.remote.reconfirm_lock()?;
        list(std::slice::from_mut(first))?;
    } else {
        let (locked, listed) = std::thread::scope(|s| {
            let locking = s.spawn(|| first.remote.reconfirm_lock());
            let listed = list(others);
            (locking.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), listed)
        });
        locked?;
        listed?;
    }
    let drift = drift.into_inner().unwrap_or_else(|e| e.into_inner());
    if !drift.is_empty() {
        anyhow::bail!("changed since the plan was checked, nothing was committed: {}", drift.join("; "));
    }
    Ok(())
}

/// The journals of a staged apply, one per side that changes: the steps of the content
/// ([`Staging::steps`]) and of the metadata (`meta`, per side and folder).
fn journals(
    fixed: &Fixed<'_>,
    staging: &Staging,
    meta: &BTreeMap<(Side, RelPath), Vec<Step>>,
    run: &str,
    created: &str,
) -> Vec<Journal> {
    let digest = crate::plan::io::digest(fixed.plan);
    let (local, remote) = (&fixed.plan.local.display, &fixed.plan.remote.display);
    let mut journals = Vec::new();
    for side in [Side::Remote, Side::Local] {
        let mut steps = staging.steps(side);
        steps.extend(meta.iter().filter(|((s, _), _)| *s == side).flat_map(|(_, steps)| steps.iter().cloned()));
        if steps.is_empty() {
            continue;
        }
        let (me, peer) = if side == Side::Local { (local, remote) } else { (remote, local) };
        journals.push(Journal::new(side, run, created, &digest, me, peer, steps));
    }
    journals
}

/// The journals, written while the transfers run (by one worker, first, [`Fixed::prologue`]):
/// the commit then finds them in place, and a run that dies while staging leaves a journal
/// the next run undoes, removing what was staged. Their metadata steps are the expected ones
/// ([`expect_metadata`]); when staging ends otherwise, the commit writes them again.
pub struct Early {
    journals: Vec<Journal>,
    /// The sides whose journal is written.
    written: Mutex<Vec<Side>>,
}

impl Early {
    pub fn new(fixed: &Fixed<'_>, staging: &Staging, state: &mut State) -> Early {
        expect_metadata(fixed, staging, state);
        let created = crate::meta::timefmt::iso_utc(fixed.settings.clock.now());
        let run = format!("ftpsync {}", std::process::id());
        Early { journals: journals(fixed, staging, &state.meta_planned, &run, &created), written: Mutex::new(vec![]) }
    }

    /// Writes the journals (the prologue).
    pub fn write(&self, w: &mut Worker<'_>) -> Result<()> {
        for j in &self.journals {
            burst::write_journal(w.side(j.side), j)?;
            self.written.lock().unwrap_or_else(|e| e.into_inner()).push(j.side);
        }
        Ok(())
    }

    fn written(&self) -> Vec<Side> {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Removes the journals written (after a rollback before the commit); a remark when one
    /// stays (the next run finds it and undoes what it lists: nothing visible changed).
    fn remove(&self, workers: &mut [Worker<'_>]) -> Option<String> {
        let stuck: Vec<String> = self
            .written()
            .into_iter()
            .filter_map(|side| {
                let target = workers[0].side(side);
                target.remove_file(&burst::journal_path()).err().map(|e| format!("{e:#}"))
            })
            .collect();
        (!stuck.is_empty()).then(|| {
            format!("The commit journal could not be removed ({}); the next run removes it.", stuck.join("; "))
        })
    }
}

/// The metadata steps expected before staging begins: every document with changes to come
/// is staged under a new name, after moving the one found aside.
fn expect_metadata(fixed: &Fixed<'_>, staging: &Staging, state: &mut State) {
    for key in state.store.expected() {
        let (side, folder) = &key;
        let actual = fixed.layout.folder_path(folder, *side);
        if staging.is_staged_folder_content(*side, &actual) {
            continue;
        }
        let path = actual.join_unchecked(META_FILE);
        let mut steps = Vec::new();
        if fixed.fresh.dirs.get(&key).is_some_and(|sd| sd.meta != MetaFile::Absent) {
            steps.push(Step::Aside { path: path.clone(), backup: state.meta_names.backup(&actual), kind: Kind::File });
        }
        steps.push(Step::Place { staged: state.meta_names.metadata(&actual), path, kind: Kind::File });
        state.meta_planned.insert(key, steps);
    }
}

/// After staging: the last look, then the commit.
fn commit(
    fixed: &Fixed<'_>,
    staging: &Staging,
    state: &mut State,
    workers: &mut [Worker<'_>],
    early: &Early,
) -> Result<Ended> {
    check_commit_targets(fixed, staging, workers)?;
    let meta: BTreeMap<(Side, RelPath), Vec<Step>> =
        state.staged_meta.iter().map(|(k, (steps, _))| (k.clone(), steps.clone())).collect();
    let (run, created) =
        early.journals.first().map_or((String::new(), String::new()), |j| (j.run.clone(), j.created.clone()));
    let journals = journals(fixed, staging, &meta, &run, &created);
    let written = early.written();
    // A side written early that has nothing to commit after all.
    for side in written.iter().filter(|s| !journals.iter().any(|j| j.side == **s)) {
        workers[0].side(*side).remove_file(&burst::journal_path())?;
    }
    if journals.is_empty() {
        return Ok(Ended::Committed { window: Duration::ZERO, notes: Vec::new() });
    }
    let in_place = journals == early.journals && written.len() == journals.len();
    match burst::commit(workers, &journals, in_place) {
        Ok(done) => {
            state.staged.clear();
            Ok(Ended::Committed { window: done.window, notes: done.notes })
        }
        Err(CommitFailed::RolledBack(cause)) => Ok(Ended::RolledBack { cause, journals_removed: true }),
        Err(stuck) => Err(stuck.into()),
    }
}

/// How a staged apply ended: the cause when it was rolled back, the commit window when not.
pub struct Ending {
    pub rolled_back: Option<anyhow::Error>,
    pub commit_window: Option<Duration>,
}

/// The end of a staged apply once its waves ran (`staged`: how they ended): the commit; or,
/// after a failure anywhere before it, the rollback (what was staged removed, then the
/// journals written early, every entry done counted as not run). Only a commit that could be
/// neither completed nor undone is an error: its journal stays for the next run.
pub fn end(
    fixed: &Fixed<'_>,
    staging: &Staging,
    state: &mut State,
    workers: &mut [Worker<'_>],
    early: &Early,
    staged: Result<()>,
) -> Result<Ending> {
    let ended = match staged {
        Ok(()) => match commit(fixed, staging, state, workers, early) {
            Ok(ended) => ended,
            // The journal stays, and so do the staged files it needs.
            Err(e) if e.downcast_ref::<CommitFailed>().is_some() => return Err(e),
            Err(cause) => Ended::RolledBack { cause, journals_removed: false },
        },
        Err(cause) => Ended::RolledBack { cause, journals_removed: false },
    };
    Ok(match ended {
        Ended::Committed { window, notes } => {
            state.store.messages.extend(notes);
            Ending { rolled_back: None, commit_window: Some(window) }
        }
        Ended::RolledBack { cause, journals_removed } => {
            state.store.messages = remove_staged(state, workers).into_iter().collect();
            if !journals_removed {
                state.store.messages.extend(early.remove(workers));
            }
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
