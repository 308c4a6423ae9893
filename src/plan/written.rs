//! The document `plan --json` prints on stdout: where the plan was written, its digest, and
//! its summary — what a pipeline needs to decide whether to ask for an approval and to pin the
//! digest, without parsing text. Its JSON Schema is `schemas/plan-summary.schema.json`.

use serde::{Deserialize, Serialize};

use super::document::{Plan, Summary, TargetDesc, Tool, tool};
use super::io::FileFormat;
use crate::plan::options::Mode;

pub const WRITTEN_FORMAT: &str = "ftpsync-plan-summary";
pub const WRITTEN_VERSION: &str = "1.0";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanWritten {
    pub format: String,
    pub format_version: String,
    pub tool: Tool,
    /// The plan file as given with `-o`.
    pub plan_file: String,
    /// `json` or `msgpack`.
    pub plan_format: String,
    /// What `apply --expect-sha256` pins.
    pub plan_sha256: String,
    pub created: String,
    pub mode: Mode,
    pub local: TargetDesc,
    pub remote: TargetDesc,
    /// The plan's own summary (`changes` > 0: there is something to apply).
    pub summary: Summary,
}

impl PlanWritten {
    pub fn new(plan: &Plan, file: &std::path::Path, format: FileFormat, digest: &str) -> Self {
        PlanWritten {
            format: WRITTEN_FORMAT.into(),
            format_version: WRITTEN_VERSION.into(),
            tool: tool(),
            plan_file: file.display().to_string(),
            plan_format: match format {
                FileFormat::Json => "json",
                FileFormat::Msgpack => "msgpack",
            }
            .into(),
            plan_sha256: digest.into(),
            created: plan.created.clone(),
            mode: plan.mode,
            local: plan.local.clone(),
            remote: plan.remote.clone(),
            summary: plan.summary.clone(),
        }
    }
}
