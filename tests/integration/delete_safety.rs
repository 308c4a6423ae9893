//! Delete safety (issue 5, acceptance 4) against an FTP server: a listing cut off midway never
//! turns into deletions, and `--max-delete` refuses a one-step run before it changes anything
//! (no upload, no lock, no metadata). The in-memory cases are in `fixes.rs` and
//! `plan_apply.rs`.

use std::fs;

use serde_json::Value;

use crate::support::cut_proxy::{Action, Channel, Fault};
use crate::support::truth::{Tree, compare, snapshot};
use crate::support::world::{Side, World, text};

/// Both sides hold the same 60 files in 6 folders (and 2 subfolders), recorded as synchronised.
fn synced_world() -> World {
    let mut w = World::new();
    for k in 0..6 {
        for j in 0..8 {
            w.put_both(&format!("d{k}/f{j}.txt"), 1, 200 + 10 * j);
        }
    }
    for k in 0..2 {
        for j in 0..6 {
            w.put_both(&format!("d{k}/sub/g{j}.txt"), 1, 300);
        }
    }
    w.converge(&["sync", "--resolve", "skip"]);
    w
}

fn trees(w: &World) -> (Tree, Tree) {
    (snapshot(&w.local, &w.versions).unwrap(), snapshot(&w.served, &w.versions).unwrap())
}

/// `ftpsync plan MODE` through the proxy with one attempt per command.
fn plan_once(w: &World, mode: &str) -> std::process::Output {
    let (local, url, out) = (w.local.to_str().unwrap().to_string(), w.proxy.url(), w.root.join("cut-plan.json"));
    let _ = fs::remove_file(&out);
    // (A sync deletes by its metadata; the others need --delete.)
    let delete = if mode == "sync" { "--resolve=skip" } else { "--delete" };
    w.run(&[
        "plan",
        mode,
        &local,
        &url,
        delete,
        "-o",
        out.to_str().unwrap(),
        "--retries",
        "1",
        "--timeout",
        "3",
        "--no-prompt",
        "--no-keyring",
        "--no-netrc",
    ])
}

#[test]
fn a_listing_cut_midway_never_leads_to_a_deletion() {
    let w = synced_world();
    let before = trees(&w);
    let (mut refused, mut planned) = (0, 0);
    for mode in ["upload", "download", "sync"] {
        // The traffic of a plan without faults, to spread the cuts over it.
        w.proxy.arm(None);
        let out = plan_once(&w, mode);
        assert!(out.status.success(), "{}", text(&out));
        let (control, data) = w.proxy.bytes_since_armed();
        let faults = (1..8)
            .map(|i| Fault { channel: Channel::Data, at: data * i / 8, action: Action::Reset })
            .chain((1..4).map(|i| Fault { channel: Channel::Control, at: control * i / 4, action: Action::Reset }));
        for fault in faults {
            let fired = w.proxy.faults_fired();
            w.proxy.arm(Some(fault));
            let out = plan_once(&w, mode);
            w.proxy.arm(None);
            assert_eq!(w.proxy.faults_fired(), fired + 1, "{fault:?} never fired");
            if out.status.code() == Some(1) {
                refused += 1;
                continue;
            }
            assert!(out.status.success(), "{mode} with {fault:?}:\n{}", text(&out));
            // A plan was made after all (the cut hit something retried): it must not delete.
            planned += 1;
            let plan: Value = serde_json::from_slice(&fs::read(w.root.join("cut-plan.json")).unwrap()).unwrap();
            assert_eq!(plan["summary"]["changes"], 0, "{mode} with {fault:?} planned changes:\n{plan:#}");
        }
    }
    eprintln!("cut listings: {refused} plans refused, {planned} made without changes");
    assert!(refused > 0, "no cut made a plan fail: the cuts missed the listings");
    let after = trees(&w);
    compare("local", &after.0, &before.0).unwrap();
    compare("served", &after.1, &before.1).unwrap();
}

#[test]
fn max_delete_refuses_a_one_step_run_before_any_change() {
    let mut w = synced_world();
    for j in 0..3 {
        w.remove(Side::Local, &format!("d5/f{j}.txt"));
    }
    w.put(Side::Local, "d0/f0.txt", 2, 999);
    w.put(Side::Local, "new.txt", 1, 10);
    let before = trees(&w);
    let (local, url) = (w.local.to_str().unwrap().to_string(), w.proxy.url());
    let out =
        w.run(&["upload", &local, &url, "--delete", "--max-delete", "2", "--no-prompt", "--no-keyring", "--no-netrc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the plan deletes 3 files and folders, more than --max-delete 2 allows"),
        "{}",
        text(&out)
    );
    let after = trees(&w);
    compare("local", &after.0, &before.0).unwrap();
    compare("served", &after.1, &before.1).unwrap();
    // At the limit, the same run goes through.
    let out =
        w.run(&["upload", &local, &url, "--delete", "--max-delete", "3", "--no-prompt", "--no-keyring", "--no-netrc"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!w.served.join("d5/f0.txt").exists() && w.served.join("new.txt").exists());
}
