//! What the planner has built so far: the plan's entries and folders, the listing counts and
//! the warnings, before the summary is computed.

use super::snapshot::{DirScan, MetaFile, SideDir};
use crate::model::relpath::RelPath;
use crate::plan::document::{Folder, FolderSide, MetaStatus, PlanEntry, ScanCounts, SkippedName};

/// The plan's entries and folders, before the summary is computed.
#[derive(Debug, Default)]
pub struct Built {
    pub entries: Vec<PlanEntry>,
    pub folders: Vec<Folder>,
    pub scan: ScanCounts,
    pub warnings: Vec<String>,
    /// Folders that could not be read (`--skip-unreadable`): nothing in them, nor they
    /// themselves, is copied, deleted or recorded.
    pub unreadable: Vec<RelPath>,
}

impl Built {
    pub(super) fn add_folder(&mut self, scan: &DirScan) {
        let side = |sd: &Option<SideDir>, actual: &Option<RelPath>| {
            sd.as_ref().map(|sd| FolderSide {
                actual_path: actual.clone().filter(|p| *p != scan.request.path),
                meta: match sd.meta {
                    MetaFile::Absent => MetaStatus::Absent,
                    MetaFile::Valid { .. } => MetaStatus::Valid,
                    MetaFile::Unreadable { .. } => MetaStatus::Unreadable,
                    MetaFile::Incompatible { .. } => MetaStatus::Incompatible,
                    MetaFile::Unread => MetaStatus::Unread,
                },
                meta_sha256: sd.meta.sha256().map(str::to_string),
                skipped: sd
                    .skipped
                    .iter()
                    .map(|s| SkippedName { name: s.name.clone(), reason: s.reason.clone() })
                    .collect(),
                temporary: sd.temporary.clone(),
            })
        };
        for (label, sd) in [("local", &scan.local), ("remote", &scan.remote)] {
            for s in sd.iter().flat_map(|sd| &sd.skipped) {
                self.warnings.push(format!(
                    "Skipping {label} {:?}: {}",
                    scan.request.path.join_unchecked(&s.name).as_str(),
                    s.reason
                ));
            }
        }
        self.folders.push(Folder {
            path: scan.request.path.clone(),
            local: side(&scan.local, &scan.request.local_path),
            remote: side(&scan.remote, &scan.request.remote_path),
        });
    }
}
