//! The RFC 959 Data Port (`PORT`) command
//
// The argument is a HOST-PORT specification for the data port
// to be used in data connection.  There are defaults for both
// the user and server data ports, and under normal
// circumstances this command and its reply are not needed.  If
// this command is used, the argument is the concatenation of a
// 32-bit internet host address and a 16-bit TCP port address.
// This address information is broken into 8-bit fields and the
// value of each field is transmitted as a decimal number (in
// character string representation).  The fields are separated
// by commas.  A port command would be:
//
// PORT h1,h2,h3,h4,p1,p2
//
// where h1 is the high order 8 bits of the internet host
// address.
//
// [ftpsync patch] Also the RFC 2428 Extended Port (`EPRT |af|addr|port|`) command, and both are
// confined to loopback-safe behaviour: the server connects only back to the IP address of the
// control connection's peer, to a port >= 1024 (no FTP bounce attack, RFC 2577), within
// ACTIVE_CONNECT_TIMEOUT. See vendor/libunftp/PATCHED.md.

use crate::{
    auth::UserDetail,
    server::{
        ControlChanMsg,
        chancomms::DataChanCmd,
        controlchan::{
            Reply, ReplyCode,
            error::ControlChanError,
            handler::{CommandContext, CommandHandler},
        },
        datachan,
        session::SharedSession,
    },
    storage::{Metadata, StorageBackend},
};
use async_trait::async_trait;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{Receiver, Sender, channel};

/// [ftpsync patch] How long the server tries to connect to the client's data port.
const ACTIVE_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// [ftpsync patch] Which command gave the address, and so how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// RFC 959 `PORT h1,h2,h3,h4,p1,p2`
    Port,
    /// RFC 2428 `EPRT |af|address|port|`
    Eprt,
}

#[derive(Debug)]
pub struct Port {
    addr: String,
    syntax: Syntax,
}

impl Port {
    pub fn new(addr: String) -> Self {
        Port { addr, syntax: Syntax::Port }
    }

    /// [ftpsync patch] The `EPRT` command.
    pub fn extended(addr: String) -> Self {
        Port { addr, syntax: Syntax::Eprt }
    }

    // modifies the session by adding channels that are used to communicate with the data connection
    // processing loop.
    #[tracing_attributes::instrument]
    async fn setup_inter_loop_comms<S, U>(&self, session: SharedSession<S, U>, control_loop_tx: Sender<ControlChanMsg>)
    where
        U: UserDetail + 'static,
        S: StorageBackend<U> + 'static,
        S::Metadata: Metadata,
    {
        let (cmd_tx, cmd_rx): (Sender<DataChanCmd>, Receiver<DataChanCmd>) = channel(1);
        let (data_abort_tx, data_abort_rx): (Sender<()>, Receiver<()>) = channel(1);

        let mut session = session.lock().await;
        session.data_cmd_tx = Some(cmd_tx);
        session.data_cmd_rx = Some(cmd_rx);
        session.data_abort_tx = Some(data_abort_tx);
        session.data_abort_rx = Some(data_abort_rx);
        session.control_msg_tx = Some(control_loop_tx);
    }
}

/// `PORT h1,h2,h3,h4,p1,p2`: an IPv4 address and port.
fn parse_port(arg: &str) -> Option<SocketAddr> {
    let fields: Vec<u8> = arg.trim().split(',').map(|x| x.trim().parse::<u8>()).collect::<Result<_, _>>().ok()?;
    let [h1, h2, h3, h4, p1, p2] = fields.as_slice() else { return None };
    let port = (u16::from(*p1) << 8) | u16::from(*p2);
    Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(*h1, *h2, *h3, *h4), port)))
}

/// `EPRT <d><af><d><address><d><port><d>` (RFC 2428): `af` 1 is IPv4, 2 is IPv6; the delimiter
/// `d` is any printable ASCII character but a digit, usually `|`.
fn parse_eprt(arg: &str) -> Result<SocketAddr, Reply> {
    let syntax = || Reply::new(ReplyCode::ParameterSyntaxError, "Invalid EPRT argument, expected |af|address|port|");
    let arg = arg.trim();
    let delimiter = arg.chars().next().filter(|c| c.is_ascii_graphic() && !c.is_ascii_digit()).ok_or_else(syntax)?;
    let fields: Vec<&str> = arg.split(delimiter).collect();
    let ["", af, address, port, ""] = fields.as_slice() else { return Err(syntax()) };
    let port: u16 = port.parse().map_err(|_| syntax())?;
    let ip: IpAddr = match *af {
        "1" => IpAddr::V4(address.parse().map_err(|_| syntax())?),
        "2" => IpAddr::V6(address.parse().map_err(|_| syntax())?),
        _ => return Err(Reply::new(ReplyCode::NetworkProtocolNotSupported, "Network protocol not supported, use (1,2)")),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Refuses a data address that is not the control connection's peer, or a privileged port: a
/// server that connects wherever it is told can be used to reach third hosts (RFC 2577).
fn check_target(target: SocketAddr, peer: IpAddr) -> Result<(), Reply> {
    if target.ip().to_canonical() != peer.to_canonical() {
        return Err(Reply::new_with_string(
            ReplyCode::ParameterSyntaxError,
            format!("Refusing a data connection to {}: only to the client's own address {}", target.ip(), peer.to_canonical()),
        ));
    }
    if target.port() < 1024 {
        return Err(Reply::new_with_string(
            ReplyCode::ParameterSyntaxError,
            format!("Refusing a data connection to privileged port {}", target.port()),
        ));
    }
    Ok(())
}

#[async_trait]
impl<Storage, User> CommandHandler<Storage, User> for Port
where
    User: UserDetail + 'static,
    Storage: StorageBackend<User> + 'static,
    Storage::Metadata: Metadata,
{
    #[tracing_attributes::instrument]
    async fn handle(&self, args: CommandContext<Storage, User>) -> Result<Reply, ControlChanError> {
        let CommandContext {
            logger,
            tx_control_chan: tx,
            session,
            ..
        } = args;

        let target = match self.syntax {
            Syntax::Port => match parse_port(&self.addr) {
                Some(target) => target,
                None => return Ok(Reply::new(ReplyCode::ParameterSyntaxError, "Invalid address format")),
            },
            Syntax::Eprt => match parse_eprt(&self.addr) {
                Ok(target) => target,
                Err(reply) => return Ok(reply),
            },
        };
        let peer = session.lock().await.source.ip();
        if let Err(reply) = check_target(target, peer) {
            slog::warn!(logger, "Refused active mode data connection to {} (client {})", target, peer);
            return Ok(reply);
        }

        let stream = match tokio::time::timeout(ACTIVE_CONNECT_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                slog::error!(logger, "Could not connect to client for active mode: {}", e);
                return Ok(Reply::new(ReplyCode::CantOpenDataConnection, "Could not establish data connection"));
            }
            Err(_) => {
                slog::error!(logger, "Timed out connecting to client {} for active mode", target);
                return Ok(Reply::new(ReplyCode::CantOpenDataConnection, "Could not establish data connection (timed out)"));
            }
        };
        // Same as the passive side: no Nagle delay on small transfers.
        let _ = stream.set_nodelay(true);

        self.setup_inter_loop_comms(session.clone(), tx).await;
        datachan::spawn_processing(logger, session, stream).await;

        let reply = match self.syntax {
            Syntax::Port => "PORT command successful",
            Syntax::Eprt => "EPRT command successful",
        };
        Ok(Reply::new(ReplyCode::CommandOkay, reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_eprt_arguments() {
        let v4: SocketAddr = "127.0.0.1:30000".parse().unwrap();
        assert_eq!(parse_port("127,0,0,1,117,48"), Some(v4));
        assert_eq!(parse_port("127,0,0,1,117"), None);
        assert_eq!(parse_port("127,0,0,1,117,48,1"), None);
        assert_eq!(parse_port("127,0,0,256,117,48"), None);
        assert_eq!(parse_eprt("|1|127.0.0.1|30000|").unwrap(), v4);
        assert_eq!(parse_eprt("!1!127.0.0.1!30000!").unwrap(), v4);
        assert_eq!(parse_eprt("|2|::1|30000|").unwrap(), "[::1]:30000".parse::<SocketAddr>().unwrap());
        assert!(parse_eprt("|1|::1|30000|").is_err());
        assert!(parse_eprt("|1|127.0.0.1|70000|").is_err());
        assert!(parse_eprt("|1|127.0.0.1|30000").is_err());
        assert!(matches!(parse_eprt("|3|x|1|"), Err(Reply::CodeAndMsg { code: ReplyCode::NetworkProtocolNotSupported, .. })));
    }

    #[test]
    fn only_the_clients_own_address_and_unprivileged_ports() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(check_target("127.0.0.1:30000".parse().unwrap(), peer).is_ok());
        assert!(check_target("[::ffff:127.0.0.1]:30000".parse().unwrap(), peer).is_ok());
        assert!(check_target("127.0.0.2:30000".parse().unwrap(), peer).is_err());
        assert!(check_target("10.1.2.3:30000".parse().unwrap(), peer).is_err());
        assert!(check_target("127.0.0.1:21".parse().unwrap(), peer).is_err());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(check_target("127.0.0.1:30000".parse().unwrap(), mapped).is_ok());
    }
}
