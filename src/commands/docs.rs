//! `ftpsync completions SHELL` and `ftpsync man [COMMAND]`: generated from the clap definitions
//! of [`crate::cli`], so they always list the real commands and flags.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Exit, ExitError};

/// The command line as clap builds it (global flags propagated to every command).
fn command() -> clap::Command {
    let mut cmd = Cli::command().version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    cmd
}

/// Writes generated text to stdout; a closed pipe (`| head`) is not an error.
fn emit(bytes: &[u8]) -> Result<Exit> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(Exit::Success),
    }
}

pub fn completions(args: &CompletionsArgs) -> Result<Exit> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ftpsync", &mut out);
    emit(&out)
}

pub fn man(args: &ManArgs) -> Result<Exit> {
    let root = command();
    let cmd = match &args.command {
        None => root,
        Some(name) => root.find_subcommand(name).cloned().ok_or_else(|| {
            let names: Vec<_> =
                root.get_subcommands().map(|c| c.get_name().to_string()).filter(|n| n != "help").collect();
            ExitError::usage(format!("no command '{name}' (choose from {})", names.join(", ")))
        })?,
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .source(format!("ftpsync {}", env!("CARGO_PKG_VERSION")))
        .manual("ftpsync manual")
        .render(&mut out)
        .context("cannot render the manual page")?;
    emit(&out)
}
