//! `--resolve ask` through a pseudo-terminal (issue 6, acceptance 5): the prompt is typed at as
//! a person would, and each key's outcome is checked in the files on both sides. Three
//! conflicts, in path order: `a.txt` (sizes differ; local older), `b.txt` (same size, differs
//! at offset 10; local newer), `c.txt` (local older).

use std::path::{Path, PathBuf};

use ftpsync::plan::options::{Mode, PlanOptions};
use rexpect::session::PtySession;

use crate::support::fixture::{T12, T13, T1305, write};
use crate::support::pty::{finish, spawn};
use crate::support::{ftpsync, sync_fs, tree_state};

const SYNC: &str = "Use Local, Remote, Older, Newer, Skip, Binary compare, Help ? ";
const UPLOAD: &str = "Use Local, Skip, Binary compare, Help ? ";
const DOWNLOAD: &str = "Use Remote, Skip, Binary compare, Help ? ";

const LOCAL: [(&str, &str, f64); 3] =
    [("a.txt", "a-local", T13), ("b.txt", "same-size-L", T1305), ("c.txt", "c-local", T13)];
const REMOTE: [(&str, &str, f64); 3] =
    [("a.txt", "a-remote!", T1305), ("b.txt", "same-size-R", T13), ("c.txt", "c-remote!", T1305)];

struct Conflicts {
    dir: tempfile::TempDir,
    local: PathBuf,
    remote: PathBuf,
}

impl Conflicts {
    /// Synced, then each file changed on both sides.
    fn new() -> Conflicts {
        let dir = tempfile::tempdir().unwrap();
        let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
        for (name, _, _) in LOCAL {
            write(&local, name, "base", T12);
        }
        std::fs::create_dir_all(&remote).unwrap();
        sync_fs(&local, &remote, PlanOptions::new(Mode::Sync));
        std::thread::sleep(std::time::Duration::from_millis(2100));
        for (name, content, t) in LOCAL {
            write(&local, name, content, t);
        }
        for (name, content, t) in REMOTE {
            write(&remote, name, content, t);
        }
        Conflicts { dir, local, remote }
    }

    fn start(&self, command: &str, extra: &[&str]) -> PtySession {
        let mut args = vec![command, self.local.to_str().unwrap(), self.remote.to_str().unwrap()];
        args.extend_from_slice(extra);
        spawn(&args, self.dir.path())
    }

    /// The content of `name` on (local, remote).
    fn contents(&self, name: &str) -> (String, String) {
        let read = |root: &Path| std::fs::read_to_string(root.join(name)).unwrap();
        (read(&self.local), read(&self.remote))
    }

    /// Asserts each file's content on both sides: `"L"` both local, `"R"` both remote, `"-"`
    /// untouched.
    fn assert_outcome(&self, expected: [&str; 3]) {
        for ((want, (name, l, _)), (_, r, _)) in expected.iter().zip(LOCAL).zip(REMOTE) {
            let wanted = match *want {
                "L" => (l, l),
                "R" => (r, r),
                _ => (l, r),
            };
            let (got_l, got_r) = self.contents(name);
            assert_eq!((got_l.as_str(), got_r.as_str()), wanted, "{name}");
        }
    }
}

/// Waits for a conflict's description and prompt, then answers.
fn answer(p: &mut PtySession, name: &str, prompt: &str, key: &str) {
    p.exp_string(&format!("CONFLICT: '{name}' was modified on both targets since last sync")).unwrap();
    p.exp_string(prompt).unwrap();
    p.send_line(key).unwrap();
}

#[test]
fn sync_local_remote_skip_compare_help_and_other_keys() {
    let c = Conflicts::new();
    let mut p = c.start("sync", &[]);
    p.exp_string("CONFLICT: 'a.txt' was modified on both targets since last sync").unwrap();
    p.exp_string("    Local:  ").unwrap();
    p.exp_string("    Remote: ").unwrap();
    p.exp_string("(newer, larger)").unwrap();
    p.exp_string(SYNC).unwrap();
    p.send_line("b").unwrap();
    p.exp_string("    Files are different (size 7 != 9).").unwrap();
    p.exp_string(SYNC).unwrap();
    p.send_line("h").unwrap();
    p.exp_string("  'o': Use older file").unwrap();
    p.exp_string("Hold Shift (upper case letters) to apply choice for all remaining conflicts.").unwrap();
    p.exp_string(SYNC).unwrap();
    p.send_line("x").unwrap();
    p.exp_string(SYNC).unwrap();
    p.send_line("l").unwrap();
    p.exp_string("CONFLICT: 'b.txt'").unwrap();
    p.exp_string(SYNC).unwrap();
    p.send_line("b").unwrap();
    p.exp_string("    Files are different at offset 10.").unwrap();
    p.exp_string(SYNC).unwrap();
    p.send_line("r").unwrap();
    answer(&mut p, "c.txt", SYNC, "s");
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("skipped: 1"), "{rest}");
    c.assert_outcome(["L", "R", "-"]);
}

#[test]
fn sync_older_newer_and_for_all() {
    let c = Conflicts::new();
    let mut p = c.start("sync", &[]);
    // a: the local file is the older one.
    answer(&mut p, "a.txt", SYNC, "o");
    // b, and then c without asking: the newer side (local for b, remote for c).
    answer(&mut p, "b.txt", SYNC, "N");
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert!(!rest.contains("'c.txt'"), "c.txt was decided by N: {rest}");
    c.assert_outcome(["L", "L", "R"]);
}

#[test]
fn upload_offers_local_and_skip() {
    let c = Conflicts::new();
    let mut p = c.start("upload", &[]);
    answer(&mut p, "a.txt", UPLOAD, "r");
    // `r` is not a key of upload: asked again.
    p.exp_string(UPLOAD).unwrap();
    p.send_line("l").unwrap();
    answer(&mut p, "b.txt", UPLOAD, "S");
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert!(!rest.contains("'c.txt'"), "{rest}");
    c.assert_outcome(["L", "-", "-"]);
}

#[test]
fn download_offers_remote_and_skip() {
    let c = Conflicts::new();
    let mut p = c.start("download", &[]);
    answer(&mut p, "a.txt", DOWNLOAD, "l");
    p.exp_string(DOWNLOAD).unwrap();
    p.send_line("R").unwrap();
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    c.assert_outcome(["R", "R", "R"]);
}

#[test]
fn plan_records_the_answers_and_changes_nothing() {
    let c = Conflicts::new();
    let before = (tree_state(&c.local), tree_state(&c.remote));
    let plan = c.dir.path().join("plan.json");
    let mut p = spawn(
        &["plan", "sync", c.local.to_str().unwrap(), c.remote.to_str().unwrap(), "-o", plan.to_str().unwrap()],
        c.dir.path(),
    );
    answer(&mut p, "a.txt", SYNC, "l");
    answer(&mut p, "b.txt", SYNC, "r");
    answer(&mut p, "c.txt", SYNC, "s");
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert_eq!(before, (tree_state(&c.local), tree_state(&c.remote)));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let resolution = |name: &str| {
        doc["entries"].as_array().unwrap().iter().find(|e| e["path"] == name).unwrap()["resolution"].clone()
    };
    assert_eq!([resolution("a.txt"), resolution("b.txt"), resolution("c.txt")], ["local", "remote", "skip"]);
    assert_eq!(doc["summary"]["unresolved"], 0);
    // Applied later, without anybody to ask: exactly the answers.
    let out = ftpsync(&["apply", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.assert_outcome(["L", "R", "-"]);
}

#[test]
fn ctrl_c_and_end_of_input_abort_before_anything_changes() {
    let c = Conflicts::new();
    let before = (tree_state(&c.local), tree_state(&c.remote));
    for key in ['c', 'd'] {
        let mut p = c.start("sync", &[]);
        p.exp_string(SYNC).unwrap();
        p.send_control(key).unwrap();
        let (rest, code) = finish(p);
        assert_eq!(code, 3, "Ctrl-{key}: {rest}");
        assert!(rest.contains("Aborted by user."), "{rest}");
        assert_eq!(before, (tree_state(&c.local), tree_state(&c.remote)), "Ctrl-{key} changed something");
    }
}

#[test]
fn without_a_terminal_conflicts_stay_open_and_are_skipped() {
    let c = Conflicts::new();
    let out = crate::support::ftpsync_command(&["sync", c.local.to_str().unwrap(), c.remote.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 conflict(s) left unresolved"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Use Local"));
    c.assert_outcome(["-", "-", "-"]);
}
