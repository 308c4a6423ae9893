//! Listing degrades instead of failing (issue 12, acceptance 3, for the listing commands): a
//! server that announces MLST but answers `MLSD` with `500`/`502` is listed with `LIST`; one
//! that refuses `LIST -a` (Twisted: `550 ['-a ', 'site']: No such file or directory.`, others
//! `501`) with plain `LIST`. Each is found out once per run and remembered by every connection;
//! upload, a second plan and a download then work on a tree with spaces and a leading dash.
//! Folders are always entered (`CWD`) and listed without a path, except `MLSD` of plain paths.

use std::path::Path;
use std::process::Output;

use crate::support::fake_ftp::{Dialect, FakeFtp, Script};
use crate::support::{fixture, ftpsync};

fn run(args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--no-prompt", "--timeout", "5", "--retries", "2", "--workers", "4"]);
    let out = ftpsync(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Uploads a small tree, plans again (nothing to do) and downloads it into an empty folder.
fn round_trip(server: &FakeFtp) {
    let dir = tempfile::tempdir().unwrap();
    let (local, back) = (dir.path().join("local"), dir.path().join("back"));
    for (path, content) in
        [("top.txt", "top"), ("a b/x.txt", "x"), ("-dash/ y #%.txt", "y"), ("p/q r/z.txt", "z"), ("plain/w.txt", "w")]
    {
        fixture::write(&local, path, content, fixture::T12);
    }
    std::fs::create_dir(&back).unwrap();
    let (local, back) = (local.to_str().unwrap(), back.to_str().unwrap());
    run(&["upload", local, &server.url(), "--resolve", "local"]);
    let plan = Path::new(back).parent().unwrap().join("plan.json");
    run(&["plan", "upload", local, &server.url(), "-o", plan.to_str().unwrap()]);
    let plan: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    assert_eq!(plan["summary"]["changes"], 0, "a second plan has nothing to do: {plan:#}");
    run(&["download", back, &server.url(), "--resolve", "remote"]);
    for path in ["top.txt", "a b/x.txt", "-dash/ y #%.txt", "p/q r/z.txt", "plain/w.txt"] {
        assert_eq!(
            std::fs::read(Path::new(local).join(path)).unwrap(),
            std::fs::read(Path::new(back).join(path)).unwrap(),
            "{path}"
        );
    }
}

/// Listing commands the server received, and how many of each kind.
fn listings(server: &FakeFtp) -> (usize, usize, usize) {
    let cmds = server.commands();
    let count = |p: &dyn Fn(&str) -> bool| cmds.iter().filter(|c| p(c)).count();
    (count(&|c| c.starts_with("MLSD")), count(&|c| c.starts_with("LIST -a")), count(&|c| c == "LIST"))
}

#[test]
fn mlsd_refused_despite_feat_falls_back_to_list() {
    for refusal in ["500 MLSD not understood", "502 Command not implemented."] {
        let mut script = Script::new(Dialect::Mlsd);
        script.mlsd_reply = Some(refusal.into());
        let server = FakeFtp::start(script);
        round_trip(&server);
        let (mlsd, list_all, _) = listings(&server);
        // Each of the three runs (upload, plan, download) asks once, then remembers it for
        // all of its connections.
        assert_eq!(mlsd, 3, "{refusal}: {:?}", server.commands());
        assert!(list_all > 3, "{refusal}: folders were not listed with LIST -a: {:?}", server.commands());
    }
}

#[test]
fn list_options_refused_fall_back_to_plain_list() {
    for refusal in ["550 ['-a ', 'site']: No such file or directory.", "501 Syntax error in parameters or arguments."] {
        let mut script = Script::new(Dialect::ListOnly);
        script.list_options_reply = Some(refusal.into());
        let server = FakeFtp::start(script);
        round_trip(&server);
        let (_, list_all, list) = listings(&server);
        assert_eq!(list_all, 3, "{refusal}: asked once per run: {:?}", server.commands());
        assert!(list > 3, "{refusal}: folders were not listed with LIST: {:?}", server.commands());
    }
}

#[test]
fn folders_are_entered_and_listed_without_a_path() {
    for dialect in [Dialect::ListOnly, Dialect::Mlsd] {
        let server = FakeFtp::start(Script::new(dialect));
        round_trip(&server);
        for c in server.commands() {
            let Some(arg) = c.strip_prefix("LIST").or_else(|| c.strip_prefix("MLSD")) else { continue };
            let arg = arg.trim_start().trim_start_matches("-a").trim_start();
            // MLSD keeps a path only when it is plain; LIST never has one.
            let plain = arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._".contains(&b)) && !arg.contains("/-");
            assert!(arg.is_empty() || (c.starts_with("MLSD") && plain), "{dialect:?}: {c:?}");
        }
        assert!(server.commands().iter().any(|c| c == "CWD /a b"), "{dialect:?}: {:?}", server.commands());
    }
}
