//! Interrupted commits: every command that plans or applies first resolves the journal a
//! staged apply left when it was cut short during its commit (see `apply::commit::recover`).

use anyhow::Result;

use crate::apply::commit::recover::recover;
use crate::backend::Target;
use crate::output::Printer;

/// Resolves an interrupted commit on these targets, if there is one, and says what was done.
pub fn first(local: &mut dyn Target, remote: &mut dyn Target, break_lock: bool, printer: &Printer) -> Result<()> {
    if let Some(message) = recover(local, remote, break_lock)?.message() {
        printer.warn(&message);
    }
    Ok(())
}
