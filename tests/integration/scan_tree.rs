//! `scan` and `tree` on pyftpsync's fixture (behaviour spec §5.7), also over FTP, compared
//! with the real pyftpsync where it is installed; `--remove-meta` and `--remove-locks` really
//! remove.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ftpsync::plan::options::{Mode, PlanOptions};

use crate::support::{fixture, ftp, ftpsync, pyftpsync, sync_fs};

/// §5.2 step 2: the initial fixture after a first sync (metadata in every local folder).
fn synced_fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fixture::initial_local(dir.path());
    sync_fs(&dir.path().join("local"), &dir.path().join("remote"), PlanOptions::new(Mode::Sync));
    let local = dir.path().join("local");
    (dir, local)
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn run(args: &[&str]) -> String {
    stdout(&ftpsync(args))
}

/// The lines before the summary line, which must come last.
fn body(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let (last, body) = lines.split_last().expect("some output");
    assert!(last.starts_with("Scanning ") && last.ends_with(" seconds."), "no summary at the end:\n{text}");
    body.to_vec()
}

/// §5.7: the text before ` 2014-` of each line after the `[ROOT]` line.
fn tree_shape(text: &str) -> Vec<String> {
    body(text)[1..].iter().map(|l| l.split(" 2014-").next().unwrap().trim_end().to_string()).collect()
}

/// §5.7: the first token of every line, order ignored.
fn first_tokens(text: &str) -> BTreeSet<String> {
    body(text).iter().map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
}

fn set(items: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    items.into_iter().collect()
}

fn files(n: usize) -> impl Iterator<Item = String> {
    (1..=n).map(|i| format!("file{i}.txt"))
}

fn folders() -> impl Iterator<Item = String> {
    (1..=7).map(|i| format!("[folder{i}]"))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn tree_sorted_matches_the_spec() {
    let (_dir, local) = synced_fixture();
    let out = run(&["tree", p(&local), "--files", "--sort"]);
    assert_eq!(out.lines().next(), Some(format!("[{}]", local.display()).as_str()));
    let mut expected: Vec<String> = files(9).map(|f| format!(" +- {f}")).collect();
    for i in 1..=7 {
        let (connector, bar) = if i == 7 { ("`-", " ") } else { ("+-", "|") };
        expected.push(format!(" {connector} [folder{i}]"));
        expected.push(format!(" {bar}   `- file{i}_1.txt"));
    }
    assert_eq!(tree_shape(&out), expected);
    assert!(out.contains(" +- file1.txt            2014-01-01 "), "{out}");
    assert!(out.contains(":00:00,        6 bytes\n"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("Scanning 16 files in 8 directories took "), "{out}");

    let matched = run(&["tree", p(&local), "--files", "--sort", "--match", "*1_*.txt"]);
    let mut expected = vec![" +- [folder1]".to_string(), " |   `- file1_1.txt".to_string()];
    expected.extend((2..=6).map(|i| format!(" +- [folder{i}]")));
    expected.push(" `- [folder7]".into());
    assert_eq!(tree_shape(&matched), expected);

    let folders_only = run(&["tree", p(&local)]);
    assert_eq!(tree_shape(&folders_only).len(), 7, "{folders_only}");
    assert!(folders_only.lines().last().unwrap().starts_with("Scanning 0 files in 8 directories"));
}

#[test]
fn scan_lists_match_the_spec() {
    let (_dir, local) = synced_fixture();
    let all = run(&["scan", p(&local), "--list", "--recursive"]);
    let expected = set(files(9).chain(folders()).chain((1..=7).map(|i| format!("file{i}_1.txt"))));
    assert_eq!(first_tokens(&all), expected);
    assert!(all.contains("\n     file1_1.txt "), "sub-folder entries are indented:\n{all}");
    assert!(all.lines().last().unwrap().starts_with("Scanning 16 files in 8 directories took "), "{all}");

    let top = run(&["scan", p(&local), "--list"]);
    assert_eq!(first_tokens(&top), set(files(9).chain(folders())));
    let stamp = top.lines().find(|l| l.starts_with(" file1.txt")).expect("file1.txt listed");
    let time = stamp[1..].split_once(char::is_whitespace).unwrap().1.trim_start();
    assert!(time.starts_with("2014-01-01 ") && time.len() == 19 && time.ends_with(":00:00"), "{stamp:?}");

    let matched = run(&["scan", p(&local), "--list", "--recursive", "--match", "*5*"]);
    assert_eq!(
        first_tokens(&matched),
        set(["file5.txt".to_string(), "file5_1.txt".to_string()].into_iter().chain(folders()))
    );
    let excluded = run(&["scan", p(&local), "--list", "--recursive", "--match", "*5*", "--exclude", "folder?"]);
    assert_eq!(first_tokens(&excluded), set(["file5.txt".to_string()]));

    let quiet = run(&["scan", p(&local), "-r"]);
    assert_eq!(body(&quiet).len(), 0, "without --list only the summary:\n{quiet}");
}

/// Every line but the summary's time is the same as the real pyftpsync's.
#[test]
fn scan_and_tree_print_what_pyftpsync_prints() {
    let Some(exe) = pyftpsync() else { return };
    let (dir, local) = synced_fixture();
    let theirs = |args: &[&str]| {
        let out = Command::new(&exe).args(args).env("HOME", dir.path()).output().unwrap();
        stdout(&out)
    };
    let without_time = |text: &str| {
        text.lines()
            .map(|l| if l.starts_with("Scanning ") { l.split(" took ").next().unwrap() } else { l })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [
        vec!["tree", p(&local), "--files", "--sort"],
        vec!["tree", p(&local), "--files", "--sort", "--match", "*1_*.txt"],
        vec!["tree", p(&local), "--sort"],
        vec!["tree", p(&local), "--sort", "--exclude", "folder3"],
    ] {
        assert_eq!(without_time(&run(&args)), without_time(&theirs(&args)), "{args:?}");
    }
    // scan prints in listing order, which differs between the tools: compare as sets.
    for args in [
        vec!["scan", p(&local), "--list", "-r"],
        vec!["scan", p(&local), "--list", "-r", "-m", "*5*"],
        vec!["scan", p(&local), "--list"],
    ] {
        let (ours, theirs) = (run(&args), theirs(&args));
        let lines = |t: &str| without_time(t).lines().map(str::to_string).collect::<BTreeSet<_>>();
        assert_eq!(lines(&ours), lines(&theirs), "{args:?}");
    }
}

#[test]
fn scan_and_tree_of_an_ftp_url_show_what_the_folder_shows() {
    let (_dir, local) = synced_fixture();
    let server = ftp::serve(&local);
    let url = server.url(None);
    let conn = ["--no-prompt", "--no-keyring", "--no-netrc"];
    let over_ftp = run(&[&["tree", url.as_str(), "--files", "--sort"][..], &conn].concat());
    let from_disk = run(&["tree", p(&local), "--files", "--sort"]);
    assert_eq!(over_ftp.lines().next(), Some("[/]"));
    assert_eq!(tree_shape(&over_ftp), tree_shape(&from_disk));
    let listed = |text: &str| body(text).iter().map(|l| l.to_string()).collect::<BTreeSet<_>>();
    let scan_ftp = run(&[&["scan", url.as_str(), "--list", "-r"][..], &conn].concat());
    assert_eq!(listed(&scan_ftp), listed(&run(&["scan", p(&local), "--list", "-r"])));
    server.shutdown();
}

fn metadata_files(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == ".pyftpsync-meta.json") {
                out.insert(path);
            }
        }
    }
    out
}

/// The paths of the `DELETE` lines.
fn deleted(text: &str) -> BTreeSet<PathBuf> {
    text.lines().filter_map(|l| l.strip_prefix("DELETE ")).map(PathBuf::from).collect()
}

#[test]
fn remove_meta_removes_the_metadata_files_it_lists() {
    let (_dir, local) = synced_fixture();
    let before = metadata_files(&local);
    assert_eq!(before.len(), 8, "the synced fixture has metadata in the root and each folder");

    let dry = run(&["scan", p(&local), "-r", "--remove-meta", "--dry-run"]);
    assert!(dry.contains("(DRY-RUN) DELETE ") && dry.contains("(DRY-RUN) Would remove 8 metadata files."), "{dry}");
    assert_eq!(metadata_files(&local), before, "a dry run removes nothing");

    let top = run(&["scan", p(&local), "--remove-meta"]);
    assert_eq!(deleted(&top), set_of(&[local.join(".pyftpsync-meta.json")]));
    assert!(top.contains("Removed 1 metadata file."), "{top}");

    let rest = run(&["scan", p(&local), "-r", "--remove-meta"]);
    assert_eq!(deleted(&rest).len(), 7, "{rest}");
    assert!(rest.contains("Removed 7 metadata files."), "{rest}");
    assert!(metadata_files(&local).is_empty(), "still there: {:?}", metadata_files(&local));
    assert_eq!(rest.lines().filter(|l| l.starts_with(' ')).count(), 0, "no listing without --list");
}

fn set_of(paths: &[PathBuf]) -> BTreeSet<PathBuf> {
    paths.iter().cloned().collect()
}

#[test]
fn remove_locks_removes_stale_locks_also_over_ftp() {
    let (_dir, local) = synced_fixture();
    let locks = [local.join(".pyftpsync-lock.json"), local.join("folder2/.pyftpsync-lock.json")];
    for l in &locks {
        std::fs::write(l, r#"{"lock_time": 1388577600.0, "lock_holder": null}"#).unwrap();
    }
    let listed = run(&["scan", p(&local), "-r", "--list", "--remove-locks"]);
    assert_eq!(deleted(&listed), set_of(&locks));
    assert!(listed.contains("Removed 2 lock files."), "{listed}");
    assert!(locks.iter().all(|l| !l.exists()));
    assert_eq!(metadata_files(&local).len(), 8, "--remove-locks leaves the metadata");

    std::fs::write(&locks[0], "{}").unwrap();
    let server = ftp::serve(&local);
    let out = run(&["scan", &server.url(None), "--remove-locks", "--no-prompt", "--no-keyring", "--no-netrc"]);
    assert_eq!(deleted(&out), set_of(&[PathBuf::from("/.pyftpsync-lock.json")]), "{out}");
    assert!(!locks[0].exists());
    server.shutdown();
}
