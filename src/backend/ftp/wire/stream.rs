//! The two kinds of connection FTP runs over: plain TCP, or TLS on top of it. Every socket
//! gets read and write timeouts and `TCP_NODELAY` (commands are small and must not wait for
//! Nagle's algorithm); a TLS handshake as a whole is bounded by the same timeout.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// A connection to the server.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// Gives a socket its timeouts.
pub fn configure(tcp: &TcpStream, timeout: Duration) -> io::Result<()> {
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)
}

/// Connects within `timeout`.
pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let tcp = TcpStream::connect_timeout(&addr, timeout)?;
    configure(&tcp, timeout)?;
    Ok(tcp)
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Runs the TLS handshake over a plain connection. Connections made with the same
    /// `config` share its session cache, so a data connection resumes the session of its
    /// control connection.
    pub fn secure(self, config: Arc<ClientConfig>, host: &str) -> io::Result<Stream> {
        let Stream::Plain(mut tcp) = self else { return Ok(self) };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let mut conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        // The socket's timeout bounds the whole handshake, not each of its reads: a server
        // that dribbles its answer cannot hold the connection longer.
        let (read_limit, write_limit) = (tcp.read_timeout()?, tcp.write_timeout()?);
        let deadline = read_limit.map(|t| Instant::now() + t);
        while conn.is_handshaking() {
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake did not finish in time"));
                }
                tcp.set_read_timeout(Some(left))?;
                tcp.set_write_timeout(Some(left.min(write_limit.unwrap_or(left))))?;
            }
            conn.complete_io(&mut tcp)?;
        }
        tcp.set_read_timeout(read_limit)?;
        tcp.set_write_timeout(write_limit)?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }

    /// Ends the connection cleanly: TLS says goodbye (`close_notify`), then our half of the
    /// TCP connection is closed, which tells the server that an upload is complete.
    pub fn close(&mut self) -> io::Result<()> {
        if let Stream::Tls(s) = self {
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                s.conn.write_tls(&mut s.sock)?;
            }
        }
        self.flush()?;
        match self.tcp().shutdown(Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
            _ => Ok(()),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
