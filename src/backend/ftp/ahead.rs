//! Exact times asked ahead: the `MDTM`s of the files a folder is expected to hold
//! (`Target::expect_files`), sent in the same write as the folder's `STAT` listing. A listing
//! over the control connection then costs one round trip instead of two (the listing, then
//! the times of the files it shows only to the minute). Only a time the server gave is used:
//! a file the listing shows whose time was not asked ahead, or not answered with a time, is
//! asked after the listing, as before; a name that is not there (or no file) costs its line
//! and nothing else. A refusal of `MDTM` counts only for a file the listing shows (a server
//! may refuse it for a folder, or a missing name, and have it all the same).

use std::collections::BTreeMap;

use super::mtime::parse_mdtm;
use super::wire::Reply;

/// Most bytes of commands asked ahead in one write. Everything of a write is sent before any
/// reply is read, and servers that block on writing a reply stop reading commands: the
/// listings' replies (a batch lists up to 32 folders) may then fill the buffers both ways
/// while commands are still to be sent, and both sides wait. Commands of this size fit in the
/// socket's buffers whatever the server does; names beyond it are asked after the listing.
const AHEAD_BYTES: usize = 16 * 1024;

/// The `MDTM`s asked ahead for a batch of folders, and then their replies.
#[derive(Default)]
pub struct TimesAhead {
    /// Per folder, in the batch's order: the names asked.
    names: Vec<Vec<String>>,
    /// Per folder: each name's reply, once [`TimesAhead::answered`].
    replies: Vec<BTreeMap<String, Reply>>,
}

/// Whether `name` may be asked ahead: it goes on the wire as it is, so it must be spelt there
/// as we spell it (ASCII; a name the server spells otherwise, in another code page say, is
/// asked after the listing by the name the listing shows), and on one line.
fn askable(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && name.trim() == name
}

impl TimesAhead {
    /// The times to ask ahead for `dirs`, given the names `expected` in each (one list per
    /// folder; any other length asks nothing), up to [`AHEAD_BYTES`] of commands.
    pub fn new(dirs: &[String], expected: &[Vec<String>]) -> TimesAhead {
        if expected.len() != dirs.len() {
            return TimesAhead::default();
        }
        let mut room = AHEAD_BYTES;
        let mut fits = |dir: &str, name: &str| {
            let bytes = mdtm_command(dir, name).len() + 2;
            let fit = bytes <= room;
            room = room.saturating_sub(bytes);
            fit
        };
        let names = dirs
            .iter()
            .zip(expected)
            .map(|(d, n)| n.iter().filter(|n| askable(n) && fits(d, n)).cloned().collect())
            .collect();
        TimesAhead { names, replies: Vec::new() }
    }

    /// The commands, to go in the listing's write after its own.
    pub fn commands(&self, dirs: &[String]) -> Vec<String> {
        dirs.iter().zip(&self.names).flat_map(|(d, names)| names.iter().map(move |n| mdtm_command(d, n))).collect()
    }

    /// Adds [`TimesAhead::commands`] to the listing's write `cmds`, where the server has `MDTM`
    /// (`mdtm`); where it has not, nothing is asked, and nothing waits for an answer.
    pub fn add_to(&mut self, cmds: &mut Vec<String>, dirs: &[String], mdtm: bool) {
        if mdtm {
            cmds.extend(self.commands(dirs));
        } else {
            self.names.clear();
        }
    }

    /// Keeps the replies to [`TimesAhead::commands`], in order (`replies` may hold more after
    /// them: they are not looked at).
    pub fn answered(&mut self, replies: &[Reply]) {
        let mut replies = replies.iter();
        self.replies = self
            .names
            .iter()
            .map(|names| names.iter().filter_map(|n| Some((n.clone(), replies.next()?.clone()))).collect())
            .collect();
    }

    /// The reply to `MDTM` of `name` in the `i`-th folder, where it was asked ahead.
    pub fn reply_of(&self, i: usize, name: &str) -> Option<&Reply> {
        self.replies.get(i)?.get(name)
    }

    /// [`TimesAhead::reply_of`], where the server answered with a time.
    pub fn time_of(&self, i: usize, name: &str) -> Option<&Reply> {
        self.reply_of(i, name).filter(|r| parse_mdtm(r).is_some())
    }
}

/// `MDTM` of `name` in the folder `dir` (absolute).
pub fn mdtm_command(dir: &str, name: &str) -> String {
    format!("MDTM {}/{name}", dir.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply { code, lines: vec![format!("{code} {text}").into_bytes()] }
    }

    #[test]
    fn only_times_given_are_used_and_only_names_spelt_as_on_the_wire_are_asked() {
        let dirs = ["/site/a".to_string(), "/site/b/".to_string()];
        let expected = vec![
            vec!["x.html".to_string(), "caf\u{e9}.txt".to_string(), " lead".to_string(), "gone".to_string()],
            vec!["y b.css".to_string()],
        ];
        let mut ahead = TimesAhead::new(&dirs, &expected);
        assert_eq!(ahead.commands(&dirs), ["MDTM /site/a/x.html", "MDTM /site/a/gone", "MDTM /site/b/y b.css"]);
        let fence = reply(200, "NOOP ok");
        ahead.answered(&[reply(213, "20240102030405"), reply(550, "No such file"), reply(213, "junk"), fence]);
        assert!(ahead.time_of(0, "x.html").is_some());
        assert!(ahead.time_of(0, "gone").is_none(), "a refusal is asked again after the listing");
        assert!(ahead.time_of(1, "y b.css").is_none(), "neither is an answer that is no time");
        assert!(ahead.time_of(0, "caf\u{e9}.txt").is_none());
        assert_eq!(ahead.reply_of(0, "gone").map(|r| r.code), Some(550));
        // Expectations for another number of folders ask nothing.
        assert!(TimesAhead::new(&dirs, &expected[..1]).commands(&dirs).is_empty());
    }

    #[test]
    fn a_write_asks_ahead_no_more_than_the_socket_buffers_hold() {
        let dirs = ["/site/a".to_string(), "/site/b".to_string()];
        let many: Vec<String> = (0..1000).map(|i| format!("file{i:04}.html")).collect();
        let ahead = TimesAhead::new(&dirs, &[many.clone(), many]);
        let cmds = ahead.commands(&dirs);
        let bytes: usize = cmds.iter().map(|c| c.len() + 2).sum();
        assert!(bytes <= AHEAD_BYTES && bytes > AHEAD_BYTES - 40, "{bytes} bytes");
        // The first folder's names first; what does not fit is asked after the listing.
        assert_eq!(cmds[0], "MDTM /site/a/file0000.html");
        assert!(cmds.iter().all(|c| c.starts_with("MDTM /site/a/")), "the first folder alone fills it");
    }
}
