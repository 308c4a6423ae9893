//! The starting points of the fault tests: a tree of 200 files and a 50 MiB file, each in a
//! synchronised state and then changed so that an upload, a download or a sync has work to do
//! (new, changed and deleted files, a new and a deleted folder).

use super::world::{Side, World};

/// What a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Upload,
    Download,
    Sync,
}

impl Mode {
    /// The command and flags (`--delete` so deletions are part of the work).
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Mode::Upload => &["upload", "--delete"],
            Mode::Download => &["download", "--delete"],
            Mode::Sync => &["sync", "--resolve", "skip"],
        }
    }
}

/// Size of the big file.
pub const BIG: usize = 50 << 20;

fn size_of(path: &str) -> usize {
    100 + path.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % 4000
}

/// The 200 files of the tree: `dK/fJ.txt` (10 × 10), `dK/sub/gJ.txt` (5 × 10), `rJ.bin` (50).
fn tree_paths() -> Vec<String> {
    let mut out = Vec::new();
    for k in 0..10 {
        out.extend((0..10).map(|j| format!("d{k}/f{j}.txt")));
    }
    for k in 0..5 {
        out.extend((0..10).map(|j| format!("d{k}/sub/g{j}.txt")));
    }
    out.extend((0..50).map(|j| format!("r{j}.bin")));
    out
}

/// Both sides hold version 1 of every file and the metadata says they are in sync (a run
/// without faults records them: equal files need no transfer).
fn synced(w: &mut World, files: &[(String, usize)]) {
    for (path, len) in files {
        w.put_both(path, 1, *len);
    }
    w.converge(Mode::Sync.args());
}

/// The tree, then changes on `side` (both sides for a sync): a quarter of the files changed,
/// 38 new files (20 of them in a new folder), 20 deleted (a whole folder among them).
pub fn tree(w: &mut World, mode: Mode) {
    let paths = tree_paths();
    let files: Vec<(String, usize)> = paths.iter().map(|p| (p.clone(), size_of(p))).collect();
    synced(w, &files);
    // In a sync, the local side gets one half of each kind of change and the server the other.
    let side_for = |i: usize| match mode {
        Mode::Upload => Side::Local,
        Mode::Download => Side::Served,
        Mode::Sync if i.is_multiple_of(2) => Side::Local,
        Mode::Sync => Side::Served,
    };
    // Deleted below: d9/ and r40..r49 (never changed as well, which would be a conflict).
    let deleted = |p: &str| p.starts_with("d9/") || (p.starts_with("r4") && p.len() == 7);
    for (i, (path, len)) in files.iter().filter(|(p, _)| !deleted(p)).enumerate().filter(|(i, _)| i % 4 == 0) {
        w.put(side_for(i / 4), path, 2, len + 17);
    }
    for j in 0..20 {
        let path = format!("new/n{j}.txt");
        w.put(side_for(0), &path, 3, size_of(&path));
    }
    for k in 0..9 {
        for j in 0..2 {
            let path = format!("d{k}/n{j}.txt");
            w.put(side_for(1), &path, 3, size_of(&path));
        }
    }
    w.remove(side_for(0), "d9");
    for j in 40..50 {
        w.remove(side_for(1), &format!("r{j}.bin"));
    }
}

/// A 50 MiB file and a small neighbour, then a new version of both on `side` (for a sync the
/// big file changes locally and the small one on the server).
pub fn big(w: &mut World, mode: Mode) {
    synced(w, &[("big.bin".into(), BIG), ("small.txt".into(), 1000)]);
    let (big_side, small_side) = match mode {
        Mode::Upload => (Side::Local, Side::Local),
        Mode::Download => (Side::Served, Side::Served),
        Mode::Sync => (Side::Local, Side::Served),
    };
    w.put(big_side, "big.bin", 2, BIG + 4096);
    w.put(small_side, "small.txt", 2, 1017);
}
