//! TLS for FTPS: certificate verification and the client configuration of each connection.
//!
//! Certificates are verified against the system roots by default, against a given CA file with
//! `--ca-file`, or not at all with `--insecure`. Every control connection gets its own
//! configuration, hence its own session cache: its data connections then resume exactly its
//! session, which vsftpd and proftpd demand (`require_ssl_reuse`). TLS 1.2 is used because
//! TLS 1.3 tickets are single-use and those servers refuse data connections once a control
//! connection's tickets are spent (see `shared/spec/test-servers.md`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How the server's certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Against the system's trusted roots.
    SystemRoots,
    /// Against the certificates in a PEM file.
    CaFile(PathBuf),
    /// Not at all (`--insecure`).
    Nothing,
}

/// Builds the trusted roots once per run.
#[derive(Clone, Debug)]
pub struct Trust {
    roots: Option<Arc<RootCertStore>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Trust {
    pub fn new(verify: &Verify) -> Result<Trust> {
        let roots = match verify {
            Verify::Nothing => None,
            Verify::SystemRoots => {
                let found = rustls_native_certs::load_native_certs();
                let mut store = RootCertStore::empty();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    bail!("no trusted root certificates found on this system; pass --ca-file PEM (or --insecure)");
                }
                Some(Arc::new(store))
            }
            Verify::CaFile(path) => Some(Arc::new(load_ca_file(path)?)),
        };
        Ok(Trust { roots })
    }

    /// A fresh client configuration (with its own session cache) for one control connection.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .context("TLS 1.2 is not available")?;
        let config = match &self.roots {
            Some(roots) => builder.with_root_certificates(roots.clone()).with_no_client_auth(),
            None => {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnything)).with_no_client_auth()
            }
        };
        Ok(Arc::new(config))
    }
}

fn load_ca_file(path: &Path) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
    for cert in certs {
        let cert = cert.with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
        store.add(cert).with_context(|| format!("{}: unusable certificate", path.display()))?;
    }
    if store.is_empty() {
        bail!("{} contains no certificate", path.display());
    }
    Ok(store)
}

/// `--insecure`: accepts any certificate (the signature of the handshake is still checked, so
/// the connection is encrypted, just not authenticated).
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}
