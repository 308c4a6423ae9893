//! The two `LIST` formats: Unix `ls -l` and DOS/IIS.
//!
//! Unix lines are recognised by their mode word (`drwxr-xr-x`); the date is then found as
//! month, day and time-or-year (or a `long-iso` date and time), the size is the word before it
//! and the name follows it after exactly one space, so owner, group and link count may be
//! missing or numeric. DOS lines start with a month-first date and a 12- or 24-hour time,
//! followed by `<DIR>` or the size, blanks and the name. All times are UTC.

use chrono::{DateTime, Datelike};

use super::line::{
    END_OF_YEAR_9999, LineResult, Listed, Precision, SYMLINK, all_digits, bad, checked_mtime, checked_name, find,
    is_dots, named_bad, number, parse_size, small_number, unparsable, utc_seconds,
};
use crate::model::{Entry, Kind};

/// Parses one LIST line (see [`super::parse_list_line`]).
pub(super) fn parse_line(line: &[u8], now: f64) -> LineResult {
    let tokens = tokens(line);
    let Some(&first) = tokens.first() else { return LineResult::Ignore };
    let word = |i: usize| &line[tokens[i].0..tokens[i].1];
    if tokens.len() == 2 && word(0).eq_ignore_ascii_case(b"total") && all_digits(word(1)) {
        return LineResult::Ignore;
    }
    if looks_like_mode(&line[first.0..first.1]) {
        return parse_unix_line(line, &tokens, now);
    }
    if let Some(result) = parse_dos_line(line, &tokens) {
        return result;
    }
    unparsable(line, UNRECOGNISED)
}

/// Why a line is not understood.
const UNRECOGNISED: &str = "is not a line of a Unix (ls -l) or DOS listing";

/// Byte ranges of the first whitespace-separated words of a line (enough to reach the name).
fn tokens(line: &[u8]) -> Vec<(usize, usize)> {
    const MAX_TOKENS: usize = 12;
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match (is_blank(b), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
                if out.len() == MAX_TOKENS {
                    return out;
                }
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `drwxr-xr-x`, `-rw-r--r--+`, `lrwxrwxrwx`, `crw-rw----`...
fn looks_like_mode(word: &[u8]) -> bool {
    word.len() >= 10
        && word.len() <= 11
        && word[1..10].iter().all(|b| b"rwxsStTlL-".contains(b))
        && word[10..].iter().all(|b| b"+@.".contains(b))
}

/// `-rw-r--r-- 1 owner group 170 Jan 02 14:05 name`: the date is found as month, day and
/// time-or-year (or `2023-01-02 14:05`); the size is the word before it, the name follows it
/// after exactly one space. Owner, group and link count are not needed, so variants without
/// them parse too.
fn parse_unix_line(line: &[u8], tokens: &[(usize, usize)], now: f64) -> LineResult {
    let word = |i: usize| &line[tokens[i].0..tokens[i].1];
    let Some(date) = find_unix_date(line, tokens, now) else { return unparsable(line, UNRECOGNISED) };
    let date_end = tokens[date.last_word].1;
    let raw_name = match line.get(date_end) {
        Some(&b) if is_blank(b) => &line[date_end + 1..],
        _ => &line[date_end..],
    };
    let kind = match word(0)[0] {
        b'-' => Kind::File,
        b'd' => Kind::Dir,
        b'l' => return bad(find(raw_name, b" -> ").map_or(raw_name, |arrow| &raw_name[..arrow]), SYMLINK.into()),
        b'c' | b'b' | b'p' | b's' => return bad(raw_name, "special file (not a regular file or folder)".into()),
        other => return bad(raw_name, format!("unsupported type '{}'", other.escape_ascii())),
    };
    if kind == Kind::Dir && is_dots(raw_name) {
        return LineResult::Ignore;
    }
    let (name, from_cp1252) = match checked_name(raw_name) {
        Ok(n) => n,
        Err(skipped) => return LineResult::Bad(skipped),
    };
    if name.contains(" -> ") {
        return named_bad(name, "name contains ' -> ' (ambiguous in a LIST line)".into());
    }
    let size = match parse_size(word(date.first_word - 1)) {
        Ok(size) if kind == Kind::File => size,
        Ok(_) => 0,
        Err(reason) => return named_bad(name, reason),
    };
    let Some((secs, precision)) = date.time else { return named_bad(name, "invalid date".into()) };
    let mtime = match checked_mtime(secs as f64) {
        Ok(t) => t,
        Err(reason) => return named_bad(name, reason),
    };
    let entry = Entry { name, kind, size, mtime, changed: None, unique: None };
    LineResult::Entry(Listed { entry, raw_name: raw_name.to_vec(), name_from_cp1252: from_cp1252, precision })
}

/// Where the date of a Unix listing line is, and what it means (`None`: no such day).
struct UnixDate {
    first_word: usize,
    last_word: usize,
    time: Option<(i64, Precision)>,
}

/// Finds the first `Jan 02 14:05` / `Jan 02  2023` / `2023-01-02 14:05` after the mode and
/// at least one more word (the size).
fn find_unix_date(line: &[u8], tokens: &[(usize, usize)], now: f64) -> Option<UnixDate> {
    let word = |i: usize| tokens.get(i).map(|&(from, to)| &line[from..to]);
    (2..tokens.len()).find_map(|i| {
        let (first, second, third) = (word(i)?, word(i + 1)?, word(i + 2));
        if let (Some(month), Some(day), Some(time)) =
            (month_number(first), small_number(second, 1, 31), third.and_then(parse_time_or_year))
        {
            return Some(UnixDate { first_word: i, last_word: i + 2, time: unix_time(month, day, time, now) });
        }
        let ((year, month, day), (hour, minute)) = (iso_date(first)?, parse_clock(second)?);
        let time = utc_seconds(year, month, day, hour, minute, 0).map(|t| (t, Precision::Minute));
        Some(UnixDate { first_word: i, last_word: i + 1, time })
    })
}

/// The time of day (`14:05`) or the year (`2023`) of a Unix listing date.
enum TimeOrYear {
    Time(u32, u32),
    Year(i32),
}

fn parse_time_or_year(word: &[u8]) -> Option<TimeOrYear> {
    if word.len() == 4 && all_digits(word) {
        return Some(TimeOrYear::Year(number(word) as i32));
    }
    parse_clock(word).map(|(h, m)| TimeOrYear::Time(h, m))
}

/// `H:MM` or `HH:MM`.
fn parse_clock(word: &[u8]) -> Option<(u32, u32)> {
    let colon = word.iter().position(|&b| b == b':')?;
    let (hour, minute) = (&word[..colon], &word[colon + 1..]);
    if minute.len() != 2 {
        return None;
    }
    Some((small_number(hour, 0, 23)?, small_number(minute, 0, 59)?))
}

/// `2023-01-02` (`ls --time-style=long-iso`).
fn iso_date(word: &[u8]) -> Option<(i32, u32, u32)> {
    if word.len() != 10 || word[4] != b'-' || word[7] != b'-' {
        return None;
    }
    let (y, m, d) = (&word[..4], &word[5..7], &word[8..]);
    (all_digits(y) && all_digits(m) && all_digits(d)).then(|| (number(y) as i32, number(m), number(d)))
}

/// Seconds and precision of a Unix listing date; without a year it is this year, or last year
/// when that would be more than a day in the future (or is no valid date, like 29 February).
fn unix_time(month: u32, day: u32, time: TimeOrYear, now: f64) -> Option<(i64, Precision)> {
    match time {
        TimeOrYear::Year(year) => utc_seconds(year, month, day, 0, 0, 0).map(|t| (t, Precision::Day)),
        TimeOrYear::Time(hour, minute) => {
            let this_year = year_of(now);
            let this = utc_seconds(this_year, month, day, hour, minute, 0).filter(|&t| t as f64 <= now + 86_400.0);
            this.or_else(|| utc_seconds(this_year - 1, month, day, hour, minute, 0)).map(|t| (t, Precision::Minute))
        }
    }
}

fn year_of(now: f64) -> i32 {
    let secs = now.clamp(0.0, END_OF_YEAR_9999 - 1.0) as i64;
    DateTime::from_timestamp(secs, 0).map_or(1970, |t| t.year())
}

fn month_number(word: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] =
        [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    let lower = word.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == lower.as_slice()).map(|i| i as u32 + 1)
}

/// `01-02-23  02:05PM  <DIR>  name` or `01-02-2023  14:05  170 name` (month first). `None`
/// when the line does not have this shape; the name follows the size after any blanks.
fn parse_dos_line(line: &[u8], tokens: &[(usize, usize)]) -> Option<LineResult> {
    let word = |i: usize| &line[tokens[i].0..tokens[i].1];
    if tokens.len() < 3 {
        return None;
    }
    let (month, day, year) = dos_date(word(0))?;
    let (hour, minute) = dos_clock(word(1))?;
    let size_word = word(2);
    let rest = &line[tokens[2].1..];
    let raw_name = &rest[rest.iter().position(|&b| !is_blank(b)).unwrap_or(rest.len())..];
    let kind = if size_word.eq_ignore_ascii_case(b"<DIR>") {
        Kind::Dir
    } else if [&b"<JUNCTION>"[..], b"<SYMLINK>", b"<SYMLINKD>"].iter().any(|w| size_word.eq_ignore_ascii_case(w)) {
        return Some(bad(raw_name, SYMLINK.into()));
    } else {
        Kind::File
    };
    if kind == Kind::Dir && is_dots(raw_name) {
        return Some(LineResult::Ignore);
    }
    let (name, from_cp1252) = match checked_name(raw_name) {
        Ok(n) => n,
        Err(skipped) => return Some(LineResult::Bad(skipped)),
    };
    let size = match kind {
        Kind::Dir => 0,
        Kind::File => match parse_size(size_word) {
            Ok(size) => size,
            Err(reason) => return Some(named_bad(name, reason)),
        },
    };
    let Some(secs) = utc_seconds(year, month, day, hour, minute, 0) else {
        return Some(named_bad(name, "invalid date".into()));
    };
    let mtime = match checked_mtime(secs as f64) {
        Ok(t) => t,
        Err(reason) => return Some(named_bad(name, reason)),
    };
    let entry = Entry { name, kind, size, mtime, changed: None, unique: None };
    let listed =
        Listed { entry, raw_name: raw_name.to_vec(), name_from_cp1252: from_cp1252, precision: Precision::Minute };
    Some(LineResult::Entry(listed))
}

/// `MM-DD-YY` or `MM-DD-YYYY` (also with `/`); two-digit years are 1970–2069.
fn dos_date(word: &[u8]) -> Option<(u32, u32, i32)> {
    let mut parts = word.split(|&b| b == b'-' || b == b'/');
    let (month, day, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || month.len() != 2 || day.len() != 2 || !(year.len() == 2 || year.len() == 4) {
        return None;
    }
    if !(all_digits(month) && all_digits(day) && all_digits(year)) {
        return None;
    }
    let year = match (year.len(), number(year) as i32) {
        (2, short @ 0..=69) => 2000 + short,
        (2, short) => 1900 + short,
        (_, full) => full,
    };
    Some((number(month), number(day), year))
}

/// `14:05`, `02:05PM`, `12:30am`.
fn dos_clock(word: &[u8]) -> Option<(u32, u32)> {
    let suffix = word.len().checked_sub(2).map(|i| word[i..].to_ascii_uppercase());
    match suffix.as_deref() {
        Some(b"AM") | Some(b"PM") => {
            let (hour, minute) = parse_clock(&word[..word.len() - 2])?;
            if !(1..=12).contains(&hour) {
                return None;
            }
            let pm = suffix.as_deref() == Some(b"PM");
            Some((hour % 12 + if pm { 12 } else { 0 }, minute))
        }
        _ => parse_clock(word),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{JAN2, JAN2_1405, NOW, expect_bad, expect_entry};
    use super::super::{Format, parse_listing};
    use super::*;
    use crate::model::Skipped;

    fn list(line: &str) -> LineResult {
        parse_line(line.as_bytes(), NOW)
    }

    #[test]
    fn vsftpd_list() {
        let l = expect_entry(list("-rw-r--r--    1 1001     1001          170 Jan 02  2023 probe.txt"));
        assert_eq!(l.entry, Entry::file("probe.txt", 170, JAN2));
        assert_eq!(l.precision, Precision::Day);
        let l = expect_entry(list("drwxr-xr-x    2 1001     1001         4096 Jan 02 14:05 sub"));
        assert_eq!(l.entry, Entry::dir("sub", JAN2_1405));
        assert_eq!(l.precision, Precision::Minute);
        let l = expect_entry(list("-rw-r--r-- 1 1001 1001 170 Jan 02 14:05 name with spaces"));
        assert_eq!(l.entry, Entry::file("name with spaces", 170, JAN2_1405));
        let l = expect_entry(list("-rw-r--r-- 1 1001 1001 170 Jan 02 14:05  leading space"));
        assert_eq!(l.entry.name, " leading space");
        assert_eq!(list("total 8"), LineResult::Ignore);
        assert_eq!(list("drwxr-xr-x    3 0        0            4096 Jan 02 14:05 ."), LineResult::Ignore);
        assert_eq!(list("drwxr-xr-x    3 0        0            4096 Jan 02 14:05 .."), LineResult::Ignore);
    }

    #[test]
    fn other_unix_list_variants() {
        let variants = [
            "-rw-r--r-- 1 ftp 170 Jan 02 14:05 f",            // no group
            "-rw-r--r--+ 1 user group 170 Jan 02 14:05 f",    // ACL marker
            "-rw-r--r-- 1 user group 170 jan 2 14:05 f",      // lower case, one-digit day
            "-rw-r--r-- 1 user group 170 2023-01-02 14:05 f", // long-iso
            "-rw-r--r--   1 owner    group         170 Jan  2 14:05 f",
        ];
        for line in variants {
            assert_eq!(expect_entry(list(line)).entry, Entry::file("f", 170, JAN2_1405), "{line}");
        }
    }

    /// (name, kind, size) of a line that must be an entry.
    fn entry_of(line: &str) -> (String, Kind, u64) {
        let l = expect_entry(list(line));
        (l.entry.name, l.entry.kind, l.entry.size)
    }

    #[test]
    fn lines_of_real_servers() {
        let file = |name: &str, size| (name.to_string(), Kind::File, size);
        let dir = |name: &str| (name.to_string(), Kind::Dir, 0);
        let cases = [
            // GNU inetutils ftpd (`ls -lA` of its own, owner and group padded by two).
            ("drwxr-x---  2 lstuser  lstuser  4096 Dec  6 16:09 a b", dir("a b")),
            (
                "-rw-r-----  1 lstuser  lstuser   253 Dec  6 16:09 .pyftpsync-meta.json",
                file(".pyftpsync-meta.json", 253),
            ),
            // A name starting with a blank and a dash: one blank after the date, then the name.
            ("-rw-r--r--  1 lstuser  root     3 Dec  6 16:09  -lead", file(" -lead", 3)),
            ("drwxr-xr-x  2 lstuser  root  4096 Dec  6 16:09 st*r [x]", dir("st*r [x]")),
            ("-rw-r--r--  1 lstuser  root     2 Dec  6 16:09 f #%.txt", file("f #%.txt", 2)),
            // Twisted (wide padding, day with a leading zero).
            ("-rw-r--r--   1 root      root                    3 Dec 06 16:21 x.txt", file("x.txt", 3)),
            ("drwxr-xr-x   2 root      root                 4096 Dec 06 16:21 -dash", dir("-dash")),
            // aioftp (single blanks, `none` owner).
            ("-rw-r--r-- 1 none none 2 Dec  6 16:21 .hidden", file(".hidden", 2)),
            ("drwxr-xr-x 2 none none 4096 Dec  6 16:21 é ü", dir("é ü")),
            // netkit ftpd / vsftpd / pyftpdlib.
            ("-rw-r--r--    1 1001     1001     12345678901 Jan 02  2023 big.iso", file("big.iso", 12_345_678_901)),
            ("-rw-r--r--   1 user     group          3 Jun 14 09:05 日本.txt", file("日本.txt", 3)),
            // Numeric owners, no group, setuid/sticky bits, ACL and extended-attribute marks.
            ("-rw-r--r-- 1 1001 170 Jan 02 14:05 f", file("f", 170)),
            ("-rwsr-xr-x 1 0 0 170 Jan 02 14:05 suid", file("suid", 170)),
            ("drwxrwxrwt 9 0 0 4096 Jan 02 14:05 tmp", dir("tmp")),
            ("-rw-r--r--+ 1 u g 170 Jan 02 14:05 acl", file("acl", 170)),
            ("-rw-r--r--@ 1 u staff 170 Jan 02 14:05 mac", file("mac", 170)),
            ("-rw-r-----. 1 u g 170 Jan 02 14:05 selinux", file("selinux", 170)),
            // A 200-character name.
            (&*format!("-rw-r--r-- 1 u g 5 Jan 02  2023 {}", "n".repeat(200)), file(&"n".repeat(200), 5)),
        ];
        for (line, want) in cases {
            assert_eq!(entry_of(line), want, "{line}");
        }
        // Device files (major, minor instead of a size) are refused by name.
        for (line, name) in [
            ("crw-rw-rw-   1 root     root       1,   3 Dec  6 16:09 null", "null"),
            ("brw-rw---- 1 0 6 8, 0 Jan 02 2023 sda", "sda"),
        ] {
            assert_eq!(
                expect_bad(list(line)),
                Skipped { name: name.into(), reason: "special file (not a regular file or folder)".into() }
            );
        }
    }

    #[test]
    fn dos_listings_of_iis_and_others() {
        let cases = [
            ("12-06-26  02:03PM       <DIR>          name", Kind::Dir, "name", 0),
            ("12-06-26  02:03PM                 1234 a b.txt", Kind::File, "a b.txt", 1234),
            ("12-06-2026  14:03       <DIR>          four digit year", Kind::Dir, "four digit year", 0),
            (
                "12-06-2026  14:03                 1234  leading blanks are padding",
                Kind::File,
                "leading blanks are padding",
                1234,
            ),
            ("12/06/2026  14:03                 1234 slashes", Kind::File, "slashes", 1234),
        ];
        let dec_6_2026_1403 = 1_796_565_780.0;
        for (line, kind, name, size) in cases {
            let l = expect_entry(list(line));
            assert_eq!(
                (l.entry.kind, l.entry.name.as_str(), l.entry.size, l.entry.mtime),
                (kind, name, size, dec_6_2026_1403),
                "{line}"
            );
        }
    }

    #[test]
    fn list_dates_without_a_year() {
        // 2023-01-01T10:00:00Z: `Jan 01 23:00` is 13 hours ahead (this year), `Jan 02 14:05`
        // more than a day (last year), `Dec 31` is last year's.
        let now = 1_672_567_200.0;
        let at = |line: &str| expect_entry(parse_line(line.as_bytes(), now)).entry.mtime;
        assert_eq!(at("-rw-r--r-- 1 u g 1 Jan 01 23:00 f"), 1_672_614_000.0);
        assert_eq!(at("-rw-r--r-- 1 u g 1 Jan 02 14:05 f"), JAN2_1405 - 365.0 * 86_400.0);
        assert_eq!(at("-rw-r--r-- 1 u g 1 Dec 31 23:00 f"), 1_672_527_600.0);
        // 29 February in a year that has none: the last leap year (2024-02-29T10:00:00Z).
        assert_eq!(
            expect_entry(parse_line(b"-rw-r--r-- 1 u g 1 Feb 29 10:00 f", 1_741_600_000.0)).entry.mtime,
            1_709_200_800.0
        );
    }

    #[test]
    fn dos_list() {
        let l = expect_entry(list("01-02-23  02:05PM       <DIR>          name"));
        assert_eq!((l.entry, l.precision), (Entry::dir("name", JAN2_1405), Precision::Minute));
        let l = expect_entry(list("01-02-2023  14:05  170 name with  spaces"));
        assert_eq!(l.entry, Entry::file("name with  spaces", 170, JAN2_1405));
        assert_eq!(expect_entry(list("01-02-23  12:30AM  5 f")).entry.mtime, JAN2 + 1800.0);
        assert_eq!(expect_entry(list("01-02-23  12:30PM  5 f")).entry.mtime, JAN2 + 45_000.0);
        assert_eq!(expect_entry(list("12-31-99  11:00PM  5 f")).entry.mtime, 946_681_200.0);
        assert_eq!(list("01-02-23  02:05PM       <DIR>          ."), LineResult::Ignore);
        assert_eq!(
            expect_bad(list("01-02-23  02:05PM  <JUNCTION>  j")),
            Skipped { name: "j".into(), reason: SYMLINK.into() }
        );
        assert_eq!(expect_bad(list("13-45-23  02:05PM  5 f")).reason, "invalid date");
        assert_eq!(expect_bad(list("01-02-23  02:05PM  -5 f")).reason, "invalid size \"-5\"");
        assert_eq!(expect_bad(list("01-02-23  02:05PM  5 ../f")).reason, "invalid name: contains '/'");
    }

    #[test]
    fn list_refuses_links_special_files_and_hostile_entries() {
        let cases = [
            ("lrwxrwxrwx 1 u g 7 Jan 02  2023 link -> target", "link", SYMLINK.to_string()),
            (
                "crw-rw---- 1 root tty 4, 64 Jan 02  2023 tty0",
                "tty0",
                "special file (not a regular file or folder)".into(),
            ),
            (
                "brw-rw---- 1 root disk 8, 0 Jan 02  2023 sda",
                "sda",
                "special file (not a regular file or folder)".into(),
            ),
            ("prw-r--r-- 1 u g 0 Jan 02  2023 fifo", "fifo", "special file (not a regular file or folder)".into()),
            ("srwxr-xr-x 1 u g 0 Jan 02  2023 sock", "sock", "special file (not a regular file or folder)".into()),
            ("Drwxr-xr-x 1 u g 0 Jan 02  2023 door", "door", "unsupported type 'D'".into()),
            (
                "-rw-r--r-- 1 u g 1 Jan 02  2023 a -> b",
                "a -> b",
                "name contains ' -> ' (ambiguous in a LIST line)".into(),
            ),
            ("-rw-r--r-- 1 u g -1 Jan 02  2023 f", "f", "invalid size \"-1\"".into()),
            (
                "-rw-r--r-- 1 u g 1125899906842625 Jan 02  2023 f",
                "f",
                "absurd size \"1125899906842625\" (more than 1 PiB)".into(),
            ),
            ("-rw-r--r-- 1 u g 1 Feb 30  2023 f", "f", "invalid date".into()),
            ("-rw-r--r-- 1 u g 1 Jan 02  1969 f", "f", "modification time before 1970".into()),
            ("-rw-r--r-- 1 u g 1 Jan 02  2023 ../x", "../x", "invalid name: contains '/'".into()),
            ("-rw-r--r-- 1 u g 1 Jan 02  2023 a/b", "a/b", "invalid name: contains '/'".into()),
            ("-rw-r--r-- 1 u g 1 Jan 02  2023 ..", "..", "invalid name: '.' and '..' are not allowed".into()),
        ];
        for (line, name, reason) in cases {
            assert_eq!(expect_bad(list(line)), Skipped { name: name.into(), reason }, "{line}");
        }
        for line in ["-rw-r--r-- 1 u g 1 Jan 02  2023", "-rw-r--r-- 1 u g 1 Jan 02  2023 "] {
            assert_eq!(expect_bad(list(line)).reason, "invalid name: empty name", "{line:?}");
        }
        for line in [
            "garbage",
            "-rw-r--r-- 1 u g 1 Foo 02 2023 f",
            "-rw-r--r-- Jan 02 2023 f",
            "01-02-23 garbage 1 f",
            "a: No such file or directory",
        ] {
            assert_eq!(list(line), LineResult::Unparsable(format!("the line \"{line}\" {UNRECOGNISED}")), "{line}");
        }
        let s = expect_bad(parse_line(b"-rw-r--r-- 1 u g 1 Jan 02  2023 a\x01b", NOW));
        assert_eq!((s.name.as_str(), s.reason.as_str()), ("a\\u{1}b", "invalid name: contains a control character"));
    }

    #[test]
    fn parses_a_whole_list_payload() {
        let payload = b"total 12\r\n\
            drwxr-xr-x    3 0        0            4096 Jan 02 14:05 .\r\n\
            drwxr-xr-x    3 0        0            4096 Jan 02 14:05 ..\r\n\
            -rw-r--r--    1 1001     1001          170 Jan 02  2023 probe.txt\r\n\
            lrwxrwxrwx    1 1001     1001            9 Jan 02  2023 link -> probe.txt\r\n\
            drwxr-xr-x    2 1001     1001         4096 Jan 02 14:05 sub\r\n";
        let parsed = parse_listing(payload, Format::List, NOW).unwrap();
        assert_eq!(parsed.listing.entries, [Entry::file("probe.txt", 170, JAN2), Entry::dir("sub", JAN2_1405)]);
        assert_eq!(parsed.listing.skipped, [Skipped { name: "link".into(), reason: SYMLINK.into() }]);
        assert_eq!(parsed.details["probe.txt"].precision, Precision::Day);
        assert_eq!(parsed.details["sub"].precision, Precision::Minute);
    }
}
