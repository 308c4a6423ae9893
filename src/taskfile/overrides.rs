//! How the command line of `run` combines with a task (behaviour spec §6.6):
//! - a flag of [`OVERRIDABLE`] given on the command line replaces the task's value;
//!   `--no-dry-run` (`--execute`) sets `dry_run: false`;
//! - `--here` or `--root` replace both `here` and `root`;
//! - `-v`/`-q` replace `verbose` (when the result is not the default 3);
//! - every other key: the task's value when it has one, else the command line's.

use super::task::Task;
use crate::output::DEFAULT_VERBOSITY;
use crate::plan::options::CaseMode;
use crate::settings::{CliFlags, Flag};

/// pyftpsync's boolean options that the command line of `run` overrides.
pub const OVERRIDABLE: [Flag; 12] = [
    Flag::CreateFolder,
    Flag::DryRun,
    Flag::Files,
    Flag::Force,
    Flag::NoColor,
    Flag::NoKeyring,
    Flag::NoNetrc,
    Flag::NoPrompt,
    Flag::NoVerifyHostKeys,
    Flag::Progress,
    Flag::ReportProblems,
    Flag::Sort,
];

// `CliFlags` is made by the settings layer (from the command line); how it combines with a
// task is this module's job.
impl CliFlags {
    /// The value of a flag after [`apply`]: the task's, else the command line's.
    pub fn effective(&self, task: &Task, f: Flag) -> bool {
        task.flag(f).unwrap_or(self.set.contains(&f))
    }

    pub fn verbosity(&self, task: &Task) -> i32 {
        task.verbose.unwrap_or(self.verbose)
    }

    pub fn case(&self, task: &Task) -> Option<CaseMode> {
        task.case.or(self.case)
    }
}

fn show(v: Option<impl ToString>) -> String {
    v.map_or_else(|| "unset".to_string(), |v| v.to_string())
}

/// Applies the command line's overrides to the task; returns a line per value that changed
/// (shown at `-v`).
pub fn apply(task: &mut Task, cli: &CliFlags) -> Vec<String> {
    let mut log = Vec::new();
    let name = task.name.clone();
    let mut set = |task: &mut Task, f: Flag, value: bool, by: &str| {
        if task.flag(f) != Some(value) {
            log.push(format!("tasks.{name}.{} ({}) overridden by {by}: {value}", f.key(), show(task.flag(f))));
            task.flags.insert(f, value);
        }
    };
    for f in OVERRIDABLE {
        if cli.set.contains(&f) {
            set(task, f, true, &f.cli_name());
        }
    }
    if cli.no_dry_run {
        set(task, Flag::DryRun, false, "--no-dry-run");
    }
    let (here, root) = (cli.set.contains(&Flag::Here), cli.set.contains(&Flag::Root));
    if here || root {
        let by = if here { "--here" } else { "--root" };
        set(task, Flag::Here, here, by);
        set(task, Flag::Root, root, by);
    }
    if cli.verbose != DEFAULT_VERBOSITY && task.verbose != Some(cli.verbose) {
        log.push(format!("tasks.{name}.verbose ({}) overridden by -v/-q: {}", show(task.verbose), cli.verbose));
        task.verbose = Some(cli.verbose);
    }
    log
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::taskfile::task::TaskCommand;

    fn task(flags: &[(Flag, bool)]) -> Task {
        Task {
            name: "t".into(),
            command: TaskCommand::Upload,
            remote: "r".into(),
            local: None,
            flags: flags.iter().copied().collect::<BTreeMap<_, _>>(),
            verbose: Some(4),
            case: Some(CaseMode::Local),
            resolve: None,
            matches: None,
            exclude: None,
        }
    }

    fn cli(set: &[Flag]) -> CliFlags {
        CliFlags {
            set: set.iter().copied().collect(),
            no_dry_run: false,
            verbose: DEFAULT_VERBOSITY,
            case: Some(CaseMode::Remote),
        }
    }

    #[test]
    fn overridable_flags_replace_the_task_value() {
        let mut t = task(&[(Flag::Force, false), (Flag::Progress, true)]);
        let c = cli(&[Flag::Force, Flag::Progress]);
        let log = apply(&mut t, &c);
        assert!(c.effective(&t, Flag::Force));
        assert_eq!(
            log,
            vec!["tasks.t.force (false) overridden by --force: true".to_string()],
            "no line when nothing changes"
        );
    }

    #[test]
    fn other_keys_keep_the_task_value_and_fall_back_to_the_command_line() {
        let mut t = task(&[(Flag::FtpActive, false)]);
        let c = cli(&[Flag::FtpActive, Flag::Migrate]);
        assert!(apply(&mut t, &c).is_empty());
        assert!(!c.effective(&t, Flag::FtpActive), "the task says false");
        assert!(c.effective(&t, Flag::Migrate), "the task says nothing");
        assert_eq!(c.case(&t), Some(CaseMode::Local));
        assert_eq!(c.verbosity(&t), 4, "-v/-q not given: the task's verbose");
    }

    #[test]
    fn no_dry_run_here_root_and_verbosity() {
        let mut t = task(&[(Flag::DryRun, true), (Flag::Root, true)]);
        let c = CliFlags { no_dry_run: true, verbose: 5, ..cli(&[Flag::Here]) };
        apply(&mut t, &c);
        assert_eq!(
            (t.flag(Flag::DryRun), t.flag(Flag::Here), t.flag(Flag::Root)),
            (Some(false), Some(true), Some(false))
        );
        assert_eq!(c.verbosity(&t), 5);
    }
}
