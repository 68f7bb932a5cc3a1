//! Certificates made at run time, for tests of TLS connections: an
//! [`Authority`], and the server and client certificates it signs.
//!
//! ```no_run
//! use throwaway_pg::certs::{Authority, Leaf};
//! use throwaway_pg::{Cluster, Options, ServerTls};
//!
//! let ca = Authority::new("test CA")?;
//! let server = ca.issue(&Leaf::server(&["localhost"], &["127.0.0.1".parse()?]))?;
//! let tls = ServerTls {
//!     cert_pem: server.cert_pem,
//!     key_pem: server.key_pem,
//!     ..ServerTls::default()
//! };
//! let cluster = Cluster::start(&Options { tls: Some(tls), ..Options::default() })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{write_file, Error};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A certificate authority with its own key, made at run time.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    own: Issued,
}

/// What a certificate is for; [`Authority::issue`] makes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leaf {
    /// The subject's CN; none when empty. PostgreSQL's `cert` login takes
    /// it as the role name.
    pub common_name: String,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP address subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Valid from a week ago until yesterday, instead of from yesterday
    /// for 30 days.
    pub expired: bool,
    /// For client authentication instead of server authentication
    /// (extended key usage).
    pub client: bool,
}

impl Leaf {
    /// A server certificate for these names, its CN the first of them.
    pub fn server(dns_names: &[&str], ips: &[IpAddr]) -> Leaf {
        Leaf {
            common_name: dns_names
                .first()
                .map(|name| name.to_string())
                .or_else(|| ips.first().map(IpAddr::to_string))
                .unwrap_or_default(),
            dns_names: dns_names.iter().map(|name| name.to_string()).collect(),
            ip_addresses: ips.to_vec(),
            ..Leaf::default()
        }
    }

    /// A client certificate for the role `user`: its CN, no alternative names.
    pub fn client(user: &str) -> Leaf {
        Leaf {
            common_name: user.to_string(),
            client: true,
            ..Leaf::default()
        }
    }
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate alone, not its chain.
    pub cert_pem: String,
    /// PKCS#8.
    pub key_pem: String,
}

impl Issued {
    /// Writes `dir/stem.crt` and `dir/stem.key`, the key readable by its
    /// owner only (libpq refuses it otherwise); returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), Error> {
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        write_file(&cert, &self.cert_pem, 0o644, None)?;
        write_file(&key, &self.key_pem, 0o600, None)?;
        Ok((cert, key))
    }
}

impl Authority {
    /// A new CA named `common_name`, valid from a week ago (so that it
    /// covers an `expired` leaf) for 30 days from now.
    pub fn new(common_name: &str) -> Result<Authority, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, -7, 30);
        let key = KeyPair::generate()?;
        let own = Issued {
            cert_pem: params.self_signed(&key)?.pem(),
            key_pem: key.serialize_pem(),
        };
        Ok(Authority {
            issuer: Issuer::new(params, key),
            own,
        })
    }

    /// The CA's certificate, for `sslrootcert` or a client CA.
    pub fn cert_pem(&self) -> String {
        self.own.cert_pem.clone()
    }

    /// The CA's own certificate and key, e.g. for a server that presents
    /// the CA certificate as its own.
    pub fn own(&self) -> Issued {
        self.own.clone()
    }

    /// A new key and a certificate for it as `leaf` says, signed by this CA.
    pub fn issue(&self, leaf: &Leaf) -> Result<Issued, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if !leaf.common_name.is_empty() {
            params
                .distinguished_name
                .push(DnType::CommonName, leaf.common_name.as_str());
        }
        for name in &leaf.dns_names {
            params
                .subject_alt_names
                .push(SanType::DnsName(name.as_str().try_into()?));
        }
        params
            .subject_alt_names
            .extend(leaf.ip_addresses.iter().copied().map(SanType::IpAddress));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if leaf.client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        params.use_authority_key_identifier_extension = true;
        match leaf.expired {
            true => set_validity(&mut params, -7, -1),
            false => set_validity(&mut params, -1, 29),
        }
        let key = KeyPair::generate()?;
        Ok(Issued {
            cert_pem: params.signed_by(&key, &self.issuer)?.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Makes `params` valid from `not_before` until `not_after`, in days from
/// now (negative for the past).
fn set_validity(params: &mut CertificateParams, not_before: i32, not_after: i32) {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    let since_1970 = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_1970;
    let day = |days: i32| match u32::try_from(days) {
        Ok(ahead) => now + DAY * ahead,
        Err(_) => now - DAY * days.unsigned_abs(),
    };
    params.not_before = day(not_before);
    params.not_after = day(not_after);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use x509_cert::der::asn1::ObjectIdentifier;
    use x509_cert::der::DecodePem;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
    use x509_cert::Certificate;

    const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
    const CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
    const DAY_SECS: f64 = 24.0 * 60.0 * 60.0;

    fn parse(pem: &str) -> Certificate {
        Certificate::from_pem(pem).unwrap()
    }

    /// (not before, not after) in days from now.
    fn validity(cert: &Certificate) -> (f64, f64) {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let days = |t: x509_cert::time::Time| (t.to_unix_duration().as_secs_f64() - now.as_secs_f64()) / DAY_SECS;
        let validity = &cert.tbs_certificate.validity;
        (days(validity.not_before), days(validity.not_after))
    }

    /// Within an hour.
    fn assert_days(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1.0 / 24.0, "{actual} days, not {expected}");
    }

    fn purposes(cert: &Certificate) -> Vec<String> {
        let (_, eku) = cert.tbs_certificate.get::<ExtendedKeyUsage>().unwrap().unwrap();
        eku.0.iter().map(ObjectIdentifier::to_string).collect()
    }

    /// The key PEM parses back and is the certificate's key.
    fn assert_key_matches(issued: &Issued) {
        let key = KeyPair::from_pem(&issued.key_pem).unwrap();
        let cert = parse(&issued.cert_pem);
        let spki = &cert.tbs_certificate.subject_public_key_info.subject_public_key;
        assert_eq!(spki.raw_bytes(), key.public_key_raw());
    }

    #[test]
    fn a_server_certificate_names_its_hosts_and_is_valid_from_yesterday_for_30_days() {
        let ca = Authority::new("test CA").unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let issued = ca.issue(&Leaf::server(&["localhost", "db.test"], &[ip])).unwrap();
        let cert = parse(&issued.cert_pem);
        assert_eq!(cert.tbs_certificate.subject.to_string(), "CN=localhost");
        assert_eq!(
            cert.tbs_certificate.issuer,
            parse(&ca.cert_pem()).tbs_certificate.subject
        );
        let (_, SubjectAltName(names)) = cert.tbs_certificate.get().unwrap().unwrap();
        let names: Vec<String> = names
            .iter()
            .map(|name| match name {
                GeneralName::DnsName(dns) => dns.to_string(),
                GeneralName::IpAddress(ip) => format!("{:?}", ip.as_bytes()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["localhost", "db.test", "[127, 0, 0, 1]"]);
        assert_eq!(purposes(&cert), [SERVER_AUTH]);
        let (not_before, not_after) = validity(&cert);
        assert_days(not_before, -1.0);
        assert_days(not_after, 29.0);
        assert_key_matches(&issued);
    }

    #[test]
    fn an_expired_certificate_ended_yesterday_within_the_authoritys_validity() {
        let ca = Authority::new("test CA").unwrap();
        let issued = ca
            .issue(&Leaf {
                expired: true,
                ..Leaf::server(&["localhost"], &[])
            })
            .unwrap();
        let (not_before, not_after) = validity(&parse(&issued.cert_pem));
        assert_days(not_before, -7.0);
        assert_days(not_after, -1.0);
        let (ca_not_before, ca_not_after) = validity(&parse(&ca.cert_pem()));
        assert!(ca_not_before <= not_before && ca_not_after >= 30.0 - 1.0 / 24.0);
    }

    #[test]
    fn a_client_certificate_names_the_role_and_nothing_else() {
        let ca = Authority::new("test CA").unwrap();
        let issued = ca.issue(&Leaf::client("app_user")).unwrap();
        let cert = parse(&issued.cert_pem);
        assert_eq!(cert.tbs_certificate.subject.to_string(), "CN=app_user");
        assert!(cert.tbs_certificate.get::<SubjectAltName>().unwrap().is_none());
        assert_eq!(purposes(&cert), [CLIENT_AUTH]);
        assert_key_matches(&issued);
    }

    #[test]
    fn the_authority_is_a_self_signed_ca_and_hands_out_its_own_key() {
        let ca = Authority::new("test CA").unwrap();
        let own = ca.own();
        assert_eq!(own.cert_pem, ca.cert_pem());
        let cert = parse(&own.cert_pem);
        assert_eq!(cert.tbs_certificate.subject.to_string(), "CN=test CA");
        assert_eq!(cert.tbs_certificate.issuer, cert.tbs_certificate.subject);
        let (_, constraints) = cert.tbs_certificate.get::<BasicConstraints>().unwrap().unwrap();
        assert!(constraints.ca);
        assert_key_matches(&own);
        assert_ne!(ca.issue(&Leaf::client("a")).unwrap().key_pem, own.key_pem);
    }

    #[test]
    fn write_leaves_the_key_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let issued = Authority::new("test CA").unwrap().own();
        // A key file left readable by a previous run is tightened too.
        std::fs::write(dir.path().join("ca.key"), "old").unwrap();
        std::fs::set_permissions(dir.path().join("ca.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let (cert, key) = issued.write(dir.path(), "ca").unwrap();
        assert_eq!(
            (cert.file_name().unwrap(), key.file_name().unwrap()),
            ("ca.crt".as_ref(), "ca.key".as_ref())
        );
        assert_eq!(std::fs::read_to_string(&cert).unwrap(), issued.cert_pem);
        assert_eq!(std::fs::read_to_string(&key).unwrap(), issued.key_pem);
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&cert), 0o644);
    }
}
