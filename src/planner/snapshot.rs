//! What the scan found: per folder, the listing and metadata of each side.
//!
//! The scanner fills a [`Snapshot`] by performing [`ScanRequest`]s; which requests follow from
//! a folder is decided by the (pure) planner, so the scanner lists exactly the folders the plan
//! needs: folders present on both sides, and the contents of folders that are copied or
//! deleted as a whole.

use std::collections::BTreeMap;

use crate::meta::{DirMeta, JOURNAL_FILE, LOCK_FILE, META_FILE, MetaError};
use crate::model::listing::Listing;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::model::{Entry, Kind, Skipped};

/// Why a folder is scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Present on both sides: its pairs are classified.
    Visit,
    /// Inside a folder copied as a whole from this side.
    Copy(Side),
    /// Inside a folder that may be deleted as a whole on this side.
    Delete(Side),
}

/// A folder to list, with its actual path on each side that has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRequest {
    /// Canonical path (the key in the snapshot and in the plan).
    pub path: RelPath,
    pub purpose: Purpose,
    pub local_path: Option<RelPath>,
    pub remote_path: Option<RelPath>,
    /// The folder took part in the last sync, or is new on both sides since then (its parent's
    /// records say so): an entry inside without a record of its own is new, even when the
    /// folder has no metadata file.
    pub implied_peer: bool,
}

impl ScanRequest {
    pub fn root() -> Self {
        ScanRequest {
            path: RelPath::root(),
            purpose: Purpose::Visit,
            local_path: Some(RelPath::root()),
            remote_path: Some(RelPath::root()),
            implied_peer: false,
        }
    }

    /// The actual path on one side.
    pub fn side_path(&self, side: Side) -> Option<&RelPath> {
        match side {
            Side::Local => self.local_path.as_ref(),
            Side::Remote => self.remote_path.as_ref(),
        }
    }
}

/// The metadata file of a folder, as found.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaFile {
    Absent,
    Valid {
        meta: DirMeta,
        sha256: String,
    },
    /// Not JSON or not the expected structure: treated as empty (pyftpsync does the same).
    Unreadable {
        error: String,
        sha256: String,
    },
    /// Another format version: an error unless `--migrate`, then treated as empty.
    Incompatible {
        version: String,
        sha256: String,
    },
    /// Listed but not read: nothing in it could change the plan (see [`meta_can_matter`]).
    /// Apply reads it before it writes it, and checks it then.
    Unread,
}

impl MetaFile {
    /// Parses the bytes of a metadata file.
    pub fn from_bytes(bytes: &[u8]) -> MetaFile {
        let sha256 = crate::model::digest::sha256_hex(bytes);
        match DirMeta::parse(bytes) {
            Ok(meta) => MetaFile::Valid { meta, sha256 },
            Err(MetaError::Unreadable(error)) => MetaFile::Unreadable { error, sha256 },
            Err(MetaError::Incompatible(version)) => MetaFile::Incompatible { version, sha256 },
        }
    }

    /// The parsed metadata, if it is usable.
    pub fn valid(&self) -> Option<&DirMeta> {
        match self {
            MetaFile::Valid { meta, .. } => Some(meta),
            _ => None,
        }
    }

    pub fn sha256(&self) -> Option<&str> {
        match self {
            MetaFile::Absent | MetaFile::Unread => None,
            MetaFile::Valid { sha256, .. }
            | MetaFile::Unreadable { sha256, .. }
            | MetaFile::Incompatible { sha256, .. } => Some(sha256),
        }
    }
}

/// One side of one folder.
#[derive(Clone, Debug, PartialEq)]
pub struct SideDir {
    /// Files and folders that take part, sorted by name (without metadata and lock files).
    pub entries: Vec<Entry>,
    /// Entries that cannot take part.
    pub skipped: Vec<Skipped>,
    pub meta: MetaFile,
    /// The lock file, if listed here.
    pub lock: Option<Entry>,
    /// Names of ftpsync's temporary files here (of an interrupted run, or of a running one).
    pub temporary: Vec<String>,
}

impl SideDir {
    /// Splits a raw listing into content, metadata and lock; `meta_bytes` is the content of
    /// the metadata file when the listing contains one.
    pub fn new(listing: Listing, meta_bytes: Option<&[u8]>) -> SideDir {
        let mut entries = Vec::with_capacity(listing.entries.len());
        let mut lock = None;
        for e in listing.entries {
            match (e.name.as_str(), e.kind) {
                (META_FILE | JOURNAL_FILE, Kind::File) => {}
                (LOCK_FILE, Kind::File) => lock = Some(e),
                _ => entries.push(e),
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let meta = meta_bytes.map_or(MetaFile::Absent, MetaFile::from_bytes);
        let mut temporary: Vec<String> = listing.temporary.into_iter().map(|e| e.name).collect();
        temporary.sort();
        SideDir { entries, skipped: listing.skipped, meta, lock, temporary }
    }

    /// True when the raw listing had a metadata file.
    pub fn lists_meta(listing: &Listing) -> bool {
        listing.entries.iter().any(|e| e.name == META_FILE && e.kind == Kind::File)
    }

    /// A listing whose metadata file was left unread (see [`meta_can_matter`]).
    pub fn with_unread_meta(listing: Listing) -> SideDir {
        SideDir { meta: MetaFile::Unread, ..SideDir::new(listing, None) }
    }
}

/// How close (seconds) a listed time must be to a recorded one to fit it: servers keep whole
/// seconds, the records keep fractions; far below the classification's tolerance.
pub const FITS: f64 = 1.0;

/// Whether a remote folder's metadata could change its plan. Of a remote folder, the
/// metadata holds only `mtimes`: the real times of uploaded files, which replace the listed
/// (upload) times while they fit. When every file listed there has, to the byte and the
/// second, the size and time of the local record of the last sync, the listing alone already
/// says "unchanged since the last sync", and a fitting `mtimes` record can only say the same
/// (it would have to hold another time for a file whose server time happens to be exactly
/// the recorded one) — so reading the file is a round trip saved per folder.
pub fn meta_can_matter(listing: &Listing, local: Option<&SideDir>, peer_id: &str) -> bool {
    let Some(records) = local.and_then(|l| l.meta.valid()).and_then(|m| m.peer(peer_id)).map(|p| &p.records) else {
        return true;
    };
    listing.entries.iter().filter(|e| e.kind == Kind::File && e.name != META_FILE && e.name != LOCK_FILE).any(|e| {
        let fits = records
            .get(&e.name)
            .is_some_and(|r| r.s == Some(e.size) && r.m.is_some_and(|m| (m - e.mtime).abs() < FITS));
        !fits
    })
}

/// One scanned folder.
#[derive(Clone, Debug, PartialEq)]
pub struct DirScan {
    pub request: ScanRequest,
    pub local: Option<SideDir>,
    pub remote: Option<SideDir>,
    /// The folder could not be read on a side (`--skip-unreadable`): why, naming the side and
    /// folder. The side's [`SideDir`] is then empty, and nothing in or about the folder may be
    /// planned (see `planner::walk`).
    pub unreadable: Option<String>,
}

impl DirScan {
    pub fn side(&self, side: Side) -> Option<&SideDir> {
        match side {
            Side::Local => self.local.as_ref(),
            Side::Remote => self.remote.as_ref(),
        }
    }
}

/// Everything the scan found, by canonical folder path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub dirs: BTreeMap<RelPath, DirScan>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::WriteStyle;

    fn local_with_records(records: &[(&str, f64, u64)]) -> SideDir {
        let mut meta = DirMeta::default();
        for (name, m, s) in records {
            meta.set_sync(
                "peer",
                name,
                Some(*m),
                Some(*s),
                2000.0,
                &WriteStyle { verbose: false, version: "t".into() },
            );
        }
        SideDir {
            entries: Vec::new(),
            skipped: Vec::new(),
            meta: MetaFile::Valid { meta, sha256: String::new() },
            lock: None,
            temporary: Vec::new(),
        }
    }

    fn listing(entries: Vec<Entry>) -> Listing {
        Listing { entries, skipped: Vec::new(), temporary: Vec::new() }
    }

    #[test]
    fn remote_metadata_matters_unless_every_file_fits_its_record() {
        let local = local_with_records(&[("a", 1000.4, 5), ("b", 1500.0, 7)]);
        let fits = listing(vec![
            Entry::file("a", 5, 1000.0),
            Entry::file("b", 7, 1500.0),
            Entry::dir("d", 1.0),
            Entry::file(META_FILE, 99, 3.0),
        ]);
        assert!(!meta_can_matter(&fits, Some(&local), "peer"));
        // Another size, another time, a file without a record, records of another peer, no
        // local metadata at all: the file has to be read.
        for other in [Entry::file("a", 6, 1000.0), Entry::file("a", 5, 1001.5), Entry::file("c", 1, 1.0)] {
            let mut l = fits.clone();
            l.entries.retain(|e| e.name != other.name);
            l.entries.push(other.clone());
            assert!(meta_can_matter(&l, Some(&local), "peer"), "{other:?}");
        }
        assert!(meta_can_matter(&fits, Some(&local), "someone else"));
        assert!(meta_can_matter(&fits, None, "peer"));
    }
}
