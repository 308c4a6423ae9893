//! Asking the person at the terminal, and the OS login name offered as the default user.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;

use crate::backend::secret::Secret;

/// Asks the person at the terminal.
pub trait Prompter {
    /// False when nobody can answer (standard input is not a terminal).
    fn interactive(&self) -> bool;
    /// Shows `prompt` and reads one line (without its line end).
    fn read_line(&mut self, prompt: &str) -> io::Result<String>;
    /// Shows `prompt` and reads a password without echoing it.
    fn read_password(&mut self, prompt: &str) -> io::Result<Secret>;
}

impl<T: Prompter + ?Sized> Prompter for &mut T {
    fn interactive(&self) -> bool {
        (**self).interactive()
    }
    fn read_line(&mut self, prompt: &str) -> io::Result<String> {
        (**self).read_line(prompt)
    }
    fn read_password(&mut self, prompt: &str) -> io::Result<Secret> {
        (**self).read_password(prompt)
    }
}

/// The real terminal: prompts on stderr, answers from stdin, the password via `rpassword`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn interactive(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn read_line(&mut self, prompt: &str) -> io::Result<String> {
        let mut err = io::stderr().lock();
        err.write_all(prompt.as_bytes())?;
        err.flush()?;
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let len = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(len);
        Ok(line)
    }

    fn read_password(&mut self, prompt: &str) -> io::Result<Secret> {
        rpassword::prompt_password(prompt).map(Secret::new)
    }
}

/// The home folder: `HOME`, else (Windows) `USERPROFILE`.
pub(super) fn home_dir() -> Option<PathBuf> {
    ["HOME", "USERPROFILE"].iter().filter_map(std::env::var_os).find(|h| !h.is_empty()).map(PathBuf::from)
}

/// Python's `getpass.getuser()`: `LOGNAME`, `USER`, `LNAME`, `USERNAME`, then the password
/// database entry of the current user.
pub fn os_login_name() -> Option<String> {
    let from_env =
        ["LOGNAME", "USER", "LNAME", "USERNAME"].iter().filter_map(|n| std::env::var(n).ok()).find(|u| !u.is_empty());
    from_env.or_else(passwd_name)
}

#[cfg(unix)]
fn passwd_name() -> Option<String> {
    let uid = rustix::process::getuid().as_raw().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == uid)
        .map(|f| f[0].to_string())
}

#[cfg(not(unix))]
fn passwd_name() -> Option<String> {
    None
}
