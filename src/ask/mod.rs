//! `--resolve ask`: pyftpsync's interactive conflict prompt, as a layer after planning.
//!
//! The planner leaves a conflict it may not decide with the resolution `null` ("ask"). When
//! somebody can answer (standard input is a terminal), [`resolve_conflicts`] asks about each
//! such conflict in path order — pyftpsync's description of both versions, then its prompt
//! and keys — and writes the answer into the plan as an ordinary resolution, so a plan made
//! interactively is reviewed and applied like any other. Keys: `l`/`r` take the local or
//! remote version, `o`/`n` the older or newer one (sync only), `s` skips; upper case decides
//! for every remaining conflict too; `b` compares the two files byte by byte; `h`/`?` helps;
//! anything else asks again. `o`/`n` work here (pyftpsync 4.1 stops with a `KeyError`); when
//! they cannot decide (same times, a side deleted) the prompt says why and asks again.

pub mod describe;
pub mod terminal;

use std::cmp::Ordering;

use anyhow::Result;

use crate::plan::document::{Action, Plan, PlanEntry, Resolution, ResolutionChoice};
use crate::plan::options::Mode;
use crate::plan::summarize;
use crate::planner::classify::eps_cmp;

/// The person answering.
pub trait Console {
    /// Shows `prompt` and reads one answer; `None` when input ended.
    fn ask(&mut self, prompt: &str) -> std::io::Result<Option<String>>;
    /// Shows a line.
    fn say(&mut self, line: &str);
}

/// Compares the two versions of a conflicting file: the line to show (pyftpsync's wording).
pub trait Compare {
    fn compare(&mut self, entry: &PlanEntry) -> Result<String>;
}

/// A key's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Local,
    Remote,
    Older,
    Newer,
    Skip,
}

impl Choice {
    fn word(self) -> &'static str {
        match self {
            Choice::Local => "local",
            Choice::Remote => "remote",
            Choice::Older => "old",
            Choice::Newer => "new",
            Choice::Skip => "skip",
        }
    }
}

/// The keys of a mode (lower case), its prompt and its help, as pyftpsync has them.
pub fn keys(mode: Mode) -> &'static [(char, Choice)] {
    match mode {
        Mode::Sync => &[
            ('l', Choice::Local),
            ('r', Choice::Remote),
            ('o', Choice::Older),
            ('n', Choice::Newer),
            ('s', Choice::Skip),
        ],
        Mode::Upload => &[('l', Choice::Local), ('s', Choice::Skip)],
        Mode::Download => &[('r', Choice::Remote), ('s', Choice::Skip)],
    }
}

/// The prompt; with `underline`, the key letters are bright and underlined (as pyftpsync).
pub fn prompt(mode: Mode, underline: bool) -> String {
    let words: &[&str] = match mode {
        Mode::Sync => &["Local", "Remote", "Older", "Newer", "Skip", "Binary compare", "Help"],
        Mode::Upload => &["Local", "Skip", "Binary compare", "Help"],
        Mode::Download => &["Remote", "Skip", "Binary compare", "Help"],
    };
    let mark = |w: &str| if underline { format!("\x1b[1m\x1b[4m{}\x1b[0m{}", &w[..1], &w[1..]) } else { w.to_string() };
    format!("Use {} ? ", words.iter().map(|w| mark(w)).collect::<Vec<_>>().join(", "))
}

fn help(mode: Mode) -> Vec<&'static str> {
    let mut lines = vec!["The following keys are supported:", "  'b': Binary compare"];
    lines.extend(match mode {
        Mode::Sync => {
            &["  'n': Use newer file", "  'o': Use older file", "  'l': Use local file", "  'r': Use remote file"][..]
        }
        Mode::Upload => &["  'l': Upload local file"][..],
        Mode::Download => &["  'r': Download remote file"][..],
    });
    lines.extend([
        "  's': Skip this file (leave both targets unchanged)",
        "Hold Shift (upper case letters) to apply choice for all remaining conflicts.",
        "Hit Ctrl+C to abort.",
    ]);
    lines
}

/// What `choice` means for this conflict, or why it cannot decide it.
pub fn decide(choice: Choice, e: &PlanEntry) -> Result<Resolution, String> {
    let by_age = |older: bool| match (&e.local, &e.remote) {
        (Some(l), Some(r)) => match eps_cmp(l.mtime, r.mtime) {
            Ordering::Equal => Err("Files have identical modification times.".to_string()),
            Ordering::Greater if older => Ok(Resolution::Remote),
            Ordering::Greater => Ok(Resolution::Local),
            _ if older => Ok(Resolution::Local),
            _ => Ok(Resolution::Remote),
        },
        _ => Err(format!("Cannot resolve using '{}' strategy: '{}' exists on one side only.", choice.word(), e.path)),
    };
    match choice {
        Choice::Local => Ok(Resolution::Local),
        Choice::Remote => Ok(Resolution::Remote),
        Choice::Skip => Ok(Resolution::Skip),
        Choice::Older => by_age(true),
        Choice::Newer => by_age(false),
    }
}

/// True for a conflict the planner left to be asked about.
pub fn is_open(e: &PlanEntry) -> bool {
    e.action == Action::Conflict && e.part_of.is_none() && e.resolution.is_ask()
}

/// Asks about every open conflict of `plan`, in path order: the answers, as (entry index,
/// resolution). Input ending is an abort ([`crate::error::interrupt::Interrupted`]).
pub fn ask_all(
    plan: &Plan,
    console: &mut dyn Console,
    files: &mut dyn Compare,
    underline: bool,
) -> Result<Vec<(usize, Resolution)>> {
    let mut for_all: Option<Choice> = None;
    let mut answers = Vec::new();
    for (i, e) in plan.entries.iter().enumerate().filter(|(_, e)| is_open(e)) {
        if let Some(all) = for_all {
            match decide(all, e) {
                Ok(r) => {
                    answers.push((i, r));
                    continue;
                }
                Err(why) => console.say(&why),
            }
        }
        let (resolution, all) = ask_one(plan.mode, e, console, files, underline)?;
        answers.push((i, resolution));
        if all.is_some() {
            for_all = all;
        }
    }
    Ok(answers)
}

/// Writes the answers into the plan as its conflicts' resolutions and recounts its summary.
pub fn record(plan: &mut Plan, answers: &[(usize, Resolution)]) {
    for &(i, r) in answers {
        plan.entries[i].resolution = ResolutionChoice::Chosen(r);
    }
    plan.summary = summarize(&plan.entries, plan.summary.scan.clone());
}

/// One conflict: its description, then the prompt until a key decides it.
fn ask_one(
    mode: Mode,
    e: &PlanEntry,
    console: &mut dyn Console,
    files: &mut dyn Compare,
    underline: bool,
) -> Result<(Resolution, Option<Choice>)> {
    let text = prompt(mode, underline);
    for line in describe::conflict(e) {
        console.say(&line);
    }
    loop {
        let Some(answer) = console.ask(&text)? else {
            return Err(crate::error::interrupt::Interrupted.into());
        };
        let answer = answer.trim();
        let key = match answer.chars().collect::<Vec<_>>()[..] {
            [c] => c,
            _ => continue,
        };
        match key {
            'h' | 'H' | '?' => {
                help(mode).into_iter().for_each(|l| console.say(l));
                if mode == Mode::Sync {
                    describe::conflict(e).iter().for_each(|l| console.say(l));
                }
            }
            'b' | 'B' => match files.compare(e) {
                Ok(line) => console.say(&line),
                Err(err) => console.say(&format!("    Files cannot be compared: {err:#}")),
            },
            _ => {
                let Some(&(_, choice)) = keys(mode).iter().find(|(k, _)| *k == key.to_ascii_lowercase()) else {
                    continue;
                };
                match decide(choice, e) {
                    Ok(r) => return Ok((r, key.is_ascii_uppercase().then_some(choice))),
                    Err(why) => console.say(&why),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
