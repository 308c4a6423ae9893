//! Apply: the only code that changes anything.
//!
//! 1. every folder the plan changes is listed again and compared with the plan
//!    ([`check`]); any drift refuses the whole plan before the first change;
//! 2. folders are created and files transferred, each entry re-checked just before it is
//!    changed, level by level so a folder exists before its content ([`waves`]);
//! 3. deletions follow, deepest first, and only if every transfer succeeded;
//! 4. metadata is written per folder as soon as its last action is done.
//!
//! Independent actions run at the same time on several connections (`workers`).

mod batch;
pub mod case;
pub mod check;
pub mod commit;
pub mod effects;
pub mod exec;
pub mod leftovers;
pub mod metastore;
pub mod outcome;
pub mod report;
pub mod settings;
mod sidehash;
pub mod stage;
mod staged;
pub mod stats;
mod waves;
pub mod workers;

pub use self::outcome::{Applied, ApplyError, Outcome, Status};
pub use self::settings::ApplySettings;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use self::check::Drift;
use self::effects::{copies_records_to_remote, meta_effects};
use self::metastore::MetaStore;
use self::stats::Counters;
use self::workers::Worker;
use crate::backend::Target;
use crate::backend::pool::{Joining, Pair};
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, Plan};
use crate::plan::effective_actions;
use crate::plan::layout::{Layout, touched_folders};
use crate::planner::pairs::effective_entries;

/// Applies a plan to two open targets, holding their locks while it does.
pub fn apply(
    plan: &Plan,
    local: &mut dyn Target,
    remote: &mut dyn Target,
    settings: &ApplySettings,
) -> Result<Applied, ApplyError> {
    let joining = Joining::new(local, remote);
    apply_with(plan, local, remote, settings, &joining)
}

/// [`apply`] with extra connections that are already there or coming up (the scan's, when
/// the plan was just made): only the ones missing are opened.
pub fn apply_with(
    plan: &Plan,
    local: &mut dyn Target,
    remote: &mut dyn Target,
    settings: &ApplySettings,
    joining: &Joining,
) -> Result<Applied, ApplyError> {
    // The extra connections come up while the locks are taken (they change nothing before the
    // lock is confirmed: they only take jobs shared out after it), and join when ready.
    let actions = effective_actions(&plan.entries);
    let folders = touched_folders(plan, &actions);
    // A target whose connections share a session (SFTP) runs several workers per session.
    let per_session = remote.workers_per_session().max(local.workers_per_session());
    let useful = useful_extra(&actions, &folders, settings.workers.max(1) * per_session);
    joining.open(useful.saturating_sub(joining.expected()));
    let mut notes = local.lock(settings.break_lock)?;
    if let Err(e) = remote.begin_lock(settings.break_lock).map(|n| notes.extend(n)) {
        let _ = local.unlock();
        return Err(e.into());
    }
    let result = apply_locked(plan, actions, &folders, local, remote, settings, &mut notes, joining);
    joining.report_failures();
    let unlocked = remote.unlock().and(local.unlock());
    let mut applied = result?;
    unlocked?;
    notes.append(&mut applied.messages);
    applied.messages = notes;
    Ok(applied)
}

/// How many connections beyond the first apply can keep busy, up to `--workers` in all: one per
/// entry that is copied or removed beyond the first, or one per folder the check lists when it
/// lists more than one (the first connection confirms the lock meanwhile:
/// [`check_while_locking`]), whichever is more. A plan that uploads one file logs in once.
fn useful_extra(actions: &[Action], folders: &BTreeSet<RelPath>, workers: usize) -> usize {
    let changes = actions
        .iter()
        .filter(|a| matches!(a, Action::Upload | Action::Download | Action::DeleteLocal | Action::DeleteRemote))
        .count();
    let checking = if folders.len() > 1 { folders.len() } else { 0 };
    (workers.max(1) - 1).min(changes.saturating_sub(1).max(checking))
}

/// Checks the plan while the remote lock is being confirmed (the lock was claimed before, so
/// no run that starts now changes what is checked; nothing is changed until both are done).
/// The first worker, once the lock is confirmed, writes a staged apply's journals (`early`)
/// while the others are still checking: it would be idle otherwise.
fn check_while_locking(
    plan: &Plan,
    layout: &Layout<'_>,
    folders: &BTreeSet<RelPath>,
    workers: &mut [Worker<'_>],
    notes: &mut Vec<String>,
    early: Option<&staged::Early>,
) -> Result<(Vec<Drift>, check::Fresh)> {
    let (first, others) = workers.split_first_mut().expect("apply has at least one worker");
    if others.is_empty() {
        notes.extend(first.remote.confirm_lock()?);
        return check::check(plan, layout, folders, workers);
    }
    let (confirmed, checked) = std::thread::scope(|s| {
        let confirming = s.spawn(|| {
            let notes = first.remote.confirm_lock()?;
            early.map_or(Ok(()), |e| e.write(first))?;
            Ok::<_, anyhow::Error>(notes)
        });
        let checked = check::check(plan, layout, folders, others);
        (confirming.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), checked)
    });
    notes.extend(confirmed?);
    checked
}

/// Everything apply finds out before its first change: the plan checked (drift refuses it),
/// names that would collide on a server that ignores case, a dead run's temporary files
/// removed.
fn before_changes(
    plan: &Plan,
    actions: &[Action],
    layout: &Layout<'_>,
    folders: &BTreeSet<RelPath>,
    workers: &mut [Worker<'_>],
    notes: &mut Vec<String>,
    early: Option<&staged::Early>,
) -> Result<check::Fresh, ApplyError> {
    let (drift, fresh) = check_while_locking(plan, layout, folders, workers, notes, early)?;
    if !drift.is_empty() {
        return Err(ApplyError::Drift(drift));
    }
    refuse_case_collisions(plan, actions, &mut *workers[0].remote)?;
    // Before our own uploads start: a dead run's temporary name may be one of ours too.
    notes.extend(leftovers::remove(plan, layout, &fresh, &mut workers[0])?);
    Ok(fresh)
}

/// Whether each side (local, remote) can rename folders, asked only of a side where the plan
/// creates or deletes one (a staged apply renames them).
fn renames_folders(plan: &Plan, actions: &[Action], w: &mut Worker<'_>) -> Result<[bool; 2]> {
    let mut out = [true; 2];
    for (i, side) in [Side::Local, Side::Remote].into_iter().enumerate() {
        let changes_folders = plan.entries.iter().zip(actions).any(|(e, a)| {
            e.kind == Kind::Dir
                && match side {
                    Side::Local => matches!(a, Action::Download | Action::DeleteLocal),
                    Side::Remote => matches!(a, Action::Upload | Action::DeleteRemote),
                }
        });
        if changes_folders {
            out[i] = w.side(side).renames_folders()?;
        }
    }
    Ok(out)
}

/// Stops before any change when the plan writes names differing only in case into one remote
/// folder and the server folds case ([`case`]); asks the server only for such a plan.
fn refuse_case_collisions(plan: &Plan, actions: &[Action], remote: &mut dyn Target) -> Result<()> {
    let pairs = case::collisions(plan, actions);
    if pairs.is_empty() || !remote.folds_case()? {
        return Ok(());
    }
    anyhow::bail!("{}", case::refusal(&remote.info().display, &pairs))
}

#[allow(clippy::too_many_arguments)]
fn apply_locked(
    plan: &Plan,
    actions: Vec<Action>,
    folders: &BTreeSet<RelPath>,
    local: &mut dyn Target,
    remote: &mut dyn Target,
    settings: &ApplySettings,
    notes: &mut Vec<String>,
    joining: &Joining,
) -> Result<Applied, ApplyError> {
    let layout = Layout::new(plan);
    // The connections up by now (a connection a target had spare is); the others join the
    // lists shared out once they are up (a server refusing more: the work goes on without).
    let mut extra: Vec<Pair> = std::iter::from_fn(|| joining.take()).collect();
    let mut workers = vec![Worker { local, remote, late: Some(joining) }];
    workers.extend(extra.iter_mut().map(|(l, r)| Worker { local: &mut **l, remote: &mut **r, late: Some(joining) }));
    let (local_mtimes, remote_mtimes) =
        (workers[0].local.info().records_mtimes, workers[0].remote.info().records_mtimes);
    // What a staged apply stages, and so its journals, follow from the plan: the journals are
    // written while the plan is checked.
    let staging = match settings.stage {
        true => Some(stage::Staging::new(
            plan,
            &actions,
            &layout,
            std::process::id(),
            renames_folders(plan, &actions, &mut workers[0])?,
        )?),
        false => None,
    };
    let mut meta_names = staging.as_ref().map_or_else(|| stage::Names::new(std::process::id()), |s| s.names.after());
    // Each change's metadata documents, once per change (a document is written when the last
    // of its changes settles).
    let meta_changes: Vec<(Side, RelPath)> =
        plan.entries.iter().zip(&actions).flat_map(|(e, a)| meta_effects(e, *a, local_mtimes, remote_mtimes)).collect();
    let early = staging.as_ref().map(|s| {
        let expected: Vec<(Side, RelPath)> =
            meta_changes.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        staged::Early::new(plan, &layout, settings.clock.now(), s, &expected, &mut meta_names)
    });
    // Not while the root, where the journals go, is being listed: a server may refuse a listing
    // when a file in it is renamed meanwhile (the journal is written under a temporary name
    // first), and would make the folder unreadable. Then the first free worker writes them.
    // Nor where the journal would take longer than the check ([`Target::journal_while_checking`]).
    let early_in_check =
        early.as_ref().filter(|_| !folders.contains(&RelPath::root()) && workers[0].remote.journal_while_checking());
    let fresh = match before_changes(plan, &actions, &layout, folders, &mut workers, notes, early_in_check) {
        Ok(fresh) => fresh,
        Err(e) => {
            notes.extend(early.as_ref().and_then(|early| early.remove(&mut workers)));
            return Err(e);
        }
    };
    let mut store = MetaStore::new(settings.meta_style.clone());
    if copies_records_to_remote(remote_mtimes) {
        store = store.with_copy_on_remote(&plan.local.id);
    }
    for ((side, folder), sd) in &fresh.dirs {
        store.load(*side, folder.clone(), sd);
        let records_mtimes = if *side == Side::Local { local_mtimes } else { remote_mtimes };
        if records_mtimes && sd.meta.valid().is_some() {
            let doc = store.doc(*side, folder);
            for name in effective_entries(sd).1 {
                doc.meta.mtimes.remove(&name);
                doc.dirty = true;
            }
        }
    }
    for (side, folder) in &meta_changes {
        store.expect(*side, folder);
    }
    let outcomes = actions
        .iter()
        .map(|a| {
            Outcome::of(if matches!(a, Action::Equal) {
                Status::Unchanged
            } else if *a == Action::Skip {
                Status::Skipped
            } else {
                Status::NotRun
            })
        })
        .collect();
    let write_early = |w: &mut Worker<'_>| early.as_ref().map_or(Ok(()), |e| e.write(w));
    let fixed = waves::Fixed {
        plan,
        layout,
        actions,
        settings,
        fresh: &fresh,
        local_mtimes,
        remote_mtimes,
        staging: staging.as_ref(),
        // Journals not written while checking (one connection only): the first free worker's.
        prologue: early.as_ref().filter(|e| !e.is_written()).map(|_| &write_early as &waves::Prologue<'_>),
    };
    let state = waves::State {
        store,
        counters: Counters::from_scan(plan),
        outcomes,
        failed_dirs: Vec::new(),
        created_dirs: Vec::new(),
        staged: Vec::new(),
        staged_meta: BTreeMap::new(),
        meta_names,
        meta_planned: early.as_ref().map(|e| e.meta_planned.clone()).unwrap_or_default(),
        contents: vec![None; plan.entries.len()],
    };
    let (mut state, result) = waves::execute(&fixed, state, &mut workers);
    let ended = match (&staging, &early) {
        (Some(staging), Some(early)) => staged::end(&fixed, staging, &mut state, &mut workers, early, result)?,
        _ => {
            result?;
            staged::Ending { rolled_back: None, commit_window: None }
        }
    };
    let mut messages = state.store.messages;
    messages.sort();
    Ok(Applied {
        actions: fixed.actions,
        outcomes: state.outcomes,
        counters: state.counters,
        messages,
        rolled_back: ended.rolled_back,
        commit_window: ended.commit_window,
        contents: state.contents,
    })
}
