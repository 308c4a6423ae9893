//! Listing folders with a plain `STAT PATH` on servers that refuse `STAT -la PATH` (pyftpdlib
//! takes `-la PATH` as one name: `550`) but answer `STAT PATH` with the folder's listing —
//! without the folder's own `.` entry, the proof `STAT -la` listings give that a reply lists a
//! folder and not a single file.
//!
//! Without that proof a reply is trusted only as far as it can be told from a file's: the
//! folders asked about are folders by their parent's listing (or the plan), a missing one is
//! answered with an error, and a file's reply is one entry named like the path (or the path
//! itself, which no listed name can be). So a reply of exactly one entry named like the folder
//! (in any case), one with any entry the listing cannot take (a symbolic link, a bad name: the
//! data-connection listing judges those, as it always did here), and one not wholly
//! understood are no listing: that folder is listed on a data connection.
//!
//! What the server does is probed, never assumed from its name: once `STAT -la` was refused
//! (as for a missing path), a listing of folders asks plain `STAT` of them, plus a path that
//! cannot exist, and lists them on data connections as before, comparing each with its `STAT`
//! reply. Plain `STAT` is used from then on only once a folder's listing named exactly the
//! same entries (kinds and sizes too) both ways, a hidden one among them (a server whose
//! `STAT` runs a plain `ls` hides them: pure-ftpd does), and the missing path was refused
//! (pure-ftpd lists a missing path as an empty folder). A difference ends the probing for the
//! run; so do [`PROBES`] probes that prove nothing (folders without hidden entries).
//!
//! A connection asks its replies' times (`MDTM`) before any proof, where its replies can prove
//! (one shows a hidden entry) or another connection is proving; one connection proves at a
//! time ([`Learning::claim_proof`]), and the others take its verdict. The proof is of how the
//! server lists, so it holds for replies got before it as for those after (as it always did
//! for the rest of the prover's own batch). Each of eight connections proving for itself
//! before asking its times held up all eight by a data-connection listing. Where the server
//! takes it, a probe's first folder is listed on a data connection behind the probe, in its
//! write (`Session::read_behind`): that connection proves at no cost once answered, and those
//! without such a listing (the scan's main one keeps its data connection for the lock) wait
//! for its verdict ([`Learning::reading_proof`]).

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::learned::{self, unsupported};
use super::listing::{Format, Parsed, parse_listing};
use super::wire::Reply;
use crate::model::Kind;
use crate::model::listing::{Listing, TEMP_PREFIX};

/// How a folder is asked for its listing over the control connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `STAT -la PATH`: trusted when it shows the folder's own `.` entry.
    Dotted,
    /// `STAT PATH`: trusted as [`read_plain`] says.
    Plain,
}

impl Form {
    pub fn command(self, dir: &str) -> String {
        match self {
            Form::Dotted => format!("STAT -la {dir}"),
            Form::Plain => format!("STAT {dir}"),
        }
    }
}

/// What the server's `STAT` has shown so far, shared by all connections of a target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Not asked yet: the first listing asks `STAT -la`.
    #[default]
    Unknown,
    /// `STAT -la` lists.
    Dotted,
    /// `STAT -la` was refused: `STAT PATH` is compared with data-connection listings, at most
    /// `probes` more times.
    Probing { probes: u8 },
    /// `STAT PATH` lists as proven by the probe.
    Plain,
    /// Folders are listed on data connections.
    No,
}

/// How many probes may end undecided (no folder with a hidden entry) before plain `STAT` is
/// given up.
pub const PROBES: u8 = 3;

impl Mode {
    /// The form of `STAT` to list with, where folders are listed that way (or it is not known
    /// yet whether they are).
    pub fn form(self) -> Option<Form> {
        match self {
            Mode::Unknown | Mode::Dotted => Some(Form::Dotted),
            Mode::Plain => Some(Form::Plain),
            Mode::Probing { .. } | Mode::No => None,
        }
    }
}

/// The shared [`Mode`] and how it is learnt.
#[derive(Default)]
pub struct Learning {
    state: Mutex<State>,
    /// Signalled when the mode changes or a proof ends.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    mode: Mode,
    /// A connection is proving plain `STAT` ([`Learning::claim_proof`]).
    proving: bool,
    /// Probes on their way with their first folder's listing behind them
    /// ([`Learning::reading_proof`]).
    reading: usize,
}

impl State {
    /// A proof is under way, or can be made at once when a probe is answered: one worth
    /// waiting for while plain `STAT` is on probation.
    fn proof_coming(&self) -> bool {
        self.proving || self.reading > 0
    }
}

/// The right to prove plain `STAT`, held by one connection at a time; given back when dropped
/// (a proof that ended, or failed on the way: another connection may prove then).
pub struct ProofClaim<'a>(&'a Learning);

impl Drop for ProofClaim<'_> {
    fn drop(&mut self) {
        self.0.state().proving = false;
        self.0.changed.notify_all();
    }
}

/// A probe on its way with its first folder's listing behind it; dropped once it proved or
/// claimed the proof ([`Learning::reading_proof`]).
pub struct ReadingProof<'a>(&'a Learning);

impl Drop for ReadingProof<'_> {
    fn drop(&mut self) {
        self.0.state().reading -= 1;
        self.0.changed.notify_all();
    }
}

/// What the replies to one batch of `STAT -la` showed.
pub enum Dotted {
    /// At least one listing.
    Listed,
    /// Every folder answered as a missing path (pyftpdlib's `550`: it takes `-la PATH` as one
    /// name).
    AllMissing,
    /// Neither: no listing here.
    NotListed,
}

impl Learning {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self) -> Mode {
        self.state().mode
    }

    /// Claims the proof of plain `STAT` while it is on probation and no other connection is
    /// proving it; `None` otherwise.
    pub fn claim_proof(&self) -> Option<ProofClaim<'_>> {
        let mut state = self.state();
        let free = matches!(state.mode, Mode::Probing { .. }) && !state.proving;
        state.proving |= free;
        drop(state);
        // Lazily: a claim made and dropped would give the right back.
        free.then(|| ProofClaim(self))
    }

    /// Whether a connection is proving plain `STAT` now, or can prove at once when its probe
    /// is answered ([`Learning::reading_proof`]).
    pub fn proving(&self) -> bool {
        self.state().proof_coming()
    }

    /// Says that a probe is on its way with its first folder's listing behind it (until the
    /// guard is dropped): it can prove at no cost once answered, so the connections without
    /// such a listing wait for its verdict ([`Learning::after_proof`]) instead of proving on a
    /// data connection of their own.
    pub fn reading_proof(&self) -> ReadingProof<'_> {
        self.state().reading += 1;
        ReadingProof(self)
    }

    /// The mode once no other connection is proving plain `STAT` or about to (waiting at most
    /// `limit` for its proof: a data-connection listing, bounded by the same --timeout).
    pub fn after_proof(&self, limit: Duration) -> Mode {
        let state = self.state();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, limit, |s| s.proof_coming() && matches!(s.mode, Mode::Probing { .. }))
            .unwrap_or_else(|e| e.into_inner());
        state.mode
    }

    /// Learns from the first batch of `STAT -la` (later ones, on other connections, change
    /// nothing).
    pub fn learn_dotted(&self, seen: Dotted) {
        let mut state = self.state();
        let mode = &mut state.mode;
        if *mode != Mode::Unknown {
            return;
        }
        *mode = match seen {
            Dotted::Listed => {
                learned::chose!("ftp: folders listed over the control connection (STAT -la), several per round trip");
                Mode::Dotted
            }
            Dotted::AllMissing => {
                learned::chose!("ftp: STAT -la refused: probing whether STAT lists folders without options");
                Mode::Probing { probes: PROBES }
            }
            Dotted::NotListed => {
                learned::chose!("ftp: STAT does not list folders here: each folder is listed on a data connection");
                Mode::No
            }
        };
    }

    /// Learns from one probe ([`verdict`]). A difference wins over a proof another connection
    /// may have found meanwhile: from then on every folder is listed on a data connection.
    pub fn learn_plain(&self, verdict: Verdict) {
        let mut state = self.state();
        let mode = &mut state.mode;
        match (verdict, *mode) {
            (Verdict::Differs(why), m) if m != Mode::No => {
                learned::chose!(
                    "ftp: STAT without options does not list folders as MLSD/LIST do ({why}): each folder is listed on a data connection"
                );
                *mode = Mode::No;
            }
            (Verdict::Proven, Mode::Probing { .. }) => {
                learned::chose!(
                    "ftp: folders listed over the control connection (STAT without options), several per round trip"
                );
                *mode = Mode::Plain;
            }
            (Verdict::Undecided, Mode::Probing { probes }) => {
                *mode = if probes > 1 {
                    Mode::Probing { probes: probes - 1 }
                } else {
                    learned::chose!(
                        "ftp: STAT without options not proven to list hidden entries: each folder is listed on a data connection"
                    );
                    Mode::No
                };
            }
            _ => {}
        }
        drop(state);
        self.changed.notify_all();
    }
}

/// What a plain `STAT PATH` reply says about the folder `dir`.
#[derive(Clone, Debug)]
pub enum Plain {
    /// The folder's listing (not yet settled: see `ops::settle_listing`).
    Listed(Parsed),
    /// An error reply (a missing folder: the data-connection listing finds out).
    Refused(u16),
    /// Not shaped as a `STAT` listing at all (no multi-line `211`–`213` reply).
    NotListing,
    /// No listing ftpsync can tell from a file's, or not wholly understood.
    Unsure,
}

impl Plain {
    /// The reply's listing, where it is one.
    pub fn into_listing(self) -> Option<Parsed> {
        match self {
            Plain::Listed(parsed) => Some(parsed),
            Plain::Refused(_) | Plain::NotListing | Plain::Unsure => None,
        }
    }

    /// Whether the reply lists a hidden entry: only such a folder's listing can prove plain
    /// `STAT` ([`judge`]).
    pub fn shows_hidden(&self) -> bool {
        matches!(self, Plain::Listed(p) if any_hidden(&p.listing))
    }
}

fn any_hidden(listing: &Listing) -> bool {
    listing.entries.iter().any(|e| e.name.starts_with('.'))
}

/// Reads a plain `STAT dir` reply (see the module's documentation).
pub fn read_plain(reply: &Reply, dir: &str, now: f64) -> Plain {
    if reply.code >= 400 {
        return Plain::Refused(reply.code);
    }
    let Some(body) = stat_lines(reply) else { return Plain::NotListing };
    let payload: Vec<u8> = body.iter().flat_map(|l| l.iter().chain(b"\n")).copied().collect();
    let Ok(parsed) = parse_listing(&payload, Format::List, now) else { return Plain::Unsure };
    if !parsed.listing.skipped.is_empty() {
        return Plain::Unsure;
    }
    let own = dir.rsplit('/').next().unwrap_or_default();
    if let [only] = parsed.listing.entries.as_slice()
        && only.name.eq_ignore_ascii_case(own)
    {
        return Plain::Unsure;
    }
    Plain::Listed(parsed)
}

/// The replies of one probe: each folder's, and the missing path's.
pub struct Probe {
    pub folders: Vec<Plain>,
    pub absent: Plain,
    /// The times asked ahead with the probe ([`super::ahead`]), for the folders' listings.
    pub ahead: super::ahead::TimesAhead,
}

/// A path in the folder `dir` that does not exist: ftpsync's temporary names are its own, and
/// this one carries no counter any temporary file has.
pub fn absent_path(dir: &str) -> String {
    format!("{}/{TEMP_PREFIX}absent-{}", dir.trim_end_matches('/'), std::process::id())
}

/// The lines between the first and the last of a multi-line `STAT` reply (none for an empty
/// folder's, where the server lists no `.`). proftpd starts every one of them with a space
/// (RFC 959 lets a server indent a multi-line reply's inner lines so that none can pass for
/// its last); a listing line itself never starts with one (it starts with the entry's type and
/// permissions), so one leading space shared by all lines is the indentation and is taken off.
pub(super) fn stat_lines(reply: &Reply) -> Option<Vec<&[u8]>> {
    if !(211..=213).contains(&reply.code) || reply.lines.len() < 2 {
        return None;
    }
    let body = &reply.lines[1..reply.lines.len() - 1];
    let indented = body.iter().all(|l| l.first() == Some(&b' '));
    Some(body.iter().map(|l| if indented { &l[1..] } else { l.as_slice() }).collect())
}

/// What a probe proved.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Same listings, a hidden entry among them, the missing path refused.
    Proven,
    /// Nothing against plain `STAT`, but no hidden entry to prove it shows them.
    Undecided,
    /// Plain `STAT` lists otherwise than the data connection (why).
    Differs(String),
}

/// What the reply to the path that cannot exist ([`absent_path`]) says: nothing against plain
/// `STAT` if it was refused (not as "not implemented").
pub fn judge_absent(absent: &Plain) -> Verdict {
    match absent {
        Plain::Refused(c) if !unsupported(*c) => Verdict::Undecided,
        _ => Verdict::Differs("a missing path was not refused".into()),
    }
}

/// What one folder's plain `STAT` reply says against its data-connection listing (`None`:
/// missing): proven by the same entries with a hidden one among them.
pub fn judge(plain: &Plain, listing: Option<&Listing>, dir: &str) -> Verdict {
    match (plain, listing) {
        (Plain::Listed(_), None) => Verdict::Differs(format!("{dir} is listed but missing")),
        (Plain::Refused(c), Some(_)) => Verdict::Differs(format!("{dir} was answered {c}")),
        (Plain::NotListing, Some(_)) => Verdict::Differs(format!("{dir} was answered without a listing")),
        (Plain::Listed(p), Some(l)) => match differences(&p.listing, l) {
            Some(why) => Verdict::Differs(format!("{dir}: {why}")),
            None if any_hidden(&p.listing) => Verdict::Proven,
            None => Verdict::Undecided,
        },
        _ => Verdict::Undecided,
    }
}

/// How a plain `STAT` listing (unsettled, without skipped entries) differs from the
/// data-connection listing of the same folder: names, kinds, file sizes (times are only as
/// precise as a minute there, and asked with `MDTM` anyway).
fn differences(stat: &Listing, data: &Listing) -> Option<String> {
    if !data.skipped.is_empty() {
        return Some(format!("the data connection's listing skips {}", data.skipped[0].name));
    }
    let ours: BTreeSet<(&str, Kind, u64)> = stat.entries.iter().map(|e| (e.name.as_str(), e.kind, size(e))).collect();
    let theirs: BTreeSet<(&str, Kind, u64)> =
        data.entries.iter().chain(&data.temporary).map(|e| (e.name.as_str(), e.kind, size(e))).collect();
    let odd = ours.difference(&theirs).next().map(|e| ("STAT", e));
    let odd = odd.or_else(|| theirs.difference(&ours).next().map(|e| ("the data connection", e)));
    odd.map(|(side, (name, kind, size))| format!("only {side} shows {name:?} ({kind:?}, {size} bytes)"))
}

fn size(e: &crate::model::Entry) -> u64 {
    if e.kind == Kind::File { e.size } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    /// 2026-12-07T04:00:00Z: the replies below were recorded a few minutes before.
    const NOW: f64 = 1_796_616_000.0;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply { code, lines: lines.iter().map(|l| l.as_bytes().to_vec()).collect() }
    }

    /// pyftpdlib 2.2.0's answer to `STAT /probe/full` (a folder with a hidden file, a sub-folder
    /// and a name with a space), as recorded.
    fn pyftpdlib_folder() -> Reply {
        reply(
            213,
            &[
                "213-Status of \"/probe/full\":",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        2 Dec 07 03:50 .hidden",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        1 Dec 07 03:50 a.txt",
                "drwxr-xr-x   2 ftpsync-ci ftpsync-ci     4096 Dec 07 03:50 sub",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        1 Dec 07 03:50 with space",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        1 Dec 07 03:52  lead",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        1 Dec 07 03:52 trail ",
                "213 End of status.",
            ],
        )
    }

    fn listed(p: Plain) -> Parsed {
        match p {
            Plain::Listed(parsed) => parsed,
            other => panic!("expected a listing, got {other:?}"),
        }
    }

    fn names(l: &Listing) -> Vec<&str> {
        l.entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn a_folders_reply_is_its_listing_hidden_entries_and_odd_names_included() {
        let parsed = listed(read_plain(&pyftpdlib_folder(), "/probe/full", NOW));
        assert_eq!(names(&parsed.listing), [".hidden", "a.txt", "sub", "with space", " lead", "trail "]);
        let sub = &parsed.listing.entries[2];
        assert_eq!((sub.kind, sub.size), (Kind::Dir, 0));
        assert_eq!(parsed.listing.entries[0].size, 2);
        // Minutes only: the caller asks `MDTM` of every file.
        assert!(parsed.details.values().all(|d| d.precision != super::super::listing::Precision::Second));
    }

    #[test]
    fn an_empty_folders_reply_is_an_empty_listing() {
        let empty = reply(213, &["213-Status of \"/probe/empty\":", "213 End of status."]);
        assert!(listed(read_plain(&empty, "/probe/empty", NOW)).listing.entries.is_empty());
        // A one-line reply lists nothing at all.
        assert!(matches!(
            read_plain(&reply(211, &["211 FTP server status ok"]), "/probe/empty", NOW),
            Plain::NotListing
        ));
    }

    #[test]
    fn a_missing_paths_reply_is_refused() {
        let missing = reply(550, &["550 No such file or directory."]);
        assert!(matches!(read_plain(&missing, "/probe/missing", NOW), Plain::Refused(550)));
    }

    #[test]
    fn a_reply_that_could_be_a_files_is_no_listing() {
        // pyftpdlib's answer for the file /probe/file.txt...
        let file = reply(
            213,
            &[
                "213-Status of \"/probe/file.txt\":",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        3 Dec 07 03:50 file.txt",
                "213 End of status.",
            ],
        );
        assert!(matches!(read_plain(&file, "/probe/file.txt", NOW), Plain::Unsure));
        // ...cannot be told from that of a folder whose one entry has the folder's name (in
        // any case), and a server that names the file by its path (inetutils, pure-ftpd)...
        let same = reply(
            213,
            &[
                "213-Status of \"/probe/same\":",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        2 Dec 07 03:50 same",
                "213 End of status.",
            ],
        );
        assert!(matches!(read_plain(&same, "/probe/same", NOW), Plain::Unsure));
        assert!(matches!(read_plain(&same, "/probe/SAME", NOW), Plain::Unsure));
        let by_path = reply(
            211,
            &[
                "211- status of /probe/file.txt:",
                "-rw-r--r--  1 u  g  3 Dec  7 03:51 /probe/file.txt",
                "211 End of Status",
            ],
        );
        assert!(matches!(read_plain(&by_path, "/probe/file.txt", NOW), Plain::Unsure));
        // ...while one entry of another name can only be a folder's (the path is asked as a
        // folder: a file's reply names the file).
        let one = reply(
            213,
            &[
                "213-Status of \"/probe/onefile\":",
                "-rw-r--r--   1 ftpsync-ci ftpsync-ci        1 Dec 07 03:50 x",
                "213 End of status.",
            ],
        );
        assert_eq!(names(&listed(read_plain(&one, "/probe/onefile", NOW)).listing), ["x"]);
    }

    #[test]
    fn a_reply_not_wholly_understood_or_with_odd_entries_is_no_listing() {
        let mut error_text = pyftpdlib_folder();
        error_text.lines.insert(2, b"ls: cannot access 'gone': No such file or directory".to_vec());
        assert!(matches!(read_plain(&error_text, "/probe/full", NOW), Plain::Unsure));
        // A symbolic link: the data-connection listing judges it (pyftpdlib's MLSD follows it).
        let mut link = pyftpdlib_folder();
        link.lines.insert(2, b"lrwxrwxrwx   1 ftpsync-ci ftpsync-ci        5 Dec 07 03:50 l -> a.txt".to_vec());
        assert!(matches!(read_plain(&link, "/probe/full", NOW), Plain::Unsure));
        // A name with " -> " is ambiguous in a LIST line.
        let mut arrow = pyftpdlib_folder();
        arrow.lines.insert(2, b"-rw-r--r--   1 ftpsync-ci ftpsync-ci        1 Dec 07 03:52 a -> b".to_vec());
        assert!(matches!(read_plain(&arrow, "/probe/full", NOW), Plain::Unsure));
    }

    #[test]
    fn stat_lines_lose_proftpds_indentation_only() {
        // proftpd 1.3.8: every inner line indented by one space.
        let proftpd = reply(
            212,
            &[
                "212-Status of /site:",
                " drwxr-xr-x   2 bench    994          4096 Dec  6 21:44 .",
                " -rw-r--r--   1 bench    994          4096 Dec  6 21:44  two spaces",
                "212 End of status",
            ],
        );
        let body = stat_lines(&proftpd).expect("a listing");
        assert_eq!(body[0], b"drwxr-xr-x   2 bench    994          4096 Dec  6 21:44 .");
        assert_eq!(body[1], b"-rw-r--r--   1 bench    994          4096 Dec  6 21:44  two spaces");
        // pure-ftpd: not indented; a line that starts otherwise keeps its bytes.
        let pure = reply(213, &["213-STAT", "drwxr-xr-x 2 a b 4096 Dec 6 21:44 .", " odd line", "213 End."]);
        let body = stat_lines(&pure).expect("a listing");
        assert_eq!(body, vec![&b"drwxr-xr-x 2 a b 4096 Dec 6 21:44 ."[..], &b" odd line"[..]]);
        assert!(stat_lines(&reply(212, &["212 nothing"])).is_none());
    }

    fn entry(name: &str, kind: Kind, size: u64) -> Entry {
        Entry { name: name.into(), kind, size, mtime: 1.0, changed: None, unique: None }
    }

    /// What `MLSD` shows of the folder of [`pyftpdlib_folder`].
    fn mlsd_full() -> Listing {
        Listing {
            entries: vec![
                entry(".hidden", Kind::File, 2),
                entry("a.txt", Kind::File, 1),
                entry("sub", Kind::Dir, 0),
                entry("with space", Kind::File, 1),
                entry(" lead", Kind::File, 1),
                entry("trail ", Kind::File, 1),
            ],
            ..Listing::default()
        }
    }

    fn refused() -> Reply {
        reply(550, &["550 No such file or directory."])
    }

    fn judged(folder: Reply, data: Option<&Listing>) -> Verdict {
        judge(&read_plain(&folder, "/probe/full", NOW), data, "/probe/full")
    }

    #[test]
    fn plain_stat_is_proven_by_the_same_entries_hidden_ones_included() {
        assert_eq!(judged(pyftpdlib_folder(), Some(&mlsd_full())), Verdict::Proven);
        assert_eq!(judge_absent(&read_plain(&refused(), "/x/absent", NOW)), Verdict::Undecided);
        // No hidden entry: nothing proves STAT shows them.
        let mut plain = pyftpdlib_folder();
        plain.lines.remove(1);
        let mut mlsd = mlsd_full();
        mlsd.entries.remove(0);
        assert_eq!(judged(plain, Some(&mlsd)), Verdict::Undecided);
    }

    #[test]
    fn plain_stat_that_hides_entries_or_lists_missing_paths_is_refused() {
        // pure-ftpd's STAT without options hides dot files.
        let mut hides = pyftpdlib_folder();
        hides.lines.remove(1);
        let v = judged(hides, Some(&mlsd_full()));
        assert!(matches!(v, Verdict::Differs(ref why) if why.contains(".hidden")), "{v:?}");
        // pure-ftpd lists a missing path as an empty folder; twisted does not implement STAT.
        let empty = reply(213, &["213-STAT", "213 End."]);
        assert!(matches!(judge_absent(&read_plain(&empty, "/x/absent", NOW)), Verdict::Differs(_)));
        let twisted = reply(502, &["502 Command 'STAT' not implemented"]);
        assert!(matches!(judge_absent(&read_plain(&twisted, "/x/absent", NOW)), Verdict::Differs(_)));
        // A listing of a folder the data connection does not find, a size that differs, a
        // folder refused although it exists.
        assert!(matches!(judged(pyftpdlib_folder(), None), Verdict::Differs(_)));
        let mut bigger = mlsd_full();
        bigger.entries[1].size = 7;
        let v = judged(pyftpdlib_folder(), Some(&bigger));
        assert!(matches!(v, Verdict::Differs(ref why) if why.contains("a.txt")), "{v:?}");
        assert!(matches!(judged(refused(), Some(&mlsd_full())), Verdict::Differs(_)));
        // The built-in server (libunftp) answers with `200` and the lines of a listing, the
        // first of them on the reply's first line: no STAT listing.
        let libunftp = reply(
            200,
            &[
                "200--rw-r--r--            1            0            0              5 Dec 07 04:11 a.txt",
                "200 drwxr-xr-x            2            0            0           4096 Dec 07 04:11 sub",
            ],
        );
        let v = judged(libunftp, Some(&mlsd_full()));
        assert!(matches!(v, Verdict::Differs(ref why) if why.contains("without a listing")), "{v:?}");
        // A folder missing both ways, or a reply that could be a file's, says nothing.
        assert_eq!(judged(refused(), None), Verdict::Undecided);
        let one = reply(213, &["213-Status:", "-rw-r--r--   1 a b        2 Dec 07 03:50 full", "213 End of status."]);
        assert_eq!(judged(one, Some(&mlsd_full())), Verdict::Undecided);
    }

    #[test]
    fn the_mode_is_learnt_once_and_a_difference_ends_plain_stat() {
        let learning = Learning::default();
        assert_eq!(learning.get().form(), Some(Form::Dotted));
        learning.learn_dotted(Dotted::AllMissing);
        assert_eq!(learning.get(), Mode::Probing { probes: PROBES });
        assert_eq!(learning.get().form(), None);
        // Another connection's first batch changes nothing.
        learning.learn_dotted(Dotted::Listed);
        assert_eq!(learning.get(), Mode::Probing { probes: PROBES });
        learning.learn_plain(Verdict::Undecided);
        learning.learn_plain(Verdict::Proven);
        assert_eq!(learning.get().form(), Some(Form::Plain));
        learning.learn_plain(Verdict::Differs("a difference".into()));
        assert_eq!(learning.get(), Mode::No);
        learning.learn_plain(Verdict::Proven);
        assert_eq!(learning.get(), Mode::No);
        // Probes without a hidden entry end in data-connection listings.
        let learning = Learning::default();
        learning.learn_dotted(Dotted::AllMissing);
        for _ in 0..PROBES {
            learning.learn_plain(Verdict::Undecided);
        }
        assert_eq!(learning.get(), Mode::No);
        let learning = Learning::default();
        learning.learn_dotted(Dotted::NotListed);
        assert_eq!(learning.get(), Mode::No);
    }

    #[test]
    fn one_connection_proves_at_a_time_and_only_while_probing() {
        let learning = Learning::default();
        assert!(learning.claim_proof().is_none(), "nothing to prove before STAT -la was refused");
        learning.learn_dotted(Dotted::AllMissing);
        assert!(!learning.proving());
        let first = learning.claim_proof().expect("the first connection proves");
        assert!(learning.proving());
        assert!(learning.claim_proof().is_none(), "the others take its verdict");
        assert!(learning.claim_proof().is_none(), "a claim refused gives no right back");
        // A proof that ended undecided (or failed) gives the claim back.
        learning.learn_plain(Verdict::Undecided);
        drop(first);
        let second = learning.claim_proof().expect("another connection proves next");
        learning.learn_plain(Verdict::Proven);
        drop(second);
        assert!(learning.claim_proof().is_none(), "proven: nothing left to prove");
    }

    #[test]
    fn a_connection_waits_for_a_probe_that_reads_its_proof_and_proves_itself_after() {
        let learning = Learning::default();
        learning.learn_dotted(Dotted::AllMissing);
        let reading = learning.reading_proof();
        assert!(learning.proving(), "a probe on its way with its listing can prove");
        std::thread::scope(|s| {
            let waiting = s.spawn(|| learning.after_proof(Duration::from_secs(60)));
            std::thread::sleep(Duration::from_millis(50));
            // The probe is answered: it claims the proof, then lets go of its reading.
            let claim = learning.claim_proof().expect("nobody else is proving");
            drop(reading);
            std::thread::sleep(Duration::from_millis(20));
            assert!(!waiting.is_finished(), "the claim is waited for as the reading was");
            learning.learn_plain(Verdict::Proven);
            drop(claim);
            assert_eq!(waiting.join().unwrap(), Mode::Plain);
        });
        // A probe whose listing proved nothing ends the wait, undecided: the others prove.
        let learning = Learning::default();
        learning.learn_dotted(Dotted::AllMissing);
        let reading = learning.reading_proof();
        std::thread::scope(|s| {
            let waiting = s.spawn(|| learning.after_proof(Duration::from_secs(60)));
            std::thread::sleep(Duration::from_millis(50));
            drop(reading);
            assert_eq!(waiting.join().unwrap(), Mode::Probing { probes: PROBES });
        });
        assert!(!learning.proving());
        assert!(learning.claim_proof().is_some());
    }

    #[test]
    fn a_connection_waits_for_the_proof_in_flight_and_no_longer() {
        let learning = Learning::default();
        learning.learn_dotted(Dotted::AllMissing);
        // Nobody proving: the mode as it is, at once.
        assert_eq!(learning.after_proof(Duration::from_secs(60)), Mode::Probing { probes: PROBES });
        let claim = learning.claim_proof().unwrap();
        std::thread::scope(|s| {
            let waiting = s.spawn(|| learning.after_proof(Duration::from_secs(60)));
            std::thread::sleep(Duration::from_millis(50));
            learning.learn_plain(Verdict::Proven);
            assert_eq!(waiting.join().unwrap(), Mode::Plain);
        });
        drop(claim);
        // A proof that never ends is waited for only as long as the limit.
        let learning = Learning::default();
        learning.learn_dotted(Dotted::AllMissing);
        let _claim = learning.claim_proof().unwrap();
        assert_eq!(learning.after_proof(Duration::from_millis(20)), Mode::Probing { probes: PROBES });
        // A proof given up (its connection failed) ends the wait, undecided.
        let learning = Learning::default();
        learning.learn_dotted(Dotted::AllMissing);
        let claim = learning.claim_proof().unwrap();
        std::thread::scope(|s| {
            let waiting = s.spawn(|| learning.after_proof(Duration::from_secs(60)));
            std::thread::sleep(Duration::from_millis(50));
            drop(claim);
            assert_eq!(waiting.join().unwrap(), Mode::Probing { probes: PROBES });
        });
    }

    #[test]
    fn only_a_reply_showing_a_hidden_entry_can_prove() {
        assert!(read_plain(&pyftpdlib_folder(), "/probe/full", NOW).shows_hidden());
        let mut plain = pyftpdlib_folder();
        plain.lines.remove(1);
        assert!(!read_plain(&plain, "/probe/full", NOW).shows_hidden());
        assert!(!read_plain(&refused(), "/probe/full", NOW).shows_hidden());
    }
}
