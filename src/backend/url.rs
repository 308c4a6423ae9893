//! Where a target lives: a local folder, an FTP or an SFTP URL, parsed as pyftpsync parses it.
//!
//! `ftp://[user[:password]@]host[:port]/path`, `ftps://` (explicit TLS) and `sftp://` (SFTP
//! over SSH, port 22; the path is absolute on the server, as in pyftpsync 4). The user part ends
//! at the last `@`; the password is percent-decoded, the user name is not (pyftpsync 4.1).
//! Anything without one of these schemes is a local path. A parsed URL never shows its
//! password: [`FtpUrl::redacted`] is what goes into plans, reports and messages.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Result, bail};

/// TLS mode of an FTP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain FTP.
    None,
    /// `AUTH TLS` after connecting (`ftps://`, as pyftpsync).
    Explicit,
    /// TLS from the first byte (`--implicit-tls`, usually port 990).
    Implicit,
    /// Not FTP at all: `sftp://`, SFTP over SSH (which brings its own encryption).
    Ssh,
}

/// A parsed FTP or SFTP location.
#[derive(Clone, PartialEq, Eq)]
pub struct FtpUrl {
    pub tls: Tls,
    /// Lower-cased host name or address (IPv6 without brackets).
    pub host: String,
    /// Port; 0 means the default for the TLS mode.
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Absolute folder on the server, without a trailing `/` (except the root `/`).
    pub path: String,
}

impl fmt::Debug for FtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FtpUrl {
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Tls::None => "ftp",
            Tls::Explicit | Tls::Implicit => "ftps",
            Tls::Ssh => "sftp",
        }
    }

    /// The port to connect to.
    pub fn effective_port(&self) -> u16 {
        match (self.port, self.tls) {
            (0, Tls::Implicit) => 990,
            (0, Tls::Ssh) => 22,
            (0, _) => 21,
            (p, _) => p,
        }
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() }
    }

    /// The URL without the password (the user name stays: it is not a secret and tells which
    /// account a plan was made with).
    pub fn redacted(&self) -> String {
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        let port = if self.port != 0 { format!(":{}", self.port) } else { String::new() };
        format!("{}://{user}{}{port}{}", self.scheme(), self.host_for_url(), self.path)
    }

    /// pyftpsync's target id: host and root folder (scheme, port and user are not part of it).
    pub fn id(&self) -> String {
        format!("{}{}", self.host, self.path)
    }

    /// pyftpsync's display name: `ftp://HOST/ROOT` (`sftp://HOST/ROOT`).
    pub fn display(&self) -> String {
        format!("{}://{}{}", self.scheme(), self.host_for_url(), self.path)
    }
}

/// A target location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Ftp(FtpUrl),
    /// An `sftp://` URL ([`Tls::Ssh`]).
    Sftp(FtpUrl),
}

impl Location {
    /// Parses a command-line target.
    pub fn parse(s: &str) -> Result<Location> {
        let Some((scheme, rest)) = s.split_once("://") else {
            return Ok(Location::Local(expand_home(s)));
        };
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "ftp" => Tls::None,
            "ftps" => Tls::Explicit,
            "sftp" => Tls::Ssh,
            _ => return Ok(Location::Local(expand_home(s))),
        };
        let (netloc, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match netloc.rfind('@') {
            Some(i) => (Some(&netloc[..i]), &netloc[i + 1..]),
            None => (None, netloc),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(percent_decode(p))),
                None => (Some(ui.to_string()), None),
            },
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            bail!("{}: missing host name", redact_raw(s));
        }
        let mut path = if path.is_empty() { "/".to_string() } else { path.to_string() };
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        let user = user.filter(|u| !u.is_empty());
        let url = FtpUrl { tls, host: host.to_ascii_lowercase(), port, user, password, path };
        Ok(if tls == Tls::Ssh { Location::Sftp(url) } else { Location::Ftp(url) })
    }

    /// The server URL of a remote location (FTP or SFTP), `None` for a folder.
    pub fn remote(&self) -> Option<&FtpUrl> {
        match self {
            Location::Local(_) => None,
            Location::Ftp(u) | Location::Sftp(u) => Some(u),
        }
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16)> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => bail!("invalid IPv6 address in {hostport:?}"),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => 0,
        Some(p) => p.parse::<u16>().map_err(|_| anyhow::anyhow!("invalid port {p:?}"))?,
    };
    Ok((host.to_string(), port))
}

fn expand_home(s: &str) -> PathBuf {
    if (s == "~" || s.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(s.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(s)
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes a password from a raw URL string, for error messages about unparsable URLs.
pub fn redact_raw(s: &str) -> String {
    match s.split_once("://") {
        Some((scheme, rest)) => {
            let (netloc, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match netloc.rfind('@') {
                Some(i) => {
                    let user = netloc[..i].split(':').next().unwrap_or("");
                    format!("{scheme}://{user}:***@{}{path}", &netloc[i + 1..])
                }
                None => s.to_string(),
            }
        }
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftp(s: &str) -> FtpUrl {
        match Location::parse(s).unwrap() {
            Location::Ftp(u) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_like_pyftpsync() {
        let u = ftp("ftp://user@example.com:secret@ftp.example.com/target/folder");
        assert_eq!(u.user.as_deref(), Some("user@example.com"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, "ftp.example.com");
        assert_eq!(u.path, "/target/folder");
        assert_eq!(u.id(), "ftp.example.com/target/folder");
        assert_eq!(u.redacted(), "ftp://user@example.com@ftp.example.com/target/folder");
        let u = ftp("FTPS://Joe:p%40ss@Example.COM:2121/");
        assert_eq!((u.tls, u.port, u.host.as_str(), u.path.as_str()), (Tls::Explicit, 2121, "example.com", "/"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.id(), "example.com/");
        assert_eq!(u.display(), "ftps://example.com/");
        assert_eq!(ftp("ftp://h").path, "/");
        assert_eq!(ftp("ftp://h/a/b/").path, "/a/b");
        assert_eq!(ftp("ftp://[::1]:21/x").host, "::1");
        assert!(matches!(Location::parse("http://x/y").unwrap(), Location::Local(_)));
        let Location::Sftp(u) = Location::parse("sftp://joe:p%40w@Example.com:2222/var/www/").unwrap() else {
            panic!("not sftp")
        };
        assert_eq!((u.effective_port(), u.host.as_str(), u.path.as_str()), (2222, "example.com", "/var/www"));
        assert_eq!((u.user.as_deref(), u.password.as_deref()), (Some("joe"), Some("p@w")));
        assert_eq!(
            (u.id(), u.display(), u.redacted()),
            (
                "example.com/var/www".into(),
                "sftp://example.com/var/www".into(),
                "sftp://joe@example.com:2222/var/www".into()
            )
        );
        let Location::Sftp(u) = Location::parse("sftp://h").unwrap() else { panic!("not sftp") };
        assert_eq!((u.effective_port(), u.path.as_str()), (22, "/"));
    }

    #[test]
    fn passwords_never_shown() {
        let u = ftp("ftp://joe:hunter2@h/x");
        assert!(!format!("{u:?} {}", u.redacted()).contains("hunter2"));
        assert!(!redact_raw("ftp://joe:hunter2@h:bad/x").contains("hunter2"));
    }
}
