//! From a task (after the command line's overrides) to the settings of the command it runs.
//! Keys that `run` has no flag for (`delete`, `resolve`, `match`, `exclude`...) come only from
//! the task; as in pyftpsync, a task resolves conflicts with `skip` and excludes nothing but
//! the metadata, lock and task files unless it says otherwise.

use std::path::PathBuf;

use super::paths::Roots;
use super::task::Task;
use crate::plan::options::{Mode, Resolve};
use crate::settings::{CliFlags, Connection, Flag, SyncSettings, TreeSettings};

/// The connection flags: the task's values, else the command line's.
fn connection(task: &Task, cli: &CliFlags, conn: &Connection) -> Connection {
    let f = |flag| cli.effective(task, flag);
    Connection {
        ftp_active: f(Flag::FtpActive),
        prompt: f(Flag::Prompt),
        no_prompt: f(Flag::NoPrompt),
        no_keyring: f(Flag::NoKeyring),
        no_netrc: f(Flag::NoNetrc),
        no_verify_host_keys: f(Flag::NoVerifyHostKeys),
        ..conn.clone()
    }
}

/// An `upload`, `download` or `sync` task.
pub fn sync_settings(
    task: &Task,
    mode: Mode,
    cli: &CliFlags,
    roots: &Roots,
    conn: &Connection,
    report: Option<PathBuf>,
) -> SyncSettings {
    let f = |flag| cli.effective(task, flag);
    let mut s =
        SyncSettings::new(mode, roots.local.display().to_string(), roots.remote.clone(), connection(task, cli, conn));
    s.options.resolve = task.resolve.unwrap_or(Resolve::Skip);
    s.options.matches = task.matches.clone().unwrap_or_default();
    s.options.exclude = task.exclude.clone().unwrap_or_default();
    s.options.case = cli.case(task);
    s.options.migrate = f(Flag::Migrate);
    // Only the flags the command itself has (as on the command line).
    s.set_mode_flags(f(Flag::Force), f(Flag::Delete), f(Flag::DeleteUnmatched), f(Flag::CreateFolder));
    s.dry_run = f(Flag::DryRun);
    s.report_problems = f(Flag::ReportProblems);
    s.report = report;
    s.no_color = f(Flag::NoColor);
    s.progress = f(Flag::Progress);
    s
}

/// A `tree` task: it shows the remote root.
pub fn tree_settings(task: &Task, cli: &CliFlags, roots: &Roots, conn: &Connection) -> TreeSettings {
    TreeSettings {
        target: roots.remote.clone(),
        files: cli.effective(task, Flag::Files),
        sort: cli.effective(task, Flag::Sort),
        matches: task.matches.clone().unwrap_or_default(),
        exclude: task.exclude.clone().unwrap_or_default(),
        conn: connection(task, cli, conn),
    }
}
