//! What a listing reports about one folder entry.

use serde::{Deserialize, Serialize};

/// Kind of a listed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
}

impl Kind {
    pub fn is_dir(self) -> bool {
        self == Kind::Dir
    }
}

/// One entry of a folder listing, as the target reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time (POSIX seconds) as listed.
    pub mtime: f64,
    /// When the entry last changed by any means (local `ctime`), where the target knows it.
    pub changed: Option<f64>,
    /// Server-provided unique id (MLSD `unique` fact), where available.
    pub unique: Option<String>,
}

impl Entry {
    pub fn file(name: &str, size: u64, mtime: f64) -> Self {
        Entry { name: name.to_string(), kind: Kind::File, size, mtime, changed: None, unique: None }
    }

    pub fn dir(name: &str, mtime: f64) -> Self {
        Entry { name: name.to_string(), kind: Kind::Dir, size: 0, mtime, changed: None, unique: None }
    }
}

/// Something a listing contained that is not synchronised, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}
