//! The options a plan is made with. They are recorded in the plan, so apply runs with exactly
//! the options that were reviewed.

use serde::{Deserialize, Serialize};

/// Direction of the synchronisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Local → remote; never changes the local side.
    Upload,
    /// Remote → local; never changes the remote side.
    Download,
    /// Both ways, with conflict detection.
    Sync,
}

impl Mode {
    /// The `--resolve` choices of the mode (pyftpsync's CLI choices), in the order help lists
    /// them; the command line and the task file both use this table.
    pub fn resolve_choices(self) -> &'static [Resolve] {
        match self {
            Mode::Upload => &[Resolve::Local, Resolve::Skip, Resolve::Ask],
            Mode::Download => &[Resolve::Remote, Resolve::Skip, Resolve::Ask],
            Mode::Sync => &[Resolve::Old, Resolve::New, Resolve::Local, Resolve::Remote, Resolve::Skip, Resolve::Ask],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Upload => "upload",
            Mode::Download => "download",
            Mode::Sync => "sync",
        }
    }
}

/// `--resolve`: how conflicts are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Resolve {
    /// The local version wins.
    Local,
    /// The remote version wins.
    Remote,
    /// Leave both sides as they are.
    Skip,
    /// Ask for each conflict (leaves it unresolved in a plan).
    Ask,
    /// The newer file wins (sync only).
    New,
    /// The older file wins (sync only).
    Old,
}

/// `--case`: how names differing only in case are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CaseMode {
    /// Names must match exactly.
    Strict,
    /// Use the local spelling.
    Local,
    /// Use the remote spelling.
    Remote,
}

/// Everything that influences the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub mode: Mode,
    pub force: bool,
    pub delete: bool,
    pub delete_unmatched: bool,
    pub resolve: Resolve,
    /// `--match` patterns (files only).
    #[serde(rename = "match")]
    pub matches: Vec<String>,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    pub case: Option<CaseMode>,
    pub migrate: bool,
    pub create_folder: bool,
    /// Record sha256 of uploaded files and verify it at apply.
    #[serde(default)]
    pub checksum: bool,
    /// `--max-delete N`: refuse a plan that deletes more entries than this.
    #[serde(default)]
    pub max_delete: Option<u64>,
    /// `--skip-unreadable`: a folder whose listing cannot be trusted is left alone (with a
    /// warning) instead of stopping the plan.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_unreadable: bool,
}

impl PlanOptions {
    /// Defaults of the library (pyftpsync's `resolve` default is `skip` there).
    pub fn new(mode: Mode) -> Self {
        PlanOptions {
            mode,
            force: false,
            delete: false,
            delete_unmatched: false,
            resolve: Resolve::Skip,
            matches: Vec::new(),
            exclude: Vec::new(),
            case: None,
            migrate: false,
            create_folder: false,
            checksum: false,
            max_delete: None,
            skip_unreadable: false,
        }
    }

    /// `--delete` and `--delete-unmatched` (which implies `--delete`).
    pub fn set_delete(&mut self, delete: bool, delete_unmatched: bool) {
        self.delete = delete || delete_unmatched;
        self.delete_unmatched = delete_unmatched;
    }
}
