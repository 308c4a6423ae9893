//! Uploads: a file goes to a temporary name and is renamed over its final name only when the
//! server has confirmed its size, its modification time is set, and the file it replaces is
//! still the one planned. The commands that check all this travel behind the data in one
//! write, and `RNFR`/`RNTO` in the next: a small file costs four round trips in all.

use std::io::Read;

use anyhow::Result;

use super::errors::{failed, refused};
use super::learned::{Capability, unsupported};
use super::list_method::ListMethod;
use super::mtime::{self, Plan};
use super::ops::{Watched, list, missing, parse_mlst, rename_over};
use super::session::Session;
use super::wire::{Direction, Reply};
use crate::backend::{Guard, Transient, Written};
use crate::model::Entry;

/// One upload.
pub struct Upload<'a> {
    /// Where the data goes first (absolute).
    pub tmp: &'a str,
    /// The final name (absolute).
    pub dest: &'a str,
    pub mtime: Option<f64>,
    pub guard: Option<Guard<'a>>,
    /// Runs on the session just before the rename, the first change others see (the lock's
    /// last look, see `lock_gate`).
    pub settle: &'a dyn Fn(&mut Session) -> Result<()>,
    /// How the server's folders are listed (for the guard, where there is no `MLST`).
    pub list_method: &'a ListMethod,
    /// Renamed to `dest` once checked; a staged upload stays at `tmp` (`dest` is then the
    /// name it is staged for, in messages).
    pub rename: bool,
}

/// What the reply to the size check says was stored (`None`: the server cannot tell). A
/// server that does not implement the command (`SIZE` or `MLST`, whatever `FEAT` said) is
/// asked the next way: `MLST`, then the folder's listing.
fn stored_size(
    s: &mut Session,
    reply: Option<&Reply>,
    via_size: bool,
    tmp: &str,
    method: &ListMethod,
) -> Result<Option<u64>> {
    let Some(reply) = reply else { return Ok(None) };
    if via_size && unsupported(reply.code) {
        s.refuse(Capability::Size, &reply.text());
        return size_without_size(s, tmp, method);
    }
    if via_size {
        return Ok((reply.code == 213).then(|| reply.message().trim().parse().ok()).flatten());
    }
    if unsupported(reply.code) {
        s.refuse(Capability::Mlst, &reply.text());
        return Ok(in_listing(s, tmp, method)?.map(|e| e.size));
    }
    Ok(parse_mlst(reply, tmp)?.map(|e| e.size))
}

/// The size of `tmp` by `MLST` where the server has it, else from its folder's listing.
fn size_without_size(s: &mut Session, tmp: &str, method: &ListMethod) -> Result<Option<u64>> {
    if s.features.mlst {
        let reply = s.exec(&format!("MLST {tmp}"), &format!("MLST {tmp}"))?;
        return stored_size(s, Some(&reply), false, tmp, method);
    }
    Ok(in_listing(s, tmp, method)?.map(|e| e.size))
}

/// The entry at `path` in its folder's listing.
fn in_listing(s: &mut Session, path: &str, method: &ListMethod) -> Result<Option<Entry>> {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    let parent = if parent.is_empty() { "/" } else { parent };
    Ok(list(s, parent, Some(name), method)?.and_then(|l| l.entries.into_iter().find(|e| e.name == name)))
}

/// The entry at `dest` now, for the guard.
fn current(s: &mut Session, reply: Option<&Reply>, dest: &str, method: &ListMethod) -> Result<Option<Entry>> {
    match reply {
        Some(reply) if unsupported(reply.code) => {
            s.refuse(Capability::Mlst, &reply.text());
            in_listing(s, dest, method)
        }
        Some(reply) => parse_mlst(reply, dest),
        None => in_listing(s, dest, method),
    }
}

/// Sends `data` as `up.tmp`, checks it and renames it to `up.dest` (unless it is staged). On
/// error `up.tmp` may be left behind: the caller removes it.
pub fn store(s: &mut Session, mtimes: &mtime::Shared, up: &Upload<'_>, data: &mut dyn Read) -> Result<Written> {
    let (tmp, dest) = (up.tmp, up.dest);
    let via_size = s.features.size;
    let mut then = Vec::new();
    if via_size {
        then.push(format!("SIZE {tmp}"));
    } else if s.features.mlst {
        then.push(format!("MLST {tmp}"));
    }
    // Neither SIZE nor MLST: the folder's listing shows the size (after the transfer).
    let checks_size = !then.is_empty();
    let time = up.mtime.map(|t| (t, mtime::plan(mtimes, tmp, t)));
    if let Some((_, Plan::Command(cmd))) = &time {
        then.push(cmd.clone());
    }
    // The method not known yet: the candidates tried, and read back, in this write.
    let trial = match &time {
        Some((t, Plan::Unknown)) => mtime::trial(s, tmp, *t),
        _ => None,
    };
    if let Some(trial) = &trial {
        then.extend(trial.commands().iter().cloned());
    }
    let guard_by_mlst = up.guard.is_some() && s.features.mlst;
    if guard_by_mlst {
        then.push(format!("MLST {dest}"));
    }
    let pipelined = s.pipelines_after_transfer();
    // The next transfer's data connection is announced behind the checks and opened while
    // the rename runs (uploads come in a row): one round trip less for it.
    let ahead = s.announces();
    let learned = s.learned();

    let mut t = s
        .transfer(&format!("STOR {tmp}"), Direction::Upload)
        .map_err(|f| failed(f, &format!("cannot upload {dest} (as {tmp})")))?;
    let (copied, net) = {
        let mut watched = Watched::new(&mut t);
        let copied = crate::backend::copy::copy(data, &mut watched);
        (copied, watched.failure(&format!("upload of {dest} interrupted")))
    };
    if let Some(net) = net {
        // The connection failed: the session, a reply short, is dropped.
        return Err(net);
    }
    let mut then = if copied.is_ok() { then } else { Vec::new() };
    // Not where this very transfer found EPSV refused (and fell back to PASV).
    let ahead = ahead && copied.is_ok() && !learned.refused(Capability::Epsv);
    if ahead {
        then.push("EPSV".into());
    }
    let (last, mut replies) = t.finish(&then, pipelined).map_err(|f| failed(f, &format!("upload of {dest} failed")))?;
    if ahead && replies.len() == then.len() {
        let epsv = replies.pop().expect("one reply per command");
        s.announced(epsv);
    }
    if !last.is_ok() {
        // Aborted because the command came with its announcement (Twisted): learnt here,
        // and the caller's next attempt, which reads the source again, goes one step at a time.
        s.aborted_ahead(&last);
        return Err(refused(&last, &format!("upload of {dest} failed")));
    }
    // Our side failed (the source), or the server ended the transfer.
    let sent = copied.map_err(|e| anyhow::Error::new(e).context(format!("upload of {dest} interrupted")))?;
    // The guard's MLST comes last; a refusal of it is learnt first, so that the size check
    // does not fall back to MLST too.
    if guard_by_mlst && let Some(r) = replies.last().filter(|r| unsupported(r.code)) {
        s.refuse(Capability::Mlst, &r.text());
    }
    let mut replies = replies.into_iter();
    if checks_size {
        let stored = stored_size(s, replies.next().as_ref(), via_size, tmp, up.list_method)?;
        if let Some(stored) = stored.filter(|&n| n != sent) {
            return Err(anyhow::Error::new(Transient(format!("{dest}: the server stored {stored} bytes of {sent}"))));
        }
    } else if let Some(stored) = in_listing(s, tmp, up.list_method)?.map(|e| e.size).filter(|&n| n != sent) {
        return Err(anyhow::Error::new(Transient(format!("{dest}: the server stored {stored} bytes of {sent}"))));
    }
    let mtime_set = match time {
        Some((_, Plan::Command(_))) => replies.next().is_some_and(|r| mtime::applied(&r)),
        Some((t, Plan::Unknown)) => match &trial {
            Some(trial) => {
                let answers: Vec<Reply> = replies.by_ref().take(trial.commands().len()).collect();
                mtime::judge(s, mtimes, trial, tmp, t, &answers)?
            }
            None => mtime::discover(s, mtimes, tmp, t)?,
        },
        _ => false,
    };
    if !up.rename {
        return Ok(Written { bytes: sent, mtime_set });
    }
    (up.settle)(s)?;
    // Without a guard the caller replaces whatever is there (metadata, the lock); with one,
    // only a file the guard saw and accepted may be removed to make way.
    let mut may_replace = up.guard.is_none();
    if let Some(guard) = up.guard {
        let reply = if guard_by_mlst { replies.next() } else { None };
        if reply.as_ref().is_some_and(|r| !missing(r.code) && r.code != 250 && !unsupported(r.code)) {
            let reply = reply.expect("checked");
            return Err(refused(&reply, &format!("cannot look at {dest}")));
        }
        let found = current(s, reply.as_ref(), dest, up.list_method)?;
        guard(found.as_ref())?;
        may_replace = found.is_some();
    }
    rename_over(s, tmp, dest, may_replace)?;
    Ok(Written { bytes: sent, mtime_set })
}
