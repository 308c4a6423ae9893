//! The real person: questions on stderr (stdout stays for data), answers from stdin; the two
//! versions of a file read from the open targets for the byte compare.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::Result;

use super::describe::{compare_line, first_difference};
use super::{Compare, Console};
use crate::backend::Target;
use crate::model::side::Side;
use crate::plan::document::{Plan, PlanEntry};
use crate::plan::layout::Layout;

/// True when somebody can answer: standard input is a terminal.
pub fn can_ask() -> bool {
    io::stdin().is_terminal()
}

/// Asks on stderr and reads from stdin. While it waits for an answer, Ctrl-C aborts at once
/// (nothing has been changed yet).
pub struct Terminal;

impl Console for Terminal {
    fn ask(&mut self, prompt: &str) -> io::Result<Option<String>> {
        let _waiting = crate::error::interrupt::Prompting::start();
        let mut err = io::stderr().lock();
        err.write_all(prompt.as_bytes())?;
        err.flush()?;
        drop(err);
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
    }

    fn say(&mut self, line: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "{line}").and_then(|()| err.flush());
    }
}

/// Compares a conflict's two files as they are on the targets.
pub struct TargetCompare<'a> {
    pub layout: Layout<'a>,
    pub local: &'a mut dyn Target,
    pub remote: &'a mut dyn Target,
}

impl<'a> TargetCompare<'a> {
    pub fn new(plan: &'a Plan, local: &'a mut dyn Target, remote: &'a mut dyn Target) -> Self {
        TargetCompare { layout: Layout::new(plan), local, remote }
    }
}

impl Compare for TargetCompare<'_> {
    fn compare(&mut self, e: &PlanEntry) -> Result<String> {
        let (lp, rp) = (self.layout.entry_path(e, Side::Local), self.layout.entry_path(e, Side::Remote));
        let (local, remote) = (&mut *self.local, &mut *self.remote);
        compare_line(e, || {
            let mut found = None;
            local.read_file(&lp, &mut |a| {
                remote.read_file(&rp, &mut |b| {
                    found = first_difference(a, b)?;
                    Ok(())
                })
            })?;
            Ok(found)
        })
    }
}
