//! `upload`, `download`, `sync`: plan and apply in one process, sharing all code with the
//! two-step path.

use anyhow::Result;

use super::finish::Finish;
use super::targets::open_pair;
use crate::engine::{add_checksums, make_plan_with};
use crate::error::Exit;
use crate::model::{Clock, SystemClock};
use crate::output::Printer;
use crate::plan::io::digest;
use crate::settings::{Global, RunSettings};

pub fn run(s: &RunSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, s.no_color);
    let (mut local, mut remote) = open_pair(&s.local, &s.remote, &s.conn, &printer, s.options.create_folder)?;
    let started = SystemClock.now();
    let planned = make_plan_with(&mut *local, &mut *remote, s.options.clone(), started, s.conn.workers)?;
    for w in &planned.warnings {
        printer.warn(w);
    }
    let mut plan = planned.plan;
    if s.options.checksum {
        add_checksums(&mut plan, &mut *local)?;
    }
    let digest = digest(&plan);
    let finish = Finish { printer, json: s.json, report: s.report.clone(), report_problems: s.report_problems, break_lock: s.conn.break_lock };
    if s.dry_run {
        return finish.dry_run(&plan, &digest, started);
    }
    finish.apply(&plan, &digest, &mut *local, &mut *remote)
}
