//! The environment that makes a libpq program connect as a connection
//! string says, so that the string need not be on its command line, where
//! `ps` shows it to every user.

use super::settings::{self, Defaults, Parsed, Roots, TlsVersion};
use super::SettingsError;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use tokio_postgres::config::{ChannelBinding, Host, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs};

/// The libpq variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
/// `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`...) that make a libpq
/// program such as `pg_dump` or `psql` connect where and how `settings`
/// connects, TLS included: give them to its process instead of the string,
/// and remove the other `PG*` variables it would inherit.
pub fn libpq_env(settings: &str) -> Result<Vec<(&'static str, OsString)>, SettingsError> {
    Ok(variables(&settings::parse(settings, &Defaults::process())?))
}

fn variables(parsed: &Parsed) -> Vec<(&'static str, OsString)> {
    let (pg, tls) = (&parsed.pg, &parsed.tls);
    let word = |word: Option<&str>| word.map(OsString::from);
    let list = |items: Vec<String>| (!items.is_empty()).then(|| OsString::from(items.join(",")));
    let version = |v: TlsVersion| match v {
        TlsVersion::V1_2 => "TLSv1.2",
        TlsVersion::V1_3 => "TLSv1.3",
    };
    let env = vec![
        ("PGHOST", hosts(pg.get_hosts())),
        (
            "PGHOSTADDR",
            list(pg.get_hostaddrs().iter().map(ToString::to_string).collect()),
        ),
        ("PGPORT", list(pg.get_ports().iter().map(ToString::to_string).collect())),
        ("PGUSER", word(pg.get_user())),
        (
            "PGPASSWORD",
            pg.get_password().map(|p| OsStr::from_bytes(p).to_os_string()),
        ),
        ("PGDATABASE", word(pg.get_dbname())),
        ("PGOPTIONS", word(pg.get_options())),
        ("PGAPPNAME", word(pg.get_application_name())),
        (
            "PGCONNECT_TIMEOUT",
            pg.get_connect_timeout().map(|t| t.as_secs().to_string().into()),
        ),
        (
            "PGTARGETSESSIONATTRS",
            word(match pg.get_target_session_attrs() {
                TargetSessionAttrs::ReadWrite => Some("read-write"),
                TargetSessionAttrs::ReadOnly => Some("read-only"),
                _ => None,
            }),
        ),
        (
            "PGLOADBALANCEHOSTS",
            word((pg.get_load_balance_hosts() == LoadBalanceHosts::Random).then_some("random")),
        ),
        ("PGSSLMODE", word(Some(tls.mode.as_str()))),
        (
            "PGCHANNELBINDING",
            word(Some(match pg.get_channel_binding() {
                ChannelBinding::Disable => "disable",
                ChannelBinding::Require => "require",
                _ => "prefer",
            })),
        ),
        (
            "PGSSLNEGOTIATION",
            word((pg.get_ssl_negotiation() == SslNegotiation::Direct).then_some("direct")),
        ),
        (
            "PGSSLROOTCERT",
            match &tls.roots {
                Roots::None => None,
                Roots::File(path) => Some(path.into()),
                Roots::System => word(Some("system")),
            },
        ),
        ("PGSSLCERT", tls.client.as_ref().map(|(cert, _)| cert.into())),
        ("PGSSLKEY", tls.client.as_ref().map(|(_, key)| key.into())),
        ("PGSSLSNI", word((!tls.sni).then_some("0"))),
        ("PGSSLMINPROTOCOLVERSION", word(Some(version(tls.min_version)))),
        ("PGSSLMAXPROTOCOLVERSION", word(Some(version(tls.max_version)))),
        // This connector never uses GSSAPI encryption; neither may pg_dump.
        ("PGGSSENCMODE", word(Some("disable"))),
    ];
    env.into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
}

/// `PGHOST`: names and socket folders, by commas.
fn hosts(hosts: &[Host]) -> Option<OsString> {
    let mut joined = OsString::new();
    for (i, host) in hosts.iter().enumerate() {
        if i > 0 {
            joined.push(",");
        }
        match host {
            Host::Tcp(name) => joined.push(name),
            Host::Unix(path) => joined.push(path),
        }
    }
    (!hosts.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables of `settings`, whatever the `PGSSL*` variables and
    /// `~/.postgresql` of the test process.
    fn env(settings: &str) -> Vec<(&'static str, String)> {
        let defaults = Defaults {
            env: &|_| None,
            home: None,
        };
        variables(&settings::parse(settings, &defaults).unwrap())
            .into_iter()
            .map(|(k, v)| (k, v.into_string().unwrap()))
            .collect()
    }

    fn get<'a>(env: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_form_gives_the_same_variables() {
        for text in [
            "postgresql://u:s3%2Fcr%40t@h:5433/db?sslmode=disable",
            "postgresql://u:s3/cr%40t@h:5433/db?sslmode=disable",
            "postgresql://u@h:5433/db?password=s3/cr@t&sslmode=disable",
            "host=h port=5433 user=u password='s3/cr@t' dbname=db sslmode=disable",
        ] {
            let env = env(text);
            assert_eq!(get(&env, "PGHOST"), Some("h"), "{text}");
            assert_eq!(get(&env, "PGPORT"), Some("5433"), "{text}");
            assert_eq!(get(&env, "PGUSER"), Some("u"), "{text}");
            assert_eq!(get(&env, "PGPASSWORD"), Some("s3/cr@t"), "{text}");
            assert_eq!(get(&env, "PGDATABASE"), Some("db"), "{text}");
            assert_eq!(get(&env, "PGSSLMODE"), Some("disable"), "{text}");
            assert_eq!(get(&env, "PGSSLROOTCERT"), None, "{text}");
        }
    }

    #[test]
    fn hosts_sockets_and_tls_files_carry_over() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "x").unwrap();
        let text = format!(
            "host=/tmp,db.example.com port=5432,6432 user=u sslmode=verify-full sslrootcert='{}' \
             channel_binding=require sslsni=0 target_session_attrs=read-write connect_timeout=7",
            ca.display()
        );
        let env = env(&text);
        assert_eq!(get(&env, "PGHOST"), Some("/tmp,db.example.com"));
        assert_eq!(get(&env, "PGPORT"), Some("5432,6432"));
        assert_eq!(get(&env, "PGPASSWORD"), None);
        assert_eq!(get(&env, "PGSSLMODE"), Some("verify-full"));
        assert_eq!(get(&env, "PGSSLROOTCERT"), Some(ca.to_str().unwrap()));
        assert_eq!(get(&env, "PGCHANNELBINDING"), Some("require"));
        assert_eq!(get(&env, "PGSSLSNI"), Some("0"));
        assert_eq!(get(&env, "PGTARGETSESSIONATTRS"), Some("read-write"));
        assert_eq!(get(&env, "PGCONNECT_TIMEOUT"), Some("7"));
        assert_eq!(get(&env, "PGSSLMINPROTOCOLVERSION"), Some("TLSv1.2"));
        let e = libpq_env("postgresql://u:s3cr3t@h:port/db").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }
}
