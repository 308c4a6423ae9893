//! The remote lock file `.pyftpsync-lock.json`, written by apply and honoured.
//!
//! pyftpsync writes `{"lock_time": T, "lock_holder": null}` and never checks it. ftpsync
//! records who holds it (`ftpsync PID@HOST`), refuses to run while another run's lock is
//! fresh, and recognises a stale one: its holder is a process of this host that no longer
//! exists, or it was not refreshed for [`STALE_AFTER`] seconds (a running apply refreshes it
//! every [`REFRESH_EVERY`] seconds). FTP cannot create a file exclusively, so a lock is
//! *appended* (`APPE`) as one line and the file read back (twice, a moment apart; the second
//! time just before the first change others can see, [`super::lock_gate`]): of two runs
//! starting together, both lines land in the file, and only the run whose line came first goes
//! on. The line is appended first and judged after (apply checks its plan meanwhile): a lock
//! already there stays first in the file, and is then found fresh (stop), stale or broken
//! (removed and claimed again).

use serde::Deserialize;

use crate::meta::pyjson::float_repr;

/// A lock not refreshed for this long belongs to a run that died.
pub const STALE_AFTER: f64 = 600.0;
/// How often a running apply rewrites its lock.
pub const REFRESH_EVERY: f64 = 60.0;

/// The lock file's content.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LockFile {
    pub lock_time: f64,
    #[serde(default)]
    pub lock_holder: Option<String>,
}

impl LockFile {
    /// The first lock in the file (a race leaves more than one; pyftpsync's has no line end,
    /// so one appended after it continues its line).
    pub fn parse(bytes: &[u8]) -> Option<LockFile> {
        serde_json::Deserializer::from_slice(bytes).into_iter::<LockFile>().next()?.ok()
    }

    /// pyftpsync's layout (`json.dumps` with default separators), plus the holder.
    pub fn to_bytes(&self) -> Vec<u8> {
        let holder =
            self.lock_holder.as_ref().map_or("null".to_string(), |h| serde_json::to_string(h).unwrap_or_default());
        format!("{{\"lock_time\": {}, \"lock_holder\": {holder}}}", float_repr(self.lock_time)).into_bytes()
    }
}

/// A holder name for one lock taken by this process: `ftpsync PID@HOST #N` (the number tells
/// apart two locks taken by the same process).
pub fn me() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("ftpsync {}@{} #{n}", std::process::id(), hostname())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether the process named by a holder string is known to be gone.
fn holder_dead(holder: &str) -> bool {
    let Some((pid, host)) = holder.strip_prefix("ftpsync ").and_then(|h| h.split_once('@')) else { return false };
    let host = host.split(' ').next().unwrap_or(host);
    if host != hostname() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

/// What an existing lock means for a run that wants it.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Free,
    /// Left by a run that is gone; may be replaced (the reason says why).
    Stale(String),
    /// Held by another live run.
    Held(String),
}

fn describe(lock: &LockFile, now: f64) -> String {
    let who = lock.lock_holder.clone().unwrap_or_else(|| "pyftpsync (or an unknown client)".into());
    format!("{who}, written {:.0} s ago", (now - lock.lock_time).max(0.0))
}

/// Judges an existing lock (pure).
pub fn judge(existing: Option<&LockFile>, now: f64, me: &str) -> Verdict {
    match existing {
        None => Verdict::Free,
        Some(l) if l.lock_holder.as_deref() == Some(me) => Verdict::Free,
        Some(l) if l.lock_holder.as_deref().is_some_and(holder_dead) => {
            Verdict::Stale(format!("{} (that process no longer runs)", describe(l, now)))
        }
        Some(l) if now - l.lock_time > STALE_AFTER => {
            Verdict::Stale(format!("{} (older than {STALE_AFTER:.0} s)", describe(l, now)))
        }
        Some(l) => Verdict::Held(describe(l, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let me = me();
        let fresh = LockFile { lock_time: 1000.0, lock_holder: Some("ftpsync 1@elsewhere".into()) };
        assert!(matches!(judge(Some(&fresh), 1010.0, &me), Verdict::Held(_)));
        assert!(matches!(judge(Some(&fresh), 1000.0 + STALE_AFTER + 1.0, &me), Verdict::Stale(_)));
        let dead = LockFile { lock_time: 1000.0, lock_holder: Some(format!("ftpsync 4294967295@{} #3", hostname())) };
        assert!(matches!(judge(Some(&dead), 1001.0, &me), Verdict::Stale(_)));
        let pyftpsync = LockFile::parse(br#"{"lock_time": 1000.5, "lock_holder": null}"#).unwrap();
        assert!(matches!(judge(Some(&pyftpsync), 1001.0, &me), Verdict::Held(_)));
        assert_eq!(judge(None, 1.0, &me), Verdict::Free);
        let mine = LockFile { lock_time: 1.0, lock_holder: Some(me.clone()) };
        assert_eq!(judge(Some(&mine), 2.0, &me), Verdict::Free);
        assert_eq!(pyftpsync.to_bytes(), br#"{"lock_time": 1000.5, "lock_holder": null}"#.to_vec());
        let raced = b"{\"lock_time\": 5.0, \"lock_holder\": \"a\"}\n{\"lock_time\": 6.0, \"lock_holder\": \"b\"}\n";
        assert_eq!(LockFile::parse(raced).unwrap().lock_holder.as_deref(), Some("a"));
        let after_pyftpsync =
            b"{\"lock_time\": 5.0, \"lock_holder\": null}{\"lock_time\": 6.0, \"lock_holder\": \"b\"}\n";
        assert_eq!(LockFile::parse(after_pyftpsync).unwrap().lock_time, 5.0);
        assert!(LockFile::parse(b"garbage{\"lock_time\": 6.0}").is_none());
    }
}
