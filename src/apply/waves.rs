//! Executing a checked plan, with several connections at once.
//!
//! Work goes in waves. Creations and transfers run by depth, shallowest first: a folder is
//! created in one wave and its content in the next. Deletions follow (only if every transfer
//! succeeded) by depth, deepest first: a folder is removed after its content. Within a wave the
//! entries are independent and are shared out among the workers, each with its own connection
//! to each side. What the workers learn (outcomes, counters, metadata) is kept in one [`State`],
//! indexed like the plan, so the result does not depend on which worker did what.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::batch;
use super::check::Fresh;
use super::commit::burst::remove_entry;
use super::commit::journal::Step;
use super::effects::meta_effects;
use super::exec;
use super::metastore::{MetaStore, MetaWrite};
use super::outcome::{Content, Outcome, Status};
use super::settings::ApplySettings;
use super::stage::Names;
use super::stage::Staging;
use super::stats::Counters;
use super::workers::{Worker, crew_size, share_out, share_out_then};
use crate::backend::{Target, is_lock_lost, with_write_attempts};
use crate::meta::META_FILE;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, EntryState, Plan, PlanEntry};
use crate::plan::layout::{Layout, side_name};
use crate::planner::snapshot::MetaFile;

/// What does not change while applying.
pub(super) struct Fixed<'a> {
    pub plan: &'a Plan,
    pub layout: Layout<'a>,
    pub actions: Vec<Action>,
    pub settings: &'a ApplySettings,
    pub fresh: &'a Fresh,
    pub local_mtimes: bool,
    pub remote_mtimes: bool,
    /// A staged apply: nothing visible changes here; entries are written where the staging
    /// says, and the commit ([`super::staged`]) makes them visible.
    pub staging: Option<&'a Staging>,
    /// Work one worker does first while the others start transferring (a staged apply's
    /// journals, written ahead of its commit).
    pub prologue: Option<&'a Prologue<'a>>,
}

/// See [`Fixed::prologue`].
pub type Prologue<'a> = dyn Fn(&mut Worker<'_>) -> Result<()> + Sync + 'a;

/// Work that follows a job, or precedes all of them.
enum Later {
    /// A metadata file whose folder's last change is done.
    Meta(MetaWrite),
    /// [`Fixed::prologue`].
    Prologue,
}

/// What the workers share and update.
pub(super) struct State {
    pub store: MetaStore,
    pub counters: Counters,
    pub outcomes: Vec<Outcome>,
    /// Folders whose creation failed: their content is not attempted.
    pub failed_dirs: Vec<RelPath>,
    /// Entries of folders created by copying (recorded once their content is done).
    pub created_dirs: Vec<usize>,
    /// What a staged apply wrote under temporary names so far, per side (files, and folders
    /// with their content): what a failure before the commit removes.
    pub staged: Vec<(Side, RelPath, Kind)>,
    /// A staged apply's metadata files, staged as each folder's last change ends: per side and
    /// folder, the commit's steps for it and where it was written.
    pub staged_meta: BTreeMap<(Side, RelPath), (Vec<Step>, Option<RelPath>)>,
    /// Names for staged metadata files (they go on where the staging's own names stop).
    pub meta_names: Names,
    /// The steps expected for each folder's metadata before staging begins (for a journal
    /// written early): staging uses their names, so the expectation usually holds.
    pub meta_planned: BTreeMap<(Side, RelPath), Vec<Step>>,
    /// What each file written holds (for the report).
    pub contents: Vec<Option<Content>>,
}

fn is_transfer(a: Action) -> bool {
    matches!(a, Action::Upload | Action::Download | Action::Record | Action::Forget)
}

fn is_deletion(a: Action) -> bool {
    matches!(a, Action::DeleteLocal | Action::DeleteRemote)
}

fn copies_folder(e: &PlanEntry, a: Action) -> bool {
    e.kind == Kind::Dir && matches!(a, Action::Upload | Action::Download)
}

/// Entry indices grouped by depth, in the order the waves run.
fn waves(fixed: &Fixed<'_>, wanted: fn(Action) -> bool, deepest_first: bool) -> Vec<Vec<usize>> {
    let mut by_depth: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, (e, a)) in fixed.plan.entries.iter().zip(&fixed.actions).enumerate() {
        if wanted(*a) {
            by_depth.entry(e.path.depth()).or_default().push(i);
        }
    }
    let mut waves: Vec<_> = by_depth.into_values().collect();
    if deepest_first {
        waves.reverse();
    }
    waves
}

/// Runs the whole plan; returns the final state (also after an error, so the caller can
/// report what was done) and the first error that stopped the run.
pub(super) fn execute(fixed: &Fixed<'_>, state: State, workers: &mut [Worker<'_>]) -> (State, Result<()>) {
    let state = Mutex::new(state);
    let result = run_phases(fixed, &state, workers);
    // Whatever happened, write what is known to be true (a staged apply has changed nothing
    // visible: its metadata goes with its commit, and only a complete staging needs the rest).
    let flushed = match fixed.staging {
        None => flush_all(fixed, &state, &mut workers[0]),
        Some(_) if result.is_ok() => stage_rest(fixed, &state, workers),
        Some(_) => Ok(()),
    };
    let state = state.into_inner().unwrap_or_else(|e| e.into_inner());
    (state, result.and(flushed))
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_phases(fixed: &Fixed<'_>, state: &Mutex<State>, workers: &mut [Worker<'_>]) -> Result<()> {
    let mut prologue = fixed.prologue;
    for wave in waves(fixed, is_transfer, false) {
        let jobs = jobs(fixed, &wave, workers);
        let indices: Vec<usize> = (0..jobs.len()).collect();
        share_out_then(
            prologue.take().map(|_| Later::Prologue).into_iter().collect(),
            &indices,
            workers,
            |w, j| Ok(transfer_job(fixed, state, w, &jobs[j])?.into_iter().map(Later::Meta).collect()),
            |w, later| follow_up(fixed, state, w, later),
        )?;
    }
    if let Some(prologue) = prologue {
        prologue(&mut workers[0])?;
    }
    // A copied folder is recorded after everything inside it, so the record's time is later
    // than every file the copy wrote.
    {
        let mut st = lock(state);
        let mut created = std::mem::take(&mut st.created_dirs);
        created.sort_unstable();
        for &i in created.iter().rev() {
            let e = &fixed.plan.entries[i];
            let now = fixed.settings.clock.now();
            st.store.set_sync(&e.path.parent(), &fixed.plan.remote.id, e.path.name(), None, None, now);
        }
    }
    for (i, e) in fixed.plan.entries.iter().enumerate() {
        if copies_folder(e, fixed.actions[i]) {
            for write in settle(fixed, state, e, fixed.actions[i]) {
                write_meta(fixed, state, &mut workers[0], write)?;
            }
        }
    }
    let blocked = lock(state).outcomes.iter().any(|o| o.status == Status::Failed);
    if blocked && fixed.staging.is_some() {
        // Staged: one failure, and nothing is committed.
        let st = lock(state);
        let (e, o) =
            fixed.plan.entries.iter().zip(&st.outcomes).find(|(_, o)| o.status == Status::Failed).expect("a failure");
        anyhow::bail!("{}: {}", e.path, o.error.as_deref().unwrap_or("failed"));
    }
    for wave in waves(fixed, is_deletion, true) {
        share_out_then(
            Vec::new(),
            &wave,
            workers,
            |w, i| Ok(delete_one(fixed, state, w, i, blocked)?.into_iter().map(Later::Meta).collect()),
            |w, later| follow_up(fixed, state, w, later),
        )?;
    }
    let mut st = lock(state);
    for (i, e) in fixed.plan.entries.iter().enumerate() {
        if e.is_skipped_conflict() && e.part_of.is_none() {
            st.outcomes[i] = Outcome::of(Status::Skipped);
        }
    }
    Ok(())
}

/// Does one [`Later`].
fn follow_up(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>, later: Later) -> Result<()> {
    match later {
        Later::Meta(write) => write_meta(fixed, state, w, write),
        Later::Prologue => fixed.prologue.map_or(Ok(()), |p| p(w)),
    }
}

/// A wave's entries as jobs ([`batch::jobs`]): small staged copies together where their
/// destination takes several at once.
fn jobs(fixed: &Fixed<'_>, wave: &[usize], workers: &[Worker<'_>]) -> Vec<Vec<usize>> {
    let small = |i: usize| {
        let e = &fixed.plan.entries[i];
        let to = match fixed.actions[i] {
            Action::Upload => Side::Remote,
            Action::Download => Side::Local,
            _ => return None,
        };
        let staged = fixed.staging.and_then(|s| s.entries.get(&i)).is_some_and(|s| s.write_at.is_some());
        let from = if to == Side::Remote { Side::Local } else { Side::Remote };
        let size = e.state(from)?.size;
        (e.kind == Kind::File && staged && size <= batch::SMALL).then_some((to, size))
    };
    let limit = |side| match side {
        Side::Local => workers[0].local.staged_batch(),
        Side::Remote => workers[0].remote.staged_batch(),
    };
    batch::jobs(wave, small, limit, crew_size(workers))
}

/// Copies a job of small files together ([`exec::transfer_staged_all`]), each after the same
/// last looks as alone ([`perform`]); what cannot go that way (its folder not created, a side
/// no longer as planned, a write that failed) goes alone afterwards ([`transfer_one`]), which
/// looks again and reports it.
fn transfer_job(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>, job: &[usize]) -> Result<Vec<MetaWrite>> {
    if let [i] = job {
        return transfer_one(fixed, state, w, *i);
    }
    crate::error::interrupt::check()?;
    let action = fixed.actions[job[0]];
    let (from, to) = if action == Action::Upload { (Side::Local, Side::Remote) } else { (Side::Remote, Side::Local) };
    let failed_dirs = lock(state).failed_dirs.clone();
    let mut alone = Vec::new();
    // (entry, its source state, its source and destination paths, where it is staged)
    let mut ready: Vec<(usize, &EntryState, RelPath, RelPath, RelPath)> = Vec::new();
    for &i in job {
        let e = &fixed.plan.entries[i];
        let at = fixed.staging.and_then(|s| s.entries.get(&i)).and_then(|s| s.write_at.clone());
        let src_path = fixed.layout.entry_path(e, from);
        let mut looked = || -> Result<()> {
            before_local_change(w, to)?;
            exec::recheck(w.side(from), &src_path, e.state(from))
        };
        match (at, e.state(from)) {
            (Some(at), Some(src_state)) if !failed_dirs.iter().any(|d| e.path.starts_with(d)) && looked().is_ok() => {
                ready.push((i, src_state, src_path.clone(), fixed.layout.entry_path(e, to), at))
            }
            _ => alone.push(i),
        }
    }
    let copies: Vec<(exec::Copy<'_>, &RelPath)> = ready
        .iter()
        .map(|(i, state, src_path, dst_path, at)| {
            let e = &fixed.plan.entries[*i];
            (exec::Copy { src_path, dst_path, state, replaces: e.state(to), sha256: e.sha256.as_deref() }, at)
        })
        .collect();
    let (src, dst): (&mut dyn Target, &mut dyn Target) = match from {
        Side::Local => (&mut *w.local, &mut *w.remote),
        Side::Remote => (&mut *w.remote, &mut *w.local),
    };
    let copied = exec::transfer_staged_all(src, dst, &copies);
    let (records_mtimes, offset) = (dst.info().records_mtimes, dst.time_offset());
    let mut writes = Vec::new();
    for ((&(i, ..), (copy, at)), copied) in ready.iter().zip(&copies).zip(copied) {
        let Some(copied) = copied else {
            alone.push(i);
            continue;
        };
        let e = &fixed.plan.entries[i];
        keep_content(state, i, copy.state, copied);
        if fixed.staging.and_then(|s| s.entries.get(&i)).is_some_and(|s| !s.steps.is_empty()) {
            lock(state).staged.push((to, (*at).clone(), Kind::File));
        }
        let bytes = record_copy(fixed, state, e, to, copy.state, records_mtimes, offset);
        {
            let mut st = lock(state);
            st.counters.count(action, e.kind, e.part_of.is_none(), bytes);
            st.outcomes[i] = Outcome::of(Status::Done);
        }
        writes.extend(settle(fixed, state, e, action));
    }
    for i in alone {
        writes.extend(transfer_one(fixed, state, w, i)?);
    }
    Ok(writes)
}

/// Creates, transfers or records one entry, then settles its metadata; returns the metadata
/// files that are now complete, to be written.
fn transfer_one(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>, i: usize) -> Result<Vec<MetaWrite>> {
    crate::error::interrupt::check()?;
    let e = &fixed.plan.entries[i];
    let action = fixed.actions[i];
    let blocked_by = lock(state).failed_dirs.iter().find(|d| e.path.starts_with(d)).cloned();
    let outcome = match blocked_by {
        Some(dir) => Outcome { status: Status::NotRun, error: Some(format!("folder {dir} could not be created")) },
        None => match perform(fixed, state, w, i, action) {
            // Another run holds the remote: nothing more may change.
            Err(err) if is_lock_lost(&err) => return Err(err),
            Ok(bytes) => {
                let mut st = lock(state);
                st.counters.count(action, e.kind, e.part_of.is_none(), bytes);
                if copies_folder(e, action) {
                    st.created_dirs.push(i);
                }
                Outcome::of(Status::Done)
            }
            Err(err) => {
                let mut st = lock(state);
                st.counters.errors += 1;
                st.counters.copy_errors += u64::from(matches!(action, Action::Upload | Action::Download));
                if e.kind == Kind::Dir {
                    st.failed_dirs.push(e.path.clone());
                }
                Outcome { status: Status::Failed, error: Some(format!("{err:#}")) }
            }
        },
    };
    let failed = (outcome.status == Status::Failed).then(|| outcome.error.clone().unwrap_or_default());
    lock(state).outcomes[i] = outcome;
    if let (Some(_), Some(why)) = (fixed.staging, failed) {
        // Staged: a failure stops the staging.
        anyhow::bail!("{}: {why}", e.path);
    }
    // Folder records wait until the folder's content is done (see `run_phases`).
    Ok(if copies_folder(e, action) { Vec::new() } else { settle(fixed, state, e, action) })
}

/// Marks the metadata effects of an entry as finished; returns the documents that are done
/// (taken out under the lock, written without it, so other workers go on meanwhile).
fn settle(fixed: &Fixed<'_>, state: &Mutex<State>, e: &PlanEntry, action: Action) -> Vec<MetaWrite> {
    let mut writes = Vec::new();
    for (side, folder) in meta_effects(e, action, fixed.local_mtimes, fixed.remote_mtimes) {
        let now = fixed.settings.clock.now();
        writes.extend(lock(state).store.settle(side, &folder, &fixed.layout, now));
    }
    writes
}

/// Before a change on the local side: the remote lock's last look (the remote side takes
/// it itself before its own changes, see `Target::settle_lock`).
fn before_local_change(w: &mut Worker<'_>, side: Side) -> Result<()> {
    if side == Side::Local { w.remote.settle_lock() } else { Ok(()) }
}

/// Writes one metadata document taken out of the store (stages it, in a staged apply).
fn write_meta(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>, write: MetaWrite) -> Result<()> {
    if let Some(staging) = fixed.staging {
        return stage_meta(fixed, staging, state, w, write);
    }
    before_local_change(w, write.side)?;
    match write.perform(w.side(write.side)) {
        Ok(message) => {
            lock(state).store.messages.extend(message);
            Ok(())
        }
        Err(e) => {
            lock(state).store.failed(&write);
            Err(e)
        }
    }
}

/// Stages one metadata document as soon as its folder's last change is staged, so that the
/// metadata is ready when the transfers are (the streaming apply writes it at the same moment).
/// A document staged before (made dirty again later) is staged anew and its earlier file goes.
fn stage_meta(
    fixed: &Fixed<'_>,
    staging: &Staging,
    state: &Mutex<State>,
    w: &mut Worker<'_>,
    write: MetaWrite,
) -> Result<()> {
    let side = write.side;
    let key = (side, write.folder.clone());
    let actual = fixed.layout.folder_path(&write.folder, side);
    let path = write.path().clone();
    // Where it goes is decided under the lock; the write runs without it.
    let (at, earlier) = {
        let mut st = lock(state);
        let earlier = st.staged_meta.remove(&key).and_then(|(_, at)| at);
        if let Some(old) = &earlier {
            st.staged.retain(|(s, p, _)| !(*s == side && p == old));
        }
        // The names expected when staging began, the first time.
        let planned = if earlier.is_none() { st.meta_planned.get(&key).cloned().unwrap_or_default() } else { vec![] };
        let mut planned_names = planned.into_iter().map(|s| match s {
            Step::Aside { backup, .. } => backup,
            Step::Place { staged, .. } => staged,
            Step::Made { path, .. } | Step::Drop { path, .. } => path,
        });
        let mut steps = Vec::new();
        let at = if staging.is_staged_folder_content(side, &actual) {
            // In a new folder: written under its final name there, visible with it.
            write.bytes().map(|_| staging.physical(side, &path))
        } else {
            if fixed.fresh.dirs.get(&key).is_some_and(|sd| sd.meta != MetaFile::Absent) {
                let backup = planned_names.next().unwrap_or_else(|| st.meta_names.backup(&actual));
                steps.push(Step::Aside { path: path.clone(), backup, kind: Kind::File });
            }
            write.bytes().map(|_| {
                let staged = planned_names.next().unwrap_or_else(|| st.meta_names.metadata(&actual));
                steps.push(Step::Place { staged: staged.clone(), path: path.clone(), kind: Kind::File });
                staged
            })
        };
        if let Some(at) = &at {
            st.staged.push((side, at.clone(), Kind::File));
        }
        st.staged_meta.insert(key, (steps, at.clone()));
        (at, earlier)
    };
    let target = w.side(side);
    if let Some(old) = earlier {
        remove_entry(target, &old, Kind::File)?;
    }
    if let (Some(at), Some(bytes)) = (at, write.bytes()) {
        let written = with_write_attempts(target.write_attempts(), || target.write_staged(&at, &mut &bytes[..], None))
            .with_context(|| format!("cannot stage the metadata file {path}"))?;
        anyhow::ensure!(written.bytes == bytes.len() as u64, "{at}: the metadata file was stored short");
    }
    Ok(())
}

/// Stages the metadata documents still unwritten once the staging is complete (those no
/// change settled, such as records dropped when the folder was read), shared out over the
/// workers.
fn stage_rest(fixed: &Fixed<'_>, state: &Mutex<State>, workers: &mut [Worker<'_>]) -> Result<()> {
    let writes: Vec<Mutex<Option<MetaWrite>>> = {
        let mut st = lock(state);
        let dirty = st.store.dirty();
        dirty
            .into_iter()
            .filter_map(|(side, folder)| {
                let now = fixed.settings.clock.now();
                st.store.take_write(side, &folder, &fixed.layout, now)
            })
            .map(|w| Mutex::new(Some(w)))
            .collect()
    };
    let indices: Vec<usize> = (0..writes.len()).collect();
    share_out(&indices, workers, |w, i| {
        let write = writes[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        write.map_or(Ok(()), |write| write_meta(fixed, state, w, write))
    })
}

/// Transfers, creates or records one entry; returns the bytes transferred.
fn perform(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>, i: usize, action: Action) -> Result<u64> {
    let e = &fixed.plan.entries[i];
    let staged = fixed.staging.and_then(|s| s.entries.get(&i));
    let peer = &fixed.plan.remote.id;
    let folder = e.path.parent();
    let name = e.path.name();
    let now = || fixed.settings.clock.now();
    match action {
        Action::Record => {
            let l = e.local.as_ref().context("a recorded entry must exist locally")?;
            let (m, s) = if e.kind == Kind::Dir { (None, None) } else { (Some(l.mtime), Some(l.size)) };
            lock(state).store.set_sync(&folder, peer, name, m, s, now());
            Ok(0)
        }
        Action::Forget => {
            lock(state).store.remove_sync(&folder, peer, name);
            Ok(0)
        }
        Action::Upload | Action::Download => {
            let (from, to) =
                if action == Action::Upload { (Side::Local, Side::Remote) } else { (Side::Remote, Side::Local) };
            let (src_state, dst_state) = (e.state(from), e.state(to));
            let src_state = src_state.context("the source of a copy must exist")?;
            before_local_change(w, to)?;
            let src_path = fixed.layout.entry_path(e, from);
            let dst_path = fixed.layout.entry_path(e, to);
            let (src, dst): (&mut dyn Target, &mut dyn Target) = match from {
                Side::Local => (&mut *w.local, &mut *w.remote),
                Side::Remote => (&mut *w.remote, &mut *w.local),
            };
            exec::recheck(src, &src_path, Some(src_state))?;
            let copy = exec::Copy {
                src_path: &src_path,
                dst_path: &dst_path,
                state: src_state,
                replaces: dst_state,
                sha256: e.sha256.as_deref(),
            };
            if let Some(staged) = staged {
                let at = staged.write_at.clone().context("a staged copy has a place to go")?;
                // What the commit replaces (or the name it takes) is checked just before the
                // commit, folder by folder (`staged::check_commit_targets`).
                if e.kind == Kind::Dir {
                    dst.make_dir(&at)?;
                } else {
                    let copied = exec::transfer_staged(src, dst, &copy, &at)?;
                    keep_content(state, i, src_state, copied);
                }
                if !staged.steps.is_empty() {
                    lock(state).staged.push((to, at, e.kind));
                }
                if e.kind == Kind::Dir {
                    return Ok(0);
                }
                return Ok(record_copy(fixed, state, e, to, src_state, dst.info().records_mtimes, dst.time_offset()));
            }
            if e.kind == Kind::Dir {
                // Creating refuses a name that exists: that is the re-check of a folder
                // planned absent (one round trip less per folder).
                if dst_state.is_some() {
                    exec::recheck(dst, &dst_path, dst_state)?;
                }
                dst.make_dir(&dst_path)?;
                return Ok(0);
            }
            let copied = exec::transfer(src, dst, &copy)?;
            keep_content(state, i, src_state, copied);
            Ok(record_copy(fixed, state, e, to, src_state, dst.info().records_mtimes, dst.time_offset()))
        }
        _ => Ok(0),
    }
}

/// Keeps what a copied file holds for the report: the planned size and time (the size was
/// checked, the time set where the destination allows) and the sha256 of the bytes sent.
fn keep_content(state: &Mutex<State>, i: usize, src_state: &EntryState, copied: exec::Copied) {
    lock(state).contents[i] =
        copied.sha256.map(|sha256| Content { size: src_state.size, mtime: src_state.mtime, sha256 });
}

/// Records a copied file in the metadata; returns its size.
fn record_copy(
    fixed: &Fixed<'_>,
    state: &Mutex<State>,
    e: &PlanEntry,
    to: Side,
    src_state: &EntryState,
    records_mtimes: bool,
    offset: f64,
) -> u64 {
    let (folder, name, peer) = (e.path.parent(), e.path.name(), &fixed.plan.remote.id);
    let done = fixed.settings.clock.now();
    let mut st = lock(state);
    st.store.set_sync(&folder, peer, name, Some(src_state.mtime), Some(src_state.size), done);
    if records_mtimes {
        // The upload time on the server's clock, as the server stamps the file.
        st.store.set_mtime(to, &folder, side_name(e, to), src_state.mtime, src_state.size, done + offset);
    }
    src_state.size
}

/// Deletes one entry (unless a transfer failed), then settles its metadata.
fn delete_one(
    fixed: &Fixed<'_>,
    state: &Mutex<State>,
    w: &mut Worker<'_>,
    i: usize,
    blocked: bool,
) -> Result<Vec<MetaWrite>> {
    crate::error::interrupt::check()?;
    let e = &fixed.plan.entries[i];
    let action = fixed.actions[i];
    let outcome = if blocked {
        Outcome { status: Status::NotRun, error: Some("deletions are not done after a failed transfer".into()) }
    } else {
        match delete(fixed, state, w, e, action) {
            Err(err) if is_lock_lost(&err) => return Err(err),
            Ok(()) => {
                lock(state).counters.count(action, e.kind, e.part_of.is_none(), 0);
                Outcome::of(Status::Done)
            }
            Err(err) => {
                lock(state).counters.errors += 1;
                Outcome { status: Status::Failed, error: Some(format!("{err:#}")) }
            }
        }
    };
    lock(state).outcomes[i] = outcome;
    Ok(settle(fixed, state, e, action))
}

fn delete(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>, e: &PlanEntry, action: Action) -> Result<()> {
    let side = if action == Action::DeleteLocal { Side::Local } else { Side::Remote };
    let planned = e.state(side);
    let path = fixed.layout.entry_path(e, side);
    if fixed.staging.is_some() {
        // Staged: the entry is moved aside at commit; here it is only checked.
        exec::recheck(w.side(side), &path, planned)?;
        if e.kind == Kind::Dir {
            lock(state).store.doc(side, &e.path).gone = true;
        }
        let records_mtimes = w.side(side).info().records_mtimes;
        forget_deleted(fixed, state, e, side, records_mtimes);
        return Ok(());
    }
    before_local_change(w, side)?;
    let target = w.side(side);
    exec::recheck(target, &path, planned)?;
    if e.kind == Kind::Dir {
        let found = fixed.fresh.dirs.get(&(side, e.path.clone()));
        if found.is_some_and(|sd| sd.meta != MetaFile::Absent) {
            target.remove_file(&path.join_unchecked(META_FILE))?;
        }
        lock(state).store.doc(side, &e.path).gone = true;
        target.remove_dir(&path)?;
    } else {
        target.remove_file(&path)?;
    }
    let records_mtimes = target.info().records_mtimes;
    forget_deleted(fixed, state, e, side, records_mtimes);
    Ok(())
}

/// Removes the records of a deleted entry (its own; a folder's content goes with the folder's
/// metadata file).
fn forget_deleted(fixed: &Fixed<'_>, state: &Mutex<State>, e: &PlanEntry, side: Side, records_mtimes: bool) {
    if e.part_of.is_none() {
        let mut st = lock(state);
        st.store.remove_sync(&e.path.parent(), &fixed.plan.remote.id, e.path.name());
        if records_mtimes {
            st.store.remove_mtime(side, &e.path.parent(), side_name(e, side));
        }
    }
}

fn flush_all(fixed: &Fixed<'_>, state: &Mutex<State>, w: &mut Worker<'_>) -> Result<()> {
    let mut st = lock(state);
    let mut first_error = None;
    for (side, folder) in st.store.dirty() {
        let now = fixed.settings.clock.now();
        if let Err(e) =
            before_local_change(w, side).and_then(|()| st.store.flush(side, &folder, w.side(side), &fixed.layout, now))
        {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
