//! `ftpsync plan {upload,download,sync} LOCAL REMOTE -o PLAN`: a read-only scan that writes
//! a plan for review.

use anyhow::{Context, Result};

use super::targets::open_pair;
use crate::cli::PlanArgs;
use crate::engine::{add_checksums, make_plan};
use crate::error::{Exit, ExitError};
use crate::model::{Clock, SystemClock};
use crate::output::Printer;
use crate::output::show::summary_table;
use crate::plan::io::{digest, encode};
use crate::settings::{Global, RunSettings};

pub fn run(args: &PlanArgs, s: &RunSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, s.no_color);
    let Some(output) = &args.output else {
        return Err(ExitError::usage("plan needs -o PLAN (a file name, or - for stdout)").into());
    };
    let (mut local, mut remote) = open_pair(&s.local, &s.remote, &s.conn)?;
    let planned = make_plan(&mut *local, &mut *remote, s.options.clone(), SystemClock.now())?;
    for w in &planned.warnings {
        printer.warn(w);
    }
    let mut plan = planned.plan;
    if s.options.checksum {
        add_checksums(&mut plan, &mut *local)?;
    }
    let bytes = encode(&plan, args.format);
    let digest = digest(&plan);
    let to_stdout = output.as_os_str() == "-";
    if to_stdout {
        use std::io::Write;
        std::io::stdout().write_all(&bytes).context("cannot write the plan to stdout")?;
    } else {
        std::fs::write(output, &bytes).with_context(|| format!("cannot write the plan to {}", output.display()))?;
    }
    let table = summary_table(&plan).to_string();
    let done = format!(
        "Plan {}: {} entries, {} change(s), {} conflict(s). sha256: {digest}",
        if to_stdout { "written to stdout".to_string() } else { format!("written to {}", output.display()) },
        plan.entries.len(),
        plan.summary.changes,
        plan.summary.conflicts
    );
    if to_stdout {
        printer.note(1, &table);
        printer.note(1, &done);
    } else {
        printer.out(1, &table);
        printer.out(1, &done);
    }
    Ok(if args.detailed_exitcode && plan.summary.changes > 0 { Exit::Changes } else { Exit::Success })
}
