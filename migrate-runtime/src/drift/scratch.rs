//! Where the expected schema is built: a database the caller names, or a
//! template on a throwaway cluster kept between runs, so that a second
//! `diff` clones it instead of applying the migrations again.

use super::read::{self, Read};
use crate::error::ScratchError;
use crate::schema::{ObjectKind, ReadOptions};
use crate::session::{history, query};
use crate::sql::quote_literal;
use crate::{pool_from_url, redact_url, Error, Runner};
use std::fmt;

/// The database [`Runner::diff`] applies the migrations to.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scratch {
    /// This database: empty, or holding these migrations from an earlier
    /// `diff` (then only what is pending is applied). It is left migrated.
    /// For machines without server binaries, such as a production container.
    Url(String),
    /// A template database on a throwaway cluster started from the local
    /// server binaries and kept in a folder under the temporary directory
    /// (`migrate-scratch-…`), named after the migrations like the test
    /// templates: only the first `diff` of a set applies it. Needs the
    /// `testing` feature.
    Throwaway,
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scratch::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
            Scratch::Throwaway => f.write_str("Throwaway"),
        }
    }
}

/// The expected schema, and where it was built.
pub(super) struct Built {
    pub(super) read: Read,
    pub(super) described: String,
}

impl Scratch {
    pub(super) async fn build(&self, runner: &Runner, options: ReadOptions) -> Result<Built, Error> {
        // The schema a runner migrates may not exist yet on a scratch database.
        let runner = match runner.schema_target() {
            Some(_) => runner.clone().create_schema(true),
            None => runner.clone(),
        };
        match self {
            Scratch::Url(url) => at_url(&runner, url, options).await,
            Scratch::Throwaway => throwaway(&runner, options).await,
        }
    }
}

async fn at_url(runner: &Runner, url: &str, options: ReadOptions) -> Result<Built, Error> {
    let pool = pool_from_url(url, 2)?;
    let shown = redact_url(url);
    let not_empty = |found: String| {
        Error::Scratch(ScratchError::NotEmpty {
            database: shown.clone(),
            found,
        })
    };
    let client = runner.connect(&pool).await?;
    let table = history::qualify(&client, &runner.table_name()).await?;
    match history::read(&client, &table).await? {
        None => {
            let before = read::read(&client, &table, runner.schema_target(), options).await?;
            let foreign = before.schema.objects.keys().find(|id| match id.kind {
                ObjectKind::Extension => false,
                ObjectKind::Schema => id.name != "public",
                _ => true,
            });
            if let Some(id) = foreign {
                return Err(not_empty(format!("it holds {id} and no history of these migrations")));
            }
        }
        // Only a database an earlier diff made is reused: any other one
        // with this history may be the very database being compared.
        Some(_) if marked(&client, &table).await? => {
            if let Err(e) = runner.verify(&pool).await {
                return Err(not_empty(format!("it holds a history of other migrations ({e})")));
            }
        }
        Some(_) => {
            return Err(not_empty(format!(
                "it holds the history table {table}, which `diff` did not make"
            )))
        }
    }
    drop(client);
    let report = runner.run(&pool).await?;
    let client = runner.connect(&pool).await?;
    query::execute(&client, &format!("COMMENT ON TABLE {table} IS {}", quote_literal(MARK)))
        .await
        .map_err(Error::db("marking the scratch database"))?;
    let read = read::read(&client, &runner.table_name(), runner.schema_target(), options).await?;
    let applied = match report.applied.len() {
        0 => "no migration pending".to_string(),
        n => format!("{n} migration(s) applied now"),
    };
    Ok(Built {
        described: format!("{shown} ({applied})"),
        read,
    })
}

/// The comment on the tracking table of a scratch database `diff` made.
const MARK: &str = "scratch database of migrate diff: reused by the next diff";

async fn marked(client: &tokio_postgres::Client, table: &crate::TableName) -> Result<bool, Error> {
    let sql = format!(
        "SELECT obj_description(to_regclass({}), 'pg_class') = {}",
        quote_literal(&table.to_string()),
        quote_literal(MARK)
    );
    Ok(query::first_value(client, &sql)
        .await
        .map_err(Error::db("looking at the scratch database's history"))?
        .as_deref()
        == Some("t"))
}

#[cfg(not(feature = "testing"))]
async fn throwaway(_: &Runner, _: ReadOptions) -> Result<Built, Error> {
    Err(Error::Scratch(ScratchError::NoCluster(
        "this program was built without migrate-runtime's `testing` feature".into(),
    )))
}

#[cfg(feature = "testing")]
async fn throwaway(runner: &Runner, options: ReadOptions) -> Result<Built, Error> {
    use crate::sql::quote_ident;
    use crate::testing::{server::Server, template};

    let no_cluster = |why: String| Error::Scratch(ScratchError::NoCluster(why));
    let (cluster, server, folder) = tokio::task::spawn_blocking(move || {
        let bin = throwaway_pg::bin_dir().map_err(|e| no_cluster(e.to_string()))?;
        let folder = std::env::temp_dir().join(folder_name(&bin));
        let cluster_options = throwaway_pg::Options {
            data_dir: Some(folder.clone()),
            ..Default::default()
        };
        let cluster = throwaway_pg::Cluster::start(&cluster_options).map_err(|e| no_cluster(e.to_string()))?;
        let server = Server::open(cluster.url("postgres"))?;
        Ok::<_, Error>((cluster, server, folder))
    })
    .await
    .map_err(|e| no_cluster(format!("starting it panicked: {e}")))??;
    let template = template::name(runner);
    let built = template::ensure(&server, runner, &template, 5).await?;
    // Read in place: nothing else uses this cluster while its folder is
    // locked, and reading the catalogs changes nothing a clone would copy.
    let allow = |allow: bool| {
        format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            quote_ident(&template)
        )
    };
    server
        .admin()
        .batch_execute(&allow(true))
        .await
        .map_err(Error::db("opening the scratch template to read it"))?;
    let read = async {
        let pool = pool_from_url(&server.database_url(&template), 1)?;
        let client = runner.connect(&pool).await?;
        read::read(&client, &runner.table_name(), runner.schema_target(), options).await
    }
    .await;
    server
        .admin()
        .batch_execute(&allow(false))
        .await
        .map_err(Error::db("closing the scratch template"))?;
    drop(server);
    let _ = tokio::task::spawn_blocking(move || drop(cluster)).await;
    let read = read?;
    let how = if built { "built now" } else { "cached" };
    Ok(Built {
        described: format!(
            "template {template} on a throwaway PostgreSQL {} in {} ({how})",
            read.version,
            folder.display()
        ),
        read,
    })
}

/// `migrate-scratch-<uid>-<hash of the binaries' folder>`: one cluster per
/// user and server version, since a data folder only starts with the major
/// version that made it.
#[cfg(feature = "testing")]
fn folder_name(bin: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let hash = migrate_core::to_hex(&migrate_core::checksum(&bin.to_string_lossy()));
    format!("migrate-scratch-{uid}-{}", &hash[..8])
}
