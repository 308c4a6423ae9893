//! One module per command; [`dispatch`] picks the command. Commands turn settings into library
//! calls and hand results to the printer.

pub mod apply;
pub mod demo;
pub mod docs;
pub mod finish;
pub mod plan;
pub mod recover;
pub mod run;
pub mod scan;
pub mod serve;
pub mod sftp_login;
pub mod show;
pub mod sync;
pub mod targets;
pub mod tree;
pub mod version;

use anyhow::Result;

use crate::cli::{Cli, Command, PlanMode};
use crate::error::{Exit, ExitError};
use crate::settings::{
    ApplyPlanSettings, DemoSettings, Global, PlanOutput, RecoverSettings, RunTaskSettings, ScanSettings, ServeSettings,
    ShowSettings, SyncSettings, TreeSettings,
};

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<Exit> {
    let global = Global::from_cli(&cli)?;
    if global.verbosity >= 5 {
        crate::output::trace::install(global.verbosity);
    }
    if cli.version {
        print_version(global.verbosity > crate::output::DEFAULT_VERBOSITY);
        return Ok(Exit::Success);
    }
    let Some(command) = &cli.command else {
        return Err(ExitError::usage("missing command (choose from 'upload', 'download', 'sync', 'run', 'scan', 'tree', 'plan', 'show', 'apply', 'serve', 'demo', 'completions', 'man'); see --help").into());
    };
    match command {
        Command::Upload(a) => sync::run(&SyncSettings::upload(a, &cli), &global),
        Command::Download(a) => sync::run(&SyncSettings::download(a, &cli), &global),
        Command::Sync(a) => sync::run(&SyncSettings::sync(a, &cli), &global),
        Command::Plan(p) => {
            let settings = match &p.mode {
                PlanMode::Upload(a) => SyncSettings::upload(a, &cli),
                PlanMode::Download(a) => SyncSettings::download(a, &cli),
                PlanMode::Sync(a) => SyncSettings::sync(a, &cli),
            };
            plan::run(PlanOutput::from_args(p).as_ref(), &settings, &global)
        }
        Command::Run(a) => run::run(&RunTaskSettings::from_args(a, &cli, &global), &global),
        Command::Scan(a) => scan::run(&ScanSettings::from_args(a), &global),
        Command::Tree(a) => tree::run(&TreeSettings::from_args(a), &global),
        Command::Show(a) => show::run(&ShowSettings::from_args(a)),
        Command::Apply(a) => apply::run(&ApplyPlanSettings::from_args(a), &global),
        Command::Recover(a) => recover::run(&RecoverSettings::from_args(a), &global),
        Command::Demo => demo::run(&DemoSettings::from_environment(), &global),
        Command::Serve(a) => serve::run(&ServeSettings::from_args(a), &global),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    }
}

fn print_version(details: bool) {
    for line in version::lines(details) {
        crate::output::Printer::silent().data(&line);
    }
}
