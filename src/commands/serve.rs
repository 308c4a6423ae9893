//! `ftpsync serve DIR`: serve a folder over FTP/FTPS with the built-in server until Ctrl-C,
//! for trying ftpsync out or syncing between machines without installing an FTP server.

use std::net::SocketAddr;

use anyhow::{Context, Result};

use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::server::{self, ServerConfig};
use crate::settings::{Global, ServeSettings};

pub fn run(s: &ServeSettings, global: &Global) -> Result<Exit> {
    let printer = Printer::new(global.verbosity, false);
    let root = match s.dir.canonicalize() {
        Ok(root) if root.is_dir() => root,
        _ => {
            let what = if s.dir.exists() { "is not a folder" } else { "does not exist" };
            return Err(ExitError::usage(format!(
                "{} {what}; give the folder to serve (create it first if needed)",
                s.dir.display()
            ))
            .into());
        }
    };
    for (flag, file) in [("--tls-cert", &s.tls_cert), ("--tls-key", &s.tls_key)] {
        if let Some(file) = file
            && let Err(e) = std::fs::metadata(file)
        {
            return Err(ExitError::usage(format!("{flag} {}: {e}; give a readable PEM file", file.display())).into());
        }
    }
    let config = ServerConfig {
        root: root.clone(),
        bind: SocketAddr::new(s.bind, s.port),
        login: s.user.clone().zip(s.password.clone()),
        tls: s.tls_cert.clone().zip(s.tls_key.clone()),
        passive_ports: s.passive_ports.clone(),
    };
    let server = server::start(config).map_err(|e| explain_start_error(e, s))?;

    let user = s.user.as_deref().unwrap_or("anonymous");
    let url = server.url(s.user.as_deref());
    printer.out(1, &format!("Serving {} at {url} (user {user}); press Ctrl-C to stop.", root.display()));
    if !s.bind.to_canonical().is_loopback() {
        match (&s.user, &s.tls_cert) {
            (None, _) => printer.warn(
                "anyone who can reach this address may log in anonymously and change the folder; add --user/--password",
            ),
            (Some(_), None) => printer.warn("the password travels unencrypted; add --tls-cert/--tls-key for FTPS"),
            _ => {}
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(tokio::signal::ctrl_c()).context("cannot wait for Ctrl-C")?;
    server.shutdown();
    printer.note(3, "Stopped.");
    Ok(Exit::Success)
}

/// A busy port is the usual reason; say what to do about it.
fn explain_start_error(err: anyhow::Error, s: &ServeSettings) -> anyhow::Error {
    let busy = err
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse));
    if busy {
        let hint = format!("port {} on {} is in use; choose another with --port (0 picks a free one)", s.port, s.bind);
        return ExitError { exit: Exit::Error, message: hint }.into();
    }
    err
}
