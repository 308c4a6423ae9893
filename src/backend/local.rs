//! A folder on the local file system.
//!
//! Symbolic links are reported and never followed — neither as entries nor as folders on the
//! way to one (a folder replaced by a link after planning makes the operation fail instead of
//! reaching outside the root) — special files are reported and skipped,
//! and every write goes to a temporary file in the destination folder that is stamped with its
//! modification time and only then renamed over the final name: a reader (or a crash of
//! ftpsync) never sees a partial file under the final name. Like cp and rsync without
//! `--fsync`, data is not forced to disk per file; that is left to the operating system.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{ReadSink, Target, Written, process_gone};
use crate::model::listing::{Listing, TEMP_PREFIX, is_temp_name, temp_name_pid};
use crate::model::relpath::{RelPath, check_name};
use crate::model::target::{TargetInfo, TargetKind};
use crate::model::{Entry, Kind, Skipped};

/// A local folder used as a target.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    root: PathBuf,
    info: TargetInfo,
}

impl LocalTarget {
    /// Opens an existing folder. The root is made absolute (pyftpsync's target id is the
    /// absolute path).
    pub fn open(path: &Path) -> Result<Self> {
        let root = std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
        let root = strip_trailing_slash(root);
        if !root.is_dir() {
            bail!("{} is not a directory", root.display());
        }
        let shown = root.display().to_string();
        let info = TargetInfo {
            kind: TargetKind::Local,
            url: shown.clone(),
            id: shown.clone(),
            display: shown,
            records_mtimes: false,
            host_key: None,
        };
        Ok(LocalTarget { root, info })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn abs(&self, path: &RelPath) -> PathBuf {
        if path.is_root() { self.root.clone() } else { self.root.join(path.as_str()) }
    }

    /// The absolute path of `path`, refusing one that goes through a symbolic link below the
    /// root: a folder on the way that was replaced by a link since it was listed. (A check, then
    /// the operation: a link swapped in between the two is not caught.)
    fn abs_no_links(&self, path: &RelPath) -> Result<PathBuf> {
        let mut at = self.root.clone();
        for part in path.parent().as_str().split('/').filter(|p| !p.is_empty()) {
            at.push(part);
            if at.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                bail!("{} is a symbolic link; refusing to go through it", at.display());
            }
        }
        Ok(self.abs(path))
    }
}

fn strip_trailing_slash(p: PathBuf) -> PathBuf {
    let s = p.to_string_lossy();
    if s.len() > 1 && s.ends_with('/') { PathBuf::from(s.trim_end_matches('/')) } else { p }
}

/// POSIX seconds as Python computes `st_mtime`: `sec + nsec * 1e-9`.
fn secs(sec: i64, nsec: i64) -> f64 {
    sec as f64 + nsec as f64 * 1e-9
}

/// A temporary file without a process id in its name (an older version's) is left to a run
/// that died once nothing has written to it for this long.
const UNNAMED_TEMP_STALE_AFTER: f64 = 3600.0;

/// Whether the run that wrote a local temporary file is gone. A local folder has no lock, so
/// the writer's process id in the name decides: a running ftpsync keeps its temporary files
/// open until it renames them, and a process that no longer exists never will. (A writer on
/// another host sharing the folder is not seen here; removing its file makes its rename fail,
/// it loses nothing.) Without a process id, a file unchanged for an hour is stale.
fn writer_gone(name: &str, meta: &fs::Metadata) -> bool {
    match temp_name_pid(name) {
        Some(pid) => pid != std::process::id() && process_gone(pid),
        None => {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            now - secs(meta.ctime(), meta.ctime_nsec()) > UNNAMED_TEMP_STALE_AFTER
        }
    }
}

/// Stamps an open file with a modification time (POSIX seconds).
fn set_mtime(file: &fs::File, t: f64) -> io::Result<()> {
    let ft =
        filetime::FileTime::from_unix_time(t.floor() as i64, ((t - t.floor()) * 1e9).round().min(999_999_999.0) as u32);
    filetime::set_file_handle_times(file, None, Some(ft))
}

/// Turns one directory entry into an [`Entry`], or says why it is skipped.
fn entry_of(name: &str, meta: &fs::Metadata) -> std::result::Result<Entry, String> {
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        return Err("symbolic link (not followed)".into());
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        return Err("special file (not a regular file or folder)".into());
    };
    Ok(Entry {
        name: name.to_string(),
        kind,
        size: if kind == Kind::File { meta.len() } else { 0 },
        mtime: secs(meta.mtime(), meta.mtime_nsec()),
        changed: Some(secs(meta.ctime(), meta.ctime_nsec())),
        unique: None,
    })
}

impl Target for LocalTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn list_dir(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        let abs = self.abs_no_links(dir)?;
        // A link where a folder was is no folder (as in a listing of its parent).
        if abs.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(None);
        }
        let reader = match fs::read_dir(&abs) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", abs.display())),
        };
        let mut listing = Listing::default();
        for item in reader {
            let item = item.with_context(|| format!("cannot list {}", abs.display()))?;
            let os_name = item.file_name();
            let Some(name) = os_name.to_str() else {
                listing.skipped.push(Skipped {
                    name: os_name.to_string_lossy().into_owned(),
                    reason: "name is not valid UTF-8".into(),
                });
                continue;
            };
            let temporary = is_temp_name(name);
            if temporary && check_name(name).is_err() {
                // Not one of ours (ours are plain names), and a plan could not name it.
                continue;
            }
            if !temporary && let Err(e) = check_name(name) {
                listing
                    .skipped
                    .push(Skipped { name: name.escape_debug().to_string(), reason: format!("invalid name: {e}") });
                continue;
            }
            let meta = match item.path().symlink_metadata() {
                Ok(m) => m,
                // Removed between readdir and stat: it is simply not there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot stat {}", item.path().display())),
            };
            match entry_of(name, &meta) {
                Ok(entry) if temporary => listing.temporary.push(entry),
                Ok(entry) => listing.entries.push(entry),
                // A link or special file with a temporary name is none of ours.
                Err(_) if temporary => {}
                Err(reason) => listing.skipped.push(Skipped { name: name.to_string(), reason }),
            }
        }
        Ok(Some(listing))
    }

    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        let abs = self.abs_no_links(path)?;
        match abs.symlink_metadata() {
            Ok(meta) => Ok(entry_of(path.name(), &meta).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot stat {}", abs.display())),
        }
    }

    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()> {
        let abs = self.abs_no_links(path)?;
        let meta = abs.symlink_metadata().with_context(|| format!("cannot open {}", abs.display()))?;
        if !meta.file_type().is_file() {
            bail!("{} is not a regular file", abs.display());
        }
        let mut file = fs::File::open(&abs).with_context(|| format!("cannot open {}", abs.display()))?;
        sink(&mut file).with_context(|| format!("while reading {}", abs.display()))
    }

    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        let abs = self.abs_no_links(path)?;
        let dir = abs.parent().unwrap_or(&self.root).to_path_buf();
        if abs.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            bail!("{} is a symbolic link; refusing to write through it", abs.display());
        }
        // New files get the usual 0666 & ~umask; a replaced file keeps its permissions.
        let existing_mode = abs.symlink_metadata().ok().filter(|m| m.is_file()).map(|m| m.permissions());
        // The process id in the name tells a later run whether the writer is gone.
        let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
        let mut tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(&dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        if let Some(mode) = existing_mode {
            tmp.as_file()
                .set_permissions(mode)
                .with_context(|| format!("cannot set the permissions of {}", abs.display()))?;
        }
        let bytes =
            super::copy::copy(data, tmp.as_file_mut()).with_context(|| format!("while writing {}", abs.display()))?;
        if let Some(t) = mtime {
            set_mtime(tmp.as_file(), t)
                .with_context(|| format!("cannot set the modification time of {}", abs.display()))?;
        }
        tmp.persist(&abs).map_err(|e| e.error).with_context(|| format!("cannot rename into {}", abs.display()))?;
        Ok(Written { bytes, mtime_set: mtime.is_some() })
    }

    fn write_staged(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        let abs = self.abs_no_links(path)?;
        // A new file only: a staged name that exists is another run's (or a bug), never ours
        // to overwrite.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&abs)
            .with_context(|| format!("cannot create {}", abs.display()))?;
        let bytes = super::copy::copy(data, &mut file).with_context(|| format!("while writing {}", abs.display()))?;
        if let Some(t) = mtime {
            set_mtime(&file, t).with_context(|| format!("cannot set the modification time of {}", abs.display()))?;
        }
        Ok(Written { bytes, mtime_set: mtime.is_some() })
    }

    fn rename(&mut self, from: &RelPath, to: &RelPath) -> Result<()> {
        let (src, dst) = (self.abs_no_links(from)?, self.abs_no_links(to)?);
        // rename(2) replaces a file silently: the caller's promise that nothing is there is
        // checked (a check, then the rename: the lock-free local side accepts that window).
        if dst.symlink_metadata().is_ok() {
            bail!("cannot rename {} to {}: the name is taken", src.display(), dst.display());
        }
        fs::rename(&src, &dst).with_context(|| format!("cannot rename {} to {}", src.display(), dst.display()))
    }

    /// One operation here: the folder's parent is no concern.
    fn remove_folder(&mut self, path: &RelPath) -> Result<()> {
        self.remove_tree(path)
    }

    fn remove_tree(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs_no_links(path)?;
        let result = match abs.symlink_metadata() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => Err(e),
            // Never follows a link (a link in the tree is removed, not its target).
            Ok(m) if m.is_dir() => fs::remove_dir_all(&abs),
            Ok(_) => fs::remove_file(&abs),
        };
        result.with_context(|| format!("cannot delete {}", abs.display()))
    }

    fn make_dir(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs_no_links(path)?;
        fs::create_dir(&abs).with_context(|| format!("cannot create folder {}", abs.display()))
    }

    fn remove_file(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs_no_links(path)?;
        fs::remove_file(&abs).with_context(|| format!("cannot delete {}", abs.display()))
    }

    fn remove_dir(&mut self, path: &RelPath) -> Result<()> {
        let abs = self.abs_no_links(path)?;
        fs::remove_dir(&abs).with_context(|| format!("cannot delete folder {}", abs.display()))
    }

    fn remove_stale_temporary(&mut self, path: &RelPath) -> Result<bool> {
        let name = path.name();
        if !is_temp_name(name) {
            bail!("{path} is not a temporary file");
        }
        let abs = self.abs_no_links(path)?;
        let meta = match abs.symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", abs.display())),
        };
        let ft = meta.file_type();
        if !(ft.is_file() || ft.is_dir()) || !writer_gone(name, &meta) {
            return Ok(false);
        }
        // A staged folder or the backup of one goes with everything in it.
        match if ft.is_dir() { fs::remove_dir_all(&abs) } else { fs::remove_file(&abs) } {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot delete {}", abs.display())),
        }
    }

    fn opener(&self) -> super::Opener {
        let me = self.clone();
        std::sync::Arc::new(move || Ok(Box::new(me.clone()) as Box<dyn Target>))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_writes_and_skips_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = LocalTarget::open(dir.path()).unwrap();
        let p = RelPath::parse("a.txt").unwrap();
        let w = t.write_file(&p, &mut &b"hello"[..], Some(1388577600.0)).unwrap();
        assert_eq!(w.bytes, 5);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let listing = t.list_dir(&RelPath::root()).unwrap().unwrap();
        assert_eq!(listing.entries.len(), 1);
        assert_eq!(listing.entries[0].mtime, 1388577600.0);
        assert_eq!(listing.skipped[0].name, "link");
        assert!(t.write_file(&RelPath::parse("link").unwrap(), &mut &b"x"[..], None).is_err());
        assert!(fs::read_to_string("/etc/passwd").unwrap().contains('x'));
        assert!(t.list_dir(&RelPath::parse("missing").unwrap()).unwrap().is_none());
    }
}
