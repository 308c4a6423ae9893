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
use super::stage::{Names, Staging};
use super::stats::Counters;
use super::waves::{Fixed, State};
use super::workers::{Worker, share_out};
use crate::meta::META_FILE;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{EntryState, MetaStatus, Plan};
use crate::plan::layout::Layout;

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
/// the others look (each takes the entries of a group of folders of one side, which a target
/// may look up in one round trip, [`Target::look_up_all`](crate::backend::Target::look_up_all)).
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
            let looked: Vec<(&RelPath, Option<&EntryState>)> = expected
                .iter()
                .filter(|((s, path), _)| s == side && group.contains(&path.parent()))
                .map(|((_, path), planned)| (path, *planned))
                .collect();
            let paths: Vec<RelPath> = looked.iter().map(|(p, _)| (*p).clone()).collect();
            let found = target.look_up_all(&paths)?;
            for ((path, planned), found) in looked.into_iter().zip(found) {
                if !matches(planned, found.as_ref()) {
                    drift.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                        "{path} ({}): planned {}, found {}",
                        target.info().display,
                        describe_state(planned),
                        describe_entry(found.as_ref())
                    ));
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
    plan: &Plan,
    staging: &Staging,
    meta: &BTreeMap<(Side, RelPath), Vec<Step>>,
    run: &str,
    created: &str,
) -> Vec<Journal> {
    let digest = crate::plan::io::digest(plan);
    let (local, remote) = (&plan.local.display, &plan.remote.display);
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

/// The journals, written before the transfers begin: by the first worker once it has
/// confirmed the lock, while the others check the plan (see `apply::check_while_locking`), or
/// else by the first free worker while the others start transferring ([`Fixed::prologue`]).
/// The commit then finds them in place, and a run that dies while staging leaves a journal
/// the next run undoes, removing what was staged. They are predicted from the plan alone
/// ([`expect_metadata`]): when staging ends otherwise, the commit writes them again.
pub struct Early {
    journals: Vec<Journal>,
    /// The metadata steps expected per side and folder (staging uses their names).
    pub meta_planned: BTreeMap<(Side, RelPath), Vec<Step>>,
    /// The sides whose journal is written.
    written: Mutex<Vec<Side>>,
}

impl Early {
    /// `expected`: the folders whose metadata the apply is expected to write, per side.
    pub fn new(
        plan: &Plan,
        layout: &Layout<'_>,
        now: f64,
        staging: &Staging,
        expected: &[(Side, RelPath)],
        meta_names: &mut Names,
    ) -> Early {
        let meta_planned = expect_metadata(layout, staging, expected, meta_names);
        let created = crate::meta::timefmt::iso_utc(now);
        let run = format!("ftpsync {}", std::process::id());
        Early {
            journals: journals(plan, staging, &meta_planned, &run, &created),
            meta_planned,
            written: Mutex::new(vec![]),
        }
    }

    /// Writes the journals.
    pub fn write(&self, w: &mut Worker<'_>) -> Result<()> {
        for j in &self.journals {
            burst::write_journal(w.side(j.side), j)?;
            self.written.lock().unwrap_or_else(|e| e.into_inner()).push(j.side);
        }
        Ok(())
    }

    /// Whether every journal is written.
    pub fn is_written(&self) -> bool {
        self.written().len() == self.journals.len()
    }

    fn written(&self) -> Vec<Side> {
        self.written.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Removes the journals written (after a rollback before the commit, or a check that
    /// refused the plan); a remark when one stays (the next run finds it and undoes what it
    /// lists: nothing visible changed).
    pub fn remove(&self, workers: &mut [Worker<'_>]) -> Option<String> {
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

/// The metadata steps expected before staging begins, from the plan: every document with
/// changes to come is staged under a new name, after moving the one the plan found aside
/// (apply's check refuses a plan whose metadata files changed since).
fn expect_metadata(
    layout: &Layout<'_>,
    staging: &Staging,
    expected: &[(Side, RelPath)],
    meta_names: &mut Names,
) -> BTreeMap<(Side, RelPath), Vec<Step>> {
    let mut planned = BTreeMap::new();
    for key in expected {
        let (side, folder) = key;
        let actual = layout.folder_path(folder, *side);
        if staging.is_staged_folder_content(*side, &actual) {
            continue;
        }
        let path = actual.join_unchecked(META_FILE);
        let found =
            layout.folder(folder).and_then(|f| if *side == Side::Local { f.local.as_ref() } else { f.remote.as_ref() });
        let mut steps = Vec::new();
        if found.is_some_and(|fs| fs.meta != MetaStatus::Absent) {
            steps.push(Step::Aside { path: path.clone(), backup: meta_names.backup(&actual), kind: Kind::File });
        }
        steps.push(Step::Place { staged: meta_names.metadata(&actual), path, kind: Kind::File });
        planned.insert(key.clone(), steps);
    }
    planned
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
    let journals = journals(fixed.plan, staging, &meta, &run, &created);
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
