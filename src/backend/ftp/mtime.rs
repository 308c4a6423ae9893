//! Setting a file's modification time on the server, with whichever command it supports:
//! `MFMT` (pure-ftpd, proftpd, pyftpdlib), `SITE UTIME` in its two forms (proftpd, pure-ftpd,
//! the embedded server), or `MDTM` with a time (vsftpd). The working command is found once per
//! target, by trying them in turn and reading the time back; after that the command is known
//! in advance and travels in the same write as the upload's other follow-up commands. A
//! command the server refuses is simply not the one; when none works the real times live in
//! the `mtimes` metadata only (as with pyftpsync). `-vv` says which was chosen. Where `FEAT`
//! announces `MFMT` and `MDTM`, the first try and its reading back travel with an upload's
//! other follow-up commands too ([`first_try`]): finding the method costs no round trip there.

use std::sync::{Arc, Mutex};

use super::learned::{Capability, chose, unsupported};
use super::session::Session;
use super::wire::Reply;

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
    /// Not found out yet: [`discover`] it.
    Unknown,
}

pub fn plan(shared: &Shared, path: &str, t: f64) -> Plan {
    let Some(ts) = stamp(t) else { return Plan::Unsupported };
    match *shared.lock().unwrap_or_else(|e| e.into_inner()) {
        None => Plan::Unknown,
        Some(m) => command(m, path, &ts).map_or(Plan::Unsupported, Plan::Command),
    }
}

fn try_method(s: &mut Session, method: Method, path: &str, ts: &str) -> bool {
    let Some(cmd) = command(method, path, ts) else { return false };
    s.exec(&cmd, "setting a modification time").is_ok_and(|r| applied(&r))
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

/// Whether the time of `path` reads back as `want`. A server without `MDTM` (whatever `FEAT`
/// said) cannot tell: the command's own reply is believed.
fn reads_back(s: &mut Session, path: &str, want: i64) -> bool {
    if !s.features.mdtm {
        return true;
    }
    match s.exec(&format!("MDTM {path}"), "MDTM") {
        Ok(r) if unsupported(r.code) => {
            s.refuse(Capability::Mdtm, &r.text());
            true
        }
        Ok(r) => parse_mdtm(&r) == Some(want),
        Err(_) => false,
    }
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

/// The first candidate (`MFMT`) and the `MDTM` that reads its effect back, as two commands for
/// the write that already carries an upload's size check, where `FEAT` announces both and
/// nothing refused either yet; `None` where [`discover`] has to go step by step.
pub fn first_try(s: &Session, path: &str, t: f64) -> Option<[String; 2]> {
    let ts = stamp(t)?;
    let usable = s.features.mfmt && s.features.mdtm && !s.has_refused(Capability::Mdtm);
    usable.then(|| [command(Method::Mfmt, path, &ts).expect("MFMT has a command"), format!("MDTM {path}")])
}

/// Judges the replies to [`first_try`]'s commands as [`discover`] judges its own first try:
/// `MFMT` applied and the time reads back (or the server turned out to have no `MDTM`: the
/// command's own reply is believed). Then the method is known for all connections and true
/// returned; otherwise the other candidates are tried as [`discover`] tries them.
pub fn judge_first_try(
    s: &mut Session,
    shared: &Shared,
    path: &str,
    t: f64,
    set: Option<&Reply>,
    read: Option<&Reply>,
) -> bool {
    let worked = match (set, read) {
        (Some(set), Some(read)) if applied(set) => {
            if unsupported(read.code) {
                s.refuse(Capability::Mdtm, &read.text());
                true
            } else {
                parse_mdtm(read) == Some(t.floor() as i64)
            }
        }
        _ => false,
    };
    if !worked {
        // MFMT was tried here (refused, or without effect): the other candidates follow.
        return discover_among(s, shared, path, t, &CANDIDATES[1..]);
    }
    remember(shared, Method::Mfmt);
    true
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
pub fn discover(s: &mut Session, shared: &Shared, path: &str, t: f64) -> bool {
    discover_among(s, shared, path, t, &CANDIDATES)
}

/// [`discover`] among `candidates` only.
fn discover_among(s: &mut Session, shared: &Shared, path: &str, t: f64, candidates: &[Method]) -> bool {
    let Some(ts) = stamp(t) else { return false };
    let want = t.floor() as i64;
    let found = candidates.iter().copied().find(|&m| {
        if m == Method::Mfmt && !s.features.mfmt {
            return false;
        }
        // A server that does not know MDTM does not set times with it either.
        if m == Method::MdtmSet && s.has_refused(Capability::Mdtm) {
            return false;
        }
        try_method(s, m, path, &ts) && reads_back(s, path, want)
    });
    remember(shared, found.unwrap_or(Method::Unsupported));
    found.is_some()
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
}
