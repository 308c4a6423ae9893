//! The `ftpsync` binary: parse the command line, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ftpsync::cli::Cli;
use ftpsync::error::exit_of;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ftpsync::commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            exit_of(&err).into()
        }
    }
}
