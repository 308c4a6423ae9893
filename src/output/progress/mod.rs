//! Progress bars on stderr (indicatif): a spinner while both sides are scanned, a byte bar
//! while files are transferred.
//!
//! Shown only when they help and cannot get in the way: stderr is a terminal, the verbosity
//! is the default or higher, and `--json` is not given. `--progress` (pyftpsync's "show
//! progress even when redirected") also shows them with `-q`, and when stderr is not a terminal
//! writes a plain progress line now and then instead ([`log::LogLines`]). The bars are fed by
//! [`watched::Watched`], a target wrapper that sees every listing and every byte written, so
//! scanning and apply need not know about them.

mod log;
pub mod watched;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::verbosity::DEFAULT_VERBOSITY;

/// Where progress goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Nowhere.
    Never,
    /// Bars redrawn in place on the terminal (stderr).
    Terminal,
    /// A plain line now and then (`--progress` with stderr redirected).
    Lines,
}

impl Show {
    /// The rule above: `json` (stdout is a document; keep the terminal quiet too), `flag`
    /// (`--progress`), and whether stderr is a terminal.
    pub fn decide(verbosity: i32, json: bool, flag: bool, stderr_is_terminal: bool) -> Show {
        match () {
            _ if json || verbosity < 1 => Show::Never,
            _ if stderr_is_terminal && (flag || verbosity >= DEFAULT_VERBOSITY) => Show::Terminal,
            _ if flag => Show::Lines,
            _ => Show::Never,
        }
    }

    /// [`Show::decide`] for this process's stderr.
    pub fn for_stderr(verbosity: i32, json: bool, flag: bool) -> Show {
        Show::decide(verbosity, json, flag, std::io::stderr().is_terminal())
    }
}

#[derive(Debug, Default)]
struct Counts {
    folders: AtomicU64,
    entries: AtomicU64,
    files: AtomicU64,
    files_total: AtomicU64,
}

/// The progress display of one run; clones share it.
#[derive(Clone)]
pub struct Progress {
    show: Show,
    bar: Arc<Mutex<Option<ProgressBar>>>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").field("show", &self.show).finish()
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new(Show::Never)
    }
}

impl Progress {
    pub fn new(show: Show) -> Self {
        Progress { show, bar: Arc::default(), counts: Arc::default() }
    }

    pub fn show(&self) -> Show {
        self.show
    }

    fn current(&self) -> Option<ProgressBar> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the current bar (the previous one is cleared away).
    fn start(&self, template: &str, length: Option<u64>) -> Option<ProgressBar> {
        let target = match self.show {
            Show::Never => return None,
            Show::Terminal => ProgressDrawTarget::stderr_with_hz(10),
            Show::Lines => ProgressDrawTarget::term_like_with_hz(Box::new(log::LogLines::default()), 1),
        };
        let bar = ProgressBar::with_draw_target(length, target);
        bar.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
        if self.show == Show::Terminal {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        if let Some(old) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).replace(bar.clone()) {
            old.finish_and_clear();
        }
        Some(bar)
    }

    /// Scanning starts: a spinner counting folder listings (each side's count) and entries.
    pub fn scanning(&self) {
        self.counts.folders.store(0, Ordering::Relaxed);
        self.counts.entries.store(0, Ordering::Relaxed);
        if let Some(bar) = self.start("{spinner} Scanning: {msg} [{elapsed}]", None) {
            bar.set_message("0 listings, 0 entries");
        }
    }

    /// One folder was listed with `entries` entries.
    pub fn listed(&self, entries: usize) {
        let folders = self.counts.folders.fetch_add(1, Ordering::Relaxed) + 1;
        let entries = self.counts.entries.fetch_add(entries as u64, Ordering::Relaxed) + entries as u64;
        if let Some(bar) = self.current().filter(|b| b.length().is_none()) {
            bar.set_message(format!("{folders} listings, {entries} entries"));
        }
    }

    /// Transfers start: `files` files of `bytes` bytes in all.
    pub fn transferring(&self, files: u64, bytes: u64) {
        self.counts.files.store(0, Ordering::Relaxed);
        self.counts.files_total.store(files, Ordering::Relaxed);
        let template = "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec}, {msg}, {eta} left";
        if let Some(bar) = self.start(template, Some(bytes)) {
            bar.set_message(format!("0/{files} files"));
        }
    }

    /// `n` more bytes were written.
    pub fn bytes(&self, n: u64) {
        if let Some(bar) = self.current() {
            bar.inc(n);
        }
    }

    /// One more file was written completely.
    pub fn file_done(&self) {
        let done = self.counts.files.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = self.current().filter(|b| b.length().is_some()) {
            bar.set_message(format!("{done}/{} files", self.counts.files_total.load(Ordering::Relaxed)));
        }
    }

    /// The current phase ended: the bar disappears.
    pub fn done(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    /// Runs `f` (which prints) with the bar out of the way, so lines never mix with it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.current() {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Show;

    #[test]
    fn shown_only_where_it_helps() {
        // verbosity, --json, --progress, stderr is a terminal
        assert_eq!(Show::decide(3, false, false, true), Show::Terminal);
        assert_eq!(Show::decide(4, false, false, true), Show::Terminal);
        assert_eq!(Show::decide(3, false, false, false), Show::Never, "redirected");
        assert_eq!(Show::decide(2, false, false, true), Show::Never, "-q");
        assert_eq!(Show::decide(3, true, false, true), Show::Never, "--json");
        assert_eq!(Show::decide(3, true, true, true), Show::Never, "--json wins over --progress");
        assert_eq!(Show::decide(2, false, true, true), Show::Terminal, "--progress with -q");
        assert_eq!(Show::decide(3, false, true, false), Show::Lines, "--progress redirected");
        assert_eq!(Show::decide(0, false, true, true), Show::Never, "-qqq is silent");
    }
}
