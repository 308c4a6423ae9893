//! How one server's folders are listed, learnt while listing and shared by all connections of
//! a target: `MLSD` where `FEAT` announces it, else `LIST -a`; a server that refuses `MLSD`
//! anyway (`500`/`502`/`504`) is listed with `LIST` from then on, one that refuses the `-a`
//! option with plain `LIST`. Each is found out once per run, not once per folder, and kept
//! with the server's other refused commands ([`Learned`]).

use std::sync::Arc;

use super::learned::{Capability, Learned};

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

/// How folders are listed on this server, from what its connections learnt.
#[derive(Debug, Default)]
pub struct ListMethod {
    /// The server as shown in messages.
    pub server: String,
    learned: Arc<Learned>,
}

impl ListMethod {
    pub fn new(server: String, learned: Arc<Learned>) -> Self {
        ListMethod { server, learned }
    }

    /// The command to try first on a session whose `FEAT` announced MLSD (or not).
    pub fn first(&self, announced_mlsd: bool) -> Command {
        if announced_mlsd && !self.learned.refused(Capability::Mlsd) {
            Command::Mlsd
        } else if !self.learned.refused(Capability::ListOptions) {
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
                self.learned.refuse(Capability::Mlsd, &format!("MLSD was answered {code}"));
                Some(self.first(false))
            }
            Command::ListAll if unknown => {
                self.learned.refuse(Capability::ListOptions, &format!("LIST -a was answered {code}"));
                Some(Command::List)
            }
            Command::ListAll if code == 550 => Some(Command::List),
            _ => None,
        }
    }

    /// Plain `LIST` worked where `LIST -a` was refused: it is used from now on.
    pub fn list_worked_after(&self, refused: Command) {
        if refused == Command::ListAll {
            self.learned.refuse(Capability::ListOptions, "LIST -a was refused where plain LIST works");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_and_remembers() {
        let m = ListMethod::default();
        assert_eq!(m.first(true), Command::Mlsd);
        assert_eq!(m.after(Command::Mlsd, 550), None, "a missing folder is no reason to stop using MLSD");
        assert_eq!(m.after(Command::Mlsd, 502), Some(Command::ListAll));
        assert_eq!(m.first(true), Command::ListAll, "remembered for every session");
        assert_eq!(m.after(Command::ListAll, 550), Some(Command::List));
        assert_eq!(m.first(false), Command::ListAll, "a 550 alone is not remembered");
        m.list_worked_after(Command::ListAll);
        assert_eq!(m.first(false), Command::List);
        assert_eq!(m.after(Command::List, 500), None);
        let m = ListMethod::default();
        assert_eq!(m.after(Command::ListAll, 501), Some(Command::List));
        assert_eq!(m.first(false), Command::List);
    }
}
