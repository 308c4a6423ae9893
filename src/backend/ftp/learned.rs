//! What a target has learnt about its server's optional commands, shared by all of the
//! target's connections.
//!
//! FEAT may be missing or lie, so every optional method is tried and judged by its answer: a
//! command the server does not implement (`500`, `502`, `504`) makes ftpsync fall back to the
//! next method, and the refusal is remembered here so that no connection of the target asks
//! again. With `-vv` each choice is reported once (log target [`METHODS_TARGET`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use super::features::Features;

/// The `log` target of the "which method was chosen" lines (shown with `-vv`).
pub const METHODS_TARGET: &str = "ftpsync::ftp::methods";

/// Reports a chosen method or a fallback (`-vv`).
macro_rules! chose {
    ($($arg:tt)*) => { log::debug!(target: $crate::backend::ftp::learned::METHODS_TARGET, $($arg)*) };
}
pub(crate) use chose;

/// A reply code meaning "this command (or this form of it) is not implemented here": trying
/// it again cannot help, another method may.
pub fn unsupported(code: u16) -> bool {
    matches!(code, 500 | 502 | 504)
}

/// An optional command or method, with the fallback used when the server refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// `FEAT` → the other features are probed.
    Feat,
    /// `MLSD` → `LIST`.
    Mlsd,
    /// `LIST -a` (options) → plain `LIST`.
    ListOptions,
    /// `MLST` → a listing of the parent folder.
    Mlst,
    /// `SIZE` → `MLST`, or a listing of the folder.
    Size,
    /// `MDTM` (reading a time) → the time `LIST` shows.
    Mdtm,
    /// `EPSV` → `PASV`.
    Epsv,
    /// `NOOP` as the fence of a batch → `PWD`.
    Noop,
    /// `OPTS UTF8 ON` → not sent (a server that hangs up after it is logged in again without).
    Utf8Opts,
    /// Several commands in one write → one command at a time (replies came out of order).
    Pipelining,
    /// A transfer's command in the same write as its `EPSV`/`PASV`/`PORT` → sent only once the
    /// announcement is answered and the data connection open (Twisted fails an upload that
    /// came with its announcement: `426`).
    TransferAhead,
    /// Renaming a folder (`RNFR`/`RNTO`) → a staged apply creates new folders under their final
    /// names before its commit and moves a deleted folder's files aside one by one.
    FolderRename,
    /// The ways of setting a modification time tried together in one write (their replies
    /// came out of step) → one at a time.
    TimeTrial,
}

impl Capability {
    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// What ftpsync does instead, for the `-vv` line.
    fn fallback(self) -> &'static str {
        match self {
            Capability::Feat => "probing MLST, SIZE and MDTM instead",
            Capability::Mlsd => "listing folders with LIST",
            Capability::ListOptions => "listing folders with plain LIST",
            Capability::Mlst => "looking up entries in their folder's listing",
            Capability::Size => "checking uploaded sizes with MLST or a listing",
            Capability::Mdtm => "using the times listings show",
            Capability::Epsv => "opening data connections with PASV",
            Capability::Noop => "ending batches with PWD",
            Capability::Utf8Opts => "logging in without OPTS UTF8 ON",
            Capability::Pipelining => "sending one command at a time",
            Capability::TransferAhead => "sending each transfer's command once its data connection is open",
            Capability::FolderRename => {
                "creating new folders under their final names before the commit, and moving a deleted folder's files aside one by one"
            }
            Capability::TimeTrial => "trying the ways of setting modification times one at a time",
        }
    }
}

/// How the server is put into binary mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `TYPE I`.
    Image,
    /// `TYPE L 8` (RFC 959's other name for binary), for servers that refuse `TYPE I`.
    Local8,
    /// The server knows no `TYPE` at all: it transfers bytes as they are (sizes are checked).
    NoType,
}

const BINARY_UNKNOWN: u8 = 0;

/// Learnt facts, shared by all connections of one target.
#[derive(Debug, Default)]
pub struct Learned {
    /// [`Capability`] bits the server refused.
    refused: AtomicU32,
    /// [`Binary`] + 1, or [`BINARY_UNKNOWN`].
    binary: AtomicU8,
    /// The features of the first connection (from `FEAT`, or probed without it).
    features: Mutex<Option<Features>>,
}

impl Learned {
    /// Whether the server refused this capability on one of the target's connections.
    pub fn refused(&self, cap: Capability) -> bool {
        self.refused.load(Ordering::Relaxed) & cap.bit() != 0
    }

    /// Remembers a refusal; the first time, says what is done instead (`-vv`).
    pub fn refuse(&self, cap: Capability, why: &str) {
        let before = self.refused.fetch_or(cap.bit(), Ordering::Relaxed);
        if before & cap.bit() == 0 {
            chose!("ftp: {why}: {}", cap.fallback());
        }
    }

    pub fn binary(&self) -> Option<Binary> {
        match self.binary.load(Ordering::Relaxed) {
            BINARY_UNKNOWN => None,
            1 => Some(Binary::Image),
            2 => Some(Binary::Local8),
            _ => Some(Binary::NoType),
        }
    }

    pub fn set_binary(&self, b: Binary) {
        let v = match b {
            Binary::Image => 1,
            Binary::Local8 => 2,
            Binary::NoType => 3,
        };
        self.binary.store(v, Ordering::Relaxed);
    }

    /// The features found by the first connection, if one got that far.
    pub fn features(&self) -> Option<Features> {
        *self.features.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the first connection's features; returns true for the first (which reports them).
    pub fn set_features(&self, f: Features) -> bool {
        let mut slot = self.features.lock().unwrap_or_else(|e| e.into_inner());
        let first = slot.is_none();
        if first {
            *slot = Some(f);
        }
        first
    }

    /// `f` without what the server refused since.
    pub fn mask(&self, mut f: Features) -> Features {
        f.mlsd &= !self.refused(Capability::Mlsd);
        f.mlst &= !self.refused(Capability::Mlst);
        f.size &= !self.refused(Capability::Size);
        f.mdtm &= !self.refused(Capability::Mdtm);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_remembered_and_masked() {
        let learned = Learned::default();
        let all = Features { mlsd: true, mlst: true, mfmt: true, mdtm: true, size: true, utf8: true };
        assert!(learned.mask(all).size);
        learned.refuse(Capability::Size, "SIZE refused");
        learned.refuse(Capability::Size, "SIZE refused again");
        assert!(learned.refused(Capability::Size) && !learned.refused(Capability::Mlst));
        let masked = learned.mask(all);
        assert!(!masked.size && masked.mlst && masked.mlsd && masked.mdtm);
        assert!(unsupported(502) && unsupported(500) && unsupported(504) && !unsupported(550) && !unsupported(421));
    }

    #[test]
    fn binary_mode_is_remembered() {
        let learned = Learned::default();
        assert_eq!(learned.binary(), None);
        for b in [Binary::Image, Binary::Local8, Binary::NoType] {
            learned.set_binary(b);
            assert_eq!(learned.binary(), Some(b));
        }
    }
}
