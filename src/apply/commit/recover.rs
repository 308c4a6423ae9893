//! Finding the journal of a commit that was cut short and resolving it, before anything else
//! a run does (`plan`, `apply`, the one-step commands, `ftpsync recover`).
//!
//! Both sides are resolved the same way: forward when the burst began and every side can go
//! forward (every staged entry is still there, or the commit was complete), otherwise back.
//! A journal is only ever written while the remote lock is held, so the remote lock is taken
//! first (a dead run's lock is stale and replaced; a live run's is respected).

use anyhow::{Context, Result};

use super::burst::{existing, journal_path, perform};
use super::journal::Journal;
use super::resolve;
use crate::backend::{Target, read_to_vec};
use crate::model::relpath::RelPath;

/// What was found and done.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovered {
    /// No journal on either side.
    Nothing,
    /// The commit of `run` was completed (every staged entry was there).
    Completed { run: String, renames: usize },
    /// The commit of `run` was undone (it had not begun, or a staged entry was missing).
    Undone { run: String, renames: usize },
}

impl Recovered {
    /// The line that tells the user, if anything was done.
    pub fn message(&self) -> Option<String> {
        match self {
            Recovered::Nothing => None,
            Recovered::Completed { run, renames } => Some(format!(
                "Completed the interrupted commit of {run} from its journal ({renames} rename(s)): every staged file was in place and verified."
            )),
            Recovered::Undone { run, renames } => Some(format!(
                "Undid the interrupted commit of {run} from its journal ({renames} rename(s)): it had not begun or a staged file was missing, so both sides are back as before it."
            )),
        }
    }
}

/// The journal on a side, if there is one.
pub fn read_journal(target: &mut dyn Target) -> Result<Option<Journal>> {
    let path = journal_path();
    if target.stat(&path)?.is_none() {
        return Ok(None);
    }
    let bytes = read_to_vec(target, &path).with_context(|| format!("reading {} on {}", path, target.info().display))?;
    Journal::parse(&bytes).map(Some)
}

/// Looks for journals on both sides (the remote only, without `local`) and resolves them;
/// takes and releases the remote lock only when there is something to do.
pub fn recover(mut local: Option<&mut dyn Target>, remote: &mut dyn Target, break_lock: bool) -> Result<Recovered> {
    let found_local = match local.as_deref_mut() {
        Some(l) => read_journal(l)?,
        None => None,
    };
    let found_remote = read_journal(remote)?;
    if found_local.is_none() && found_remote.is_none() {
        return Ok(Recovered::Nothing);
    }
    remote.lock(break_lock)?;
    let result = resolve_sides(local, remote, found_local, found_remote);
    let unlocked = remote.unlock();
    let recovered = result?;
    unlocked?;
    Ok(recovered)
}

/// What the names found on one side show of its journal's commit.
struct Judged {
    settled: bool,
    begun: bool,
    can_go_forward: bool,
}

fn resolve_sides(
    local: Option<&mut dyn Target>,
    remote: &mut dyn Target,
    found_local: Option<Journal>,
    found_remote: Option<Journal>,
) -> Result<Recovered> {
    let mut sides: Vec<(&mut dyn Target, Journal)> = Vec::new();
    if let Some(j) = found_remote {
        sides.push((remote, j));
    }
    if let (Some(j), Some(local)) = (found_local, local) {
        sides.push((local, j));
    }
    let mut found = Vec::new();
    for (target, journal) in &mut sides {
        found.push(existing(&mut **target, &journal.steps)?);
    }
    // Each side judged once from the names found: settled (its burst complete), begun, and
    // able to go forward.
    let judged: Vec<Judged> = sides
        .iter()
        .zip(&found)
        .map(|((_, j), f)| {
            let exists = |p: &RelPath| f.contains(p);
            Judged {
                settled: resolve::settled(j, &exists),
                begun: resolve::begun(&j.steps, &exists),
                can_go_forward: resolve::can_go_forward(&j.steps, &exists),
            }
        })
        .collect();
    // Forward only if the burst began on some side (before it, a staged file may be cut
    // short: [`resolve::begun`]), every side can go on, and none was being undone: the two
    // sides of one commit go the same way.
    let forward = sides.iter().all(|(_, j)| !j.undo)
        && judged.iter().any(|s| s.settled || s.begun)
        && judged.iter().all(|s| s.settled || s.can_go_forward);
    let run = sides[0].1.run.clone();
    let mut renames = 0;
    for (((target, journal), f), side) in sides.iter_mut().zip(&found).zip(&judged) {
        let exists = |p: &RelPath| f.contains(p);
        // A side whose burst is complete goes back too when the other cannot go forward.
        let moves = match (forward, side.settled) {
            (true, true) => resolve::remove_backups(&journal.steps, &exists),
            (true, false) => resolve::forward(&journal.steps, &exists),
            (false, _) => resolve::back(&journal.steps, &exists),
        };
        renames += moves.iter().filter(|m| matches!(m, resolve::Move::Rename { .. })).count();
        perform(&mut **target, journal, &moves)
            .with_context(|| format!("resolving the commit journal on {}", target.info().display))?;
        target.remove_file(&journal_path())?;
    }
    Ok(if forward { Recovered::Completed { run, renames } } else { Recovered::Undone { run, renames } })
}
