//! Reading and writing plan files: JSON (the default) or MessagePack, the version gate, the
//! digest, and the checks that make a plan safe to apply.
//!
//! The digest is sha256 over the canonical encoding: the plan as this build models it,
//! serialised as compact JSON. A plan and its MessagePack twin have the same digest, and any
//! edit that changes what apply would do (a resolution changed by a reviewer, an entry added
//! or altered) changes it; fields this build does not know (from a newer minor version) are
//! ignored by apply and so are not part of it.

use std::collections::HashSet;
use std::io::Write;

use serde::Deserialize;

use super::document::{Action, FORMAT, FORMAT_MAJOR, Plan, Reason, Resolution, ResolutionChoice};
use super::effective::effective_actions;
use crate::model::digest::Hasher;
use crate::model::listing::is_temp_name;
use crate::model::relpath::check_name;

/// Why a plan file was refused (apply exits 4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl PlanError {
    pub fn new(msg: impl Into<String>) -> Self {
        PlanError(msg.into())
    }
}

/// Storage format of a plan file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Json,
    Msgpack,
}

/// Serialises a plan into `out` (streaming: a plan of many entries is never held twice).
pub fn write(plan: &Plan, format: FileFormat, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        FileFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, plan)?;
            out.write_all(b"\n")
        }
        FileFormat::Msgpack => rmp_serde::encode::write_named(out, plan).map_err(std::io::Error::other),
    }
}

/// Serialises a plan into bytes.
pub fn encode(plan: &Plan, format: FileFormat) -> Vec<u8> {
    let mut out = Vec::new();
    write(plan, format, &mut out).expect("plans always serialise");
    out
}

/// Feeds everything written into a sha256.
struct HashWriter(Hasher);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Plans are files; this is the result of reading one.
pub struct Loaded {
    pub plan: Plan,
    /// sha256 over the canonical encoding (the same for the JSON and MessagePack forms).
    pub digest: String,
}

/// Reads a plan from disk (JSON or MessagePack), checking everything apply relies on.
pub fn load(path: &std::path::Path) -> Result<Loaded, PlanError> {
    let bytes = std::fs::read(path).map_err(|e| PlanError::new(format!("cannot read {}: {e}", path.display())))?;
    decode(&bytes)
}

/// The digest of a plan: sha256 of its canonical (compact JSON) encoding.
pub fn digest(plan: &Plan) -> String {
    let mut w = HashWriter(Hasher::default());
    serde_json::to_writer(&mut w, plan).expect("plans always serialise");
    w.0.finish()
}

/// The two fields read before anything else.
#[derive(Deserialize)]
struct VersionProbe {
    format: Option<String>,
    format_version: Option<String>,
}

/// Parses and checks a plan file.
pub fn decode(bytes: &[u8]) -> Result<Loaded, PlanError> {
    let json = bytes.first().is_some_and(|b| b.is_ascii_whitespace() || *b == b'{');
    let probe: VersionProbe = if json {
        serde_json::from_slice(bytes).map_err(|e| PlanError::new(format!("not a valid plan (JSON): {e}")))?
    } else {
        rmp_serde::from_slice(bytes).map_err(|e| PlanError::new(format!("not a valid plan (MessagePack): {e}")))?
    };
    check_version(probe.format.as_deref(), probe.format_version.as_deref())?;
    let plan: Plan = if json {
        serde_json::from_slice(bytes).map_err(|e| PlanError::new(format!("invalid plan: {e}")))?
    } else {
        rmp_serde::from_slice(bytes).map_err(|e| PlanError::new(format!("invalid plan: {e}")))?
    };
    validate(&plan)?;
    let digest = digest(&plan);
    Ok(Loaded { plan, digest })
}

/// Accepts every minor version of the major this build knows; refuses anything else first,
/// so an unsupported plan gets a version message rather than a parse error.
fn check_version(format: Option<&str>, version: Option<&str>) -> Result<(), PlanError> {
    if format != Some(FORMAT) {
        return Err(PlanError::new(format!(
            "not an ftpsync plan (format is {:?}, expected {FORMAT:?})",
            format.unwrap_or("missing")
        )));
    }
    let version = version.unwrap_or("missing");
    let major = version.split_once('.').and_then(|(m, n)| Some((m.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    match major {
        Some((m, _)) if m == FORMAT_MAJOR => Ok(()),
        Some((m, _)) => Err(PlanError::new(format!(
            "plan format version {version} is not supported: this ftpsync reads {FORMAT_MAJOR}.x (major {m} needs {})",
            if m > FORMAT_MAJOR { "a newer ftpsync" } else { "an older ftpsync" }
        ))),
        None => Err(PlanError::new(format!("invalid plan format_version {version:?} (expected \"MAJOR.MINOR\")"))),
    }
}

/// Refuses a plan that deletes more than its `max_delete` allows (counted as apply would
/// do them, after any edit of a resolution).
pub fn check_max_delete(plan: &Plan) -> Result<(), PlanError> {
    let Some(max) = plan.options.max_delete else { return Ok(()) };
    let deletions = effective_actions(&plan.entries)
        .iter()
        .filter(|a| matches!(a, Action::DeleteLocal | Action::DeleteRemote))
        .count() as u64;
    if deletions > max {
        return Err(PlanError::new(format!(
            "the plan deletes {deletions} files and folders, more than --max-delete {max} allows; nothing was changed"
        )));
    }
    Ok(())
}

/// Structural checks beyond the schema: paths (already validated as relative, without `..`
/// and control characters when parsed), order, references between entries, `--max-delete`.
pub fn validate(plan: &Plan) -> Result<(), PlanError> {
    check_max_delete(plan)?;
    let mut seen = HashSet::new();
    let mut prev: Option<&crate::model::relpath::RelPath> = None;
    for e in &plan.entries {
        let p = e.path.as_str();
        if e.path.is_root() {
            return Err(PlanError::new("invalid plan: an entry has an empty path"));
        }
        if prev.is_some_and(|q| q >= &e.path) {
            return Err(PlanError::new(format!("invalid plan: entries are not sorted by path or repeat at {p:?}")));
        }
        prev = Some(&e.path);
        seen.insert(&e.path);
        for name in [&e.local_name, &e.remote_name].into_iter().flatten() {
            check_name(name)
                .map_err(|err| PlanError::new(format!("invalid plan: entry {p:?} has a bad name {name:?}: {err}")))?;
        }
        if let Some(root) = &e.part_of
            && (!seen.contains(root) || !e.path.starts_with(root) || root == &e.path)
        {
            return Err(PlanError::new(format!(
                "invalid plan: entry {p:?} is part of {:?}, which is not a folder entry above it",
                root.as_str()
            )));
        }
        match (e.action, e.resolution) {
            (Action::Conflict, ResolutionChoice::Absent) if e.part_of.is_none() => {
                return Err(PlanError::new(format!("invalid plan: conflict {p:?} has no resolution field")));
            }
            (Action::Conflict, _) => {}
            (_, ResolutionChoice::Ask | ResolutionChoice::Chosen(_)) => {
                return Err(PlanError::new(format!("invalid plan: {p:?} has a resolution but is not a conflict")));
            }
            _ => {}
        }
        if e.reason == Reason::KindClash && e.resolution.chosen().is_some_and(|r| r != Resolution::Skip) {
            return Err(PlanError::new(format!(
                "invalid plan: {p:?} is a file on one side and a folder on the other; its resolution can only be \"skip\""
            )));
        }
        let times = [&e.local, &e.remote].into_iter().flatten().flat_map(|s| [Some(s.mtime), s.listed_mtime]);
        let times = times.chain(e.record.iter().flat_map(|r| [r.m, Some(r.u)]));
        if times.flatten().any(|t| !t.is_finite()) {
            return Err(PlanError::new(format!("invalid plan: {p:?} has a time that is not a number")));
        }
        if e.local.is_none() && e.remote.is_none() && e.action != Action::Forget {
            return Err(PlanError::new(format!("invalid plan: {p:?} exists on neither side")));
        }
    }
    // Apply removes these: only ftpsync's own temporary names, in the folder itself.
    for f in &plan.folders {
        for name in [&f.local, &f.remote].into_iter().flatten().flat_map(|s| &s.temporary) {
            let bad = check_name(name)
                .err()
                .map(|e| e.to_string())
                .or_else(|| (!is_temp_name(name)).then(|| "not a temporary name".to_string()));
            if let Some(err) = bad {
                return Err(PlanError::new(format!(
                    "invalid plan: folder {:?} lists a bad temporary file {name:?}: {err}",
                    f.path.as_str()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_majors_and_garbage() {
        assert!(check_version(Some("ftpsync-plan"), Some("2.0")).unwrap_err().0.contains("newer ftpsync"));
        assert!(check_version(Some("other"), Some("1.0")).is_err());
        assert!(check_version(Some("ftpsync-plan"), Some("1")).is_err());
        assert!(decode(b"{\"format\": \"ftpsync-plan\", \"format_ver").is_err());
        assert!(decode(&[0xc1, 0x00]).is_err());
    }
}
