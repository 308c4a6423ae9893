//! `ftpsync run [TASK]`: runs a task of `pyftpsync.yaml` (found in the current folder or a
//! parent) through the same code as `upload`, `download`, `sync` and `tree`; with
//! `--plan-out PLAN` it writes the task's plan instead, for review and `ftpsync apply`.

use anyhow::{Context, Result};

use super::plan::write_plan;
use crate::cli::{Cli, RunArgs};
use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::settings::{Connection, Global, PlanOutput};
use crate::taskfile::overrides::{self, CliFlags};
use crate::taskfile::paths::Placement;
use crate::taskfile::settings::{sync_settings, tree_settings};
use crate::taskfile::{Flag, TaskFile, discover};

/// The flags of the command line that a task can also set.
fn cli_flags(args: &RunArgs, cli: &Cli, g: &Global) -> CliFlags {
    let given = [
        (Flag::CreateFolder, args.create_folder),
        (Flag::DryRun, args.dry_run),
        (Flag::Files, args.files),
        (Flag::Force, args.force),
        (Flag::FtpActive, args.conn.ftp_active),
        (Flag::Here, args.here),
        (Flag::Migrate, args.migrate),
        (Flag::NoColor, args.no_color),
        (Flag::NoKeyring, args.conn.no_keyring),
        (Flag::NoNetrc, args.conn.no_netrc),
        (Flag::NoPrompt, args.conn.no_prompt),
        (Flag::NoVerifyHostKeys, args.conn.no_verify_host_keys),
        (Flag::Progress, args.progress),
        (Flag::Prompt, args.conn.prompt),
        (Flag::ReportProblems, args.report_problems),
        (Flag::Root, args.root),
        (Flag::Sort, args.sort),
    ];
    CliFlags {
        set: given.into_iter().filter(|(_, on)| *on).map(|(f, _)| f).collect(),
        no_dry_run: args.no_dry_run,
        verbose: g.verbosity,
        case: cli.case,
    }
}

pub fn run(args: &RunArgs, cli: &Cli, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, args.no_color);
    // A plan written to stdout keeps stdout to itself.
    let plan_to_stdout = args.plan_out.as_ref().is_some_and(|p| p.as_os_str() == "-");
    let say =
        |level: i32, text: &str| if plan_to_stdout { printer.note(level, text) } else { printer.out(level, text) };

    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let found = discover(&cwd)?;
    if let Some(other) = &found.ignored {
        printer.warn(&format!("{} is ignored: {} is read", other.display(), found.path.display()));
    }
    let mut task = TaskFile::load(&found.path)?.task(args.task.as_deref())?;
    say(1, &format!("Running task '{}' from {}", task.name, found.path.display()));

    let flags = cli_flags(args, cli, g);
    if task.flag(Flag::DryRun) == Some(true) && args.plan_out.is_none() {
        say(
            1,
            if flags.no_dry_run {
                "The task is configured as a dry run; --no-dry-run (or --execute) turns that off: writing."
            } else {
                "The task is configured as a dry run: nothing is written (pass --no-dry-run or --execute to write)."
            },
        );
    }
    for line in overrides::apply(&mut task, &flags) {
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
    let conn = Connection::from_args(&args.conn);
    let Some(mode) = task.command.mode() else {
        if args.plan_out.is_some() || args.report.is_some() {
            return Err(ExitError::usage(format!(
                "--plan-out and --report need an upload, download or sync task; '{}' is a tree task",
                task.name
            ))
            .into());
        }
        return super::tree::run(&tree_settings(&task, &flags, &roots, &conn), &global);
    };
    let settings = sync_settings(&task, mode, &flags, &roots, &conn, args.report.clone());
    match &args.plan_out {
        Some(path) => write_plan(
            &PlanOutput { path: path.clone(), format: args.format, detailed_exitcode: args.detailed_exitcode },
            &settings,
            &global,
        ),
        None => super::sync::run(&settings, &global),
    }
}
