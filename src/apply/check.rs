//! Proving a plan still holds: every folder apply will change is listed again and compared,
//! entry by entry and metadata file by metadata file, with what the plan recorded. Any
//! difference is drift, and apply refuses the whole plan before changing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::workers::{Worker, crew_size, share_out};
use crate::backend::{Target, read_to_vec};
use crate::meta::{META_FILE, timefmt};
use crate::model::listing::Listing;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::model::{Entry, Kind};
use crate::plan::document::{EntryState, FolderSide, MetaStatus, Plan, PlanEntry};
use crate::plan::layout::{Layout, side_name};
use crate::planner::pairs::effective_entries;
use crate::planner::snapshot::{FITS, SideDir};

/// One difference between the plan and what is there now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub path: String,
    pub side: String,
    pub planned: String,
    pub found: String,
}

fn side_label(side: Side) -> &'static str {
    match side {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

/// How an entry state reads in a drift report.
pub fn describe_state(s: Option<&EntryState>) -> String {
    match s {
        None => "absent".into(),
        Some(s) if s.kind == Kind::Dir => "folder".into(),
        Some(s) => format!(
            "file, {} bytes, modified {} UTC",
            s.size,
            timefmt::iso_utc(s.listed()).replace('T', " ").trim_end_matches('Z')
        ),
    }
}

pub fn describe_entry(e: Option<&Entry>) -> String {
    describe_state(
        e.map(|e| EntryState {
            kind: e.kind,
            size: e.size,
            mtime: e.mtime,
            listed_mtime: None,
            unique: e.unique.clone(),
        })
        .as_ref(),
    )
}

/// True when a listed entry is still the planned one.
pub fn matches(planned: Option<&EntryState>, found: Option<&Entry>) -> bool {
    match (planned, found) {
        (None, None) => true,
        (Some(p), Some(f)) => {
            p.kind == f.kind
                && (p.kind == Kind::Dir || (p.size == f.size && p.listed() == f.mtime))
                && (p.unique.is_none() || f.unique.is_none() || p.unique == f.unique)
        }
        _ => false,
    }
}

/// The fresh state of the folders apply will change.
#[derive(Default)]
pub struct Fresh {
    /// Per side and canonical folder: the listing and metadata as found now.
    pub dirs: BTreeMap<(Side, RelPath), SideDir>,
}

/// Lists `folders` on both sides and compares them with the plan, the workers listing
/// folders at the same time. The drift report is in folder order whatever the timing.
pub fn check(
    plan: &Plan,
    layout: &Layout<'_>,
    folders: &BTreeSet<RelPath>,
    workers: &mut [Worker<'_>],
) -> Result<(Vec<Drift>, Fresh)> {
    let mut by_folder: BTreeMap<RelPath, Vec<&PlanEntry>> = BTreeMap::new();
    for e in &plan.entries {
        by_folder.entry(e.path.parent()).or_default().push(e);
    }
    let mut jobs: Vec<(&RelPath, Side, &FolderSide)> = Vec::new();
    for folder in folders {
        let Some(planned) = layout.folder(folder) else {
            anyhow::bail!("invalid plan: folder {:?} has entries to apply but no folder record", folder.as_str());
        };
        for (side, fs) in [(Side::Local, &planned.local), (Side::Remote, &planned.remote)] {
            if let Some(fs) = fs {
                jobs.push((folder, side, fs));
            }
        }
    }
    type Found = (Vec<Drift>, Option<SideDir>);
    let found: Vec<Mutex<Option<Found>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let sides: Vec<Side> = jobs.iter().map(|j| j.1).collect();
    let groups = groups_by_side(&sides, crew_size(workers));
    let all: Vec<usize> = (0..groups.len()).collect();
    share_out(&all, workers, |w, g| {
        let group = &groups[g];
        let side = jobs[group[0]].1;
        let actual: Vec<RelPath> = group.iter().map(|&i| layout.folder_path(jobs[i].0, side)).collect();
        // With each listing, its metadata file where the target reads it at the same time;
        // where it does not, the file is read once listed, and apply's transfers follow.
        w.side(side).expect_transfer();
        w.side(side).expect_files(group.iter().map(|&i| expected_files(by_folder.get(jobs[i].0), side)).collect());
        let listings = w.side(side).list_dirs_reading(&actual, META_FILE)?;
        for ((&i, (listing, meta)), actual) in group.iter().zip(listings).zip(&actual) {
            let (folder, side, fs) = jobs[i];
            let entries = by_folder.get(folder).map_or(&[][..], Vec::as_slice);
            let mut drift = Vec::new();
            let listed = Listed { listing, meta };
            let sd = check_side(w.side(side), listed, actual, folder, side, fs, entries, &mut drift)?;
            *found[i].lock().unwrap_or_else(|e| e.into_inner()) = Some((drift, sd));
        }
        Ok(())
    })?;
    let mut drift = Vec::new();
    let mut fresh = Fresh::default();
    for ((folder, side, _), found) in jobs.iter().zip(found) {
        let (d, sd) = found.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_default();
        drift.extend(d);
        if let Some(sd) = sd {
            fresh.dirs.insert((*side, (*folder).clone()), sd);
        }
    }
    Ok((drift, fresh))
}

/// The files a folder's listing is expected to show on `side`: its planned entries' there,
/// and the metadata file (see [`Target::expect_files`]).
fn expected_files(entries: Option<&Vec<&PlanEntry>>, side: Side) -> Vec<String> {
    let planned = entries.into_iter().flatten().filter(|e| e.kind == Kind::File && e.state(side).is_some());
    std::iter::once(META_FILE.to_string()).chain(planned.map(|e| side_name(e, side).to_string())).collect()
}

/// Groups of jobs (by index) that one worker takes at once: folders of one side, which a
/// target may list together (see `Target::list_dirs`). Each side's folders are shared among
/// all `workers`: the remote ones are slow (metadata files read one after another) and must
/// not wait in a few long groups while the workers that took the local ones are done at once.
pub(super) fn groups_by_side(sides: &[Side], workers: usize) -> Vec<Vec<usize>> {
    let mut groups = Vec::new();
    for side in [Side::Local, Side::Remote] {
        let of_side: Vec<usize> = (0..sides.len()).filter(|&i| sides[i] == side).collect();
        let share = of_side.len().div_ceil(workers.max(1)).max(1);
        groups.extend(of_side.chunks(share).map(<[usize]>::to_vec));
    }
    groups
}

/// A folder as listed now, with its metadata file if it was read with the listing.
struct Listed {
    listing: Option<Listing>,
    meta: Option<Vec<u8>>,
}

#[allow(clippy::too_many_arguments)]
fn check_side(
    target: &mut dyn Target,
    listed: Listed,
    actual: &RelPath,
    folder: &RelPath,
    side: Side,
    planned: &FolderSide,
    entries: &[&PlanEntry],
    drift: &mut Vec<Drift>,
) -> Result<Option<SideDir>> {
    let label = side_label(side).to_string();
    let folder_name = if folder.is_root() { "(root)".to_string() } else { folder.to_string() };
    let Listed { listing, meta } = listed;
    let Some(listing) = listing else {
        drift.push(Drift { path: folder_name, side: label, planned: "folder".into(), found: "absent".into() });
        return Ok(None);
    };
    // Read only when listed: the listing decides whether there is one.
    let meta_bytes = if SideDir::lists_meta(&listing) {
        Some(match meta {
            Some(bytes) => bytes,
            None => {
                // Another transfer follows: the next folder's metadata, or apply's uploads.
                target.expect_transfer();
                read_to_vec(target, &actual.join_unchecked(META_FILE))
                    .with_context(|| format!("cannot read the metadata of {folder_name}"))?
            }
        })
    } else {
        None
    };
    let sd = SideDir::new(listing, meta_bytes.as_deref());
    if planned.meta == MetaStatus::Unread {
        // The plan did not read it: it must still not change what was planned.
        unread_meta_drift(&sd, side, entries, drift);
    } else if sd.meta.sha256() != planned.meta_sha256.as_deref() {
        let state = |h: Option<&str>| h.map_or("absent".to_string(), |h| format!("sha256 {}", &h[..12.min(h.len())]));
        drift.push(Drift {
            path: folder.join_unchecked(META_FILE).to_string(),
            side: label.clone(),
            planned: state(planned.meta_sha256.as_deref()),
            found: state(sd.meta.sha256()),
        });
    }
    let planned_skipped: BTreeSet<&str> = planned.skipped.iter().map(|s| s.name.as_str()).collect();
    let found_skipped: BTreeSet<&str> = sd.skipped.iter().map(|s| s.name.as_str()).collect();
    for name in found_skipped.symmetric_difference(&planned_skipped) {
        let (p, f) = if planned_skipped.contains(name) { ("present", "absent") } else { ("absent", "present") };
        drift.push(Drift {
            path: folder.join_unchecked(name).to_string(),
            side: label.clone(),
            planned: format!("{p} (not synchronised)"),
            found: f.into(),
        });
    }
    let mut found: BTreeMap<&str, &Entry> = sd.entries.iter().map(|e| (e.name.as_str(), e)).collect();
    for e in entries {
        let Some(state) = e.state(side) else { continue };
        let now = found.remove(side_name(e, side));
        if !matches(Some(state), now) {
            drift.push(Drift {
                path: e.path.to_string(),
                side: label.clone(),
                planned: describe_state(Some(state)),
                found: describe_entry(now),
            });
        }
    }
    for (name, e) in found {
        drift.push(Drift {
            path: folder.join_unchecked(name).to_string(),
            side: label.clone(),
            planned: "absent".into(),
            found: describe_entry(Some(e)),
        });
    }
    Ok(Some(sd))
}

/// A metadata file the plan left unread may not give a planned entry another time than the
/// listed one the plan used (its `mtimes` record would have to fit the file, see
/// [`crate::planner::snapshot::meta_can_matter`]).
fn unread_meta_drift(sd: &SideDir, side: Side, entries: &[&PlanEntry], drift: &mut Vec<Drift>) {
    let effective = effective_entries(sd).0;
    for e in entries {
        let Some(state) = e.state(side).filter(|s| s.kind == Kind::File) else { continue };
        let Some(found) = effective.iter().find(|f| f.entry.name == side_name(e, side)) else { continue };
        if (found.entry.mtime - state.mtime).abs() >= FITS {
            drift.push(Drift {
                path: e.path.to_string(),
                side: side_label(side).into(),
                planned: describe_state(Some(state)),
                found: format!("{} (by the time its metadata records)", describe_entry(Some(&found.entry))),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sides_folders_are_shared_among_all_workers() {
        // Twenty folders on each side, seven workers: seven groups of at most three per side.
        let sides: Vec<Side> = (0..40).map(|i| if i % 2 == 0 { Side::Local } else { Side::Remote }).collect();
        let groups = groups_by_side(&sides, 7);
        for side in [Side::Local, Side::Remote] {
            let of_side: Vec<&Vec<usize>> = groups.iter().filter(|g| sides[g[0]] == side).collect();
            assert_eq!(of_side.len(), 7, "{side:?}: {groups:?}");
            assert!(of_side.iter().all(|g| g.len() <= 3 && g.iter().all(|&i| sides[i] == side)), "{groups:?}");
        }
        let mut all: Vec<usize> = groups.concat();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>(), "every folder in exactly one group");
        // One worker: one group per side; no folders: no groups.
        assert_eq!(groups_by_side(&sides, 1).len(), 2);
        assert!(groups_by_side(&[], 4).is_empty());
    }
}
