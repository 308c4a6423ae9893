//! Server replies: `ddd text`, or a multi-line reply that starts `ddd-text` and ends with a line
//! `ddd text` (RFC 959 §4.2). Replies are kept as bytes: an `MLST` reply may carry a name that
//! is not UTF-8.

use std::io::{self, BufRead, Read};

/// Longest reply line accepted; a server sending more is broken or hostile.
const MAX_LINE: u64 = 64 * 1024;
/// Most lines in one reply (`FEAT` lists a few dozen; `STAT -la` one per entry of a folder).
const MAX_LINES: usize = 1_000_000;

/// One complete reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Every line, without its line end; the first and the last start with the code.
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// The whole reply as one line of text (for messages).
    pub fn text(&self) -> String {
        let joined: Vec<String> = self.lines.iter().map(|l| String::from_utf8_lossy(l).trim().to_string()).collect();
        joined.join(" ")
    }

    /// The first line after the code (`227 Entering Passive Mode (...)` → `Entering ...`).
    pub fn message(&self) -> String {
        let first = self.lines.first().map(Vec::as_slice).unwrap_or_default();
        String::from_utf8_lossy(first.get(4..).unwrap_or_default()).trim().to_string()
    }

    /// 1xx: a preliminary reply (another follows).
    pub fn is_preliminary(&self) -> bool {
        (100..200).contains(&self.code)
    }

    /// 2xx and 3xx.
    pub fn is_ok(&self) -> bool {
        (200..400).contains(&self.code)
    }
}

fn invalid(text: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text)
}

/// The code at the start of a line, if the line starts like a reply (`ddd`, then a space, a
/// dash or the end).
fn code_of(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(line.get(3), None | Some(b' ' | b'-')) {
        return None;
    }
    let code = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (100..600).contains(&code).then_some(code)
}

fn read_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    if line.last() != Some(&b'\n') {
        if n as u64 == MAX_LINE {
            return Err(invalid(format!("the server sent a reply line longer than {MAX_LINE} bytes")));
        }
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection in the middle of a reply",
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

/// Reads one complete reply.
pub fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let first = read_line(r)?;
    let Some(code) = code_of(&first) else {
        let shown: String = String::from_utf8_lossy(&first).chars().take(80).collect();
        return Err(invalid(format!("the server sent something that is not an FTP reply: {shown:?}")));
    };
    let multi = first.get(3) == Some(&b'-');
    let mut lines = vec![first];
    if multi {
        loop {
            let line = read_line(r)?;
            let last = code_of(&line) == Some(code) && line.get(3) != Some(&b'-');
            lines.push(line);
            if last {
                break;
            }
            if lines.len() > MAX_LINES {
                return Err(invalid(format!("the server sent a reply of more than {MAX_LINES} lines")));
            }
        }
    }
    Ok(Reply { code, lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn single_and_multi_line_replies() {
        let r = parse(b"230 Logged in\r\nrest").unwrap();
        assert_eq!((r.code, r.message().as_str()), (230, "Logged in"));
        let r = parse(b"211-Features:\r\n MLST type*;size*;\r\n211-not the end\r\n211 End\r\n").unwrap();
        assert_eq!(r.code, 211);
        assert_eq!(r.lines.len(), 4);
        assert_eq!(r.lines[1], b" MLST type*;size*;");
        let r = parse(b"250-Listing /x\n type=file;size=1; /x\n250\n").unwrap();
        assert_eq!(r.lines.len(), 3);
    }

    #[test]
    fn broken_replies_are_errors_not_panics() {
        assert!(parse(b"").is_err());
        assert!(parse(b"hello\r\n").is_err());
        assert!(parse(b"99 x\r\n").is_err());
        assert!(parse(b"230").is_err());
        assert!(parse(b"211-start\r\n no end").is_err());
        assert!(parse(&[b'2'; 70_000]).is_err());
    }
}
