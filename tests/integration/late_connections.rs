//! Connections that come up late or never (issue 17): apply starts with the connections it
//! has and does not wait for a login still under way (proftpd makes a login wait 400 ms when
//! another one starting at the same moment holds its scoreboard lock); one that never comes up
//! leaves the work to the others. (The scan does wait for its own, so that apply of a one-step
//! command takes them instead of logging in again: `round_trips.rs`.) In memory, the remote holding or refusing its next openings.
//! No timing: a held opening is released only after the run returned, so a run that waited for
//! it would not return before the opening gave up (then the test fails on what it finds).

use std::sync::Arc;

use ftpsync::apply::{ApplySettings, apply};
use ftpsync::backend::Target;
use ftpsync::backend::memory::{Held, MemoryFs, MemoryOptions, Opening};
use ftpsync::meta::{LOCK_FILE, WriteStyle};
use ftpsync::model::listing::is_temp_name;
use ftpsync::model::{Clock, StepClock};
use ftpsync::plan::document::Plan;
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan_with;

struct World {
    clock: Arc<StepClock>,
    local: MemoryFs,
    remote: MemoryFs,
}

impl World {
    /// Twelve files in four folders to upload.
    fn new() -> World {
        let clock = Arc::new(StepClock::new(1_700_000_000.0));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let local = MemoryFs::new(dyn_clock.clone(), MemoryOptions::default());
        let remote = MemoryFs::new(dyn_clock, MemoryOptions::default());
        for d in 0..4 {
            for f in 0..3 {
                local.put_file(&format!("d{d}/f{f}.txt"), format!("{d}{f}").as_bytes(), 1_600_000_000.0);
            }
        }
        World { clock, local, remote }
    }

    fn targets(&self) -> (Box<dyn Target>, Box<dyn Target>) {
        (Box::new(self.local.target("local", true)), Box::new(self.remote.target("remote", true)))
    }

    /// Planned on one connection: no opening of the scan's may still be under way when the
    /// test tells the remote how the next ones go.
    fn plan(&self) -> Plan {
        let (mut l, mut r) = self.targets();
        make_plan_with(&mut *l, &mut *r, PlanOptions::new(Mode::Upload), self.clock.now(), 1).unwrap().plan
    }

    fn settings(&self, workers: usize) -> ApplySettings {
        ApplySettings {
            clock: self.clock.clone(),
            meta_style: WriteStyle { verbose: false, version: "t".into() },
            break_lock: false,
            workers,
            stage: true,
        }
    }

    /// Every file is on the remote with its content, and nothing temporary or the lock is left.
    fn assert_uploaded(&self) {
        for d in 0..4 {
            for f in 0..3 {
                let got = self.remote.read(&format!("d{d}/f{f}.txt"));
                assert_eq!(got.as_deref(), Some(format!("{d}{f}").as_bytes()), "d{d}/f{f}.txt");
            }
        }
        let left: Vec<_> = self
            .remote
            .snapshot()
            .into_keys()
            .filter(|p| p.components().any(|c| is_temp_name(c) || c == LOCK_FILE))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

#[test]
fn apply_starts_and_finishes_while_a_connection_is_still_coming_up() {
    let w = World::new();
    let plan = w.plan();
    let held = Held::default();
    // The first extra connection apply opens is held until after the apply.
    w.remote.fail_openings([Opening::Held(held.clone())]);
    let (mut l, mut r) = w.targets();
    let applied = apply(&plan, &mut *l, &mut *r, &w.settings(4)).unwrap();
    let still_coming = held.waiting();
    held.release();
    assert_eq!(still_coming, 1, "apply waited for the connection that was coming up");
    assert_eq!(applied.failures(), 0, "{:?}", applied.outcomes);
    assert!(applied.rolled_back.is_none());
    w.assert_uploaded();
}

#[test]
fn apply_goes_on_without_connections_that_never_come_up() {
    let w = World::new();
    let plan = w.plan();
    // Every extra connection is refused: the first one does all the work.
    w.remote.fail_openings([Opening::Fails, Opening::Fails, Opening::Fails]);
    let (mut l, mut r) = w.targets();
    let applied = apply(&plan, &mut *l, &mut *r, &w.settings(4)).unwrap();
    assert_eq!(applied.failures(), 0, "{:?}", applied.outcomes);
    w.assert_uploaded();
}
