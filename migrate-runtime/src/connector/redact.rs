//! A connection string as messages, spans and `Debug` show it: rebuilt
//! from its parse, so that no form of the string can carry its password
//! through.

use super::settings::{self, Split};
use super::SettingsError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio_postgres::config::{Host, TargetSessionAttrs};

/// A user, host or database name in a URL: all but `-._~` escaped.
const NAME: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// A query value: file paths keep their `/`.
const VALUE: &AsciiSet = &NAME.remove(b'/');

/// `settings` (a URL or a libpq key=value string, in any form libpq
/// takes) as a `postgresql://` URL for messages: user, hosts, ports,
/// database, `hostaddr`, `target_session_attrs` and the TLS keys it gives,
/// with `***` for a password. Nothing else of the string is shown; a
/// string that does not parse shows only why.
pub fn redact_url(settings: &str) -> String {
    match settings::split(settings) {
        Ok(split) => render(&split),
        Err(SettingsError::Malformed(why)) => format!("<connection string that does not parse: {why}>"),
        Err(e) => format!("<connection string that does not parse: {e}>"),
    }
}

fn render(split: &Split) -> String {
    let pg = &split.pg;
    let mut url = String::from("postgresql://");
    if pg.get_user().is_some() || pg.get_password().is_some() {
        url += &encode(pg.get_user().unwrap_or(""), NAME);
        if pg.get_password().is_some() {
            url += ":***";
        }
        url.push('@');
    }
    let hosts: Vec<String> = pg.get_hosts().iter().map(host).collect();
    let ports: Vec<String> = pg.get_ports().iter().map(u16::to_string).collect();
    let mut query: Vec<(&str, String)> = Vec::new();
    let authority: Vec<String> = match (hosts.len(), ports.len()) {
        (_, 0) => hosts,
        (1.., 1) => hosts.iter().map(|h| format!("{h}:{}", ports[0])).collect(),
        (h, p) if h == p => hosts.iter().zip(&ports).map(|(h, p)| format!("{h}:{p}")).collect(),
        _ => {
            query.push(("port", ports.join(",")));
            hosts
        }
    };
    url += &authority.join(",");
    if let Some(db) = pg.get_dbname() {
        url.push('/');
        url += &encode(db, NAME);
    }
    if !pg.get_hostaddrs().is_empty() {
        let addrs: Vec<String> = pg.get_hostaddrs().iter().map(ToString::to_string).collect();
        query.push(("hostaddr", addrs.join(",")));
    }
    match pg.get_target_session_attrs() {
        TargetSessionAttrs::ReadWrite => query.push(("target_session_attrs", "read-write".into())),
        TargetSessionAttrs::ReadOnly => query.push(("target_session_attrs", "read-only".into())),
        _ => {}
    }
    query.extend(split.tls_keys().map(|(key, value)| (key, encode(value, VALUE))));
    for (i, (key, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url += &format!("{key}={value}");
    }
    url
}

fn host(host: &Host) -> String {
    match host {
        Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
        Host::Tcp(name) => encode(name, NAME),
        Host::Unix(path) => encode(&path.to_string_lossy(), NAME),
    }
}

fn encode(text: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(text, set).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form of the same connection shows the same way.
    #[test]
    fn every_form_shows_user_host_and_database_without_the_password() {
        let shown = "postgresql://u:***@h:5432/db";
        for text in [
            "postgresql://u:s3cr3t@h:5432/db",
            "postgres://u:s3cr3t@h/db",
            "postgresql://u@h/db?password=s3cr3t",
            "postgresql://h/db?user=u&password=s3cr3t",
            "postgresql://u@h:5432/db?application_name=a&password=s3cr3t&connect_timeout=3",
            "host=h port=5432 user=u password=s3cr3t dbname=db",
            "host=h port=5432 user=u password='s3cr3t' dbname=db",
            "host = h port = 5432 user = u password = s3cr3t dbname = db",
            "  dbname=db password=s3cr3t user=u host=h port=5432  ",
        ] {
            assert_eq!(redact_url(text), shown, "{text}");
        }
    }

    #[test]
    fn passwords_with_url_delimiters_never_show() {
        let url = "postgresql://u:***@h:5432/db";
        let pairs = "postgresql://u:***@h/db";
        for (text, shown) in [
            ("postgresql://u:s3%2Fcr%40et%3Ax%3F%23@h/db", url),
            ("postgresql://u:s3/cr3t@h/db", url),
            ("postgresql://u:s3?cr3t@h/db", url),
            ("postgresql://u:s3:cr3t@h/db", url),
            ("postgresql://u:s3#cr3t@h/db", url),
            ("postgresql://u:s3/cr?x=1#y@h/db", url),
            ("postgresql://u@h/db?password=s3%26cr%3Dx%23y", url),
            ("postgresql://u@h/db?password=s3/cr:x?y#z", url),
            ("host=h user=u dbname=db password='s3 cr\\'x=y'", pairs),
            ("host=h user=u dbname=db password=s3\\ cr", pairs),
        ] {
            assert_eq!(redact_url(text), shown, "{text}");
        }
    }

    #[test]
    fn an_at_sign_that_would_move_a_password_into_the_host_is_refused() {
        for text in [
            "postgresql://u:s3@cr3t@h/db",
            "postgresql://u:s3@cr3t/x@h/db",
            "postgresql://h/db?password=s3@cr3t",
            "postgresql://h?password=s3@cr3t",
        ] {
            let shown = redact_url(text);
            assert!(
                shown.starts_with("<connection string that does not parse: an `@` does not end"),
                "{text}: {shown}"
            );
            assert!(!shown.contains("cr3t"), "{text}: {shown}");
        }
        assert_eq!(
            redact_url("postgresql://u:s3%40cr3t@h/db?application_name=a@b"),
            "postgresql://u:***@h:5432/db"
        );
    }

    #[test]
    fn several_hosts_sockets_and_tls_keys_show() {
        assert_eq!(
            redact_url("postgresql://u:pw@h1,h2:5433/db?target_session_attrs=read-write&sslmode=require"),
            "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=read-write&sslmode=require"
        );
        assert_eq!(
            redact_url("host=h1,h2 port=5433 user=u password=pw sslmode=verify-full sslrootcert='/etc/my ca.crt'"),
            "postgresql://u:***@h1:5433,h2:5433?sslmode=verify-full&sslrootcert=/etc/my%20ca.crt"
        );
        assert_eq!(
            redact_url("host=h1,h2,h3 port=1,2 password=pw"),
            "postgresql://:***@h1,h2,h3?port=1,2"
        );
        assert_eq!(
            redact_url("host=/tmp port=5433 user=u dbname=db"),
            "postgresql://u@%2Ftmp:5433/db"
        );
        assert_eq!(
            redact_url("postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql/db"),
            "postgresql://u:***@%2Fvar%2Frun%2Fpostgresql:5432/db"
        );
        assert_eq!(
            redact_url("postgresql://u:pw@[::1]:5433/db?hostaddr=127.0.0.1"),
            "postgresql://u:***@[::1]:5433/db?hostaddr=127.0.0.1"
        );
        assert_eq!(redact_url("port=5433 dbname=db"), "postgresql:///db?port=5433");
    }

    #[test]
    fn strings_that_do_not_parse_show_only_why() {
        for (text, why) in [
            ("postgresql://u:s3cr3t@h:notaport/db", "invalid value for option `port`"),
            (
                "host=h password=my s3cr3t",
                "item 3 of the key=value string has no `=value`",
            ),
            (
                "host=h password=my s3cr3t=x",
                "item 3 of the key=value string is not a connection setting",
            ),
            (
                "host=h password='s3cr3t",
                "the value of `password` opens a quote that is never closed",
            ),
            (
                "host=h s3cr3t='x",
                "the value of item 2 of the key=value string opens a quote",
            ),
            (
                "postgresql://u@h/db?s3cr3t=x",
                "query parameter 1 is not a connection setting",
            ),
            ("postgresql://u@h/db?sslpassword=s3cr3t", "sslpassword is not supported"),
            ("host=h sslpassword=s3cr3t", "sslpassword is not supported"),
            ("host=h passfile=/home/u/.pgpass", "passfile is not supported"),
        ] {
            let shown = redact_url(text);
            assert!(shown.starts_with("<connection string that does not parse: "), "{shown}");
            assert!(shown.contains(why), "{text}: {shown}");
            assert!(!shown.contains("s3cr3t") && !shown.contains("pgpass"), "{shown}");
        }
    }
}
