//! The golden fixture scenarios again, with the remote side on an FTP server (the in-process
//! one): the final trees, counters and action lines must be those of the local→local runs.
//! As in pyftpsync's FTP tests, the fixture's remote edits are made directly on the served
//! folder.

use ftpsync::apply::apply;
use ftpsync::backend::local::LocalTarget;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan_with;
use serde_json::Value;

use crate::golden::{load_scenarios, observe_with};
use crate::support::fixture::{self, MODIFY, X_EDITS};
use crate::support::{ftp, settings, workers};

#[test]
fn pyftpsync_fixture_scenarios_over_ftp() {
    let scenarios = load_scenarios();
    let base = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    for s in &scenarios {
        for variant in ["fs", "ftp"] {
            let root = base.path().join(format!("{}-{variant}", s.key));
            fixture::initial_local(&root);
            if s.fixture == "no_meta" {
                fixture::copy_local_to_remote(&root);
                continue;
            }
            let mut l = LocalTarget::open(&root.join("local")).unwrap();
            let plan_and_apply = |r: &mut dyn ftpsync::backend::Target, l: &mut LocalTarget| {
                let plan =
                    make_plan_with(l, r, PlanOptions::new(Mode::Sync), SystemClock.now(), workers()).unwrap().plan;
                apply(&plan, l, r, &settings()).unwrap();
            };
            if variant == "fs" {
                plan_and_apply(&mut LocalTarget::open(&root.join("remote")).unwrap(), &mut l);
            } else {
                let server = ftp::serve(&root.join("remote"));
                plan_and_apply(&mut ftp::target(&server), &mut l);
                servers.push(server);
            }
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mut failures = Vec::new();
    for s in &scenarios {
        let mut observed: Vec<Value> = Vec::new();
        for variant in ["fs", "ftp"] {
            let root = base.path().join(format!("{}-{variant}", s.key));
            fixture::apply_edits(&root, MODIFY);
            if s.fixture == "x" {
                fixture::apply_edits(&root, X_EDITS);
            }
            let mut l = LocalTarget::open(&root.join("local")).unwrap();
            let (mut obs, _) = if variant == "fs" {
                observe_with(&root, s, &mut l, &mut LocalTarget::open(&root.join("remote")).unwrap())
            } else {
                let server = ftp::serve(&root.join("remote"));
                let result = observe_with(&root, s, &mut l, &mut ftp::target(&server));
                servers.push(server);
                result
            };
            // Metadata differs by design: an FTP remote keeps `mtimes` records.
            obs.as_object_mut().unwrap().remove("meta");
            observed.push(obs);
        }
        if observed[0] != observed[1] {
            failures.push(format!("{}:\n  local:  {}\n  ftp:    {}", s.key, observed[0], observed[1]));
        }
    }
    drop(servers);
    assert!(failures.is_empty(), "FTP runs differ from local runs:\n{}", failures.join("\n"));
}
