//! pyftpsync's test fixture (behaviour spec §5.1–§5.2), built on disk.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use ftpsync::plan::options::{Mode, PlanOptions};
use serde_json::{Value, json};

/// 2014-01-01 12:00:00 UTC and friends.
pub const T12: f64 = 1388577600.0;
pub const T13: f64 = 1388581200.0;
pub const T1305: f64 = 1388581205.0;

const L13: (&str, f64) = ("local 13:00", T13);
const L1305: (&str, f64) = ("local 13:00:05", T1305);
const R13: (&str, f64) = ("remote 13:00", T13);
const R1305: (&str, f64) = ("remote 13:00:05", T1305);
const R13_PLUS: (&str, f64) = ("remote 13:00 with other content", T13);

/// One edit of the fixture.
pub enum Edit {
    Write(&'static str, (&'static str, f64)),
    Remove(&'static str),
    RemoveTree(&'static str),
}

use Edit::*;

/// §5.2 step 3, in upstream order.
pub const MODIFY: &[Edit] = &[
    Write("local/file2.txt", L13),
    Remove("local/file3.txt"),
    Write("remote/file4.txt", R13),
    Remove("remote/file5.txt"),
    Write("local/file6.txt", L13),
    Write("remote/file6.txt", R1305),
    Write("local/file7.txt", L1305),
    Write("remote/file7.txt", R13),
    Remove("local/file8.txt"),
    Write("remote/file8.txt", R13),
    Write("local/file9.txt", L13),
    Remove("remote/file9.txt"),
    Write("local/folder2/file2_1.txt", L13),
    RemoveTree("local/folder3"),
    RemoveTree("local/folder4"),
    Write("remote/folder4/file4_1.txt", R13),
    Write("remote/folder5/file5_1.txt", R13),
    RemoveTree("remote/folder6"),
    Write("local/folder7/file7_1.txt", L13),
    RemoveTree("remote/folder7"),
    Write("local/new_file1.txt", L13),
    Write("remote/new_file2.txt", R13),
    Write("local/new_file3.txt", L13),
    Write("remote/new_file3.txt", L13),
    Write("local/new_file4.txt", L13),
    Write("remote/new_file4.txt", R13_PLUS),
    Write("local/new_file5.txt", L13),
    Write("remote/new_file5.txt", R1305),
    Write("local/new_file6.txt", L1305),
    Write("remote/new_file6.txt", R13),
];

/// The extra edits of the X fixture (X1/X2).
pub const X_EDITS: &[Edit] = &[Remove("remote/file8.txt"), Remove("local/file9.txt")];

/// Writes a file (creating parent folders) and sets its modification time.
pub fn write(root: &Path, rel: &str, content: &str, mtime: f64) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    let t = filetime::FileTime::from_unix_time(mtime as i64, 0);
    filetime::set_file_times(&path, t, t).unwrap();
}

pub fn apply_edits(root: &Path, edits: &[Edit]) {
    for e in edits {
        match e {
            Write(rel, (content, t)) => write(root, rel, content, *t),
            Remove(rel) => fs::remove_file(root.join(rel)).unwrap(),
            RemoveTree(rel) => fs::remove_dir_all(root.join(rel)).unwrap(),
        }
    }
}

/// §5.2 step 1: `local/` with file1..9 and folder1..7, an empty `remote/`.
pub fn initial_local(root: &Path) {
    for i in 1..=9 {
        write(root, &format!("local/file{i}.txt"), &format!("local{i}"), T12);
    }
    for i in 1..=7 {
        write(root, &format!("local/folder{i}/file{i}_1.txt"), &format!("local{i}_1"), T12);
    }
    fs::create_dir_all(root.join("remote")).unwrap();
}

/// Copies a folder tree, modification times kept (as `cp -rp` or unpacking a tar would).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
            let m = fs::metadata(e.path()).unwrap();
            let t = filetime::FileTime::from_last_modification_time(&m);
            filetime::set_file_times(&target, t, t).unwrap();
        }
    }
}

/// §5.2 step 4: `remote/` as a plain copy of `local/` (mtimes kept, no metadata).
pub fn copy_local_to_remote(root: &Path) {
    let _ = fs::remove_dir_all(root.join("remote"));
    copy_tree(&root.join("local"), &root.join("remote"));
}

/// Every regular file below `top` except metadata files: path → {content, mtime}.
pub fn read_tree(top: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    fn walk(top: &Path, dir: &Path, out: &mut BTreeMap<String, Value>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(top, &path, out);
            } else if e.file_name() != ".pyftpsync-meta.json" {
                let rel = path.strip_prefix(top).unwrap().to_string_lossy().into_owned();
                let mtime = fs::metadata(&path)
                    .unwrap()
                    .modified()
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                out.insert(rel, json!({"content": fs::read_to_string(&path).unwrap(), "mtime": mtime}));
            }
        }
    }
    walk(top, top, &mut out);
    out
}

/// The pyftpsync fixture in a new folder, synced local→local, then edited on both sides.
pub fn synced_then_modified() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    initial_local(dir.path());
    super::sync_fs(&dir.path().join("local"), &dir.path().join("remote"), PlanOptions::new(Mode::Sync));
    // The edits must be later than the sync by more than the time tolerance.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    apply_edits(dir.path(), MODIFY);
    dir
}
