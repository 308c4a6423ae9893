//! The end of a run, shared by the one-step commands and `apply`: action lines, summary,
//! drift report, result report, exit code.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::apply::report::{ApplyResult, Report};
use crate::apply::stats::Counters;
use crate::apply::{Applied, ApplyError, ApplySettings, Status};
use crate::backend::Target;
use crate::backend::pool::Joining;
use crate::error::Exit;
use crate::meta::timefmt::iso_utc;
use crate::model::{Clock, SystemClock};
use crate::output::{Printer, sync};
use crate::plan::document::Plan;
use crate::plan::effective_actions;
use crate::settings::MetaStyle;

/// How the end of a run is shown.
pub struct Finish {
    pub printer: Printer,
    pub json: bool,
    pub report: Option<PathBuf>,
    pub report_problems: bool,
    /// `--break-lock`: ignore another run's lock on the remote side.
    pub break_lock: bool,
    /// `--workers`: connections per side working at the same time.
    pub workers: usize,
    /// How metadata is written (an invalid setting stops the run here).
    pub meta_style: MetaStyle,
    /// Stage and commit in one burst (not `--no-stage`).
    pub stage: bool,
}

impl Finish {
    fn write_report(&self, report: &Report) -> Result<()> {
        let text = serde_json::to_string_pretty(report).expect("reports always serialise");
        if self.json {
            self.printer.data(&text);
        }
        if let Some(path) = &self.report {
            std::fs::write(path, format!("{text}\n"))
                .with_context(|| format!("cannot write the report {}", path.display()))?;
        }
        Ok(())
    }

    fn lines_printer(&self) -> Printer {
        // With --json, stdout carries the report only.
        if self.json { Printer { verbosity: 0, ..self.printer.clone() } } else { self.printer.clone() }
    }

    /// Shows what a dry run would do.
    pub fn dry_run(&self, plan: &Plan, digest: &str, started: f64) -> Result<Exit> {
        let p = self.lines_printer();
        sync::header(&p, plan);
        let actions = effective_actions(&plan.entries);
        sync::action_lines(&p, plan, &actions, true);
        let mut counters = Counters::predict(plan);
        counters.bytes_written = 0;
        counters.upload_bytes_written = 0;
        counters.download_bytes_written = 0;
        sync::summary(&p, &counters, SystemClock.now() - started, true, None);
        let mut report = Report::new(plan, digest, iso_utc(started));
        report.result = ApplyResult::DryRun;
        report.counters = counters.clone();
        report.finished = iso_utc(SystemClock.now());
        self.write_report(&report)?;
        Ok(self.exit_for(&counters, 0))
    }

    fn exit_for(&self, counters: &Counters, failures: usize) -> Exit {
        if failures > 0 {
            Exit::Error
        } else if self.report_problems && counters.conflict_files_skipped + counters.errors > 0 {
            Exit::Problems
        } else {
            Exit::Success
        }
    }

    /// Applies the plan and shows the result; `connections`: the extra ones, already there or
    /// coming up (the scan's, in a one-step run), to which apply adds those it still needs.
    pub fn apply(
        &self,
        plan: &Plan,
        digest: &str,
        local: &mut dyn Target,
        remote: &mut dyn Target,
        connections: &Joining,
    ) -> Result<Exit> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let started = clock.now();
        let settings = ApplySettings {
            clock: clock.clone(),
            meta_style: self.meta_style.clone().map_err(anyhow::Error::msg)?,
            break_lock: self.break_lock,
            workers: self.workers,
            stage: self.stage,
        };
        let p = self.lines_printer();
        sync::header(&p, plan);
        let mut report = Report::new(plan, digest, iso_utc(started));
        if plan.summary.changes == 0 && crate::apply::leftovers::recorded(plan) == 0 {
            // Nothing to change: no lock to take, nothing to check. (Temporary files of an
            // interrupted run are removed under the lock.)
            return self.applied(plan, &Applied::nothing_to_do(plan), report, started, &p);
        }
        let s = &plan.summary;
        self.printer.progress.transferring(s.upload_files + s.download_files, s.upload_bytes + s.download_bytes);
        let result = crate::apply::apply_with(plan, local, remote, &settings, connections);
        self.printer.progress.done();
        report.finished = iso_utc(clock.now());
        match result {
            Err(ApplyError::Drift(drift)) => {
                self.printer.error(&format!(
                    "the plan no longer matches the targets; nothing was changed. Differences ({}):",
                    drift.len()
                ));
                for d in &drift {
                    self.printer
                        .note(0, &format!("  {} ({}): planned {}, found {}", d.path, d.side, d.planned, d.found));
                }
                self.printer.note(0, "Make a new plan (and review it again).");
                report.result = ApplyResult::Rejected;
                report.message = Some("the plan no longer matches the targets".into());
                report.drift = drift;
                self.write_report(&report)?;
                Ok(Exit::Rejected)
            }
            Err(ApplyError::Failed(err)) => {
                report.result = ApplyResult::Failed;
                report.message = Some(format!("{err:#}"));
                self.write_report(&report)?;
                Err(err)
            }
            Ok(applied) => self.applied(plan, &applied, report, started, &p),
        }
    }

    fn applied(&self, plan: &Plan, applied: &Applied, mut report: Report, started: f64, p: &Printer) -> Result<Exit> {
        sync::action_lines(p, plan, &applied.actions, false);
        for m in &applied.messages {
            p.out(1, m);
        }
        for (e, o) in plan.entries.iter().zip(&applied.outcomes) {
            if o.status == Status::Failed {
                self.printer.error(&format!("{}: {}", e.path, o.error.as_deref().unwrap_or("failed")));
            }
        }
        let unresolved = plan
            .entries
            .iter()
            .filter(|e| e.part_of.is_none() && e.is_skipped_conflict() && e.resolution.chosen().is_none())
            .count();
        if unresolved > 0 {
            self.printer.note(1, &format!("{unresolved} conflict(s) left unresolved ('ask' needs a terminal; edit the plan's resolution or pass --resolve): skipped"));
        }
        sync::summary(p, &applied.counters, SystemClock.now() - started, false, applied.commit_window);
        report.commit_window_ms = applied.commit_window.map(|w| (w.as_secs_f64() * 1e4).round() / 10.0);
        if let Some(cause) = &applied.rolled_back {
            self.printer.error(&format!("{cause:#}"));
            self.printer.error("rolled back: nothing was changed on either side. Fix the cause and apply again.");
            report.counters = applied.counters.clone();
            report.set_entries(plan, &applied.actions, &applied.outcomes, &applied.contents);
            report.result = ApplyResult::RolledBack;
            report.message = Some(format!("{cause:#}"));
            self.write_report(&report)?;
            // Ctrl-C keeps its own exit code (3); anything else is an error (1).
            return Ok(if crate::error::exit_of(cause) == Exit::Aborted { Exit::Aborted } else { Exit::Error });
        }
        let failures = applied.failures();
        if failures > 0 {
            self.printer.error(&format!("{failures} action(s) failed or were not run; the metadata records only what was done. Run the command again to finish."));
        }
        report.counters = applied.counters.clone();
        report.set_entries(plan, &applied.actions, &applied.outcomes, &applied.contents);
        self.write_report(&report)?;
        Ok(self.exit_for(&applied.counters, failures))
    }
}
