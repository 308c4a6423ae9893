//! The plan entries the planner makes: of a classified pair, and of a record whose name is gone
//! from both sides.

use super::decide::Decision;
use super::pairs::{Pair, SideEntry};
use super::texts;
use crate::meta::Record;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::plan::document::{
    Action, Class, Classification, EntryState, PlanEntry, Reason, RecordState, ResolutionChoice,
};

/// One side of a pair as the plan records it (a precondition of apply).
pub fn entry_state(e: &SideEntry) -> EntryState {
    EntryState {
        kind: e.entry.kind,
        size: e.entry.size,
        mtime: e.entry.mtime,
        listed_mtime: e.listed_mtime,
        unique: e.entry.unique.clone(),
    }
}

/// An entry for a record whose name is gone from both sides.
pub fn stale_entry(path: RelPath, rec: &Record) -> PlanEntry {
    PlanEntry {
        path,
        kind: if rec.m.is_none() && rec.s.is_none() { Kind::Dir } else { Kind::File },
        local: None,
        remote: None,
        record: Some(record_state(rec)),
        classification: Classification { local: Class::Deleted, remote: Class::Deleted },
        operation: None,
        action: Action::Forget,
        reason: Reason::Stale,
        reason_text: texts::reason_text(Reason::Stale, Reason::Stale, None),
        resolution: ResolutionChoice::Absent,
        part_of: None,
        local_name: None,
        remote_name: None,
        sha256: None,
    }
}

/// A metadata record as the plan records it.
pub fn record_state(r: &Record) -> RecordState {
    RecordState { m: r.m, s: r.s, u: r.u }
}

/// The plan entry of a classified pair.
pub fn make_entry(path: RelPath, pair: &Pair, d: &Decision, record: Option<&Record>) -> PlanEntry {
    PlanEntry {
        path,
        kind: pair.any().kind,
        local: pair.local.as_ref().map(entry_state),
        remote: pair.remote.as_ref().map(entry_state),
        record: record.map(record_state),
        classification: Classification { local: d.classes.0, remote: d.classes.1 },
        operation: d.operation,
        action: d.action,
        reason: d.reason,
        reason_text: texts::reason_text(d.reason, d.change, d.note.as_deref()),
        resolution: d.resolution,
        part_of: None,
        local_name: pair.local_name.clone(),
        remote_name: pair.remote_name.clone(),
        sha256: None,
    }
}
