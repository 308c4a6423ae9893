//! A folder deleted on one side while a file in it changed on the other is a conflict, for
//! every kind of remote (issue 12, point 8): the records that would prove the other side's
//! files unchanged were in the deleted folder, so only what the surviving side itself keeps
//! (a copy of the local records in a local-folder remote, `mtimes` records on a server) can
//! let the deletion through. The commands are the shell commands of the issue, run as a user
//! would.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{bin, ftp};

/// Runs a shell script in `dir` with this build's `ftpsync` first on `PATH`.
fn sh(dir: &Path, script: &str) -> Output {
    let path = format!("{}:{}", bin().parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("set -e\n{script}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("PYFTPSYNC_VERBOSE_META")
        .env_remove("FTPSYNC_PASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "script failed:\n{script}\n{}", text(&out));
    out
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The first sync of the issue's example.
const FIRST: &str = "mkdir -p l/folder4 r && echo hello > l/folder4/a.txt && echo keep > l/top.txt
ftpsync sync l \"$REMOTE\" --resolve skip --no-prompt";

/// The edit and the second sync of the issue's example.
const EDIT_THEN_SYNC: &str =
    "rm -rf l/folder4; echo \"edited remotely\" > r/folder4/a.txt; touch -d '2020-01-02' r/folder4/a.txt
ftpsync sync l \"$REMOTE\" --resolve skip --no-prompt";

fn with_remote(remote: &str, script: &str) -> String {
    format!("REMOTE='{remote}'\n{script}")
}

#[test]
fn local_folder_remote_keeps_an_edit_in_a_folder_deleted_locally() {
    let dir = tempfile::tempdir().unwrap();
    sh(dir.path(), &with_remote("r", FIRST));
    let out = sh(dir.path(), &with_remote("r", EDIT_THEN_SYNC));
    let said = text(&out);
    assert!(said.contains("CONFLICT") && said.contains("[folder4]"), "no conflict reported:\n{said}");
    assert!(!said.contains("DELETE"), "something was deleted:\n{said}");
    assert_eq!(std::fs::read_to_string(dir.path().join("r/folder4/a.txt")).unwrap(), "edited remotely\n");
    assert!(!dir.path().join("l/folder4").exists(), "skip must not restore the folder");
    // Settled by --resolve: the local side's deletion wins, or the remote edit comes back.
    let again = sh(dir.path(), "ftpsync sync l r --resolve remote --no-prompt");
    assert!(text(&again).contains("[folder4]"), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(dir.path().join("l/folder4/a.txt")).unwrap(), "edited remotely\n");
}

#[test]
fn ftp_remote_keeps_an_edit_in_a_folder_deleted_locally() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("r");
    std::fs::create_dir_all(&served).unwrap();
    let server = ftp::serve(&served);
    let url = server.url(None);
    sh(dir.path(), &with_remote(&url, FIRST));
    let said = text(&sh(dir.path(), &with_remote(&url, EDIT_THEN_SYNC)));
    assert!(said.contains("CONFLICT") && said.contains("[folder4]"), "no conflict reported:\n{said}");
    assert_eq!(std::fs::read_to_string(served.join("folder4/a.txt")).unwrap(), "edited remotely\n");
}

/// Without an edit the deletion goes through: the records prove the remote files unchanged
/// (no conflict for nothing), also right after the sync that wrote them.
#[test]
fn an_unchanged_folder_deleted_locally_is_deleted_on_the_remote() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let server = ftp::serve(&served);
    for remote in ["r", server.url(None).as_str()] {
        let script = format!(
            "rm -rf l r; mkdir -p l/folder4/sub r && echo hello > l/folder4/a.txt && echo b > l/folder4/sub/b.txt
ftpsync sync l '{remote}' --resolve skip --no-prompt
rm -rf l/folder4
ftpsync sync l '{remote}' --resolve skip --no-prompt"
        );
        let said = text(&sh(dir.path(), &script));
        assert!(
            said.contains("DELETE") && said.contains("[folder4]") && !said.contains("CONFLICT"),
            "{remote}:\n{said}"
        );
    }
    assert!(!served.join("folder4").exists());
    assert!(!dir.path().join("r/folder4").exists());
}

/// A file that came from the remote: a local-folder remote holds the copy of its record; a
/// server holds no `mtimes` record for a file it did not receive, so nothing proves it
/// unchanged there and the deletion becomes a conflict instead of a guess.
#[test]
fn a_downloaded_file_is_proven_unchanged_only_by_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir_all(served.join("folder4")).unwrap();
    std::fs::write(served.join("folder4/from-server.txt"), "made on the server\n").unwrap();
    let server = ftp::serve(&served);
    let url = server.url(None);
    let script = format!(
        "mkdir -p l
ftpsync sync l '{url}' --resolve skip --no-prompt
test -f l/folder4/from-server.txt
rm -rf l/folder4
ftpsync sync l '{url}' --resolve skip --no-prompt"
    );
    let said = text(&sh(dir.path(), &script));
    assert!(said.contains("CONFLICT") && said.contains("[folder4]"), "{said}");
    assert!(served.join("folder4/from-server.txt").exists());

    let local = tempfile::tempdir().unwrap();
    let script = "mkdir -p l r/folder4 && echo 'made remotely' > r/folder4/from-remote.txt
ftpsync sync l r --resolve skip --no-prompt
test -f l/folder4/from-remote.txt
rm -rf l/folder4
ftpsync sync l r --resolve skip --no-prompt";
    let said = text(&sh(local.path(), script));
    assert!(said.contains("DELETE") && said.contains("[folder4]") && !said.contains("CONFLICT"), "{said}");
    assert!(!local.path().join("r/folder4").exists());
}
