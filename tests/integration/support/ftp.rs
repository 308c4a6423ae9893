//! FTP targets on the in-process server (libunftp), for tests that need a real FTP server
//! without anything installed.

use std::path::Path;
use std::time::Duration;

use ftpsync::credentials::Secret;
use ftpsync::server::{ServerConfig, ServerHandle, start};
use ftpsync::target::ftp::session::Settings;
use ftpsync::target::ftp::{FtpTarget, Options};
use ftpsync::target::url::{FtpUrl, Location};

/// A server publishing `dir` (anonymous), started on an ephemeral port.
pub fn serve(dir: &Path) -> ServerHandle {
    start(ServerConfig::new(dir)).expect("start the in-process FTP server")
}

/// The parsed URL of a server's root.
pub fn url(server: &ServerHandle) -> FtpUrl {
    match Location::parse(&server.url(None)).unwrap() {
        Location::Ftp(u) => u,
        other => panic!("not an FTP URL: {other:?}"),
    }
}

/// Connection settings for an anonymous login.
pub fn settings(server: &ServerHandle) -> Settings {
    Settings {
        url: url(server),
        user: "anonymous".into(),
        password: Secret::new("anonymous@"),
        trust: None,
        active: false,
        timeout: Duration::from_secs(20),
    }
}

/// A connected FTP target.
pub fn target(server: &ServerHandle) -> FtpTarget {
    FtpTarget::open(settings(server), Options { retries: 3, create_root: false }).expect("connect to the in-process FTP server")
}
