//! The lines of `scan` and `tree`, in pyftpsync's layout (behaviour spec §6.7, §6.8).

use crate::meta::timefmt::local_stamp;
use crate::model::Kind;
use crate::planner::pairs::SideEntry;

/// An integer with `,` between thousands (Python's `{:,}`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as Python prints a `timedelta`: `H:MM:SS[.ffffff]`, with `-1 day, ` and the like
/// in front when it is negative or a day or longer.
pub fn timedelta(secs: f64) -> String {
    let micros = (secs * 1e6).round_ties_even() as i64;
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (s, us) = (rest / 1_000_000, rest % 1_000_000);
    let mut out = String::new();
    if days != 0 {
        out.push_str(&format!("{days} day{}, ", if days.abs() == 1 { "" } else { "s" }));
    }
    out.push_str(&format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60));
    if us != 0 {
        out.push_str(&format!(".{us:06}"));
    }
    out
}

/// One entry of `scan --list` at `depth` (0 for the target's root): four spaces per level and
/// one more, then `[folder]`, or the file name in 40 columns and its modification time; when
/// the listed time differs from the one the metadata gives, also the difference
/// (`(system: +0:00:05)`: the server's time is later).
pub fn scan_line(depth: usize, e: &SideEntry) -> String {
    let indent = "    ".repeat(depth);
    if e.entry.kind == Kind::Dir {
        return format!("{indent} [{}]", e.entry.name);
    }
    let mut line = format!("{indent} {:<40} {}", e.entry.name, local_stamp(e.entry.mtime));
    let delta = e.listed() - e.entry.mtime;
    if delta != 0.0 {
        let sign = if delta > 0.0 { "+" } else { "" };
        line.push_str(&format!(" (system: {sign}{})", timedelta(delta)));
    }
    line
}

/// The connector of a `tree` line: one column group per ancestor (blank below a last sibling,
/// `|` otherwise), then `` `- `` for the last sibling or `+- `.
pub fn tree_prefix(ancestors_last: &[bool], is_last: bool) -> String {
    let mut out: String = ancestors_last.iter().map(|&last| if last { "    " } else { " |  " }).collect();
    out.push_str(if is_last { " `- " } else { " +- " });
    out
}

/// One `tree` line: `[folder]`, or the file name in 20 columns, time and size.
pub fn tree_line(prefix: &str, e: &SideEntry) -> String {
    if e.entry.kind == Kind::Dir {
        return format!("{prefix}[{}]", e.entry.name);
    }
    format!("{prefix}{:<20} {}, {:>8} bytes", e.entry.name, local_stamp(e.entry.mtime), thousands(e.entry.size))
}

/// The last line of `scan` and `tree`.
pub fn summary(files: u64, dirs: u64, seconds: f64) -> String {
    format!("Scanning {} files in {} directories took {seconds:.2} seconds.", thousands(files), thousands(dirs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    fn file(name: &str, size: u64, mtime: f64, listed: Option<f64>) -> SideEntry {
        SideEntry { entry: Entry::file(name, size, mtime), listed_mtime: listed }
    }

    #[test]
    fn numbers_as_python_formats_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(timedelta(5.0), "0:00:05");
        assert_eq!(timedelta(3723.5), "1:02:03.500000");
        assert_eq!(timedelta(-5.0), "-1 day, 23:59:55");
        assert_eq!(timedelta(2.0 * 86400.0 + 1.0), "2 days, 0:00:01");
        assert_eq!(summary(1234, 8, 0.004), "Scanning 1,234 files in 8 directories took 0.00 seconds.");
    }

    #[test]
    fn tree_connectors() {
        assert_eq!(tree_prefix(&[], false), " +- ");
        assert_eq!(tree_prefix(&[false], true), " |   `- ");
        assert_eq!(tree_prefix(&[true, false], false), "     |   +- ");
        let dir = SideEntry { entry: Entry::dir("folder1", 0.0), listed_mtime: None };
        assert_eq!(tree_line(" +- ", &dir), " +- [folder1]");
        let line = tree_line(" `- ", &file("a.txt", 12345, 0.0, None));
        assert!(line.starts_with(" `- a.txt                "), "{line:?}");
        assert!(line.ends_with(",   12,345 bytes"), "{line:?}");
    }

    #[test]
    fn scan_lines() {
        let dir = SideEntry { entry: Entry::dir("folder1", 0.0), listed_mtime: None };
        assert_eq!(scan_line(0, &dir), " [folder1]");
        assert_eq!(scan_line(1, &dir), "     [folder1]");
        let plain = scan_line(0, &file("f.txt", 1, 1e9, None));
        assert_eq!(plain.len(), 1 + 40 + 1 + 19, "{plain:?}");
        assert!(scan_line(0, &file("f.txt", 1, 1e9, Some(1e9 + 5.0))).ends_with(" (system: +0:00:05)"));
        assert!(scan_line(0, &file("f.txt", 1, 1e9, Some(1e9 - 5.0))).ends_with(" (system: -1 day, 23:59:55)"));
    }
}
