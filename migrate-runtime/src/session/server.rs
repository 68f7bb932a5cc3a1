//! Where the runner is: a primary or a read-only standby, PostgreSQL or a
//! compatible engine. Read in the same statement as the history, so that a
//! no-op start stays one statement.

use super::query::first_row;
use crate::Error;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

/// The columns the history statement reads beside the history (they
/// reference no table, and spell out `pg_catalog`: the history statement
/// runs with the tracking table's schema on the search_path).
pub(crate) const COLUMNS: &str = "pg_catalog.pg_is_in_recovery() AS s_recovery, \
     pg_catalog.current_setting('transaction_read_only') AS s_read_only, pg_catalog.version() AS s_version, \
     pg_catalog.to_regproc('citus_version') IS NOT NULL AS s_citus, pg_catalog.inet_server_addr() AS s_addr, \
     pg_catalog.inet_server_port() AS s_port, pg_catalog.current_database() AS s_database, \
     pg_catalog.pg_backend_pid() AS s_pid";

/// What the server said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Server {
    /// `pg_is_in_recovery()`: a standby.
    pub(crate) in_recovery: bool,
    /// `transaction_read_only`.
    pub(crate) read_only: bool,
    /// `version()`.
    pub(crate) version: String,
    /// `citus_version()` exists: the Citus extension is installed.
    pub(crate) citus: bool,
    /// Address and database, for messages.
    pub(crate) place: String,
    /// `pg_backend_pid()`.
    pub(crate) pid: i32,
}

/// The engine behind the PostgreSQL protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// PostgreSQL.
    PostgreSql,
    /// PostgreSQL with the Citus extension.
    Citus,
    /// CockroachDB: `pg_try_advisory_lock` always returns true, and DDL is
    /// not transactional with DML.
    CockroachDb,
    /// YugabyteDB: advisory locks only from 2.25 on behind a flag, and each
    /// DDL statement is its own transaction by default.
    YugabyteDb,
}

impl Engine {
    /// The engine a `version()` string and the Citus check name.
    pub(crate) fn of(version: &str, citus: bool) -> Engine {
        if version.contains("CockroachDB") {
            Engine::CockroachDb
        } else if version.contains("-YB-") {
            Engine::YugabyteDb
        } else if citus {
            Engine::Citus
        } else {
            Engine::PostgreSql
        }
    }

    /// Why session advisory locks cannot be trusted on this engine.
    pub(crate) fn no_session_lock(self) -> Option<&'static str> {
        match self {
            Engine::CockroachDb => Some("CockroachDB's pg_try_advisory_lock always returns true"),
            Engine::YugabyteDb => Some("YugabyteDB has no advisory locks unless 2.25+ runs with a flag"),
            Engine::PostgreSql | Engine::Citus => None,
        }
    }

    /// Whether a file runs one statement at a time, recorded after its last
    /// statement, because the engine's DDL is not transactional with DML.
    pub(crate) fn statementwise(self) -> bool {
        matches!(self, Engine::CockroachDb | Engine::YugabyteDb)
    }

    /// `SET LOCAL` statements each file's transaction starts with.
    pub(crate) fn settings(self) -> &'static str {
        match self {
            Engine::Citus => "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'; ",
            _ => "",
        }
    }
}

impl Server {
    /// The server columns of a history row, when the row has them.
    pub(crate) fn from_row(row: &SimpleQueryRow) -> Option<Server> {
        let text = |name: &str| row.try_get(name).ok().flatten();
        let database = text("s_database")?;
        // The address is NULL over a Unix socket.
        let place = match (text("s_addr"), text("s_port")) {
            (Some(addr), Some(port)) => format!("{addr}:{port}, database {database}"),
            _ => format!("local socket, database {database}"),
        };
        Some(Server {
            in_recovery: text("s_recovery")? == "t",
            read_only: text("s_read_only")? == "on",
            version: text("s_version")?.to_string(),
            citus: text("s_citus")? == "t",
            place,
            pid: text("s_pid")?.parse().ok()?,
        })
    }

    /// Reads the server on its own, when the history cannot be read.
    pub(crate) async fn probe(client: &Client) -> Result<Server, Error> {
        let messages = super::query::messages(client, &format!("SELECT {COLUMNS}"))
            .await
            .map_err(Error::db("asking the server what it is"))?;
        Ok(messages
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(row) => Server::from_row(row),
                _ => None,
            })
            .unwrap_or_default())
    }

    pub(crate) fn engine(&self) -> Engine {
        Engine::of(&self.version, self.citus)
    }

    /// Refuses a server that cannot take writes, before any lock or DDL.
    pub(crate) fn refuse_read_only(&self) -> Result<(), Error> {
        let why = if self.in_recovery {
            "is a read-only standby (pg_is_in_recovery() is true)"
        } else if self.read_only {
            "is read-only (transaction_read_only is on)"
        } else {
            return Ok(());
        };
        Err(Error::ReadOnly(format!(
            "the server at {} {why}; migrations must run on the primary: point the URL at it, or list \
             every host with target_session_attrs=read-write (postgresql://h1,h2/db?target_session_attrs=read-write)",
            self.place
        )))
    }
}

/// On Citus, migrations run on the coordinator only. Citus before 11 has
/// no `citus_is_coordinator()`; the check is then skipped.
pub(crate) async fn refuse_citus_worker(client: &Client, server: &Server) -> Result<(), Error> {
    let coordinator = match first_row(client, "SELECT citus_is_coordinator()").await {
        Ok(row) => row.first().cloned().flatten(),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_FUNCTION) => None,
        Err(e) => return Err(Error::db("asking Citus whether this node is the coordinator")(e)),
    };
    match coordinator.as_deref() {
        Some("f") => Err(Error::CitusWorker {
            place: server.place.clone(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_engine_from_its_version_string() {
        let pg = "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc";
        assert_eq!(Engine::of(pg, false), Engine::PostgreSql);
        assert_eq!(Engine::of(pg, true), Engine::Citus);
        let crdb = "CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu, built 2024/05/15 21:28:29, go1.22.2)";
        assert_eq!(Engine::of(crdb, false), Engine::CockroachDb);
        let yb = "PostgreSQL 11.2-YB-2.20.1.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 16.0.6";
        assert_eq!(Engine::of(yb, false), Engine::YugabyteDb);
        assert!(Engine::CockroachDb.no_session_lock().is_some() && Engine::YugabyteDb.statementwise());
        assert!(Engine::Citus.no_session_lock().is_none() && !Engine::Citus.statementwise());
    }

    #[test]
    fn refuses_standbys_and_read_only_servers_naming_them() {
        let server = |in_recovery, read_only| Server {
            in_recovery,
            read_only,
            version: String::new(),
            citus: false,
            place: "127.0.0.1:5433, database app".into(),
            pid: 1,
        };
        assert!(server(false, false).refuse_read_only().is_ok());
        let e = server(true, true).refuse_read_only().unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:5433, database app is a read-only standby"), "{e}");
        let e = server(false, true).refuse_read_only().unwrap_err().to_string();
        assert!(e.contains("is read-only (transaction_read_only is on)"), "{e}");
    }
}
