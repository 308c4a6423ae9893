//! `ftpsync show PLAN`: a plan for people or machines.

use anyhow::Result;

use crate::error::{Exit, ExitError};
use crate::output::show::{ShowFormat, markdown, table};
use crate::plan::io::{FileFormat, encode};
use crate::plan::load;
use crate::settings::ShowSettings;

pub fn run(s: &ShowSettings) -> Result<Exit> {
    let loaded = load(&s.plan).map_err(|e| ExitError::rejected(format!("{}: {e}", s.plan.display())))?;
    if s.sha256 {
        println!("{}", loaded.digest);
        return Ok(Exit::Success);
    }
    let text = match s.format {
        ShowFormat::Table => table(&loaded.plan, s.all),
        ShowFormat::Markdown => markdown(&loaded.plan, &loaded.digest),
        ShowFormat::Json => String::from_utf8(encode(&loaded.plan, FileFormat::Json)).expect("JSON is UTF-8"),
    };
    crate::output::Printer::silent().data(text.trim_end());
    Ok(Exit::Success)
}
