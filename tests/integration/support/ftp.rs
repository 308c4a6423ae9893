//! FTP targets on the in-process server (libunftp), for tests that need a real FTP server
//! without anything installed.

use std::path::Path;
use std::time::Duration;

use ftpsync::backend::ftp::session::Settings;
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::secret::Secret;
use ftpsync::backend::url::Location;
use ftpsync::server::{ServerConfig, ServerHandle, start};

/// A server publishing `dir` (anonymous), started on an ephemeral port.
pub fn serve(dir: &Path) -> ServerHandle {
    start(ServerConfig::new(dir)).expect("start the in-process FTP server")
}

/// Connection settings for an anonymous login.
pub fn settings(server: &ServerHandle) -> Settings {
    settings_at(&server.url(None), Duration::from_secs(20))
}

/// Connection settings for an anonymous login to any `ftp://` URL, with a network timeout.
pub fn settings_at(location: &str, timeout: Duration) -> Settings {
    let url = match Location::parse(location).unwrap() {
        Location::Ftp(u) => u,
        other => panic!("not an FTP URL: {other:?}"),
    };
    Settings { url, user: "anonymous".into(), password: Secret::new("anonymous@"), trust: None, active: false, timeout }
}

/// A connected FTP target.
pub fn target(server: &ServerHandle) -> FtpTarget {
    FtpTarget::open(settings(server), Options { retries: 3, create_root: false })
        .expect("connect to the in-process FTP server")
}
