//! Running a commit: the journals written, every rename of both sides in one burst over all
//! connections, the backups removed, then the journals. A burst that fails is
//! undone from the names found afterwards ([`resolve::back`]); one that cannot be undone (the
//! connection is gone) leaves its journal for the next run ([`super::recover`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::journal::{JOURNAL_FILE, Journal, METADATA_WAVE, PLACE_WAVE, Step};
use super::resolve::{self, Move};
use crate::apply::workers::Worker;
use crate::backend::{Target, with_write_attempts};
use crate::error::caught::caught;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;

/// The journal's path on either side.
pub fn journal_path() -> RelPath {
    RelPath::root().join_unchecked(JOURNAL_FILE)
}

/// A commit that took place.
#[derive(Debug)]
pub struct Committed {
    /// From the first rename to the last: the time the visible trees were mixed.
    pub window: Duration,
    /// Remarks (a backup that could not be removed...).
    pub notes: Vec<String>,
}

/// Why a commit did not take place.
#[derive(Debug, thiserror::Error)]
pub enum CommitFailed {
    /// Undone: both sides are as before.
    #[error("the commit failed and was undone, nothing was changed: {0:#}")]
    RolledBack(anyhow::Error),
    /// Neither completed nor undone: the journals stay, and the next run resolves them.
    #[error(
        "the commit failed and could not be undone ({undo:#}); its journal {JOURNAL_FILE} stays: run `ftpsync recover` (or any plan or apply against this remote) to complete or undo it. The failure: {cause:#}"
    )]
    Stuck { cause: anyhow::Error, undo: anyhow::Error },
}

/// The renames of one wave ([`Step::wave`]) of a side's steps.
fn renames(steps: &[Step], wave: u8) -> Vec<(RelPath, RelPath)> {
    steps.iter().filter(|s| s.wave() == wave).filter_map(rename_of).collect()
}

/// The round of the burst in which the remote side runs a step: its wave, except that the old
/// metadata moves aside in the content's round ([`PLACE_WAVE`]). The two are independent (a
/// failure in either undoes the whole burst, and recovery judges every step by its names),
/// and the metadata is still placed only after all content has taken its final names; a
/// remote metadata file is missing for one round, as with a wave of its own, and the round
/// trip of that wave is saved. The local side's metadata keeps a round of its own between
/// the remote's two ([`local_renames`]): no remote round runs while a local file is missing.
fn remote_round(step: &Step) -> u8 {
    match step.wave() {
        METADATA_WAVE => PLACE_WAVE,
        w => w,
    }
}

/// The remote side's renames of one round ([`remote_round`]).
fn remote_renames(steps: &[Step], round: u8) -> Vec<(RelPath, RelPath)> {
    steps.iter().filter(|s| remote_round(s) == round).filter_map(rename_of).collect()
}

/// The rename a step makes in the burst (made and dropped folders make none).
fn rename_of(step: &Step) -> Option<(RelPath, RelPath)> {
    match step {
        Step::Aside { path, backup, .. } => Some((path.clone(), backup.clone())),
        Step::Place { staged, path, .. } => Some((staged.clone(), path.clone())),
        _ => None,
    }
}

/// The round in whose remote renames the first connection readies the transfer that reads
/// the lock after the burst ([`finish`]): the remote side's last round but one, so that the
/// data connection is open by the time the lock is read (readied in the last round, the
/// reading waited for its handshake: one round trip more). Rounds in which the remote side
/// renames nothing send nothing to announce it with. `None`: the remote renames nothing.
fn lock_reading_readied_in(remote: &[Step]) -> Option<u8> {
    let rounds: BTreeSet<u8> = remote.iter().filter(|s| rename_of(s).is_some()).map(remote_round).collect();
    rounds.iter().rev().nth(1).or(rounds.last()).copied()
}

/// The local side's renames of one wave. They take microseconds, so its metadata files do not
/// wait a wave between moving aside and being replaced: in the first metadata wave
/// ([`METADATA_WAVE`]) each old file moves aside and the new one takes its name at once, one
/// folder after the other, so a local metadata file is missing only between two local renames
/// and never while a remote wave runs (where a kill -9 found one missing). The remote's
/// metadata keeps its two waves: a server's rename is a round trip, and its second may only
/// start once the first has ended.
fn local_renames(steps: &[Step], wave: u8) -> Vec<(RelPath, RelPath)> {
    match wave {
        METADATA_WAVE => {
            let mut metadata: Vec<&Step> = steps.iter().filter(|s| s.wave() >= METADATA_WAVE).collect();
            // Per file: moved aside, then replaced (stable: the aside comes first in a journal).
            metadata.sort_by_key(|s| match s {
                Step::Aside { path, .. } | Step::Place { path, .. } => Some(path.clone()),
                _ => None,
            });
            metadata.into_iter().filter_map(rename_of).collect()
        }
        w if w > METADATA_WAVE => Vec::new(),
        w => renames(steps, w),
    }
}

/// Runs `each` over both sides' items at once: the remote ones shared out over the workers'
/// connections (each gets one share, which a target may send at once), the local ones on the
/// first worker's.
fn spread<T: Sync>(
    workers: &mut [Worker<'_>],
    local: &[T],
    remote: &[T],
    each: impl Fn(&mut dyn Target, &[T]) -> Result<()> + Sync,
) -> Result<()> {
    let chunk = remote.len().div_ceil(workers.len()).max(1);
    let mut shares = remote.chunks(chunk);
    let each = &each;
    std::thread::scope(|s| {
        let mut running = Vec::new();
        for (i, w) in workers.iter_mut().enumerate() {
            let Worker { local: l, remote: r, .. } = w;
            // A panic is the share's failure ([`caught`]): the burst is then undone.
            if let Some(share) = shares.next() {
                running.push(s.spawn(move || caught(|| each(&mut **r, share))));
            }
            if i == 0 && !local.is_empty() {
                running.push(s.spawn(move || caught(|| each(&mut **l, local))));
            }
        }
        let results: Vec<Result<()>> =
            running.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        results.into_iter().collect()
    })
}

/// Runs one wave of renames ([`Step::wave`]) on both sides at once.
fn wave(workers: &mut [Worker<'_>], local: &[(RelPath, RelPath)], remote: &[(RelPath, RelPath)]) -> Result<()> {
    spread(workers, local, remote, |t, share| t.rename_all(share))
}

pub fn write_journal(target: &mut dyn Target, journal: &Journal) -> Result<()> {
    let bytes = journal.to_bytes();
    with_write_attempts(target.write_attempts(), || target.write_file(&journal_path(), &mut bytes.as_slice(), None))
        .with_context(|| format!("cannot write the commit journal {JOURNAL_FILE} on {}", target.info().display))
        .map(drop)
}

/// Commits the staged changes of both sides (`journals`: one per side that changes;
/// `in_place`: they are written already).
pub fn commit(workers: &mut [Worker<'_>], journals: &[Journal], in_place: bool) -> Result<Committed, CommitFailed> {
    // Before anything visible: the journals are in place (the caller has just confirmed the
    // lock is still ours).
    let prepared = match in_place {
        true => Ok(()),
        false => journals.iter().try_for_each(|j| write_journal(workers[0].side(j.side), j)),
    };
    if let Err(e) = prepared {
        return Err(undo_unstarted(workers, journals, e));
    }
    let of = |side| journals.iter().find(|j| j.side == side).map_or(&[][..], |j| j.steps.as_slice());
    let (local, remote) = (of(Side::Local), of(Side::Remote));
    // The local side's metadata runs in the first metadata wave ([`local_renames`]).
    let rounds: BTreeSet<u8> =
        local.iter().map(|s| s.wave().min(METADATA_WAVE)).chain(remote.iter().map(remote_round)).collect();
    // The first connection reads the lock after the last round ([`finish`]).
    let ready_in = lock_reading_readied_in(remote).or(rounds.last().copied());
    let started = Instant::now();
    let burst = rounds.into_iter().try_for_each(|n| {
        if Some(n) == ready_in {
            workers[0].remote.expect_transfer();
        }
        wave(workers, &local_renames(local, n), &remote_renames(remote, n))
    });
    let window = started.elapsed();
    if let Err(e) = burst {
        return Err(undo_all(workers, journals, e));
    }
    Ok(Committed { window, notes: finish(workers, journals) })
}

/// After a complete burst: the backups removed, the journals, and the remote lock released.
/// Nothing marks the journal committed first: as long as it is there, the names show that
/// the burst is complete (no staged name is left, see [`resolve::complete`]), and a run that
/// dies here is finished by the next one. A failure here changes nothing visible: it is
/// reported, and the next run finishes the journal.
///
/// All of it is one round trip where it can be: the journals go with the backups (a backup
/// left behind by a journal removed first is a temporary name, which any later run removes),
/// unless a folder is still to be dropped (the journal is what finishes that); and while the
/// other connections remove them, the first reads the lock, which it then removes without
/// reading it again ([`Target::unlock_reconfirmed`]). The lock goes only after the journals:
/// a run that starts sooner would find one and take it over.
fn finish(workers: &mut [Worker<'_>], journals: &[Journal]) -> Vec<String> {
    // The backups (and dropped folders), shared out over the connections, each sending its
    // share at once; a file with one command, a folder with everything in it.
    let mut removals: Vec<(Side, RelPath, Kind)> = journals
        .iter()
        .flat_map(|j| {
            resolve::remove_backups(&j.steps, &|_| true).into_iter().filter_map(move |m| match m {
                Move::Remove { path, kind } => Some((j.side, path, kind)),
                _ => None,
            })
        })
        .collect();
    let drops = journals.iter().flat_map(|j| &j.steps).any(|s| matches!(s, Step::Drop { .. }));
    if !drops {
        removals.extend(journals.iter().map(|j| (j.side, journal_path(), Kind::File)));
    }
    let (first, others) = workers.split_first_mut().expect("a commit has at least one worker");
    let (removed, released) = if others.is_empty() || drops {
        (remove_shared(std::slice::from_mut(first), &removals), None)
    } else {
        std::thread::scope(|s| {
            let releasing = s.spawn(|| first.remote.reconfirm_lock());
            let removed = remove_shared(others, &removals);
            (removed, Some(releasing.join().unwrap_or_else(|p| std::panic::resume_unwind(p))))
        })
    };
    let mut failure = removed.err();
    if failure.is_none() && drops {
        for j in journals {
            if let Err(e) = workers[0].side(j.side).remove_file(&journal_path()) {
                failure.get_or_insert(e);
            }
        }
    }
    // Found ours just now, while nothing else ran on that connection: removed at once. Not
    // found ours (or not read): the lock is left to the usual unlock, which reads it first.
    if released.is_some_and(|r| r.is_ok())
        && let Err(e) = workers[0].remote.unlock_reconfirmed()
    {
        failure.get_or_insert(e);
    }
    failure
        .map(|e| {
            format!(
                "The commit is complete, but cleaning up after it failed ({e:#}); the next run removes what is left."
            )
        })
        .into_iter()
        .collect()
}

/// Removes entries of both sides at once ([`Target::remove_all`]).
fn remove_shared(workers: &mut [Worker<'_>], removals: &[(Side, RelPath, Kind)]) -> Result<()> {
    let of = |side| -> Vec<(RelPath, Kind)> {
        removals.iter().filter(|(s, _, _)| *s == side).map(|(_, p, k)| (p.clone(), *k)).collect()
    };
    spread(workers, &of(Side::Local), &of(Side::Remote), |t, share| t.remove_all(share))
}

/// Undoes a commit that failed before its first rename (the lock lost, a journal that could
/// not be written): nothing visible changed, so no side needs telling first; what was staged
/// and any journal written go. Only a journal that may have stayed behind makes it stuck (the
/// next run would find it).
fn undo_unstarted(workers: &mut [Worker<'_>], journals: &[Journal], cause: anyhow::Error) -> CommitFailed {
    match undo_sides(workers, journals) {
        Some(undo) if journal_may_remain(workers, journals) => CommitFailed::Stuck { cause, undo },
        _ => CommitFailed::RolledBack(cause),
    }
}

/// Whether a journal of `journals` may still be on its side (it is there, or nobody can tell).
fn journal_may_remain(workers: &mut [Worker<'_>], journals: &[Journal]) -> bool {
    journals.iter().any(|j| workers[0].side(j.side).stat(&journal_path()).map_or(true, |found| found.is_some()))
}

/// Undoes whatever part of the burst ran, on both sides.
fn undo_all(workers: &mut [Worker<'_>], journals: &[Journal], cause: anyhow::Error) -> CommitFailed {
    // Every side learns first that the commit goes back; a side that cannot be told (its
    // connection is gone) cannot be undone either, and then nothing is touched: the next run
    // finds both journals as they are and takes both the same way.
    let mut marked = journals.to_vec();
    for j in &mut marked {
        j.undo = true;
        let target = workers[0].side(j.side);
        let written = write_journal(target, j).or_else(|first| {
            let mut fresh = target.open_another().map_err(|e| first.context(e))?;
            write_journal(&mut *fresh, j)
        });
        if let Err(undo) = written {
            return CommitFailed::Stuck { cause, undo };
        }
    }
    match undo_sides(workers, &marked) {
        None => CommitFailed::RolledBack(cause),
        Some(undo) => CommitFailed::Stuck { cause, undo },
    }
}

/// Undoes each side's commit ([`undo`]); the first failure, if any.
fn undo_sides(workers: &mut [Worker<'_>], journals: &[Journal]) -> Option<anyhow::Error> {
    let mut failure = None;
    for j in journals {
        // The connection that failed may be gone: undo on a new one if need be.
        let target = workers[0].side(j.side);
        let undone = undo(target, j).or_else(|first| {
            let mut fresh = target.open_another().map_err(|e| first.context(e))?;
            undo(&mut *fresh, j)
        });
        if let Err(e) = undone {
            failure.get_or_insert(e);
        }
    }
    failure
}

/// Undoes a side's commit from the names found, and removes its journal.
pub fn undo(target: &mut dyn Target, journal: &Journal) -> Result<()> {
    let found = existing(target, &journal.steps)?;
    let moves = resolve::back(&journal.steps, &|p| found.contains(p));
    perform(target, journal, &moves)?;
    // Absent when the failure came before it was written. One left behind lists nothing
    // that can be redone, and the next run removes it.
    let _ = target.remove_file(&journal_path());
    Ok(())
}

/// Performs resolution moves on one side.
pub fn perform(target: &mut dyn Target, journal: &Journal, moves: &[Move]) -> Result<()> {
    for m in moves {
        match m {
            Move::Rename { from, to } => target.rename(from, to)?,
            Move::Remove { path, kind } => remove_entry(target, path, *kind)?,
            Move::MarkCommitted => {
                let mut marked = journal.clone();
                marked.committed = true;
                write_journal(target, &marked)?;
            }
        }
    }
    Ok(())
}

/// Removes an entry whose kind is known: a file with one command (the tree walk would list
/// its folder first), a folder with everything in it. Nothing there is no error.
pub fn remove_entry(target: &mut dyn Target, path: &RelPath, kind: Kind) -> Result<()> {
    target.remove_all(&[(path.clone(), kind)])
}

/// The names of `steps` that exist now on a side (one listing per folder they are in).
pub fn existing(target: &mut dyn Target, steps: &[Step]) -> Result<BTreeSet<RelPath>> {
    let mut by_folder: BTreeMap<RelPath, Vec<RelPath>> = BTreeMap::new();
    for s in steps {
        for p in s.paths() {
            by_folder.entry(p.parent()).or_default().push(p.clone());
        }
    }
    let folders: Vec<RelPath> = by_folder.keys().cloned().collect();
    let listings = target.list_dirs(&folders)?;
    let mut found = BTreeSet::new();
    for (folder, listing) in folders.iter().zip(listings) {
        let Some(listing) = listing else { continue };
        let names: BTreeSet<&str> = listing.entries.iter().chain(&listing.temporary).map(|e| e.name.as_str()).collect();
        found.extend(by_folder[folder].iter().filter(|p| names.contains(p.name())).cloned());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    #[test]
    fn the_lock_reading_is_readied_a_remote_round_before_the_last() {
        let meta = crate::meta::META_FILE;
        let (page, m) = (p("a/x.html"), p(&format!("a/{meta}")));
        let aside =
            |path: &RelPath, n| Step::Aside { path: path.clone(), backup: p(&format!("a/b{n}")), kind: Kind::File };
        let place =
            |path: &RelPath, n| Step::Place { staged: p(&format!("a/s{n}")), path: path.clone(), kind: Kind::File };
        // An upload over a file: content aside, content placed with the old metadata aside,
        // the new metadata placed. (The local side's metadata round, between the remote's
        // last two, renames nothing remote: readied there, the reading waited for the
        // handshake of an announcement made in the last round.)
        let upload = [aside(&page, 0), place(&page, 1), aside(&m, 2), place(&m, 3)];
        assert_eq!(lock_reading_readied_in(&upload), Some(PLACE_WAVE));
        // New files only: no asides, the content's round is the last but one all the same.
        assert_eq!(lock_reading_readied_in(&[place(&page, 1), aside(&m, 2), place(&m, 3)]), Some(PLACE_WAVE));
        // One remote round: readied in it.
        assert_eq!(lock_reading_readied_in(&[place(&page, 1)]), Some(PLACE_WAVE));
        assert_eq!(lock_reading_readied_in(&[]), None);
    }

    #[test]
    fn local_metadata_is_replaced_file_by_file_in_one_wave() {
        let meta = crate::meta::META_FILE;
        let (a, b) = (p(&format!("a/{meta}")), p(&format!("b/{meta}")));
        let mut steps = Vec::new();
        for (n, m) in [&a, &b].into_iter().enumerate() {
            let (backup, staged) = (p(&format!(".ftpsync-tmp-1-b{n}")), p(&format!(".ftpsync-tmp-1-s{n}")));
            steps.push(Step::Aside { path: m.clone(), backup, kind: Kind::File });
            steps.push(Step::Place { staged, path: m.clone(), kind: Kind::File });
        }
        steps.push(Step::Place { staged: p(".ftpsync-tmp-1-s9"), path: p("a/x.html"), kind: Kind::File });
        let journal = Journal::new(Side::Local, "r", "t", "d", "/l", "ftp://h/", steps);
        let steps = &journal.steps;
        assert_eq!(local_renames(steps, 2), vec![(p(".ftpsync-tmp-1-s9"), p("a/x.html"))]);
        let order: Vec<_> = local_renames(steps, METADATA_WAVE).into_iter().map(|(f, t)| format!("{f}>{t}")).collect();
        let want = [
            format!("{a}>.ftpsync-tmp-1-b0"),
            format!(".ftpsync-tmp-1-s0>{a}"),
            format!("{b}>.ftpsync-tmp-1-b1"),
            format!(".ftpsync-tmp-1-s1>{b}"),
        ];
        assert_eq!(order, want);
        assert!(local_renames(steps, METADATA_WAVE + 1).is_empty());
        // The remote keeps its two waves; the first goes in the content's round.
        assert_eq!(renames(steps, METADATA_WAVE).len(), 2);
        assert_eq!(renames(steps, METADATA_WAVE + 1).len(), 2);
        let remote: Vec<_> = remote_renames(steps, PLACE_WAVE).into_iter().map(|(f, t)| format!("{f}>{t}")).collect();
        let want =
            [".ftpsync-tmp-1-s9>a/x.html".into(), format!("{a}>.ftpsync-tmp-1-b0"), format!("{b}>.ftpsync-tmp-1-b1")];
        assert_eq!(remote, want);
        assert!(remote_renames(steps, METADATA_WAVE).is_empty());
        let placed: Vec<_> = remote_renames(steps, METADATA_WAVE + 1).into_iter().map(|(_, t)| t).collect();
        assert_eq!(placed, vec![a.clone(), b.clone()], "the new metadata after all content");
    }
}
