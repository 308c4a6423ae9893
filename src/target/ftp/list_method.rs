//! How one server's folders are listed, learnt while listing and shared by all connections of
//! a target: `MLSD` where `FEAT` announces it, else `LIST -a`; a server that refuses `MLSD`
//! anyway (`500`/`502`/`504`) is listed with `LIST` from then on, one that refuses the `-a`
//! option with plain `LIST`. Each is found out once per run, not once per folder.

use std::sync::atomic::{AtomicBool, Ordering};

use super::learned::chose;

/// The commands a folder can be listed with, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Mlsd,
    /// `LIST -a`: hidden entries (the metadata file) included.
    ListAll,
    /// `LIST` without options, for servers that take every argument as a path.
    List,
}

impl Command {
    /// The command as sent for the current folder (no path: see `ops::list`).
    pub fn text(self) -> &'static str {
        match self {
            Command::Mlsd => "MLSD",
            Command::ListAll => "LIST -a",
            Command::List => "LIST",
        }
    }
}

/// What was learnt about listing on this server.
#[derive(Debug, Default)]
pub struct ListMethod {
    /// The server as shown in messages.
    pub server: String,
    mlsd_refused: AtomicBool,
    options_refused: AtomicBool,
}

impl ListMethod {
    pub fn new(server: String) -> Self {
        ListMethod { server, ..Default::default() }
    }

    /// The command to try first on a session whose `FEAT` announced MLSD (or not).
    pub fn first(&self, announced_mlsd: bool) -> Command {
        if announced_mlsd && !self.mlsd_refused.load(Ordering::Relaxed) {
            Command::Mlsd
        } else if !self.options_refused.load(Ordering::Relaxed) {
            Command::ListAll
        } else {
            Command::List
        }
    }

    /// The command to try after `cmd` was refused with `code` (`None`: nothing else to try).
    /// Only "not understood" refusals move on; a `550` moves from `LIST -a` to `LIST` (Twisted
    /// takes `-a` as a file name), but is only remembered once plain `LIST` worked.
    pub fn after(&self, cmd: Command, code: u16) -> Option<Command> {
        let unknown = matches!(code, 500 | 501 | 502 | 504);
        match cmd {
            Command::Mlsd if unknown && code != 501 => {
                if !self.mlsd_refused.swap(true, Ordering::Relaxed) {
                    chose!("ftp: MLSD was answered {code}: folders listed with LIST from now on");
                }
                Some(self.first(false))
            }
            Command::ListAll if unknown => {
                if !self.options_refused.swap(true, Ordering::Relaxed) {
                    chose!("ftp: LIST -a was answered {code}: folders listed with plain LIST from now on");
                }
                Some(Command::List)
            }
            Command::ListAll if code == 550 => Some(Command::List),
            _ => None,
        }
    }

    /// Plain `LIST` worked where `LIST -a` was refused: it is used from now on.
    pub fn list_worked_after(&self, refused: Command) {
        if refused == Command::ListAll && !self.options_refused.swap(true, Ordering::Relaxed) {
            chose!("ftp: LIST -a was refused where plain LIST works: folders listed with plain LIST from now on");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_and_remembers() {
        let m = ListMethod::new("server".into());
        assert_eq!(m.first(true), Command::Mlsd);
        assert_eq!(m.after(Command::Mlsd, 550), None, "a missing folder is no reason to stop using MLSD");
        assert_eq!(m.after(Command::Mlsd, 502), Some(Command::ListAll));
        assert_eq!(m.first(true), Command::ListAll, "remembered for every session");
        assert_eq!(m.after(Command::ListAll, 550), Some(Command::List));
        assert_eq!(m.first(false), Command::ListAll, "a 550 alone is not remembered");
        m.list_worked_after(Command::ListAll);
        assert_eq!(m.first(false), Command::List);
        assert_eq!(m.after(Command::List, 500), None);
        let m = ListMethod::new("server".into());
        assert_eq!(m.after(Command::ListAll, 501), Some(Command::List));
        assert_eq!(m.first(false), Command::List);
    }
}
