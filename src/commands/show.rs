//! `ftpsync show PLAN`: a plan for people or machines.

use anyhow::Result;

use crate::cli::{ShowArgs, ShowFormat};
use crate::error::{Exit, ExitError};
use crate::output::show::{markdown, table};
use crate::plan::io::{FileFormat, encode};
use crate::plan::load;

pub fn run(args: &ShowArgs) -> Result<Exit> {
    let loaded = load(&args.plan).map_err(|e| ExitError::rejected(format!("{}: {e}", args.plan.display())))?;
    if args.sha256 {
        println!("{}", loaded.digest);
        return Ok(Exit::Success);
    }
    let text = match args.format {
        ShowFormat::Table => table(&loaded.plan, args.all),
        ShowFormat::Markdown => markdown(&loaded.plan, &loaded.digest),
        ShowFormat::Json => String::from_utf8(encode(&loaded.plan, FileFormat::Json)).expect("JSON is UTF-8"),
    };
    crate::output::Printer::silent().data(text.trim_end());
    Ok(Exit::Success)
}
