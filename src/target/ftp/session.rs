//! One FTP control connection: connect, TLS, login, features, and errors sorted into those
//! worth a retry and those that are final.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Mode, RustlsConnector, RustlsFtpStream, Status, TlsConnector};

use super::encoding::WireNames;
use super::tls::Trust;
use crate::credentials::Secret;
use crate::target::Transient;
use crate::target::url::{FtpUrl, Tls};

/// Everything needed to open a connection (shared by all connections of a target).
#[derive(Clone)]
pub struct Settings {
    pub url: FtpUrl,
    /// User name and password to log in with (`anonymous` when none).
    pub user: String,
    pub password: Secret,
    /// Trusted roots for FTPS (`None` for plain FTP).
    pub trust: Option<Trust>,
    pub active: bool,
    pub timeout: Duration,
}

/// What the server supports, from `FEAT` (and probing).
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub mlsd: bool,
    pub mlst: bool,
    pub mfmt: bool,
    pub mdtm: bool,
    pub size: bool,
    pub utf8: bool,
}

/// An open, logged-in connection.
pub struct Session {
    pub ftp: RustlsFtpStream,
    pub features: Features,
    pub names: WireNames,
}

/// The text of a server reply.
pub fn reply_text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim().replace(['\r', '\n'], " ")
}

/// The reply code of an error, if the server answered.
pub fn reply_code(e: &FtpError) -> Option<u32> {
    match e {
        FtpError::UnexpectedResponse(r) => {
            let code = r.status.code();
            if code != 0 {
                return Some(code);
            }
            // Codes suppaftp does not know (522, ...) are still at the start of the body.
            reply_text(&r.body).get(..3).and_then(|c| c.parse().ok())
        }
        _ => None,
    }
}

/// Turns a client error into an error that says what happened, marked [`Transient`] when
/// trying again may help (connection lost, timeout, server busy).
pub fn explain(e: FtpError, doing: &str) -> anyhow::Error {
    let transient = match &e {
        FtpError::ConnectionError(_) | FtpError::BadResponse => true,
        FtpError::UnexpectedResponse(_) => matches!(reply_code(&e), Some(421 | 425 | 426 | 450 | 451)),
        _ => false,
    };
    let text = match &e {
        FtpError::UnexpectedResponse(r) => format!("{doing}: the server answered {}", reply_text(&r.body)),
        // A socket timeout reads "Resource temporarily unavailable (os error 11)" on Linux.
        FtpError::ConnectionError(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            format!("{doing}: timed out waiting for the server")
        }
        other => format!("{doing}: {other}"),
    };
    if transient { anyhow::Error::new(Transient(text)) } else { anyhow!(text) }
}

fn resolve(url: &FtpUrl) -> Result<SocketAddr> {
    (url.host.as_str(), url.effective_port())
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", url.host))?
        .next()
        .ok_or_else(|| anyhow!("{} has no address", url.host))
}

fn set_timeouts(stream: &TcpStream, timeout: Duration) -> std::io::Result<()> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)
}

/// A TLS connector that gives the socket its timeouts before the handshake.
/// `connect_secure_implicit` connects and greets (handshake included) before the caller can
/// set them, so a server that accepts and stays silent would otherwise block forever.
#[derive(Debug)]
struct Bounded {
    inner: RustlsConnector,
    timeout: Duration,
}

impl TlsConnector for Bounded {
    type Stream = <RustlsConnector as TlsConnector>::Stream;

    fn connect(&self, domain: &str, stream: TcpStream) -> suppaftp::FtpResult<Self::Stream> {
        set_timeouts(&stream, self.timeout).map_err(FtpError::ConnectionError)?;
        self.inner.connect(domain, stream)
    }
}

impl Session {
    /// Connects, secures and logs in. A wrong password is an error that is not transient.
    pub fn open(s: &Settings) -> Result<Session> {
        let addr = resolve(&s.url)?;
        let shown = s.url.display();
        let tls = match (&s.trust, s.url.tls) {
            (Some(trust), Tls::Explicit | Tls::Implicit) => Some(RustlsConnector::from(trust.client_config()?)),
            _ => None,
        };
        let mut ftp = if s.url.tls == Tls::Implicit {
            let tls = tls.ok_or_else(|| anyhow!("implicit TLS needs a TLS configuration"))?;
            let tls = Bounded { inner: tls, timeout: s.timeout };
            RustlsFtpStream::connect_secure_implicit(addr, tls, &s.url.host).map_err(|e| explain(e, &format!("cannot connect to {shown}")))?
        } else {
            let tcp = TcpStream::connect_timeout(&addr, s.timeout)
                .map_err(|e| Transient(format!("cannot connect to {shown} ({addr}): {e}")))?;
            set_timeouts(&tcp, s.timeout).context("cannot configure the connection")?;
            let ftp = RustlsFtpStream::connect_with_stream(tcp).map_err(|e| explain(e, &format!("{shown} did not greet")))?;
            match tls {
                Some(tls) => ftp.into_secure(tls, &s.url.host).map_err(|e| explain(e, &format!("TLS with {shown} failed")))?,
                None => ftp,
            }
        };
        set_timeouts(&ftp.get_ref(), s.timeout).context("cannot configure the connection")?;
        let names = WireNames::default();
        ftp.set_encoding(names.clone());
        ftp.set_passive_nat_workaround(true);
        let timeout = s.timeout;
        ftp = ftp.passive_stream_builder(move |addr| {
            let stream = TcpStream::connect_timeout(&addr, timeout).map_err(FtpError::ConnectionError)?;
            set_timeouts(&stream, timeout).map_err(FtpError::ConnectionError)?;
            Ok(stream)
        });
        if s.active {
            ftp = ftp.active_mode(s.timeout);
        }
        ftp.login(s.user.as_str(), s.password.expose()).map_err(|e| match reply_code(&e) {
            Some(530) => anyhow!("login as {:?} to {shown} failed: wrong user name or password", s.user),
            _ => explain(e, &format!("login to {shown} failed")),
        })?;
        ftp.transfer_type(FileType::Binary).map_err(|e| explain(e, "cannot switch to binary mode"))?;
        let features = Self::features(&mut ftp);
        if features.utf8 {
            // Servers announcing UTF8 mostly use it already; asking is harmless.
            let _ = ftp.custom_command("OPTS UTF8 ON", &[Status::CommandOk, Status::RequestedFileActionOk]);
        }
        if !s.active {
            ftp.set_mode(Mode::ExtendedPassive);
        }
        Ok(Session { ftp, features, names })
    }

    fn features(ftp: &mut RustlsFtpStream) -> Features {
        let Ok(feat) = ftp.feat() else { return Features::default() };
        let has = |name: &str| feat.keys().any(|k| k.eq_ignore_ascii_case(name));
        Features {
            // MLST announced means MLSD is there too (RFC 3659), and pyftpdlib announces only MLST.
            mlsd: has("MLST") || has("MLSD"),
            mlst: has("MLST"),
            mfmt: has("MFMT"),
            mdtm: has("MDTM"),
            size: has("SIZE"),
            utf8: has("UTF8"),
        }
    }

    /// Sends a command and returns the reply text, accepting the given codes.
    pub fn command(&mut self, cmd: &str, ok: &[Status], doing: &str) -> Result<String> {
        self.ftp.custom_command(cmd, ok).map(|r| reply_text(&r.body)).map_err(|e| explain(e, doing))
    }

    /// True when the connection still answers.
    pub fn alive(&mut self) -> bool {
        self.ftp.noop().is_ok()
    }

    /// Logs out politely (errors do not matter any more).
    pub fn quit(mut self) {
        let _ = self.ftp.quit();
    }
}

/// Keeps a shared reference-counted settings handle cheap to clone for extra connections.
pub type SharedSettings = Arc<Settings>;
