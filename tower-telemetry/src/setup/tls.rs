//! TLS for OTLP (feature `tls`): the trust roots and the client certificate of the
//! [OTLP exporter configuration], for both protocols.
//!
//! `opentelemetry-otlp` 0.33 reads none of the certificate variables, and on its own it would
//! give an `https://` collector an empty trust store over gRPC (tonic's `ClientTlsConfig::new()`
//! enables no roots) and, over HTTP, a reqwest client that panics for want of a rustls crypto
//! provider (`rustls-no-provider`). So with the `tls` feature the setup hands it the TLS
//! configuration itself: the public web roots (`webpki-roots`), plus the CA of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE` (a private collector), plus the client certificate and key
//! of `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `OTEL_EXPORTER_OTLP_CLIENT_KEY` (mutual TLS);
//! each also per signal (`OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`, …), which wins.
//!
//! [OTLP exporter configuration]: https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::SetupError;
use super::env::Env;

/// The TLS material for one signal's exporter.
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpTls {
    /// PEM of the extra trust roots.
    ca: Option<Vec<u8>>,
    /// PEM of the client certificate chain, and of its key.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl OtlpTls {
    /// The material the variables for `signal` (`TRACES`, `METRICS`) name. A file that cannot
    /// be read or holds no PEM of the right kind: one warning naming the variable, then the
    /// default (the public roots only; no client certificate), or an error when strict.
    pub(crate) fn from_env(env: &Env<'_>, signal: &str) -> Result<Self, SetupError> {
        let variable = |what: &str| env.otlp_variable(signal, what);
        let ca = read(env, &variable("CERTIFICATE"), Kind::Certificates)?;
        let certificate = read(env, &variable("CLIENT_CERTIFICATE"), Kind::Certificates)?;
        let key = read(env, &variable("CLIENT_KEY"), Kind::Key)?;
        let identity = match (certificate, key) {
            (Some(certificate), Some(key)) => Some((certificate, key)),
            (None, None) => None,
            (Some(_), None) => {
                let name = variable("CLIENT_CERTIFICATE");
                let value = env.get(&name).unwrap_or_default();
                env.reject(
                    &name,
                    &value,
                    "a client certificate needs its key (OTEL_EXPORTER_OTLP_CLIENT_KEY)",
                    None,
                    "no client certificate",
                )?
            }
            (None, Some(_)) => {
                let name = variable("CLIENT_KEY");
                let value = env.get(&name).unwrap_or_default();
                env.reject(
                    &name,
                    &value,
                    "a client key needs its certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)",
                    None,
                    "no client certificate",
                )?
            }
        };
        let tls = OtlpTls { ca, identity };
        // A certificate and key that don't go together (or a key type rustls can't use) would
        // fail the exporter's build: warn and go without the client certificate instead.
        if tls.identity.is_some() {
            if let Err(reason) = tls.rustls() {
                let name = variable("CLIENT_CERTIFICATE");
                let value = env.get(&name).unwrap_or_default();
                return env.reject(
                    &name,
                    &value,
                    &format!("unusable with its key: {reason}"),
                    OtlpTls {
                        identity: None,
                        ..tls
                    },
                    "no client certificate",
                );
            }
        }
        Ok(tls)
    }

    /// For OTLP over gRPC: tonic's configuration (it applies only to `https://` endpoints).
    pub(crate) fn tonic(&self) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
        use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
        let mut config = ClientTlsConfig::new().with_webpki_roots();
        if let Some(ca) = &self.ca {
            config = config.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((certificate, key)) = &self.identity {
            config = config.identity(Identity::from_pem(certificate, key));
        }
        config
    }

    /// For OTLP over HTTP: the blocking reqwest client `opentelemetry-otlp` would build, with
    /// this TLS configuration (rustls with ring, set explicitly: no process-wide provider is
    /// installed) and the export `timeout`. Built on its own thread, as `opentelemetry-otlp`
    /// does (a blocking client must not be built or dropped on an async runtime's thread).
    pub(crate) fn http_client(
        &self,
        timeout: Duration,
    ) -> Result<reqwest::blocking::Client, String> {
        let config = self.rustls()?;
        std::thread::Builder::new()
            .name("otlp-http-client".into())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .tls_backend_preconfigured(config)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "building the HTTP client panicked".to_owned())?
    }

    fn rustls(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &self.ca {
            for certificate in CertificateDer::pem_slice_iter(ca) {
                let certificate = certificate.map_err(|e| e.to_string())?;
                roots.add(certificate).map_err(|e| e.to_string())?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        match &self.identity {
            Some((certificate, key)) => {
                let chain = CertificateDer::pem_slice_iter(certificate)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| e.to_string())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| e.to_string())
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

/// What a PEM file must hold.
#[derive(Clone, Copy)]
enum Kind {
    Certificates,
    Key,
}

/// The contents of the PEM file `name` points at, checked to hold what `kind` says.
fn read(env: &Env<'_>, name: &str, kind: Kind) -> Result<Option<Vec<u8>>, SetupError> {
    let Some(path) = env.get(name) else {
        return Ok(None);
    };
    let default = match kind {
        Kind::Certificates if name.ends_with("_CLIENT_CERTIFICATE") => "no client certificate",
        Kind::Certificates => "the public roots only",
        Kind::Key => "no client certificate",
    };
    let contents = match std::fs::read(&path) {
        Ok(contents) => contents,
        Err(e) => {
            return env.reject(name, &path, &format!("cannot read it: {e}"), None, default);
        }
    };
    let usable = match kind {
        Kind::Certificates => {
            let mut certificates = CertificateDer::pem_slice_iter(&contents);
            certificates.next().is_some_and(|c| c.is_ok()) && certificates.all(|c| c.is_ok())
        }
        Kind::Key => PrivateKeyDer::from_pem_slice(&contents).is_ok(),
    };
    if !usable {
        let what = match kind {
            Kind::Certificates => "no PEM certificate in the file",
            Kind::Key => "no PEM private key in the file",
        };
        return env.reject(name, &path, what, None, default);
    }
    // Trust roots must parse as certificates (a bad one would otherwise fail the exporter's
    // build, stopping startup, where the rules say warn and use the default).
    if matches!(kind, Kind::Certificates) && !name.ends_with("_CLIENT_CERTIFICATE") {
        let mut roots = rustls::RootCertStore::empty();
        let (_, rejected) =
            roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&contents).flatten());
        if rejected > 0 {
            return env.reject(
                name,
                &path,
                "a certificate in the file is not a valid X.509 certificate",
                None,
                default,
            );
        }
    }
    Ok(Some(contents))
}

/// The export timeout for `signal` in the variables `opentelemetry-otlp` reads
/// (`OTEL_EXPORTER_OTLP_{SIGNAL}_TIMEOUT`, then `OTEL_EXPORTER_OTLP_TIMEOUT`, milliseconds; 10 s
/// by default). Read here only because the HTTP client is built here: `opentelemetry-otlp`
/// applies the timeout to the client it builds, not to one it is given.
pub(crate) fn http_timeout(env: &Env<'_>, signal: &str) -> Result<Duration, SetupError> {
    const DEFAULT: Duration = Duration::from_secs(10);
    let name = env.otlp_variable(signal, "TIMEOUT");
    let Some(value) = env.get(&name) else {
        return Ok(DEFAULT);
    };
    match value.parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => env.reject(
            &name,
            &value,
            "expected milliseconds",
            DEFAULT,
            "the default (10000)",
        ),
    }
}
