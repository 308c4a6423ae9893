//! `SITE UTIME`: set a file's modification time, in both forms servers use:
//! `SITE UTIME YYYYMMDDHHMMSS path` and `SITE UTIME path atime mtime ctime UTC` (times in UTC).
//!
//! libunftp has no MFMT and its storage trait cannot set times, so this handler works on the
//! real folder. It gets no session working directory, so paths are taken from the server
//! root (`/a/b` and `a/b` are the same file); clients should send absolute paths. A path with
//! `..`, or one that leads out of the root through a symbolic link, is refused.

use std::io;
use std::path::{Component, Path, PathBuf};

use chrono::NaiveDateTime;
use filetime::FileTime;
use libunftp::options::{Reply, ReplyCode, SiteCommandContext, SiteCommandHandler};
use unftp_core::auth::UserDetail;
use unftp_core::storage::{Metadata, StorageBackend};

/// The `SITE UTIME` handler; holds the canonical server root.
#[derive(Debug)]
pub struct Utime {
    root: PathBuf,
}

impl Utime {
    pub fn new(canonical_root: PathBuf) -> Self {
        Utime { root: canonical_root }
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
        let Some((path, atime, mtime)) = parse_args(&ctx.arguments) else {
            return Reply::new(ReplyCode::ParameterSyntaxError, "Usage: SITE UTIME YYYYMMDDHHMMSS path | SITE UTIME path atime mtime ctime UTC");
        };
        let root = self.root.clone();
        let path = path.to_string();
        let done = tokio::task::spawn_blocking(move || set_times(&root, &path, atime, mtime)).await;
        match done {
            Ok(Ok(())) => Reply::new(ReplyCode::CommandOkay, "SITE UTIME command successful"),
            Ok(Err(e)) => Reply::new_with_string(ReplyCode::FileError, format!("SITE UTIME failed: {e}")),
            Err(_) => Reply::new(ReplyCode::LocalError, "SITE UTIME failed"),
        }
    }
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
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").ok()?.and_utc().timestamp();
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some(FileTime::from_unix_time(secs, digits.parse().ok()?))
}

fn set_times(root: &Path, path: &str, atime: FileTime, mtime: FileTime) -> io::Result<()> {
    let target = resolve(root, path)?;
    filetime::set_file_times(target, atime, mtime)
}

/// The real path of FTP path `path` under `root` (canonical); refuses anything outside it.
pub fn resolve(root: &Path, path: &str) -> io::Result<PathBuf> {
    let denied = || io::Error::new(io::ErrorKind::PermissionDenied, "path outside the server root");
    let mut joined = root.to_path_buf();
    for part in Path::new(path).components() {
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
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(dir.path().join("outside.txt"), "x").unwrap();
        std::fs::write(root.join("sub/in.txt"), "x").unwrap();
        let root = root.canonicalize().unwrap();
        assert_eq!(resolve(&root, "/sub/in.txt").unwrap(), root.join("sub/in.txt"));
        assert_eq!(resolve(&root, "sub/./in.txt").unwrap(), root.join("sub/in.txt"));
        assert_eq!(resolve(&root, "//").unwrap(), root);
        for bad in ["../outside.txt", "/../outside.txt", "sub/../../outside.txt", "sub/.."] {
            assert_eq!(resolve(&root, bad).unwrap_err().kind(), io::ErrorKind::PermissionDenied, "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside.txt"), root.join("link")).unwrap();
            assert_eq!(resolve(&root, "link").unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        }
    }
}
