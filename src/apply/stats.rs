//! pyftpsync's run statistics, predicted from a plan or counted while applying it.

use serde::{Deserialize, Serialize};

use crate::model::Kind;
use crate::plan::document::{Action, PairOp, Plan, ScanCounts};
use crate::plan::effective_actions;
use crate::plan::summary::summarize;

/// The counters of pyftpsync's stats dictionary that describe what a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub bytes_written: u64,
    pub conflict_files: u64,
    pub conflict_files_skipped: u64,
    pub copy_errors: u64,
    pub dirs_created: u64,
    pub dirs_deleted: u64,
    pub download_bytes_written: u64,
    pub download_files_written: u64,
    pub entries_seen: u64,
    pub entries_touched: u64,
    pub errors: u64,
    pub files_deleted: u64,
    pub files_written: u64,
    pub local_dirs: u64,
    pub local_files: u64,
    pub remote_dirs: u64,
    pub remote_files: u64,
    pub upload_bytes_written: u64,
    pub upload_files_written: u64,
}

impl Counters {
    /// The counters known before anything runs: listing counts and conflicts.
    pub fn from_scan(plan: &Plan) -> Counters {
        let s = &plan.summary.scan;
        let mut c = Counters {
            local_files: s.local_files,
            local_dirs: s.local_dirs,
            remote_files: s.remote_files,
            remote_dirs: s.remote_dirs,
            entries_seen: s.entries_seen,
            ..Counters::default()
        };
        for e in plan.entries.iter().filter(|e| e.part_of.is_none()) {
            if e.operation == Some(PairOp::Conflict) {
                c.conflict_files += 1;
                if e.is_skipped_conflict() {
                    c.conflict_files_skipped += 1;
                }
            }
        }
        c
    }

    /// Counts one completed action (`bytes` for transfers).
    pub fn count(&mut self, action: Action, kind: Kind, top_level: bool, bytes: u64) {
        match (action, kind) {
            (Action::Upload | Action::Download, Kind::File) => self.count_files(action, 1, bytes),
            (Action::Upload | Action::Download, Kind::Dir) => {
                self.dirs_created += 1;
                self.entries_touched += 1;
            }
            (Action::DeleteLocal | Action::DeleteRemote, _) if top_level => {
                self.entries_touched += 1;
                if kind == Kind::Dir {
                    self.dirs_deleted += 1;
                } else {
                    self.files_deleted += 1;
                }
            }
            _ => {}
        }
    }

    /// Counts `files` files of `bytes` in all copied by `action` (an upload or a download).
    fn count_files(&mut self, action: Action, files: u64, bytes: u64) {
        self.files_written += files;
        self.entries_touched += files;
        self.bytes_written += bytes;
        if action == Action::Upload {
            self.upload_files_written += files;
            self.upload_bytes_written += bytes;
        } else {
            self.download_files_written += files;
            self.download_bytes_written += bytes;
        }
    }

    /// What applying the whole plan would count (dry runs). The files copied each way and
    /// their bytes are those of the plan's summary, counted again from the entries (a reviewer
    /// may have changed a resolution since the summary was written).
    pub fn predict(plan: &Plan) -> Counters {
        let mut c = Counters::from_scan(plan);
        let summary = summarize(&plan.entries, ScanCounts::default());
        c.count_files(Action::Upload, summary.upload_files, summary.upload_bytes);
        c.count_files(Action::Download, summary.download_files, summary.download_bytes);
        for (e, action) in plan.entries.iter().zip(effective_actions(&plan.entries)) {
            let file_copy = matches!(action, Action::Upload | Action::Download) && e.kind == Kind::File;
            if !file_copy {
                c.count(action, e.kind, e.part_of.is_none(), 0);
            }
        }
        c
    }
}
