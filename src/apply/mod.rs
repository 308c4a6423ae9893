//! Apply: the only code that changes anything.
//!
//! 1. every folder the plan changes is listed again and compared with the plan
//!    ([`check`]); any drift refuses the whole plan before the first change;
//! 2. folders are created and files transferred in path order, each entry re-checked just
//!    before it is changed;
//! 3. deletions follow, deepest first, and only if every transfer succeeded;
//! 4. metadata is written per folder as soon as its last action is done.

pub mod check;
pub mod exec;
pub mod layout;
pub mod metastore;

use std::sync::Arc;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use self::check::{Drift, SideKey};
use self::layout::{Layout, side_name, touched_folders};
use self::metastore::MetaStore;
use crate::meta::{META_FILE, WriteStyle};
use crate::model::{Clock, Kind};
use crate::plan::effective_actions;
use crate::plan::model::{Action, Plan, PlanEntry};
use crate::planner::pairs::effective_entries;
use crate::planner::snapshot::{MetaFile, Side};
use crate::relpath::RelPath;
use crate::stats::Counters;
use crate::target::Target;

/// How apply records what it did.
pub struct ApplySettings {
    pub clock: Arc<dyn Clock>,
    pub meta_style: WriteStyle,
    /// Take the remote lock even when another run holds it.
    pub break_lock: bool,
}

/// What happened to one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to do.
    Unchanged,
    Done,
    /// Left alone on purpose (a skip, an unresolved conflict).
    Skipped,
    Failed,
    /// Not attempted because something it depends on failed.
    NotRun,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    fn of(status: Status) -> Self {
        Outcome { status, error: None }
    }
}

/// Result of an apply that got past the checks.
pub struct Applied {
    /// The effective action of every plan entry.
    pub actions: Vec<Action>,
    /// The outcome of every plan entry.
    pub outcomes: Vec<Outcome>,
    pub counters: Counters,
    /// Remarks for the user (metadata files removed...).
    pub messages: Vec<String>,
}

impl Applied {
    /// The result of a plan that changes nothing (applying it would only take a lock).
    pub fn nothing_to_do(plan: &Plan) -> Applied {
        let actions = effective_actions(&plan.entries);
        let outcomes = actions.iter().map(|a| Outcome::of(if *a == Action::Equal { Status::Unchanged } else { Status::Skipped })).collect();
        Applied { actions, outcomes, counters: Counters::from_scan(plan), messages: Vec::new() }
    }

    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o.status, Status::Failed | Status::NotRun)).count()
    }
}

/// Why apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The world changed since the plan was made; nothing was changed.
    #[error("the plan no longer matches the targets ({} difference(s)); nothing was changed", .0.len())]
    Drift(Vec<Drift>),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

fn pick<'a>(side: impl Into<SideKey>, local: &'a mut dyn Target, remote: &'a mut dyn Target) -> &'a mut dyn Target {
    match side.into() {
        SideKey::Local => local,
        SideKey::Remote => remote,
    }
}

/// The metadata documents an action changes, as (side, folder).
fn meta_effects(e: &PlanEntry, action: Action, local_mtimes: bool, remote_mtimes: bool) -> Vec<(SideKey, RelPath)> {
    let folder = e.path.parent();
    let top = e.part_of.is_none();
    let mut out = Vec::new();
    match action {
        Action::Upload | Action::Download | Action::Record | Action::Forget => out.push((SideKey::Local, folder.clone())),
        Action::DeleteLocal | Action::DeleteRemote if top => out.push((SideKey::Local, folder.clone())),
        _ => {}
    }
    let file = e.kind == Kind::File;
    match action {
        Action::Upload if file && remote_mtimes => out.push((SideKey::Remote, folder)),
        Action::DeleteRemote if top && remote_mtimes => out.push((SideKey::Remote, folder)),
        Action::Download if file && local_mtimes => out.push((SideKey::Local, folder)),
        _ => {}
    }
    out.dedup();
    out
}

/// Applies a plan to two open targets, holding their locks while it does.
pub fn apply(plan: &Plan, local: &mut dyn Target, remote: &mut dyn Target, settings: &ApplySettings) -> Result<Applied, ApplyError> {
    let mut notes = local.lock(settings.break_lock)?;
    if let Err(e) = remote.lock(settings.break_lock).map(|n| notes.extend(n)) {
        let _ = local.unlock();
        return Err(e.into());
    }
    let result = apply_locked(plan, local, remote, settings);
    let unlocked = remote.unlock().and(local.unlock());
    let mut applied = result?;
    unlocked?;
    notes.append(&mut applied.messages);
    applied.messages = notes;
    Ok(applied)
}

fn apply_locked(plan: &Plan, local: &mut dyn Target, remote: &mut dyn Target, settings: &ApplySettings) -> Result<Applied, ApplyError> {
    let actions = effective_actions(&plan.entries);
    let layout = Layout::new(plan);
    let folders = touched_folders(plan, &actions);
    let (drift, fresh) = check::check(plan, &layout, &folders, local, remote)?;
    if !drift.is_empty() {
        return Err(ApplyError::Drift(drift));
    }
    let (local_mtimes, remote_mtimes) = (local.info().records_mtimes, remote.info().records_mtimes);
    let mut store = MetaStore::new(settings.meta_style.clone());
    for ((side, folder), sd) in &fresh.dirs {
        store.load(*side, folder.clone(), sd);
        let records_mtimes = if *side == SideKey::Local { local_mtimes } else { remote_mtimes };
        if records_mtimes && sd.meta.valid().is_some() {
            let doc = store.doc(*side, folder);
            for name in effective_entries(sd).1 {
                doc.meta.mtimes.remove(&name);
                doc.dirty = true;
            }
        }
    }
    for (e, a) in plan.entries.iter().zip(&actions) {
        for (side, folder) in meta_effects(e, *a, local_mtimes, remote_mtimes) {
            store.expect(side, &folder);
        }
    }
    let mut run = Run { plan, layout, actions, store, settings, counters: Counters::from_scan(plan), outcomes: Vec::new() };
    run.outcomes = run
        .actions
        .iter()
        .map(|a| Outcome::of(if matches!(a, Action::Equal) { Status::Unchanged } else if *a == Action::Skip { Status::Skipped } else { Status::NotRun }))
        .collect();
    let result = run.execute(local, remote, &fresh);
    // Whatever happened, write what is known to be true.
    let flushed = run.flush_all(local, remote);
    result?;
    flushed?;
    Ok(Applied { actions: run.actions, outcomes: run.outcomes, counters: run.counters, messages: run.store.messages })
}

struct Run<'a> {
    plan: &'a Plan,
    layout: Layout<'a>,
    actions: Vec<Action>,
    store: MetaStore,
    settings: &'a ApplySettings,
    counters: Counters,
    outcomes: Vec<Outcome>,
}

impl Run<'_> {
    fn now(&self) -> f64 {
        self.settings.clock.now()
    }

    fn execute(&mut self, local: &mut dyn Target, remote: &mut dyn Target, fresh: &check::Fresh) -> Result<()> {
        let (local_mtimes, remote_mtimes) = (local.info().records_mtimes, remote.info().records_mtimes);
        let mut failed_dirs: Vec<RelPath> = Vec::new();
        let mut created_dirs: Vec<usize> = Vec::new();
        for i in 0..self.plan.entries.len() {
            let e = &self.plan.entries[i];
            let action = self.actions[i];
            if !matches!(action, Action::Upload | Action::Download | Action::Record | Action::Forget) {
                continue;
            }
            crate::interrupt::check()?;
            if let Some(dir) = failed_dirs.iter().find(|d| e.path.starts_with(d)) {
                self.outcomes[i] = Outcome { status: Status::NotRun, error: Some(format!("folder {dir} could not be created")) };
            } else {
                match self.perform(e, action, local, remote) {
                    Ok(bytes) => {
                        self.outcomes[i] = Outcome::of(Status::Done);
                        self.counters.count(action, e.kind, e.part_of.is_none(), bytes);
                        if e.kind == Kind::Dir && matches!(action, Action::Upload | Action::Download) {
                            created_dirs.push(i);
                        }
                    }
                    Err(err) => {
                        self.outcomes[i] = Outcome { status: Status::Failed, error: Some(format!("{err:#}")) };
                        self.counters.errors += 1;
                        self.counters.copy_errors += u64::from(matches!(action, Action::Upload | Action::Download));
                        if e.kind == Kind::Dir {
                            failed_dirs.push(e.path.clone());
                        }
                    }
                }
            }
            // Folder records wait until the folder's content is done (see below).
            if !(e.kind == Kind::Dir && matches!(action, Action::Upload | Action::Download)) {
                self.settle(e, action, local_mtimes, remote_mtimes, local, remote)?;
            }
        }
        // A copied folder is recorded after everything inside it, so the record's time is
        // later than every file the copy wrote.
        for &i in created_dirs.iter().rev() {
            let e = &self.plan.entries[i];
            let now = self.now();
            self.store.set_sync(&e.path.parent(), &self.plan.remote.id, e.path.name(), None, None, now);
        }
        for i in 0..self.plan.entries.len() {
            let e = &self.plan.entries[i];
            if e.kind == Kind::Dir && matches!(self.actions[i], Action::Upload | Action::Download) {
                self.settle(e, self.actions[i], local_mtimes, remote_mtimes, local, remote)?;
            }
        }
        let blocked = self.outcomes.iter().any(|o| o.status == Status::Failed);
        for i in (0..self.plan.entries.len()).rev() {
            let e = &self.plan.entries[i];
            let action = self.actions[i];
            if !matches!(action, Action::DeleteLocal | Action::DeleteRemote) {
                continue;
            }
            crate::interrupt::check()?;
            if blocked {
                self.outcomes[i] = Outcome { status: Status::NotRun, error: Some("deletions are not done after a failed transfer".into()) };
            } else {
                match self.delete(e, action, local, remote, fresh) {
                    Ok(()) => {
                        self.outcomes[i] = Outcome::of(Status::Done);
                        self.counters.count(action, e.kind, e.part_of.is_none(), 0);
                    }
                    Err(err) => {
                        self.outcomes[i] = Outcome { status: Status::Failed, error: Some(format!("{err:#}")) };
                        self.counters.errors += 1;
                    }
                }
            }
            self.settle(e, action, local_mtimes, remote_mtimes, local, remote)?;
        }
        for (i, e) in self.plan.entries.iter().enumerate() {
            if e.is_skipped_conflict() && e.part_of.is_none() {
                self.outcomes[i] = Outcome::of(Status::Skipped);
            }
        }
        Ok(())
    }

    /// Marks the metadata effects of an entry as finished (writing documents that are done).
    fn settle(&mut self, e: &PlanEntry, action: Action, lm: bool, rm: bool, local: &mut dyn Target, remote: &mut dyn Target) -> Result<()> {
        for (side, folder) in meta_effects(e, action, lm, rm) {
            let now = self.now();
            self.store.settle(side, &folder, pick(side, local, remote), &self.layout, now)?;
        }
        Ok(())
    }

    /// Transfers, creates or records one entry; returns the bytes transferred.
    fn perform(&mut self, e: &PlanEntry, action: Action, local: &mut dyn Target, remote: &mut dyn Target) -> Result<u64> {
        let peer = self.plan.remote.id.clone();
        let folder = e.path.parent();
        let name = e.path.name().to_string();
        match action {
            Action::Record => {
                let now = self.now();
                let l = e.local.as_ref().context("a recorded entry must exist locally")?;
                let (m, s) = if e.kind == Kind::Dir { (None, None) } else { (Some(l.mtime), Some(l.size)) };
                self.store.set_sync(&folder, &peer, &name, m, s, now);
                Ok(0)
            }
            Action::Forget => {
                self.store.remove_sync(&folder, &peer, &name);
                Ok(0)
            }
            Action::Upload | Action::Download => {
                let (from, to) = if action == Action::Upload { (Side::Local, Side::Remote) } else { (Side::Remote, Side::Local) };
                let (src_state, dst_state) = match from {
                    Side::Local => (e.local.as_ref(), e.remote.as_ref()),
                    Side::Remote => (e.remote.as_ref(), e.local.as_ref()),
                };
                let src_state = src_state.context("the source of a copy must exist")?;
                let src_path = self.layout.entry_path(e, from);
                let dst_path = self.layout.entry_path(e, to);
                {
                    let (src, dst): (&mut dyn Target, &mut dyn Target) = match from {
                        Side::Local => (&mut *local, &mut *remote),
                        Side::Remote => (&mut *remote, &mut *local),
                    };
                    exec::recheck(src, &src_path, Some(src_state))?;
                    exec::recheck(dst, &dst_path, dst_state)?;
                    if e.kind == Kind::Dir {
                        dst.make_dir(&dst_path)?;
                        return Ok(0);
                    }
                    exec::transfer(src, dst, &src_path, &dst_path, src_state, e.sha256.as_deref())?;
                }
                let now = self.now();
                self.store.set_sync(&folder, &peer, &name, Some(src_state.mtime), Some(src_state.size), now);
                let dest = pick(to, local, remote);
                if dest.info().records_mtimes {
                    // The upload time on the server's clock, as the server stamps the file.
                    let uploaded = now + dest.time_offset();
                    self.store.set_mtime(to.into(), &folder, side_name(e, to), src_state.mtime, src_state.size, uploaded);
                }
                Ok(src_state.size)
            }
            _ => Ok(0),
        }
    }

    fn delete(&mut self, e: &PlanEntry, action: Action, local: &mut dyn Target, remote: &mut dyn Target, fresh: &check::Fresh) -> Result<()> {
        let side = if action == Action::DeleteLocal { Side::Local } else { Side::Remote };
        let planned = if side == Side::Local { e.local.as_ref() } else { e.remote.as_ref() };
        let path = self.layout.entry_path(e, side);
        let target = pick(side, local, remote);
        exec::recheck(target, &path, planned)?;
        if e.kind == Kind::Dir {
            let found = fresh.dirs.get(&(side.into(), e.path.clone()));
            if found.is_some_and(|sd| sd.meta != MetaFile::Absent) {
                target.remove_file(&path.join_unchecked(META_FILE))?;
            }
            self.store.doc(side.into(), &e.path).gone = true;
            target.remove_dir(&path)?;
        } else {
            target.remove_file(&path)?;
        }
        if e.part_of.is_none() {
            let name = e.path.name();
            let peer = self.plan.remote.id.clone();
            self.store.remove_sync(&e.path.parent(), &peer, name);
            if target.info().records_mtimes {
                self.store.remove_mtime(side.into(), &e.path.parent(), side_name(e, side));
            }
        }
        Ok(())
    }

    fn flush_all(&mut self, local: &mut dyn Target, remote: &mut dyn Target) -> Result<()> {
        let mut first_error = None;
        for (side, folder) in self.store.dirty() {
            let now = self.now();
            if let Err(e) = self.store.flush(side, &folder, pick(side, local, remote), &self.layout, now) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
