//! A case-insensitive server that refuses to rename onto an existing name and lists in DOS
//! format (Windows/IIS, `support::iis_ftp`), issue 12 point 9 / acceptance 8:
//!
//! - a refused rename onto a name the plan recorded as absent deletes nothing (it used to send
//!   `DELE` for the destination: the file another connection had just stored there);
//! - with `--case strict`, two local names that differ only in case (or a new local name and a
//!   remote one differing only in case) stop the run before anything changes, naming both;
//! - upload, replan, sync and a sync with nothing to do lose nothing, with every `--case`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ftpsync::backend::Target;
use ftpsync::backend::ftp::session::Settings;
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::secret::Secret;
use ftpsync::backend::url::{FtpUrl, Tls};
use ftpsync::model::Entry;
use ftpsync::model::relpath::RelPath;

use crate::support::ftpsync_command;
use crate::support::iis_ftp::IisFtp;

/// 2023-01-02 03:04:05 UTC, and a day later.
const OLD: i64 = 1_672_628_645;
const NEWER: i64 = OLD + 86_400;

fn run(server: &IisFtp, args: &[&str]) -> Output {
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "10"]);
    let out = ftpsync_command(&full).env("FTPSYNC_PASSWORD", "pw").output().expect("run ftpsync");
    // Keep the server alive until the run is over.
    let _ = server.port();
    out
}

fn text(o: &Output) -> String {
    format!("exit {:?}\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn put(root: &Path, path: &str, data: &[u8], mtime: i64) {
    let file = root.join(path);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, data).unwrap();
    let t = filetime::FileTime::from_unix_time(mtime, 0);
    filetime::set_file_times(&file, t, t).unwrap();
}

/// Every file below `root` (not metadata or temporary files) → content.
fn local_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if !name.starts_with(".pyftpsync-") && !name.starts_with(".ftpsync-") {
                out.insert(
                    e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// The server's files without metadata, lock and temporary files.
fn served_files(server: &IisFtp) -> BTreeMap<String, Vec<u8>> {
    let mut files = server.files();
    files.retain(|p, _| {
        let name = p.rsplit('/').next().unwrap();
        !name.starts_with(".pyftpsync-") && !name.starts_with(".ftpsync-")
    });
    files
}

/// The same files on both sides, compared without regard to case (the spelling may differ
/// with `--case local|remote`).
fn same_content(local: &BTreeMap<String, Vec<u8>>, served: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let fold = |m: &BTreeMap<String, Vec<u8>>| {
        m.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect::<BTreeMap<_, _>>()
    };
    if fold(local) == fold(served) {
        Ok(())
    } else {
        Err(format!("local {:?} != served {:?}", local.keys().collect::<Vec<_>>(), served.keys().collect::<Vec<_>>()))
    }
}

fn target(server: &IisFtp) -> FtpTarget {
    let url = FtpUrl {
        tls: Tls::None,
        host: "127.0.0.1".into(),
        port: server.port(),
        user: None,
        password: None,
        path: "/site".into(),
    };
    let settings = Settings {
        url,
        user: "joe".into(),
        password: Secret::new("pw"),
        trust: None,
        active: false,
        timeout: Duration::from_secs(10),
    };
    FtpTarget::open(settings, Options { retries: 1, create_root: false }).unwrap()
}

#[test]
fn a_rename_refused_onto_a_name_planned_absent_deletes_nothing() {
    let server = IisFtp::start();
    server.put("notes.txt", b"written by someone else", OLD);
    let mut t = target(&server);
    // The plan recorded `Notes.txt` as absent; the guard (like apply's) accepts only that.
    let absent = |found: Option<&Entry>| if found.is_none() { Ok(()) } else { Err(anyhow::anyhow!("changed")) };
    let err = t
        .replace_file(&RelPath::parse("Notes.txt").unwrap(), &mut &b"mine"[..], Some(NEWER as f64), &absent)
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("Cannot create a file when that file already exists") && err.contains("left alone"), "{err}");
    let commands = server.commands();
    assert!(
        !commands.iter().any(|c| c.starts_with("DELE /site/notes.txt") || c.starts_with("DELE /site/Notes.txt")),
        "{commands:#?}"
    );
    assert_eq!(
        server.files(),
        BTreeMap::from([("notes.txt".to_string(), b"written by someone else".to_vec())]),
        "the other file is kept, no temporary file is left"
    );

    // A file the guard saw and accepted may be replaced: removed first, as IIS needs.
    let seen = |found: Option<&Entry>| {
        if found.is_some_and(|e| e.size == 23) { Ok(()) } else { Err(anyhow::anyhow!("changed")) }
    };
    t.replace_file(&RelPath::parse("notes.txt").unwrap(), &mut &b"mine"[..], Some(NEWER as f64), &seen).unwrap();
    assert_eq!(server.files(), BTreeMap::from([("notes.txt".to_string(), b"mine".to_vec())]));
}

#[test]
fn names_differing_only_in_case_stop_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    put(&local, "Notes.txt", b"upper", OLD);
    put(&local, "notes.txt", b"lower", OLD);
    put(&local, "other.txt", b"other", OLD);
    let server = IisFtp::start();
    let out = run(&server, &["upload", local.to_str().unwrap(), &server.url(), "--case", "strict"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("\"Notes.txt\" and \"notes.txt\"") && said.contains("ignores the case"), "{said}");
    assert!(server.files().is_empty(), "nothing may change: {:?}", server.files());
    assert!(
        !server.commands().iter().any(|c| c.starts_with("STOR") || c.starts_with("MKD")),
        "{:#?}",
        server.commands()
    );
    assert_eq!(local_files(&local).len(), 3);

    // A plan says so already (it cannot know the server's rules: it changes nothing), and the
    // apply of it stops the same way.
    let plan = dir.path().join("plan.json");
    let out = run(
        &server,
        &["plan", "upload", local.to_str().unwrap(), &server.url(), "--case", "strict", "-o", plan.to_str().unwrap()],
    );
    assert!(
        out.status.success() && text(&out).contains("\"Notes.txt\" and \"notes.txt\" differ only in case"),
        "{}",
        text(&out)
    );
    let out = run(&server, &["apply", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("\"Notes.txt\" and \"notes.txt\""), "{}", text(&out));
    assert!(server.files().is_empty(), "nothing may change: {:?}", server.files());

    // A new local name next to a remote one that differs only in case: the same.
    let server = IisFtp::start();
    server.put("OTHER.TXT", b"theirs", OLD);
    fs::remove_file(local.join("notes.txt")).unwrap();
    let out = run(&server, &["upload", local.to_str().unwrap(), &server.url(), "--case", "strict"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("\"OTHER.TXT\" and \"other.txt\""), "{said}");
    assert_eq!(server.files(), BTreeMap::from([("OTHER.TXT".to_string(), b"theirs".to_vec())]));

    // A case-sensitive server stores both (the question is asked and answered "no").
    let other = dir.path().join("served");
    fs::create_dir_all(&other).unwrap();
    let out = ftpsync_command(&[
        "upload",
        local.to_str().unwrap(),
        other.to_str().unwrap(),
        "--case",
        "strict",
        "--no-prompt",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// One `--case` mode through upload, replan, sync and a sync with nothing to do.
fn lifecycle(case: Option<&str>) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    put(&local, "Notes.txt", b"notes v1", OLD);
    put(&local, "Photos/Beach.JPG", b"jpeg bytes", OLD);
    put(&local, "docs/ReadMe.md", b"# read me", OLD);
    put(&local, "docs/Deep Folder/Data.CSV", b"a,b\n1,2\n", OLD);
    let server = IisFtp::start();
    let (l, url) = (local.to_str().unwrap().to_string(), server.url());
    let with_case = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(c) = case {
            v.extend(["--case".to_string(), c.to_string()]);
        }
        v
    };
    let go = |args: &[&str]| {
        let args = with_case(args);
        run(&server, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let out = go(&["upload", &l, &url]);
    if !out.status.success() {
        return Err(format!("upload: {}", text(&out)));
    }
    same_content(&local_files(&local), &served_files(&server)).map_err(|e| format!("after upload: {e}"))?;

    let plan = dir.path().join("plan.json");
    let out = go(&["plan", "upload", &l, &url, "-o", plan.to_str().unwrap(), "--detailed-exitcode"]);
    if out.status.code() != Some(0) {
        return Err(format!("the replan is not empty: {}", text(&out)));
    }

    // Changes on both sides, then a sync.
    put(&local, "Notes.txt", b"notes v2, edited", NEWER);
    server.put("Photos/Sunset.PNG", b"png bytes", NEWER);
    let out = go(&["sync", &l, &url, "--resolve", "skip"]);
    if !out.status.success() {
        return Err(format!("sync: {}", text(&out)));
    }
    let (lf, sf) = (local_files(&local), served_files(&server));
    same_content(&lf, &sf).map_err(|e| format!("after sync: {e}"))?;
    if lf.get("Notes.txt").map(Vec::as_slice) != Some(&b"notes v2, edited"[..])
        || !lf.contains_key("Photos/Sunset.PNG")
        || lf.len() != 5
    {
        return Err(format!("after sync: {:?}", lf.keys().collect::<Vec<_>>()));
    }

    // Nothing to do: nothing changes.
    let before = (local_files(&local), server.files());
    let out = go(&["sync", &l, &url, "--resolve", "skip"]);
    if !out.status.success() {
        return Err(format!("the sync with nothing to do: {}", text(&out)));
    }
    if (local_files(&local), server.files()) != before {
        return Err(format!("the sync with nothing to do changed something: {}", text(&out)));
    }
    Ok(())
}

/// A remote file whose name differs from the local one only in case.
fn spelling(case: Option<&str>) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    put(&local, "README.txt", b"local, newer", NEWER);
    put(&local, "keep.txt", b"keep", OLD);
    let server = IisFtp::start();
    server.put("readme.TXT", b"remote, older", OLD);
    let (l, url) = (local.to_str().unwrap().to_string(), server.url());
    let mut args = vec!["upload", &l, &url];
    if let Some(c) = case {
        args.extend(["--case", c]);
    }
    let out = run(&server, &args);
    let files = served_files(&server);
    match case {
        // One file on the server for the pair, replaced by the newer local one, spelt as it was.
        Some("local") | Some("remote") => {
            if !out.status.success() {
                return Err(format!("upload: {}", text(&out)));
            }
            let expected = BTreeMap::from([
                ("keep.txt".to_string(), b"keep".to_vec()),
                ("readme.TXT".to_string(), b"local, newer".to_vec()),
            ]);
            if files != expected {
                return Err(format!("served {files:?}"));
            }
            // And then nothing is left to do, in either direction.
            let mut sync = vec!["sync", &l, &url, "--resolve", "skip"];
            sync.extend(["--case", case.unwrap()]);
            let before = (local_files(&local), server.files());
            let out = run(&server, &sync);
            if !out.status.success() || (local_files(&local), server.files()) != before {
                return Err(format!("the sync with nothing to do: {}", text(&out)));
            }
            Ok("replaced in place".into())
        }
        // Stops before any change: no --case (ambiguous), --case strict (the server folds case).
        _ => {
            let said = text(&out);
            if out.status.code() != Some(1) && out.status.code() != Some(2) {
                return Err(format!("expected a stop: {said}"));
            }
            if files != BTreeMap::from([("readme.TXT".to_string(), b"remote, older".to_vec())]) {
                return Err(format!("something changed: {files:?}\n{said}"));
            }
            if !(said.contains("README.txt") && said.contains("readme.TXT")) {
                return Err(format!("the message must name both: {said}"));
            }
            Ok("stopped before any change".into())
        }
    }
}

#[test]
fn every_case_mode_loses_nothing() {
    let mut failures = Vec::new();
    for case in [None, Some("strict"), Some("local"), Some("remote")] {
        if let Err(e) = lifecycle(case) {
            failures.push(format!("--case {case:?}, upload/replan/sync: {e}"));
        }
        match spelling(case) {
            Ok(what) => eprintln!("--case {case:?}, names differing in case: {what}"),
            Err(e) => failures.push(format!("--case {case:?}, names differing in case: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
