//! Pairing the two listings of a folder, after applying the `mtimes` records.
//!
//! A target that cannot set modification times (FTP, as pyftpsync uses it) stamps uploads with
//! the upload time; the real time is kept in the folder's `mtimes` map and used instead of the
//! listed one, as long as the record still fits the file (pyftpsync §2.6).

use std::collections::HashMap;

use anyhow::{Result, bail};

use super::classify::EPS;
use super::snapshot::SideDir;
use crate::model::{Entry, Kind};
use crate::plan::options::CaseMode;

/// An entry with the modification time classification uses.
#[derive(Clone, Debug, PartialEq)]
pub struct SideEntry {
    /// The entry, with `mtime` replaced by the `mtimes` record where one applies.
    pub entry: Entry,
    /// The listed modification time, when it was replaced.
    pub listed_mtime: Option<f64>,
}

impl SideEntry {
    pub fn listed(&self) -> f64 {
        self.listed_mtime.unwrap_or(self.entry.mtime)
    }
}

/// Applies the folder's `mtimes` records; also returns the names of records that no longer
/// fit (pyftpsync drops them from the metadata).
pub fn effective_entries(side: &SideDir) -> (Vec<SideEntry>, Vec<String>) {
    let mtimes = side.meta.valid().map(|m| &m.mtimes);
    let mut used = Vec::new();
    let entries = side
        .entries
        .iter()
        .map(|e| {
            let rec = mtimes.and_then(|m| m.get(&e.name));
            match rec {
                Some(r) if e.kind == Kind::File && r.s == Some(e.size) && e.mtime - r.u <= EPS && r.m.is_some() => {
                    used.push(e.name.clone());
                    let mut entry = e.clone();
                    entry.mtime = r.m.unwrap_or(e.mtime);
                    SideEntry { listed_mtime: Some(e.mtime), entry }
                }
                _ => SideEntry { entry: e.clone(), listed_mtime: None },
            }
        })
        .collect();
    let stale = mtimes.map(|m| m.keys().filter(|k| !used.contains(k)).cloned().collect()).unwrap_or_default();
    (entries, stale)
}

/// The entries of one name on both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// The name used in the plan.
    pub name: String,
    pub local: Option<SideEntry>,
    pub remote: Option<SideEntry>,
    /// Set when the local spelling differs from `name` (`--case remote`).
    pub local_name: Option<String>,
    /// Set when the remote spelling differs from `name` (`--case local`).
    pub remote_name: Option<String>,
}

impl Pair {
    /// The local entry, or the remote one.
    pub fn any(&self) -> &Entry {
        match (&self.local, &self.remote) {
            (Some(l), _) => &l.entry,
            (None, Some(r)) => &r.entry,
            (None, None) => unreachable!("a pair has at least one entry"),
        }
    }

    pub fn local_entry(&self) -> Option<&Entry> {
        self.local.as_ref().map(|s| &s.entry)
    }

    pub fn remote_entry(&self) -> Option<&Entry> {
        self.remote.as_ref().map(|s| &s.entry)
    }
}

fn key(name: &str, strict: bool) -> String {
    if strict { name.to_string() } else { name.to_lowercase() }
}

/// Pairs local and remote entries by name, as pyftpsync does: exactly with `--case strict`,
/// otherwise ignoring case, where a spelling difference needs `--case local|remote`.
pub fn make_pairs(
    local: Vec<SideEntry>,
    remote: Vec<SideEntry>,
    case: Option<CaseMode>,
    folder: &str,
) -> Result<Vec<Pair>> {
    let strict = case == Some(CaseMode::Strict);
    let mut remote_by_key: HashMap<String, usize> = HashMap::with_capacity(remote.len());
    for (i, r) in remote.iter().enumerate() {
        if remote_by_key.insert(key(&r.entry.name, strict), i).is_some() {
            bail!("Remote target contains file names that only differ in case ({folder:?}): pass `--case strict`");
        }
    }
    let mut local_keys = std::collections::HashSet::with_capacity(local.len());
    for l in &local {
        if !local_keys.insert(key(&l.entry.name, strict)) {
            bail!("Local target contains file names that only differ in case ({folder:?}): pass `--case strict`");
        }
    }
    let mut remote: Vec<Option<SideEntry>> = remote.into_iter().map(Some).collect();
    let mut pairs = Vec::with_capacity(local.len() + remote.len());
    for l in local {
        let found = remote_by_key.get(&key(&l.entry.name, strict)).and_then(|&i| remote[i].take());
        let mut pair =
            Pair { name: l.entry.name.clone(), local: None, remote: None, local_name: None, remote_name: None };
        if let Some(r) = &found
            && r.entry.name != l.entry.name
        {
            match case {
                Some(CaseMode::Local) => pair.remote_name = Some(r.entry.name.clone()),
                Some(CaseMode::Remote) => {
                    pair.name = r.entry.name.clone();
                    pair.local_name = Some(l.entry.name.clone());
                }
                _ => bail!(
                    "Found ambiguous name ({:?} != {:?}) in {folder:?}: `--case` argument is required",
                    l.entry.name,
                    r.entry.name
                ),
            }
        }
        pair.local = Some(l);
        pair.remote = found;
        pairs.push(pair);
    }
    for r in remote.into_iter().flatten() {
        pairs.push(Pair {
            name: r.entry.name.clone(),
            local: None,
            remote: Some(r),
            local_name: None,
            remote_name: None,
        });
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::DirMeta;
    use crate::planner::snapshot::MetaFile;

    fn se(name: &str) -> SideEntry {
        SideEntry { entry: Entry::file(name, 1, 10.0), listed_mtime: None }
    }

    #[test]
    fn case_rules() {
        let pairs = make_pairs(vec![se("A.txt")], vec![se("a.txt")], Some(CaseMode::Local), "").unwrap();
        assert_eq!((pairs.len(), pairs[0].name.as_str(), pairs[0].remote_name.as_deref()), (1, "A.txt", Some("a.txt")));
        let pairs = make_pairs(vec![se("A.txt")], vec![se("a.txt")], Some(CaseMode::Strict), "").unwrap();
        assert_eq!(pairs.len(), 2);
        assert!(make_pairs(vec![se("A.txt")], vec![se("a.txt")], None, "").is_err());
        assert!(make_pairs(vec![se("A"), se("a")], vec![], None, "").is_err());
        assert_eq!(make_pairs(vec![se("A"), se("a")], vec![], Some(CaseMode::Strict), "").unwrap().len(), 2);
    }

    #[test]
    fn mtimes_records_replace_listed_times_while_they_fit() {
        let mut meta = DirMeta::default();
        let style = crate::meta::WriteStyle { verbose: false, version: "t".into() };
        meta.set_mtime("up.txt", 500.0, 3, 1000.0, &style);
        meta.set_mtime("changed.txt", 500.0, 3, 1000.0, &style);
        meta.set_mtime("gone.txt", 500.0, 3, 1000.0, &style);
        let side = SideDir {
            entries: vec![Entry::file("changed.txt", 3, 1100.0), Entry::file("up.txt", 3, 1001.0)],
            skipped: vec![],
            meta: MetaFile::Valid { meta, sha256: String::new() },
            lock: None,
            temporary: Vec::new(),
        };
        let (entries, stale) = effective_entries(&side);
        assert_eq!(entries[1].entry.mtime, 500.0);
        assert_eq!(entries[1].listed_mtime, Some(1001.0));
        assert_eq!(entries[0].entry.mtime, 1100.0);
        assert_eq!(stale, vec!["changed.txt".to_string(), "gone.txt".to_string()]);
    }
}
