//! One FTP control connection: connect, TLS, login and features (its errors are sorted into
//! those worth a retry and those that are final by [`errors`]).
//!
//! Login is one pipelined batch (`USER`, `PASS`, `TYPE I`, `OPTS UTF8 ON`, `FEAT`), after
//! `AUTH TLS` and with `PBSZ`/`PROT P` for FTPS: a connection is ready two or three round trips
//! after the TCP handshake (four more for TLS). Nothing optional is assumed ([`learned`]):
//! replies out of order turn pipelining off, a refused `TYPE I` falls back to `TYPE L 8`, a
//! server that hangs up after `OPTS UTF8 ON` is logged in again without it, and without `FEAT`
//! the features are probed. A server that reads a TLS handshake sent right after its `234`
//! as a command gets a new connection with a pause there (and so do its later connections).
//! Round trips are saved where the server allows: a transfer's data connection is announced
//! behind the commands before it, and a small download can ride behind a batch of other
//! commands, in the same write ([`Session::read_behind`]).
//!
//! [`learned`]: super::learned
//! [`errors`]: super::errors

use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use super::encoding::WireNames;
use super::errors::{broken, failed, refused};
use super::features::Features;
use super::learned::{Capability, Learned, unsupported};
use super::setup::{self, DroppedAfterOpts};
use super::spare::{First, Spare};
use super::tls::Trust;
use super::wire::data::{Early, passive_addr};
use super::wire::{Control, DataSettings, Direction, Failure, Mode, Reply, Transfer, stream};
use crate::backend::secret::Secret;
use crate::backend::url::{FtpUrl, Tls};
use crate::backend::{LoginRefused, Transient};

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

/// An open, logged-in connection.
pub struct Session {
    pub ctl: Control,
    pub features: Features,
    data: DataSettings,
    mode: Mode,
    /// A passive data connection announced ahead (`EPSV` sent behind the previous commands),
    /// for the next transfer, and its connection being opened meanwhile (servers take it
    /// into their backlog until the transfer command comes).
    announced: Option<Announced>,
    /// What the target's connections learnt about the server's optional commands.
    learned: Arc<Learned>,
    /// The last transfer's command went out in the same write as its announcement
    /// ([`Session::aborted_ahead`]).
    sent_ahead: bool,
    /// The reply to the `CWD` into the target's folder sent at login, until asked for
    /// ([`Session::take_entered`]).
    entered: Option<Reply>,
    /// The next batch announces the data connection of a transfer that follows it
    /// ([`Session::expect_transfer`]).
    announce_in_batch: bool,
    /// A transfer follows the next download: its data connection is announced as soon as the
    /// download's data has ended ([`Session::after_download`]).
    transfer_follows: bool,
    /// A download to send behind the next batch, in the same write ([`Session::read_behind`]).
    behind: Option<String>,
    /// The command of such a download, sent; its data connection is opened next.
    sent_behind: Option<String>,
    /// What the last download sent behind a batch gave ([`Session::take_read`]).
    read: Option<(String, Downloaded)>,
}

/// A download read into memory: its data, or the final reply that refused it.
pub type Downloaded = std::result::Result<Vec<u8>, Reply>;

/// The most a download read into memory may hold (a hostile server could send forever).
const MAX_IN_MEMORY: u64 = 512 * 1024 * 1024;

/// How long a data connection announced ahead stays worth using. It saves a round trip when
/// transfers follow each other; one left waiting longer (its worker waited for another, its
/// session sat in the pool) may have been given up by the server (pyftpdlib drops a passive
/// port after 30 s and says so in an unsolicited `421`), or silently by a proxy or NAT
/// between us, and would cost a whole timeout. It is dropped, and the transfer announces its
/// own connection.
const ANNOUNCED_FRESH: Duration = Duration::from_secs(1);

/// The reply to an `EPSV` sent ahead, and its connection being opened meanwhile.
struct Announced {
    reply: Reply,
    at: std::time::Instant,
    opening: Option<JoinHandle<std::io::Result<std::net::TcpStream>>>,
}

impl Announced {
    /// Young enough to be used ([`ANNOUNCED_FRESH`]).
    fn fresh(&self) -> bool {
        self.at.elapsed() < ANNOUNCED_FRESH
    }

    /// The announcement and its connection, while fresh and open; `None` when it is stale
    /// or the other end closed the connection already. A connection still being opened is
    /// handed over as it is (when `before_open`: the transfer's command may reach the server
    /// before its data connection does), so that the command need not wait for the
    /// connection's handshake; it cannot have been closed by the other end yet.
    fn usable(self, before_open: bool) -> Option<(Reply, Option<Early>)> {
        let fresh = self.fresh();
        let early = match self.opening {
            Some(h) if before_open && !h.is_finished() => Some(Early::Opening(h)),
            Some(h) => h.join().ok().map(Early::Open),
            None => None,
        };
        let open = match &early {
            Some(Early::Open(Ok(tcp))) => still_open(tcp),
            _ => true,
        };
        (fresh && open).then_some((self.reply, early))
    }

    /// The announcement and its connection for a command sent already behind a batch
    /// ([`Session::read_behind`]): the server may have sent data on it already, so it is not
    /// looked at.
    fn taken(self) -> (Reply, Option<Early>) {
        let early = match self.opening {
            Some(h) if h.is_finished() => h.join().ok().map(Early::Open),
            Some(h) => Some(Early::Opening(h)),
            None => None,
        };
        (self.reply, early)
    }
}

/// Whether the other end of an idle connection has not closed or reset it (a look without
/// waiting at what it sent).
fn still_open(tcp: &std::net::TcpStream) -> bool {
    if tcp.set_nonblocking(true).is_err() {
        return false;
    }
    let open = match tcp.peek(&mut [0u8; 1]) {
        Err(e) => e.kind() == ErrorKind::WouldBlock,
        // A server says nothing on a data connection before the transfer command.
        Ok(_) => false,
    };
    tcp.set_nonblocking(false).is_ok() && open
}

fn resolve(url: &FtpUrl) -> Result<SocketAddr> {
    (url.host.as_str(), url.effective_port())
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", url.host))?
        .next()
        .ok_or_else(|| anyhow!("{} has no address", url.host))
}

/// Servers (by address) that read a TLS handshake sent right after their `234` as a command:
/// npm's ftp-srv switches to TLS only once its reply is written, and answers a quick client's
/// handshake in plain text. Their connections leave them [`AUTH_SETTLE`] first.
static SLOW_AUTH: std::sync::Mutex<Vec<SocketAddr>> = std::sync::Mutex::new(Vec::new());
const AUTH_SETTLE: Duration = Duration::from_millis(50);

/// The server answered our TLS handshake in plain text right after `AUTH TLS`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PlainAfterAuth(String);

fn slow_auth(addr: SocketAddr) -> bool {
    SLOW_AUTH.lock().unwrap_or_else(|e| e.into_inner()).contains(&addr)
}

/// Where a login stands among a target's logins ([`super::spare`]).
#[derive(Clone, Copy)]
pub enum Turn<'a> {
    /// On its own.
    Alone,
    /// The first of a target with logins ahead: it tells them whether its password was
    /// accepted.
    First(&'a Spare<Session>),
    /// A login ahead: it connects once the first one was greeted, and sends the password
    /// only once the first one's was accepted.
    Ahead(&'a Spare<Session>),
}

impl Session {
    /// Connects, secures and logs in, learning nothing beyond this connection.
    pub fn open(s: &Settings) -> Result<Session> {
        Session::open_learning(s, &Arc::new(Learned::default()))
    }

    /// Connects, secures and logs in, with what `learned` knows of the server (and teaching
    /// it). A wrong password is an error that is not transient.
    pub fn open_learning(s: &Settings, learned: &Arc<Learned>) -> Result<Session> {
        Session::open_in_turn(s, learned, Turn::Alone)
    }

    /// [`Session::open_learning`] as the first login of a target with logins ahead, or as one
    /// of those ([`Turn`]).
    pub fn open_in_turn(s: &Settings, learned: &Arc<Learned>, turn: Turn<'_>) -> Result<Session> {
        match Session::login_settled(s, learned, turn) {
            Err(e) if e.downcast_ref::<DroppedAfterOpts>().is_some() => {
                learned.refuse(Capability::Utf8Opts, &e.to_string());
                Session::login_settled(s, learned, turn)
            }
            other => other,
        }
    }

    /// [`Session::login`], connecting once more with a pause after `AUTH TLS` where the server
    /// answered our TLS handshake in plain text ([`SLOW_AUTH`]).
    fn login_settled(s: &Settings, learned: &Arc<Learned>, turn: Turn<'_>) -> Result<Session> {
        match Session::login(s, learned, turn) {
            Err(e) if e.downcast_ref::<PlainAfterAuth>().is_some() => {
                let addr = resolve(&s.url)?;
                SLOW_AUTH.lock().unwrap_or_else(|e| e.into_inner()).push(addr);
                log::debug!(target: super::wire::control::TRACE_TARGET, "{e}: connecting again, with a pause after AUTH TLS");
                Session::login(s, learned, turn)
            }
            other => other,
        }
    }

    fn login(s: &Settings, learned: &Arc<Learned>, turn: Turn<'_>) -> Result<Session> {
        if let Turn::Ahead(spare) = turn {
            spare.await_first(First::Greeted, s.timeout)?;
        }
        let addr = resolve(&s.url)?;
        let shown = s.url.display();
        let tls = match (&s.trust, s.url.tls) {
            (Some(trust), Tls::Explicit | Tls::Implicit) => Some((trust.client_config()?, s.url.host.clone())),
            _ => None,
        };
        let tcp = stream::connect(addr, s.timeout)
            .map_err(|e| Transient(format!("cannot connect to {shown} ({addr}): {e}")))?;
        let mut plain = stream::Stream::Plain(tcp);
        if s.url.tls == Tls::Implicit {
            let (config, host) = tls.clone().ok_or_else(|| anyhow!("implicit TLS needs a TLS configuration"))?;
            plain = plain.secure(config, &host).map_err(|e| broken(e, &format!("TLS with {shown} failed")))?;
        }
        let mut ctl = Control::new(plain, WireNames::default());
        let greeting = ctl.final_reply().map_err(|e| broken(e, &format!("{shown} did not greet")))?;
        if greeting.code != 220 {
            return Err(refused(&greeting, &format!("{shown} refused the connection")));
        }
        if let Turn::First(spare) = turn {
            spare.greeted();
        }
        // libunftp answers commands out of order (it runs them as concurrent tasks).
        let greeted = greeting.text().to_ascii_lowercase();
        ctl.set_pipelining(
            !(greeted.contains("libunftp") || greeted.contains("unftp") || learned.refused(Capability::Pipelining)),
        );
        if s.url.tls == Tls::Explicit {
            let (config, host) = tls.clone().ok_or_else(|| anyhow!("explicit TLS needs a TLS configuration"))?;
            let auth = ctl.exec("AUTH TLS").map_err(|e| broken(e, &format!("TLS with {shown} failed")))?;
            if auth.code != 234 {
                return Err(refused(&auth, &format!("{shown} does not offer TLS (AUTH TLS)")));
            }
            let slow = slow_auth(addr);
            if slow {
                std::thread::sleep(AUTH_SETTLE);
            }
            ctl = ctl.secure(config, &host).map_err(|e| match e.kind() {
                ErrorKind::InvalidData if !slow => {
                    anyhow::Error::new(PlainAfterAuth(format!("TLS with {shown} failed: {e}")))
                }
                _ => broken(e, &format!("TLS with {shown} failed")),
            })?;
        }
        let mut login = Vec::new();
        if tls.is_some() {
            login.extend(["PBSZ 0".to_string(), "PROT P".to_string()]);
        }
        if let Turn::Ahead(spare) = turn {
            spare.await_first(First::Accepted, s.timeout)?;
        }
        // The password is checked before anything else is sent: some servers (libunftp) check
        // it in the background and refuse what follows until they are done.
        login.extend([format!("USER {}", s.user), format!("PASS {}", s.password.expose())]);
        let replies = ctl.batch(&login).map_err(|e| broken(e, &format!("login to {shown} failed")))?;
        let mut no_password = false;
        for (cmd, reply) in login.iter().zip(&replies) {
            let verb = cmd.split(' ').next().unwrap_or_default();
            match (verb, reply.code) {
                // Logged in without a password: PASS is answered "503 already logged in".
                ("USER", 230) => no_password = true,
                ("PASS", _) if no_password => {}
                ("PBSZ" | "PROT", c) if c >= 400 => {
                    return Err(refused(reply, &format!("{shown} refused to protect the data connections")));
                }
                ("USER" | "PASS", 530) => {
                    if let Turn::First(spare) = turn {
                        spare.verdict(false);
                    }
                    return Err(LoginRefused { user: s.user.clone(), server: shown }.into());
                }
                ("USER" | "PASS", c) if c >= 400 => return Err(refused(reply, &format!("login to {shown} failed"))),
                _ => {}
            }
        }
        if let Turn::First(spare) = turn {
            spare.verdict(true);
        }
        let (features, first, entered) = setup::setup(&mut ctl, &s.url, learned)?;
        let data = DataSettings { tls, timeout: s.timeout };
        let mode = if s.active {
            Mode::Active
        } else if learned.refused(Capability::Epsv) {
            Mode::Passive
        } else {
            Mode::Extended
        };
        if first {
            let shown = match mode {
                Mode::Active => "EPRT/PORT (active)",
                Mode::Passive => "PASV",
                Mode::Extended => "EPSV (PASV where refused)",
            };
            setup::report(&features, &ctl, learned, shown);
        }
        Ok(Session {
            ctl,
            features,
            data,
            mode,
            announced: None,
            learned: learned.clone(),
            sent_ahead: false,
            announce_in_batch: false,
            transfer_follows: false,
            behind: None,
            sent_behind: None,
            read: None,
            entered: Some(entered),
        })
    }

    /// The reply to the `CWD` into the target's folder this connection sent at login, once.
    pub fn take_entered(&mut self) -> Option<Reply> {
        self.entered.take()
    }

    /// Remembers that the server refused `cap` (answering `answer`), on this connection and on
    /// every later one of the target, and switches to the fallback.
    pub fn refuse(&mut self, cap: Capability, answer: &str) {
        match cap {
            Capability::Mlsd => self.features.mlsd = false,
            Capability::Mlst => self.features.mlst = false,
            Capability::Size => self.features.size = false,
            Capability::Mdtm => self.features.mdtm = false,
            Capability::Epsv if self.mode == Mode::Extended => self.mode = Mode::Passive,
            _ => {}
        }
        let verb = format!("{cap:?}").to_ascii_uppercase();
        self.learned.refuse(cap, &format!("the server answered {verb} with {answer}"));
    }

    /// Takes in what the target's other connections learnt since this one logged in (called
    /// before each operation: a refusal costs the target one round trip, not one per
    /// connection).
    pub fn refresh(&mut self) {
        self.features = self.learned.mask(self.features);
        if self.mode == Mode::Extended && self.learned.refused(Capability::Epsv) {
            self.mode = Mode::Passive;
        }
        if self.learned.refused(Capability::Pipelining) {
            self.ctl.set_pipelining(false);
        }
    }

    /// Whether the server refused `cap` on a connection of this target.
    pub fn has_refused(&self, cap: Capability) -> bool {
        self.learned.refused(cap)
    }

    /// What the target's connections learnt (to ask while a transfer holds the session).
    pub fn learned(&self) -> Arc<Learned> {
        self.learned.clone()
    }

    /// The command that ends a batch whose replies must be proven in step, and the reply
    /// code it must get: `NOOP` (200), or `PWD` (257) where `NOOP` is not implemented.
    pub fn fence(&self) -> (&'static str, u16) {
        if self.learned.refused(Capability::Noop) { ("PWD", 257) } else { ("NOOP", 200) }
    }

    /// True when no reply is outstanding: the connection is in step and can be used again.
    pub fn healthy(&self) -> bool {
        self.ctl.in_flight() == 0
    }

    /// Marks the connection as no longer knowing which reply answers what: it is dropped.
    pub fn give_up(&mut self) {
        self.ctl.give_up();
    }

    pub fn names(&self) -> &WireNames {
        self.ctl.names()
    }

    /// Sends a command and returns its final reply, whatever its code.
    pub fn exec(&mut self, cmd: &str, doing: &str) -> Result<Reply> {
        self.ctl.exec(cmd).map_err(|e| broken(e, doing))
    }

    /// Sends a command and fails unless its reply code is 2xx or 3xx.
    pub fn ok(&mut self, cmd: &str, doing: &str) -> Result<Reply> {
        let reply = self.exec(cmd, doing)?;
        if reply.is_ok() { Ok(reply) } else { Err(refused(&reply, doing)) }
    }

    /// Sends several commands in one write; returns their replies in order. After
    /// [`Session::expect_transfer`], the next transfer's data connection is announced behind
    /// them (its reply is kept, not returned).
    pub fn batch(&mut self, cmds: &[String], doing: &str) -> Result<Vec<Reply>> {
        let follows = std::mem::take(&mut self.transfer_follows);
        if let Some(read) = self.behind.take() {
            let follows = std::mem::take(&mut self.announce_in_batch) || follows;
            return self.batch_reading(cmds, read, follows, doing);
        }
        if !std::mem::take(&mut self.announce_in_batch) {
            return self.ctl.batch(cmds).map_err(|e| broken(e, doing));
        }
        let mut cmds = cmds.to_vec();
        let ahead = self.announce_next(&mut cmds);
        let mut replies = self.ctl.batch(&cmds).map_err(|e| broken(e, doing))?;
        if ahead && let Some(epsv) = replies.pop() {
            self.announced(epsv);
        }
        Ok(replies)
    }

    /// Sends `cmds` and then `read` in one write, `read`'s data connection announced before
    /// (or by an `EPSV` in front of them), and reads `read` to its end ([`Session::take_read`]
    /// gives it). `follows`: another transfer follows `read` (see [`Session::after_download`]).
    /// Only an answer that holds is kept: the data, or the file or folder missing; anything
    /// else leaves `read` to be done again the usual way.
    fn batch_reading(&mut self, cmds: &[String], read: String, follows: bool, doing: &str) -> Result<Vec<Reply>> {
        let announced = self.announced.take().filter(Announced::fresh);
        let in_front = announced.is_none();
        if in_front {
            self.ctl.send("EPSV");
        }
        for cmd in cmds.iter().chain(std::iter::once(&read)) {
            self.ctl.send(cmd);
        }
        if in_front {
            let reply = self.ctl.final_reply().map_err(|e| broken(e, doing))?;
            self.announced(reply);
        } else {
            self.announced = announced;
        }
        let replies: Vec<Reply> = cmds
            .iter()
            .map(|_| self.ctl.final_reply())
            .collect::<std::io::Result<_>>()
            .map_err(|e| broken(e, doing))?;
        self.sent_behind = Some(read.clone());
        self.transfer_follows = follows;
        match self.download(&read, doing)? {
            Err(r) if self.aborted_ahead(&r) || r.code != 550 => {}
            got => self.read = Some((read, got)),
        }
        Ok(replies)
    }

    /// Sends `cmd`, a download (`RETR`, `MLSD`), behind the commands of the next batch, in the
    /// same write, and reads it into memory right after their replies: its data comes with
    /// them, where alone it would cost a round trip or two more. For servers that take a
    /// transfer in the same write as its announcement (others: nothing is sent); returns
    /// whether it will be sent. The caller takes the result with [`Session::take_read`] before
    /// the operation ends, or drops it with [`Session::drop_read`]: it is what the server held
    /// at that moment only.
    pub fn read_behind(&mut self, cmd: String) -> bool {
        let takes = self.announces() && self.sends_ahead();
        self.behind = takes.then_some(cmd);
        takes
    }

    /// Whether a download sent behind a batch gave something for `cmd`.
    pub fn has_read(&self, cmd: &str) -> bool {
        self.read.as_ref().is_some_and(|(c, _)| c == cmd)
    }

    /// Whether the next batch readies a transfer's data connection
    /// ([`Session::expect_transfer`]).
    pub fn readies_transfer(&self) -> bool {
        self.announce_in_batch
    }

    /// What the download `cmd`, sent behind a batch, gave; `None` where it was not read so.
    pub fn take_read(&mut self, cmd: &str) -> Option<Downloaded> {
        match self.read.take() {
            Some((c, got)) if c == cmd => Some(got),
            other => {
                self.read = other;
                None
            }
        }
    }

    /// Forgets what a download sent behind a batch gave, and one still to be sent.
    pub fn drop_read(&mut self) {
        self.read = None;
        self.behind = None;
    }

    /// Reads a download into memory: its data, or the final reply refusing it.
    pub fn download(&mut self, cmd: &str, doing: &str) -> Result<Downloaded> {
        use std::io::Read;
        let then = self.after_download();
        let mut t = match self.transfer(cmd, Direction::Download) {
            Ok(t) => t,
            Err(Failure::Refused(r)) => return Ok(Err(r)),
            Err(f) => return Err(failed(f, doing)),
        };
        let mut data = Vec::new();
        if let Err(e) = (&mut t).take(MAX_IN_MEMORY).read_to_end(&mut data) {
            return Err(broken(e, doing));
        }
        if data.len() as u64 >= MAX_IN_MEMORY {
            return Err(anyhow!("{doing}: the server sent more than {MAX_IN_MEMORY} bytes"));
        }
        let (last, replies) = t.finish(&then, true).map_err(|f| failed(f, doing))?;
        self.announced_after_download(&last, replies)?;
        Ok(if last.is_ok() { Ok(data) } else { Err(last) })
    }

    /// Says that a transfer follows the next batch of commands: the batch announces its data
    /// connection (`EPSV` behind the batch's commands, where the server takes commands in a
    /// row), so the transfer needs no round trip of its own for that. The replies the batch
    /// returns are its own commands' only.
    pub fn expect_transfer(&mut self) {
        self.announce_in_batch = self.can_announce();
        self.transfer_follows = self.announces();
    }

    /// The commands a download sends as soon as its data has ended, before its final reply
    /// is read: after [`Session::expect_transfer`] (where no batch came first), the next
    /// transfer's `EPSV`, which then needs no round trip of its own. The server has sent all
    /// of the data by then and is done with the transfer: it reads the command after it (a
    /// download cut short sends nothing, see `Transfer::finish`). The replies go to
    /// [`Session::announced_after_download`].
    pub fn after_download(&mut self) -> Vec<String> {
        if std::mem::take(&mut self.transfer_follows) && self.announces() { vec!["EPSV".into()] } else { Vec::new() }
    }

    /// Takes the replies to [`Session::after_download`]'s commands, `last` being the
    /// download's final reply. A server that answered the `EPSV` in its place (it read
    /// commands while the transfer ran) has left this connection out of step: it is given up,
    /// and the operation is tried again on a new one. An `EPSV` refused here is not learnt
    /// (the transfer's own announcement decides that).
    pub fn announced_after_download(&mut self, last: &Reply, replies: Vec<Reply>) -> Result<()> {
        let Some(reply) = replies.into_iter().next() else { return Ok(()) };
        if last.code == 229 {
            self.ctl.give_up();
            return Err(Transient(
                "the server answered a command sent after a download before the download's own reply".into(),
            )
            .into());
        }
        if reply.code == 229 {
            self.announced(reply);
        }
        Ok(())
    }

    /// Starts a transfer (`RETR`, `STOR`, `APPE`, `MLSD`, `LIST`): announces the data
    /// connection (falling back from `EPSV` to `PASV` for servers without it) and opens it.
    pub fn transfer(&mut self, cmd: &str, dir: Direction) -> Result<Transfer<'_>, Failure> {
        if let Some(sent) = self.sent_behind.take() {
            if sent != cmd {
                self.ctl.give_up();
                return Err(Failure::Io(std::io::Error::other("internal error: a transfer out of turn")));
            }
            return self.transfer_sent(cmd, dir);
        }
        // A stale announcement is replaced by the transfer's own (a new `EPSV` makes the
        // server give the old port up).
        let announced = self.announced.take();
        let had_announced = announced.is_some();
        if let Some((announced, early)) = announced.and_then(|a| a.usable(self.sends_ahead())) {
            // A command sent before its connection is open is judged as one sent with its
            // announcement ([`Session::aborted_ahead`]).
            self.sent_ahead = matches!(early, Some(Early::Opening(_)));
            let opened = Transfer::open_announced(&mut self.ctl, cmd, dir, announced, early, &self.data);
            if !self.port_given_up(&opened) {
                return opened.map(|opened| Transfer::new(&mut self.ctl, opened));
            }
        } else if had_announced && self.ctl.unsolicited() {
            // The server spoke about the stale port on its own (or left): this connection no
            // longer knows which reply answers what.
            self.ctl.give_up();
            return Err(Failure::Io(std::io::Error::new(
                ErrorKind::ConnectionAborted,
                "the server sent a reply nobody asked for",
            )));
        }
        self.transfer_announcing(cmd, dir)
    }

    /// Opens the data connection of `cmd`, sent already behind a batch
    /// ([`Session::read_behind`]); where its announcement is gone (`EPSV` refused) or the
    /// server gave its port up, the command's answer says so, and it is sent again the usual
    /// way.
    fn transfer_sent(&mut self, cmd: &str, dir: Direction) -> Result<Transfer<'_>, Failure> {
        self.sent_ahead = true;
        if let Some((announced, early)) = self.announced.take().map(Announced::taken) {
            let opened = Transfer::open_sent(&mut self.ctl, dir, announced, early, &self.data);
            if !self.port_given_up(&opened) {
                return opened.map(|opened| Transfer::new(&mut self.ctl, opened));
            }
        } else {
            let reply = self.ctl.final_reply()?;
            if reply.is_ok() {
                // Done without a data connection: nothing can tell what it sent.
                self.ctl.give_up();
                return Err(Failure::Refused(reply));
            }
        }
        self.transfer_announcing(cmd, dir)
    }

    /// Whether a data connection announced before could not be opened only because the server
    /// gave its port up after all (`425`, or the connection refused while the control
    /// connection is in step): another is announced then.
    fn port_given_up(&self, opened: &Result<super::wire::data::Opened, Failure>) -> bool {
        match opened {
            Err(Failure::Refused(r)) => r.code == 425,
            Err(Failure::Io(e)) => e.kind() == ErrorKind::ConnectionRefused && self.healthy(),
            _ => false,
        }
    }

    /// Whether a transfer's command may go in the same write as its data connection's
    /// announcement (not where the server failed such a transfer: [`Session::aborted_ahead`]).
    fn sends_ahead(&self) -> bool {
        self.ctl.pipelining() && !self.learned.refused(Capability::TransferAhead)
    }

    /// [`Session::transfer`] with a data connection announced now.
    fn transfer_announcing(&mut self, cmd: &str, dir: Direction) -> Result<Transfer<'_>, Failure> {
        let opened = match self.open_data(cmd, dir) {
            Err(Failure::Announce(r)) if self.mode == Mode::Extended && r.code >= 500 => {
                self.refuse(Capability::Epsv, &r.text());
                self.open_data(cmd, dir)?
            }
            Err(Failure::Refused(r)) if self.aborted_ahead(&r) => self.open_data(cmd, dir)?,
            other => other?,
        };
        Ok(Transfer::new(&mut self.ctl, opened))
    }

    /// Announces a data connection and sends `cmd`: in one write where the server takes
    /// that, else one step at a time ([`Capability::TransferAhead`]).
    fn open_data(&mut self, cmd: &str, dir: Direction) -> Result<super::wire::data::Opened, Failure> {
        self.sent_ahead = self.sends_ahead();
        if self.sent_ahead {
            Transfer::open(&mut self.ctl, cmd, dir, self.mode, &self.data)
        } else {
            Transfer::open_unpipelined(&mut self.ctl, cmd, dir, self.mode, &self.data)
        }
    }

    /// Judges the final reply of the last transfer: a `426` ending one whose command went out
    /// in the same write as its announcement means, on some servers (Twisted), that they
    /// took the command while still setting the data connection up. That is remembered (the
    /// target's transfers go one step at a time from then on) and true returned: the transfer
    /// is worth one more attempt at once. Anything else returns false.
    pub fn aborted_ahead(&mut self, last: &Reply) -> bool {
        if last.code != 426 || !std::mem::take(&mut self.sent_ahead) {
            return false;
        }
        let why = format!(
            "the server answered a transfer sent together with its data connection's announcement with {}",
            last.text()
        );
        self.learned.refuse(Capability::TransferAhead, &why);
        true
    }

    /// Adds `EPSV` behind `cmds` (a batch about to be sent) where the server takes commands in
    /// a row and the next transfer can use it: that transfer then needs no round trip of its
    /// own for it. Returns whether it did; its reply is then passed to [`Session::announced`].
    fn announce_next(&self, cmds: &mut Vec<String>) -> bool {
        let ahead = self.can_announce();
        if ahead {
            cmds.push("EPSV".into());
        }
        ahead
    }

    /// Whether [`Session::announce_next`] would announce (no fresh announcement waits for
    /// the next transfer, and the server takes commands in a row). A stale one is replaced.
    pub fn can_announce(&self) -> bool {
        self.announces() && self.announced.as_ref().is_none_or(|a| !a.fresh())
    }

    /// Announces the next transfer's data connection at once, on its own, where
    /// [`Session::can_announce`]: for a connection with nothing else to do, whose next
    /// transfer may come soon (`Target::ready_transfer`). A connection that fails here is
    /// given up (the next operation connects again).
    pub fn announce_now(&mut self) {
        if !self.can_announce() {
            return;
        }
        match self.ctl.exec("EPSV") {
            Ok(reply) => self.announced(reply),
            Err(_) => self.ctl.give_up(),
        }
    }

    /// Whether several commands may go in one write (not where the server answered them out
    /// of order).
    pub fn pipelines(&self) -> bool {
        self.ctl.pipelining()
    }

    /// Whether data connections may be announced ahead on this session at all.
    pub fn announces(&self) -> bool {
        self.mode == Mode::Extended && self.ctl.pipelining()
    }

    /// Keeps the reply to an `EPSV` sent ahead, when it announced a port.
    pub fn announced(&mut self, reply: Reply) {
        // The transfer that uses it sends its command on its own, once this is answered.
        self.sent_ahead = false;
        if unsupported(reply.code) || reply.code == 501 {
            // No EPSV here: the next transfer announces with PASV, and so do later ones.
            self.refuse(Capability::Epsv, &reply.text());
            return;
        }
        if reply.code != 229 {
            return;
        }
        let peer = self.ctl.stream().tcp().peer_addr().ok().map(|a| a.ip());
        let addr = peer.and_then(|ip| passive_addr(&reply, true, ip));
        let timeout = self.data.timeout;
        let opening =
            addr.and_then(|addr| std::thread::Builder::new().spawn(move || stream::connect(addr, timeout)).ok());
        self.announced = Some(Announced { reply, at: std::time::Instant::now(), opening });
    }

    /// True when a transfer's follow-up commands may be sent before its final reply. Never:
    /// servers read commands while a transfer is in progress (pure-ftpd answers them "500
    /// Unknown command"; pyftpdlib runs an `MFMT` before the file is closed, which then sets
    /// the time again).
    pub fn pipelines_after_transfer(&self) -> bool {
        false
    }

    /// Logs out politely (errors do not matter any more).
    pub fn quit(self) {
        Session::quit_all(vec![self]);
    }

    /// Logs several sessions out at once: every `QUIT` is sent, and no answer is awaited.
    /// Everything before it was confirmed, and a goodbye changes nothing on the server; waiting
    /// for it cost every run one more round trip at its very end.
    pub fn quit_all(mut sessions: Vec<Session>) {
        sessions.retain(Session::healthy);
        for s in &mut sessions {
            s.ctl.send("QUIT");
            let _ = s.ctl.flush();
        }
    }
}
