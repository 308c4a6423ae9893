//! Temporary files of interrupted runs (issue 12, point 6), with folders on both sides: which
//! ones the plan records, which ones apply removes (a process that is gone) and keeps (a
//! running one, another run's root), and that a plan naming anything else is refused. The
//! FTP side under a real `kill -9` is in `killed.rs`.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::{assert_schema_valid, ftpsync};

/// A process id that no process has (above any `pid_max`).
const DEAD_PID: u32 = 4_000_000_000;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn the_next_apply_removes_temporary_files_of_runs_that_are_gone_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    for d in [local.join("sub"), remote.join("sub"), remote.join("other-root")] {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(local.join("a.txt"), "a").unwrap();
    fs::write(local.join("sub/b.txt"), "b").unwrap();
    let out = ftpsync(&["sync", s(&local), s(&remote), "--no-prompt"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dead = format!(".ftpsync-tmp-{DEAD_PID}-Ab12Cd");
    let running = format!(".ftpsync-tmp-{}-Xy34Zw", std::process::id());
    fs::write(local.join(&dead), "half a file").unwrap();
    fs::write(local.join(&running), "being written").unwrap();
    // Written by an older version (no process id), a moment ago: kept.
    fs::write(local.join(".ftpsync-tmp-Qw12Er"), "recent").unwrap();
    fs::write(remote.join("sub").join(&dead), "half a file").unwrap();
    // A folder with a lock of its own is another run's root.
    fs::write(remote.join("other-root/.pyftpsync-lock.json"), r#"{"lock_time": 1.0, "lock_holder": null}"#).unwrap();
    fs::write(remote.join("other-root").join(&dead), "theirs").unwrap();

    // The plan records them and changes nothing.
    let plan = dir.path().join("plan.json");
    let out = ftpsync(&["plan", "sync", s(&local), s(&remote), "-o", s(&plan), "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "no change to plan: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Found 4 temporary file(s)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&fs::read(&plan).unwrap()).unwrap();
    assert_schema_valid("plan", &doc);
    let recorded = |path: &str, side: &str| {
        doc["folders"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap()[side]["temporary"].clone()
    };
    let mut local_root: Vec<String> = serde_json::from_value(recorded("", "local")).unwrap();
    local_root.sort();
    let mut expected = vec![dead.clone(), running.clone(), ".ftpsync-tmp-Qw12Er".to_string()];
    expected.sort();
    assert_eq!(local_root, expected);
    assert_eq!(recorded("sub", "remote"), Value::from(vec![dead.clone()]));
    assert!(
        doc["folders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["path"] != "other-root" || f["remote"]["temporary"].is_null()),
        "{doc:#}"
    );
    assert!(names(&local).contains(&dead), "plan changes nothing");

    // Apply runs although nothing else is to do, and says what it removed.
    let out = ftpsync(&["apply", s(&plan), "--no-prompt"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Removed 1 temporary file(s) of an interrupted run (local)"), "{said}");
    assert!(said.contains("Removed 1 temporary file(s) of an interrupted run (remote)"), "{said}");
    assert!(
        !names(&local).contains(&dead)
            && names(&local).contains(&running)
            && names(&local).contains(&".ftpsync-tmp-Qw12Er".to_string()),
        "{:?}",
        names(&local)
    );
    assert!(!names(&remote.join("sub")).contains(&dead));
    assert!(names(&remote.join("other-root")).contains(&dead), "another run's root is left alone");

    // Also when apply changes that folder (and lists it again).
    fs::write(local.join("other-root/c.txt"), "c").unwrap();
    let out = ftpsync(&["sync", s(&local), s(&remote), "--no-prompt"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::read_to_string(remote.join("other-root/c.txt")).unwrap(), "c");
    assert!(names(&remote.join("other-root")).contains(&dead), "another run's root is left alone");
}

#[test]
fn a_plan_naming_anything_but_a_temporary_file_there_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    fs::create_dir_all(&local).unwrap();
    fs::create_dir_all(&remote).unwrap();
    fs::write(local.join("precious.txt"), "keep me").unwrap();
    fs::write(local.join(format!(".ftpsync-tmp-{DEAD_PID}-1")), "x").unwrap();
    let plan = dir.path().join("plan.json");
    let out = ftpsync(&["plan", "upload", s(&local), s(&remote), "-o", s(&plan)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for bad in ["precious.txt", "../.ftpsync-tmp-1-1", ".ftpsync-tmp-1/../../precious.txt"] {
        let text = fs::read_to_string(&plan).unwrap().replace(&format!(".ftpsync-tmp-{DEAD_PID}-1"), bad);
        let edited = dir.path().join("edited.json");
        fs::write(&edited, text).unwrap();
        let out = ftpsync(&["apply", s(&edited), "--no-prompt"]);
        assert_eq!(out.status.code(), Some(4), "{bad}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid plan"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fs::read_to_string(local.join("precious.txt")).unwrap(), "keep me");
        assert!(names(&remote).is_empty(), "nothing changed");
    }
}

#[test]
fn on_a_server_only_the_lock_holder_removes_temporary_files() {
    use ftpsync::backend::Target;
    use ftpsync::backend::ftp::session::Settings;
    use ftpsync::backend::ftp::{FtpTarget, Options};
    use ftpsync::backend::secret::Secret;
    use ftpsync::backend::url::{FtpUrl, Tls};
    use ftpsync::model::relpath::RelPath;

    let server = crate::support::iis_ftp::IisFtp::start();
    // A running run's file looks the same as a dead one's: only the lock tells them apart.
    server.put(".ftpsync-tmp-77-0", b"half", 1_672_628_645);
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
        timeout: std::time::Duration::from_secs(10),
    };
    let mut t = FtpTarget::open(settings, Options { retries: 1, create_root: false }).unwrap();
    let listing = t.list_dir(&RelPath::root()).unwrap().unwrap();
    assert!(listing.entries.is_empty(), "no content: {:?}", listing.entries);
    assert_eq!(listing.temporary.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), [".ftpsync-tmp-77-0"]);
    let temp = RelPath::parse(".ftpsync-tmp-77-0").unwrap();
    assert!(!t.remove_stale_temporary(&temp).unwrap(), "not without the lock");
    assert!(server.files().contains_key(".ftpsync-tmp-77-0"));
    assert!(t.remove_stale_temporary(&RelPath::parse("a.txt").unwrap()).is_err(), "only temporary names");
    t.lock(false).unwrap();
    assert!(t.remove_stale_temporary(&temp).unwrap());
    assert!(!t.remove_stale_temporary(&temp).unwrap(), "gone already");
    t.unlock().unwrap();
    assert!(server.files().is_empty(), "{:?}", server.files());
}
