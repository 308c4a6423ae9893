//! What one session does on the server, each in as few round trips as the protocol allows:
//! listing a folder (`EPSV` and `MLSD` in one write; `MDTM`s of a `LIST` in one batch), looking
//! up one entry (`MLST`), reading and appending small files, renaming over an existing file.

use std::io::Read;

use anyhow::Result;

use super::ahead::{TimesAhead, mdtm_command};
use super::errors::{broken, failed, refused};
use super::learned::{Capability, unsupported};
use super::list_method::{Command, ListMethod};
use super::listing::{self, Format, Precision, parse_listing, parse_mlsd_line};
use super::mtime::parse_mdtm;
use super::plain_stat::{Form, Probe, read_plain, stat_lines};
use super::session::Session;
use super::wire::{Direction, Failure, Reply};
use crate::backend::{Transient, Unreadable, unreadable_of};
use crate::model::Clock;
use crate::model::listing::{Listing, is_temp_name};
use crate::model::{Entry, Kind, Skipped, SystemClock};

/// Replies meaning "no such file or folder" (or not allowed to see it).
pub fn missing(code: u16) -> bool {
    matches!(code, 450 | 501 | 550)
}

/// A data connection that remembers a network failure, so that an error the other end of
/// the copy (the sink of a download, the copy of an upload) returns because of it is known
/// as the connection's (transient), not as that of the local file.
pub struct Watched<S> {
    inner: S,
    failed: Option<(std::io::ErrorKind, String)>,
}

impl<S> Watched<S> {
    pub fn new(inner: S) -> Self {
        Watched { inner, failed: None }
    }

    /// The remembered failure, as the transient error of `doing`.
    pub fn failure(&mut self, doing: &str) -> Option<anyhow::Error> {
        let (kind, text) = self.failed.take()?;
        Some(broken(std::io::Error::new(kind, text), doing))
    }

    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        r.inspect_err(|e| self.failed = Some((e.kind(), e.to_string())))
    }
}

impl<S: Read> Read for Watched<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.inner.read(buf);
        self.note(r)
    }
}

impl<S: std::io::Write> std::io::Write for Watched<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

/// Reads what a download command (`RETR`, `MLSD`, `LIST`) sends, or what it sent behind a
/// batch ([`Session::read_behind`]). `Ok(Err(reply))` when the server refused the command (or
/// ended it with an error after the data).
pub fn fetch(s: &mut Session, cmd: &str, doing: &str) -> Result<std::result::Result<Vec<u8>, Reply>> {
    match s.take_read(cmd) {
        Some(got) => Ok(got),
        None => s.download(cmd, doing),
    }
}

/// Lists a folder; `None` if it does not exist. After a `LIST`, the exact time of files is
/// asked with `MDTM` (all in one batch): of every file, or only of the file named `only` (a
/// lookup must not cost one command per file of its folder).
///
/// No argument a server can misread: servers that hand the argument of `LIST` to `ls` split
/// it at blanks and expand `*`, `[`..., and take a leading `-` as options. So the folder is
/// entered (`CWD`, whose argument is the rest of the line everywhere) and listed without a
/// path; only `MLSD` (whose argument is one path, RFC 3659) gets a path, and only a plain one
/// ([`stat_safe`]), which saves the `CWD` round trip for most folders.
///
/// A listing that is not wholly understood, cut short, or refused although the folder can be
/// entered is an [`Unreadable`] error, never an empty or partial listing.
pub fn list(s: &mut Session, abs: &str, only: Option<&str>, method: &ListMethod) -> Result<Option<Listing>> {
    // A listing not understood is read again before the folder is judged unreadable: servers
    // that run `ls` print error text when an entry vanishes between reading the folder and
    // looking at the entry (`ls: cannot access '.ftpsync-tmp-…'`: one of our own uploads was
    // just renamed into place by another connection). A later reading that is wholly
    // understood is as trustworthy as any; one that is not, is what the folder looks like.
    let mut reading = 1;
    loop {
        match list_once(s, abs, only, method) {
            Err(e) if reading < READINGS && unreadable_of(&e).is_some_and(|u| !u.again) => reading += 1,
            other => return other,
        }
    }
}

/// How many times a listing that is not understood is read before its folder is unreadable.
const READINGS: u32 = 3;

/// One reading of [`list`].
fn list_once(s: &mut Session, abs: &str, only: Option<&str>, method: &ListMethod) -> Result<Option<Listing>> {
    let doing = format!("listing {abs}");
    let mut cmd = method.first(s.features.mlsd);
    let mut entered = false;
    let mut refused_before: Option<Command> = None;
    let data = loop {
        let by_path = cmd == Command::Mlsd && stat_safe(abs);
        if !by_path && !entered {
            if !enter(s, abs, &doing)? {
                return Ok(None);
            }
            entered = true;
        }
        let text = if by_path { format!("{} {abs}", cmd.text()) } else { cmd.text().to_string() };
        match fetch(s, &text, &doing)? {
            Ok(data) => {
                if let Some(before) = refused_before {
                    method.list_worked_after(before);
                }
                break data;
            }
            Err(r) => {
                if let Some(next) = method.after(cmd, r.code) {
                    refused_before = Some(cmd);
                    cmd = next;
                    continue;
                }
                if !missing(r.code) {
                    return Err(refused(&r, &format!("cannot list {abs}")));
                }
                // Missing, or not listable? Only a folder we can enter exists.
                if !entered && !enter(s, abs, &doing)? {
                    return Ok(None);
                }
                // A folder that exists but could not be listed: some servers (libunftp) fail a
                // listing when an entry vanishes while they read it, so it is tried again.
                let why = format!("{} was answered {}", cmd.text(), r.text());
                return Err(unreadable(method, abs, why, true));
            }
        }
    };
    let format = if cmd == Command::Mlsd { Format::Mlsd } else { Format::List };
    let parsed = parse_listing(&data, format, SystemClock.now()).map_err(|why| unreadable(method, abs, why, false))?;
    let mut listing = parsed.listing.clone();
    settle_listing(s, &parsed, &mut listing, only);
    if format == Format::List && s.features.mdtm {
        // LIST shows minutes at best: ask for the exact time of each file (one batch).
        let vague = vague_files(&listing, &parsed.details, only);
        let cmds: Vec<String> = vague.iter().map(|n| mdtm_command(abs, n)).collect();
        let replies = s.batch(&cmds, "MDTM")?;
        pin_times(&mut listing, &vague, &replies)?;
        note_mdtm_refusal(s, &replies);
    }
    Ok(Some(listing))
}

/// The error of a folder whose listing cannot be trusted.
fn unreadable(method: &ListMethod, abs: &str, why: String, again: bool) -> anyhow::Error {
    anyhow::Error::new(Unreadable { folder: abs.to_string(), server: method.server.clone(), why, again })
}

/// Enters a folder to list it (`CWD`); false if it cannot be entered (missing). Where the
/// server takes commands in a row, the listing's data connection is announced in the same
/// write (`EPSV`), so entering costs no round trip of its own.
fn enter(s: &mut Session, abs: &str, doing: &str) -> Result<bool> {
    s.expect_transfer();
    let replies = s.batch(&[format!("CWD {abs}")], doing)?;
    match replies[0].code {
        c if (200..400).contains(&c) => Ok(true),
        c if missing(c) => Ok(false),
        _ => Err(refused(&replies[0], &format!("cannot enter {abs}"))),
    }
}

/// Remembers that the server does not implement `MDTM`, if it answered one of `replies` so:
/// the times its listings show are used from then on.
fn note_mdtm_refusal(s: &mut Session, replies: &[Reply]) {
    if let Some(r) = replies.iter().find(|r| unsupported(r.code)) {
        s.refuse(Capability::Mdtm, &r.text());
    }
}

/// Files of a `LIST` listing whose time is not exact to the second (all, or only `only`).
fn vague_files(
    listing: &Listing,
    details: &std::collections::BTreeMap<String, listing::Details>,
    only: Option<&str>,
) -> Vec<String> {
    listing
        .entries
        .iter()
        .filter(|e| e.kind == Kind::File && only.is_none_or(|n| e.name == n))
        .filter(|e| details.get(&e.name).is_some_and(|d| d.precision != Precision::Second))
        .map(|e| e.name.clone())
        .collect()
}

/// Sets the exact times `MDTM` gave for `names`. A file whose time the server refuses or
/// garbles cannot be compared: it is skipped, not the listing. A server that does not
/// implement `MDTM` at all (`500`, `502`) leaves the listing's time.
fn pin_times(listing: &mut Listing, names: &[String], replies: &[Reply]) -> Result<()> {
    let mut unknown = Vec::new();
    for (name, reply) in names.iter().zip(replies) {
        let why = match parse_mdtm(reply) {
            Some(t) => match listing::checked_mtime(t as f64) {
                Ok(t) => {
                    if let Some(e) = listing.entries.iter_mut().find(|e| &e.name == name) {
                        e.mtime = t;
                    }
                    continue;
                }
                Err(reason) => format!("MDTM: {reason}"),
            },
            None if unsupported(reply.code) => continue,
            None if reply.code == 213 => "MDTM: the server's answer is not a time".into(),
            None if reply.code >= 500 => format!("MDTM: the server answered {}", reply.text()),
            None => return Err(refused(reply, &format!("MDTM {name}"))),
        };
        unknown.push(Skipped { name: name.clone(), reason: format!("unknown modification time ({why})") });
    }
    listing.entries.retain(|e| !unknown.iter().any(|u| u.name == e.name));
    listing.skipped.extend(unknown);
    Ok(())
}

/// Keeps what a listing shows of ftpsync's own temporary files out of its content (apply
/// removes those of a run that is gone: [`Listing::temporary`]) — but the one `only` looks up:
/// an upload's size is checked in its folder's listing where the server has neither `SIZE`
/// nor `MLST` — and remembers the raw bytes of names that were not UTF-8.
fn settle_listing(s: &mut Session, parsed: &listing::Parsed, listing: &mut Listing, only: Option<&str>) {
    let (temporary, content) = std::mem::take(&mut listing.entries)
        .into_iter()
        .partition(|e| is_temp_name(&e.name) && only != Some(e.name.as_str()));
    listing.entries = content;
    listing.temporary = temporary;
    for (name, d) in &parsed.details {
        if d.name_from_cp1252 {
            s.names().remember(name, &d.raw_name);
        }
    }
}

/// What a control-connection listing gave for one folder.
pub enum ByStat {
    Listed(Listing),
    /// Not a listing we trust (missing folder, refused, a server that lists otherwise): the
    /// caller lists this one with `MLSD`/`LIST`.
    Unsure,
    /// Not judged (the batch's fence had to change): listed otherwise this time, and the
    /// next batch tries again.
    Again,
    /// Answered as a missing path ([`missing`]: a vanished folder; pyftpdlib's `550` for
    /// `STAT -la PATH`, whose `-la PATH` it takes as one name): listed otherwise, as
    /// [`ByStat::Unsure`].
    Missing,
}

/// Whether `STAT` may be asked to list this path: servers parse its argument like a shell
/// would (options, globs, spaces), so only plain paths go this way.
pub fn stat_safe(abs: &str) -> bool {
    !abs.is_empty()
        && abs.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        && !abs.split('/').any(|p| p.starts_with('-'))
}

/// Lists several folders over the control connection: `STAT -la` of each (or plain `STAT`,
/// see [`plain_stat`]), all in one write, then the exact time of every file (`MDTM`), all in a
/// second write — two round trips for all of them and no data connection, where `MLSD` costs
/// three per folder (one round trip where the files are known beforehand: their times go in
/// the first write, see [`TimesAhead`]). Only a reply that is a listing with the folder's own
/// `.` entry counts (for plain `STAT`: one [`plain_stat::read_plain`] trusts); anything else is
/// [`ByStat::Unsure`] or [`ByStat::Missing`]. Each write ends with a fence (`NOOP`, or `PWD`
/// where `NOOP` is not implemented), whose answer must come last and be its own: a reply out
/// of place (a name with a line break in it, say) makes the connection unusable instead of
/// misread.
pub fn list_by_stat(s: &mut Session, dirs: &[String]) -> Result<Vec<ByStat>> {
    list_by_stat_only(s, dirs, None, Form::Dotted, TimesAhead::default())
}

/// [`list_by_stat`], with `only`: the exact time is asked of the file of that name alone (a
/// lookup must not cost one `MDTM` per file of its folder; the other files keep the times the
/// listing shows); and with the times of the files the folders are expected to hold asked in
/// the listing's own write (`ahead`, see [`TimesAhead`]: the second write is then needed only
/// for files nobody expected).
pub fn list_by_stat_only(
    s: &mut Session,
    dirs: &[String],
    only: Option<&str>,
    form: Form,
    mut ahead: TimesAhead,
) -> Result<Vec<ByStat>> {
    let doing = "listing folders over the control connection";
    let mut cmds: Vec<String> = dirs.iter().map(|d| form.command(d)).collect();
    ahead.add_to(&mut cmds, dirs, s.features.mdtm);
    let replies = match fenced_batch(s, cmds, doing)? {
        Fenced::InStep(replies) => replies,
        // The fence proved nothing. Listing replies that are all refusals carry no listing to
        // misread (the times asked ahead go with them, unused); otherwise nothing of the batch
        // is trusted, the connection is dropped, and the next batch has PWD as its fence
        // (without PWD either, STAT is not used again).
        Fenced::Unproven { replies, .. } if replies.iter().take(dirs.len()).all(|r| r.code >= 400) => {
            return Ok(dirs.iter().map(|_| ByStat::Unsure).collect());
        }
        Fenced::Unproven { noop, .. } => {
            s.give_up();
            return Ok(dirs.iter().map(|_| if noop { ByStat::Again } else { ByStat::Unsure }).collect());
        }
    };
    let now = SystemClock.now();
    let parsed = dirs
        .iter()
        .zip(&replies[..dirs.len()])
        .map(|(dir, reply)| match form {
            Form::Dotted => dotted_listing(reply, now),
            Form::Plain => read_plain(reply, dir, now).into_listing(),
        })
        .collect();
    let codes: Vec<u16> = replies[..dirs.len()].iter().map(|r| r.code).collect();
    ahead.answered(&replies[dirs.len()..]);
    settle_by_stat(s, dirs, parsed, &codes, only, &ahead)
}

/// The listings of `STAT` replies made exact: `parsed` holds each folder's reply as a listing
/// where it is one, `codes` each reply's code. Times the listing shows only to the minute or
/// day are taken from the answers asked `ahead` with the listing, and the others asked with
/// `MDTM` (all in one batch; only of the file named `only`, where given).
pub fn settle_by_stat(
    s: &mut Session,
    dirs: &[String],
    parsed: Vec<Option<listing::Parsed>>,
    codes: &[u16],
    only: Option<&str>,
    ahead: &TimesAhead,
) -> Result<Vec<ByStat>> {
    let mut found: Vec<Option<(Listing, Vec<String>)>> = Vec::with_capacity(dirs.len());
    for (i, parsed) in parsed.into_iter().enumerate() {
        let Some(parsed) = parsed else {
            found.push(None);
            continue;
        };
        let mut listing = parsed.listing.clone();
        settle_listing(s, &parsed, &mut listing, only);
        let vague = vague_files(&listing, &parsed.details, only);
        // A server without MDTM said so ahead, of a file the listing shows: as when it says
        // so after the listing.
        let refused: Vec<Reply> = vague.iter().filter_map(|n| ahead.reply_of(i, n)).cloned().collect();
        note_mdtm_refusal(s, &refused);
        if !s.features.mdtm && !vague.is_empty() && s.features.mlsd {
            // Times to the minute or day at best, and MLSD gives them to the second.
            found.push(None);
            continue;
        }
        let vague = if s.features.mdtm { vague } else { Vec::new() };
        let (known, vague): (Vec<String>, Vec<String>) = vague.into_iter().partition(|n| ahead.time_of(i, n).is_some());
        let answers: Vec<Reply> = known.iter().filter_map(|n| ahead.time_of(i, n).cloned()).collect();
        pin_times(&mut listing, &known, &answers)?;
        found.push(Some((listing, vague)));
    }
    let mut cmds: Vec<String> = Vec::new();
    for (dir, f) in dirs.iter().zip(&found) {
        if let Some((_, vague)) = f {
            cmds.extend(vague.iter().map(|n| mdtm_command(dir, n)));
        }
    }
    if !cmds.is_empty() {
        cmds.push(s.fence().0.into());
        let replies = s.batch(&cmds, "MDTM")?;
        in_step(s, &replies, "MDTM")?;
        let mut rest = &replies[..];
        for (listing, vague) in found.iter_mut().flatten() {
            let (mine, more) = rest.split_at(vague.len());
            pin_times(listing, vague, mine)?;
            rest = more;
        }
        note_mdtm_refusal(s, &replies);
        if !s.features.mdtm && s.features.mlsd {
            // MDTM refused: listings whose times it was to pin are left to MLSD.
            for f in found.iter_mut() {
                if f.as_ref().is_some_and(|(_, vague)| !vague.is_empty()) {
                    *f = None;
                }
            }
        }
    }
    Ok(found
        .into_iter()
        .zip(codes)
        .map(|(f, &code)| match f {
            Some((l, _)) => ByStat::Listed(l),
            None if missing(code) => ByStat::Missing,
            None => ByStat::Unsure,
        })
        .collect())
}

/// A `STAT -la` reply as a listing, if it is one with the folder's own `.` entry and wholly
/// understood (each line ends with a line break; one not understood makes the reply no
/// listing we trust: that folder is listed the usual way, and judged there).
fn dotted_listing(reply: &Reply, now: f64) -> Option<listing::Parsed> {
    let body = stat_lines(reply)?;
    if !body.iter().any(|l| l.first() == Some(&b'd') && l.ends_with(b" .")) {
        return None;
    }
    let payload: Vec<u8> = body.iter().flat_map(|l| l.iter().chain(b"\n")).copied().collect();
    parse_listing(&payload, Format::List, now).ok()
}

/// Asks plain `STAT` of each folder and of `absent` in one write with its fence; `None` when
/// the fence proved nothing (no `NOOP` here: the connection is dropped, as by
/// [`list_by_stat`]). The replies are judged by [`super::plain_stat::verdict`].
pub fn probe_plain_stat(
    s: &mut Session,
    dirs: &[String],
    absent: &str,
    mut ahead: TimesAhead,
) -> Result<Option<Probe>> {
    let doing = "probing STAT without options";
    let mut cmds: Vec<String> = dirs.iter().map(|d| Form::Plain.command(d)).collect();
    cmds.push(Form::Plain.command(absent));
    ahead.add_to(&mut cmds, dirs, s.features.mdtm);
    let Fenced::InStep(replies) = fenced_batch(s, cmds, doing)? else {
        s.give_up();
        return Ok(None);
    };
    let now = SystemClock.now();
    let folders = dirs.iter().zip(&replies).map(|(d, r)| read_plain(r, d, now)).collect();
    ahead.answered(&replies[dirs.len() + 1..]);
    Ok(Some(Probe { folders, absent: read_plain(&replies[dirs.len()], absent, now), ahead }))
}

/// The replies to a batch sent with its fence ([`fenced_batch`]).
enum Fenced {
    /// The fence's reply came last, as it should: the replies (the fence's last) answer the
    /// commands in order.
    InStep(Vec<Reply>),
    /// The fence itself was refused (`noop`: it was `NOOP`, now remembered as refused, and the
    /// next batch ends with `PWD`): nothing proves which reply answers which command.
    Unproven { replies: Vec<Reply>, noop: bool },
}

/// Sends `cmds` and the fence in one write; replies out of step are an error (the connection
/// is given up, see [`in_step`]).
fn fenced_batch(s: &mut Session, mut cmds: Vec<String>, doing: &str) -> Result<Fenced> {
    let (fence, _) = s.fence();
    cmds.push(fence.into());
    let replies = s.batch(&cmds, doing)?;
    if let Some(last) = replies.last().filter(|r| unsupported(r.code)) {
        let noop = fence == "NOOP";
        if noop {
            s.refuse(Capability::Noop, &last.text());
        }
        return Ok(Fenced::Unproven { replies, noop });
    }
    in_step(s, &replies, doing)?;
    Ok(Fenced::InStep(replies))
}

/// The last reply of a batch ending in its fence must be the fence's (`200` for `NOOP`, `257`
/// for `PWD`); otherwise the replies are out of step with the commands and the connection is
/// given up.
fn in_step(s: &mut Session, replies: &[Reply], doing: &str) -> Result<()> {
    let (_, code) = s.fence();
    if replies.last().is_some_and(|r| r.code == code) {
        return Ok(());
    }
    s.give_up();
    Err(anyhow::Error::new(Transient(format!("{doing}: the server's replies are out of step with the commands"))))
}

/// Whether a folder exists: only a folder that can be entered does (used too for an empty
/// `LIST`: vsftpd answers `LIST` of a missing folder with an empty listing and `226`, exactly
/// as for an empty folder).
pub fn exists(s: &mut Session, abs: &str) -> Result<bool> {
    let reply = s.exec(&format!("CWD {abs}"), &format!("cannot enter {abs}"))?;
    entered_ok(&reply, abs)
}

/// What the reply to `CWD abs` says: entered (true), missing (false), or refused otherwise.
pub fn entered_ok(reply: &Reply, abs: &str) -> Result<bool> {
    match reply.code {
        c if (200..400).contains(&c) => Ok(true),
        c if missing(c) => Ok(false),
        _ => Err(refused(reply, &format!("cannot enter {abs}"))),
    }
}

/// The entry an `MLST` reply describes; `None` if the server says it does not exist.
pub fn parse_mlst(reply: &Reply, path: &str) -> Result<Option<Entry>> {
    if missing(reply.code) {
        return Ok(None);
    }
    if reply.code != 250 {
        return Err(refused(reply, &format!("MLST {path}")));
    }
    let Some(line) = reply.lines.iter().find(|l| l.first() == Some(&b' ')) else { return Ok(None) };
    // The name may come back as a path; the facts are what matter.
    let facts_only: Vec<u8> = match line[1..].iter().position(|&b| b == b' ') {
        Some(i) => [&line[1..=i + 1], b"x"].concat(),
        None => return Ok(None),
    };
    Ok(match parse_mlsd_line(&facts_only) {
        listing::LineResult::Entry(l) => Some(l.entry),
        _ => None,
    })
}

/// One entry via `MLST`: `Some(None)` if it does not exist, `None` if the server does not
/// implement `MLST` after all (remembered: lookups list the folder from then on).
pub fn mlst(s: &mut Session, path: &str) -> Result<Option<Option<Entry>>> {
    let reply = s.exec(&format!("MLST {path}"), &format!("MLST {path}"))?;
    if unsupported(reply.code) {
        s.refuse(Capability::Mlst, &reply.text());
        return Ok(None);
    }
    parse_mlst(&reply, path).map(Some)
}

/// Several entries via `MLST`, all in one write ending in a fence (see [`list_by_stat`]):
/// `None` if the server does not implement `MLST` after all (remembered, as by [`mlst`]), or
/// no fence (the caller lists the folders instead).
pub fn mlst_all(s: &mut Session, paths: &[String]) -> Result<Option<Vec<Option<Entry>>>> {
    let doing = "looking up entries with MLST";
    let cmds: Vec<String> = paths.iter().map(|p| format!("MLST {p}")).collect();
    let replies = match fenced_batch(s, cmds, doing)? {
        Fenced::InStep(replies) => replies,
        // The fence proved nothing, so nothing of the batch is trusted: the folders are listed
        // instead, this time; without NOOP the connection is dropped (it may be out of step),
        // and the next batch ends with PWD.
        Fenced::Unproven { noop, .. } => {
            if noop {
                s.give_up();
            }
            return Ok(None);
        }
    };
    if let Some(r) = replies.iter().find(|r| unsupported(r.code)) {
        s.refuse(Capability::Mlst, &r.text());
        return Ok(None);
    }
    paths.iter().zip(&replies).map(|(p, r)| parse_mlst(r, p)).collect::<Result<_>>().map(Some)
}

/// Renames `from` over `to` (`RNFR` and `RNTO` in one write). Servers that refuse to rename
/// onto an existing name (IIS) get `to` removed first and the rename again, but only when
/// `may_replace` says the caller knows an existing file there may go: a refused rename onto a
/// name the plan recorded as absent means that another file took the name since (on a server
/// that ignores case, perhaps one whose name differs only in case), and that file is kept.
pub fn rename_over(s: &mut Session, from: &str, to: &str, may_replace: bool) -> Result<()> {
    let doing = format!("cannot rename {from} to {to}");
    let pair = [format!("RNFR {from}"), format!("RNTO {to}")];
    // The next transfer's data connection is announced in the same write (uploads come in a
    // row): one round trip less for it.
    s.expect_transfer();
    let replies = s.batch(&pair, &doing)?;
    if replies[0].code != 350 {
        return Err(refused(&replies[0], &doing));
    }
    match replies[1].code {
        c if (200..300).contains(&c) => Ok(()),
        450 | 550 | 553 if !may_replace => Err(refused(
            &replies[1],
            &format!(
                "{doing} (it was absent when checked: another file took the name since, or one whose name differs only in case on a server that ignores case; it was left alone)"
            ),
        )),
        450 | 550 | 553 => {
            s.ok(&format!("DELE {to}"), &format!("cannot replace {to}"))?;
            let replies = s.batch(&pair, &doing)?;
            match replies.iter().find(|r| !r.is_ok()) {
                Some(r) => Err(refused(r, &doing)),
                None => Ok(()),
            }
        }
        _ => Err(refused(&replies[1], &doing)),
    }
}

/// Whether the server finds the existing file `abs` also as `swapped` (the same path, its name
/// spelt in another case): asked with `SIZE`, else `MDTM`, else by reading both. A way counts
/// only if it finds `abs` itself (a server may refuse `SIZE`, or answer it oddly).
pub fn folds_case(s: &mut Session, abs: &str, swapped: &str) -> Result<bool> {
    let doing = "asking whether the server ignores case";
    for (offered, verb) in [(s.features.size, "SIZE"), (s.features.mdtm, "MDTM")] {
        if !offered {
            continue;
        }
        let replies = s.batch(&[format!("{verb} {abs}"), format!("{verb} {swapped}")], doing)?;
        if replies[0].code == 213 {
            return match replies[1].code {
                213 => Ok(true),
                c if missing(c) => Ok(false),
                _ => Err(refused(&replies[1], doing)),
            };
        }
    }
    if read_small(s, abs)?.is_none() {
        anyhow::bail!("{doing}: {abs} cannot be read");
    }
    Ok(read_small(s, swapped)?.is_some())
}

/// Appends bytes to a file (creating it). A server without `APPE` (Twisted answers `502`)
/// gets them with `STOR`, and only when the file does not exist: what is there (another
/// run's lock) is never overwritten. The lock is judged by reading it back, first line first,
/// and read a second time before the first visible change (`lock_gate`, which already covers
/// servers that append by rewriting the file), so a lock not appended to loses nothing.
pub fn append(s: &mut Session, abs: &str, bytes: &[u8]) -> Result<()> {
    let doing = format!("cannot write {abs}");
    match send(s, &format!("APPE {abs}"), bytes, &doing)? {
        Ok(()) => Ok(()),
        Err(r) if matches!(r.code, 500 | 502 | 504) => {
            if read_small(s, abs)?.is_some() {
                return Ok(());
            }
            send(s, &format!("STOR {abs}"), bytes, &doing)?.map_err(|r| refused(&r, &doing))
        }
        Err(r) => Err(refused(&r, &doing)),
    }
}

/// Uploads `bytes` with `cmd` (`STOR`, `APPE`); `Ok(Err(reply))`: the server refused it.
/// Uploads do not wait for the `150`: a refusal often comes only once the bytes are sent.
/// One aborted because its command came with its announcement is sent again at once, one
/// step at a time ([`Session::aborted_ahead`]).
fn send(s: &mut Session, cmd: &str, bytes: &[u8], doing: &str) -> Result<Result<(), Reply>> {
    use std::io::Write;
    let mut t = match s.transfer(cmd, Direction::Upload) {
        Ok(t) => t,
        Err(Failure::Refused(r)) => return Ok(Err(r)),
        Err(f) => return Err(failed(f, doing)),
    };
    let written = t.write_all(bytes);
    let (last, _) = t.finish(&[], true).map_err(|f| failed(f, doing))?;
    if !last.is_ok() {
        if s.aborted_ahead(&last) {
            return send(s, cmd, bytes, doing);
        }
        return Ok(Err(last));
    }
    written.map_err(|e| broken(e, doing))?;
    Ok(Ok(()))
}

/// Reads a small file, `None` if it does not exist.
pub fn read_small(s: &mut Session, abs: &str) -> Result<Option<Vec<u8>>> {
    match fetch(s, &format!("RETR {abs}"), &format!("reading {abs}"))? {
        Ok(data) => Ok(Some(data)),
        // Some servers (libunftp) accept the RETR and report the missing file at the end.
        Err(r) if matches!(r.code, 450 | 550) => Ok(None),
        Err(r) => Err(refused(&r, &format!("cannot read {abs}"))),
    }
}
