//! Where a task synchronises: the local root follows from the file's folder (and `local`),
//! the remote one from `remote`; with `here`, both move down to the current folder
//! (behaviour spec §6.6).

use std::path::{Component, Path, PathBuf};

use anyhow::Result;

use crate::error::ExitError;

/// The two roots of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roots {
    pub local: PathBuf,
    pub remote: String,
    /// With `here`: the current folder relative to the project root, and that root.
    pub sub_branch: Option<(String, PathBuf)>,
}

/// What decides the roots.
pub struct Placement<'a> {
    /// The folder of the task file.
    pub file_dir: &'a Path,
    /// How many folders above the current one the file is (0: the current folder).
    pub level: usize,
    pub local: Option<&'a str>,
    pub remote: &'a str,
    pub root: bool,
    pub here: bool,
    pub cwd: &'a Path,
}

/// `a/./b/../c` → `a/c`, without asking the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `remote` extended by a relative path (`/`-separated, as in URLs).
fn join_remote(remote: &str, rel: &str) -> String {
    if rel.is_empty() { remote.to_string() } else { format!("{}/{rel}", remote.trim_end_matches('/')) }
}

impl Placement<'_> {
    pub fn roots(&self) -> Result<Roots> {
        let project = normalize(&self.file_dir.join(self.local.unwrap_or("")));
        if self.level == 0 || self.root {
            return Ok(Roots { local: project, remote: self.remote.to_string(), sub_branch: None });
        }
        let cwd = normalize(self.cwd);
        if !self.here {
            return Err(ExitError::usage(format!(
                "the task file is in a parent folder ({}): pass --root to synchronize the whole project ({}), or --here for the current folder only",
                self.file_dir.display(),
                project.display()
            ))
            .into());
        }
        let Ok(rel) = cwd.strip_prefix(&project) else {
            return Err(ExitError::usage(format!(
                "--here: the current folder {} is not inside the task's local folder {}",
                cwd.display(),
                project.display()
            ))
            .into());
        };
        let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let rel = rel.join("/");
        Ok(Roots { local: cwd, remote: join_remote(self.remote, &rel), sub_branch: Some((rel, project)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<'a>(level: usize, local: Option<&'a str>, root: bool, here: bool, cwd: &'a str) -> Placement<'a> {
        Placement { file_dir: Path::new("/p"), level, local, remote: "ftp://h/site/", root, here, cwd: Path::new(cwd) }
    }

    #[test]
    fn in_the_project_folder_or_with_root() {
        let r = place(0, None, false, false, "/p").roots().unwrap();
        assert_eq!((r.local, r.remote.as_str(), r.sub_branch), (PathBuf::from("/p"), "ftp://h/site/", None));
        let r = place(2, Some("web/./dist"), true, true, "/p/web/x").roots().unwrap();
        assert_eq!(r.local, PathBuf::from("/p/web/dist"));
    }

    #[test]
    fn here_moves_both_roots_down() {
        let r = place(2, Some("web"), false, true, "/p/web/a/b").roots().unwrap();
        assert_eq!(r.local, PathBuf::from("/p/web/a/b"));
        assert_eq!(r.remote, "ftp://h/site/a/b");
        assert_eq!(r.sub_branch, Some(("a/b".to_string(), PathBuf::from("/p/web"))));
    }

    #[test]
    fn a_file_in_a_parent_needs_root_or_here() {
        let msg = format!("{:#}", place(1, None, false, false, "/p/a").roots().unwrap_err());
        assert!(msg.contains("pass --root") && msg.contains("--here"), "{msg}");
        let msg = format!("{:#}", place(1, Some("web"), false, true, "/p/a").roots().unwrap_err());
        assert!(msg.contains("not inside"), "{msg}");
    }
}
