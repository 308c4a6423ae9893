//! The binary in a pseudo-terminal, as a person runs it: stdin, stdout and stderr are the
//! terminal, typed lines are its answers.

use std::path::Path;

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

use super::bin;

/// Starts `ftpsync ARGS` in a terminal (every wait for output fails after 30 s).
pub fn spawn(args: &[&str], cwd: &Path) -> PtySession {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("FTPSYNC_PASSWORD")
        .env_remove("PYFTPSYNC_VERBOSE_META");
    rexpect::session::spawn_command(cmd, Some(30_000)).expect("start ftpsync in a pseudo-terminal")
}

/// Waits for the program to end: what it printed since the last expectation, and its exit code.
pub fn finish(mut p: PtySession) -> (String, i32) {
    let rest = p.exp_eof().expect("the program ends");
    match p.process().wait().expect("wait for the program") {
        WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("ended abnormally: {other:?}\n{rest}"),
    }
}
