//! Parsing of FTP directory listings (`MLSD` and `LIST`), without any I/O.
//!
//! The payload of the data connection is split into lines ([`split_lines`]), each line becomes
//! an entry, nothing, a reason why it cannot be synchronised, or a line that is not understood
//! at all ([`LineResult`]), and a whole
//! payload becomes a [`Listing`] plus, per entry, the raw bytes of its name and how precise its
//! time is ([`parse_listing`]).
//!
//! Nothing a server sends is trusted: every name goes through
//! [`check_name`](crate::model::relpath::check_name), sizes above [`MAX_SIZE`] and times
//! outside 1970..=9999 are refused, symbolic links and special files are reported, never
//! followed, and no input makes the parser panic or allocate much more than the input itself.
//!
//! A listing is complete or it is an error ([`parse_listing`] returns `Err`, the folder is
//! *unreadable*): a line that is neither an entry nor a known header (`total N`), such as error
//! text a server wrote into the data (`a: No such file or directory`), or a payload whose last
//! line has no line end (cut short). Only an entry whose name is known can be skipped: the
//! planner then leaves that name alone on both sides; a line without a name cannot be.
//!
//! Differences from pyftpsync (behaviour note §7.2): lines end at CRLF, LF or a lone CR anywhere
//! in the payload, so a CRLF split across network chunks no longer produces an empty line; a
//! name containing CR or LF cannot be told from a line followed by another (its second part is
//! no listing line): the folder is unreadable. Fact names and `type` values are case-insensitive
//! (RFC 3659); fractional seconds are kept; names that are not UTF-8 are decoded as
//! Windows-1252 but their raw bytes are kept, so commands on them can send what the server sent.
//!
//! `MLSD` lines are read by the submodule `mlsd`, `LIST` lines in the Unix `ls -l` and the
//! DOS/IIS formats by `list`; `LIST` times are taken as UTC and are only as precise as a minute
//! or a day. What a line means and the checks both share are in `line`.

mod line;
mod list;
mod mlsd;

use std::collections::{BTreeMap, BTreeSet};

use self::line::shown_bytes;
pub use self::line::{LineResult, Listed, MAX_SIZE, Precision, checked_mtime, decode_name};
pub use self::mlsd::parse_mlsd_line;
use crate::model::Skipped;
use crate::model::listing::Listing;

/// Which command produced a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Mlsd,
    List,
}

/// What a listing says about one entry beyond its [`Entry`](crate::model::Entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    /// The name as the server sent it; commands on the entry must send these bytes.
    pub raw_name: Vec<u8>,
    pub name_from_cp1252: bool,
    pub precision: Precision,
}

/// A parsed listing: the entries and skipped names, plus the [`Details`] of every entry.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub listing: Listing,
    /// Keyed by [`Entry::name`](crate::model::Entry::name); one per entry of `listing.entries`.
    pub details: BTreeMap<String, Details>,
}

/// Splits a data-connection payload into lines: CRLF, LF and lone CR end a line; a final line
/// without a newline is kept; empty lines are ignored (pyftpsync's chunk-splitting bug must
/// not exist here).
pub fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n' || b == b'\r').filter(|line| !line.is_empty()).collect()
}

/// Parses a whole MLSD or LIST payload. `now` (POSIX seconds) decides the year of LIST dates
/// that omit it. A name listed twice (for example once in UTF-8 and once in Windows-1252) is
/// ambiguous: all its entries are dropped and it is reported once as skipped.
///
/// `Err` (with the reason, quoting the server) when the payload is not wholly a listing: a
/// line that is not understood, or a last line without a line end (the listing was cut short).
pub fn parse_listing(data: &[u8], format: Format, now: f64) -> Result<Parsed, String> {
    if data.last().is_some_and(|&b| b != b'\n' && b != b'\r') {
        let tail = data.rsplit(|&b| b == b'\n' || b == b'\r').next().unwrap_or_default();
        return Err(format!("the listing ends in the middle of a line ({}): it was cut short", shown_bytes(tail)));
    }
    let mut listed = Vec::new();
    let mut parsed = Parsed::default();
    for line in split_lines(data) {
        let result = match format {
            Format::Mlsd => parse_mlsd_line(line),
            Format::List => parse_list_line(line, now),
        };
        match result {
            LineResult::Entry(entry) => listed.push(entry),
            LineResult::Ignore => {}
            LineResult::Bad(skipped) => parsed.listing.skipped.push(skipped),
            LineResult::Unparsable(why) => return Err(why),
        }
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &listed {
        *count.entry(l.entry.name.as_str()).or_default() += 1;
    }
    let duplicates: BTreeSet<String> =
        count.into_iter().filter(|&(_, n)| n > 1).map(|(name, _)| name.to_string()).collect();
    for l in listed {
        if duplicates.contains(&l.entry.name) {
            continue;
        }
        let details = Details { raw_name: l.raw_name, name_from_cp1252: l.name_from_cp1252, precision: l.precision };
        parsed.details.insert(l.entry.name.clone(), details);
        parsed.listing.entries.push(l.entry);
    }
    for name in duplicates {
        parsed.listing.skipped.push(Skipped { name, reason: "listed more than once (ambiguous name)".into() });
    }
    Ok(parsed)
}

/// Parses one LIST line, Unix `ls -l` or DOS/IIS format. `now` (POSIX seconds) decides the
/// year of dates that omit it: this year, unless that is more than a day in the future.
pub fn parse_list_line(line: &[u8], now: f64) -> LineResult {
    list::parse_line(line, now)
}

#[cfg(test)]
mod tests {
    use super::line::{END_OF_YEAR_9999, SHOWN_CHARS, SYMLINK};
    use super::*;
    use crate::model::relpath::check_name;
    use crate::model::{Entry, Kind};

    /// 2023-06-15T00:00:00Z.
    pub(super) const NOW: f64 = 1_686_787_200.0;
    /// 2023-01-02T00:00:00Z and 2023-01-02T14:05:00Z.
    pub(super) const JAN2: f64 = 1_672_617_600.0;
    pub(super) const JAN2_1405: f64 = 1_672_668_300.0;
    /// 2020-01-02T03:04:05Z, the `modify` of the servers' sample lines.
    const PROBE_TIME: f64 = 1_577_934_245.0;

    pub(super) fn expect_entry(result: LineResult) -> Listed {
        match result {
            LineResult::Entry(listed) => listed,
            other => panic!("expected an entry, got {other:?}"),
        }
    }

    pub(super) fn expect_bad(result: LineResult) -> Skipped {
        match result {
            LineResult::Bad(skipped) => skipped,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn mlsd(line: &str) -> LineResult {
        parse_mlsd_line(line.as_bytes())
    }

    fn mlsd_file(name: &[u8]) -> Vec<u8> {
        [&b"type=file;size=1;modify=20200102030405; "[..], name].concat()
    }

    // --- lines ---------------------------------------------------------------------------

    #[test]
    fn splits_on_every_line_end_and_keeps_the_last_line() {
        let data = b"a\r\nb\nc\rd\r\n\r\n\n\re";
        assert_eq!(split_lines(data), [&b"a"[..], b"b", b"c", b"d", b"e"]);
        assert!(split_lines(b"").is_empty());
        assert!(split_lines(b"\r\n\r\n").is_empty());
    }

    #[test]
    fn a_crlf_split_across_chunks_makes_no_empty_line() {
        // pyftpsync normalised line ends per network chunk: "\r" | "\n" became two line ends.
        let first = b"type=file;size=1;modify=20200102030405; a\r".to_vec();
        let second = b"\ntype=file;size=2;modify=20200102030405; b\r\n".to_vec();
        let payload = [first, second].concat();
        let parsed = parse_listing(&payload, Format::Mlsd, NOW).unwrap();
        assert!(parsed.listing.skipped.is_empty(), "{:?}", parsed.listing.skipped);
        let names: Vec<&str> = parsed.listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    /// The error of a listing refused as a whole.
    fn unreadable(payload: &[u8], format: Format) -> String {
        match parse_listing(payload, format, NOW) {
            Err(why) => why,
            Ok(parsed) => {
                panic!("{format:?} {:?} was accepted: {:?}", String::from_utf8_lossy(payload), parsed.listing)
            }
        }
    }

    #[test]
    fn a_listing_cut_short_is_unreadable() {
        // The last line has no line end: its name may be cut ("report" of "report.pdf").
        let cut = unreadable(
            b"type=file;size=1;modify=20200102030405; a\r\ntype=file;size=1;modify=20200102030405; rep",
            Format::Mlsd,
        );
        assert_eq!(
            cut,
            "the listing ends in the middle of a line (\"type=file;size=1;modify=20200102030405; rep\"): it was cut short"
        );
        unreadable(b"-rw-r--r-- 1 u g 1 Jan 02  2023 a\n-rw-r--r-- 1 u g 1 Jan 02  2023 rep", Format::List);
        for complete in [&b""[..], b"\r\n", b"total 0\r\n", b"total 0\n", b"total 0\r"] {
            assert!(parse_listing(complete, Format::List, NOW).is_ok(), "{complete:?}");
        }
    }

    #[test]
    fn error_text_and_unknown_lines_make_the_listing_unreadable() {
        let entry = "-rw-r--r-- 1 u g 1 Jan 02  2023 ok\r\n";
        // inetutils/netkit ftpd given `LIST -a /site/a b`: ls's complaints, in the data.
        for text in [
            "/site/a: No such file or directory\r\n",
            "ls: cannot access 'b': No such file or directory\r\n",
            "ls: cannot open directory '.': Permission denied\r\n",
            "550 No such file or directory\r\n",
            "<html><body>oops</body></html>\r\n",
            "-rw-r--r-- 1 u g 1 Jan 02 25:61 badtime.txt\r\n",
        ] {
            for payload in [text.to_string(), format!("{entry}{text}"), format!("{text}{entry}")] {
                let why = unreadable(payload.as_bytes(), Format::List);
                let shown = text.trim_end().escape_debug().to_string();
                assert_eq!(
                    why,
                    format!("the line \"{shown}\" is not a line of a Unix (ls -l) or DOS listing"),
                    "{payload:?}"
                );
            }
        }
        let why =
            unreadable(b"type=file;size=1;modify=20200102030405; ok\r\nNo such file or directory\r\n", Format::Mlsd);
        assert_eq!(why, "the line \"No such file or directory\" is not an MLSD line (no facts before the name)");
    }

    #[test]
    fn a_name_with_a_line_break_makes_the_listing_unreadable() {
        // "a\nb" cannot be told from an entry "a" followed by a stray line "b" (or error text):
        // neither "a" nor "a\nb" may be taken as listed.
        let mlsd: [&[u8]; 3] = [
            b"type=file;size=1;modify=20200102030405; a\rb\r\n",
            b"type=file;size=1;modify=20200102030405; c\nd\r\n",
            b"type=file;size=1;modify=20200102030405; e\r\n f\r\n",
        ];
        let list: [&[u8]; 3] = [
            b"-rw-r--r-- 1 u g 1 Jan 02  2023 a\rb\r\n",
            b"-rw-r--r-- 1 u g 1 Jan 02  2023 c\nd\n",
            b"01-02-23  02:05PM  1 e\r\nf\r\n",
        ];
        for (payloads, format) in [(mlsd, Format::Mlsd), (list, Format::List)] {
            for payload in payloads {
                unreadable(payload, format);
            }
        }
    }

    #[test]
    fn decodes_utf8_else_windows_1252() {
        assert_eq!(decode_name("café.txt".as_bytes()), ("café.txt".to_string(), false));
        assert_eq!(decode_name(b"caf\xe9.txt"), ("café.txt".to_string(), true));
        assert_eq!(decode_name(b"\x80uro"), ("€uro".to_string(), true));
    }

    // --- MLSD: real lines ----------------------------------------------------------------

    #[test]
    fn pure_ftpd_mlsd() {
        let l = expect_entry(mlsd(
            "type=file;size=1200;modify=20200102030405;UNIX.mode=0644;UNIX.uid=1001;UNIX.gid=1001;unique=fe00g998011; rsprobe.txt",
        ));
        assert_eq!(
            l.entry,
            Entry { unique: Some("fe00g998011".into()), ..Entry::file("rsprobe.txt", 1200, PROBE_TIME) }
        );
        assert_eq!(
            (l.raw_name.as_slice(), l.name_from_cp1252, l.precision),
            (&b"rsprobe.txt"[..], false, Precision::Second)
        );
        let cdir =
            "type=cdir;sizd=4096;modify=20200102030405;UNIX.mode=0755;UNIX.uid=1001;UNIX.gid=1001;unique=fe00g99; .";
        let pdir =
            "type=pdir;sizd=4096;modify=20200102030405;UNIX.mode=0755;UNIX.uid=1001;UNIX.gid=1001;unique=fe00g98; ..";
        assert_eq!(mlsd(cdir), LineResult::Ignore);
        assert_eq!(mlsd(pdir), LineResult::Ignore);
        let dir = expect_entry(mlsd("type=dir;sizd=4096;modify=20200102030405;UNIX.mode=0755;unique=fe00g97; sub"));
        assert_eq!(dir.entry, Entry { unique: Some("fe00g97".into()), ..Entry::dir("sub", PROBE_TIME) });
    }

    #[test]
    fn proftpd_pyftpdlib_and_libunftp_mlsd() {
        let proftpd = "modify=20200102030405;perm=adfrw;size=1200;type=file;unique=FE00U99ABC8;UNIX.group=1001;\
                       UNIX.groupname=ftptest;UNIX.mode=0644;UNIX.owner=1001;UNIX.ownername=probe; rsprobe.txt";
        let pyftpdlib = "modify=20200102030405;perm=radfwMT;size=1200;type=file;unique=fe00g99abcb; rsprobe.txt";
        let libunftp = "type=file;size=1200;modify=20200102030405; rsprobe.txt";
        for (line, unique) in [(proftpd, Some("FE00U99ABC8")), (pyftpdlib, Some("fe00g99abcb")), (libunftp, None)] {
            let l = expect_entry(mlsd(line));
            assert_eq!(
                l.entry,
                Entry { unique: unique.map(str::to_string), ..Entry::file("rsprobe.txt", 1200, PROBE_TIME) }
            );
        }
        let dir = expect_entry(mlsd("type=dir;size=4096;modify=20200102030405; folder1"));
        assert_eq!(dir.entry, Entry::dir("folder1", PROBE_TIME));
    }

    #[test]
    fn mlsd_names_keep_spaces_and_semicolons() {
        let l = expect_entry(mlsd("type=file;size=3;modify=20200102030405;  a; b;c ; "));
        assert_eq!(l.entry.name, " a; b;c ; ");
        let l = expect_entry(mlsd("type=file;size=3;modify=20200102030405;UNIX.ownername=John Doe; x y"));
        assert_eq!(l.entry.name, "x y", "a blank inside a fact value does not end the facts");
    }

    #[test]
    fn mlsd_facts_and_types_are_case_insensitive() {
        let l = expect_entry(mlsd("Type=File;Size=5;Modify=20200102030405; a"));
        assert_eq!(l.entry, Entry::file("a", 5, PROBE_TIME));
        let l = expect_entry(mlsd("TYPE=DIR;MODIFY=20200102030405; d"));
        assert_eq!(l.entry.kind, Kind::Dir);
        assert_eq!(mlsd("type=CDir;modify=20200102030405; /home/x"), LineResult::Ignore);
    }

    #[test]
    fn mlsd_keeps_fractional_seconds_and_counts_leap_seconds() {
        let l = expect_entry(mlsd("type=file;size=1;modify=20200102030405.123; a"));
        assert!((l.entry.mtime - (PROBE_TIME + 0.123)).abs() < 1e-6, "{}", l.entry.mtime);
        let l = expect_entry(mlsd("type=file;size=1;modify=20161231235960; a"));
        assert_eq!(l.entry.mtime, 1_483_228_800.0);
        assert_eq!(expect_entry(mlsd("type=file;size=1;modify=19700101000000; a")).entry.mtime, 0.0);
    }

    // --- MLSD: refusals ------------------------------------------------------------------

    #[test]
    fn mlsd_refuses_links_other_types_and_missing_facts() {
        let cases = [
            ("type=OS.unix=symlink;modify=20200102030405; l", "l", "symbolic link (not followed)"),
            ("type=OS.unix=slink:/etc/passwd;modify=20200102030405; l", "l", "symbolic link (not followed)"),
            ("type=device;modify=20200102030405; d", "d", "unsupported type \"device\""),
            ("size=1;modify=20200102030405; n", "n", "no type fact"),
            ("type=file;size=1; n", "n", "no modification time (modify fact)"),
            ("type=dir; n", "n", "no modification time (modify fact)"),
            ("type=file;modify=20200102030405; n", "n", "no size fact"),
        ];
        for (line, name, reason) in cases {
            assert_eq!(expect_bad(mlsd(line)), Skipped { name: name.into(), reason: reason.into() }, "{line}");
        }
        for line in ["type=file;size=1;modify=20200102030405;no-space-after-facts", " bare name", "; x", "plain text"] {
            assert!(matches!(mlsd(line), LineResult::Unparsable(why) if why.contains("is not an MLSD line")), "{line}");
        }
    }

    #[test]
    fn mlsd_refuses_hostile_names() {
        let long = "x".repeat(10_000);
        let cases: [(&[u8], &str); 10] = [
            (b"../x", "invalid name: contains '/'"),
            (b"a/b", "invalid name: contains '/'"),
            (b"/upload/rsprobe.txt", "invalid name: contains '/'"),
            (b".", "invalid name: '.' and '..' are not allowed"),
            (b"..", "invalid name: '.' and '..' are not allowed"),
            (b"a\rb", "invalid name: contains a control character"),
            (b"a\nb", "invalid name: contains a control character"),
            (b"a\0b", "invalid name: contains a control character"),
            (b"\x81", "invalid name: contains a control character"),
            (long.as_bytes(), "invalid name: longer than 255 bytes"),
        ];
        for (name, reason) in cases {
            let s = expect_bad(parse_mlsd_line(&mlsd_file(name)));
            assert_eq!(s.reason, reason, "{name:?}");
            assert!(s.name.chars().all(|c| !c.is_control()), "shown escaped: {:?}", s.name);
        }
        assert_eq!(expect_bad(parse_mlsd_line(&mlsd_file(b"a\0b"))).name, "a\\0b");
        let shown_long = expect_bad(parse_mlsd_line(&mlsd_file(long.as_bytes()))).name;
        assert_eq!(shown_long, format!("{}…", "x".repeat(SHOWN_CHARS)));
        assert_eq!(expect_bad(mlsd("type=file;size=0;modify=20200102030405; ")).reason, "invalid name: empty name");
        // `.` and `..` as folders are the server listing itself and its parent.
        assert_eq!(mlsd("type=dir;modify=20200102030405; ."), LineResult::Ignore);
        assert_eq!(mlsd("type=dir;modify=20200102030405; .."), LineResult::Ignore);
    }

    #[test]
    fn mlsd_refuses_bad_sizes() {
        for size in ["-1", "abc", "", "+5", "1e3", "1 2", "99999999999999999999999999", "1125899906842625"] {
            let s = expect_bad(mlsd(&format!("type=file;size={size};modify=20200102030405; f")));
            assert_eq!(s.name, "f");
            assert!(s.reason.contains("size"), "{size:?}: {}", s.reason);
        }
        assert_eq!(expect_entry(mlsd("type=file;size=1125899906842624;modify=20200102030405; f")).entry.size, MAX_SIZE);
        let dir = expect_entry(mlsd("type=dir;sizd=-5;modify=20200102030405; d"));
        assert_eq!(dir.entry.size, 0, "folder sizes are not used");
    }

    #[test]
    fn mlsd_refuses_bad_times() {
        for modify in [
            "2020",
            "202001020304050",
            "20201302030405",
            "20200230000000",
            "20200102250000",
            "20200102036000",
            "2020010203040x",
            "20200102030405.",
            "20200102030405.1x",
            "-2020010203040",
            "19691231235959",
            "00000101000000",
        ] {
            let s = expect_bad(mlsd(&format!("type=file;size=1;modify={modify}; f")));
            assert!(s.reason.contains("modification time"), "{modify}: {}", s.reason);
        }
    }

    #[test]
    fn cp1252_names_are_decoded_and_their_bytes_kept() {
        let l = expect_entry(parse_mlsd_line(&mlsd_file(b"caf\xe9.txt")));
        assert_eq!(l.entry.name, "café.txt");
        assert_eq!(l.raw_name, b"caf\xe9.txt");
        assert!(l.name_from_cp1252);
        let l = expect_entry(parse_list_line(b"-rw-r--r-- 1 ftp ftp 1 Jan 02  2023 caf\xe9.txt", NOW));
        assert_eq!(
            (l.entry.name.as_str(), l.raw_name.as_slice(), l.name_from_cp1252),
            ("café.txt", &b"caf\xe9.txt"[..], true)
        );
    }

    // --- whole listings ------------------------------------------------------------------

    #[test]
    fn parses_a_whole_mlsd_payload() {
        let payload = b"type=cdir;modify=20200102030405; .\r\n\
            type=pdir;modify=20200102030405; ..\r\n\
            type=file;size=1200;modify=20200102030405; a.txt\r\n\
            type=dir;modify=20200102030405; sub\r\n\
            type=OS.unix=symlink;modify=20200102030405; link\r\n\
            type=file;size=1;modify=20200102030405; caf\xe9.txt\r\n";
        let parsed = parse_listing(payload, Format::Mlsd, NOW).unwrap();
        let names: Vec<&str> = parsed.listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "sub", "café.txt"]);
        assert_eq!(parsed.listing.skipped, [Skipped { name: "link".into(), reason: SYMLINK.into() }]);
        let cafe = &parsed.details["café.txt"];
        assert_eq!(
            (cafe.raw_name.as_slice(), cafe.name_from_cp1252, cafe.precision),
            (&b"caf\xe9.txt"[..], true, Precision::Second)
        );
        assert_eq!(parsed.details.len(), 3);
    }

    #[test]
    fn a_name_listed_twice_is_skipped() {
        let payload = [
            mlsd_file("café.txt".as_bytes()),
            b"\n".to_vec(),
            mlsd_file(b"caf\xe9.txt"),
            b"\n".to_vec(),
            mlsd_file(b"x"),
            b"\n".to_vec(),
        ]
        .concat();
        let parsed = parse_listing(&payload, Format::Mlsd, NOW).unwrap();
        let names: Vec<&str> = parsed.listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["x"]);
        assert_eq!(
            parsed.listing.skipped,
            [Skipped { name: "café.txt".into(), reason: "listed more than once (ambiguous name)".into() }]
        );
        assert!(!parsed.details.contains_key("café.txt"));
    }

    // --- never panics --------------------------------------------------------------------

    /// Runs every parser on `data`, checking what any result must satisfy; returns how many
    /// entries the MLSD and the LIST parser found.
    fn parse_everything(data: &[u8], now: f64) -> [usize; 2] {
        let mut found = [0; 2];
        for line in split_lines(data) {
            for (i, result) in [parse_mlsd_line(line), parse_list_line(line, now)].into_iter().enumerate() {
                match result {
                    LineResult::Entry(l) => {
                        found[i] += 1;
                        assert!(check_name(&l.entry.name).is_ok(), "{:?}", l.entry.name);
                        assert!(l.entry.size <= MAX_SIZE && (0.0..END_OF_YEAR_9999).contains(&l.entry.mtime));
                        assert!(l.raw_name.len() <= line.len());
                    }
                    LineResult::Bad(s) => assert!(s.name.len() <= 4 * line.len() + 10 * SHOWN_CHARS + 4),
                    LineResult::Unparsable(why) => assert!(why.len() <= 4 * line.len() + 10 * SHOWN_CHARS + 100),
                    LineResult::Ignore => {}
                }
            }
        }
        for format in [Format::Mlsd, Format::List] {
            if let Ok(parsed) = parse_listing(data, format, now) {
                assert_eq!(parsed.details.len(), parsed.listing.entries.len());
            }
        }
        found
    }

    #[test]
    fn never_panics_on_mutated_listings() {
        const SAMPLES: [&[u8]; 6] = [
            b"type=file;size=1200;modify=20200102030405.5;unique=fe00; rsprobe.txt",
            b"Type=Dir;Modify=20200102030405; sub",
            b"-rw-r--r--    1 1001     1001          170 Jan 02  2023 probe.txt",
            b"drwxr-xr-x 2 u g 4096 Feb 29 14:05 sub",
            b"01-02-23  02:05PM       <DIR>          name",
            b"01-02-2023  14:05  170 name",
        ];
        const PIECES: [&[u8]; 16] = [
            b";",
            b"; ",
            b" ",
            b"=",
            b"-",
            b"..",
            b"/",
            b"\r\n",
            b"\r",
            b"\xe9\xff\x00",
            b"OS.unix=slink:",
            b"cdir",
            b"99999999999999999999",
            b" -> ",
            b"l",
            b"12:60",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below.max(1) as u64) as usize
        };
        let mut found = [0; 2];
        for _ in 0..20_000 {
            let mut data = Vec::new();
            for _ in 0..=next(3) {
                data.extend_from_slice(SAMPLES[next(SAMPLES.len())]);
                data.extend_from_slice([&b"\r\n"[..], b"\n", b"\r"][next(3)]);
            }
            for _ in 0..next(4) {
                let at = next(data.len() + 1);
                match next(3) {
                    0 => drop(data.splice(at..at, PIECES[next(PIECES.len())].iter().copied())),
                    1 if at < data.len() => data[at] = next(256) as u8,
                    _ => data.truncate(at.max(1)),
                }
            }
            let now = [NOW, 0.0, -1.0, f64::NAN, f64::INFINITY, 1e300][next(6)];
            let [mlsd, list] = parse_everything(&data, now);
            found = [found[0] + mlsd, found[1] + list];
        }
        assert!(found.iter().all(|&n| n > 1000), "the mutations rarely left a valid entry: {found:?}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_random_bytes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), now in proptest::prelude::any::<f64>()) {
            parse_everything(&data, now);
        }
    }
}
