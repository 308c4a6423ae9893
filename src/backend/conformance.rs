//! What every backend must do for a staged apply, as one plain function, so the same check
//! runs on the local folder and the in-memory tree (unit tests) and on every real FTP server
//! (the `primitives` rows of `tests/integration/servers/staged.rs`).

use anyhow::{Result, ensure};

use super::{Target, read_to_vec};
use crate::model::Kind;
use crate::model::listing::TEMP_PREFIX;
use crate::model::relpath::RelPath;

/// A folder's content names, and its temporary entries with their kinds.
type Names = (Vec<String>, Vec<(String, Kind)>);

fn names(target: &mut dyn Target, dir: &RelPath) -> Result<Names> {
    let listing = target.list_dir(dir)?.ok_or_else(|| anyhow::anyhow!("{dir} is gone"))?;
    let mut content: Vec<String> = listing.entries.iter().map(|e| e.name.clone()).collect();
    let mut temporary: Vec<(String, Kind)> = listing.temporary.iter().map(|e| (e.name.clone(), e.kind)).collect();
    content.sort();
    temporary.sort();
    Ok((content, temporary))
}

/// Runs the staging primitives in `dir` (an empty folder the caller made, removed by the
/// check): a staged file and a staged folder are not content but are listed as temporary; a
/// staged name is never overwritten; renames move files and folders with their content and
/// keep the modification time; several renames at once all happen; a tree is removed with
/// everything in it. (A rename onto a taken name is never asked of a target: callers move the
/// old entry aside first. Servers differ there, some replace silently.)
pub fn check_staging_primitives(t: &mut dyn Target, dir: &RelPath) -> Result<()> {
    let pid = std::process::id();
    let at = |name: &str| dir.join_unchecked(name);
    let staged = at(&format!("{TEMP_PREFIX}{pid}-s0"));
    let staged_dir = at(&format!("{TEMP_PREFIX}{pid}-s1"));
    let backup = at(&format!("{TEMP_PREFIX}{pid}-b0"));

    // Staging: invisible, listed as temporary, with the time set.
    t.write_file(&at("page.html"), &mut &b"old page"[..], Some(1_600_000_000.0))?;
    let written = t.write_staged(&staged, &mut &b"new page!"[..], Some(1_700_000_000.0))?;
    ensure!(written.bytes == 9, "write_staged stored {} bytes of 9", written.bytes);
    t.make_dir(&staged_dir)?;
    t.make_dir(&staged_dir.join_unchecked("sub"))?;
    t.write_staged(&staged_dir.join_unchecked("sub/img.png"), &mut &b"png"[..], Some(1_700_000_100.0))?;
    let (content, temporary) = names(t, dir)?;
    ensure!(content == ["page.html"], "staged entries listed as content: {content:?}");
    let expected_temp = vec![(staged.name().to_string(), Kind::File), (staged_dir.name().to_string(), Kind::Dir)];
    ensure!(temporary == expected_temp, "temporary entries: {temporary:?}, expected {expected_temp:?}");

    // The commit's renames, all at once: aside, then into place.
    t.rename_all(&[
        (at("page.html"), backup.clone()),
        (staged.clone(), at("page.html")),
        (staged_dir.clone(), at("img")),
    ])?;
    let (content, temporary) = names(t, dir)?;
    ensure!(content == ["img", "page.html"], "after the renames: {content:?}");
    ensure!(temporary == [(backup.name().to_string(), Kind::File)], "after the renames, temporary: {temporary:?}");
    ensure!(read_to_vec(t, &at("page.html"))? == b"new page!", "the placed file has other content");
    ensure!(read_to_vec(t, &at("img/sub/img.png"))? == b"png", "the placed folder lost its content");
    let placed = t.list_dir(dir)?.into_iter().flat_map(|l| l.entries).find(|e| e.name == "page.html");
    if let Some(e) = placed.filter(|_| written.mtime_set) {
        ensure!((e.mtime - 1_700_000_000.0).abs() < 1.5, "the rename changed the modification time: {}", e.mtime);
    }

    // Undo and cleanup.
    t.rename(&at("img"), &staged_dir)?;
    t.remove_tree(&staged_dir)?;
    t.remove_tree(&backup)?;
    t.remove_tree(&at("missing"))?;
    let (content, temporary) = names(t, dir)?;
    ensure!(content == ["page.html"] && temporary.is_empty(), "after removing: {content:?} {temporary:?}");
    t.remove_tree(dir)?;
    ensure!(t.list_dir(dir)?.is_none(), "remove_tree left {dir}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::local::LocalTarget;
    use crate::backend::memory::{MemoryFs, MemoryOptions};
    use crate::model::SystemClock;

    #[test]
    fn the_local_folder_stages_renames_and_removes() {
        let root = tempfile::tempdir().unwrap();
        let mut t = LocalTarget::open(root.path()).unwrap();
        let dir = RelPath::parse("work").unwrap();
        t.make_dir(&dir).unwrap();
        check_staging_primitives(&mut t, &dir).unwrap();
        refuses_a_taken_name(&mut t);
    }

    #[test]
    fn the_memory_tree_stages_renames_and_removes() {
        let fs = MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default());
        let mut t = fs.target("m", false);
        let dir = RelPath::parse("work").unwrap();
        t.make_dir(&dir).unwrap();
        check_staging_primitives(&mut t, &dir).unwrap();
        refuses_a_taken_name(&mut t);
    }

    /// The local folder and the memory tree check the name themselves (rename(2) would replace).
    fn refuses_a_taken_name(t: &mut dyn Target) {
        let (a, b) = (RelPath::parse("a").unwrap(), RelPath::parse("b").unwrap());
        t.write_file(&a, &mut &b"a"[..], None).unwrap();
        t.write_file(&b, &mut &b"b"[..], None).unwrap();
        assert!(t.rename(&a, &b).is_err());
        assert_eq!(read_to_vec(t, &b).unwrap(), b"b");
        assert_eq!(read_to_vec(t, &a).unwrap(), b"a");
    }
}
