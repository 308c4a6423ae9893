//! `ftpsync run [TASK]`: runs a task of `pyftpsync.yaml` (found in the current folder or a
//! parent) through the same code as `upload`, `download`, `sync` and `tree`; with
//! `--plan-out PLAN` it writes the task's plan instead, for review and `ftpsync apply`.

use anyhow::{Context, Result};

use super::plan::write_plan;
use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::settings::{Flag, Global, PlanOutput, RunTaskSettings};
use crate::taskfile::overrides;
use crate::taskfile::paths::Placement;
use crate::taskfile::settings::{sync_settings, tree_settings};
use crate::taskfile::{TaskFile, discover};

pub fn run(s: &RunTaskSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, s.flags.set.contains(&Flag::NoColor));
    // A plan written to stdout keeps stdout to itself.
    let plan_to_stdout = s.plan_out.as_ref().is_some_and(PlanOutput::to_stdout);
    let say =
        |level: i32, text: &str| if plan_to_stdout { printer.note(level, text) } else { printer.out(level, text) };

    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let found = discover(&cwd)?;
    if let Some(other) = &found.ignored {
        printer.warn(&format!("{} is ignored: {} is read", other.display(), found.path.display()));
    }
    let mut task = TaskFile::load(&found.path)?.task(s.task.as_deref())?;
    say(1, &format!("Running task '{}' from {}", task.name, found.path.display()));

    let flags = &s.flags;
    if task.flag(Flag::DryRun) == Some(true) && s.plan_out.is_none() {
        say(
            1,
            if flags.no_dry_run {
                "The task is configured as a dry run; --no-dry-run (or --execute) turns that off: writing."
            } else {
                "The task is configured as a dry run: nothing is written (pass --no-dry-run or --execute to write)."
            },
        );
    }
    for line in overrides::apply(&mut task, flags) {
        say(4, &line);
    }

    let file_dir = found.path.parent().context("the task file is in a folder")?;
    let placement = Placement {
        file_dir,
        level: found.level,
        local: task.local.as_deref(),
        remote: &task.remote,
        root: flags.effective(&task, Flag::Root),
        here: flags.effective(&task, Flag::Here),
        cwd: &cwd,
    };
    let roots = placement.roots()?;
    if let Some((rel, root)) = &roots.sub_branch {
        say(1, &format!("Using sub-branch {rel} of {}", root.display()));
    }

    let global = Global { verbosity: flags.verbosity(&task) };
    let Some(mode) = task.command.mode() else {
        if s.plan_out.is_some() || s.report.is_some() {
            return Err(ExitError::usage(format!(
                "--plan-out and --report need an upload, download or sync task; '{}' is a tree task",
                task.name
            ))
            .into());
        }
        return super::tree::run(&tree_settings(&task, flags, &roots, &s.conn), &global);
    };
    let settings = sync_settings(&task, mode, flags, &roots, &s.conn, s.report.clone());
    match &s.plan_out {
        Some(out) => write_plan(out, &settings, &global),
        None => super::sync::run(&settings, &global),
    }
}
