//! The `ftpsync` binary: parse the command line, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ftpsync::cli::Cli;
use ftpsync::error::exit_of;

fn main() -> ExitCode {
    let cli = Cli::parse();
    ftpsync::error::interrupt::install();
    match ftpsync::commands::dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            let exit = exit_of(&err);
            if exit == ftpsync::error::Exit::Aborted {
                eprintln!("\nAborted by user.");
            } else {
                eprintln!("error: {err:#}");
            }
            exit.into()
        }
    }
}
