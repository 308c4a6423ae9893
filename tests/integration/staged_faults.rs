//! All-or-nothing apply (issue 13), in memory: a release (files replaced, added and deleted, a
//! folder added with content, a folder deleted with content, metadata on both sides) is
//! applied with a fault injected at every change it makes, on either side (a folder whose only
//! change is a deletion included). A refused change
//! (`Once`) rolls the apply back or, after the commit, only leaves cleanup for later, and so
//! does a change that panics (`Panic`: a bug in a worker thread is that job's failure); a
//! connection that is gone for good (`Dead`, remote) may leave a journal, which the next run
//! resolves. At every point the visible trees (everything but ftpsync's temporary, journal
//! and lock names; metadata included) are exactly the state before or the planned state, never
//! a mix; after a recovery run and one more apply nothing temporary is left.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ftpsync::apply::commit::recover::recover;
use ftpsync::apply::{ApplySettings, apply};
use ftpsync::backend::Target;
use ftpsync::backend::memory::{Fault, MemoryFs, MemoryOptions, Node};
use ftpsync::meta::{JOURNAL_FILE, LOCK_FILE, META_FILE, WriteStyle};
use ftpsync::model::listing::is_temp_name;
use ftpsync::model::{Clock, StepClock};
use ftpsync::plan::document::Plan;
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan;

use crate::support::assert_schema_valid;

/// What a side shows: path → file content (folders as `/`), without ftpsync's bookkeeping.
type Visible = BTreeMap<String, String>;

struct World {
    clock: Arc<StepClock>,
    local: MemoryFs,
    remote: MemoryFs,
}

impl World {
    /// Both sides in step after a first sync, then the local side edited into a release.
    fn release() -> World {
        let clock = Arc::new(StepClock::new(1_700_000_000.0));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let local = MemoryFs::new(dyn_clock.clone(), MemoryOptions::default());
        let remote = MemoryFs::new(dyn_clock, MemoryOptions { sets_mtime: false });
        let t = 1_600_000_000.0;
        for (path, content) in [
            ("index.html", "old index"),
            ("about.html", "about"),
            ("css/site.css", "old css"),
            ("old.js", "old js"),
            ("gone/a.txt", "a"),
            ("gone/b/c.txt", "c"),
            ("keep.txt", "keep"),
            ("docs/a.txt", "a"),
            ("docs/b.txt", "b"),
        ] {
            local.put_file(path, content.as_bytes(), t);
        }
        let world = World { clock, local, remote };
        world.sync();
        world.clock.advance(100.0);
        let t = 1_650_000_000.0;
        world.local.put_file("index.html", b"new index, longer", t);
        world.local.put_file("css/site.css", b"new css", t);
        world.local.put_file("new.css", b"new", t);
        world.local.put_file("img/1.png", b"one", t);
        world.local.put_file("img/sub/2.png", b"two", t);
        world.local.remove("old.js");
        world.local.remove("gone");
        // A folder whose only change is a deletion: its metadata is staged like any other.
        world.local.remove("docs/b.txt");
        world
    }

    fn targets(&self) -> (Box<dyn Target>, Box<dyn Target>) {
        (Box::new(self.local.target("local", false)), Box::new(self.remote.target("remote", true)))
    }

    fn plan(&self) -> Plan {
        let (mut l, mut r) = self.targets();
        make_plan(&mut *l, &mut *r, PlanOptions::new(Mode::Sync), self.clock.now()).unwrap().plan
    }

    fn settings(&self) -> ApplySettings {
        ApplySettings {
            clock: self.clock.clone(),
            meta_style: WriteStyle { verbose: false, version: "t".into() },
            break_lock: false,
            workers: 2,
            stage: true,
        }
    }

    /// Plans and applies until nothing is left to do; fails the test on any failure.
    fn sync(&self) {
        let plan = self.plan();
        let (mut l, mut r) = self.targets();
        let applied = apply(&plan, &mut *l, &mut *r, &self.settings()).unwrap();
        assert!(applied.rolled_back.is_none(), "{:?}", applied.rolled_back);
        assert_eq!(applied.failures(), 0, "{:?}", applied.outcomes);
    }

    fn visible(&self) -> (Visible, Visible) {
        (visible(&self.local, true), visible(&self.remote, true))
    }

    /// The visible trees with metadata present but its bytes left out, and without the
    /// remote's times (the server stamps uploads with its clock): what differs between two
    /// runs of the same plan.
    fn shape(&self) -> (Visible, Visible) {
        (visible(&self.local, false), visible(&self.remote, false))
    }

    fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (side, fs) in [("local", &self.local), ("remote", &self.remote)] {
            for path in fs.snapshot().keys() {
                if path.components().any(|c| is_temp_name(c) || c == JOURNAL_FILE || c == LOCK_FILE) {
                    out.push(format!("{side}: {path}"));
                }
            }
        }
        out
    }
}

/// `exact`: with metadata bytes and the times of files (a tree that cannot set times, the
/// remote here, stamps them itself).
fn visible(fs: &MemoryFs, exact: bool) -> Visible {
    fs.snapshot()
        .into_iter()
        .filter(|(p, _)| !p.components().any(|c| is_temp_name(c) || c == JOURNAL_FILE || c == LOCK_FILE))
        .map(|(p, n)| {
            let shown = match n {
                Node::Dir { .. } => "/".to_string(),
                Node::File { .. } if p.name() == META_FILE && !exact => "(metadata)".to_string(),
                Node::File { data, .. } if !exact && !fs.sets_mtime() => String::from_utf8_lossy(&data).into_owned(),
                Node::File { data, mtime, .. } => format!("{} @{mtime}", String::from_utf8_lossy(&data)),
            };
            (p.as_str().to_string(), shown)
        })
        .collect()
}

/// The planned state's shape, from an apply without faults.
fn planned_shape() -> ((Visible, Visible), usize, usize) {
    let w = World::release();
    let plan = w.plan();
    let (l0, r0) = (w.local.changes(), w.remote.changes());
    let (mut l, mut r) = w.targets();
    let applied = apply(&plan, &mut *l, &mut *r, &w.settings()).unwrap();
    assert!(applied.rolled_back.is_none() && applied.failures() == 0, "{:?}", applied.outcomes);
    assert!(applied.commit_window.is_some());
    assert!(w.leftovers().is_empty(), "{:?}", w.leftovers());
    (w.shape(), w.local.changes() - l0, w.remote.changes() - r0)
}

#[test]
fn a_fault_at_any_change_leaves_the_state_before_or_the_planned_one() {
    let (after, local_changes, remote_changes) = planned_shape();
    assert!(remote_changes >= 20 && local_changes >= 4, "{local_changes} local, {remote_changes} remote changes");
    let mut points = 0;
    let mut journals = 0;
    let mut seen = BTreeMap::new();
    let cases = (0..remote_changes)
        .flat_map(|k| [("remote", k, Fault::Once), ("remote", k, Fault::Dead), ("remote", k, Fault::Panic)])
        .chain((0..local_changes).flat_map(|k| [("local", k, Fault::Once), ("local", k, Fault::Panic)]));
    for (side, k, fault) in cases {
        points += 1;
        let w = World::release();
        let before = w.visible();
        let plan = w.plan();
        let fs = if side == "local" { &w.local } else { &w.remote };
        fs.fail_change(k, fault);
        let (mut l, mut r) = w.targets();
        // A panic on apply's own thread (not a worker's) ends the run as a crash would: like a
        // connection gone for good, it may leave a journal for the next run. A panic in a
        // worker must not hang the others: the run is bounded.
        let (settings, (tx, rx)) = (w.settings(), std::sync::mpsc::channel());
        std::thread::spawn(move || {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                apply(&plan, &mut *l, &mut *r, &settings).map_err(|e| format!("{e:#}"))
            }));
            let _ = tx.send(run.map_err(drop));
        });
        let what = format!("{side} change {k} fails ({fault:?})");
        let run = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{what}: apply hung"));
        let crashed = run.is_err();
        assert!(!crashed || fault == Fault::Panic, "{what}: apply panicked");
        let result = run.unwrap_or_else(|()| Err("crashed".to_string()));
        let outcome = match &result {
            _ if crashed => "crashed",
            Ok(a) if a.rolled_back.is_some() => "rolled back",
            Ok(a) if a.failures() == 0 => "applied",
            Ok(_) => "failed",
            Err(_) => "stopped",
        };
        *seen.entry(outcome).or_insert(0) += 1;
        w.remote.revive();
        w.local.revive();
        for fs in [&w.local, &w.remote] {
            if let Some(bytes) = fs.read(JOURNAL_FILE) {
                let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_schema_valid("journal", &doc);
                journals += 1;
            }
        }
        // Right after the run (and before any recovery): old or new, never a mix.
        let now = w.visible();
        let old = now == before;
        let new = w.shape() == after;
        if fault != Fault::Dead && !crashed {
            assert!(old || new, "{what}: a mix after the run ({outcome}):\n{now:#?}");
        }
        // The next run: its recovery first, then a plan and an apply.
        let (mut l, mut r) = w.targets();
        let recovered =
            recover(Some(&mut *l), &mut *r, false).unwrap_or_else(|e| panic!("{what}: recovery failed: {e:#}"));
        let resolved = w.visible();
        assert!(
            resolved == before || w.shape() == after,
            "{what}: a mix after recovery ({outcome}, {recovered:?}):\n{resolved:#?}"
        );
        if matches!(result, Ok(ref a) if a.rolled_back.is_some()) {
            assert_eq!(resolved, before, "{what}: rolled back, then recovery changed something");
        }
        w.sync();
        assert_eq!(w.shape(), after, "{what}: the next run did not reach the planned state");
        assert!(w.leftovers().is_empty(), "{what}: left behind: {:?}", w.leftovers());
    }
    assert!(points >= 60, "{points} fault points");
    assert!(journals > 0, "no run left a journal to recover from");
    assert!(seen.get("rolled back").copied().unwrap_or(0) > 0, "{seen:?}");
    eprintln!("{points} fault points: {seen:?}, {journals} journal(s) left for recovery");
}
