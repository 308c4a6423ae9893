//! pyftpsync's action lines: `COPY NEW          >  new_file1.txt`.
//!
//! One line per pair (nothing for the contents of folders copied or deleted as a whole), with
//! pyftpsync's tag, symbol, colour and minimum verbosity.

use crate::model::Kind;
use crate::plan::document::{Action, Class, PairOp, PlanEntry, Reason, Resolution};
use crate::plan::options::Mode;

/// Colour of a line (ANSI), as pyftpsync chooses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tint {
    Green,
    BrightGreen,
    Cyan,
    BrightCyan,
    Red,
    LightRed,
    Grey,
}

impl Tint {
    pub fn ansi(self) -> &'static str {
        match self {
            Tint::Green => "\x1b[32m",
            Tint::BrightGreen => "\x1b[32m\x1b[1m",
            Tint::Cyan => "\x1b[36m",
            Tint::BrightCyan => "\x1b[36m\x1b[1m",
            Tint::Red => "\x1b[31m",
            Tint::LightRed => "\x1b[91m",
            Tint::Grey => "\x1b[90m",
        }
    }
}

/// One action line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionLine {
    pub tag: String,
    pub symbol: &'static str,
    /// Path relative to the root; folders in brackets.
    pub name: String,
    /// Lowest verbosity at which the line is shown.
    pub min_level: i32,
    pub tint: Tint,
}

impl ActionLine {
    /// The line as pyftpsync prints it, optionally coloured.
    pub fn render(&self, dry_run: bool, color: bool) -> String {
        let prefix = if dry_run { "(DRY-RUN) " } else { "" };
        let body = format!("{:<16} {:^3} {}", self.tag, self.symbol, self.name);
        if color { format!("{prefix}{}{body}\x1b[0m\x1b[0K", self.tint.ansi()) } else { format!("{prefix}{body}") }
    }
}

fn class_word(c: Class) -> String {
    c.as_str().to_uppercase()
}

fn copy_tint(symbol: &str, new: bool) -> Tint {
    match (symbol.contains('<'), new) {
        (true, true) => Tint::BrightGreen,
        (true, false) => Tint::Green,
        (false, true) => Tint::BrightCyan,
        (false, false) => Tint::Cyan,
    }
}

/// The line for an entry, given what apply does with it; `None` for entries pyftpsync prints
/// nothing for.
pub fn action_line(e: &PlanEntry, action: Action, mode: Mode) -> Option<ActionLine> {
    if e.part_of.is_some() {
        return None;
    }
    let name = if e.kind == Kind::Dir { format!("[{}]", e.path) } else { e.path.to_string() };
    let line = |tag: &str, symbol: &'static str, min_level: i32, tint: Tint| {
        Some(ActionLine { tag: tag.to_string(), symbol, name: name.clone(), min_level, tint })
    };
    let (lc, rc) = (e.classification.local, e.classification.remote);
    if e.action == Action::Conflict {
        let both = e.local.is_some() && e.remote.is_some();
        return match e.resolution.chosen() {
            Some(Resolution::Local) if both => line("COPY CONFLICT", "*>*", 3, Tint::Cyan),
            Some(Resolution::Local) if e.local.is_some() => line("RESTORE CONFLICT", "*>x", 3, Tint::Cyan),
            Some(Resolution::Local) => line("DELETE CONFLICT", "x>*", 3, Tint::Red),
            Some(Resolution::Remote) if both => line("COPY CONFLICT", "*<*", 3, Tint::Green),
            Some(Resolution::Remote) if e.remote.is_some() => line("RESTORE CONFLICT", "x<*", 3, Tint::Green),
            Some(Resolution::Remote) => line("DELETE CONFLICT", "*<x", 3, Tint::Red),
            _ => line("SKIP CONFLICT", "*?*", 3, Tint::LightRed),
        };
    }
    match action {
        Action::Equal | Action::Record => {
            if e.kind == Kind::Dir && (lc, rc) == (Class::Existing, Class::Existing) {
                line("VISIT", "?", 4, Tint::Grey)
            } else {
                line("EQUAL", "=", 4, Tint::Grey)
            }
        }
        Action::Upload => {
            let sym = ">";
            line(&format!("COPY {}", class_word(lc)), sym, 3, copy_tint(sym, lc == Class::New))
        }
        Action::Download => {
            let sym = "<";
            line(&format!("COPY {}", class_word(rc)), sym, 3, copy_tint(sym, rc == Class::New))
        }
        Action::DeleteLocal if e.reason == Reason::DeleteUnmatched => line("DELETE UNMATCHED", "<", 3, Tint::Red),
        Action::DeleteRemote if e.reason == Reason::DeleteUnmatched => line("DELETE UNMATCHED", ">", 3, Tint::Red),
        Action::DeleteLocal => line("DELETE MISSING", "X< ", 3, Tint::Red),
        Action::DeleteRemote => line("DELETE MISSING", " >X", 3, Tint::Red),
        Action::Skip if e.reason == Reason::Unmatched => match mode {
            Mode::Sync => line("SKIP MISMATCH", "?", 4, Tint::Grey),
            _ => line("SKIP UNMATCHED", "-", 4, Tint::Grey),
        },
        Action::Skip => match e.operation {
            Some(PairOp::CopyRemote) => line("SKIP DOWNLOAD", "<", 3, Tint::Grey),
            Some(PairOp::CopyLocal) => line("SKIP UPLOAD", ">", 3, Tint::Grey),
            Some(PairOp::DeleteLocal) => line("SKIP LOCAL DEL.", "X< ", 3, Tint::Grey),
            Some(PairOp::DeleteRemote) => line("SKIP REMOTE DEL.", " >X", 3, Tint::Grey),
            _ => None,
        },
        Action::Conflict | Action::Forget => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tag: &str, symbol: &'static str, name: &str) -> String {
        ActionLine { tag: tag.into(), symbol, name: name.into(), min_level: 3, tint: Tint::Grey }.render(false, false)
    }

    #[test]
    fn renders_like_pyftpsync() {
        assert_eq!(line("COPY NEW", ">", "new_file1.txt"), "COPY NEW          >  new_file1.txt");
        assert_eq!(line("DELETE MISSING", "X< ", "[folder6]"), "DELETE MISSING   X<  [folder6]");
        assert_eq!(line("DELETE MISSING", " >X", "file3.txt"), "DELETE MISSING    >X file3.txt");
        assert_eq!(line("RESTORE CONFLICT", "*>x", "file9.txt"), "RESTORE CONFLICT *>x file9.txt");
        assert_eq!(line("SKIP UNMATCHED", "-", "file9.txt"), "SKIP UNMATCHED    -  file9.txt");
        let dry = ActionLine { tag: "COPY NEW".into(), symbol: "<", name: "n".into(), min_level: 3, tint: Tint::Green };
        assert_eq!(dry.render(true, false), "(DRY-RUN) COPY NEW          <  n");
        assert!(dry.render(false, true).starts_with("\x1b[32mCOPY"));
    }
}
