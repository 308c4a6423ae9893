//! Finding the task file: in the current folder, else in its parents (pyftpsync looks at 15
//! folders at most: the current one and 14 ancestors).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::ExitError;

/// The file names, in order of preference within one folder. pyftpsync 4 reads
/// `pyftpsync.yaml`; `.pyftpsync.yaml` is the name its 3.x documentation gave.
pub const NAMES: [&str; 2] = ["pyftpsync.yaml", ".pyftpsync.yaml"];

/// How many parent folders are searched.
pub const MAX_PARENTS: usize = 14;

/// A task file that was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// 0 when it is in the starting folder, 1 in its parent, ...
    pub level: usize,
    /// The file of the other name in the same folder, which is ignored.
    pub ignored: Option<PathBuf>,
}

/// Looks for the task file in `start` and up to [`MAX_PARENTS`] of its parents.
pub fn discover(start: &Path) -> Result<Found> {
    let mut dir = start;
    let mut level = 0;
    loop {
        let mut present = NAMES.iter().map(|n| dir.join(n)).filter(|p| p.is_file());
        if let Some(path) = present.next() {
            return Ok(Found { path, level, ignored: present.next() });
        }
        match dir.parent() {
            Some(parent) if level < MAX_PARENTS => {
                dir = parent;
                level += 1;
            }
            _ => break,
        }
    }
    let parents = if level == 1 { "parent folder".to_string() } else { format!("{level} parent folders") };
    Err(ExitError::usage(format!(
        "cannot find {} (or {}) in {} or its {parents}; write one there (see `ftpsync run --help`)",
        NAMES[0],
        NAMES[1],
        start.display()
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_file_and_prefers_the_plain_name() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(dir.path().join("a/.pyftpsync.yaml"), "").unwrap();
        let found = discover(&deep).unwrap();
        assert_eq!((found.path, found.level, found.ignored), (dir.path().join("a/.pyftpsync.yaml"), 2, None));
        std::fs::write(dir.path().join("a/pyftpsync.yaml"), "").unwrap();
        let found = discover(&deep).unwrap();
        assert_eq!(found.path, dir.path().join("a/pyftpsync.yaml"));
        assert_eq!(found.ignored, Some(dir.path().join("a/.pyftpsync.yaml")));
    }

    #[test]
    fn looks_at_most_fourteen_parents_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyftpsync.yaml"), "").unwrap();
        let at = |depth: usize| dir.path().join((0..depth).map(|i| format!("d{i}")).collect::<Vec<_>>().join("/"));
        std::fs::create_dir_all(at(15)).unwrap();
        assert_eq!(discover(&at(14)).unwrap().level, 14);
        let err = format!("{:#}", discover(&at(15)).unwrap_err());
        assert!(err.contains("or its 14 parent folders"), "{err}");
    }
}
