//! Relative paths inside a sync root.
//!
//! A [`RelPath`] is the only way paths travel between the scanner, the planner, the plan file
//! and apply. It is `/`-separated, never absolute, and no component is empty, `.`, `..`, or
//! contains a control character — so a path from a plan or a server listing can never point
//! outside the root it is joined to.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A validated path relative to a target root; the empty path is the root itself.
///
/// Paths order component by component, so everything below a folder sorts right after it
/// (`a`, `a/x`, `a-b`), which keeps subtrees contiguous in plans and maps.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct RelPath(String);

impl Ord for RelPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.components().cmp(other.components())
    }
}

impl PartialOrd for RelPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Why a name or path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    #[error("empty name")]
    Empty,
    #[error("'.' and '..' are not allowed")]
    Dots,
    #[error("contains '/'")]
    Slash,
    #[error("contains a control character")]
    Control,
    #[error("absolute path")]
    Absolute,
    #[error("longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
}

/// Longest single name accepted (Linux NAME_MAX).
pub const MAX_NAME_BYTES: usize = 255;

/// Checks one path component.
pub fn check_name(name: &str) -> Result<(), BadName> {
    if name.is_empty() {
        return Err(BadName::Empty);
    }
    if name == "." || name == ".." {
        return Err(BadName::Dots);
    }
    if name.contains('/') {
        return Err(BadName::Slash);
    }
    if name.chars().any(char::is_control) {
        return Err(BadName::Control);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(BadName::TooLong);
    }
    Ok(())
}

impl RelPath {
    /// The root folder.
    pub fn root() -> Self {
        RelPath(String::new())
    }

    /// Parses a `/`-separated relative path, refusing anything that could escape the root.
    pub fn parse(s: &str) -> Result<Self, BadName> {
        if s.is_empty() {
            return Ok(Self::root());
        }
        if s.starts_with('/') {
            return Err(BadName::Absolute);
        }
        for part in s.split('/') {
            check_name(part)?;
        }
        Ok(RelPath(s.to_string()))
    }

    /// This path with one more component.
    pub fn join(&self, name: &str) -> Result<Self, BadName> {
        check_name(name)?;
        Ok(self.join_unchecked(name))
    }

    /// Joins a name that was already checked with [`check_name`].
    pub(crate) fn join_unchecked(&self, name: &str) -> Self {
        if self.0.is_empty() { RelPath(name.to_string()) } else { RelPath(format!("{}/{}", self.0, name)) }
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component ("" for the root).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// The containing folder (the root's parent is the root).
    pub fn parent(&self) -> RelPath {
        match self.0.rfind('/') {
            Some(i) => RelPath(self.0[..i].to_string()),
            None => RelPath::root(),
        }
    }

    /// Number of components (0 for the root).
    pub fn depth(&self) -> usize {
        if self.0.is_empty() { 0 } else { self.0.split('/').count() }
    }

    /// True if `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.0.is_empty()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// Iterates over the components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelPath::parse(&s).map_err(|e| serde::de::Error::custom(format!("invalid path {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert!(RelPath::parse("a/b.txt").is_ok());
        assert_eq!(RelPath::parse("").unwrap(), RelPath::root());
        for bad in ["/etc", "a/../b", "..", "a//b", "a/./b", "a/\nb", "a/b\0", "a/"] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(RelPath::parse(&"x".repeat(256)), Err(BadName::TooLong));
    }

    #[test]
    fn navigation() {
        let p = RelPath::parse("a/b/c").unwrap();
        assert_eq!(p.name(), "c");
        assert_eq!(p.parent().as_str(), "a/b");
        assert_eq!(p.depth(), 3);
        assert!(p.starts_with(&RelPath::parse("a/b").unwrap()));
        assert!(!p.starts_with(&RelPath::parse("a/bb").unwrap()));
        assert!(p.starts_with(&RelPath::root()));
        assert_eq!(RelPath::root().join("x").unwrap().as_str(), "x");
    }

    #[test]
    fn subtrees_sort_together() {
        let mut v: Vec<RelPath> =
            ["a-b", "a/x", "a", "a b", "a/x/y", ""].iter().map(|s| RelPath::parse(s).unwrap()).collect();
        v.sort();
        let got: Vec<&str> = v.iter().map(RelPath::as_str).collect();
        assert_eq!(got, ["", "a", "a/x", "a/x/y", "a b", "a-b"]);
    }
}
