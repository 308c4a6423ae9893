//! Everything printed for people goes through the [`Printer`].
//!
//! Data (action lines, summaries, tables, JSON) goes to stdout; warnings and errors go to
//! stderr. Colour is used only when stdout is a terminal, `NO_COLOR` is unset and `--no-color`
//! was not given. A stream closed by its reader (`ftpsync upload ... | head`) is no longer
//! written to, and the run goes on to its end and its exit code: stopping there would cut an
//! apply short and report it done. Progress
//! bars ([`progress`]) belong to the printer too, so printed lines never cut through a bar.

pub mod lines;
pub mod listing;
pub mod progress;
pub mod show;
pub mod sync;
pub mod trace;
mod verbosity;

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

pub use self::verbosity::DEFAULT_VERBOSITY;

/// The one place that prints.
#[derive(Clone, Debug)]
pub struct Printer {
    pub verbosity: i32,
    pub color: bool,
    /// The progress bars of this run (none unless [`Printer::with_progress`] asked for them).
    pub progress: progress::Progress,
}

/// True when colour should be used on stdout.
pub fn color_wanted(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
}

/// Whether stdout's or stderr's reader has gone (`[stdout, stderr]`).
static CLOSED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Writes a line unless the stream's reader has gone; a write that fails otherwise is
/// ignored too (nothing printed is worth failing a run for).
fn write_line(stream: Stream, text: &str) {
    let closed = &CLOSED[stream as usize];
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let written = match stream {
        Stream::Stdout => write_flushed(io::stdout().lock(), text),
        Stream::Stderr => write_flushed(io::stderr().lock(), text),
    };
    if written.is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe) {
        closed.store(true, Ordering::Relaxed);
    }
}

fn write_flushed(mut w: impl Write, text: &str) -> io::Result<()> {
    writeln!(w, "{text}").and_then(|()| w.flush())
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Printer {
    pub fn new(verbosity: i32, no_color: bool) -> Self {
        Printer { verbosity, color: color_wanted(no_color), progress: progress::Progress::default() }
    }

    /// This printer with progress bars: `json` (stdout carries a document) and `flag`
    /// (`--progress`) decide with the verbosity whether they are shown ([`progress::Show`]).
    pub fn with_progress(mut self, json: bool, flag: bool) -> Self {
        self.progress = progress::Progress::new(progress::Show::for_stderr(self.verbosity, json, flag));
        self
    }

    /// A printer that shows nothing (library use, tests).
    pub fn silent() -> Self {
        Printer { verbosity: 0, color: false, progress: progress::Progress::default() }
    }

    /// A line of data on stdout, shown at verbosity `level` and above.
    pub fn out(&self, level: i32, text: &str) {
        if self.verbosity >= level {
            self.progress.suspend(|| write_line(Stream::Stdout, text));
        }
    }

    /// A message on stderr, shown at verbosity `level` and above.
    pub fn note(&self, level: i32, text: &str) {
        if self.verbosity >= level {
            self.progress.suspend(|| write_line(Stream::Stderr, text));
        }
    }

    /// A warning on stderr (shown unless fully quiet).
    pub fn warn(&self, text: &str) {
        self.note(1, &format!("warning: {text}"));
    }

    /// An error on stderr, always shown.
    pub fn error(&self, text: &str) {
        self.progress.suspend(|| write_line(Stream::Stderr, &format!("error: {text}")));
    }

    /// Raw data on stdout regardless of verbosity (JSON documents, plans).
    pub fn data(&self, text: &str) {
        self.progress.suspend(|| write_line(Stream::Stdout, text));
    }
}
