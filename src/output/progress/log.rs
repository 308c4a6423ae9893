//! `--progress` with stderr redirected (a CI log): each redraw of a bar becomes one plain line,
//! with no cursor movement or erasing that a log file would show as garbage.

use std::io::{self, Write};
use std::sync::Mutex;

use indicatif::TermLike;

/// A "terminal" that turns each redraw into one line on stderr.
#[derive(Debug, Default)]
pub(super) struct LogLines {
    /// What was written since the last line end.
    pending: Mutex<String>,
}

impl LogLines {
    fn take(&self) -> String {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn emit(text: &str) -> io::Result<()> {
    let text = text.trim_end();
    if text.is_empty() {
        return Ok(());
    }
    let mut err = io::stderr().lock();
    writeln!(err, "{text}")?;
    err.flush()
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        100
    }
    // A log cannot move the cursor or erase: each redraw simply becomes a new line.
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        emit(&(self.take() + s))
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push_str(s);
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        emit(&self.take())
    }
}
