//! What apply reports: the outcome of each entry, and of the whole apply (or why it stopped).

use serde::{Deserialize, Serialize};

use super::check::Drift;
use super::stats::Counters;
use crate::plan::document::{Action, Plan};
use crate::plan::effective::effective_actions;

/// What happened to one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to do.
    Unchanged,
    Done,
    /// Left alone on purpose (a skip, an unresolved conflict).
    Skipped,
    Failed,
    /// Not attempted because something it depends on failed.
    NotRun,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    pub(crate) fn of(status: Status) -> Self {
        Outcome { status, error: None }
    }
}

/// A file as apply wrote it (the report's `content`): its size, the modification time it was
/// given (the planned source time) and the sha256 of the bytes sent, computed while they
/// streamed through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub size: u64,
    pub mtime: f64,
    pub sha256: String,
}

/// Result of an apply that got past the checks.
pub struct Applied {
    /// The effective action of every plan entry.
    pub actions: Vec<Action>,
    /// The outcome of every plan entry.
    pub outcomes: Vec<Outcome>,
    pub counters: Counters,
    /// Remarks for the user (metadata files removed...).
    pub messages: Vec<String>,
    /// A staged apply whose commit did not happen: why. Nothing visible changed.
    pub rolled_back: Option<anyhow::Error>,
    /// A staged apply that committed: the time from its first visible change to its last.
    pub commit_window: Option<std::time::Duration>,
    /// The content of every file written, indexed like the plan.
    pub contents: Vec<Option<Content>>,
}

impl Applied {
    /// The result of a plan that changes nothing (applying it would only take a lock).
    pub fn nothing_to_do(plan: &Plan) -> Applied {
        let actions = effective_actions(&plan.entries);
        let outcomes = actions
            .iter()
            .map(|a| Outcome::of(if *a == Action::Equal { Status::Unchanged } else { Status::Skipped }))
            .collect();
        Applied {
            actions,
            outcomes,
            counters: Counters::from_scan(plan),
            messages: Vec::new(),
            rolled_back: None,
            commit_window: None,
            contents: vec![None; plan.entries.len()],
        }
    }

    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o.status, Status::Failed | Status::NotRun)).count()
    }
}

/// Why apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The world changed since the plan was made; nothing was changed.
    #[error("the plan no longer matches the targets ({} difference(s)); nothing was changed", .0.len())]
    Drift(Vec<Drift>),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}
