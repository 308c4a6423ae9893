//! `upload`, `download`, `sync`: plan and apply in one process, sharing all code with the
//! two-step path.

use anyhow::Result;

use super::finish::Finish;
use super::plan::{Prepared, prepare};
use crate::error::Exit;
use crate::model::{Clock, SystemClock};
use crate::output::Printer;
use crate::plan::io::digest;
use crate::settings::{Global, SyncSettings};

pub fn run(s: &SyncSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, s.no_color).with_progress(s.json, s.progress);
    let started = SystemClock.now();
    let Prepared { plan, mut local, mut remote, connections } = prepare(s, &printer, started)?;
    let digest = digest(&plan);
    let finish = Finish {
        printer,
        json: s.json,
        report: s.report.clone(),
        report_problems: s.report_problems,
        break_lock: s.conn.break_lock,
        workers: s.conn.workers,
        meta_style: s.meta_style.clone(),
        stage: s.stage,
    };
    if s.dry_run {
        return finish.dry_run(&plan, &digest, started);
    }
    finish.apply(&plan, &digest, &mut *local, &mut *remote, &connections)
}
