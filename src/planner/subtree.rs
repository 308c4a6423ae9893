//! Folders copied or deleted as a whole.
//!
//! Deleting a folder because the other side deleted it must never lose an edit made inside it
//! since the last sync (pyftpsync loses it: its bug §11.1). [`changed_inside`] looks for
//! entries it cannot prove unchanged; [`expand`] lists every entry of such a folder as an entry
//! of the plan, so apply copies or deletes exactly what was reviewed.

use super::built::Built;
use super::classify::{classify_entry, peer_present};
use super::entries::{entry_state, stale_entry};
use super::pairs::effective_entries;
use super::snapshot::Snapshot;
use super::texts;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, Class, Classification, PlanEntry, Reason, ResolutionChoice};
use crate::planner::filter::Filter;

/// The two target ids: the key of each side's records of the other.
#[derive(Clone, Copy, Debug)]
pub struct PeerIds<'a> {
    pub local: &'a str,
    pub remote: &'a str,
}

/// Returns a description of the first entry below `dir` on `side` that is not proven unchanged
/// since the last sync (or that cannot be synchronised at all), or `None` when every entry is.
///
/// Only a record proves a file unchanged; times alone cannot (an edit may keep or restore
/// them, and happen within the clock tolerance of the sync). The records are, on the local
/// side, its folders' `peer_sync` of the remote; on the remote side, the copy of those records
/// apply keeps there (`peer_sync` of the local id, see `apply::metastore`), or a fitting
/// `mtimes` record (the file is still the one uploaded). The records of the side whose folder
/// is gone went with it: that is why the surviving side's own records are needed.
pub fn changed_inside(snapshot: &Snapshot, dir: &RelPath, side: Side, ids: PeerIds<'_>) -> Option<String> {
    let (label, why) = match side {
        Side::Local => ("local", "no record of it"),
        Side::Remote => ("remote", "its record was in the deleted local folder"),
    };
    for (path, scan) in snapshot.dirs.range(dir.clone()..) {
        if !path.starts_with(dir) {
            break;
        }
        let Some(sd) = scan.side(side) else { continue };
        if let Some(s) = sd.skipped.first() {
            return Some(format!("{} cannot be synchronised ({})", path.join_unchecked(&s.name), s.reason));
        }
        let other_id = if side == Side::Local { ids.remote } else { ids.local };
        let peer = sd.meta.valid().and_then(|m| m.peer(other_id)).filter(|p| peer_present(Some(p)));
        // `mtimes` records that no longer fit their file: changed by someone else since upload.
        let (entries, unfit) = effective_entries(sd);
        for e in &entries {
            let name = &e.entry.name;
            let at = path.join_unchecked(name);
            let what = if e.entry.kind == Kind::Dir { "folder" } else { "file" };
            let verdict = match peer.and_then(|p| p.records.get(name)) {
                Some(_) if e.entry.kind == Kind::Dir => None,
                Some(r) if classify_entry(Some(&e.entry), Some(r), true) == Class::Unmodified => None,
                Some(_) => Some(format!("{what} {at} changed since the last sync")),
                // Its content is checked folder by folder.
                None if e.entry.kind == Kind::Dir && peer.is_none() => None,
                None if unfit.contains(name) => Some(format!("{what} {at} changed since the last sync")),
                // A fitting `mtimes` record: still the file that was uploaded.
                None if e.listed_mtime.is_some() => None,
                None if peer.is_some() => Some(format!("{what} {at} is new since the last sync")),
                None => Some(format!("nothing proves {label} {what} {at} unchanged since the last sync ({why})")),
            };
            if verdict.is_some() {
                return verdict;
            }
        }
    }
    None
}

/// Emits entries for everything below `dir` on `side`, part of the whole-folder action of
/// `root`. Filters apply to copies; a deletion takes everything.
#[allow(clippy::too_many_arguments)]
pub fn expand(
    built: &mut Built,
    snapshot: &Snapshot,
    filter: &Filter,
    remote_id: &str,
    dir: &RelPath,
    side: Side,
    root: &RelPath,
    action: Action,
    excluded: bool,
) {
    let Some(scan) = snapshot.dirs.get(dir) else { return };
    let Some(sd) = scan.side(side) else { return };
    built.add_folder(scan);
    let copying = matches!(action, Action::Upload | Action::Download);
    if copying && !excluded {
        built.scan.entries_seen += sd.entries.len() as u64;
    }
    let (entries, _) = effective_entries(sd);
    for e in entries {
        let path = dir.join_unchecked(&e.entry.name);
        let passes = !excluded && filter.passes(&e.entry.name, e.entry.kind);
        let child_action = match action {
            Action::Upload | Action::Download if passes => action,
            Action::DeleteLocal | Action::DeleteRemote => action,
            _ => Action::Skip,
        };
        let state = Some(entry_state(&e));
        let (local, remote) = match side {
            Side::Local => (state, None),
            Side::Remote => (None, state),
        };
        let present = |s: &Option<_>| if s.is_some() { Class::Existing } else { Class::Missing };
        let reason = if passes { Reason::InFolder } else { Reason::Unmatched };
        let kind = e.entry.kind;
        built.entries.push(PlanEntry {
            path: path.clone(),
            kind,
            classification: Classification { local: present(&local), remote: present(&remote) },
            local,
            remote,
            record: None,
            operation: None,
            action: child_action,
            reason,
            reason_text: texts::reason_text(reason, reason, None),
            resolution: ResolutionChoice::Absent,
            part_of: Some(root.clone()),
            local_name: None,
            remote_name: None,
            sha256: None,
        });
        if kind == Kind::Dir {
            expand(built, snapshot, filter, remote_id, &path, side, root, action, !passes);
        }
    }
    // A local folder keeps its records when it is copied; forget those of names it no longer
    // holds, or the next sync would find them stale.
    if side == Side::Local {
        let names: std::collections::HashSet<&str> = sd.entries.iter().map(|e| e.name.as_str()).collect();
        let peer = sd.meta.valid().and_then(|m| m.peer(remote_id));
        for (name, rec) in peer.iter().flat_map(|p| &p.records).filter(|(n, _)| !names.contains(n.as_str())) {
            let mut e = stale_entry(dir.join_unchecked(name), rec);
            e.part_of = Some(root.clone());
            e.action = if matches!(action, Action::Upload) { Action::Forget } else { Action::Skip };
            built.entries.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{DirMeta, WriteStyle};
    use crate::model::Entry;
    use crate::planner::snapshot::{DirScan, MetaFile, Purpose, ScanRequest, SideDir};

    const IDS: PeerIds<'static> = PeerIds { local: "/l", remote: "/r" };

    fn style() -> WriteStyle {
        WriteStyle { verbose: false, version: "t".into() }
    }

    /// A snapshot of the remote folder `d` (the local one is gone) holding `entries`.
    fn remote_only(entries: Vec<Entry>, meta: Option<DirMeta>) -> Snapshot {
        let path = RelPath::parse("d").unwrap();
        let request = ScanRequest {
            path: path.clone(),
            purpose: Purpose::Delete(Side::Remote),
            local_path: None,
            remote_path: Some(path.clone()),
            implied_peer: false,
        };
        let meta = meta.map_or(MetaFile::Absent, |meta| MetaFile::Valid { meta, sha256: String::new() });
        let remote = SideDir { entries, skipped: Vec::new(), meta, lock: None, temporary: Vec::new() };
        let mut snapshot = Snapshot::default();
        snapshot.dirs.insert(path, DirScan { request, local: None, remote: Some(remote), unreadable: None });
        snapshot
    }

    fn check(snapshot: &Snapshot) -> Option<String> {
        changed_inside(snapshot, &RelPath::parse("d").unwrap(), Side::Remote, IDS)
    }

    #[test]
    fn only_records_prove_remote_files_unchanged() {
        let file = Entry::file("a.txt", 6, 1000.0);
        // No record anywhere: not proven, whatever the times say.
        let found = check(&remote_only(vec![file.clone()], None)).expect("unproven");
        assert!(found.contains("nothing proves remote file d/a.txt unchanged"), "{found}");
        // The copy of the local records proves it, while the file fits its record.
        let mut copy = DirMeta::default();
        copy.set_sync("/l", "a.txt", Some(1000.0), Some(6), 2000.0, &style());
        assert_eq!(check(&remote_only(vec![file.clone()], Some(copy.clone()))), None);
        let edited = Entry::file("a.txt", 16, 1000.0);
        let found = check(&remote_only(vec![edited.clone()], Some(copy.clone()))).expect("changed");
        assert!(found.contains("file d/a.txt changed"), "{found}");
        // A file the records do not know is new.
        let found =
            check(&remote_only(vec![file.clone(), Entry::file("b.txt", 1, 5.0)], Some(copy.clone()))).expect("new");
        assert!(found.contains("d/b.txt is new"), "{found}");
        // Records of another local folder prove nothing.
        let mut other = DirMeta::default();
        other.set_sync("/elsewhere", "a.txt", Some(1000.0), Some(6), 2000.0, &style());
        assert!(check(&remote_only(vec![file.clone()], Some(other))).is_some());
        // A fitting `mtimes` record (a server): the file is still the one uploaded.
        let mut uploaded = DirMeta::default();
        uploaded.set_mtime("a.txt", 900.0, 6, 999.0, &style());
        assert_eq!(check(&remote_only(vec![file.clone()], Some(uploaded.clone()))), None);
        assert!(check(&remote_only(vec![edited], Some(uploaded))).is_some());
        // A folder without records is not itself an edit: its content is checked on its own.
        assert_eq!(check(&remote_only(vec![Entry::dir("sub", 5.0)], None)), None);
    }
}
