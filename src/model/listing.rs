//! What listing a folder yields, and the temporary names a listing sets apart from content.

use super::entry::{Entry, Skipped};

/// One folder listing.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Files and folders, in any order.
    pub entries: Vec<Entry>,
    /// Entries that cannot be synchronised (symlinks, special files, invalid names).
    pub skipped: Vec<Skipped>,
    /// Files and folders with ftpsync's temporary names ([`TEMP_PREFIX`]), which are no content: left by a
    /// run that was interrupted, or being written by one that is running.
    pub temporary: Vec<Entry>,
}

/// Prefix of the temporary names files are written under before being renamed into place:
/// `.ftpsync-tmp-<pid>-<suffix>`. Entries with this prefix are never listed as content.
pub const TEMP_PREFIX: &str = ".ftpsync-tmp-";

/// True for names that a listing must not report as content: temporary files of an
/// interrupted write.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// The process id in a temporary name (`.ftpsync-tmp-<pid>-<suffix>`); `None` for a name
/// without one (written by an older version).
pub fn temp_name_pid(name: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix(TEMP_PREFIX)?.split_once('-')?;
    pid.parse().ok()
}
