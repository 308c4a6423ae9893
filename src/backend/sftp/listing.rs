//! An SFTP folder listing (`READDIR` names with their attributes) as entries, trusting no name,
//! size or time the server sends: the same rules as FTP listings (`ftp::listing`). Names with
//! `/`, `..` or control characters are skipped and reported; symbolic links and special files
//! are reported, never followed; a name that was not UTF-8 (russh-sftp decodes it with U+FFFD
//! for the bad bytes, so no command could name it again) is skipped; an entry without a kind
//! or a time cannot be judged and is skipped; a name listed twice is ambiguous and dropped.
//! Pure, no I/O.

use std::collections::BTreeMap;

use russh_sftp::protocol::{File, FileAttributes};

use crate::backend::ftp::listing::{MAX_SIZE, checked_mtime};
use crate::model::listing::{Listing, is_temp_name};
use crate::model::relpath::check_name;
use crate::model::{Entry, Skipped};

/// What the attributes of one entry say it is.
#[derive(Debug, PartialEq)]
pub enum Kind {
    File,
    Dir,
    Other(&'static str),
}

/// The kind of an entry from its permission bits (`S_IFMT`), or from the first character of
/// the `ls -l` style long name when the server sent no permissions.
pub fn kind_of(attrs: &FileAttributes, longname: &str) -> Kind {
    const S_IFMT: u32 = 0o170000;
    match attrs.permissions.map(|p| p & S_IFMT) {
        Some(0o040000) => Kind::Dir,
        Some(0o100000) => Kind::File,
        Some(0o120000) => Kind::Other("symbolic link (not followed)"),
        Some(0) | None => match longname.as_bytes().first() {
            Some(b'd') => Kind::Dir,
            Some(b'-') => Kind::File,
            Some(b'l') => Kind::Other("symbolic link (not followed)"),
            _ => Kind::Other("the server does not say whether it is a file or a folder"),
        },
        Some(_) => Kind::Other("special file (device, pipe or socket)"),
    }
}

/// One entry from its attributes (`name` already checked).
pub fn entry_of(name: &str, attrs: &FileAttributes, longname: &str) -> Result<Entry, String> {
    let kind = kind_of(attrs, longname);
    let Some(mtime) = attrs.mtime else { return Err("the server gives no modification time".into()) };
    let mtime = checked_mtime(f64::from(mtime))?;
    match kind {
        Kind::Dir => Ok(Entry::dir(name, mtime)),
        Kind::File => {
            let size = attrs.size.ok_or("the server gives no size")?;
            if size > MAX_SIZE {
                return Err(format!("size {size} is not believable"));
            }
            Ok(Entry::file(name, size, mtime))
        }
        Kind::Other(why) => Err(why.into()),
    }
}

/// Checks a listed name; `Err` with the reason (the name shown escaped by the caller).
pub fn checked(name: &str) -> Result<(), String> {
    if name.contains('\u{FFFD}') {
        return Err("name is not valid UTF-8".into());
    }
    check_name(name).map_err(|e| format!("invalid name: {e}"))
}

/// Turns the names of a whole folder into a listing.
pub fn listing_of(files: Vec<File>) -> Listing {
    let mut listing = Listing::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = Vec::new();
    for f in files {
        if f.filename == "." || f.filename == ".." {
            continue;
        }
        let temporary = is_temp_name(&f.filename);
        if let Err(reason) = checked(&f.filename) {
            if !temporary {
                listing.skipped.push(Skipped { name: f.filename.escape_debug().to_string(), reason });
            }
            continue;
        }
        *seen.entry(f.filename.clone()).or_default() += 1;
        found.push(f);
    }
    for f in found {
        if seen[&f.filename] > 1 {
            continue;
        }
        match entry_of(&f.filename, &f.attrs, &f.longname) {
            Ok(e) if is_temp_name(&f.filename) => listing.temporary.push(e),
            Ok(e) => listing.entries.push(e),
            // A link or special file with a temporary name is none of ours.
            Err(_) if is_temp_name(&f.filename) => {}
            Err(reason) => listing.skipped.push(Skipped { name: f.filename.clone(), reason }),
        }
    }
    for (name, n) in seen {
        if n > 1 {
            listing.skipped.push(Skipped { name, reason: "listed more than once (ambiguous name)".into() });
        }
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, perm: Option<u32>, size: Option<u64>, mtime: Option<u32>) -> File {
        let attrs = FileAttributes { size, permissions: perm, mtime, atime: mtime, ..FileAttributes::empty() };
        File { filename: name.into(), longname: String::new(), attrs }
    }

    #[test]
    fn hostile_names_and_kinds() {
        let l = listing_of(vec![
            file(".", Some(0o40755), Some(0), Some(1)),
            file("..", Some(0o40755), Some(0), Some(1)),
            file("ok.txt", Some(0o100644), Some(5), Some(1_700_000_000)),
            file("sub", Some(0o40755), Some(4096), Some(1_700_000_000)),
            file("a/b", Some(0o100644), Some(1), Some(1)),
            file("bell\u{7}", Some(0o100644), Some(1), Some(1)),
            file("bad\u{FFFD}", Some(0o100644), Some(1), Some(1)),
            file("loop", Some(0o120777), Some(1), Some(1)),
            file("fifo", Some(0o10644), Some(0), Some(1)),
            file("huge", Some(0o100644), Some(u64::MAX), Some(1)),
            file("notime", Some(0o100644), Some(1), None),
            file("twice", Some(0o100644), Some(1), Some(1)),
            file("twice", Some(0o40755), Some(1), Some(1)),
            file(".ftpsync-tmp-1-2", Some(0o100644), Some(1), Some(1)),
            file(".ftpsync-tmp-1-3", Some(0o120777), Some(1), Some(1)),
        ]);
        let names: Vec<_> = l.entries.iter().map(|e| (e.name.as_str(), e.kind, e.size)).collect();
        assert_eq!(names, [("ok.txt", crate::model::Kind::File, 5), ("sub", crate::model::Kind::Dir, 0)]);
        let skipped: Vec<_> = l.skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(skipped, ["a/b", "bell\\u{7}", "bad\u{FFFD}", "loop", "fifo", "huge", "notime", "twice"]);
        assert_eq!(l.temporary.len(), 1);
    }

    #[test]
    fn the_long_name_tells_the_kind_when_permissions_are_missing() {
        let mut f = file("d", None, None, Some(5));
        f.longname = "drwxr-xr-x 2 u g 4096 Jan 1 00:00 d".into();
        assert_eq!(listing_of(vec![f]).entries[0].kind, crate::model::Kind::Dir);
        let f = file("x", None, Some(1), Some(5));
        assert_eq!(listing_of(vec![f]).skipped.len(), 1);
    }
}
