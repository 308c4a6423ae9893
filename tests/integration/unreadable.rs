//! A listing is complete or it is an error (issue 12, acceptance 2): a scripted server lists
//! the folder `/a b` with error text, an unparsable line, a truncated last line, a `550`, a DOS
//! listing, and a listing that differs on the second reading. For each, `plan` and the
//! one-step commands (`upload --delete`, `download --delete`, `sync`), run as the CLI binary,
//! delete nothing and copy nothing into or out of that folder, and the message names it. The
//! DOS listing is read correctly; the second reading that differs is drift (exit 4, nothing
//! changed); with `--skip-unreadable` the rest is synchronised and the folder is left alone,
//! with a warning naming it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::support::fake_ftp::{Dialect, FakeFtp, ListingReply, MODIFY_SECS, Script};
use crate::support::{assert_schema_valid, ftpsync, tree_state};

const FOLDER: &str = "/a b";
const X: &[u8] = b"x content\n";

/// A server holding `keep.txt`, `a b/x.txt` and an empty folder `a b/sub dir`.
fn server(dialect: Dialect) -> FakeFtp {
    let mut script = Script::new(dialect);
    script.files.insert("/keep.txt".into(), b"keep\n".to_vec());
    script.files.insert(format!("{FOLDER}/x.txt"), X.to_vec());
    script.dirs.insert(FOLDER.into());
    script.dirs.insert(format!("{FOLDER}/sub dir"));
    FakeFtp::start(script)
}

/// One line of `x.txt` in the server's dialect.
fn x_line(dialect: Dialect) -> String {
    match dialect {
        Dialect::Mlsd => format!("type=file;size={};modify=20230102030405; x.txt\r\n", X.len()),
        Dialect::ListOnly => format!("-rw-r--r--   1 ftp      ftp      {:>8} Jan 02  2023 x.txt\r\n", X.len()),
    }
}

/// What a bad listing case sends, and the words of the server the message must quote.
fn bad_cases(dialect: Dialect) -> Vec<(&'static str, Vec<ListingReply>, &'static str)> {
    let x = x_line(dialect);
    let payload = |s: String| vec![ListingReply::Payload(s.into_bytes())];
    let unparsable = match dialect {
        Dialect::Mlsd => "modify=20230102030405 size=3 other.txt",
        Dialect::ListOnly => "-rw-r--r--   1 ftp      ftp             3 Jan 02 25:61 other.txt",
    };
    vec![
        // inetutils-ftpd given `LIST -a /a b`: ls's complaints instead of the entries.
        (
            "error text",
            payload(format!("/a: No such file or directory\r\nb: No such file or directory\r\n{x}")),
            "/a: No such file or directory",
        ),
        ("an unparsable line", payload(format!("{x}{unparsable}\r\n")), "other.txt"),
        // `x.txt` cut to `x.t`: an entry that does not exist, and the real one missing.
        ("a truncated last line", payload(x[..x.len() - 4].to_string()), "x.t"),
        ("a 550", vec![ListingReply::Refuse("550 Permission denied.".into())], "550 Permission denied."),
        // `x.txt` followed by a stray line, or a file named "x.txt\nname"? Either way, not
        // a listing to trust.
        ("a name with a line break", payload(format!("{}\nname\r\n", x.trim_end())), "\"name\""),
    ]
}

/// Runs the binary against the server with bounded waits.
fn run(args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--no-prompt", "--timeout", "5", "--retries", "2"]);
    ftpsync(&all)
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The server's files with their content.
fn server_files(server: &FakeFtp) -> BTreeMap<String, Vec<u8>> {
    server.paths().into_iter().filter(|p| !p.contains("-lock")).map(|p| (p.clone(), server.file(&p).unwrap())).collect()
}

/// A local copy of the server (downloaded, so both sides hold sync records), then changes on
/// both sides in `a b` and beside it: copies the plan would make if it trusted the folder.
fn synced_pair(dialect: Dialect, root: &Path) -> (FakeFtp, String) {
    let server = server(dialect);
    let local = root.join("local");
    std::fs::create_dir(&local).unwrap();
    let out = run(&["download", local.to_str().unwrap(), &server.url(), "--resolve", "remote"]);
    assert!(out.status.success(), "first download: {}", text(&out));
    assert_eq!(std::fs::read(local.join("a b/x.txt")).unwrap(), X);
    std::fs::write(local.join("a b/new-local.txt"), "new here\n").unwrap();
    std::fs::write(local.join("top-new.txt"), "beside the folder\n").unwrap();
    server.put(&format!("{FOLDER}/new-remote.txt"), b"new there\n");
    (server, local.to_str().unwrap().to_string())
}

/// The commands of acceptance 2, each as arguments after which local and URL follow.
const COMMANDS: [&[&str]; 4] = [
    &["plan", "sync"],
    &["upload", "--delete", "--resolve", "skip"],
    &["download", "--delete", "--resolve", "skip"],
    &["sync", "--resolve", "skip"],
];

fn args<'a>(command: &'a [&'a str], local: &'a str, url: &'a str, plan_out: &'a str) -> Vec<&'a str> {
    let mut args = command.to_vec();
    args.extend([local, url]);
    if command[0] == "plan" {
        args.extend(["-o", plan_out]);
    }
    args
}

/// Files (and folders) with their content and time, by path.
type LocalState = BTreeMap<String, (Vec<u8>, std::time::SystemTime)>;

/// The local files below `a b` and the server's files below `/a b`.
fn folder_state(local: &str, server: &FakeFtp) -> (LocalState, BTreeMap<String, Vec<u8>>) {
    let mut remote = server_files(server);
    remote.retain(|p, _| p.starts_with(&format!("{FOLDER}/")));
    (tree_state(&Path::new(local).join("a b")), remote)
}

fn unreadable_stops_every_command(dialect: Dialect) {
    for (case, replies, words) in bad_cases(dialect) {
        let dir = tempfile::tempdir().unwrap();
        let (server, local) = synced_pair(dialect, dir.path());
        let plan_out = dir.path().join("plan.json");
        for command in COMMANDS {
            server.set_listings(FOLDER, replies.clone());
            let (local_before, server_before) = (tree_state(Path::new(&local)), server_files(&server));
            let out = run(&args(command, &local, &server.url(), plan_out.to_str().unwrap()));
            let said = text(&out);
            let what = format!("{dialect:?}, {case}, {command:?}");
            assert_eq!(out.status.code(), Some(1), "{what}: {said}");
            assert!(
                said.contains(&format!("the folder {FOLDER} on ")) && said.contains("is unreadable"),
                "{what}: the folder is not named: {said}"
            );
            assert!(said.contains(words), "{what}: the server's words {words:?} are not quoted: {said}");
            assert!(said.contains("--skip-unreadable"), "{what}: no way out is named: {said}");
            assert_eq!(tree_state(Path::new(&local)), local_before, "{what}: the local side changed");
            assert_eq!(server_files(&server), server_before, "{what}: the server changed");
            assert!(server.readings(FOLDER) >= 1, "{what}: the folder was not listed");
        }
        // Left out on request: the rest is synchronised, the folder left alone on both sides.
        for command in &COMMANDS[1..] {
            server.set_listings(FOLDER, replies.clone());
            let before = folder_state(&local, &server);
            let url = server.url();
            let mut with_skip = args(command, &local, &url, "");
            with_skip.push("--skip-unreadable");
            let out = run(&with_skip);
            let said = text(&out);
            let what = format!("{dialect:?}, {case}, {command:?} --skip-unreadable");
            assert_eq!(out.status.code(), Some(0), "{what}: {said}");
            assert!(
                said.contains(&format!("Skipping the unreadable remote folder {FOLDER} on ")) && said.contains(words),
                "{what}: {said}"
            );
            assert_eq!(folder_state(&local, &server), before, "{what}: something in the folder changed");
            if command[0] != "download" {
                assert_eq!(
                    server.file("/top-new.txt").as_deref(),
                    Some(&b"beside the folder\n"[..]),
                    "{what}: the rest was not synchronised"
                );
            }
        }
        // The plan shows the folder left alone, and says why.
        server.set_listings(FOLDER, replies.clone());
        let out = run(&["plan", "sync", &local, &server.url(), "-o", plan_out.to_str().unwrap(), "--skip-unreadable"]);
        assert_eq!(out.status.code(), Some(0), "{case}: {}", text(&out));
        let plan: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan_out).unwrap()).unwrap();
        assert_schema_valid("plan", &plan);
        assert_eq!(plan["options"]["skip_unreadable"], true);
        let entries = plan["entries"].as_array().unwrap();
        let folder = entries.iter().find(|e| e["path"] == "a b").expect("the folder is planned");
        assert_eq!(
            (&folder["action"], &folder["reason"]),
            (&serde_json::json!("skip"), &serde_json::json!("unreadable")),
            "{folder}"
        );
        assert!(
            entries.iter().all(|e| !e["path"].as_str().unwrap().starts_with("a b/")),
            "{case}: an entry inside the folder was planned"
        );
    }
}

#[test]
fn an_unreadable_folder_stops_every_command_list() {
    unreadable_stops_every_command(Dialect::ListOnly);
}

#[test]
fn an_unreadable_folder_stops_every_command_mlsd() {
    unreadable_stops_every_command(Dialect::Mlsd);
}

#[test]
fn a_dos_listing_is_read_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(Dialect::ListOnly);
    let local = dir.path().join("local");
    std::fs::create_dir(&local).unwrap();
    let local = local.to_str().unwrap().to_string();
    let dos = |year: &str, time: &str| {
        // 2023-01-02 03:04 UTC, as IIS writes it (12-hour clock, two-digit year) or 24-hour.
        let line = format!(
            "01-02-{year}  {time}       <DIR>          sub dir\r\n01-02-{year}  {time}  {:>14} x.txt\r\n",
            X.len()
        );
        vec![ListingReply::Payload(line.into_bytes())]
    };
    let out = run(&["download", &local, &server.url(), "--resolve", "remote"]);
    assert!(out.status.success(), "{}", text(&out));
    for listing in [dos("23", "03:04AM"), dos("2023", "03:04")] {
        server.set_listings(FOLDER, listing);
        // Listed correctly: x.txt is there and unchanged (its exact time from MDTM), and
        // `sub dir` is an (empty) folder; nothing is deleted, whatever the command.
        let plan_out = dir.path().join("plan.json");
        for command in COMMANDS {
            let before = (tree_state(Path::new(&local)), server_files(&server));
            let out = run(&args(command, &local, &server.url(), plan_out.to_str().unwrap()));
            let said = text(&out);
            assert_eq!(out.status.code(), Some(0), "{command:?}: {said}");
            assert!(!said.contains("DELETE"), "{command:?}: {said}");
            assert_eq!(std::fs::read(Path::new(&local).join("a b/x.txt")).unwrap(), X);
            assert_eq!(server.file(&format!("{FOLDER}/x.txt")).as_deref(), Some(X));
            if command[0] == "plan" {
                let plan: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan_out).unwrap()).unwrap();
                let x = plan["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["path"] == "a b/x.txt")
                    .expect("a b/x.txt is planned");
                assert_eq!(x["remote"]["size"], X.len(), "{x}");
                assert_eq!(x["remote"]["mtime"].as_f64(), Some(MODIFY_SECS as f64), "{x}");
                assert!(matches!(x["action"].as_str(), Some("equal" | "record")), "{x}");
                let sub = plan["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["path"] == "a b/sub dir")
                    .expect("a b/sub dir is planned");
                assert_eq!(sub["remote"]["kind"], "dir", "{sub}");
                assert_eq!(before, (tree_state(Path::new(&local)), server_files(&server)));
            }
        }
    }
}

#[test]
fn a_listing_that_differs_on_the_second_reading_is_drift() {
    for dialect in [Dialect::ListOnly, Dialect::Mlsd] {
        let dir = tempfile::tempdir().unwrap();
        let (server, local) = synced_pair(dialect, dir.path());
        // The second reading (apply's re-check) no longer shows x.txt.
        let second = match dialect {
            Dialect::Mlsd => "type=file;size=10;modify=20230102030405; new-remote.txt\r\n".to_string(),
            Dialect::ListOnly => {
                "-rw-r--r--   1 ftp      ftp            10 Jan 02  2023 new-remote.txt\r\n".to_string()
            }
        };
        let replies = vec![ListingReply::Real, ListingReply::Payload(second.into_bytes())];
        let plan_out = dir.path().join("plan.json");
        for command in COMMANDS {
            server.set_listings(FOLDER, replies.clone());
            let before = (tree_state(Path::new(&local)), server_files(&server));
            let out = run(&args(command, &local, &server.url(), plan_out.to_str().unwrap()));
            let said = text(&out);
            let what = format!("{dialect:?}, {command:?}");
            if command[0] == "plan" {
                assert_eq!(out.status.code(), Some(0), "{what}: {said}");
                assert_eq!(server.readings(FOLDER), 1, "{what}: a plan reads the folder once");
            } else {
                assert_eq!(out.status.code(), Some(4), "{what}: {said}");
                assert!(said.contains("a b/x.txt"), "{what}: the drift does not name the file: {said}");
                assert_eq!(server.readings(FOLDER), 2, "{what}");
            }
            assert_eq!((tree_state(Path::new(&local)), server_files(&server)), before, "{what}: something changed");
        }
    }
}

#[test]
fn a_folder_copied_or_deleted_as_a_whole_is_left_alone_when_something_inside_is_unreadable() {
    // `/new` was synchronised, then deleted locally; now `/new/sub` lists error text. Deleting
    // `/new` as a whole (upload --delete, sync) would delete what `/new/sub` holds unseen;
    // downloading it into an empty folder would copy part of it: neither happens.
    let mut script = Script::new(Dialect::ListOnly);
    script.files.insert("/new/g.txt".into(), b"g\n".to_vec());
    script.files.insert("/new/sub/unseen.txt".into(), b"unseen\n".to_vec());
    script.dirs.extend(["/new".to_string(), "/new/sub".to_string()]);
    let server = FakeFtp::start(script);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    std::fs::create_dir(&local).unwrap();
    let local = local.to_str().unwrap();
    let out = run(&["download", local, &server.url(), "--resolve", "remote"]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_dir_all(Path::new(local).join("new")).unwrap();
    server.set_listings("/new/sub", vec![ListingReply::Payload(b"ls: /new/sub: Permission denied\r\n".to_vec())]);
    let server_before = server_files(&server);
    // Downloading into an empty folder copies `/new` as a whole.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    for (command, local) in [
        (&["upload", "--delete", "--resolve", "skip"][..], local),
        (&["sync", "--resolve", "skip"], local),
        (&["download", "--delete", "--resolve", "skip"], empty),
    ] {
        let out = run(&args(command, local, &server.url(), ""));
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {said}");
        assert!(said.contains("the folder /new/sub on ") && said.contains("Permission denied"), "{command:?}: {said}");
        let url = server.url();
        let mut with_skip = args(command, local, &url, "");
        with_skip.push("--skip-unreadable");
        let out = run(&with_skip);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {said}");
        assert!(said.contains("Skipping the unreadable remote folder /new/sub on "), "{command:?}: {said}");
        assert_eq!(server_files(&server), server_before, "{command:?}: the server changed");
        assert!(!Path::new(local).join("new").exists(), "{command:?}: part of /new was copied");
    }
}
