//! Setting a file's modification time on the server, with whichever command it supports:
//! `MFMT` (pure-ftpd, proftpd, pyftpdlib), `SITE UTIME` in its two forms (proftpd, pure-ftpd,
//! the embedded server), or `MDTM` with a time (vsftpd). The working command is found once per
//! target, by trying them in turn and reading the time back.

use std::sync::{Arc, Mutex};

use suppaftp::Status;

use super::session::Session;

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

const OK: [Status; 4] = [Status::File, Status::CommandOk, Status::RequestedFileActionOk, Status::CommandNotImplemented];

fn try_method(s: &mut Session, method: Method, path: &str, ts: &str) -> bool {
    let Some(cmd) = command(method, path, ts) else { return false };
    match s.ftp.custom_command(cmd, &OK) {
        // 202 means "not implemented, superfluous here": it did nothing.
        Ok(r) => r.status != Status::CommandNotImplemented,
        Err(_) => false,
    }
}

/// Reads the modification time back (seconds), if the server can tell.
fn read_back(s: &mut Session, path: &str) -> Option<i64> {
    s.ftp.mdtm(path).ok().map(|t| t.and_utc().timestamp())
}

/// Sets the modification time of `path` (absolute); returns whether the server applied it.
pub fn set(s: &mut Session, shared: &Shared, path: &str, t: f64) -> bool {
    let Some(ts) = stamp(t) else { return false };
    let known = *shared.lock().unwrap_or_else(|e| e.into_inner());
    match known {
        Some(Method::Unsupported) => false,
        Some(m) => try_method(s, m, path, &ts),
        None => {
            let want = t.floor() as i64;
            let found = CANDIDATES.into_iter().find(|&m| {
                if m == Method::Mfmt && !s.features.mfmt {
                    return false;
                }
                try_method(s, m, path, &ts) && (!s.features.mdtm || read_back(s, path) == Some(want))
            });
            *shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(found.unwrap_or(Method::Unsupported));
            found.is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_seconds() {
        assert_eq!(stamp(1388577600.75).as_deref(), Some("20140101120000"));
        assert_eq!(command(Method::MdtmSet, "/a b", "20140101120000").unwrap(), "MDTM 20140101120000 /a b");
    }
}
