//! A `~/.netrc` reader that reads files the way Python's `netrc` module does (pyftpsync uses
//! it), so a file that works for pyftpsync works here.
//!
//! Tokens are separated by white space; `"…"` quotes a token and `\` escapes the next
//! character. Top-level keywords are `machine NAME`, `default` and `macdef NAME` (whose body,
//! up to an empty line, is skipped); inside an entry `login`/`user`, `account` and `password`
//! take a value. A later entry for the same name replaces an earlier one, and the `default`
//! entry answers for every host without its own entry.
//!
//! Like Python on POSIX, a `~/.netrc` with an entry whose login is not `anonymous` is refused
//! when another user owns it or when its group or others have any access.
//!
//! One deliberate difference: a `#` token where a keyword is expected always starts a comment
//! that runs to the end of the line. Python 3.11 does that only in some positions and reports
//! `#word more` at the top of a file as a syntax error.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::backend::secret::Secret;

/// One `machine` (or `default`) entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub login: String,
    pub account: String,
    /// Never shown: its `Debug` prints `***`.
    pub password: Secret,
}

/// A parsed `.netrc` file.
#[derive(Clone, Debug, Default)]
pub struct Netrc {
    hosts: HashMap<String, Entry>,
}

/// A syntax error, with the 1-based line where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub line: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {})", self.message, self.line)
    }
}

/// Why a `.netrc` file could not be used.
#[derive(Debug)]
pub enum ReadError {
    /// There is no such file.
    NotFound,
    /// It could not be read, or its owner or permissions make it unsafe.
    Io(String),
    /// It is not a valid `.netrc` file.
    Parse(ParseError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file"),
            ReadError::Io(m) => f.write_str(m),
            ReadError::Parse(e) => e.fmt(f),
        }
    }
}

impl Netrc {
    /// The entry for `host`, else the `default` entry (Python's `authenticators`).
    pub fn authenticators(&self, host: &str) -> Option<&Entry> {
        self.hosts.get(host).or_else(|| self.hosts.get("default"))
    }

    /// Parses the text of a `.netrc` file.
    pub fn parse(text: &str) -> Result<Netrc, ParseError> {
        let mut lx = Lexer { chars: text.chars().collect(), pos: 0, line: 1, pushback: None };
        let mut hosts = HashMap::new();
        loop {
            let start_line = lx.line;
            let top = lx.token();
            let name = match top.as_str() {
                "" => break,
                t if t.starts_with('#') => {
                    lx.skip_comment(start_line);
                    continue;
                }
                "machine" => lx.token(),
                "default" => "default".to_string(),
                "macdef" => {
                    lx.token();
                    lx.skip_macro()?;
                    continue;
                }
                t => return Err(lx.error(format!("bad toplevel token '{t}'"))),
            };
            if name.is_empty() {
                return Err(lx.error(format!("missing '{top}' name")));
            }
            let mut entry = Entry::default();
            loop {
                let start_line = lx.line;
                let t = lx.token();
                match t.as_str() {
                    "" | "machine" | "default" | "macdef" => {
                        lx.pushback = Some(t);
                        break;
                    }
                    t if t.starts_with('#') => lx.skip_comment(start_line),
                    "login" | "user" => entry.login = lx.token(),
                    "account" => entry.account = lx.token(),
                    "password" => entry.password = Secret::new(lx.token()),
                    t => return Err(lx.error(format!("bad follower token '{t}'"))),
                }
            }
            hosts.insert(name, entry);
        }
        Ok(Netrc { hosts })
    }

    /// Reads and parses `path` as the user's own `~/.netrc` (with Python's safety check).
    pub fn read(path: &Path) -> Result<Netrc, ReadError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::NotFound),
            Err(e) => return Err(ReadError::Io(format!("{}: {e}", path.display()))),
        };
        let text = String::from_utf8_lossy(&bytes);
        let netrc = Netrc::parse(&text).map_err(ReadError::Parse)?;
        if netrc.hosts.values().any(|e| e.login != "anonymous") {
            security_check(path)?;
        }
        Ok(netrc)
    }
}

#[cfg(unix)]
fn security_check(path: &Path) -> Result<(), ReadError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(format!("{}: {e}", path.display())))?;
    let uid = rustix::process::getuid().as_raw();
    if meta.uid() != uid {
        return Err(ReadError::Io(format!(
            "~/.netrc file owner (uid {}) does not match current user (uid {uid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(ReadError::Io(
            "~/.netrc access too permissive: access permissions must restrict access to only the owner".into(),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn security_check(_path: &Path) -> Result<(), ReadError> {
    Ok(())
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    pushback: Option<String>,
}

impl Lexer {
    fn next_char(&mut self) -> Option<char> {
        let c = *self.chars.get(self.pos)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// The next token; empty at the end of the text.
    fn token(&mut self) -> String {
        if let Some(t) = self.pushback.take() {
            return t;
        }
        let mut token = String::new();
        let c = loop {
            match self.next_char() {
                None => return token,
                Some(c) if is_space(c) => continue,
                Some(c) => break c,
            }
        };
        if c == '"' {
            while let Some(c) = self.next_char() {
                match c {
                    '"' => break,
                    '\\' => token.extend(self.next_char()),
                    c => token.push(c),
                }
            }
            return token;
        }
        let mut c = Some(c);
        while let Some(ch) = c {
            if is_space(ch) {
                break;
            }
            if ch == '\\' {
                token.extend(self.next_char());
            } else {
                token.push(ch);
            }
            c = self.next_char();
        }
        token
    }

    /// Skips the rest of a comment line (unless the comment token already ended it).
    fn skip_comment(&mut self, start_line: usize) {
        if self.line == start_line {
            while let Some(c) = self.next_char() {
                if c == '\n' {
                    break;
                }
            }
        }
    }

    /// Skips a macro body: lines up to and including an empty line.
    fn skip_macro(&mut self) -> Result<(), ParseError> {
        loop {
            let mut line = String::new();
            while let Some(c) = self.next_char() {
                line.push(c);
                if c == '\n' {
                    break;
                }
            }
            if line.is_empty() {
                return Err(self.error("Macro definition missing null line terminator.".into()));
            }
            if line == "\n" {
                return Ok(());
            }
        }
    }

    fn error(&self, message: String) -> ParseError {
        ParseError { message, line: self.line }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(n: &'a Netrc, host: &str) -> Option<(&'a str, &'a str, &'a str)> {
        n.authenticators(host).map(|e| (e.login.as_str(), e.account.as_str(), e.password.expose()))
    }

    #[test]
    fn machine_default_and_quoting() {
        let n = Netrc::parse(
            "machine ftp.example.com login joe password s3cret\n\
             machine \"h x\" user \"a b\" password \"p\\\"q\" account acc\n\
             default login anon password guest\n",
        )
        .unwrap();
        assert_eq!(get(&n, "ftp.example.com"), Some(("joe", "", "s3cret")));
        assert_eq!(get(&n, "h x"), Some(("a b", "acc", "p\"q")));
        assert_eq!(get(&n, "other.org"), Some(("anon", "", "guest")));
        assert_eq!(get(&Netrc::parse("machine a login u password p").unwrap(), "b"), None);
    }

    #[test]
    fn like_python() {
        // Each case was checked against Python 3.11's netrc module.
        let n = Netrc::parse("machine a login u password p\nmachine a login u2 password p2\n").unwrap();
        assert_eq!(get(&n, "a"), Some(("u2", "", "p2")), "later entry wins");
        let n = Netrc::parse("machine a login u password p#x\n").unwrap();
        assert_eq!(get(&n, "a"), Some(("u", "", "p#x")));
        let n = Netrc::parse("machine a login u password p\\ q\n").unwrap();
        assert_eq!(get(&n, "a"), Some(("u", "", "p q")));
        let n = Netrc::parse("machine a login u password \"unterminated").unwrap();
        assert_eq!(get(&n, "a"), Some(("u", "", "unterminated")));
        let n = Netrc::parse("machine a account acc password p\n").unwrap();
        assert_eq!(get(&n, "a"), Some(("", "acc", "p")));
        let n = Netrc::parse("macdef init\ncd /\nput x\n\nmachine a login u password p\n").unwrap();
        assert_eq!(get(&n, "a"), Some(("u", "", "p")));
        let n = Netrc::parse("# c\nmachine a login u password p # trailing words\nmachine b login v\n").unwrap();
        assert_eq!((get(&n, "a").unwrap().2, get(&n, "b").unwrap().0), ("p", "v"));
        // Python rejects this first line; we take it as the comment it is meant to be.
        assert!(Netrc::parse("#comment more\nmachine a login u password p\n").is_ok());
    }

    #[test]
    fn syntax_errors() {
        let err = |s: &str| Netrc::parse(s).unwrap_err().to_string();
        assert_eq!(err("machine a login u passwd p\n"), "bad follower token 'passwd' (line 1)");
        assert_eq!(err("login u\n"), "bad toplevel token 'login' (line 1)");
        assert_eq!(err("machine\n"), "missing 'machine' name (line 2)");
        assert!(err("macdef init\ncd /\n").starts_with("Macro definition missing null line terminator."));
    }

    #[cfg(unix)]
    #[test]
    fn read_checks_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".netrc");
        assert!(matches!(Netrc::read(&path), Err(ReadError::NotFound)));
        std::fs::write(&path, "machine h login u password p\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Netrc::read(&path).unwrap_err().to_string();
        assert!(e.contains("access too permissive"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(get(&Netrc::read(&path).unwrap(), "h"), Some(("u", "", "p")));
        // Anonymous-only files are not checked (as Python).
        std::fs::write(&path, "default login anonymous password me@x\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Netrc::read(&path).is_ok());
    }

    #[test]
    fn debug_hides_passwords() {
        let n = Netrc::parse("machine h login u password hunter2\n").unwrap();
        let text = format!("{n:?} {:?}", n.authenticators("h"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
