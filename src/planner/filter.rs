//! `--match` / `--exclude`: pyftpsync's name filters.
//!
//! Patterns use Python's `fnmatch` syntax (`*`, `?`, `[seq]`, `[!seq]`, case-sensitive) and are
//! tested against the entry's name only, never its path. `--match` applies to files only;
//! `--exclude` applies to files and folders. The metadata, lock and `pyftpsync.yaml` names never
//! pass.

use anyhow::{Context, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::meta::is_reserved_name;
use crate::model::Kind;

/// pyftpsync's default `--exclude` on the command line.
pub const DEFAULT_EXCLUDE: &str = ".DS_Store,.git,.hg,.svn,#recycle";

/// Compiled filters.
#[derive(Clone, Debug)]
pub struct Filter {
    matches: Option<GlobSet>,
    excludes: Option<GlobSet>,
}

/// Splits a comma-separated pattern list, trimming whitespace and dropping empty items.
pub fn split_patterns(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect()
}

/// Rewrites an fnmatch pattern into globset syntax with the same meaning: braces and
/// backslashes are literal in fnmatch, and runs of `*` mean a single `*`.
fn fnmatch_to_glob(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len());
    let mut prev_star = false;
    for c in pat.chars() {
        match c {
            '*' if prev_star => continue,
            '{' | '}' => out.push_str(&format!("[{c}]")),
            _ => out.push(c),
        }
        prev_star = c == '*';
    }
    out
}

fn compile(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pat in patterns {
        let glob = GlobBuilder::new(&fnmatch_to_glob(pat))
            .literal_separator(false)
            .backslash_escape(false)
            .allow_unclosed_class(true)
            .build()
            .with_context(|| format!("invalid pattern {pat:?}"))?;
        set.add(glob);
    }
    Ok(Some(set.build()?))
}

impl Filter {
    pub fn new(matches: &[String], excludes: &[String]) -> Result<Filter> {
        Ok(Filter { matches: compile(matches)?, excludes: compile(excludes)? })
    }

    /// A filter that lets everything but the reserved names pass.
    pub fn all() -> Filter {
        Filter { matches: None, excludes: None }
    }

    /// True if an entry of this name and kind takes part in the synchronisation.
    pub fn passes(&self, name: &str, kind: Kind) -> bool {
        if is_reserved_name(name) {
            return false;
        }
        if kind == Kind::File && self.matches.as_ref().is_some_and(|m| !m.is_match(name)) {
            return false;
        }
        !self.excludes.as_ref().is_some_and(|x| x.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(m: &str, x: &str) -> Filter {
        Filter::new(&split_patterns(m), &split_patterns(x)).unwrap()
    }

    #[test]
    fn fnmatch_semantics() {
        let filter = f("*1.txt, a?c,[!x]y", DEFAULT_EXCLUDE);
        assert!(filter.passes("file1.txt", Kind::File));
        assert!(!filter.passes("file2.txt", Kind::File));
        assert!(filter.passes("folder2", Kind::Dir), "match never filters folders");
        assert!(filter.passes("abc", Kind::File));
        assert!(filter.passes("zy", Kind::File));
        assert!(!filter.passes("xy", Kind::File));
        assert!(!filter.passes(".git", Kind::Dir));
        assert!(!filter.passes(".pyftpsync-meta.json", Kind::File));
        assert!(!f("", "").passes("pyftpsync.yaml", Kind::File));
        assert!(f("x{ab}", "").passes("x{ab}", Kind::File), "braces are literal");
        assert!(!f("x{a}", "").passes("xa", Kind::File));
        assert!(f("a**b", "").passes("axxb", Kind::File));
        assert!(!f("*.TXT", "").passes("a.txt", Kind::File), "case-sensitive");
        assert!(!f("", "folder?").passes("folder1", Kind::Dir));
    }
}
