//! `ftpsync serve DIR`: serve a folder over FTP/FTPS with the built-in server until Ctrl-C,
//! for trying ftpsync out or syncing between machines without installing an FTP server.

use std::net::SocketAddr;

use anyhow::{Context, Result};

use crate::cli::ServeArgs;
use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::server::{self, ServerConfig};
use crate::settings::Global;

pub fn run(args: &ServeArgs, global: &Global) -> Result<Exit> {
    let printer = Printer::new(global.verbosity, false);
    let root = match args.dir.canonicalize() {
        Ok(root) if root.is_dir() => root,
        _ => {
            let what = if args.dir.exists() { "is not a folder" } else { "does not exist" };
            return Err(ExitError::usage(format!(
                "{} {what}; give the folder to serve (create it first if needed)",
                args.dir.display()
            ))
            .into());
        }
    };
    for (flag, file) in [("--tls-cert", &args.tls_cert), ("--tls-key", &args.tls_key)] {
        if let Some(file) = file
            && let Err(e) = std::fs::metadata(file)
        {
            return Err(ExitError::usage(format!("{flag} {}: {e}; give a readable PEM file", file.display())).into());
        }
    }
    let config = ServerConfig {
        root: root.clone(),
        bind: SocketAddr::new(args.bind, args.port),
        login: args.user.clone().zip(args.password.clone()),
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        passive_ports: args.passive_ports.clone(),
    };
    let server = server::start(config).map_err(|e| explain_start_error(e, args))?;

    let user = args.user.as_deref().unwrap_or("anonymous");
    let url = server.url(args.user.as_deref());
    printer.out(1, &format!("Serving {} at {url} (user {user}); press Ctrl-C to stop.", root.display()));
    if !args.bind.to_canonical().is_loopback() {
        match (&args.user, &args.tls_cert) {
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
fn explain_start_error(err: anyhow::Error, args: &ServeArgs) -> anyhow::Error {
    let busy = err
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse));
    if busy {
        let hint =
            format!("port {} on {} is in use; choose another with --port (0 picks a free one)", args.port, args.bind);
        return ExitError { exit: Exit::Error, message: hint }.into();
    }
    err
}
