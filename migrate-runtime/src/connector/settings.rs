//! Connection settings from a URL or a key=value string, by libpq's rules.
//! The TLS keys are taken out here (tokio-postgres knows only part of
//! them), the `PGSSL*` variables and the files under `~/.postgresql/` fill
//! in what the string leaves unsaid, and tokio-postgres parses the rest.

use super::SettingsError;
use percent_encoding::percent_decode_str;
use std::path::{Path, PathBuf};
use tokio_postgres::config::{ChannelBinding, SslNegotiation};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext first; TLS when the server refuses plaintext.
    Allow,
    /// TLS when the server offers it, plaintext when it declines (never
    /// after a failed handshake). The default.
    Prefer,
    /// TLS; the certificate is checked against a root certificate only
    /// when one is given (then as `VerifyCa`).
    Require,
    /// TLS, with a certificate signed by a CA in the root certificates.
    VerifyCa,
    /// `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, SettingsError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(invalid(
                    "sslmode",
                    value,
                    "disable, allow, prefer, require, verify-ca or verify-full",
                ))
            }
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the certificates that vouch for the server come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// None: the server's certificate is not checked.
    None,
    /// A PEM file: `sslrootcert=FILE`, or `~/.postgresql/root.crt`.
    File(PathBuf),
    /// The platform's trusted roots (`sslrootcert=system`).
    System,
}

/// A TLS protocol version bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsVersion {
    V1_2,
    V1_3,
}

/// Everything TLS about one connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    pub(crate) roots: Roots,
    /// Client certificate and key files.
    pub(crate) client: Option<(PathBuf, PathBuf)>,
    pub(crate) sni: bool,
    pub(crate) min_version: TlsVersion,
    pub(crate) max_version: TlsVersion,
}

/// Where the values the string leaves out come from.
pub(crate) struct Defaults<'a> {
    /// An environment variable's value.
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    /// The user's home folder, for `~/.postgresql/`.
    pub(crate) home: Option<PathBuf>,
}

impl Defaults<'_> {
    /// The process's environment and `$HOME`.
    pub(crate) fn process() -> Defaults<'static> {
        Defaults {
            env: &|name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
        }
    }

    fn default_file(&self, name: &str) -> Option<PathBuf> {
        let path = self.home.as_ref()?.join(".postgresql").join(name);
        path.is_file().then_some(path)
    }
}

/// The keys taken out of the string, with the variable that stands in for each.
const TLS_KEYS: &[(&str, Option<&str>)] = &[
    ("sslmode", Some("PGSSLMODE")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("sslcert", Some("PGSSLCERT")),
    ("sslkey", Some("PGSSLKEY")),
    ("channel_binding", Some("PGCHANNELBINDING")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION")),
    ("sslsni", Some("PGSSLSNI")),
    ("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    ("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    ("gssencmode", Some("PGGSSENCMODE")),
    ("sslcompression", None),
];

/// libpq keys this connector does not implement, and what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "sslpassword",
        "decrypt the key file (`openssl pkey -in key.enc -out key`) and keep it mode 0600",
    ),
    (
        "sslcrl",
        "certificate revocation lists are not checked; use short-lived server certificates",
    ),
    (
        "sslcrldir",
        "certificate revocation lists are not checked; use short-lived server certificates",
    ),
    (
        "sslcertmode",
        "client certificates are sent when sslcert/sslkey (or ~/.postgresql/postgresql.crt) exist",
    ),
    (
        "passfile",
        "the password file is not read; give the password in the string (in a URL, percent-encoded)",
    ),
    (
        "service",
        "the service file is not read; write the service's settings into the string",
    ),
    (
        "requirepeer",
        "connect over TCP, or check the socket's owner outside the application",
    ),
    (
        "krbsrvname",
        "GSSAPI and Kerberos are not supported; use SCRAM or client certificates",
    ),
    (
        "gsslib",
        "GSSAPI and Kerberos are not supported; use SCRAM or client certificates",
    ),
];

/// The keys tokio-postgres takes besides the TLS keys.
const DRIVER_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "load_balance_hosts",
];

/// Parsed settings: tokio-postgres's config, with the TLS mode mapped onto
/// its own, and the TLS settings beside it.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) tls: TlsSettings,
}

/// A string split by its syntax alone: no variable or file is read.
pub(crate) struct Split {
    /// tokio-postgres's config, without the TLS keys.
    pub(crate) pg: tokio_postgres::Config,
    taken: Taken,
}

impl Split {
    /// The TLS keys the string gives, each once (the last value wins), in
    /// a fixed order.
    pub(crate) fn tls_keys(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        TLS_KEYS
            .iter()
            .filter_map(|(key, _)| Some((*key, written(&self.taken, key)?)))
    }
}

/// The value the string gives `key`: the last, as in libpq.
fn written<'a>(taken: &'a Taken, key: &str) -> Option<&'a str> {
    taken.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Splits `text` (a `postgres://` URL or key=value pairs). Errors never
/// hold its text, only the names of keys libpq knows.
pub(crate) fn split(text: &str) -> Result<Split, SettingsError> {
    let (rest, taken) = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        split_url(text)?
    } else {
        split_pairs(text)?
    };
    // The driver's reasons name keys, not values: unknown keys were refused above.
    let pg = rest.parse().map_err(|e: tokio_postgres::Error| {
        SettingsError::Malformed(match std::error::Error::source(&e) {
            Some(why) => format!("{e}: {why}"),
            None => e.to_string(),
        })
    })?;
    Ok(Split { pg, taken })
}

/// Parses `text` (a `postgres://` URL or key=value pairs).
pub(crate) fn parse(text: &str, defaults: &Defaults<'_>) -> Result<Parsed, SettingsError> {
    let Split { mut pg, taken } = split(text)?;
    let value = |key: &str| -> Option<String> {
        written(&taken, key).map(str::to_string).or_else(|| {
            let var = TLS_KEYS.iter().find(|(k, _)| *k == key).and_then(|(_, var)| *var)?;
            (defaults.env)(var)
        })
    };

    let rootcert = value("sslrootcert");
    let system = rootcert.as_deref() == Some("system");
    let mode = match value("sslmode") {
        Some(mode) => SslMode::parse(&mode)?,
        None if system => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if system && mode != SslMode::VerifyFull {
        return Err(SettingsError::WeakModeWithSystemRoots { mode });
    }
    let roots = match rootcert {
        _ if mode == SslMode::Disable => Roots::None,
        Some(_) if system => Roots::System,
        Some(file) => Roots::File(existing(&file, "sslrootcert")?),
        None => defaults.default_file("root.crt").map_or(Roots::None, Roots::File),
    };
    if roots == Roots::None && matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) {
        return Err(SettingsError::NoRootCertificate { mode });
    }
    let client = match (value("sslcert"), value("sslkey")) {
        _ if mode == SslMode::Disable => None,
        (Some(cert), key) => {
            let cert = existing(&cert, "sslcert")?;
            let key = match key {
                Some(key) => existing(&key, "sslkey")?,
                None => defaults
                    .default_file("postgresql.key")
                    .ok_or(SettingsError::MissingKey { cert: cert.clone() })?,
            };
            Some((cert, key))
        }
        (None, Some(key)) => {
            let key = existing(&key, "sslkey")?;
            let cert = defaults
                .default_file("postgresql.crt")
                .ok_or(SettingsError::MissingCertificate { key: key.clone() })?;
            Some((cert, key))
        }
        (None, None) => match defaults.default_file("postgresql.crt") {
            Some(cert) => Some((
                cert.clone(),
                defaults
                    .default_file("postgresql.key")
                    .ok_or(SettingsError::MissingKey { cert })?,
            )),
            None => None,
        },
    };

    let channel_binding = match value("channel_binding").as_deref() {
        None | Some("prefer") => ChannelBinding::Prefer,
        Some("disable") => ChannelBinding::Disable,
        Some("require") if mode == SslMode::Disable => return Err(SettingsError::ChannelBindingWithoutTls),
        Some("require") => ChannelBinding::Require,
        Some(other) => return Err(invalid("channel_binding", other, "disable, prefer or require")),
    };
    let negotiation = match value("sslnegotiation").as_deref() {
        None | Some("postgres") => SslNegotiation::Postgres,
        Some("direct") if matches!(mode, SslMode::Disable | SslMode::Allow | SslMode::Prefer) => {
            return Err(SettingsError::DirectNeedsTls { mode })
        }
        Some("direct") => SslNegotiation::Direct,
        Some(other) => return Err(invalid("sslnegotiation", other, "postgres or direct")),
    };
    let sni = match value("sslsni").as_deref() {
        None | Some("1") => true,
        Some("0") => false,
        Some(other) => return Err(invalid("sslsni", other, "0 or 1")),
    };
    let version = |key: &str, default: TlsVersion| match value(key).as_deref() {
        None | Some("") => Ok(default),
        Some("TLSv1.2") => Ok(TlsVersion::V1_2),
        Some("TLSv1.3") => Ok(TlsVersion::V1_3),
        Some(old @ ("TLSv1" | "TLSv1.1")) => Err(invalid(
            key,
            old,
            "TLSv1.2 or TLSv1.3 (older versions are insecure and not offered)",
        )),
        Some(other) => Err(invalid(key, other, "TLSv1.2 or TLSv1.3")),
    };
    let min_version = version("ssl_min_protocol_version", TlsVersion::V1_2)?;
    let max_version = version("ssl_max_protocol_version", TlsVersion::V1_3)?;
    if min_version > max_version {
        return Err(SettingsError::Invalid {
            key: "ssl_max_protocol_version".into(),
            value: "TLSv1.2".into(),
            expected: "at least ssl_min_protocol_version (TLSv1.3)".into(),
        });
    }
    match value("gssencmode").as_deref() {
        None | Some("disable" | "prefer") => {}
        Some("require") => {
            return Err(SettingsError::Unsupported {
                key: "gssencmode=require".into(),
                instead: "GSSAPI encryption is not supported; use sslmode=verify-full".into(),
            })
        }
        Some(other) => return Err(invalid("gssencmode", other, "disable, prefer or require")),
    }
    if let Some(compression) = value("sslcompression") {
        if compression != "0" && compression != "1" {
            return Err(invalid("sslcompression", &compression, "0 or 1 (ignored, as by libpq)"));
        }
    }

    pg.ssl_mode(match mode {
        SslMode::Disable | SslMode::Allow => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    })
    .channel_binding(channel_binding)
    .ssl_negotiation(negotiation);
    Ok(Parsed {
        pg,
        tls: TlsSettings {
            mode,
            roots,
            client,
            sni,
            min_version,
            max_version,
        },
    })
}

fn invalid(key: &str, value: &str, expected: &str) -> SettingsError {
    SettingsError::Invalid {
        key: key.into(),
        value: value.into(),
        expected: expected.into(),
    }
}

/// `path` when a file is there; `~/` is not expanded, as by libpq.
fn existing(path: &str, key: &'static str) -> Result<PathBuf, SettingsError> {
    let path = Path::new(path);
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(SettingsError::MissingFile {
            key,
            path: path.to_path_buf(),
        })
    }
}

/// Whether `key` is a TLS key, to take out of the string. Refuses the keys
/// this connector does not implement, and names an unknown key only by its
/// `place`: it may be part of a password that a stray space or `@` cut off.
fn is_tls_key(key: &str, place: &str) -> Result<bool, SettingsError> {
    if let Some((key, instead)) = UNSUPPORTED.iter().find(|(k, _)| *k == key) {
        return Err(SettingsError::Unsupported {
            key: (*key).into(),
            instead: (*instead).into(),
        });
    }
    if TLS_KEYS.iter().any(|(k, _)| *k == key) {
        return Ok(true);
    }
    if DRIVER_KEYS.contains(&key) {
        return Ok(false);
    }
    Err(SettingsError::Malformed(format!(
        "{place} is not a connection setting this connector takes (not shown, as it may be part of a password)"
    )))
}

/// `key` when libpq knows it, else its `place`.
fn named(key: &str, place: &str) -> String {
    let known = DRIVER_KEYS.contains(&key)
        || TLS_KEYS.iter().any(|(k, _)| *k == key)
        || UNSUPPORTED.iter().any(|(k, _)| *k == key);
    if known {
        format!("`{key}`")
    } else {
        place.to_string()
    }
}

type Taken = Vec<(String, String)>;

/// The URL without the TLS keys of its query string, and those keys' values.
///
/// As tokio-postgres does, the user name and password end at the first
/// `@`, so a password may hold `/`, `?` or `:` as they are; an `@` in it,
/// or in a query value of a URL without a user name, must be written %40.
/// Where an `@` would otherwise put part of a password in the host or the
/// user name, the URL is refused.
fn split_url(url: &str) -> Result<(String, Taken), SettingsError> {
    let scheme = url.find("://").map_or(0, |p| p + 3);
    let rest = &url[scheme..];
    let hosts = match rest.find('@') {
        Some(at)
            if rest[..at]
                .split(':')
                .next()
                .is_some_and(|user| user.contains(['/', '?'])) =>
        {
            return Err(stray_at())
        }
        Some(at) => scheme + at + 1,
        None => scheme,
    };
    let query = url[hosts..].find('?').map(|q| hosts + q);
    if url[hosts..query.unwrap_or(url.len())].contains('@') {
        return Err(stray_at());
    }
    let Some(query) = query else {
        return Ok((url.to_string(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    let pairs = url[query + 1..].split('&').filter(|p| !p.is_empty());
    for (index, pair) in pairs.enumerate() {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        if is_tls_key(&key, &format!("query parameter {}", index + 1))? {
            taken.push((key, decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let base = &url[..query];
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, taken))
}

fn stray_at() -> SettingsError {
    SettingsError::Malformed(
        "an `@` does not end the user name and password: write `@` as %40 in a password or a query value".into(),
    )
}

fn decode(text: &str) -> Result<String, SettingsError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| SettingsError::Malformed("a query parameter is not UTF-8 once percent-decoded".into()))
}

/// The key=value string without the TLS keys, and those keys' values.
/// Values may be single-quoted, with `\'` and `\\` inside.
fn split_pairs(text: &str) -> Result<(String, Taken), SettingsError> {
    let mut kept: Vec<&str> = Vec::new();
    let mut taken = Vec::new();
    let mut chars = text.char_indices().peekable();
    for number in 1.. {
        let place = format!("item {number} of the key=value string");
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else { break };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(SettingsError::Malformed(format!(
                "{place} has no `=value` (quote a value that holds spaces: password='a b'); \
                 write key=value pairs, or a postgresql:// URL"
            )));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let end = if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                    Some((i, '\'')) => break i + 1,
                    Some((_, c)) => value.push(c),
                    None => {
                        return Err(SettingsError::Malformed(format!(
                            "the value of {} opens a quote that is never closed",
                            named(&key, &place)
                        )))
                    }
                }
            }
        } else {
            loop {
                match chars.peek().copied() {
                    Some((_, '\\')) => {
                        chars.next();
                        value.extend(chars.next().map(|(_, c)| c));
                    }
                    Some((i, c)) if c.is_whitespace() => break i,
                    Some((_, c)) => {
                        chars.next();
                        value.push(c);
                    }
                    None => break text.len(),
                }
            }
        };
        if is_tls_key(&key, &place)? {
            taken.push((key, value));
        } else {
            kept.push(&text[start..end]);
        }
    }
    Ok((kept.join(" "), taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse_with(text: &str, env: &[(&str, &str)], home: Option<&Path>) -> Result<Parsed, SettingsError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |name: &str| env.get(name).cloned();
        parse(
            text,
            &Defaults {
                env: &lookup,
                home: home.map(Path::to_path_buf),
            },
        )
    }

    fn tls(text: &str) -> TlsSettings {
        parse_with(text, &[], None).unwrap().tls
    }

    #[test]
    fn every_sslmode_maps_onto_the_driver_and_keeps_its_own_meaning() {
        use tokio_postgres::config::SslMode as Driver;
        for (mode, driver) in [
            ("disable", Driver::Disable),
            ("allow", Driver::Disable),
            ("prefer", Driver::Prefer),
            ("require", Driver::Require),
        ] {
            let parsed = parse_with(&format!("postgresql://u@h/db?sslmode={mode}"), &[], None).unwrap();
            assert_eq!(parsed.pg.get_ssl_mode(), driver, "{mode}");
            assert_eq!(parsed.tls.mode.as_str(), mode);
        }
        assert_eq!(tls("host=h user=u").mode, SslMode::Prefer);
        let e = parse_with("postgresql://h/db?sslmode=verify-full", &[], None).unwrap_err();
        assert!(
            matches!(
                e,
                SettingsError::NoRootCertificate {
                    mode: SslMode::VerifyFull
                }
            ),
            "{e}"
        );
        let e = parse_with("postgresql://h/db?sslmode=sometimes", &[], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sslmode=sometimes is not valid: use disable, allow, prefer, require, verify-ca or verify-full"
        );
    }

    #[test]
    fn the_rest_of_the_url_reaches_the_driver() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca pem.crt");
        std::fs::write(&ca, "x").unwrap();
        let url = format!(
            "postgresql://u:p%2Fw@db.example.com:6432/app?application_name=a&sslmode=verify-full&sslrootcert={}&connect_timeout=3",
            ca.display().to_string().replace(' ', "%20")
        );
        let parsed = parse_with(&url, &[], None).unwrap();
        assert_eq!(parsed.pg.get_application_name(), Some("a"));
        assert_eq!(parsed.pg.get_password(), Some(&b"p/w"[..]));
        assert_eq!(parsed.pg.get_ports(), [6432]);
        assert_eq!(
            parsed.pg.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        assert_eq!(parsed.tls.roots, Roots::File(ca));
        assert_eq!(parsed.tls.mode, SslMode::VerifyFull);
    }

    #[test]
    fn the_query_string_starts_after_the_password() {
        let parsed = parse_with("postgresql://u:pa?ss@h/db?sslmode=disable", &[], None).unwrap();
        assert_eq!(parsed.pg.get_password(), Some(&b"pa?ss"[..]));
        assert_eq!(parsed.tls.mode, SslMode::Disable);
        let parsed = parse_with(
            "postgresql://u:p/w@h/db?sslmode=disable&application_name=a@b",
            &[],
            None,
        )
        .unwrap();
        assert_eq!(parsed.pg.get_password(), Some(&b"p/w"[..]));
        assert_eq!(parsed.pg.get_application_name(), Some("a@b"));
        assert_eq!(parsed.tls.mode, SslMode::Disable);
    }

    #[test]
    fn errors_never_repeat_the_text() {
        for text in [
            "host=h password=my s3cr3t",
            "host=h password=my s3cr3t=x",
            "host=h s3cr3t='x",
            "postgresql://u@h/db?s3cr3t=x",
            "postgresql://u:s3@cr3t@h/db",
            "postgresql://h/db?password=s3@cr3t",
        ] {
            let e = parse_with(text, &[], None).unwrap_err();
            assert!(matches!(e, SettingsError::Malformed(_)), "{text}: {e}");
            assert!(!e.to_string().contains("cr3t"), "{text}: {e}");
        }
        let e = parse_with("host=h passfile=/home/u/.pgpass", &[], None).unwrap_err();
        assert!(matches!(e, SettingsError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn key_value_strings_with_quotes_lose_only_the_tls_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("it's.crt");
        std::fs::write(&ca, "x").unwrap();
        let text = format!(
            "host=h  user = u password='a b\\'c' sslmode=verify-ca sslrootcert='{}' dbname=d",
            ca.display().to_string().replace('\'', "\\'")
        );
        let parsed = parse_with(&text, &[], None).unwrap();
        assert_eq!(parsed.pg.get_password(), Some(&b"a b'c"[..]));
        assert_eq!(parsed.pg.get_dbname(), Some("d"));
        assert_eq!(parsed.tls.roots, Roots::File(ca));
        let e = parse_with("host=h password='s3cr3t", &[], None).unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(parse_with("host", &[], None).is_err());
    }

    #[test]
    fn the_environment_fills_in_what_the_string_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "x").unwrap();
        let ca_text = ca.display().to_string();
        let env = [
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLROOTCERT", ca_text.as_str()),
            ("PGCHANNELBINDING", "require"),
        ];
        let parsed = parse_with("postgresql://u@h/db", &env, None).unwrap();
        assert_eq!(parsed.tls.mode, SslMode::VerifyCa);
        assert_eq!(parsed.tls.roots, Roots::File(ca.clone()));
        assert_eq!(parsed.pg.get_channel_binding(), ChannelBinding::Require);
        let parsed = parse_with(
            "postgresql://u@h/db?sslmode=require&channel_binding=disable",
            &env,
            None,
        )
        .unwrap();
        assert_eq!(parsed.tls.mode, SslMode::Require);
        assert_eq!(parsed.pg.get_channel_binding(), ChannelBinding::Disable);
    }

    #[test]
    fn files_under_home_are_the_defaults() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".postgresql");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(
            parse_with("host=h", &[], Some(home.path())).unwrap().tls.roots,
            Roots::None
        );
        std::fs::write(dir.join("root.crt"), "x").unwrap();
        std::fs::write(dir.join("postgresql.crt"), "x").unwrap();
        let e = parse_with("host=h sslmode=require", &[], Some(home.path())).unwrap_err();
        assert!(matches!(e, SettingsError::MissingKey { .. }), "{e}");
        std::fs::write(dir.join("postgresql.key"), "x").unwrap();
        let tls = parse_with("host=h sslmode=require", &[], Some(home.path()))
            .unwrap()
            .tls;
        assert_eq!(tls.roots, Roots::File(dir.join("root.crt")));
        assert_eq!(
            tls.client,
            Some((dir.join("postgresql.crt"), dir.join("postgresql.key")))
        );
        let plain = parse_with("host=h sslmode=disable", &[], Some(home.path()))
            .unwrap()
            .tls;
        assert_eq!((plain.roots, plain.client), (Roots::None, None));
    }

    #[test]
    fn system_roots_demand_verify_full() {
        assert_eq!(tls("host=h sslrootcert=system").mode, SslMode::VerifyFull);
        assert_eq!(tls("host=h sslrootcert=system").roots, Roots::System);
        for weak in ["disable", "allow", "prefer", "require", "verify-ca"] {
            let e = parse_with(&format!("host=h sslrootcert=system sslmode={weak}"), &[], None).unwrap_err();
            assert!(e.to_string().contains("verify-full"), "{e}");
        }
    }

    #[test]
    fn missing_files_and_contradictions_are_refused() {
        let e = parse_with("host=h sslrootcert=/no/such/ca.crt sslmode=require", &[], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sslrootcert=/no/such/ca.crt: no such file; give the path of an existing PEM file"
        );
        let e = parse_with("host=h sslmode=disable channel_binding=require", &[], None).unwrap_err();
        assert!(matches!(e, SettingsError::ChannelBindingWithoutTls), "{e}");
        let e = parse_with("host=h sslnegotiation=direct", &[], None).unwrap_err();
        assert!(
            matches!(e, SettingsError::DirectNeedsTls { mode: SslMode::Prefer }),
            "{e}"
        );
        assert_eq!(
            parse_with("host=h sslmode=require sslnegotiation=direct", &[], None)
                .unwrap()
                .pg
                .get_ssl_negotiation(),
            SslNegotiation::Direct
        );
        let e = parse_with("postgresql://h/db?sslpassword=s3cret", &[], None).unwrap_err();
        assert!(matches!(e, SettingsError::Unsupported { .. }), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = parse_with("host=h ssl_min_protocol_version=TLSv1.1", &[], None).unwrap_err();
        assert!(e.to_string().contains("TLSv1.2 or TLSv1.3"), "{e}");
        let e = parse_with("postgresql://u:s3cret@h:port/db", &[], None).unwrap_err();
        assert!(matches!(e, SettingsError::Malformed(_)), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn gss_and_compression_keys_that_ask_nothing_are_accepted() {
        let parsed = parse_with(
            "postgresql://h/db?gssencmode=disable&sslcompression=0&sslsni=0",
            &[],
            None,
        )
        .unwrap();
        assert!(!parsed.tls.sni);
        assert!(parse_with("host=h gssencmode=require", &[], None).is_err());
    }
}
