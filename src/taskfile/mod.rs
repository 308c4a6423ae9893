//! `pyftpsync.yaml`: named tasks for `ftpsync run`, in pyftpsync's format (behaviour spec
//! §6.6).
//!
//! ```yaml
//! default_task: deploy        # run when no TASK is given
//! common_config:              # merged into every task (the task's keys win)
//!     remote: ftp://example.com/my_project
//!     dry_run: true
//! tasks:
//!     deploy: {command: upload, delete: true, exclude: "build,.*"}
//!     show: {command: tree, files: true}
//! ```
//!
//! [`discover`] finds the file, [`TaskFile::load`] reads it, [`TaskFile::task`] picks and
//! checks a task, [`overrides`] applies the command line, [`paths`] places the roots and
//! [`settings`] turns it all into the settings of the command that runs.

pub mod discover;
pub mod overrides;
pub mod paths;
pub mod settings;
pub mod task;

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_norway::{Mapping, Value};

pub use discover::{Found, discover};
pub use task::{Task, TaskCommand};

use crate::error::ExitError;
use task::{TaskReader, key_text};

/// A parsed task file.
#[derive(Clone, Debug)]
pub struct TaskFile {
    pub path: PathBuf,
    doc: Mapping,
}

fn usage(message: String) -> anyhow::Error {
    ExitError::usage(message).into()
}

/// The mapping under `key`; a missing or empty entry is an empty mapping.
fn mapping<'a>(doc: &'a Mapping, key: &str, file: &str) -> Result<Option<&'a Mapping>> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Mapping(m)) => Ok(Some(m)),
        Some(_) => Err(usage(format!("`{key}` in {file} must be a mapping of names to settings"))),
    }
}

impl TaskFile {
    /// Reads and parses the file (UTF-8, a byte order mark is allowed) and checks that it
    /// has `tasks`.
    pub fn load(path: &Path) -> Result<TaskFile> {
        let file = path.display();
        let bytes = std::fs::read(path).map_err(|e| usage(format!("cannot read {file}: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| usage(format!("{file} is not UTF-8 text: {e}")))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let flat =
            |e: serde_norway::Error| usage(format!("{file} is not valid YAML: {}", e.to_string().replace('\n', " ")));
        let mut value: Value = serde_norway::from_str(text).map_err(flat)?;
        value.apply_merge().map_err(flat)?;
        let doc = match value {
            Value::Mapping(doc) => doc,
            Value::Null => Mapping::new(),
            _ => return Err(usage(format!("{file} must be a YAML mapping with a `tasks` entry"))),
        };
        let file = TaskFile { path: path.to_path_buf(), doc };
        if file.tasks()?.is_none() {
            return Err(usage(format!("missing entry `tasks` in {}", file.path.display())));
        }
        Ok(file)
    }

    fn tasks(&self) -> Result<Option<&Mapping>> {
        mapping(&self.doc, "tasks", &self.path.display().to_string())
    }

    /// The task names, in file order.
    pub fn names(&self) -> Vec<String> {
        self.tasks().ok().flatten().map(|t| t.keys().map(key_text).collect()).unwrap_or_default()
    }

    /// The task to run: `name`, else `default_task`.
    fn chosen(&self, name: Option<&str>) -> Result<String> {
        let (file, names) = (self.path.display(), self.names());
        let choices = names.join(", ");
        match name {
            Some(n) if names.iter().any(|t| t == n) => Ok(n.to_string()),
            Some(n) => {
                Err(usage(format!("unknown task '{n}': choose from [{choices}] or define `tasks.{n}` in {file}")))
            }
            None => match self.doc.get("default_task").filter(|v| !v.is_null()) {
                Some(v) if names.contains(&key_text(v)) => Ok(key_text(v)),
                Some(v) => Err(usage(format!(
                    "`default_task: {}` names no task of {file}: choose from [{choices}]",
                    key_text(v)
                ))),
                None => Err(usage(format!("no TASK given and no `default_task` in {file}: choose from [{choices}]"))),
            },
        }
    }

    /// Picks the task (`name`, else `default_task`), merges `common_config` into it and checks
    /// its keys.
    pub fn task(&self, name: Option<&str>) -> Result<Task> {
        let file = self.path.display().to_string();
        let name = self.chosen(name)?;
        let tasks = self.tasks()?.expect("checked when loading");
        let own = tasks
            .iter()
            .find(|(k, _)| key_text(k) == name)
            .map(|(_, v)| v)
            .expect("the name was chosen from the tasks");
        let own = match own {
            Value::Mapping(m) => m.clone(),
            Value::Null => Mapping::new(),
            _ => return Err(usage(format!("`tasks.{name}` in {file} must be a mapping of settings"))),
        };
        let mut merged = mapping(&self.doc, "common_config", &file)?.cloned().unwrap_or_default();
        for (k, v) in &own {
            merged.insert(k.clone(), v.clone());
        }
        let from_common = |key: &str| !own.keys().any(|k| key_text(k) == key);
        TaskReader { name: &name, file: &file, entries: &merged, from_common: &from_common }.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Flag;

    fn file(yaml: &str) -> Result<TaskFile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyftpsync.yaml");
        std::fs::write(&path, yaml).unwrap();
        TaskFile::load(&path)
    }

    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    const SAMPLE: &str = "\u{feff}default_task: b\ncommon_config:\n  remote: ftp://h/x\n  dry_run: true\ntasks:\n  a: {command: sync}\n  b: {command: upload, dry_run: false}\n";

    #[test]
    fn picks_a_task_and_merges_common_config() {
        let f = file(SAMPLE).unwrap();
        assert_eq!(f.names(), ["a", "b"]);
        let b = f.task(None).unwrap();
        assert_eq!(
            (b.name.as_str(), b.command, b.remote.as_str(), b.flag(Flag::DryRun)),
            ("b", TaskCommand::Upload, "ftp://h/x", Some(false))
        );
        assert_eq!(f.task(Some("a")).unwrap().flag(Flag::DryRun), Some(true));
        assert!(message(f.task(Some("c"))).starts_with("unknown task 'c': choose from [a, b]"));
    }

    #[test]
    fn yaml_merge_keys_work() {
        let f = file("base: &base {command: sync, remote: r}\ntasks:\n  a: {<<: *base, force: true}\n").unwrap();
        assert_eq!(f.task(Some("a")).unwrap().command, TaskCommand::Sync);
    }

    #[test]
    fn bad_files_are_usage_errors() {
        assert!(message(file("tasks: [\n")).contains("line 2"), "{}", message(file("tasks: [\n")));
        assert!(message(file("default_task: a\n")).starts_with("missing entry `tasks` in "));
        assert!(message(file("")).starts_with("missing entry `tasks`"));
        assert!(message(file("- a\n")).contains("must be a YAML mapping"));
        let f = file("tasks:\n  a: {command: sync, remote: r}\n").unwrap();
        assert!(message(f.task(None)).starts_with("no TASK given and no `default_task`"));
        let f = file("default_task: z\ntasks:\n  a: {command: sync, remote: r}\n").unwrap();
        assert!(message(f.task(None)).starts_with("`default_task: z` names no task"));
    }
}
