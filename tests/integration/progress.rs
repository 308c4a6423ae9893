//! Progress bars: drawn on a terminal, silent when stderr is redirected, with `-q` or `--json`;
//! `--progress` shows them anyway (as plain lines when redirected, without `--json`).

use std::path::Path;
use std::process::Output;

use crate::support::fixture::{T13, write};
use crate::support::ftpsync;

/// A local folder of three files and an empty remote folder.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.txt", "b.txt", "sub/c.txt"] {
        write(&dir.path().join("local"), name, "some content", T13);
    }
    std::fs::create_dir(dir.path().join("remote")).unwrap();
    dir
}

fn upload(dir: &Path, extra: &[&str]) -> Output {
    let (l, r) = (dir.join("local"), dir.join("remote"));
    let mut args = vec!["upload", l.to_str().unwrap(), r.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = ftpsync(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn silent_when_redirected_quiet_or_json() {
    for extra in [&[][..], &["-q"], &["--json"], &["--json", "--progress"]] {
        let dir = site();
        let out = upload(dir.path(), extra);
        let err = stderr(&out);
        assert!(!err.contains("Scanning") && !err.contains("files,") && !err.contains('\x1b'), "{extra:?}: {err}");
        assert_eq!(std::fs::read_to_string(dir.path().join("remote/sub/c.txt")).unwrap(), "some content");
    }
}

#[test]
fn progress_flag_writes_plain_lines_when_redirected() {
    for extra in [&["--progress"][..], &["--progress", "-q"]] {
        let dir = site();
        let out = upload(dir.path(), extra);
        let err = stderr(&out);
        assert!(err.contains("Scanning: "), "{extra:?}: {err}");
        assert!(err.contains("0/3 files"), "{extra:?}: {err}");
        assert!(!err.contains('\x1b'), "no terminal control in a log: {err:?}");
        // Data stays on stdout, unmixed.
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Scanning"));
    }
}

#[cfg(unix)]
#[test]
fn bars_on_a_terminal() {
    use crate::support::pty::{finish, spawn};
    let dir = site();
    let (l, r) = (dir.path().join("local"), dir.path().join("remote"));
    let mut p = spawn(&["upload", l.to_str().unwrap(), r.to_str().unwrap()], dir.path());
    p.exp_string("Scanning: ").unwrap();
    p.exp_string("0/3 files").unwrap();
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("Wrote 3/"), "{rest}");
}
