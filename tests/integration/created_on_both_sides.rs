//! A file created on both sides (different content) in a folder that took part in the last
//! sync is a conflict settled by `--resolve`; pyftpsync 4.1 lets the newer file win silently
//! when that folder has no metadata file of its own (it was empty at the last sync), and
//! overwrites the older one. Documented in golden/DIFFERENCES.md and the README; this test
//! runs both tools on the same trees.

use std::path::Path;
use std::process::Command;

use crate::support::{ftpsync, pyftpsync};

/// A folder `empty` synchronised while empty, then `new.txt` created in it on both sides, the
/// remote one newer and longer.
fn prepare(root: &Path, first_sync: impl Fn(&Path, &Path)) {
    let (l, r) = (root.join("l"), root.join("r"));
    std::fs::create_dir_all(l.join("empty")).unwrap();
    std::fs::create_dir_all(&r).unwrap();
    std::fs::write(l.join("top.txt"), "top\n").unwrap();
    first_sync(&l, &r);
    assert!(r.join("empty").is_dir(), "the first sync created the folder on the remote");
    assert!(!l.join("empty/.pyftpsync-meta.json").exists(), "an empty folder has no metadata file of its own");
    for (side, content, mtime) in
        [("l", "local version\n", 1_704_103_200), ("r", "remote version, longer\n", 1_704_189_600)]
    {
        let file = root.join(side).join("empty/new.txt");
        std::fs::write(&file, content).unwrap();
        filetime::set_file_mtime(&file, filetime::FileTime::from_unix_time(mtime, 0)).unwrap();
    }
}

fn read(root: &Path, side: &str) -> String {
    std::fs::read_to_string(root.join(side).join("empty/new.txt")).unwrap()
}

fn run_ftpsync(root: &Path, resolve: &str) -> String {
    let (l, r) = (root.join("l"), root.join("r"));
    let out = ftpsync(&["sync", l.to_str().unwrap(), r.to_str().unwrap(), "--resolve", resolve, "--no-prompt"]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_file_created_on_both_sides_in_a_synced_folder_is_a_conflict() {
    let root = tempfile::tempdir().unwrap();
    prepare(root.path(), |_, _| {
        run_ftpsync(root.path(), "skip");
    });
    let said = run_ftpsync(root.path(), "skip");
    assert!(said.contains("CONFLICT") && said.contains("empty/new.txt"), "{said}");
    assert_eq!(
        (read(root.path(), "l"), read(root.path(), "r")),
        ("local version\n".into(), "remote version, longer\n".into())
    );
    // Settled by --resolve like any conflict.
    let said = run_ftpsync(root.path(), "new");
    assert!(said.contains("empty/new.txt"), "{said}");
    assert_eq!(read(root.path(), "l"), "remote version, longer\n");
}

#[test]
fn pyftpsync_lets_the_newer_file_win_silently() {
    let Some(exe) = pyftpsync() else { return };
    let home = tempfile::tempdir().unwrap();
    let py = |root: &Path| {
        let (l, r) = (root.join("l"), root.join("r"));
        let out = Command::new(&exe)
            .args(["sync", l.to_str().unwrap(), r.to_str().unwrap(), "--resolve", "skip", "--no-prompt"])
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let root = tempfile::tempdir().unwrap();
    prepare(root.path(), |_, _| {
        py(root.path());
    });
    let said = py(root.path());
    assert!(!said.contains("CONFLICT"), "pyftpsync reported a conflict after all:\n{said}");
    assert_eq!(
        read(root.path(), "l"),
        "remote version, longer\n",
        "pyftpsync did not overwrite the local file:\n{said}"
    );
}
