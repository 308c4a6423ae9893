//! `ftpsync verify REPORT|PLAN` and `ftpsync verify LOCAL REMOTE`: read-only; prints the
//! verdict (table, Markdown or JSON) and exits 0 when everything matches, 4 on a difference,
//! 1 when some file could not be checked.

use std::path::Path;

use anyhow::Result;

use super::targets::open;
use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::output::show::ShowFormat;
use crate::planner::filter::Filter;
use crate::settings::{Global, VerifySettings};
use crate::verify::compare::{Options, against_expected, two_targets};
use crate::verify::{Verdict, expect};

pub fn run(s: &VerifySettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, false);
    let filter = Filter::new(&s.matches, &s.exclude).map_err(|e| ExitError::usage(format!("{e:#}")))?;
    let opts = Options { strict: s.strict, download: s.download, workers: s.conn.workers, filter: &filter };
    let verdict = match &s.remote {
        Some(remote) => {
            let mut left = open(&s.source, &s.conn, &printer, false)?;
            let mut right = open(remote, &s.conn, &printer, false)?;
            let files = two_targets(&mut *left, &mut *right, &opts)?;
            let (l, r) = (left.info().display.clone(), right.info().display.clone());
            left.close()?;
            right.close()?;
            Verdict::new("targets", l, r, s.strict, s.download, files)
        }
        None => {
            let path = Path::new(&s.source);
            if !path.is_file() {
                return Err(ExitError::usage(format!(
                    "{}: no such report or plan file (to compare two targets by content, name both: ftpsync verify LOCAL REMOTE)",
                    s.source
                ))
                .into());
            }
            let expected = expect::load(path).map_err(|e| ExitError::usage(format!("{e:#}")))?;
            for note in &expected.notes {
                printer.warn(note);
            }
            let location = s.target.clone().unwrap_or_else(|| expected.remote.url.clone());
            let mut target = open(&location, &s.conn, &printer, false)?;
            let files = against_expected(&mut *target, &expected, &opts)?;
            let shown = target.info().display.clone();
            target.close()?;
            Verdict::new(expected.against, s.source.clone(), shown, s.strict, s.download, files)
        }
    };
    // Interrupted: what was not checked is no verdict.
    crate::error::interrupt::check()?;
    match s.format {
        ShowFormat::Json => printer.data(&serde_json::to_string_pretty(&verdict)?),
        ShowFormat::Markdown => printer.data(&crate::verify::render::markdown(&verdict)),
        ShowFormat::Table => printer.data(&crate::verify::render::table(&verdict, false)),
    }
    if s.format != ShowFormat::Table {
        printer.note(1, &crate::verify::render::headline(&verdict));
    }
    Ok(match verdict.result.as_str() {
        "match" => Exit::Success,
        "differs" => Exit::Rejected,
        _ => Exit::Error,
    })
}
