//! pyftpsync's classification: each entry against the last-sync record, then each pair
//! through the operation matrix, and the `need_compare` re-classification by time and size.
//!
//! Pure functions; the tables follow pyftpsync 4.1's code (not its older PDF spec).

use std::cmp::Ordering;

use crate::meta::{PeerSync, Record};
use crate::model::{Entry, Kind};
use crate::plan::document::{Class, PairOp};

/// Two modification times within this many seconds are equal (pyftpsync's `EPS_TIME`).
pub const EPS: f64 = 2.01;

/// Compares two times with the [`EPS`] tolerance.
pub fn eps_cmp(a: f64, b: f64) -> Ordering {
    let d = a - b;
    if d.abs() <= EPS {
        Ordering::Equal
    } else if d < 0.0 {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// True if the peer data counts as "metadata available" (pyftpsync tests the dict's truth).
pub fn peer_present(peer: Option<&PeerSync>) -> bool {
    peer.is_some_and(|p| p.last_sync.is_some() || !p.records.is_empty() || !p.extra.is_empty())
}

/// Classifies one side of a pair (pyftpsync's `_Resource.classify`).
pub fn classify_entry(entry: Option<&Entry>, record: Option<&Record>, has_peer: bool) -> Class {
    let Some(entry) = entry else {
        return if record.is_some() { Class::Deleted } else { Class::Missing };
    };
    if !has_peer {
        return if entry.kind == Kind::Dir { Class::Unmodified } else { Class::Existing };
    }
    match record {
        None => Class::New,
        Some(_) if entry.kind == Kind::Dir => Class::Unmodified,
        Some(r) if r.s == Some(entry.size) && r.m.is_some_and(|m| eps_cmp(entry.mtime, m).is_eq()) => Class::Unmodified,
        Some(_) => Class::Modified,
    }
}

/// The operation matrix; `None` for combinations that need both entries absent (no pair).
pub fn pair_operation(local: Class, remote: Class) -> Option<PairOp> {
    use Class::*;
    use PairOp::*;
    Some(match (local, remote) {
        (Missing, New | Unmodified | Modified | Existing) => CopyRemote,
        (New | Unmodified | Modified | Existing, Missing) => CopyLocal,
        (New, New | Unmodified | Modified) | (Unmodified | Modified, New) => NeedCompare,
        (New, Deleted) | (Modified, Modified | Deleted) | (Deleted, New | Modified) => Conflict,
        (Unmodified, Unmodified) => Equal,
        (Unmodified, Modified) => CopyRemote,
        (Unmodified, Deleted) => DeleteLocal,
        (Modified, Unmodified) => CopyLocal,
        (Deleted, Unmodified) => DeleteRemote,
        (Existing, Existing) => NeedCompare,
        _ => return None,
    })
}

/// pyftpsync's `on_need_compare` for two files: decides by modification time and size.
/// Returns the new classifications.
pub fn compare_files(local: &Entry, remote: &Entry, classes: (Class, Class)) -> (Class, Class) {
    use Class::*;
    let time = eps_cmp(local.mtime, remote.mtime);
    let same_size = local.size == remote.size;
    match classes {
        (Existing, Existing) => match time {
            Ordering::Less => (Unmodified, Modified),
            Ordering::Greater => (Modified, Unmodified),
            Ordering::Equal if same_size => (Unmodified, Unmodified),
            Ordering::Equal => (Modified, Modified),
        },
        // New on both sides (or a combination that cannot arise with one shared record):
        // equal only when time and size agree, never decided by age.
        _ if time.is_eq() && same_size => (Unmodified, Unmodified),
        _ => (Modified, Modified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_classification() {
        let f = Entry::file("a", 6, 100.0);
        let rec = Record::new(Some(101.5), Some(6), 0.0);
        assert_eq!(classify_entry(Some(&f), Some(&rec), true), Class::Unmodified);
        let rec2 = Record::new(Some(103.0), Some(6), 0.0);
        assert_eq!(classify_entry(Some(&f), Some(&rec2), true), Class::Modified);
        assert_eq!(classify_entry(Some(&f), None, true), Class::New);
        assert_eq!(classify_entry(Some(&f), None, false), Class::Existing);
        assert_eq!(classify_entry(None, Some(&rec), true), Class::Deleted);
        assert_eq!(classify_entry(None, None, true), Class::Missing);
        let d = Entry::dir("d", 5.0);
        assert_eq!(classify_entry(Some(&d), None, false), Class::Unmodified);
        assert_eq!(classify_entry(Some(&d), Some(&rec2), true), Class::Unmodified);
    }

    #[test]
    fn matrix_has_no_gaps_for_reachable_pairs() {
        use Class::*;
        let all = [Missing, New, Unmodified, Modified, Deleted, Existing];
        for l in all {
            for r in all {
                let reachable = !(matches!(l, Missing | Deleted) && matches!(r, Missing | Deleted))
                    && (l == Existing) == matches!(r, Existing | Missing)
                    && (r == Existing) == matches!(l, Existing | Missing);
                if reachable {
                    assert!(pair_operation(l, r).is_some(), "({l:?}, {r:?})");
                }
            }
        }
    }

    #[test]
    fn compare_rules() {
        use Class::*;
        let l = Entry::file("a", 11, 1000.0);
        let newer = Entry::file("a", 12, 1005.0);
        assert_eq!(compare_files(&l, &newer, (Existing, Existing)), (Unmodified, Modified));
        assert_eq!(compare_files(&l, &newer, (New, New)), (Modified, Modified));
        let same = Entry::file("a", 11, 1001.0);
        assert_eq!(compare_files(&l, &same, (New, New)), (Unmodified, Unmodified));
        let same_time = Entry::file("a", 31, 1000.0);
        assert_eq!(compare_files(&l, &same_time, (Existing, Existing)), (Modified, Modified));
    }
}
