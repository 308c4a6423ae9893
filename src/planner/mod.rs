//! The planner: from what the scan found to the entries of a plan. No I/O, no clock.
//!
//! Planning happens in two passes over the same pure functions:
//! 1. while scanning, [`follow_up`] tells the scanner which folders a scanned folder leads to
//!    (folders on both sides are visited; folders copied or deleted as a whole are listed on
//!    the side that has them);
//! 2. [`build`] walks the complete [`Snapshot`] from the root and emits one plan entry per
//!    pair, plus one per entry inside whole-folder actions, plus one per stale record.
//!
//! [`assemble`] makes the plan document of what was built. The planner points one way: it uses
//! the plan's types (`crate::plan`), never the other way round.

pub mod built;
pub mod classify;
pub mod decide;
pub mod entries;
pub mod filter;
pub mod pairs;
pub mod snapshot;
pub mod subtree;
pub mod texts;

use anyhow::{Result, anyhow, bail};

use self::built::Built;
use self::classify::peer_present;
use self::decide::{DecideCtx, Decision, decide};
use self::entries::{make_entry, stale_entry};
use self::pairs::{Pair, effective_entries, make_pairs};
use self::snapshot::{DirScan, MetaFile, Purpose, ScanRequest, Snapshot};
use crate::meta::{PeerSync, Record};
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::model::target::TargetInfo;
use crate::plan::document::{
    Action, Class, FORMAT, FORMAT_MAJOR, FORMAT_MINOR, Folder, PairOp, Plan, Reason, Resolution, ResolutionChoice,
    ScanCounts, Summary, TargetDesc, tool,
};
use crate::plan::options::{PlanOptions, Resolve};
use crate::plan::summary::summarize;
use crate::planner::filter::Filter;

/// Options and target identities the planner works with.
pub struct PlanContext {
    pub options: PlanOptions,
    pub filter: Filter,
    pub local: TargetInfo,
    pub remote: TargetInfo,
}

impl PlanContext {
    pub fn new(options: PlanOptions, local: TargetInfo, remote: TargetInfo) -> Result<Self> {
        let filter = Filter::new(&options.matches, &options.exclude)?;
        Ok(PlanContext { options, filter, local, remote })
    }

    fn decide_ctx(&self) -> DecideCtx<'_> {
        DecideCtx { options: &self.options, filter: &self.filter }
    }
}

/// The classified pairs of a visited folder.
struct Visit<'a> {
    pairs: Vec<(Pair, Decision, Option<&'a Record>)>,
    stale: Vec<(&'a String, &'a Record)>,
}

/// The peer records of a visited folder, after pyftpsync's rules for unusable metadata.
fn peer_records<'a>(ctx: &PlanContext, scan: &'a DirScan, warnings: &mut Vec<String>) -> Result<Option<&'a PeerSync>> {
    for (side, sd) in [(Side::Local, &scan.local), (Side::Remote, &scan.remote)] {
        let Some(sd) = sd else { continue };
        let where_ =
            format!("{} folder {:?}", if side == Side::Local { "local" } else { "remote" }, scan.request.path.as_str());
        match &sd.meta {
            MetaFile::Unreadable { error, .. } => {
                warnings.push(format!("Could not read meta info in {where_}: {error}; treating it as empty"))
            }
            MetaFile::Incompatible { version, .. } if ctx.options.migrate => warnings
                .push(format!("Migrating meta data version from {version} to 3 (i.e. discarding it) in {where_}")),
            MetaFile::Incompatible { version, .. } => bail!(
                "Invalid meta data version {version} (expected 3) in {where_}; pass --migrate to discard old data"
            ),
            MetaFile::Absent | MetaFile::Valid { .. } | MetaFile::Unread => {}
        }
    }
    Ok(scan.local.as_ref().and_then(|l| l.meta.valid()).and_then(|m| m.peer(&ctx.remote.id)))
}

fn visit<'a>(ctx: &PlanContext, scan: &'a DirScan, warnings: &mut Vec<String>) -> Result<Visit<'a>> {
    let path = &scan.request.path;
    let (Some(local), Some(remote)) = (&scan.local, &scan.remote) else {
        bail!("folder {:?} disappeared during the scan; run the command again", path.as_str());
    };
    let peer = peer_records(ctx, scan, warnings)?;
    let has_peer = peer_present(peer) || scan.request.implied_peer;
    let pairs = make_pairs(effective_entries(local).0, effective_entries(remote).0, ctx.options.case, path.as_str())?;
    let dctx = ctx.decide_ctx();
    // A name listed in a form we refuse is unknown on that side, not absent: nothing may be
    // copied over it or deleted because of it.
    let unusable: std::collections::HashSet<&str> =
        local.skipped.iter().chain(&remote.skipped).map(|s| s.name.as_str()).collect();
    let pairs: Vec<_> = pairs
        .into_iter()
        .map(|pair| {
            let record = peer.and_then(|p| p.records.get(&pair.name));
            let mut d = decide(&dctx, &pair, record, has_peer);
            let names = [Some(pair.name.as_str()), pair.local_name.as_deref(), pair.remote_name.as_deref()];
            if names.into_iter().flatten().any(|n| unusable.contains(n)) {
                d.action = Action::Skip;
                d.reason = Reason::Unusable;
                d.resolution = ResolutionChoice::Absent;
            }
            (pair, d, record)
        })
        .collect();
    let names: std::collections::HashSet<&str> = pairs.iter().map(|(pair, _, _)| pair.name.as_str()).collect();
    let stale = peer
        .map(|p| {
            p.records
                .iter()
                .filter(|(name, _)| !names.contains(name.as_str()) && !unusable.contains(name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Visit { pairs, stale })
}

fn child_request(parent: &ScanRequest, pair: &Pair, purpose: Purpose, implied_peer: bool) -> ScanRequest {
    let on = |side: Side| match purpose {
        Purpose::Visit => true,
        Purpose::Copy(s) | Purpose::Delete(s) => s == side,
    };
    let local_name = pair.local_name.as_deref().unwrap_or(&pair.name);
    let remote_name = pair.remote_name.as_deref().unwrap_or(&pair.name);
    ScanRequest {
        path: parent.path.join_unchecked(&pair.name),
        purpose,
        local_path: parent.local_path.as_ref().filter(|_| on(Side::Local)).map(|p| p.join_unchecked(local_name)),
        remote_path: parent.remote_path.as_ref().filter(|_| on(Side::Remote)).map(|p| p.join_unchecked(remote_name)),
        implied_peer,
    }
}

/// Which folders the scan must list next because of this one.
pub fn follow_up(ctx: &PlanContext, scan: &DirScan) -> Result<Vec<ScanRequest>> {
    let req = &scan.request;
    let mut out = Vec::new();
    // Nothing below a folder that could not be read takes part.
    if scan.unreadable.is_some() {
        return Ok(out);
    }
    match req.purpose {
        Purpose::Visit => {
            for (pair, d, record) in visit(ctx, scan, &mut Vec::new())?.pairs {
                let (l, r) = (pair.local_entry(), pair.remote_entry());
                let dir = |e: Option<&crate::model::Entry>| e.is_some_and(|e| e.kind == Kind::Dir);
                let purpose = match d.action {
                    Action::Equal if dir(l) && dir(r) => Purpose::Visit,
                    Action::Upload if dir(l) => Purpose::Copy(Side::Local),
                    Action::Download if dir(r) => Purpose::Copy(Side::Remote),
                    Action::DeleteLocal if dir(l) => Purpose::Delete(Side::Local),
                    Action::DeleteRemote if dir(r) => Purpose::Delete(Side::Remote),
                    _ => continue,
                };
                // A folder recorded in its parent took part in the last sync; one classified
                // (existing, existing) was new on both sides (`need_compare`). Either way,
                // what it holds without a record is new.
                let implied = record.is_some() || d.classes == (Class::Existing, Class::Existing);
                out.push(child_request(req, &pair, purpose, implied));
            }
        }
        Purpose::Copy(side) | Purpose::Delete(side) => {
            let Some(sd) = scan.side(side) else { return Ok(out) };
            let copying = matches!(req.purpose, Purpose::Copy(_));
            for e in sd.entries.iter().filter(|e| e.kind == Kind::Dir) {
                if copying && !ctx.filter.passes(&e.name, e.kind) {
                    continue;
                }
                let pair =
                    Pair { name: e.name.clone(), local: None, remote: None, local_name: None, remote_name: None };
                out.push(child_request(req, &pair, req.purpose, false));
            }
        }
    }
    Ok(out)
}

/// True when the record already describes the (equal) pair exactly.
fn record_current(record: Option<&Record>, pair: &Pair) -> bool {
    match (record, pair.local_entry()) {
        (Some(_), Some(l)) if l.kind == Kind::Dir => true,
        (Some(r), Some(l)) => r.s == Some(l.size) && r.m == Some(l.mtime),
        _ => false,
    }
}

/// Builds all entries from a complete snapshot.
pub fn build(ctx: &PlanContext, snapshot: &Snapshot) -> Result<Built> {
    let mut built = Built::default();
    for (path, scan) in &snapshot.dirs {
        if let Some(why) = &scan.unreadable {
            built.unreadable.push(path.clone());
            built.warnings.push(why.clone());
        }
    }
    walk(ctx, snapshot, &RelPath::root(), &mut built)?;
    built.entries.sort_by(|a, b| a.path.cmp(&b.path));
    built.folders.sort_by(|a, b| a.path.cmp(&b.path));
    keep_nested_roots_temporaries(snapshot, &mut built.folders);
    Ok(built)
}

/// A remote folder below the root with a lock file of its own is the root of another run
/// (ftpsync may be pointed at a folder inside ours): the temporary files in it belong to that
/// run, whose lock we do not hold, and are left alone.
fn keep_nested_roots_temporaries(snapshot: &Snapshot, folders: &mut [Folder]) {
    let roots: Vec<&RelPath> = snapshot
        .dirs
        .iter()
        .filter(|(p, s)| !p.is_root() && s.remote.as_ref().is_some_and(|r| r.lock.is_some()))
        .map(|(p, _)| p)
        .collect();
    for f in folders.iter_mut().filter(|f| roots.iter().any(|r| f.path.starts_with(r))) {
        if let Some(remote) = &mut f.remote {
            remote.temporary.clear();
        }
    }
}

fn walk(ctx: &PlanContext, snapshot: &Snapshot, path: &RelPath, built: &mut Built) -> Result<()> {
    let scan = snapshot.dirs.get(path).ok_or_else(|| anyhow!("internal error: folder {path:?} was not scanned"))?;
    if scan.unreadable.is_some() {
        // Only the root gets here: a folder below is left alone by its parent.
        return Ok(());
    }
    let v = visit(ctx, scan, &mut built.warnings)?;
    built.add_folder(scan);
    count_visited(scan, &mut built.scan);
    for (pair, d, record) in v.pairs {
        let child = path.join_unchecked(&pair.name);
        let kind = pair.any().kind;
        let mut d = guard_folder_deletion(ctx, snapshot, &child, kind, d);
        if kind == Kind::Dir && built.unreadable.iter().any(|u| u.starts_with(&child)) {
            // An unreadable folder at or below: the folder is neither copied, deleted, nor
            // entered, whatever its pair says.
            d.action = Action::Skip;
            d.reason = Reason::Unreadable;
            d.resolution = ResolutionChoice::Absent;
        }
        let mut entry = make_entry(child.clone(), &pair, &d, record);
        if entry.action == Action::Equal && !record_current(record, &pair) {
            entry.action = Action::Record;
        }
        let effective = entry.effective_action();
        let folder_conflict = entry.reason == Reason::FolderChanged;
        built.entries.push(entry);
        if kind != Kind::Dir {
            continue;
        }
        let is_dir = |e: Option<&crate::model::Entry>| e.is_some_and(|e| e.kind == Kind::Dir);
        let side_with_folder = if is_dir(pair.local_entry()) { Side::Local } else { Side::Remote };
        match effective {
            Action::Equal | Action::Record if is_dir(pair.local_entry()) && is_dir(pair.remote_entry()) => {
                walk(ctx, snapshot, &child, built)?
            }
            Action::Upload | Action::DeleteLocal if is_dir(pair.local_entry()) => subtree::expand(
                built,
                snapshot,
                &ctx.filter,
                &ctx.remote.id,
                &child,
                Side::Local,
                &child,
                effective,
                false,
            ),
            Action::Download | Action::DeleteRemote if is_dir(pair.remote_entry()) => subtree::expand(
                built,
                snapshot,
                &ctx.filter,
                &ctx.remote.id,
                &child,
                Side::Remote,
                &child,
                effective,
                false,
            ),
            Action::Skip if folder_conflict => subtree::expand(
                built,
                snapshot,
                &ctx.filter,
                &ctx.remote.id,
                &child,
                side_with_folder,
                &child,
                Action::Skip,
                false,
            ),
            _ => {}
        }
    }
    for (name, rec) in v.stale {
        built.entries.push(stale_entry(path.join_unchecked(name), rec));
    }
    Ok(())
}

/// pyftpsync's listing counters for a visited folder.
fn count_visited(scan: &DirScan, counts: &mut ScanCounts) {
    let (local, remote) =
        (scan.local.as_ref().map_or(&[][..], |s| &s.entries), scan.remote.as_ref().map_or(&[][..], |s| &s.entries));
    let dirs = |es: &[crate::model::Entry]| es.iter().filter(|e| e.kind == Kind::Dir).count() as u64;
    counts.local_dirs += dirs(local);
    counts.local_files += local.len() as u64 - dirs(local);
    counts.remote_dirs += dirs(remote);
    counts.remote_files += remote.len() as u64 - dirs(remote);
    counts.entries_seen += (local.len() + remote.len()) as u64 + dirs(local);
}

/// A folder deleted on one side because the other side deleted it becomes a conflict when
/// something inside it changed since the last sync, or cannot be proven unchanged.
fn guard_folder_deletion(ctx: &PlanContext, snapshot: &Snapshot, child: &RelPath, kind: Kind, d: Decision) -> Decision {
    let side = match (kind, d.action, d.reason) {
        (Kind::Dir, Action::DeleteLocal, Reason::DeletedRemote) => Side::Local,
        (Kind::Dir, Action::DeleteRemote, Reason::DeletedLocal) => Side::Remote,
        _ => return d,
    };
    let ids = subtree::PeerIds { local: &ctx.local.id, remote: &ctx.remote.id };
    let Some(what) = subtree::changed_inside(snapshot, child, side, ids) else {
        return d;
    };
    use ResolutionChoice::{Ask, Chosen};
    let (resolution, extra) = match ctx.options.resolve {
        Resolve::Local => (Chosen(Resolution::Local), None),
        Resolve::Remote => (Chosen(Resolution::Remote), None),
        Resolve::Skip => (Chosen(Resolution::Skip), None),
        Resolve::Ask => (Ask, None),
        Resolve::New | Resolve::Old => {
            (Chosen(Resolution::Skip), Some("cannot resolve by age when one side was deleted; skipped"))
        }
    };
    let deleted_on = if side == Side::Local { "remote" } else { "local" };
    let note =
        format!("deleted on the {deleted_on} side, but {what}{}", extra.map(|e| format!("; {e}")).unwrap_or_default());
    Decision {
        operation: Some(PairOp::Conflict),
        action: Action::Conflict,
        reason: Reason::FolderChanged,
        change: Reason::FolderChanged,
        resolution,
        note: Some(note),
        ..d
    }
}

/// Assembles a plan from what [`build`] built.
pub fn assemble(ctx: &PlanContext, built: Built, created: String) -> Plan {
    let mut plan = Plan {
        format: FORMAT.into(),
        format_version: format!("{FORMAT_MAJOR}.{FORMAT_MINOR}"),
        tool: tool(),
        created,
        mode: ctx.options.mode,
        local: TargetDesc::from(&ctx.local),
        remote: TargetDesc::from(&ctx.remote),
        options: ctx.options.clone(),
        summary: Summary::default(),
        folders: built.folders,
        entries: built.entries,
    };
    plan.summary = summarize(&plan.entries, built.scan);
    plan
}
