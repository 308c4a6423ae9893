//! The result report apply writes (`--report FILE`, `--json`): what was planned, what was
//! done, and what was found to have drifted. Its JSON Schema is `schemas/report.schema.json`.

use serde::{Deserialize, Serialize};

use crate::apply::check::Drift;
pub use crate::apply::outcome::Content;
use crate::apply::outcome::{Outcome, Status};
use crate::apply::stats::Counters;
use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::plan::document::{Action, Plan, TargetDesc, Tool};

pub const REPORT_FORMAT: &str = "ftpsync-report";
/// 1.2: `content` of every file written (size, time, sha256), for `ftpsync verify`.
pub const REPORT_VERSION: &str = "1.2";

/// How applying the plan ended (the report's `result`; a dry run applies nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyResult {
    /// Everything planned was done (skipped conflicts aside).
    Success,
    /// Some actions failed; see the entries.
    Failed,
    /// The plan was refused before anything changed (drift, digest, version).
    Rejected,
    /// Nothing was changed on purpose (dry run).
    DryRun,
    /// A staged apply failed before its commit completed, and everything it had staged or
    /// committed was undone: nothing changed.
    RolledBack,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    pub path: RelPath,
    pub kind: Kind,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// A file this apply wrote (on the side its action names), since format 1.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub format_version: String,
    pub tool: Tool,
    /// Digest of the plan that was applied.
    pub plan_sha256: String,
    pub mode: crate::plan::options::Mode,
    pub local: TargetDesc,
    pub remote: TargetDesc,
    pub started: String,
    pub finished: String,
    pub result: ApplyResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A staged apply that committed: milliseconds from its first visible change to its last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_window_ms: Option<f64>,
    pub counters: Counters,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    /// Every entry that was not already equal, with what happened to it.
    pub entries: Vec<ReportEntry>,
}

impl Report {
    /// A report skeleton for a plan.
    pub fn new(plan: &Plan, digest: &str, started: String) -> Report {
        Report {
            format: REPORT_FORMAT.into(),
            format_version: REPORT_VERSION.into(),
            tool: crate::plan::tool(),
            plan_sha256: digest.into(),
            mode: plan.mode,
            local: plan.local.clone(),
            remote: plan.remote.clone(),
            started: started.clone(),
            finished: started,
            result: ApplyResult::Success,
            message: None,
            commit_window_ms: None,
            counters: Counters::default(),
            drift: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Fills in the entries from actions, outcomes and the content of the files written (kept
    /// only where the entry is done: a rolled-back write is no content).
    pub fn set_entries(&mut self, plan: &Plan, actions: &[Action], outcomes: &[Outcome], contents: &[Option<Content>]) {
        let content = |i: usize, o: &Outcome| contents.get(i).cloned().flatten().filter(|_| o.status == Status::Done);
        self.entries = plan
            .entries
            .iter()
            .zip(actions)
            .zip(outcomes)
            .enumerate()
            .filter(|(_, ((_, a), _))| **a != Action::Equal)
            .map(|(i, ((e, a), o))| ReportEntry {
                path: e.path.clone(),
                kind: e.kind,
                action: *a,
                outcome: o.clone(),
                content: content(i, o),
            })
            .collect();
        if outcomes.iter().any(|o| matches!(o.status, Status::Failed | Status::NotRun)) {
            self.result = ApplyResult::Failed;
        }
    }
}
