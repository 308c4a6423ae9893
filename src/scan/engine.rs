//! The library's entry points: make a plan from two open targets, pin checksums.
//! (Applying a plan is [`crate::apply::apply`].)

use anyhow::Result;

use crate::backend::Target;
use crate::backend::hash::hash_file;
use crate::backend::pool::Joining;
use crate::meta::timefmt::iso_utc;
use crate::model::Kind;
use crate::model::side::Side;
use crate::plan::document::{Action, Plan};
use crate::plan::effective_actions;
use crate::plan::layout::Layout;
use crate::plan::options::PlanOptions;
use crate::planner::{PlanContext, assemble, build};
use crate::scan::scan;

/// A plan and the warnings met while making it.
pub struct Planned {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// Connections per side used to scan when nobody says otherwise.
pub const DEFAULT_WORKERS: usize = 4;

/// Scans both targets (read-only) and plans the synchronisation. `now` is the creation time
/// recorded in the plan.
pub fn make_plan(local: &mut dyn Target, remote: &mut dyn Target, options: PlanOptions, now: f64) -> Result<Planned> {
    make_plan_with(local, remote, options, now, DEFAULT_WORKERS)
}

/// [`make_plan`] with a given number of connections per side for the scan.
pub fn make_plan_with(
    local: &mut dyn Target,
    remote: &mut dyn Target,
    options: PlanOptions,
    now: f64,
    workers: usize,
) -> Result<Planned> {
    // The scan's extra connections go to the targets' spare ones when it is dropped (those
    // still coming up, when they come): a later apply takes them.
    let connections = Joining::new(local, remote);
    make_plan_joining(local, remote, options, now, workers, &connections)
}

/// [`make_plan_with`], the scan's extra connections opened through `connections` and left
/// there, with those still coming up: apply in the same process works with them
/// ([`crate::apply::apply_with`]) instead of logging in again.
pub fn make_plan_joining(
    local: &mut dyn Target,
    remote: &mut dyn Target,
    options: PlanOptions,
    now: f64,
    workers: usize,
    connections: &Joining,
) -> Result<Planned> {
    let ctx = PlanContext::new(options, local.info().clone(), remote.info().clone())?;
    let snapshot = scan(local, remote, &ctx, workers, connections)?;
    let mut built = build(&ctx, &snapshot)?;
    let warnings = std::mem::take(&mut built.warnings);
    let plan = assemble(&ctx, built, iso_utc(now));
    crate::plan::io::check_max_delete(&plan)
        .map_err(|e| crate::error::ExitError { exit: crate::error::Exit::Error, message: e.0 })?;
    Ok(Planned { plan, warnings })
}

/// `--checksum`: records the sha256 of every local file the plan uploads.
pub fn add_checksums(plan: &mut Plan, local: &mut dyn Target) -> Result<()> {
    let actions = effective_actions(&plan.entries);
    let paths: Vec<_> = {
        let layout = Layout::new(plan);
        plan.entries
            .iter()
            .zip(&actions)
            .enumerate()
            .filter(|(_, (e, a))| **a == Action::Upload && e.kind == Kind::File)
            .map(|(i, (e, _))| (i, layout.entry_path(e, Side::Local)))
            .collect()
    };
    for (i, path) in paths {
        plan.entries[i].sha256 = Some(hash_file(local, &path)?);
    }
    Ok(())
}
