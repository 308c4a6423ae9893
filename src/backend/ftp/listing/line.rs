//! What one listing line means ([`LineResult`]), and the checks both formats (`MLSD`, `LIST`)
//! share: names, sizes and times from the server are checked here, and refused text is shown
//! escaped and cut short.

use chrono::NaiveDate;

use crate::model::relpath::check_name;
use crate::model::{Entry, Skipped};

/// Largest file size believed (1 PiB); anything larger is a corrupt or hostile listing.
pub const MAX_SIZE: u64 = 1 << 50;

/// First instant after year 9999 (POSIX seconds); later times are refused.
pub(super) const END_OF_YEAR_9999: f64 = 253_402_300_800.0;

/// How many characters of a refused name or line are shown in a message.
pub(super) const SHOWN_CHARS: usize = 120;

/// Reason given for symbolic links.
pub(super) const SYMLINK: &str = "symbolic link (not followed)";

/// One listed entry, with the raw bytes of its name (commands on it must send these bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub entry: Entry,
    pub raw_name: Vec<u8>,
    /// The name was not UTF-8 and was decoded as Windows-1252.
    pub name_from_cp1252: bool,
    pub precision: Precision,
}

/// How precise the listed modification time is (MLSD: seconds; LIST: minutes or days).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Second,
    Minute,
    Day,
}

/// What one listing line means.
#[derive(Clone, Debug, PartialEq)]
pub enum LineResult {
    /// A file or folder.
    Entry(Listed),
    /// Nothing to report: `.`/`..`, `total N`, an empty line.
    Ignore,
    /// Something that cannot be synchronised, and why (its name is known).
    Bad(Skipped),
    /// Not a listing line at all (error text, a fragment, an unknown format): the line, shown
    /// quoted, and why. The whole listing cannot be trusted.
    Unparsable(String),
}

/// Decodes a name: UTF-8, else Windows-1252 (every byte decodes), reporting which was used.
pub fn decode_name(raw: &[u8]) -> (String, bool) {
    match std::str::from_utf8(raw) {
        Ok(name) => (name.to_string(), false),
        Err(_) => (encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0.into_owned(), true),
    }
}

/// Decodes and checks a listed name; a refused name becomes the line's [`Skipped`], shown
/// escaped.
pub(super) fn checked_name(raw: &[u8]) -> Result<(String, bool), Skipped> {
    let (name, from_cp1252) = decode_name(raw);
    match check_name(&name) {
        Ok(()) => Ok((name, from_cp1252)),
        Err(e) => Err(Skipped { name: shown(&name), reason: format!("invalid name: {e}") }),
    }
}

/// A line that cannot be synchronised for `reason`; the name is shown escaped if it is not a
/// valid name itself.
pub(super) fn bad(raw_name: &[u8], reason: String) -> LineResult {
    let (name, _) = decode_name(raw_name);
    let name = if check_name(&name).is_ok() { name } else { shown(&name) };
    named_bad(name, reason)
}

pub(super) fn named_bad(name: String, reason: String) -> LineResult {
    LineResult::Bad(Skipped { name, reason })
}

/// A line that is not understood: the whole line is shown, quoted, and `what` says why.
pub(super) fn unparsable(line: &[u8], what: &str) -> LineResult {
    LineResult::Unparsable(format!("the line {} {what}", shown_bytes(line)))
}

/// Escapes control characters and quotes, and cuts long text to [`SHOWN_CHARS`] characters.
pub(super) fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", text[..cut].escape_debug()),
        None => text.escape_debug().to_string(),
    }
}

pub(super) fn shown_bytes(bytes: &[u8]) -> String {
    format!("\"{}\"", shown(&String::from_utf8_lossy(bytes)))
}

pub(super) fn is_dots(raw_name: &[u8]) -> bool {
    raw_name == b"." || raw_name == b".."
}

/// A size in bytes: digits only, at most [`MAX_SIZE`].
pub(super) fn parse_size(word: &[u8]) -> Result<u64, String> {
    if word.is_empty() || !all_digits(word) {
        return Err(format!("invalid size {}", shown_bytes(word)));
    }
    match std::str::from_utf8(word).ok().and_then(|s| s.parse::<u64>().ok()) {
        Some(size) if size <= MAX_SIZE => Ok(size),
        _ => Err(format!("absurd size {} (more than 1 PiB)", shown_bytes(word))),
    }
}

/// A modification time from the server, refused before 1970 and after the year 9999.
pub fn checked_mtime(t: f64) -> Result<f64, String> {
    if t < 0.0 {
        Err("modification time before 1970".into())
    } else if t >= END_OF_YEAR_9999 {
        Err("modification time after the year 9999".into())
    } else {
        Ok(t)
    }
}

/// POSIX seconds of a UTC date and time; `None` if it does not exist. Second 60 (a leap
/// second) is the first second of the next minute, as POSIX counts.
pub(super) fn utc_seconds(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    let leap = second == 60;
    let time = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, if leap { 59 } else { second })?;
    Some(time.and_utc().timestamp() + i64::from(leap))
}

pub(super) fn all_digits(word: &[u8]) -> bool {
    word.iter().all(u8::is_ascii_digit)
}

/// The value of at most 9 ASCII digits (callers check the digits and the length).
pub(super) fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'))
}

/// A number of 1 or 2 digits within `min..=max`.
pub(super) fn small_number(word: &[u8], min: u32, max: u32) -> Option<u32> {
    (matches!(word.len(), 1 | 2) && all_digits(word)).then(|| number(word)).filter(|n| (min..=max).contains(n))
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
