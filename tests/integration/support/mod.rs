//! Shared helpers of the integration tests.

pub mod fixture;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ftpsync::apply::{ApplySettings, Applied, apply};
use ftpsync::engine::make_plan;
use ftpsync::meta::WriteStyle;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::options::PlanOptions;
use ftpsync::plan::model::Plan;
use ftpsync::target::local::LocalTarget;

/// The repository root (for `golden/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when golden files are to be rewritten.
pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

pub fn settings() -> ApplySettings {
    ApplySettings { clock: Arc::new(SystemClock), meta_style: WriteStyle { verbose: false, version: "ftpsync-test".into() } }
}

/// Plans local→local with the library.
pub fn plan_fs(local: &Path, remote: &Path, options: PlanOptions) -> Plan {
    let mut l = LocalTarget::open(local).unwrap();
    let mut r = LocalTarget::open(remote).unwrap();
    let planned = make_plan(&mut l, &mut r, options, SystemClock.now()).unwrap();
    planned.plan
}

/// Plans and applies local→local with the library.
pub fn sync_fs(local: &Path, remote: &Path, options: PlanOptions) -> (Plan, Applied) {
    let plan = plan_fs(local, remote, options);
    let mut l = LocalTarget::open(local).unwrap();
    let mut r = LocalTarget::open(remote).unwrap();
    let applied = apply(&plan, &mut l, &mut r, &settings()).unwrap_or_else(|e| panic!("apply failed: {e:#}"));
    (plan, applied)
}

/// Path of the ftpsync binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ftpsync"))
}
