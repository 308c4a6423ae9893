//! An embedded FTP/FTPS server (libunftp + unftp-sbe-fs) for `ftpsync serve`, `ftpsync demo`
//! and the tests.
//!
//! [`start`] binds the control port before it returns (callers may connect at once), then
//! serves from a thread of its own running a small tokio runtime, until the [`ServerHandle`]
//! is dropped or [`ServerHandle::shutdown`] is called; both stop the runtime (open sessions are
//! cut) and join the thread. Any number of servers may run in one process.
//!
//! What libunftp does not do by itself, and is added here:
//! - `TCP_NODELAY` on control connections: connections are accepted here and each is handed
//!   to `Server::service`; without it every data transfer stalls ~44 ms (Nagle + delayed ACK).
//!   `service` consumes its `Server`, so one is built per connection (cheap; with TLS the PEM
//!   files are read again each time).
//! - passive ports that do not collide between servers ([`passive`]);
//! - `MFMT` and `SITE UTIME` to set modification times ([`utime`]);
//! - active mode (`PORT`, `EPRT`), which libunftp refuses by default; the vendored copy
//!   connects only back to the control connection's peer (no FTP bounce);
//! - a single user/password, or anonymous only ([`auth`]).
//!
//! Fixed in the vendored libunftp (`vendor/libunftp/PATCHED.md`): a command line that does not
//! parse gets its 501 and the session goes on (pyftpsync sends `OPTS UTF-8` after login; the
//! session used to be dropped), and an upload over TLS ends with the server's `close_notify`
//! (Python's ftplib waits for it).
//!
//! libunftp serves MLSD/MLST (facts type, size, modify), SIZE, MDTM, RNFR/RNTO, DELE, RMD,
//! MKD, REST, binary and ASCII transfers, `OPTS UTF8 ON`, and explicit FTPS (`AUTH TLS`,
//! optional). Over IPv6 only EPSV works (PASV gets 502; IPv4 clients of a `::` listener can use
//! either). Paths are confined to the root by the storage back-end (cap-std: `..`, absolute
//! symlinks and symlinks leading out are refused with 550) and by [`utime::resolve`]; MLSD
//! still lists symlinks, as `type=file` with the size of the link itself.

mod auth;
mod passive;
pub mod utime;

use std::net::{SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use libunftp::options::ActivePassiveMode;
use libunftp::{Server, ServerBuilder};
use tokio::sync::oneshot;
use unftp_core::auth::DefaultUser;
use unftp_sbe_fs::Filesystem;

/// What to serve and how.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The folder clients see as `/`.
    pub root: PathBuf,
    /// Control address; port 0 picks a free port (see [`ServerHandle::addr`]).
    pub bind: SocketAddr,
    /// The one user allowed in; `None`: anonymous users only (`anonymous`/`ftp`, any password).
    pub login: Option<(String, String)>,
    /// Certificate chain and private key (PEM files) to offer explicit FTPS (`AUTH TLS`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Passive data ports; `0..=0`: any free port (kernel-chosen).
    pub passive_ports: RangeInclusive<u16>,
}

impl ServerConfig {
    /// Anonymous plain FTP on a free loopback port, passive ports chosen by the kernel.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ServerConfig {
            root: root.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            login: None,
            tls: None,
            passive_ports: 0..=0,
        }
    }
}

/// A running server; stops it when dropped.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound control address (with the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ftp://[user@]host:port/` (`ftps://` when TLS is offered); an unspecified bind address
    /// (`0.0.0.0`, `::`) is shown as loopback.
    pub fn url(&self, user: Option<&str>) -> String {
        let scheme = if self.tls { "ftps" } else { "ftp" };
        let ip = match self.addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        let user = user.map(|u| format!("{u}@")).unwrap_or_default();
        format!("{scheme}://{user}{}/", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops the server and waits for its thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Everything needed to build the per-connection `Server`.
struct Shared {
    root: PathBuf,
    login: Arc<auth::Login>,
    tls: Option<(PathBuf, PathBuf)>,
    ports: Arc<passive::Ports>,
}

impl Shared {
    fn server(&self) -> Result<Server<Filesystem, DefaultUser>, libunftp::ServerError> {
        let root = self.root.clone();
        let storage = move || Filesystem::new(root.clone()).expect("the server root folder is not accessible");
        let mut builder = ServerBuilder::with_authenticator(Box::new(storage), self.login.clone())
            .greeting("ftpsync server (libunftp) ready")
            .passive_ports(self.ports.range())
            .binder(passive::Binder(self.ports.clone()))
            // PORT/EPRT, confined to the control connection's peer (vendor/libunftp/PATCHED.md).
            .active_passive_mode(ActivePassiveMode::ActiveAndPassive)
            .site_command("UTIME", utime::Utime::new(self.root.clone(), utime::Form::SiteUtime))
            // libunftp does not know MFMT; `command` (a vendored addition) adds it and lists it in FEAT.
            .command("MFMT", utime::Utime::new(self.root.clone(), utime::Form::Mfmt));
        if let Some((cert, key)) = &self.tls {
            builder = builder.ftps(cert.clone(), key.clone());
        }
        builder.build()
    }
}

/// Starts a server; returns once the control port is bound.
pub fn start(config: ServerConfig) -> Result<ServerHandle> {
    let root = config.root.canonicalize().with_context(|| format!("cannot serve {}", config.root.display()))?;
    if !root.is_dir() {
        bail!("cannot serve {}: not a folder", config.root.display());
    }
    let ports = passive::Ports::new(config.passive_ports.clone())?;
    let shared = Shared {
        root,
        login: Arc::new(auth::Login::new(config.login)),
        tls: config.tls.clone(),
        ports: Arc::new(ports),
    };
    // Surface configuration errors (unreadable certificate or key) now, not per connection.
    if let Err(e) = shared.server() {
        match &config.tls {
            Some((cert, key)) => bail!("cannot use TLS certificate {} with key {}: {e}", cert.display(), key.display()),
            None => bail!("cannot configure the FTP server: {e}"),
        }
    }

    let listener = TcpListener::bind(config.bind).with_context(|| format!("cannot listen on {}", config.bind))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ftpsync-server")
        .enable_all()
        .build()
        .context("cannot start the server runtime")?;
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(format!("ftpsync-server-{}", addr.port()))
        .spawn(move || {
            runtime.block_on(accept_loop(listener, Arc::new(shared), stopped));
            // Cuts open sessions; blocking file operations get a moment to finish.
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .context("cannot start the server thread")?;
    Ok(ServerHandle { addr, tls: config.tls.is_some(), stop: Some(stop), thread: Some(thread) })
}

/// Accepts control connections until `stopped` fires (or its sender is dropped).
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => {
                    let _ = socket.set_nodelay(true);
                    // Only fails if the PEM files went away since `start`; the client sees a closed connection.
                    if let Ok(server) = shared.server() {
                        tokio::spawn(server.service(socket));
                    }
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}
