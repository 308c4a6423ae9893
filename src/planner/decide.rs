//! What to do with one pair: pyftpsync's classification, the re-classification rules of each
//! mode (`--force`, upload never downloads, ...), the filters, and conflict resolution.
//!
//! Pure: a [`Pair`], its metadata record and the options in, a [`Decision`] out.

use std::cmp::Ordering;

use super::classify::{classify_entry, compare_files, eps_cmp, pair_operation};
use super::pairs::Pair;
use crate::meta::Record;
use crate::model::Kind;
use crate::plan::document::{Action, Class, PairOp, Reason, Resolution, ResolutionChoice};
use crate::plan::options::{Mode, PlanOptions, Resolve};
use crate::planner::filter::Filter;

/// The decision for one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Final classification (after `need_compare`).
    pub classes: (Class, Class),
    /// pyftpsync's operation after re-classification.
    pub operation: Option<PairOp>,
    pub action: Action,
    /// Why: for skips the skip reason, otherwise what changed.
    pub reason: Reason,
    /// What changed, also for skips (explains the skipped change).
    pub change: Reason,
    /// Conflicts only.
    pub resolution: ResolutionChoice,
    /// A remark for the reviewer (why a resolution could not be applied).
    pub note: Option<String>,
}

/// Everything [`decide`] needs besides the pair.
pub struct DecideCtx<'a> {
    pub options: &'a PlanOptions,
    pub filter: &'a Filter,
}

/// Decides one pair of a visited folder.
pub fn decide(ctx: &DecideCtx<'_>, pair: &Pair, record: Option<&Record>, has_peer: bool) -> Decision {
    let (local, remote) = (pair.local_entry(), pair.remote_entry());
    let classes = (classify_entry(local, record, has_peer), classify_entry(remote, record, has_peer));
    let any = pair.any();
    if let (Some(l), Some(r)) = (local, remote)
        && l.kind != r.kind
    {
        let conflict = Decision {
                classes,
                operation: Some(PairOp::Conflict),
                action: Action::Conflict,
                reason: Reason::KindClash,
                change: Reason::KindClash,
                resolution: ResolutionChoice::Chosen(Resolution::Skip),
                note: Some("a file on one side and a folder on the other cannot be resolved automatically; rename or remove one of them".into()),
            };
        return filtered(ctx, pair, any.kind, conflict);
    }
    let op = pair_operation(classes.0, classes.1).unwrap_or(PairOp::Equal);
    let (op, forced) = reclassify(ctx.options, any.kind, classes, op);
    let decision = handle(ctx, pair, classes, op, forced);
    filtered(ctx, pair, any.kind, decision)
}

/// Applies `--match`/`--exclude`: an unmatched pair keeps its operation (so a conflict still
/// counts) but its action becomes a skip, or a deletion with `--delete-unmatched`.
fn filtered(ctx: &DecideCtx<'_>, pair: &Pair, kind: Kind, decision: Decision) -> Decision {
    let name = pair.local.as_ref().or(pair.remote.as_ref()).map(|s| s.entry.name.as_str()).unwrap_or(&pair.name);
    if ctx.filter.passes(name, kind) {
        return decision;
    }
    let o = ctx.options;
    let (action, reason) = match o.mode {
        Mode::Upload if o.delete_unmatched && pair.remote.is_some() => (Action::DeleteRemote, Reason::DeleteUnmatched),
        Mode::Download if o.delete_unmatched && pair.local.is_some() => (Action::DeleteLocal, Reason::DeleteUnmatched),
        _ => (Action::Skip, Reason::Unmatched),
    };
    Decision { action, reason, resolution: ResolutionChoice::Absent, note: None, ..decision }
}

/// The upload/download re-classification rules (pyftpsync's `re_classify_pair`).
fn reclassify(o: &PlanOptions, kind: Kind, classes: (Class, Class), op: PairOp) -> (PairOp, Option<Reason>) {
    use Class::*;
    let file = kind == Kind::File;
    match o.mode {
        Mode::Upload => match classes {
            (New, New) | (Modified, Modified) | (Existing, Existing) if o.force && file => {
                (PairOp::CopyLocal, Some(Reason::Forced))
            }
            (Unmodified, Modified) if o.force && file => (PairOp::CopyLocal, Some(Reason::Restore)),
            (Unmodified, Deleted) if o.force => (PairOp::CopyLocal, Some(Reason::Restore)),
            (Missing, New) | (Missing, Existing) => (PairOp::DeleteRemote, None),
            _ => (op, None),
        },
        Mode::Download => match classes {
            (New, New) | (Modified, Modified) | (Existing, Existing) if o.force && file => {
                (PairOp::CopyRemote, Some(Reason::Forced))
            }
            (Modified, Unmodified) if o.force && file => (PairOp::CopyRemote, Some(Reason::Restore)),
            (Deleted, Unmodified) if o.force => (PairOp::CopyRemote, Some(Reason::Restore)),
            (New, Missing) | (Existing, Missing) => (PairOp::DeleteLocal, None),
            _ => (op, None),
        },
        Mode::Sync => (op, None),
    }
}

/// The operation handlers of pyftpsync's synchronizers.
fn handle(ctx: &DecideCtx<'_>, pair: &Pair, classes: (Class, Class), op: PairOp, forced: Option<Reason>) -> Decision {
    let o = ctx.options;
    let mut d = Decision {
        classes,
        operation: Some(op),
        action: Action::Equal,
        reason: Reason::Unchanged,
        change: Reason::Unchanged,
        resolution: ResolutionChoice::Absent,
        note: None,
    };
    let (op, compared_from) = match op {
        PairOp::NeedCompare => {
            let before = classes;
            if pair.any().kind == Kind::Dir {
                d.classes = (Class::Existing, Class::Existing);
                d.operation = Some(PairOp::Equal);
                d.reason = Reason::Identical;
                d.change = Reason::Identical;
                return d;
            }
            let (Some(l), Some(r)) = (pair.local_entry(), pair.remote_entry()) else {
                return d;
            };
            d.classes = compare_files(l, r, classes);
            let op = pair_operation(d.classes.0, d.classes.1).unwrap_or(PairOp::Conflict);
            d.operation = Some(op);
            (op, Some(before))
        }
        // Modified on both sides into the same size and time: the same content (an earlier
        // copy whose record was not written, or the same change made twice) — not a conflict.
        PairOp::Conflict if classes == (Class::Modified, Class::Modified) && same_file(pair) => {
            d.operation = Some(PairOp::Equal);
            (PairOp::Equal, Some(classes))
        }
        op => (op, None),
    };
    let change = forced.unwrap_or_else(|| change_reason(op, d.classes, compared_from));
    d.change = change;
    d.reason = change;
    let skip = |reason: Reason| (Action::Skip, reason);
    let (action, reason) = match (op, o.mode) {
        (PairOp::Equal, _) => (Action::Equal, change),
        (PairOp::CopyLocal, Mode::Download) => skip(Reason::DownloadOnly),
        (PairOp::CopyLocal, _) => (Action::Upload, change),
        (PairOp::CopyRemote, Mode::Upload) => skip(Reason::UploadOnly),
        (PairOp::CopyRemote, _) => (Action::Download, change),
        (PairOp::DeleteLocal, Mode::Upload) => skip(Reason::UploadOnly),
        (PairOp::DeleteLocal, Mode::Download) if !o.delete => skip(Reason::NeedsDelete),
        (PairOp::DeleteLocal, _) => (Action::DeleteLocal, change),
        (PairOp::DeleteRemote, Mode::Download) => skip(Reason::DownloadOnly),
        (PairOp::DeleteRemote, Mode::Upload) if !o.delete => skip(Reason::NeedsDelete),
        (PairOp::DeleteRemote, _) => (Action::DeleteRemote, change),
        (PairOp::Conflict | PairOp::NeedCompare, _) => {
            let (resolution, note) = resolve(o.resolve, pair);
            d.resolution = resolution;
            d.note = note;
            (Action::Conflict, change)
        }
    };
    d.action = action;
    d.reason = reason;
    d
}

/// Two files of the same size whose times agree within [`EPS`](super::classify::EPS).
fn same_file(pair: &Pair) -> bool {
    match (pair.local_entry(), pair.remote_entry()) {
        (Some(l), Some(r)) => {
            l.kind == Kind::File && r.kind == Kind::File && l.size == r.size && eps_cmp(l.mtime, r.mtime).is_eq()
        }
        _ => false,
    }
}

/// What changed, in plan vocabulary.
fn change_reason(op: PairOp, (l, r): (Class, Class), compared_from: Option<(Class, Class)>) -> Reason {
    use Class::*;
    let from_existing = compared_from == Some((Existing, Existing));
    match op {
        PairOp::Equal => {
            if compared_from.is_some() {
                Reason::Identical
            } else {
                Reason::Unchanged
            }
        }
        PairOp::CopyLocal => match l {
            New => Reason::NewLocal,
            Modified if from_existing => Reason::NewerLocal,
            Modified => Reason::ModifiedLocal,
            _ => Reason::OnlyLocal,
        },
        PairOp::CopyRemote => match r {
            New => Reason::NewRemote,
            Modified if from_existing => Reason::NewerRemote,
            Modified => Reason::ModifiedRemote,
            _ => Reason::OnlyRemote,
        },
        PairOp::DeleteLocal => match r {
            Deleted => Reason::DeletedRemote,
            _ if l == New => Reason::NewLocal,
            _ => Reason::OnlyLocal,
        },
        PairOp::DeleteRemote => match l {
            Deleted => Reason::DeletedLocal,
            _ if r == New => Reason::NewRemote,
            _ => Reason::OnlyRemote,
        },
        PairOp::Conflict | PairOp::NeedCompare => match (l, r) {
            (Deleted, _) => Reason::DeletedModified,
            (_, Deleted) => Reason::ModifiedDeleted,
            _ if from_existing => Reason::SameTimeDifferentSize,
            _ if compared_from == Some((New, New)) => Reason::BothNew,
            _ => Reason::BothModified,
        },
    }
}

/// Applies `--resolve` to a conflict.
pub fn resolve(resolve: Resolve, pair: &Pair) -> (ResolutionChoice, Option<String>) {
    use ResolutionChoice::{Ask, Chosen};
    match resolve {
        Resolve::Local => (Chosen(Resolution::Local), None),
        Resolve::Remote => (Chosen(Resolution::Remote), None),
        Resolve::Skip => (Chosen(Resolution::Skip), None),
        Resolve::Ask => (Ask, None),
        Resolve::New | Resolve::Old => {
            let word = if resolve == Resolve::New { "new" } else { "old" };
            let (Some(l), Some(r)) = (pair.local_entry(), pair.remote_entry()) else {
                return (
                    Chosen(Resolution::Skip),
                    Some(format!("cannot resolve using '{word}': the file was deleted on one side; skipped")),
                );
            };
            match (eps_cmp(l.mtime, r.mtime), resolve) {
                (Ordering::Equal, _) => {
                    (Ask, Some(format!("cannot resolve using '{word}': both have the same modification time")))
                }
                (Ordering::Greater, Resolve::New) | (Ordering::Less, Resolve::Old) => (Chosen(Resolution::Local), None),
                _ => (Chosen(Resolution::Remote), None),
            }
        }
    }
}
