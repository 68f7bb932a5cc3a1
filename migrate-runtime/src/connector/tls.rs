//! The rustls side: one client configuration per connection string, the
//! certificate checks each `sslmode` asks for, and what a failed check
//! means for the user.

use super::settings::{Roots, SslMode, TlsSettings, TlsVersion};
use super::{SettingsError, TlsError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// ALPN protocol name PostgreSQL 17+ expects (and demands with direct
/// negotiation); older servers ignore it.
const ALPN: &[u8] = b"postgresql";

/// The rustls configuration `settings` ask for. The crypto provider is
/// `ring`, chosen here, so that another provider compiled into the
/// application cannot make rustls panic over which one is the default.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<ClientConfig, SettingsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::V1_2, &rustls::version::TLS12),
        (TlsVersion::V1_3, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (settings.min_version..=settings.max_version).contains(v))
    .map(|(_, v)| v)
    .collect();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| SettingsError::Tls(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match &settings.roots {
        Roots::None => Arc::new(Unverified {
            provider: provider.clone(),
        }),
        roots => {
            let (store, described) = match roots {
                Roots::File(path) => (file_roots(path)?, format!("sslrootcert={}", path.display())),
                _ => (
                    system_roots()?,
                    "the system's trusted roots (sslrootcert=system; SSL_CERT_FILE or SSL_CERT_DIR change them)"
                        .to_string(),
                ),
            };
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| SettingsError::Tls(e.to_string()))?;
            Arc::new(Verified {
                inner,
                check_name: settings.mode == SslMode::VerifyFull,
                roots: described,
            })
        }
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let mut config = match &settings.client {
        Some((cert, key)) => {
            let chain = certificates(cert, "sslcert")?;
            let key = private_key(key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| SettingsError::BadFile {
                    key: "sslkey",
                    path: cert.clone(),
                    problem: format!("the key does not fit the certificate: {e}"),
                })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.enable_sni = settings.sni;
    Ok(config)
}

fn certificates(path: &Path, key: &'static str) -> Result<Vec<CertificateDer<'static>>, SettingsError> {
    let bad = |problem: String| SettingsError::BadFile {
        key,
        path: path.to_path_buf(),
        problem,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot read it: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("holds no `BEGIN CERTIFICATE` block".into()));
    }
    Ok(certs)
}

fn file_roots(path: &Path) -> Result<RootCertStore, SettingsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path, "sslrootcert")? {
        store.add(cert).map_err(|e| SettingsError::BadFile {
            key: "sslrootcert",
            path: path.to_path_buf(),
            problem: format!("a certificate in it is unusable: {e}"),
        })?;
    }
    Ok(store)
}

fn system_roots() -> Result<RootCertStore, SettingsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs);
    if store.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(SettingsError::NoSystemRoots(errors.join("; ")));
    }
    Ok(store)
}

/// The client key, refused when others may read it, as libpq does: at
/// most 0600, or 0640 when root owns it.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, SettingsError> {
    use std::os::unix::fs::MetadataExt;
    let bad = |problem: String| SettingsError::BadFile {
        key: "sslkey",
        path: path.to_path_buf(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let mode = meta.mode() & 0o777;
    let too_open = if meta.uid() == 0 { mode & 0o037 } else { mode & 0o077 };
    if too_open != 0 {
        return Err(SettingsError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let encrypted = std::fs::read_to_string(path).is_ok_and(|t| t.contains("ENCRYPTED"));
        if encrypted {
            bad("the key is encrypted, and sslpassword is not supported; decrypt it (`openssl pkey -in KEY -out KEY.plain`) and keep it mode 0600".into())
        } else {
            bad(format!("holds no PEM private key ({e})"))
        }
    })
}

/// `prefer` and `require` without a root certificate: encrypted, with the
/// handshake's signatures checked, but whoever the server is.
#[derive(Debug)]
struct Unverified {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// webpki's checks, without the name for `verify-ca`, and failures turned
/// into a [`TlsError`] that says what to do.
#[derive(Debug)]
struct Verified {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
    roots: String,
}

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let error = match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(verified) => return Ok(verified),
            Err(rustls::Error::InvalidCertificate(e)) => e,
            Err(other) => return Err(other),
        };
        // webpki checks the name last: the chain and dates passed.
        let explained = match error {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } if !self.check_name => {
                return Ok(ServerCertVerified::assertion())
            }
            CertificateError::NotValidForNameContext { expected, presented } => TlsError::NameMismatch {
                host: host(&expected),
                presented: presented.into_iter().map(presented_name).collect(),
            },
            CertificateError::NotValidForName => TlsError::NameMismatch {
                host: host(server_name),
                presented: Vec::new(),
            },
            CertificateError::UnknownIssuer => TlsError::UnknownIssuer {
                roots: self.roots.clone(),
            },
            CertificateError::ExpiredContext { not_after, .. } => TlsError::Expired {
                not_after: date(not_after),
            },
            CertificateError::NotValidYetContext { not_before, .. } => TlsError::NotYetValid {
                not_before: date(not_before),
            },
            CertificateError::Other(OtherError(ref inner))
                if inner
                    .downcast_ref::<webpki::Error>()
                    .is_some_and(|e| matches!(e, webpki::Error::CaUsedAsEndEntity)) =>
            {
                TlsError::CaAsServerCertificate
            }
            other => TlsError::Rejected(other.to_string()),
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
            Arc::new(explained),
        ))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A name as the certificate holds it: webpki spells them `DnsName("x")`
/// or `IpAddress(x)`.
fn presented_name(name: String) -> String {
    match name.split_once('(') {
        Some((_, inner)) if name.ends_with(')') => inner[..inner.len() - 1].trim_matches('"').to_string(),
        _ => name,
    }
}

fn host(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

fn date(time: UnixTime) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(time.as_secs());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The [`TlsError`] behind a failed connection attempt, if TLS is why it
/// failed; `None` for other failures (a refused or reset connection).
pub(crate) fn explain(e: &tokio_postgres::Error) -> Option<TlsError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                return Some(from_rustls(tls));
            }
            // tokio-rustls: the server hung up on the ClientHello.
            if io.kind() == std::io::ErrorKind::UnexpectedEof && io.to_string() == "tls handshake eof" {
                return Some(TlsError::ClosedDuringHandshake);
            }
        }
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(from_rustls(tls));
        }
        // tokio-postgres reports these two with a plain message.
        match error.to_string().as_str() {
            "server does not support TLS" => return Some(TlsError::NotOffered),
            "server did not use channel binding" => return Some(TlsError::NoChannelBinding),
            _ => {}
        }
        source = error.source();
    }
    None
}

fn from_rustls(e: &rustls::Error) -> TlsError {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            match inner.downcast_ref::<TlsError>() {
                Some(explained) => explained.clone(),
                None => TlsError::Rejected(e.to_string()),
            }
        }
        rustls::Error::AlertReceived(alert) => TlsError::Alert(format!("{alert:?}")),
        other => TlsError::Handshake(other.to_string()),
    }
}
