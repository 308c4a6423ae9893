//! The errors of FTP commands and connections, sorted into those worth a retry (marked
//! [`Transient`]) and those that are final.

use std::io::{self, ErrorKind};

use anyhow::anyhow;

use super::wire::{Failure, Reply};
use crate::backend::Transient;

/// Reply codes that may go away when tried again: service not available (too many
/// connections), data connection failures, busy or temporarily unavailable files.
fn transient_code(code: u16) -> bool {
    matches!(code, 421 | 425 | 426 | 450 | 451)
}

/// The error of a refused command, marked [`Transient`] when trying again may help.
pub fn refused(reply: &Reply, doing: &str) -> anyhow::Error {
    let text = format!("{doing}: the server answered {}", reply.text());
    if transient_code(reply.code) { anyhow::Error::new(Transient(text)) } else { anyhow!(text) }
}

/// The error of a connection that failed (always worth another attempt, on a new connection).
pub fn broken(e: io::Error, doing: &str) -> anyhow::Error {
    let text = match e.kind() {
        // A socket timeout reads "Resource temporarily unavailable (os error 11)" on Linux.
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("{doing}: timed out waiting for the server"),
        ErrorKind::UnexpectedEof => format!("{doing}: the server closed the connection"),
        _ => format!("{doing}: {e}"),
    };
    anyhow::Error::new(Transient(text))
}

/// The error of a failed transfer.
pub fn failed(f: Failure, doing: &str) -> anyhow::Error {
    match f {
        Failure::Io(e) => broken(e, doing),
        Failure::Announce(r) | Failure::Refused(r) => refused(&r, doing),
    }
}
