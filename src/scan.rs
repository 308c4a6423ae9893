//! Scanning: lists the folders the planner asks for, on both sides, into a snapshot.
//!
//! Read-only: listing folders and reading metadata files is all it does.

use anyhow::{Context, Result, anyhow};

use crate::meta::META_FILE;
use crate::planner::snapshot::{DirScan, ScanRequest, SideDir, Snapshot};
use crate::planner::{PlanContext, follow_up};
use crate::relpath::RelPath;
use crate::target::{Target, read_to_vec};

/// Lists one folder of one side, with its metadata.
pub fn read_side(target: &mut dyn Target, path: &RelPath) -> Result<SideDir> {
    let listing = target
        .list_dir(path)?
        .ok_or_else(|| anyhow!("folder {:?} does not exist on {} (it may have been removed during the scan)", path.as_str(), target.info().display))?;
    let meta = if SideDir::lists_meta(&listing) {
        let file = path.join_unchecked(META_FILE);
        Some(read_to_vec(target, &file).with_context(|| format!("cannot read {file} on {}", target.info().display))?)
    } else {
        None
    };
    Ok(SideDir::new(listing, meta.as_deref()))
}

/// Scans everything the plan needs.
pub fn scan(local: &mut dyn Target, remote: &mut dyn Target, ctx: &PlanContext) -> Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    let mut queue = vec![ScanRequest::root()];
    while let Some(req) = queue.pop() {
        let local_dir = req.local_path.as_ref().map(|p| read_side(local, p)).transpose()?;
        let remote_dir = req.remote_path.as_ref().map(|p| read_side(remote, p)).transpose()?;
        let scan = DirScan { request: req, local: local_dir, remote: remote_dir };
        queue.extend(follow_up(ctx, &scan)?);
        snapshot.dirs.insert(scan.request.path.clone(), scan);
    }
    Ok(snapshot)
}
