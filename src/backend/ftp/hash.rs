//! The server hashes its own files: `HASH` (draft-bryan-ftpext-hash: `FEAT` lists
//! `HASH SHA-1*;SHA-256;...` with the selected algorithm starred, `OPTS HASH SHA-256` selects
//! one per connection, `HASH path` answers `213 SHA-256 0-49 <hex> path`), and the older
//! `XSHA256`/`XSHA512` (`250 <HEX>` on proftpd's mod_digest, `213 <hex>` elsewhere).
//!
//! What `FEAT` announces is only a promise: a server that lists `HASH` and then answers
//! `500`/`502` (not implemented) is remembered as without it, for all of the target's
//! connections, and the next method is tried; `504` (or `501` to `OPTS HASH`, as proftpd
//! answers) is an algorithm it does not offer, not a failure; anything else (`550` no such
//! file, `553` not a regular file, `450` busy) is that file's failure. Replies differ between
//! servers (with or without the byte range, with or without the name): all are read.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::{Result, anyhow};

use super::errors::refused;
use super::learned::{chose, unsupported};
use super::session::Session;
use super::wire::Reply;
use crate::model::digest::{HashAlg, Hashed};

/// Commands sent in one write: as for renames (a server that stops reading while its replies
/// wait to be read deadlocks a TLS connection with a long batch).
const PER_WRITE: usize = 32;

/// How a file is hashed on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// `OPTS HASH <alg>` + `HASH path`.
    Hash,
    /// `XSHA256 path`, `XSHA512 path`.
    XCommand,
}

impl Method {
    fn bit(self) -> u8 {
        match self {
            Method::Hash => 1,
            Method::XCommand => 2,
        }
    }
}

/// What `FEAT` announced for hashing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Support {
    /// The algorithms of the `HASH` line.
    pub hash: Vec<HashAlg>,
    /// The `X...` commands listed (`XSHA256`, `XSHA512`, `XSHA1`/`XSHA`, `XMD5`, `XCRC`).
    pub x: Vec<HashAlg>,
}

impl Support {
    /// What a `FEAT` reply announces.
    pub fn of(feat: &Reply) -> Support {
        let mut support = Support::default();
        if feat.code != 211 {
            return support;
        }
        for line in feat.lines.iter().skip(1).filter(|l| l.first() == Some(&b' ')) {
            let line = String::from_utf8_lossy(line);
            let mut words = line.split_whitespace();
            let verb = words.next().unwrap_or_default().to_ascii_uppercase();
            match verb.as_str() {
                "HASH" => {
                    let algs = words.next().unwrap_or_default();
                    support.hash =
                        algs.split(';').filter_map(|a| HashAlg::from_name(a.trim().trim_end_matches('*'))).collect();
                }
                "XSHA256" => support.x.push(HashAlg::Sha256),
                "XSHA512" => support.x.push(HashAlg::Sha512),
                "XSHA1" | "XSHA" if !support.x.contains(&HashAlg::Sha1) => support.x.push(HashAlg::Sha1),
                "XMD5" => support.x.push(HashAlg::Md5),
                "XCRC" => support.x.push(HashAlg::Crc32),
                _ => {}
            }
        }
        support
    }

    /// The algorithms offered that prove nothing (for the message that says so).
    fn integrity_only(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> =
            self.hash.iter().chain(&self.x).filter(|a| !a.proves()).map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// What a target learnt about its server's hashing, shared by all its connections.
#[derive(Debug, Default)]
pub struct State {
    /// `FEAT`'s announcement, read once.
    support: Mutex<Option<Support>>,
    /// [`Method`] bits the server refused as not implemented.
    refused: AtomicU8,
    /// Method and algorithm pairs the server said it does not offer (504).
    unoffered: Mutex<Vec<(u8, HashAlg)>>,
}

impl State {
    fn refused(&self, m: Method) -> bool {
        self.refused.load(Ordering::Relaxed) & m.bit() != 0
    }

    fn refuse(&self, m: Method, reply: &Reply) {
        if self.refused.fetch_or(m.bit(), Ordering::Relaxed) & m.bit() == 0 {
            chose!("ftp: the server answered {m:?} with {} although FEAT lists it: not asked again", reply.text());
        }
    }

    fn unoffered(&self, m: Method, alg: HashAlg) -> bool {
        self.unoffered.lock().unwrap_or_else(|e| e.into_inner()).contains(&(m.bit(), alg))
    }

    fn unoffer(&self, m: Method, alg: HashAlg) {
        self.unoffered.lock().unwrap_or_else(|e| e.into_inner()).push((m.bit(), alg));
    }

    /// `FEAT`'s announcement, asked on `s` the first time.
    fn support(&self, s: &mut Session) -> Result<Support> {
        if let Some(known) = self.support.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(known);
        }
        let feat = s.exec("FEAT", "asking the server's features (FEAT)")?;
        let support = Support::of(&feat);
        chose!("ftp: hashing offered: HASH {:?}, X commands {:?}", support.hash, support.x);
        *self.support.lock().unwrap_or_else(|e| e.into_inner()) = Some(support.clone());
        Ok(support)
    }
}

/// One file's answer to a hash command: its digest, `Err(None)` when the method or algorithm
/// is not available after all (remembered), or `Err(Some(..))`: this file's failure.
type Answer = std::result::Result<String, Option<anyhow::Error>>;

/// Hashes the files `abs` (absolute server paths) with `alg` on `s`: `HASH` where offered,
/// else the `X` command; [`Hashed::Unsupported`] for all when neither works here.
pub(super) fn hash_files(s: &mut Session, state: &State, abs: &[String], alg: HashAlg) -> Result<Vec<Result<Hashed>>> {
    let support = state.support(s)?;
    let mut out: Vec<Option<Result<Hashed>>> = (0..abs.len()).map(|_| None).collect();
    for method in [Method::Hash, Method::XCommand] {
        let offered = match method {
            Method::Hash => support.hash.contains(&alg),
            Method::XCommand => support.x.contains(&alg) && matches!(alg, HashAlg::Sha256 | HashAlg::Sha512),
        };
        if !offered || state.refused(method) || state.unoffered(method, alg) {
            continue;
        }
        let todo: Vec<usize> = (0..abs.len()).filter(|&i| out[i].is_none()).collect();
        for chunk in todo.chunks(PER_WRITE) {
            let paths: Vec<&str> = chunk.iter().map(|&i| abs[i].as_str()).collect();
            let Some(answers) = ask(s, state, method, alg, &paths)? else { break };
            for (&i, answer) in chunk.iter().zip(answers) {
                out[i] = match answer {
                    Ok(hex) => Some(Ok(Hashed::Digest { hex, method: label(method, alg) })),
                    Err(Some(e)) => Some(Err(e)),
                    Err(None) => None,
                };
            }
        }
    }
    let why = unsupported_why(&support, state, alg);
    Ok(out.into_iter().map(|o| o.unwrap_or_else(|| Ok(Hashed::Unsupported(why.clone())))).collect())
}

/// How the method is named for people.
fn label(method: Method, alg: HashAlg) -> String {
    match (method, alg) {
        (Method::Hash, _) => format!("HASH {}", alg.name()),
        (Method::XCommand, HashAlg::Sha512) => "XSHA512".into(),
        (Method::XCommand, _) => "XSHA256".into(),
    }
}

/// Why the server cannot hash with `alg`, naming what it offers instead.
fn unsupported_why(support: &Support, state: &State, alg: HashAlg) -> String {
    let weak = support.integrity_only();
    let refused = [Method::Hash, Method::XCommand].iter().any(|m| state.refused(*m));
    let mut why = format!("the server offers no {} hashing", alg.name());
    if refused {
        why.push_str(" (it refused the commands FEAT lists)");
    }
    if !weak.is_empty() {
        why.push_str(&format!("; {} only, integrity checks that prove nothing", weak.join(", ")));
    }
    why
}

/// Sends one batch (`OPTS HASH` first for `HASH`); `None` when the method turned out not to
/// work here at all (remembered).
fn ask(s: &mut Session, state: &State, method: Method, alg: HashAlg, paths: &[&str]) -> Result<Option<Vec<Answer>>> {
    let mut cmds: Vec<String> = Vec::with_capacity(paths.len() + 1);
    if method == Method::Hash {
        // The selection is per connection, and connections are replaced after failures:
        // selecting in the same write costs no round trip.
        cmds.push(format!("OPTS HASH {}", alg.name()));
    }
    let verb = match (method, alg) {
        (Method::Hash, _) => "HASH",
        (Method::XCommand, HashAlg::Sha512) => "XSHA512",
        (Method::XCommand, _) => "XSHA256",
    };
    cmds.extend(paths.iter().map(|p| format!("{verb} {p}")));
    let replies = s.batch(&cmds, &format!("hashing files on the server ({verb})"))?;
    let mut replies = replies.into_iter();
    if method == Method::Hash {
        let opts = replies.next().ok_or_else(|| anyhow!("no reply to OPTS HASH"))?;
        if unsupported(opts.code) && opts.code != 504 {
            state.refuse(method, &opts);
            return Ok(None);
        }
        if !opts.is_ok() {
            // 504 (the draft) or 501 (proftpd): this algorithm is not offered.
            state.unoffer(method, alg);
            return Ok(None);
        }
    }
    let mut answers = Vec::with_capacity(paths.len());
    for (path, reply) in paths.iter().zip(replies) {
        answers.push(match reply.code {
            504 => {
                state.unoffer(method, alg);
                Err(None)
            }
            c if unsupported(c) => {
                state.refuse(method, &reply);
                Err(None)
            }
            _ if reply.is_ok() => {
                let parsed = match method {
                    Method::Hash => parse_hash(&reply, alg),
                    Method::XCommand => parse_x(&reply, alg),
                };
                parsed.map_err(|why| Some(anyhow!("{verb} {path}: {why}")))
            }
            _ => Err(Some(refused(&reply, &format!("hashing {path} on the server ({verb})")))),
        });
    }
    Ok(Some(answers))
}

/// The digest in a `HASH` reply's last line: `213 <alg> [<start>-<end>] <hex> [<name>]`.
pub fn parse_hash(reply: &Reply, alg: HashAlg) -> std::result::Result<String, String> {
    let line = last_line(reply);
    let mut words = line.split_whitespace().skip(1);
    let named = words.next().unwrap_or_default();
    if HashAlg::from_name(named) != Some(alg) {
        return Err(format!("the server answered with another algorithm: {line:?}"));
    }
    let mut next = words.next().unwrap_or_default();
    if let Some((start, end)) = next.split_once('-')
        && start.bytes().all(|b| b.is_ascii_digit())
        && end.bytes().all(|b| b.is_ascii_digit())
        && !start.is_empty()
    {
        // A digest of part of the file proves nothing about the rest.
        if start != "0" {
            return Err(format!("the server hashed only part of the file: {line:?}"));
        }
        next = words.next().unwrap_or_default();
    }
    digest(next, alg).ok_or_else(|| format!("no {} digest in the reply {line:?}", alg.name()))
}

/// The digest in an `XSHA256`/`XSHA512` reply: the last word of its last line.
pub fn parse_x(reply: &Reply, alg: HashAlg) -> std::result::Result<String, String> {
    let line = last_line(reply);
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    // `250 <HEX>` (proftpd) or `213 <hex>`; some servers put the name after the digest.
    words.iter().find_map(|w| digest(w, alg)).ok_or_else(|| format!("no {} digest in the reply {line:?}", alg.name()))
}

fn last_line(reply: &Reply) -> String {
    reply.lines.last().map(|l| String::from_utf8_lossy(l).trim().to_string()).unwrap_or_default()
}

/// `word` as a digest of `alg` (lower case), if it is one.
fn digest(word: &str, alg: HashAlg) -> Option<String> {
    (word.len() == alg.hex_len() && word.bytes().all(|b| b.is_ascii_hexdigit())).then(|| word.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply { code, lines: lines.iter().map(|l| l.as_bytes().to_vec()).collect() }
    }

    const HEX: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";

    #[test]
    fn feat_announcements() {
        let feat = reply(
            211,
            &[
                "211-Features:",
                " HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;",
                " MDTM",
                " XCRC",
                " XSHA256",
                " XSHA",
                "211 End",
            ],
        );
        let s = Support::of(&feat);
        assert_eq!(s.hash, [HashAlg::Crc32, HashAlg::Md5, HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512]);
        assert_eq!(s.x, [HashAlg::Crc32, HashAlg::Sha256, HashAlg::Sha1]);
        let weak = Support::of(&reply(211, &["211-Features:", " HASH MD5*;SHA-1", " XCRC", "211 End"]));
        assert_eq!(weak.integrity_only(), ["CRC32", "MD5", "SHA-1"]);
        assert_eq!(Support::of(&reply(500, &["500 FEAT not understood"])), Support::default());
    }

    #[test]
    fn hash_replies_with_and_without_range_and_name() {
        for line in [
            format!("213 SHA-256 0-12 {HEX} a.txt"),
            format!("213 SHA-256 0-12 {HEX} name with spaces.txt"),
            format!("213 SHA-256 {HEX} a.txt"),
            format!("213 SHA-256 0-12 {HEX}"),
            format!("213 sha-256 {}", HEX.to_ascii_uppercase()),
        ] {
            let r = reply(213, &["213-Computing SHA-256 digest", &line]);
            assert_eq!(parse_hash(&r, HashAlg::Sha256).as_deref(), Ok(HEX), "{line}");
        }
        let other = reply(213, &[&format!("213 SHA-1 0-12 {} a.txt", &HEX[..40])]);
        assert!(parse_hash(&other, HashAlg::Sha256).unwrap_err().contains("another algorithm"));
        let part = reply(213, &[&format!("213 SHA-256 5-12 {HEX} a.txt")]);
        assert!(parse_hash(&part, HashAlg::Sha256).unwrap_err().contains("part of the file"));
        assert!(parse_hash(&reply(213, &["213 SHA-256 0-12 abc a.txt"]), HashAlg::Sha256).is_err());
    }

    #[test]
    fn x_command_replies() {
        let upper = reply(250, &["250-Computing SHA256 digest", &format!("250 {}", HEX.to_ascii_uppercase())]);
        assert_eq!(parse_x(&upper, HashAlg::Sha256).as_deref(), Ok(HEX));
        let named = reply(213, &[&format!("213 {HEX} a.txt")]);
        assert_eq!(parse_x(&named, HashAlg::Sha256).as_deref(), Ok(HEX));
        assert!(parse_x(&reply(250, &["250 DEADBEEF"]), HashAlg::Sha256).is_err());
    }
}
