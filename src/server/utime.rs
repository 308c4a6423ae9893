//! Setting a file's modification time, in the forms clients send:
//! - `MFMT YYYYMMDDHHMMSS path` (draft-somers-ftp-mfxx; FileZilla, lftp and ftpsync use it when
//!   FEAT lists it), answered `213 Modify=YYYYMMDDHHMMSS; path`;
//! - `SITE UTIME YYYYMMDDHHMMSS path` and `SITE UTIME path atime mtime ctime UTC` (times in UTC).
//!
//! libunftp's storage trait cannot set times, so these handlers work on the real folder. A
//! relative path is taken from the session's working directory (`SiteCommandContext::cwd`, a
//! vendored-libunftp addition), an absolute one from the server root. A path with `..`, or one
//! that leads out of the root through a symbolic link, is refused.

use std::io;
use std::path::{Component, Path, PathBuf};

use chrono::NaiveDateTime;
use filetime::FileTime;
use libunftp::options::{Reply, ReplyCode, SiteCommandContext, SiteCommandHandler};
use unftp_core::auth::UserDetail;
use unftp_core::storage::{Metadata, StorageBackend};

/// Which command a [`Utime`] handler serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `SITE UTIME`, both argument forms.
    SiteUtime,
    /// `MFMT time path`.
    Mfmt,
}

/// The `SITE UTIME` or `MFMT` handler; holds the canonical server root.
#[derive(Debug)]
pub struct Utime {
    root: PathBuf,
    form: Form,
}

impl Utime {
    pub fn new(canonical_root: PathBuf, form: Form) -> Self {
        Utime { root: canonical_root, form }
    }
}

#[async_trait::async_trait]
impl<S, U> SiteCommandHandler<S, U> for Utime
where
    S: StorageBackend<U> + 'static,
    S::Metadata: Metadata,
    U: UserDetail + 'static,
{
    async fn handle(&self, ctx: &SiteCommandContext<S, U>) -> Reply {
        let parsed = match self.form {
            Form::SiteUtime => parse_args(&ctx.arguments),
            Form::Mfmt => parse_mfmt(&ctx.arguments),
        };
        let Some((path, atime, mtime)) = parsed else {
            let usage = match self.form {
                Form::SiteUtime => "Usage: SITE UTIME YYYYMMDDHHMMSS path | SITE UTIME path atime mtime ctime UTC",
                Form::Mfmt => "Usage: MFMT YYYYMMDDHHMMSS path",
            };
            return Reply::new(ReplyCode::ParameterSyntaxError, usage);
        };
        let (root, cwd, path_text) = (self.root.clone(), ctx.cwd.clone(), path.to_string());
        let done = tokio::task::spawn_blocking(move || set_times(&root, &cwd, &path_text, atime, mtime)).await;
        let name = match self.form {
            Form::SiteUtime => "SITE UTIME",
            Form::Mfmt => "MFMT",
        };
        match (done, self.form) {
            (Ok(Ok(())), Form::SiteUtime) => Reply::new(ReplyCode::CommandOkay, "SITE UTIME command successful"),
            // The reply the draft prescribes: the time now set, then the path as given.
            (Ok(Ok(())), Form::Mfmt) => {
                Reply::new_with_string(ReplyCode::FileStatus, format!("Modify={}; {path}", format_time(mtime)))
            }
            (Ok(Err(e)), _) => Reply::new_with_string(ReplyCode::FileError, format!("{name} failed: {e}")),
            (Err(_), _) => Reply::new_with_string(ReplyCode::LocalError, format!("{name} failed")),
        }
    }
}

/// `MFMT` arguments: `time path` (the path may contain spaces).
fn parse_mfmt(args: &str) -> Option<(&str, FileTime, FileTime)> {
    let (time, path) = args.split_once(' ')?;
    let t = parse_time(time)?;
    (!path.is_empty()).then_some((path, t, t))
}

/// `YYYYMMDDHHMMSS` (UTC), whole seconds as the MFMT reply shows them.
fn format_time(t: FileTime) -> String {
    chrono::DateTime::from_timestamp(t.unix_seconds(), 0)
        .map(|d| d.format("%Y%m%d%H%M%S").to_string())
        .unwrap_or_default()
}

/// `(path, atime, mtime)` of either form; `None` on a syntax error.
fn parse_args(args: &str) -> Option<(&str, FileTime, FileTime)> {
    // Long form first: the path (which may contain spaces) is everything before the last four words.
    let words: Vec<&str> = args.rsplitn(5, ' ').collect();
    if let [utc, _ctime, mtime, atime, path] = words.as_slice()
        && utc.eq_ignore_ascii_case("UTC")
        && !path.is_empty()
        && let (Some(a), Some(m)) = (parse_time(atime), parse_time(mtime))
    {
        return Some((path, a, m));
    }
    let (time, path) = args.split_once(' ')?;
    let t = parse_time(time)?;
    (!path.is_empty()).then_some((path, t, t))
}

/// `YYYYMMDDHHMMSS[.fff]` in UTC.
fn parse_time(text: &str) -> Option<FileTime> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs = NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").ok()?.and_utc().timestamp();
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some(FileTime::from_unix_time(secs, digits.parse().ok()?))
}

fn set_times(root: &Path, cwd: &Path, path: &str, atime: FileTime, mtime: FileTime) -> io::Result<()> {
    let target = resolve(root, &cwd.join(path))?;
    filetime::set_file_times(target, atime, mtime)
}

/// The real path of FTP path `path` (absolute, or relative to `/`) under `root` (canonical);
/// refuses anything outside it.
pub fn resolve(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let denied = || io::Error::new(io::ErrorKind::PermissionDenied, "path outside the server root");
    let mut joined = root.to_path_buf();
    for part in path.components() {
        match part {
            Component::Normal(name) => joined.push(name),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(denied()),
        }
    }
    // Symbolic links may still point elsewhere: judge the resolved path.
    let real = joined.canonicalize()?;
    if real.starts_with(root) { Ok(real) } else { Err(denied()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse() {
        let t = FileTime::from_unix_time(1_577_934_245, 0); // 2020-01-02 03:04:05 UTC
        assert_eq!(parse_args("20200102030405 a b.txt"), Some(("a b.txt", t, t)));
        let a = FileTime::from_unix_time(0, 0);
        assert_eq!(parse_args("/x y 19700101000000 20200102030405 20200102030405 UTC"), Some(("/x y", a, t)));
        assert_eq!(parse_time("20200102030405.5"), Some(FileTime::from_unix_time(1_577_934_245, 500_000_000)));
        assert_eq!(parse_args("20200102030405"), None);
        assert_eq!(parse_args("2020010203040 a"), None);
        assert_eq!(parse_args("20201302030405 a"), None);
        assert_eq!(parse_mfmt("20200102030405 a b.txt"), Some(("a b.txt", t, t)));
        assert_eq!(parse_mfmt("20200102030405"), None);
        assert_eq!(parse_mfmt("/x 20200102030405"), None);
        assert_eq!(format_time(t), "20200102030405");
    }

    #[test]
    fn relative_paths_start_at_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/in.txt"), "x").unwrap();
        let root = dir.path().canonicalize().unwrap();
        let t = FileTime::from_unix_time(1_577_934_245, 0);
        set_times(&root, Path::new("/sub"), "in.txt", t, t).unwrap();
        assert_eq!(FileTime::from_last_modification_time(&std::fs::metadata(root.join("sub/in.txt")).unwrap()), t);
        let u = FileTime::from_unix_time(1_000_000_000, 0);
        set_times(&root, Path::new("/elsewhere"), "/sub/in.txt", u, u).unwrap();
        assert_eq!(FileTime::from_last_modification_time(&std::fs::metadata(root.join("sub/in.txt")).unwrap()), u);
        assert!(set_times(&root, Path::new("/sub"), "../../x", t, t).is_err());
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(dir.path().join("outside.txt"), "x").unwrap();
        std::fs::write(root.join("sub/in.txt"), "x").unwrap();
        let root = root.canonicalize().unwrap();
        assert_eq!(resolve(&root, Path::new("/sub/in.txt")).unwrap(), root.join("sub/in.txt"));
        assert_eq!(resolve(&root, Path::new("sub/./in.txt")).unwrap(), root.join("sub/in.txt"));
        assert_eq!(resolve(&root, Path::new("//")).unwrap(), root);
        for bad in ["../outside.txt", "/../outside.txt", "sub/../../outside.txt", "sub/.."] {
            assert_eq!(resolve(&root, Path::new(bad)).unwrap_err().kind(), io::ErrorKind::PermissionDenied, "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("link")).unwrap();
            assert_eq!(resolve(&root, Path::new("link")).unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        }
    }
}
