//! `MLSD` lines (RFC 3659): `fact=value;...; name`, with fact names read case-insensitively and
//! fractional seconds kept.

use super::line::{
    LineResult, Listed, Precision, SYMLINK, all_digits, bad, checked_mtime, checked_name, find, is_dots, named_bad,
    number, parse_size, shown_bytes, unparsable, utc_seconds,
};
use crate::model::{Entry, Kind};

/// The facts of an MLSD line that matter here (first occurrence of each).
#[derive(Default)]
struct Facts<'a> {
    kind: Option<&'a [u8]>,
    size: Option<&'a [u8]>,
    modify: Option<&'a [u8]>,
    unique: Option<&'a [u8]>,
}

impl<'a> Facts<'a> {
    /// Reads `fact=value;` pairs; fact names are case-insensitive, unknown facts are ignored.
    fn parse(facts: &'a [u8]) -> Self {
        let mut found = Facts::default();
        for fact in facts.split(|&b| b == b';') {
            let Some(eq) = fact.iter().position(|&b| b == b'=') else { continue };
            let (name, value) = (&fact[..eq], &fact[eq + 1..]);
            let slot = match name.to_ascii_lowercase().as_slice() {
                b"type" => &mut found.kind,
                b"size" => &mut found.size,
                b"modify" => &mut found.modify,
                b"unique" => &mut found.unique,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// Parses one MLSD line: `fact=value;...; name` (RFC 3659; the name may contain spaces and
/// `;`). Directories `.`/`..` and `cdir`/`pdir` entries are ignored.
pub fn parse_mlsd_line(line: &[u8]) -> LineResult {
    if line.is_empty() {
        return LineResult::Ignore;
    }
    // Facts end with ";" and never contain ";" inside a value, so the first "; " ends them.
    // A line without facts is none a server sends for an entry (the piece of a name after a
    // line break, say): not understood.
    let Some(end) = find(line, b"; ").filter(|&end| end > 0) else {
        return unparsable(line, "is not an MLSD line (no facts before the name)");
    };
    let (facts, raw_name) = (&line[..end], &line[end + 2..]);
    let facts = Facts::parse(facts);
    let Some(kind) = facts.kind else { return bad(raw_name, "no type fact".into()) };
    let kind = match kind.to_ascii_lowercase().as_slice() {
        b"file" => Kind::File,
        b"dir" => Kind::Dir,
        b"cdir" | b"pdir" => return LineResult::Ignore,
        t if t.starts_with(b"os.unix=symlink") || t.starts_with(b"os.unix=slink") => {
            return bad(raw_name, SYMLINK.into());
        }
        _ => return bad(raw_name, format!("unsupported type {}", shown_bytes(kind))),
    };
    if kind == Kind::Dir && is_dots(raw_name) {
        return LineResult::Ignore;
    }
    let (name, from_cp1252) = match checked_name(raw_name) {
        Ok(n) => n,
        Err(skipped) => return LineResult::Bad(skipped),
    };
    let Some(modify) = facts.modify else { return named_bad(name, "no modification time (modify fact)".into()) };
    let mtime = match parse_mlsd_time(modify) {
        Ok(t) => t,
        Err(reason) => return named_bad(name, reason),
    };
    let size = match (kind, facts.size) {
        (Kind::Dir, _) => 0,
        (Kind::File, None) => return named_bad(name, "no size fact".into()),
        (Kind::File, Some(size)) => match parse_size(size) {
            Ok(s) => s,
            Err(reason) => return named_bad(name, reason),
        },
    };
    let unique = facts.unique.map(|u| String::from_utf8_lossy(u).into_owned());
    let entry = Entry { name, kind, size, mtime, changed: None, unique };
    LineResult::Entry(Listed {
        entry,
        raw_name: raw_name.to_vec(),
        name_from_cp1252: from_cp1252,
        precision: Precision::Second,
    })
}

/// `YYYYMMDDHHMMSS[.fff]`, UTC, fractional seconds kept.
fn parse_mlsd_time(value: &[u8]) -> Result<f64, String> {
    let malformed = || format!("malformed modification time {}", shown_bytes(value));
    let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], Some(&value[dot + 1..])),
        None => (value, None),
    };
    if whole.len() != 14 || !all_digits(whole) || fraction.is_some_and(|f| f.is_empty() || !all_digits(f)) {
        return Err(malformed());
    }
    let field = |from: usize, to: usize| number(&whole[from..to]);
    let year = i32::try_from(field(0, 4)).map_err(|_| malformed())?;
    let secs = utc_seconds(year, field(4, 6), field(6, 8), field(8, 10), field(10, 12), field(12, 14))
        .ok_or_else(malformed)?;
    let fraction = fraction.map_or(0.0, |f| {
        let f = &f[..f.len().min(9)];
        f64::from(number(f)) / 10f64.powi(f.len() as i32)
    });
    checked_mtime(secs as f64 + fraction)
}
