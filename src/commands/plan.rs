//! `ftpsync plan {upload,download,sync} LOCAL REMOTE -o PLAN`: a read-only scan that writes
//! a plan for review.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::targets::open_pair;
use crate::ask::terminal::{TargetCompare, Terminal, can_ask};
use crate::backend::Target;
use crate::backend::pool::Joining;
use crate::error::{Exit, ExitError};
use crate::model::{Clock, SystemClock};
use crate::output::Printer;
use crate::output::progress::watched::Watched;
use crate::output::show::summary_table;
use crate::plan::document::Plan;
use crate::plan::io::{digest, write};
use crate::plan::written::PlanWritten;
use crate::scan::engine::{add_checksums, make_plan_joining};
use crate::scan::foreseen_connections;
use crate::settings::{Global, PlanOutput, SyncSettings};

/// Both targets of a run, open, and the plan made from them.
pub struct Prepared {
    pub plan: Plan,
    pub local: Box<dyn Target>,
    pub remote: Box<dyn Target>,
    /// The scan's extra connections (and those still coming up), for apply.
    pub connections: Joining,
}

/// The first half of every run: opens both targets and plans (read-only), with the warnings
/// met on the way, the answers to `--resolve ask` and `--checksum`. `now` is the plan's
/// creation time.
pub fn prepare(s: &SyncSettings, printer: &Printer, now: f64) -> Result<Prepared> {
    let foreseen = |local: &mut dyn Target| foreseen_connections(local, &s.options, s.conn.workers);
    let (local, remote) = open_pair(&s.local, &s.remote, &s.conn, printer, s.options.create_folder, foreseen)?;
    let (mut local, mut remote) = (Watched::wrap(local, &printer.progress), Watched::wrap(remote, &printer.progress));
    super::recover::first(&mut *local, &mut *remote, s.conn.break_lock, printer)?;
    printer.progress.scanning();
    let connections = Joining::new(&*local, &*remote);
    let planned = make_plan_joining(&mut *local, &mut *remote, s.options.clone(), now, s.conn.workers, &connections);
    printer.progress.done();
    let planned = planned?;
    for w in &planned.warnings {
        printer.warn(w);
    }
    let mut plan = planned.plan;
    ask_conflicts(&mut plan, &mut *local, &mut *remote, printer)?;
    if s.options.checksum {
        add_checksums(&mut plan, &mut *local)?;
    }
    Ok(Prepared { plan, local, remote, connections })
}

/// `--resolve ask`: when somebody can answer (stdin is a terminal), the conflicts the planner
/// left open are asked about and the answers become their resolutions. Otherwise they stay
/// open: the plan shows them unresolved and apply skips them, saying so.
fn ask_conflicts(plan: &mut Plan, local: &mut dyn Target, remote: &mut dyn Target, printer: &Printer) -> Result<()> {
    if !plan.entries.iter().any(crate::ask::is_open) || !can_ask() {
        return Ok(());
    }
    let answers =
        crate::ask::ask_all(plan, &mut Terminal, &mut TargetCompare::new(plan, local, remote), printer.color)?;
    crate::ask::record(plan, &answers);
    Ok(())
}

/// `plan`: `out` is `None` without `-o`.
pub fn run(out: Option<&PlanOutput>, s: &SyncSettings, g: &Global) -> Result<Exit> {
    let Some(out) = out else {
        return Err(ExitError::usage("plan needs -o PLAN (a file name, or - for stdout)").into());
    };
    write_plan(out, s, g)
}

/// Plans the run and writes the plan; prints its summary (with `--json`, as a document on
/// stdout).
pub fn write_plan(out: &PlanOutput, s: &SyncSettings, g: &Global) -> Result<Exit> {
    let to_stdout = out.to_stdout();
    if s.json && to_stdout {
        return Err(ExitError::usage(
            "--json prints a summary on stdout, where -o - would write the plan: give -o a file name",
        )
        .into());
    }
    let printer = Printer::new(g.verbosity, s.no_color).with_progress(s.json, s.progress);
    let plan = prepare(s, &printer, SystemClock.now())?.plan;
    let output = &out.path;
    // The digest and the file are two serialisations of the same plan: made side by side.
    let (digest, written) = std::thread::scope(|scope| {
        let digest = scope.spawn(|| digest(&plan));
        let written = if to_stdout {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            write(&plan, out.format, &mut w).and_then(|()| w.flush()).context("cannot write the plan to stdout")
        } else {
            write_file(output, |w| write(&plan, out.format, w))
                .with_context(|| format!("cannot write the plan to {}", output.display()))
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
    if s.json {
        let doc = PlanWritten::new(&plan, output, out.format, &digest);
        printer.data(&serde_json::to_string_pretty(&doc).expect("the summary serialises"));
    }
    // Stdout is for the plan or the document when either goes there.
    if to_stdout || s.json {
        printer.note(2, &table);
        printer.note(1, &done);
    } else {
        printer.out(2, &table);
        printer.out(1, &done);
    }
    let collisions = crate::apply::case::collisions(&plan, &crate::plan::effective_actions(&plan.entries));
    if let Some((a, b)) = collisions.first() {
        let more =
            if collisions.len() > 1 { format!(" (and {} more pair(s))", collisions.len() - 1) } else { String::new() };
        printer.warn(&format!(
            "{a:?} and {b:?}{more} differ only in case: a server that ignores case (Windows/IIS) cannot store both; apply asks the server and stops before any change if it does"
        ));
    }
    let leftovers = crate::apply::leftovers::recorded(&plan);
    if leftovers > 0 {
        printer.note(1, &format!("Found {leftovers} temporary file(s) of an interrupted (or running) run: apply removes those whose run is gone."));
    }
    Ok(if out.detailed_exitcode && plan.summary.changes > 0 { Exit::Changes } else { Exit::Success })
}

/// Writes a file through a temporary name in the same folder, so a reader never sees half a
/// plan.
fn write_file(path: &Path, body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".ftpsync-plan-").tempfile_in(dir)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        body(&mut out)?;
        out.flush()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
