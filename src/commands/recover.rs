//! Interrupted commits: every command that plans or applies first resolves the journal a
//! staged apply left when it was cut short during its commit (see `apply::commit::recover`).

use anyhow::Result;

use super::targets::open;
use crate::apply::commit::recover::{read_journal, recover};
use crate::backend::Target;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::{Global, RecoverSettings};

/// Resolves an interrupted commit on these targets, if there is one, and says what was done.
pub fn first(local: &mut dyn Target, remote: &mut dyn Target, break_lock: bool, printer: &Printer) -> Result<()> {
    if let Some(message) = recover(Some(local), remote, break_lock)?.message() {
        printer.warn(&message);
    }
    Ok(())
}

/// `ftpsync recover REMOTE [LOCAL]`: resolves an interrupted commit on request. Without LOCAL,
/// the local folder the remote journal names is used when it exists here.
pub fn run(s: &RecoverSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, false);
    let mut remote = open(&s.remote, &s.conn, &printer, false)?;
    let local_path = match &s.local {
        Some(l) => Some(l.clone()),
        None => read_journal(&mut *remote)?.map(|j| j.peer).filter(|p| std::path::Path::new(p).is_dir()),
    };
    let mut local = match &local_path {
        Some(path) => Some(open(path, &s.conn, &printer, false)?),
        None => None,
    };
    let looked = match &local {
        Some(l) => format!("{} or {}", remote.info().display, l.info().display),
        None => remote.info().display.clone(),
    };
    let recovered = match local.as_mut() {
        Some(l) => recover(Some(&mut **l), &mut *remote, s.conn.break_lock)?,
        None => recover(None, &mut *remote, s.conn.break_lock)?,
    };
    let message = recovered.message().unwrap_or_else(|| format!("Nothing to recover: no commit journal on {looked}."));
    printer.out(0, &message);
    Ok(Exit::Success)
}
