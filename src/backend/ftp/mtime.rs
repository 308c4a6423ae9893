//! Setting a file's modification time on the server, with whichever command it supports:
//! `MFMT` (pure-ftpd, proftpd, pyftpdlib), `SITE UTIME` in its two forms (proftpd, pure-ftpd,
//! the embedded server), or `MDTM` with a time (vsftpd). The working command is found once per
//! target, by trying them on an upload and reading the time back; after that the command is
//! known in advance and travels in the same write as the upload's other follow-up commands. A
//! command the server refuses is simply not the one; when none works the real times live in
//! the `mtimes` metadata only (as with pyftpsync). `-vv` says which was chosen.
//!
//! Finding out costs no round trip of its own where the server takes several commands per
//! write and reads times with `MDTM`: the candidates ride in an upload's follow-up write
//! ([`trial`]), each followed by an `MDTM` reading the time back, the first reading taken before
//! any of them, and the fence last. The readings tell which candidate changed the time, as
//! trying them one at a time would: a candidate that answers "done" and does nothing (`MDTM`
//! with a time, on a server that takes it for a question) is not taken for the one that worked
//! because a later one set the time, and a later one setting the same time again does no
//! harm. Where `FEAT` announces `MFMT`, it is tried alone first (it nearly always works); the
//! others follow in a write of their own where it does not.

use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::learned::{Capability, chose, unsupported};
use super::session::Session;
use super::wire::Reply;
use crate::backend::Transient;

/// How this server sets modification times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Mfmt,
    SiteUtimeLong,
    SiteUtimeShort,
    MdtmSet,
    /// Nothing works: the real time lives in the `mtimes` metadata only.
    Unsupported,
}

/// In order of preference (the order they are tried in).
const CANDIDATES: [Method; 4] = [Method::Mfmt, Method::SiteUtimeLong, Method::SiteUtimeShort, Method::MdtmSet];

/// The method found so far, shared by all connections of a target.
pub type Shared = Arc<Mutex<Option<Method>>>;

/// `YYYYMMDDHHMMSS` in UTC.
pub fn stamp(t: f64) -> Option<String> {
    chrono::DateTime::from_timestamp(t.floor() as i64, 0).map(|d| d.format("%Y%m%d%H%M%S").to_string())
}

fn command(method: Method, path: &str, ts: &str) -> Option<String> {
    Some(match method {
        Method::Mfmt => format!("MFMT {ts} {path}"),
        Method::SiteUtimeLong => format!("SITE UTIME {path} {ts} {ts} {ts} UTC"),
        Method::SiteUtimeShort => format!("SITE UTIME {ts} {path}"),
        Method::MdtmSet => format!("MDTM {ts} {path}"),
        Method::Unsupported => return None,
    })
}

/// Whether a reply to a time-setting command says the time was set. (202 means "not
/// implemented, superfluous here": it did nothing.)
pub fn applied(reply: &Reply) -> bool {
    matches!(reply.code, 200 | 213 | 250)
}

/// What is known about setting the time of `path` to `t`.
pub enum Plan {
    /// Send this command and judge its reply with [`applied`].
    Command(String),
    /// The server cannot (or `t` is not a time).
    Unsupported,
    /// Not found out yet: [`trial`] or [`discover`] it.
    Unknown,
}

pub fn plan(shared: &Shared, path: &str, t: f64) -> Plan {
    let Some(ts) = stamp(t) else { return Plan::Unsupported };
    match *shared.lock().unwrap_or_else(|e| e.into_inner()) {
        None => Plan::Unknown,
        Some(m) => command(m, path, &ts).map_or(Plan::Unsupported, Plan::Command),
    }
}

/// The modification time of a file from an `MDTM` reply (`213 YYYYMMDDHHMMSS[.fff]`).
pub fn parse_mdtm(reply: &Reply) -> Option<i64> {
    if reply.code != 213 {
        return None;
    }
    let text = reply.message();
    let digits = text.get(..14)?;
    chrono::NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok().map(|t| t.and_utc().timestamp())
}

fn name(m: Method) -> &'static str {
    match m {
        Method::Mfmt => "MFMT",
        Method::SiteUtimeLong => "SITE UTIME (path first)",
        Method::SiteUtimeShort => "SITE UTIME (time first)",
        Method::MdtmSet => "MDTM with a time",
        Method::Unsupported => "none",
    }
}

/// The candidates worth trying on this session, in order: `MFMT` where `FEAT` announces it
/// (or there was no `FEAT`), `MDTM` with a time unless the server refused `MDTM`.
fn candidates(s: &Session) -> Vec<Method> {
    let usable = |m: &Method| match m {
        Method::Mfmt => s.features.mfmt,
        // A server that does not know MDTM does not set times with it either.
        Method::MdtmSet => !s.has_refused(Capability::Mdtm),
        _ => true,
    };
    CANDIDATES.iter().copied().filter(usable).collect()
}

/// Candidates tried in one write: each followed by an `MDTM` reading the time back, the first
/// reading before any of them, and the fence last (its answer proves the replies in step).
pub struct Trial {
    methods: Vec<Method>,
    commands: Vec<String>,
    /// The fence's reply code.
    fence: u16,
}

impl Trial {
    fn new(s: &Session, path: &str, ts: &str, methods: Vec<Method>) -> Trial {
        let read = format!("MDTM {path}");
        let mut commands = vec![read.clone()];
        for &m in &methods {
            commands.push(command(m, path, ts).expect("a candidate has a command"));
            commands.push(read.clone());
        }
        let (fence, code) = s.fence();
        commands.push(fence.into());
        Trial { methods, commands, fence: code }
    }

    /// The commands, for the write they travel in; [`judge`] takes their replies.
    pub fn commands(&self) -> &[String] {
        &self.commands
    }
}

/// Whether the candidates can be tried together: several commands per write, and `MDTM` to
/// read each one's effect back (without it each is believed on its word, one at a time).
fn together(s: &Session) -> bool {
    s.pipelines() && s.features.mdtm && !s.has_refused(Capability::TimeTrial)
}

/// The candidates to try on the upload of `path` (absolute) while the method is unknown, for
/// the write that carries its size check: `MFMT` alone where announced, else all of them.
/// `None` where they go one at a time after the upload ([`discover`]).
pub fn trial(s: &Session, path: &str, t: f64) -> Option<Trial> {
    let ts = stamp(t)?;
    if !together(s) {
        return None;
    }
    let all = candidates(s);
    let methods = if all.first() == Some(&Method::Mfmt) { vec![Method::Mfmt] } else { all };
    (!methods.is_empty()).then(|| Trial::new(s, path, &ts, methods))
}

/// What the replies to a [`Trial`] say.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// This method set the time; whether the time is still right after the later candidates.
    Found(Method, bool),
    /// The file had the time already before any candidate ran (it was written in the very
    /// second it is to have): nothing can be told apart; whether the time is right at the end.
    Unclear(bool),
    /// None of the candidates set it.
    NoneWorked,
}

/// Reads a trial's replies (the fence's already checked) for the time `want`. Where `MDTM` turns
/// out not to be implemented (whatever `FEAT` said), its refusal comes back too, and the first
/// candidate whose answer says done is believed, as one at a time.
fn verdict<'r>(methods: &[Method], replies: &'r [Reply], want: i64) -> (Verdict, Option<&'r Reply>) {
    let reads: Vec<&Reply> = replies.iter().step_by(2).take(methods.len() + 1).collect();
    let answers: Vec<&Reply> = replies.iter().skip(1).step_by(2).take(methods.len()).collect();
    let tried = methods.iter().copied().zip(answers.iter().copied());
    if let Some(r) = reads.iter().copied().find(|r| unsupported(r.code)) {
        let found = tried.filter(|&(m, a)| m != Method::MdtmSet && applied(a)).map(|(m, _)| m).next();
        return (found.map_or(Verdict::NoneWorked, |m| Verdict::Found(m, true)), Some(r));
    }
    let times: Vec<Option<i64>> = reads.iter().map(|r| parse_mdtm(r)).collect();
    let right_at_end = times.last() == Some(&Some(want));
    if times[0] == Some(want) {
        return (Verdict::Unclear(right_at_end), None);
    }
    // The candidate after whose answer the time first reads as wanted.
    let found = tried
        .enumerate()
        .find(|&(i, (_, a))| applied(a) && times[i] != Some(want) && times[i + 1] == Some(want))
        .map(|(_, (m, _))| m);
    (found.map_or(Verdict::NoneWorked, |m| Verdict::Found(m, right_at_end)), None)
}

/// Judges the replies to `trial` (tried on `path`, to be set to `t`) and returns whether the
/// time of `path` is set. The method found is remembered for all connections of the target;
/// where none of the trial's candidates worked, the others are tried. Replies out of step with
/// the commands (the fence's is not last) drop the connection, and the target's later trials
/// go one at a time.
pub fn judge(s: &mut Session, shared: &Shared, trial: &Trial, path: &str, t: f64, replies: &[Reply]) -> Result<bool> {
    let last = replies.last().filter(|_| replies.len() == trial.commands.len());
    if last.is_none_or(|r| r.code != trial.fence) {
        if trial.fence == 200 && last.is_some_and(|r| unsupported(r.code)) {
            // No NOOP here: nothing of the batch is trusted; the next one ends with PWD.
            s.refuse(Capability::Noop, &last.expect("checked").text());
        } else {
            let why = "the server's replies to the ways of setting a time, tried together, were out of step";
            s.learned().refuse(Capability::TimeTrial, why);
        }
        s.give_up();
        return Err(anyhow::Error::new(Transient(format!(
            "setting the modification time of {path}: the server's replies are out of step with the commands"
        ))));
    }
    let (verdict, mdtm_refused) = verdict(&trial.methods, replies, t.floor() as i64);
    if let Some(r) = mdtm_refused {
        s.refuse(Capability::Mdtm, &r.text());
    }
    match verdict {
        Verdict::Found(m, right) => {
            remember(shared, m);
            Ok(right)
        }
        Verdict::Unclear(right) => Ok(right),
        Verdict::NoneWorked => {
            // The candidates after the trial's (in order: each one is tried once).
            let rank = |m: &Method| CANDIDATES.iter().position(|c| c == m);
            let last = trial.methods.last().and_then(rank);
            let rest: Vec<Method> = candidates(s).into_iter().filter(|m| rank(m) > last).collect();
            discover_among(s, shared, path, t, &rest)
        }
    }
}

/// Keeps the method found for all connections of the target (said once with `-vv`).
fn remember(shared: &Shared, method: Method) {
    let mut known = shared.lock().unwrap_or_else(|e| e.into_inner());
    if known.is_none() {
        match method {
            Method::Unsupported => chose!(
                "ftp: no command sets modification times here (tried MFMT, SITE UTIME, MDTM with a time): the times are kept in the metadata"
            ),
            m => chose!("ftp: modification times set with {}", name(m)),
        }
    }
    *known = Some(method);
}

/// Finds the method that works by trying each on `path` (absolute), remembers it for all
/// connections of the target, and returns whether the time of `path` was set.
pub fn discover(s: &mut Session, shared: &Shared, path: &str, t: f64) -> Result<bool> {
    let all = candidates(s);
    discover_among(s, shared, path, t, &all)
}

/// [`discover`] among `candidates` only: together in one write where the server allows
/// ([`Trial`]), else one at a time.
fn discover_among(s: &mut Session, shared: &Shared, path: &str, t: f64, candidates: &[Method]) -> Result<bool> {
    let Some(ts) = stamp(t) else { return Ok(false) };
    if candidates.is_empty() {
        remember(shared, Method::Unsupported);
        return Ok(false);
    }
    if together(s) {
        let trial = Trial::new(s, path, &ts, candidates.to_vec());
        let replies = s.batch(&trial.commands, "setting a modification time")?;
        return judge(s, shared, &trial, path, t, &replies);
    }
    let want = t.floor() as i64;
    for &m in candidates {
        if m == Method::MdtmSet && s.has_refused(Capability::Mdtm) {
            continue;
        }
        if try_method(s, m, path, &ts)? && reads_back(s, path, want)? {
            remember(shared, m);
            return Ok(true);
        }
    }
    remember(shared, Method::Unsupported);
    Ok(false)
}

fn try_method(s: &mut Session, method: Method, path: &str, ts: &str) -> Result<bool> {
    let Some(cmd) = command(method, path, ts) else { return Ok(false) };
    Ok(applied(&s.exec(&cmd, "setting a modification time")?))
}

/// Whether the time of `path` reads back as `want`. A server without `MDTM` (whatever `FEAT`
/// said) cannot tell: the command's own reply is believed.
fn reads_back(s: &mut Session, path: &str, want: i64) -> Result<bool> {
    if !s.features.mdtm {
        return Ok(true);
    }
    let r = s.exec(&format!("MDTM {path}"), "MDTM")?;
    if unsupported(r.code) {
        s.refuse(Capability::Mdtm, &r.text());
        return Ok(true);
    }
    Ok(parse_mdtm(&r) == Some(want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_seconds() {
        assert_eq!(stamp(1388577600.75).as_deref(), Some("20140101120000"));
        assert_eq!(command(Method::MdtmSet, "/a b", "20140101120000").unwrap(), "MDTM 20140101120000 /a b");
        let reply = Reply { code: 213, lines: vec![b"213 20140101120000".to_vec()] };
        assert_eq!(parse_mdtm(&reply), Some(1388577600));
        let reply = Reply { code: 213, lines: vec![b"213 20140101120000.123".to_vec()] };
        assert_eq!(parse_mdtm(&reply), Some(1388577600));
    }

    fn r(code: u16, text: &str) -> Reply {
        Reply { code, lines: vec![format!("{code} {text}").into_bytes()] }
    }

    const OLD: &str = "20261207030000";
    const WANT: &str = "20140101120000";

    /// The replies to a trial: the first reading (`OLD`), each candidate's answer and the
    /// time read after it, the fence's.
    fn replies(answers: &[(u16, &str)]) -> Vec<Reply> {
        let mut all = vec![r(213, OLD)];
        for &(code, after) in answers {
            all.push(r(code, "answer"));
            all.push(r(213, after));
        }
        all.push(r(200, "NOOP ok"));
        all
    }

    /// The same replies with every reading refused (`MDTM` not implemented).
    fn without_mdtm(answers: &[(u16, &str)]) -> Vec<Reply> {
        let mut all = replies(answers);
        for i in (0..all.len() - 1).step_by(2) {
            all[i] = r(502, "no MDTM");
        }
        all
    }

    /// [`verdict`] for `WANT`, and the code of an `MDTM` refusal it found.
    fn judged(methods: &[Method], replies: &[Reply]) -> (Verdict, Option<u16>) {
        let (v, refused) = verdict(methods, replies, 1388577600);
        (v, refused.map(|r| r.code))
    }

    #[test]
    fn the_candidate_that_changed_the_time_is_the_one() {
        use Method::*;
        let three = [SiteUtimeLong, SiteUtimeShort, MdtmSet];
        let found = |m, right| (Verdict::Found(m, right), None);
        // vsftpd: both SITE UTIME forms unknown, MDTM with a time works.
        assert_eq!(judged(&three, &replies(&[(500, OLD), (500, OLD), (213, WANT)])), found(MdtmSet, true));
        // A form that says done and does nothing is not taken for the later one that worked.
        assert_eq!(judged(&three, &replies(&[(200, OLD), (200, WANT), (213, WANT)])), found(SiteUtimeShort, true));
        // MDTM with a time taken for a question (213 and the time) after the one that worked.
        assert_eq!(judged(&three, &replies(&[(200, WANT), (501, WANT), (213, WANT)])), found(SiteUtimeLong, true));
        // A later candidate that sets another time: the method is known, this time is not set.
        let other = "20140101130000";
        assert_eq!(judged(&three, &replies(&[(200, WANT), (200, other), (550, other)])), found(SiteUtimeLong, false));
        // Nothing changed the time, whatever the answers said.
        assert_eq!(judged(&three, &replies(&[(200, OLD), (500, OLD), (213, OLD)])), (Verdict::NoneWorked, None));
    }

    #[test]
    fn a_file_that_had_the_time_already_tells_nothing() {
        let mut all = replies(&[(200, WANT)]);
        all[0] = r(213, WANT);
        assert_eq!(judged(&[Method::Mfmt], &all), (Verdict::Unclear(true), None));
    }

    #[test]
    fn without_mdtm_the_first_answer_saying_done_is_believed() {
        use Method::*;
        let all = without_mdtm(&[(500, OLD), (200, OLD), (213, OLD)]);
        let three = [SiteUtimeLong, SiteUtimeShort, MdtmSet];
        assert_eq!(judged(&three, &all), (Verdict::Found(SiteUtimeShort, true), Some(502)));
        // MDTM with a time is not believed where MDTM is unknown.
        let all = without_mdtm(&[(500, OLD), (213, OLD)]);
        assert_eq!(judged(&[SiteUtimeShort, MdtmSet], &all), (Verdict::NoneWorked, Some(502)));
    }
}
