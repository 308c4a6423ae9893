//! Exit codes (contract §2) and the errors that choose them.

pub mod caught;
pub mod interrupt;

use std::process::ExitCode;

/// The process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success = 0,
    /// 1: an error.
    Error = 1,
    /// 2: usage or configuration error.
    Usage = 2,
    /// 3: aborted by the user.
    Aborted = 3,
    /// 4: plan rejected at apply (stale, tampered, unsupported, digest mismatch).
    Rejected = 4,
    /// 5: `plan --detailed-exitcode` and the plan has changes.
    Changes = 5,
    /// 10: `--report-problems` and conflicts were skipped or copies failed.
    Problems = 10,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error that ends the run with a specific exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub exit: Exit,
    pub message: String,
}

impl ExitError {
    pub fn usage(message: impl Into<String>) -> Self {
        ExitError { exit: Exit::Usage, message: message.into() }
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        ExitError { exit: Exit::Rejected, message: message.into() }
    }
}

/// The exit code an error maps to.
pub fn exit_of(err: &anyhow::Error) -> Exit {
    if err.chain().any(|e| e.downcast_ref::<crate::error::interrupt::Interrupted>().is_some()) {
        return Exit::Aborted;
    }
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitError>().map(|x| x.exit))
        .or_else(|| err.chain().find_map(|e| e.downcast_ref::<crate::plan::io::PlanError>().map(|_| Exit::Rejected)))
        .unwrap_or(Exit::Error)
}
