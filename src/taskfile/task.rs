//! One task of `pyftpsync.yaml`, after `common_config` was merged in: its keys checked and
//! typed (behaviour spec §6.6).

use std::collections::BTreeMap;

use anyhow::Result;
use clap::ValueEnum;
use serde_norway::{Mapping, Value};

use crate::error::ExitError;
use crate::plan::options::{CaseMode, Mode, Resolve};
use crate::planner::filter::split_patterns;
use crate::settings::Flag;

/// What a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskCommand {
    Upload,
    Download,
    Sync,
    Tree,
}

impl TaskCommand {
    const ALL: [(&'static str, TaskCommand); 4] = [
        ("upload", TaskCommand::Upload),
        ("download", TaskCommand::Download),
        ("sync", TaskCommand::Sync),
        ("tree", TaskCommand::Tree),
    ];

    /// The synchronisation mode; `None` for `tree`.
    pub fn mode(self) -> Option<Mode> {
        match self {
            TaskCommand::Upload => Some(Mode::Upload),
            TaskCommand::Download => Some(Mode::Download),
            TaskCommand::Sync => Some(Mode::Sync),
            TaskCommand::Tree => None,
        }
    }

    /// The `--resolve` choices of the command: its mode's; a `tree` task accepts sync's (as
    /// pyftpsync's task keys are not checked per command).
    fn resolve_choices(self) -> &'static [Resolve] {
        self.mode().unwrap_or(Mode::Sync).resolve_choices()
    }
}

/// Keys that are not flags.
const TEXT_KEYS: [&str; 9] = ["case", "command", "debug", "exclude", "local", "match", "remote", "resolve", "verbose"];

/// pyftpsync knows this key only to refuse it: `dry_run: false` says the same.
const NO_DRY_RUN: &str = "no_dry_run";

/// Every key a task may have.
pub fn known_keys() -> Vec<&'static str> {
    let mut keys: Vec<&str> = Flag::ALL.iter().map(|f| f.key()).chain(TEXT_KEYS).collect();
    keys.sort_unstable();
    keys
}

/// A task, typed; `None` (or no flag entry) means the file does not set the key.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub name: String,
    pub command: TaskCommand,
    pub remote: String,
    /// Local root, relative to the folder of the file.
    pub local: Option<String>,
    pub flags: BTreeMap<Flag, bool>,
    pub verbose: Option<i32>,
    pub case: Option<CaseMode>,
    pub resolve: Option<Resolve>,
    pub matches: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
}

impl Task {
    pub fn flag(&self, f: Flag) -> Option<bool> {
        self.flags.get(&f).copied()
    }
}

/// A YAML key as text (pyftpsync's keys are strings; anything else is shown as written).
pub fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => show(other),
    }
}

/// A value, shortly, for error messages.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// Booleans as PyYAML reads them (YAML 1.1: also yes/no/on/off).
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
            "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads the entries of a merged task. `from_common` tells which keys came from
/// `common_config` (for the messages).
pub struct TaskReader<'a> {
    pub name: &'a str,
    pub file: &'a str,
    pub entries: &'a Mapping,
    pub from_common: &'a dyn Fn(&str) -> bool,
}

impl TaskReader<'_> {
    fn err(&self, key: &str, what: &str) -> anyhow::Error {
        let origin = if (self.from_common)(key) { " (set in common_config)" } else { "" };
        ExitError::usage(format!("tasks.{}.{key}{origin} in {}: {what}", self.name, self.file)).into()
    }

    /// The entries that are set (a key with an empty value counts as unset, as in pyftpsync).
    fn set_entries(&self) -> impl Iterator<Item = (String, &Value)> {
        self.entries.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (key_text(k), v))
    }

    fn text(&self, key: &str, v: &Value) -> Result<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(self.err(key, &format!("expected a text, found {}", show(v)))),
        }
    }

    fn choice<T: ValueEnum>(&self, key: &str, v: &Value, allowed: &[T]) -> Result<T> {
        let names: Vec<String> =
            allowed.iter().filter_map(|c| c.to_possible_value()).map(|p| p.get_name().to_string()).collect();
        let text = self.text(key, v)?;
        allowed
            .iter()
            .find(|c| c.to_possible_value().is_some_and(|p| p.get_name() == text))
            .cloned()
            .ok_or_else(|| self.err(key, &format!("{text:?} is not one of {}", names.join(", "))))
    }

    fn patterns(&self, key: &str, v: &Value) -> Result<Vec<String>> {
        match v {
            Value::String(s) => Ok(split_patterns(s)),
            Value::Sequence(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| self.err(key, &format!("expected patterns, found {} in the list", show(i))))
                })
                .collect(),
            _ => Err(self.err(key, &format!("expected comma-separated patterns or a list of them, found {}", show(v)))),
        }
    }

    /// Checks the task in pyftpsync's order (mandatory keys, command, unknown keys,
    /// `no_dry_run`), then reads every key.
    pub fn read(&self) -> Result<Task> {
        let set: BTreeMap<String, &Value> = self.set_entries().collect();
        let missing: Vec<&str> = ["command", "remote"].into_iter().filter(|k| !set.contains_key(*k)).collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|k| format!("tasks.{}.{k}", self.name)).collect();
            return Err(ExitError::usage(format!(
                "missing mandatory entries in {}: {} (in the task or in common_config)",
                self.file,
                list.join(", ")
            ))
            .into());
        }
        let command_text = self.text("command", set["command"])?;
        let Some(&(_, command)) = TaskCommand::ALL.iter().find(|(n, _)| *n == command_text) else {
            let names: Vec<&str> = TaskCommand::ALL.iter().map(|(n, _)| *n).collect();
            return Err(self.err(
                "command",
                &format!("{command_text:?} cannot be run as a task (choose from {})", names.join(", ")),
            ));
        };
        let known = known_keys();
        let unknown: Vec<String> =
            self.entries.keys().map(key_text).filter(|k| !known.contains(&k.as_str()) && k != NO_DRY_RUN).collect();
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(|k| format!("tasks.{}.{k}", self.name)).collect();
            return Err(ExitError::usage(format!(
                "Invalid entries: {} in {} (known keys: {})",
                list.join(", "),
                self.file,
                known.join(", ")
            ))
            .into());
        }
        if self.entries.keys().any(|k| key_text(k) == NO_DRY_RUN) {
            return Err(self.err(NO_DRY_RUN, "not allowed in the file: write `dry_run: false`, or pass --no-dry-run"));
        }
        let mut task = Task {
            name: self.name.to_string(),
            command,
            remote: self.text("remote", set["remote"])?,
            local: None,
            flags: BTreeMap::new(),
            verbose: None,
            case: None,
            resolve: None,
            matches: None,
            exclude: None,
        };
        for (key, v) in set {
            if let Some(flag) = Flag::ALL.into_iter().find(|f| f.key() == key) {
                let b =
                    as_bool(v).ok_or_else(|| self.err(&key, &format!("expected true or false, found {}", show(v))))?;
                task.flags.insert(flag, b);
                continue;
            }
            match key.as_str() {
                "local" => task.local = Some(self.text(&key, v)?),
                "verbose" => {
                    let n = v
                        .as_i64()
                        .filter(|n| (0..=9).contains(n))
                        .ok_or_else(|| self.err(&key, &format!("expected a number 0..9, found {}", show(v))))?;
                    task.verbose = Some(n as i32);
                }
                "case" => task.case = Some(self.choice(&key, v, CaseMode::value_variants())?),
                "resolve" => task.resolve = Some(self.choice(&key, v, command.resolve_choices())?),
                "match" => task.matches = Some(self.patterns(&key, v)?),
                "exclude" => task.exclude = Some(self.patterns(&key, v)?),
                // Accepted like pyftpsync's --debug (which only adds log lines there).
                "debug" => {
                    self.patterns(&key, v)?;
                }
                _ => {}
            }
        }
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<Task> {
        let entries: Mapping = serde_norway::from_str(yaml).unwrap();
        TaskReader { name: "t", file: "pyftpsync.yaml", entries: &entries, from_common: &|k| k == "dry_run" }.read()
    }

    fn message(yaml: &str) -> String {
        format!("{:#}", read(yaml).unwrap_err())
    }

    #[test]
    fn reads_every_kind_of_key() {
        let t = read("command: upload\nremote: ftp://h/x\nlocal: site\ndry_run: yes\nforce: false\nverbose: 4\ncase: local\nresolve: skip\nmatch: '*.html, *.css'\nexclude: [build, '.*']\ndebug: classify\nprogress:\n").unwrap();
        assert_eq!(t.command, TaskCommand::Upload);
        assert_eq!(t.remote, "ftp://h/x");
        assert_eq!(t.local.as_deref(), Some("site"));
        assert_eq!(t.flag(Flag::DryRun), Some(true));
        assert_eq!(t.flag(Flag::Force), Some(false));
        assert_eq!(t.flag(Flag::Progress), None, "an empty value is unset");
        assert_eq!(t.verbose, Some(4));
        assert_eq!(t.case, Some(CaseMode::Local));
        assert_eq!(t.resolve, Some(Resolve::Skip));
        assert_eq!(t.matches, Some(vec!["*.html".to_string(), "*.css".to_string()]));
        assert_eq!(t.exclude, Some(vec!["build".to_string(), ".*".to_string()]));
    }

    #[test]
    fn refuses_what_pyftpsync_refuses_and_more() {
        assert!(message("remote: x\n").contains("missing mandatory entries in pyftpsync.yaml: tasks.t.command"));
        assert!(message("command: sync\n").contains("tasks.t.remote"));
        assert!(
            message("command: scan\nremote: x\n")
                .contains("tasks.t.command in pyftpsync.yaml: \"scan\" cannot be run as a task")
        );
        assert!(
            message("command: sync\nremote: x\ncolour: true\n")
                .starts_with("Invalid entries: tasks.t.colour in pyftpsync.yaml")
        );
        assert!(message("command: sync\nremote: x\nno_dry_run: true\n").contains("dry_run: false"));
        assert!(message("command: sync\nremote: x\ndry_run: maybe\n").contains(
            "tasks.t.dry_run (set in common_config) in pyftpsync.yaml: expected true or false, found \"maybe\""
        ));
        assert!(
            message("command: upload\nremote: x\nresolve: remote\n")
                .contains("\"remote\" is not one of local, skip, ask")
        );
        assert!(message("command: sync\nremote: x\nverbose: loud\n").contains("expected a number"));
    }
}
