//! Finishing or undoing a commit from its journal and the names found now: pure functions, so
//! every point a run can die at is tested in memory.
//!
//! Each step's names say whether it ran (see [`super::journal`]): an [`Step::Aside`] ran when
//! its backup exists; a [`Step::Place`] ran when its staged name is gone and its final name
//! exists (and, for a name that was moved aside first, that backup exists too — otherwise the
//! final name still holds the old entry). Only a burst that began ([`begun`]) goes forward:
//! before it, a staged name may hold a file cut short. Going [`forward`] runs what did not run
//! and removes the backups; going [`back`] reverses what ran, last first, and removes what was
//! staged.
//! Both are safe to start again after they were cut short themselves: once every step ran,
//! recovery marks the journal committed ([`Move::MarkCommitted`]) before the first backup is
//! removed, because from then on the names no longer show which steps ran. A commit that ran
//! to its end removes its backups without that mark: the names show a complete burst on their
//! own ([`complete`]) for as long as the journal is there.

use std::collections::BTreeSet;

use super::journal::{Journal, Step};
use crate::model::Kind;
use crate::model::relpath::RelPath;

/// One change that recovery (or the commit itself) makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    Rename {
        from: RelPath,
        to: RelPath,
    },
    /// Removes an entry (a folder with everything in it).
    Remove {
        path: RelPath,
        kind: Kind,
    },
    /// Rewrites the journal with `committed: true`.
    MarkCommitted,
}

/// Which way a journal is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The commit is completed: every staged entry was verified before it began.
    Forward,
    /// The commit is undone: both trees as before the apply.
    Back,
}

/// Whether a step already ran, judged from the names that exist now.
fn ran(step: &Step, steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> bool {
    match step {
        Step::Aside { backup, .. } => exists(backup),
        Step::Place { staged, path, .. } => {
            let aside = steps.iter().find_map(|s| match s {
                Step::Aside { path: p, backup, .. } if p == path => Some(backup),
                _ => None,
            });
            !exists(staged) && exists(path) && aside.is_none_or(exists)
        }
        // Made before the commit; dropped only after it.
        Step::Made { path, .. } => exists(path),
        Step::Drop { .. } => false,
    }
}

/// Whether the commit can be completed: every staged entry that has not taken its final name
/// is still there.
pub fn can_go_forward(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> bool {
    steps.iter().all(|s| match s {
        Step::Place { staged, .. } => ran(s, steps, exists) || exists(staged),
        _ => true,
    })
}

/// Whether the burst began: a step only the burst runs (a move aside or a placing) ran. Only
/// then is every staged entry known to be whole. A journal is written before staging ends
/// (`staged::Early`), so before the burst a staged name can hold a file cut short by the
/// run's death: its name alone proves nothing, and such a commit can only go back.
pub fn begun(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> bool {
    steps.iter().any(|s| matches!(s, Step::Aside { .. } | Step::Place { .. }) && ran(s, steps, exists))
}

/// The way recovery goes: forward when the burst began and can be completed, back otherwise.
pub fn direction(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> Direction {
    if begun(steps, exists) && can_go_forward(steps, exists) { Direction::Forward } else { Direction::Back }
}

/// What completes the commit: the steps that did not run, in order, the journal marked
/// committed, then the backups removed.
pub fn forward(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> Vec<Move> {
    let mut out = Vec::new();
    for s in steps {
        if ran(s, steps, exists) {
            continue;
        }
        match s {
            // Nothing left to move aside (it was gone before): nothing to back up.
            Step::Aside { path, .. } if !exists(path) => {}
            Step::Aside { path, backup, .. } => out.push(Move::Rename { from: path.clone(), to: backup.clone() }),
            Step::Place { staged, path, .. } => out.push(Move::Rename { from: staged.clone(), to: path.clone() }),
            Step::Made { .. } | Step::Drop { .. } => {}
        }
    }
    let moved: BTreeSet<RelPath> = out
        .iter()
        .filter_map(|m| match m {
            Move::Rename { to, .. } => Some(to.clone()),
            _ => None,
        })
        .collect();
    out.push(Move::MarkCommitted);
    out.extend(remove_backups(steps, &|p| exists(p) || moved.contains(p)));
    out
}

/// The backups that exist, removed: what is left of a committed journal.
pub fn remove_backups(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> Vec<Move> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Aside { backup, kind, .. } if exists(backup) => {
                Some(Move::Remove { path: backup.clone(), kind: *kind })
            }
            Step::Drop { path, kind } if exists(path) => Some(Move::Remove { path: path.clone(), kind: *kind }),
            _ => None,
        })
        .collect()
}

/// What undoes the commit: the steps that ran, last first, then the staged entries removed.
pub fn back(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> Vec<Move> {
    let mut out = Vec::new();
    let mut staged_now = Vec::new();
    for s in steps.iter().rev() {
        let done = ran(s, steps, exists);
        match s {
            Step::Place { staged, path, kind } => {
                if done {
                    out.push(Move::Rename { from: path.clone(), to: staged.clone() });
                }
                if done || exists(staged) {
                    staged_now.push(Move::Remove { path: staged.clone(), kind: *kind });
                }
            }
            Step::Aside { path, backup, .. } if done => {
                out.push(Move::Rename { from: backup.clone(), to: path.clone() })
            }
            Step::Made { path, kind } if done => out.push(Move::Remove { path: path.clone(), kind: *kind }),
            Step::Aside { .. } | Step::Made { .. } | Step::Drop { .. } => {}
        }
    }
    out.extend(staged_now);
    out
}

/// Whether the names show a burst that ran to its end: every staged entry has taken its final
/// name, every entry moved aside for good is gone, every folder made is there. Only a burst
/// makes this true (before it, staged names exist or final names are absent), and removing
/// backups afterwards keeps it true: so the commit needs no mark of its own before its cleanup.
/// Of a journal being undone nothing can be told this way (an undo that removed the staged
/// entries looks the same): the journal says so itself first.
pub fn complete(steps: &[Step], exists: &dyn Fn(&RelPath) -> bool) -> bool {
    let placed = |path: &RelPath| steps.iter().any(|s| matches!(s, Step::Place { path: p, .. } if p == path));
    steps.iter().all(|s| match s {
        Step::Place { staged, path, .. } => !exists(staged) && exists(path),
        Step::Aside { path, .. } => placed(path) || !exists(path),
        Step::Made { path, .. } => exists(path),
        Step::Drop { .. } => true,
    })
}

/// Whether a journal's commit is over, only its cleanup left: marked committed (by an
/// earlier version, or by recovery), or [`complete`] and not being undone.
pub fn settled(journal: &Journal, exists: &dyn Fn(&RelPath) -> bool) -> bool {
    journal.committed || (!journal.undo && complete(&journal.steps, exists))
}

/// What resolving a journal does: a settled one only loses its backups; otherwise the way
/// [`direction`] chooses.
pub fn resolve(journal: &Journal, exists: &dyn Fn(&RelPath) -> bool) -> (Direction, Vec<Move>) {
    let steps = &journal.steps;
    if settled(journal, exists) {
        return (Direction::Forward, remove_backups(steps, exists));
    }
    if journal.undo {
        return (Direction::Back, back(steps, exists));
    }
    match direction(steps, exists) {
        Direction::Forward => (Direction::Forward, forward(steps, exists)),
        Direction::Back => (Direction::Back, back(steps, exists)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::side::Side;

    /// A side's tree: path → content (a folder's content is its entries below it).
    type Tree = BTreeMap<String, String>;

    fn p(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    fn exists_in(tree: &Tree) -> impl Fn(&RelPath) -> bool + '_ {
        |path: &RelPath| {
            let s = path.as_str();
            tree.keys().any(|k| k == s || k.starts_with(&format!("{s}/")))
        }
    }

    fn rename(tree: &mut Tree, from: &RelPath, to: &RelPath) {
        let (from, to) = (from.as_str().to_string(), to.as_str().to_string());
        assert!(!exists_in(tree)(&p(&to)), "renaming onto {to}, which exists");
        let moved: Vec<String> =
            tree.keys().filter(|k| **k == from || k.starts_with(&format!("{from}/"))).cloned().collect();
        assert!(!moved.is_empty(), "renaming {from}, which does not exist");
        for k in moved {
            let v = tree.remove(&k).unwrap();
            tree.insert(format!("{to}{}", &k[from.len()..]), v);
        }
    }

    fn perform(tree: &mut Tree, journal: &mut Journal, m: &Move) {
        match m {
            Move::MarkCommitted => journal.committed = true,
            Move::Rename { from, to } => rename(tree, from, to),
            Move::Remove { path, .. } => {
                let s = path.as_str().to_string();
                tree.retain(|k, _| *k != s && !k.starts_with(&format!("{s}/")));
            }
        }
    }

    fn visible(tree: &Tree) -> Tree {
        tree.iter()
            .filter(|(k, _)| !k.split('/').any(|part| part.starts_with(".ftpsync-tmp-")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A staged release: `index.html` replaced, `new.css` added, `old.js` deleted, a new
    /// folder `img/` with two files, a folder `gone/` deleted with its content, and a
    /// replaced metadata file.
    fn staged() -> (Tree, Tree, Journal) {
        let t = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Tree>();
        let before = t(&[
            ("index.html", "old index"),
            ("old.js", "old js"),
            ("gone/a.txt", "a"),
            ("gone/b/c.txt", "c"),
            (".pyftpsync-meta.json", "old meta"),
            ("keep.txt", "keep"),
        ]);
        let after = t(&[
            ("index.html", "new index"),
            ("new.css", "css"),
            ("img/1.png", "one"),
            ("img/sub/2.png", "two"),
            (".pyftpsync-meta.json", "new meta"),
            ("keep.txt", "keep"),
        ]);
        let mut start = before.clone();
        for (k, v) in [
            (".ftpsync-tmp-7-s0", "new index"),
            (".ftpsync-tmp-7-s1", "css"),
            (".ftpsync-tmp-7-s2/1.png", "one"),
            (".ftpsync-tmp-7-s2/sub/2.png", "two"),
            (".ftpsync-tmp-7-s3", "new meta"),
        ] {
            start.insert(k.into(), v.into());
        }
        let aside =
            |path: &str, n: u32, kind| Step::Aside { path: p(path), backup: p(&format!(".ftpsync-tmp-7-b{n}")), kind };
        let place =
            |n: u32, path: &str, kind| Step::Place { staged: p(&format!(".ftpsync-tmp-7-s{n}")), path: p(path), kind };
        let steps = vec![
            aside("index.html", 0, Kind::File),
            aside("old.js", 1, Kind::File),
            aside("gone", 2, Kind::Dir),
            aside(".pyftpsync-meta.json", 3, Kind::File),
            place(0, "index.html", Kind::File),
            place(1, "new.css", Kind::File),
            place(2, "img", Kind::Dir),
            place(3, ".pyftpsync-meta.json", Kind::File),
        ];
        assert_eq!(visible(&start), before);
        let journal = Journal::new(Side::Remote, "ftpsync 7@h", "t", "d", "ftp://h/", "/l", steps);
        (start, after, journal)
    }

    /// Runs the commit as apply does (the moves of [`forward`]), stopping after `cut` of them.
    fn commit_cut_after(tree: &mut Tree, journal: &mut Journal, cut: usize) {
        let moves = forward(&journal.steps, &exists_in(&*tree));
        for m in moves.iter().take(cut) {
            perform(tree, journal, m);
        }
    }

    /// Resolves, stopping after `cut` moves (`None`: all of them).
    fn resolve_cut_after(tree: &mut Tree, journal: &mut Journal, cut: Option<usize>) -> Direction {
        let (way, moves) = resolve(journal, &exists_in(&*tree));
        for m in moves.iter().take(cut.unwrap_or(usize::MAX)) {
            perform(tree, journal, m);
        }
        way
    }

    /// Every point a commit of `journal` can be cut at: after each of its moves.
    fn cuts(journal: &Journal, tree: &Tree) -> std::ops::RangeInclusive<usize> {
        0..=forward(&journal.steps, &exists_in(tree)).len()
    }

    /// The state a commit cut after `cut` of its moves is resolved to: before its first rename
    /// it had not begun ([`begun`]) and is undone; from then on it is completed.
    fn resolved_state<'a>(cut: usize, before: &'a Tree, after: &'a Tree) -> &'a Tree {
        if cut == 0 { before } else { after }
    }

    #[test]
    fn a_commit_cut_anywhere_is_completed_and_leaves_nothing_behind() {
        let (start, after, journal) = staged();
        let before = visible(&start);
        for cut in cuts(&journal, &start) {
            let (mut tree, mut j) = (start.clone(), journal.clone());
            commit_cut_after(&mut tree, &mut j, cut);
            let way = if cut == 0 { Direction::Back } else { Direction::Forward };
            assert_eq!(resolve_cut_after(&mut tree, &mut j, None), way, "cut after {cut}");
            assert_eq!(tree, *resolved_state(cut, &before, &after), "cut after {cut}: no staged or backup name left");
        }
    }

    #[test]
    fn a_commit_cut_in_its_cleanup_needs_no_mark() {
        // As apply commits: the renames, then the backups removed, the journal never marked.
        let (start, after, journal) = staged();
        let before = visible(&start);
        let moves: Vec<Move> =
            forward(&journal.steps, &exists_in(&start)).into_iter().filter(|m| *m != Move::MarkCommitted).collect();
        for cut in 0..=moves.len() {
            let (mut tree, mut j) = (start.clone(), journal.clone());
            for m in moves.iter().take(cut) {
                perform(&mut tree, &mut j, m);
            }
            assert!(!j.committed);
            resolve_cut_after(&mut tree, &mut j, None);
            assert_eq!(tree, *resolved_state(cut, &before, &after), "cut after {cut}");
        }
    }

    #[test]
    fn staged_entries_removed_before_the_burst_leave_the_state_before() {
        // A commit that failed before its first rename removes what was staged; its journal,
        // if written, is not marked.
        let (start, _, journal) = staged();
        let before = visible(&start);
        let staged: Vec<Move> = journal
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Place { staged, kind, .. } => Some(Move::Remove { path: staged.clone(), kind: *kind }),
                _ => None,
            })
            .collect();
        for cut in 0..=staged.len() {
            let (mut tree, mut j) = (start.clone(), journal.clone());
            for m in staged.iter().take(cut) {
                perform(&mut tree, &mut j, m);
            }
            assert_eq!(resolve_cut_after(&mut tree, &mut j, None), Direction::Back, "{cut} staged entries removed");
            assert_eq!(tree, before, "{cut} staged entries removed");
        }
    }

    #[test]
    fn a_run_that_died_while_staging_is_undone_though_every_staged_name_exists() {
        // The journal is written while staging runs: the last staged file can exist cut short
        // (here the metadata, created but not yet written) when the run dies. Completing the
        // commit would give it its final name.
        let (mut start, _, journal) = staged();
        let before = visible(&start);
        start.insert(".ftpsync-tmp-7-s3".into(), String::new());
        let (mut tree, mut j) = (start.clone(), journal.clone());
        assert_eq!(resolve_cut_after(&mut tree, &mut j, None), Direction::Back);
        assert_eq!(tree, before, "the state before, nothing staged left");
        // Once one rename of the burst ran, staging had ended: the commit is completed.
        let (mut tree, mut j) = (start, journal);
        commit_cut_after(&mut tree, &mut j, 1);
        assert_eq!(resolve_cut_after(&mut tree, &mut j, None), Direction::Forward);
    }

    #[test]
    fn recovery_cut_short_itself_converges_on_the_next_try() {
        let (start, after, journal) = staged();
        let before = visible(&start);
        for cut in cuts(&journal, &start) {
            for again in cuts(&journal, &start) {
                let (mut tree, mut j) = (start.clone(), journal.clone());
                commit_cut_after(&mut tree, &mut j, cut);
                resolve_cut_after(&mut tree, &mut j, Some(again));
                resolve_cut_after(&mut tree, &mut j, None);
                assert_eq!(
                    tree,
                    *resolved_state(cut, &before, &after),
                    "commit cut after {cut}, recovery after {again}"
                );
            }
        }
    }

    #[test]
    fn a_lost_staged_entry_undoes_the_commit_wherever_it_was_cut() {
        let (start, _, journal) = staged();
        let before = visible(&start);
        for cut in cuts(&journal, &start) {
            for lost in [".ftpsync-tmp-7-s1", ".ftpsync-tmp-7-s2"] {
                let (mut tree, mut j) = (start.clone(), journal.clone());
                commit_cut_after(&mut tree, &mut j, cut);
                let lost_path = p(lost);
                if !exists_in(&tree)(&lost_path) {
                    continue; // already placed: nothing to lose
                }
                perform(&mut tree, &mut j, &Move::Remove { path: lost_path, kind: Kind::File });
                assert_eq!(resolve_cut_after(&mut tree, &mut j, None), Direction::Back, "cut after {cut}, {lost} lost");
                assert_eq!(tree, before, "cut after {cut}, {lost} lost: the state before, nothing left over");
                assert!(!j.committed);
            }
        }
    }

    #[test]
    fn undoing_is_exact_wherever_the_commit_and_the_undo_were_cut() {
        let (start, _, journal) = staged();
        let before = visible(&start);
        let renames = journal.steps.len();
        for cut in 0..=renames {
            for again in 0..=renames + 6 {
                let (mut tree, mut j) = (start.clone(), journal.clone());
                commit_cut_after(&mut tree, &mut j, cut);
                let moves = back(&j.steps, &exists_in(&tree));
                for m in moves.iter().take(again) {
                    perform(&mut tree, &mut j, m);
                }
                let moves = back(&j.steps, &exists_in(&tree));
                for m in &moves {
                    perform(&mut tree, &mut j, m);
                }
                assert_eq!(tree, before, "commit cut after {cut}, undo cut after {again}");
            }
        }
    }

    #[test]
    fn an_entry_deleted_by_someone_else_before_the_commit_is_not_backed_up() {
        let steps = vec![Step::Aside { path: p("x"), backup: p(".ftpsync-tmp-7-b0"), kind: Kind::File }];
        assert_eq!(forward(&steps, &|_| false), vec![Move::MarkCommitted]);
    }
}
