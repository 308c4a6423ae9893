//! `-vvv`: the FTP protocol trace on stderr, as pyftpsync prints it (`*cmd* 'USER joe'`,
//! `*resp* '230 ...'`), with every password masked. `-vv`: which FTP methods were chosen and
//! which fallbacks taken (`ftp: ...` lines).

use std::io::Write;
use std::sync::Mutex;

/// Strings that must never appear in the trace (the passwords of this run).
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Adds a string to mask in every trace line.
pub fn register_secret(secret: &str) {
    if !secret.is_empty() {
        SECRETS.lock().unwrap_or_else(|e| e.into_inner()).push(secret.to_string());
    }
}

/// Masks the password of a `PASS` command and every registered secret.
pub fn mask(line: &str) -> String {
    let mut line = if line.len() >= 5 && line[..5].eq_ignore_ascii_case("PASS ") {
        "PASS ***".to_string()
    } else {
        line.to_string()
    };
    for s in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        line = line.replace(s.as_str(), "***");
    }
    line
}

struct Trace;

impl log::Log for Trace {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.target() == crate::backend::ftp::wire::control::TRACE_TARGET
            || meta.target() == crate::backend::ftp::learned::METHODS_TARGET
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        let line = if record.target() == crate::backend::ftp::learned::METHODS_TARGET {
            mask(&msg)
        } else if let Some(cmd) = msg.strip_prefix("CC OUT: ") {
            format!("*cmd* '{}'", mask(cmd))
        } else if let Some(resp) = msg.strip_prefix("CC IN: ") {
            format!("*resp* {}", mask(resp))
        } else {
            return;
        };
        // Best effort: a trace nobody reads (stderr closed) must not stop the work.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn flush(&self) {}
}

static TRACE: Trace = Trace;

/// Starts printing the methods chosen (verbosity 5, `-vv`) and the protocol trace
/// (verbosity 6, `-vvv`), once per process.
pub fn install(verbosity: i32) {
    if log::set_logger(&TRACE).is_ok() {
        log::set_max_level(if verbosity >= 6 { log::LevelFilter::Trace } else { log::LevelFilter::Debug });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(mask("PASS hunter2"), "PASS ***");
        assert_eq!(mask("pass hunter2"), "PASS ***");
        register_secret("s3cr3t-in-trace");
        assert_eq!(mask("530 bad s3cr3t-in-trace"), "530 bad ***");
    }
}
