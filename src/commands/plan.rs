//! `ftpsync plan {upload,download,sync} LOCAL REMOTE -o PLAN`: a read-only scan that writes
//! a plan for review.

use anyhow::{Context, Result};

use super::targets::open_pair;
use crate::cli::PlanArgs;
use crate::engine::{add_checksums, make_plan_with};
use crate::error::{Exit, ExitError};
use crate::model::{Clock, SystemClock};
use crate::output::Printer;
use crate::output::show::summary_table;
use std::io::Write;

use crate::plan::io::{digest, write};
use crate::settings::{Global, RunSettings};

pub fn run(args: &PlanArgs, s: &RunSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, s.no_color);
    let Some(output) = &args.output else {
        return Err(ExitError::usage("plan needs -o PLAN (a file name, or - for stdout)").into());
    };
    let (mut local, mut remote) = open_pair(&s.local, &s.remote, &s.conn, &printer, s.options.create_folder)?;
    let planned = make_plan_with(&mut *local, &mut *remote, s.options.clone(), SystemClock.now(), s.conn.workers)?;
    for w in &planned.warnings {
        printer.warn(w);
    }
    let mut plan = planned.plan;
    if s.options.checksum {
        add_checksums(&mut plan, &mut *local)?;
    }
    let to_stdout = output.as_os_str() == "-";
    // The digest and the file are two serialisations of the same plan: made side by side.
    let (digest, written) = std::thread::scope(|s| {
        let digest = s.spawn(|| digest(&plan));
        let written = if to_stdout {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&plan, args.format, &mut out).and_then(|()| out.flush()).context("cannot write the plan to stdout")
        } else {
            write_file(output, |out| write(&plan, args.format, out)).with_context(|| format!("cannot write the plan to {}", output.display()))
        };
        (digest.join().expect("digest thread"), written)
    });
    written?;
    let table = summary_table(&plan).to_string();
    let done = format!(
        "Plan {}: {} entries, {} change(s), {} conflict(s). sha256: {digest}",
        if to_stdout { "written to stdout".to_string() } else { format!("written to {}", output.display()) },
        plan.entries.len(),
        plan.summary.changes,
        plan.summary.conflicts
    );
    if to_stdout {
        printer.note(2, &table);
        printer.note(1, &done);
    } else {
        printer.out(2, &table);
        printer.out(1, &done);
    }
    Ok(if args.detailed_exitcode && plan.summary.changes > 0 { Exit::Changes } else { Exit::Success })
}

/// Writes a file through a temporary name in the same folder, so a reader never sees half a
/// plan.
fn write_file(path: &std::path::Path, body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".ftpsync-plan-").tempfile_in(dir)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        body(&mut out)?;
        out.flush()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
