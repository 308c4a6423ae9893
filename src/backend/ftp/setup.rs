//! The commands after login that prepare a connection: binary mode, UTF-8 names, features.
//!
//! They go in one write where the server takes commands in a row. A server that answers them
//! in another order (aioftp answers a command it does not know at once, before the commands
//! it runs as tasks) is caught by replies that cannot belong to their command, and is then
//! talked to one command at a time. `TYPE I` refused falls back to `TYPE L 8`; without `FEAT`,
//! `MLST`, `SIZE` and `MDTM` are probed on the root folder (a `500`/`502` means the command is
//! unknown, anything else that it exists).

use std::io::ErrorKind;

use anyhow::{Result, anyhow};

use super::errors::{broken, refused};
use super::features::{Features, features_of};
use super::learned::{Binary, Capability, Learned, chose, unsupported};
use super::wire::{Control, Reply};
use crate::backend::url::FtpUrl;

/// The server hung up right after `OPTS UTF8 ON`: the login is tried again without it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DroppedAfterOpts(String);

const OPTS_UTF8: &str = "OPTS UTF8 ON";

fn type_command(b: Binary) -> Option<&'static str> {
    match b {
        Binary::Image => Some("TYPE I"),
        Binary::Local8 => Some("TYPE L 8"),
        Binary::NoType => None,
    }
}

/// Sends `cmds` (in one write where pipelining is on) and reads their replies. A connection
/// closed after `OPTS UTF8 ON` is told apart from other failures.
fn run(ctl: &mut Control, cmds: &[String], shown: &str) -> Result<Vec<Reply>> {
    ctl.batch(cmds).map_err(|e| {
        let hung_up = matches!(
            e.kind(),
            ErrorKind::UnexpectedEof
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
        );
        if hung_up && cmds.iter().any(|c| c == OPTS_UTF8) {
            anyhow::Error::new(DroppedAfterOpts(format!("{shown} closed the connection after {OPTS_UTF8} ({e})")))
        } else {
            broken(e, &format!("login to {shown} failed"))
        }
    })
}

/// Whether each reply can be the answer to its command (`TYPE` accepted, `FEAT` answered
/// with its list or refused): replies that cannot were read out of order.
fn plausible(cmds: &[String], replies: &[Reply]) -> bool {
    cmds.iter().zip(replies).all(|(cmd, r)| match cmd.split(' ').next() {
        Some("TYPE") => (200..300).contains(&r.code),
        Some("FEAT") => r.code == 211 || r.code >= 400,
        _ => true,
    })
}

/// Prepares a logged-in connection; returns the features to use, whether this is the
/// target's first connection to get this far (which reports the methods chosen), and the reply
/// to a `CWD` into the target's folder: it travels with the other commands (every connection
/// works there, and the first one learns at no cost of its own whether the folder exists).
pub fn setup(ctl: &mut Control, url: &FtpUrl, learned: &Learned) -> Result<(Features, bool, Reply)> {
    let shown = url.display();
    let binary = learned.binary().unwrap_or(Binary::Image);
    let known = learned.features();
    let mut cmds: Vec<String> = type_command(binary).into_iter().map(String::from).collect();
    if !learned.refused(Capability::Utf8Opts) {
        cmds.push(OPTS_UTF8.into());
    }
    if known.is_none() {
        cmds.push("FEAT".into());
    }
    cmds.push(format!("CWD {}", url.path));
    let mut replies = run(ctl, &cmds, &shown)?;
    if ctl.pipelining() && cmds.len() > 1 && !plausible(&cmds, &replies) {
        // Refused, or read out of order? The first command alone tells (it is the binary
        // mode's, whose refusal would be tried once more anyway).
        let alone = run(ctl, &cmds[..1], &shown)?;
        if plausible(&cmds[..1], &alone) && !plausible(&cmds[..1], &replies[..1]) {
            learned.refuse(Capability::Pipelining, &format!("{shown} answered commands sent together out of order"));
            ctl.set_pipelining(false);
            let rest = run(ctl, &cmds[1..], &shown)?;
            replies = alone.into_iter().chain(rest).collect();
        } else {
            replies[0] = alone.into_iter().next().expect("one reply");
        }
    }
    let mut features = known.unwrap_or_default();
    for (cmd, reply) in cmds.iter().zip(&replies) {
        match cmd.split(' ').next().unwrap_or_default() {
            "TYPE" => binary_mode(ctl, learned, binary, reply)?,
            "OPTS" if reply.code >= 500 => {
                learned.refuse(Capability::Utf8Opts, &format!("the server answered {OPTS_UTF8} with {}", reply.text()))
            }
            "FEAT" if reply.code == 211 => features = features_of(reply),
            "FEAT" => {
                learned.refuse(Capability::Feat, &format!("the server answered FEAT with {}", reply.text()));
                features = probe(ctl, url, learned)?;
            }
            _ => {}
        }
    }
    let first = learned.set_features(features);
    let entered = replies.pop().expect("one reply per command");
    Ok((learned.mask(features), first, entered))
}

/// Judges the reply to the binary-mode command, falling back from `TYPE I` to `TYPE L 8`, and
/// to none at all on a server that knows no `TYPE`.
fn binary_mode(ctl: &mut Control, learned: &Learned, tried: Binary, reply: &Reply) -> Result<()> {
    if (200..300).contains(&reply.code) {
        learned.set_binary(tried);
        return Ok(());
    }
    if tried != Binary::Image || !(unsupported(reply.code) || reply.code == 501) {
        return Err(refused(reply, "cannot switch to binary mode"));
    }
    let local = ctl.exec("TYPE L 8").map_err(|e| broken(e, "cannot switch to binary mode"))?;
    if (200..300).contains(&local.code) {
        learned.set_binary(Binary::Local8);
        chose!("ftp: the server answered TYPE I with {}: binary mode by TYPE L 8", reply.text());
        return Ok(());
    }
    if matches!(reply.code, 500 | 502) && matches!(local.code, 500 | 502) {
        // No TYPE command at all: such a server sends bytes as they are; uploads are checked
        // by their size as everywhere.
        learned.set_binary(Binary::NoType);
        chose!("ftp: the server knows no TYPE command ({}): transfers without one", reply.text());
        return Ok(());
    }
    Err(anyhow!(
        "the server refuses binary mode (TYPE I: {}; TYPE L 8: {}): files cannot be copied unchanged",
        reply.text(),
        local.text()
    ))
}

/// The features of a server without `FEAT`, from what it answers to `MLST`, `SIZE` and `MDTM`
/// of the root folder (one at a time: such a server may answer a batch out of order).
/// Setting times needs no probe: each method is tried on the first upload.
fn probe(ctl: &mut Control, url: &FtpUrl, learned: &Learned) -> Result<Features> {
    let root = if url.path.is_empty() { "/" } else { url.path.as_str() };
    let mut known = |verb: &str, cap: Capability| -> Result<bool> {
        let reply = ctl.exec(&format!("{verb} {root}")).map_err(|e| broken(e, &format!("probing {verb}")))?;
        if unsupported(reply.code) {
            learned.refuse(cap, &format!("the server answered {verb} with {}", reply.text()));
        }
        Ok(!unsupported(reply.code))
    };
    let mlst = known("MLST", Capability::Mlst)?;
    let size = known("SIZE", Capability::Size)?;
    let mdtm = known("MDTM", Capability::Mdtm)?;
    // MLST means MLSD too (RFC 3659).
    Ok(Features { mlsd: mlst, mlst, mfmt: true, mdtm, size, utf8: false })
}

/// The `-vv` line of the methods a target's first connection chose.
pub fn report(f: &Features, ctl: &Control, learned: &Learned, data: &str) {
    let listings = if f.mlsd { "MLSD" } else { "LIST" };
    let lookups = if f.mlst { "MLST" } else { "listings" };
    let sizes = if f.size {
        "SIZE"
    } else if f.mlst {
        "MLST"
    } else {
        "listings"
    };
    let times = if f.mdtm { "MDTM" } else { "listings" };
    let pipelining = if ctl.pipelining() { "several commands per write" } else { "one command at a time" };
    let binary = match learned.binary() {
        Some(Binary::Local8) => "TYPE L 8",
        Some(Binary::NoType) => "no TYPE",
        _ => "TYPE I",
    };
    chose!(
        "ftp: methods: listings by {listings}, lookups by {lookups}, uploaded sizes checked by {sizes}, times read by {times}, data connections by {data}, {pipelining}, binary mode by {binary}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> Reply {
        Reply { code, lines: vec![format!("{code} x").into_bytes()] }
    }

    #[test]
    fn replies_out_of_order_are_implausible() {
        let cmds: Vec<String> = ["TYPE I", OPTS_UTF8, "FEAT"].map(String::from).to_vec();
        assert!(plausible(&cmds, &[reply(200), reply(200), reply(211)]));
        assert!(plausible(&cmds, &[reply(200), reply(502), reply(502)]), "refusals in their place");
        // aioftp: OPTS and FEAT refused at once, TYPE's 200 last.
        assert!(!plausible(&cmds, &[reply(502), reply(502), reply(200)]));
        assert!(!plausible(&cmds, &[reply(200), reply(211), reply(200)]), "FEAT answered 200");
        assert!(!plausible(&cmds, &[reply(504), reply(200), reply(211)]), "TYPE refused: asked again alone");
    }
}
