//! The plan document: what `ftpsync plan` writes, people review and `ftpsync apply` executes.
//!
//! Field order here is the order in the JSON file. Entries are sorted by path. Each entry
//! carries the state of both sides and the metadata record it was classified with: these are
//! the preconditions apply verifies before it changes anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::model::target::{TargetInfo, TargetKind};
use crate::plan::options::{Mode, PlanOptions};

/// Value of the `format` field.
pub const FORMAT: &str = "ftpsync-plan";
/// Major version this build reads and writes; plans of another major are refused.
pub const FORMAT_MAJOR: u32 = 1;
/// Minor version this build writes; any minor of [`FORMAT_MAJOR`] is read.
pub const FORMAT_MINOR: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub format_version: String,
    pub tool: Tool,
    /// Creation time, ISO 8601 UTC: the only field that differs between two plans of the
    /// same state.
    pub created: String,
    pub mode: Mode,
    pub local: TargetDesc,
    pub remote: TargetDesc,
    pub options: PlanOptions,
    pub summary: Summary,
    /// Every folder the scan looked at, with the state of its metadata files.
    pub folders: Vec<Folder>,
    pub entries: Vec<PlanEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// The tool's name and version, as recorded in plans and metadata.
pub fn tool() -> Tool {
    Tool { name: "ftpsync".into(), version: env!("CARGO_PKG_VERSION").into() }
}

/// One target as recorded in a plan (never with a password).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetDesc {
    pub kind: TargetKind,
    pub url: String,
    pub id: String,
    pub display: String,
    /// SFTP: the `SHA256:` fingerprint of the server's host key when the plan was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
}

impl From<&TargetInfo> for TargetDesc {
    fn from(info: &TargetInfo) -> Self {
        TargetDesc {
            kind: info.kind,
            url: info.url.clone(),
            id: info.id.clone(),
            display: info.display.clone(),
            host_key: info.host_key.clone(),
        }
    }
}

/// Counts for reviewers and for `--detailed-exitcode`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of entries per action.
    pub actions: BTreeMap<Action, u64>,
    /// Files (and folders) to create or replace on the remote side, and their bytes.
    pub upload_files: u64,
    pub upload_bytes: u64,
    pub download_files: u64,
    pub download_bytes: u64,
    /// Entries removed on each side (a folder counts once, its contents are included).
    pub delete_local: u64,
    pub delete_remote: u64,
    /// Conflicts, and how many of them are left unresolved (skipped at apply).
    pub conflicts: u64,
    pub unresolved: u64,
    /// Entries whose action changes a side or the metadata.
    pub changes: u64,
    /// pyftpsync's listing counters (for its summary line).
    pub scan: ScanCounts,
}

/// pyftpsync's listing counters, for its summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCounts {
    pub local_files: u64,
    pub local_dirs: u64,
    pub remote_files: u64,
    pub remote_dirs: u64,
    pub entries_seen: u64,
}

/// A folder the scan visited, on each side where it exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Folder {
    pub path: RelPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<FolderSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<FolderSide>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FolderSide {
    /// Path on this side when its spelling differs from `path` (`--case`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_path: Option<RelPath>,
    /// State of `.pyftpsync-meta.json` in this folder.
    pub meta: MetaStatus,
    /// sha256 of the metadata file's bytes, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_sha256: Option<String>,
    /// Entries that are not synchronised (symlinks, special files, bad names) and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedName>,
    /// Names of ftpsync's temporary files found here: apply removes those of a run that is
    /// gone (see `Target::remove_stale_temporary`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temporary: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetaStatus {
    Absent,
    Valid,
    Unreadable,
    Incompatible,
    /// Present, not read: it could not change the plan (apply reads and checks it).
    Unread,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedName {
    pub name: String,
    pub reason: String,
}

/// What apply does with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing: both sides agree and the record is current.
    Equal,
    /// Both sides agree; the metadata record is written.
    Record,
    /// Copy local → remote (a folder: create it; its contents are entries of their own).
    Upload,
    /// Copy remote → local.
    Download,
    DeleteLocal,
    DeleteRemote,
    /// Nothing, for the reason given (mode, filters, missing `--delete`).
    Skip,
    /// A conflict: what happens is given by the entry's `resolution`.
    Conflict,
    /// Both sides are gone: the stale metadata record is removed.
    Forget,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Equal => "equal",
            Action::Record => "record",
            Action::Upload => "upload",
            Action::Download => "download",
            Action::DeleteLocal => "delete_local",
            Action::DeleteRemote => "delete_remote",
            Action::Skip => "skip",
            Action::Conflict => "conflict",
            Action::Forget => "forget",
        }
    }
}

/// How a conflict is decided; `null` in the plan means "ask" (skipped when nobody can be asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Local,
    Remote,
    Skip,
}

/// An entry's `resolution` field. In the plan: absent, `null`, or the resolution's name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResolutionChoice {
    /// The field is absent: not a conflict, or a conflict inside a folder that is copied or
    /// deleted as a whole (it follows that folder).
    #[default]
    Absent,
    /// `null`: the conflict is asked about (skipped when nobody can be asked).
    Ask,
    /// The conflict is decided.
    Chosen(Resolution),
}

impl ResolutionChoice {
    /// The decided resolution, if any (neither absent nor "ask").
    pub fn chosen(self) -> Option<Resolution> {
        match self {
            ResolutionChoice::Chosen(r) => Some(r),
            ResolutionChoice::Absent | ResolutionChoice::Ask => None,
        }
    }

    /// True for a conflict left to be asked about (`null`).
    pub fn is_ask(self) -> bool {
        self == ResolutionChoice::Ask
    }

    /// True when the plan has no `resolution` field (takes a reference for serde's
    /// `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        *self == ResolutionChoice::Absent
    }
}

/// Written as `Option<Resolution>`: `null` for "ask", the name when chosen. An absent field
/// is never written (`skip_serializing_if`); were it written, it would be `null` as well.
impl Serialize for ResolutionChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.chosen().serialize(s)
    }
}

/// Read as `Option<Resolution>` when the field is there (`null` is "ask"); an absent field
/// is [`ResolutionChoice::Absent`] through `#[serde(default)]`.
impl<'de> Deserialize<'de> for ResolutionChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<Resolution>::deserialize(d)?.map_or(ResolutionChoice::Ask, ResolutionChoice::Chosen))
    }
}

/// Why an entry got its action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Unchanged,
    Identical,
    NewLocal,
    NewRemote,
    ModifiedLocal,
    ModifiedRemote,
    NewerLocal,
    NewerRemote,
    OnlyLocal,
    OnlyRemote,
    DeletedLocal,
    DeletedRemote,
    Forced,
    Restore,
    UploadOnly,
    DownloadOnly,
    NeedsDelete,
    Unmatched,
    DeleteUnmatched,
    BothModified,
    ModifiedDeleted,
    DeletedModified,
    BothNew,
    SameTimeDifferentSize,
    FolderChanged,
    KindClash,
    InFolder,
    Stale,
    /// The name was listed on one side with facts that cannot be trusted (a symlink, an absurd
    /// size, a bad time): the pair is left alone rather than taken as absent there.
    Unusable,
    /// A folder that could not be read (or holds one that could not) was left out with
    /// `--skip-unreadable`: left alone on both sides.
    Unreadable,
}

/// State of one side of an entry as planned (a precondition of apply).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryState {
    pub kind: Kind,
    pub size: u64,
    /// Modification time used for classification.
    pub mtime: f64,
    /// Modification time as listed, when the metadata's `mtimes` record replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_mtime: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<String>,
}

impl EntryState {
    /// The time the listing shows (what apply compares against).
    pub fn listed(&self) -> f64 {
        self.listed_mtime.unwrap_or(self.mtime)
    }
}

/// A metadata record as planned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub m: Option<f64>,
    pub s: Option<u64>,
    pub u: f64,
}

/// State of one side of a pair relative to the last synchronisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Absent, and no record says it ever existed.
    Missing,
    /// Present, not in the records of a folder that has records.
    New,
    /// Present and equal to its record.
    Unmodified,
    /// Present and different from its record.
    Modified,
    /// Absent, but a record says it existed at the last sync.
    Deleted,
    /// Present; the folder has no records at all.
    Existing,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Missing => "missing",
            Class::New => "new",
            Class::Unmodified => "unmodified",
            Class::Modified => "modified",
            Class::Deleted => "deleted",
            Class::Existing => "existing",
        }
    }
}

/// pyftpsync's pair operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairOp {
    Equal,
    /// Copy local → remote.
    CopyLocal,
    /// Copy remote → local.
    CopyRemote,
    DeleteLocal,
    DeleteRemote,
    Conflict,
    NeedCompare,
}

/// Final classification of both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub local: Class,
    pub remote: Class,
}

/// One pair (or one entry inside a folder that is copied or deleted as a whole).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub path: RelPath,
    pub kind: Kind,
    pub local: Option<EntryState>,
    pub remote: Option<EntryState>,
    /// The local metadata's record for this name (`peer_sync`), as classified.
    pub record: Option<RecordState>,
    pub classification: Classification,
    /// pyftpsync's operation for the pair, after re-classification.
    pub operation: Option<PairOp>,
    pub action: Action,
    pub reason: Reason,
    pub reason_text: String,
    /// Conflicts only: `local`, `remote`, `skip`, or `null` (ask). Reviewers may edit it.
    #[serde(default, skip_serializing_if = "ResolutionChoice::is_absent")]
    pub resolution: ResolutionChoice,
    /// For entries inside a folder that is copied or deleted as a whole: that folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of: Option<RelPath>,
    /// The name on a side when its spelling differs from `path` (`--case`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_name: Option<String>,
    /// `--checksum`: sha256 of the local file to upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl PlanEntry {
    /// The side states as (local, remote).
    pub fn states(&self) -> (Option<&EntryState>, Option<&EntryState>) {
        (self.local.as_ref(), self.remote.as_ref())
    }

    /// The state planned on one side.
    pub fn state(&self, side: Side) -> Option<&EntryState> {
        match side {
            Side::Local => self.local.as_ref(),
            Side::Remote => self.remote.as_ref(),
        }
    }

    /// What really happens: conflicts become the action their resolution implies.
    pub fn effective_action(&self) -> Action {
        match (self.action, self.resolution.chosen()) {
            (Action::Conflict, Some(Resolution::Local)) => {
                if self.local.is_some() {
                    Action::Upload
                } else {
                    Action::DeleteRemote
                }
            }
            (Action::Conflict, Some(Resolution::Remote)) => {
                if self.remote.is_some() {
                    Action::Download
                } else {
                    Action::DeleteLocal
                }
            }
            (Action::Conflict, _) => Action::Skip,
            (a, _) => a,
        }
    }

    /// True when apply changes a side or the metadata for this entry.
    pub fn is_change(&self) -> bool {
        !matches!(self.effective_action(), Action::Equal | Action::Skip)
    }

    /// Unresolved or skipped conflict.
    pub fn is_skipped_conflict(&self) -> bool {
        self.action == Action::Conflict && self.effective_action() == Action::Skip
    }
}
