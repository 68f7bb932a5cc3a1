//! What the runner trusts besides the migration files: its tables, and
//! the schema a schema target's files run in. A relation it reads or
//! writes must be a plain table owned by the migrating role (or a role it
//! belongs to, or a superuser), without user triggers or rules: a view,
//! or another role's table with a trigger, runs its owner's code as the
//! migrating role. The checks read only `pg_catalog`, with every name
//! spelled out, so they hold whatever the search_path.

use crate::sql::{quote_literal, TableName};
use crate::Error;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

/// The SQL condition that the role `owner` (an `oid` expression) is one to
/// trust: the current role, a role it belongs to, or a superuser. Role 10
/// is the bootstrap superuser, whose members are the superusers; a
/// superuser belongs to every role, so for one only those count. Catalog
/// caches answer it, with no catalog table for the planner to open.
fn trusted_owner(owner: &str) -> String {
    format!(
        "CASE WHEN {owner} OPERATOR(pg_catalog.=) pg_catalog.quote_ident(CURRENT_USER)::pg_catalog.regrole THEN true \
         WHEN pg_catalog.pg_has_role({owner}, 10::pg_catalog.oid, 'USAGE') THEN true \
         WHEN pg_catalog.pg_has_role(10::pg_catalog.oid, 'USAGE') THEN false \
         ELSE pg_catalog.pg_has_role({owner}, 'USAGE') END"
    )
}

/// The select list naming, for the relation `x.oid` (see [`from`]), the
/// columns [`Relation::from_row`] reads: enough to know that reading it
/// runs no one else's code. `r_schema` is quoted where it must be, as
/// `regnamespace` prints it. It reads `pg_class` alone, since every catalog
/// the planner opens costs a fresh backend time on each start.
pub(crate) fn columns() -> String {
    format!(
        "c.relnamespace::pg_catalog.regnamespace::pg_catalog.text AS r_schema, c.relkind::pg_catalog.text AS r_kind, \
         pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text AS r_owner, {} AS r_owned, \
         c.relhasrules AS r_rules, CURRENT_USER::pg_catalog.text AS r_user",
        trusted_owner("c.relowner")
    )
}

/// The user triggers of the relation, for a relation to be written:
/// append to [`columns`].
pub(crate) const TRIGGERS: &str = "(SELECT pg_catalog.string_agg(t.tgname::pg_catalog.text, ', ' ORDER BY t.tgname) \
     FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid AND NOT t.tgisinternal) AS r_triggers";

/// The `FROM` list for [`columns`]: one row, all `NULL` but `r_user` when
/// `regclass` is.
pub(crate) fn from(regclass: &str) -> String {
    format!("(SELECT {regclass} AS oid) x LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.oid")
}

/// `pg_catalog.to_regclass('<table>')`, resolved through the search_path
/// when `table` is unqualified.
pub(crate) fn regclass(table: &TableName) -> String {
    format!("pg_catalog.to_regclass({})", quote_literal(&table.to_string()))
}

/// The SQL condition, over a row of [`columns`] named `r`, that reading
/// the relation runs no one else's code: a plain table of a trusted owner
/// without rules (triggers fire on writes only).
pub(crate) const READABLE: &str = "(r.r_kind OPERATOR(pg_catalog.=) 'r' AND r.r_owned AND NOT r.r_rules)";

/// A relation as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) schema: String,
    kind: String,
    owner: String,
    owned: bool,
    triggers: Option<String>,
    rules: bool,
    user: String,
}

impl Relation {
    /// The relation in a row of [`columns`] (and [`TRIGGERS`], when it
    /// is to be written); `None` when it does not exist (or the row has no
    /// such columns).
    pub(crate) fn from_row(row: &SimpleQueryRow) -> Option<Relation> {
        let text = |name: &str| row.try_get(name).ok().flatten().map(str::to_string);
        Some(Relation {
            schema: unquote(&text("r_schema")?),
            kind: text("r_kind")?,
            owner: text("r_owner")?,
            owned: text("r_owned")?.as_str() == "t",
            triggers: text("r_triggers"),
            rules: text("r_rules")?.as_str() == "t",
            user: text("r_user")?,
        })
    }

    /// Refuses `table` (this relation, found in [`Relation::schema`]) unless
    /// it is one to trust, saying how to make it so. Triggers count when the
    /// row described them ([`TRIGGERS`]).
    pub(crate) fn check(&self, table: &TableName) -> Result<(), Error> {
        let table = &table.in_schema(&self.schema);
        let why = if self.kind != "r" {
            let kind = match self.kind.as_str() {
                "v" => "a view",
                "m" => "a materialized view",
                "p" => "a partitioned table",
                "f" => "a foreign table",
                _ => "not a plain table",
            };
            format!(
                "it is {kind}, which can run code of its owner ({}) as {}; drop it, or pick another table name",
                self.owner, self.user
            )
        } else if !self.owned {
            format!(
                "it is owned by {owner}, not by {user} (the role migrating) or a role {user} belongs to, so its \
                 owner could make it run code as {user}; if {owner} is to be trusted, run \
                 `ALTER TABLE {table} OWNER TO {user}` (or `GRANT {owner} TO {user}`)",
                owner = self.owner,
                user = self.user
            )
        } else if let Some(triggers) = &self.triggers {
            format!(
                "it has the trigger(s) {triggers}, which would run on every change to it as {}; drop them \
                 (`DROP TRIGGER name ON {table}`)",
                self.user
            )
        } else if self.rules {
            format!(
                "it has rules, which would rewrite every change to it as {}; drop them (`DROP RULE name ON {table}`)",
                self.user
            )
        } else {
            return Ok(());
        };
        Err(Error::Untrusted {
            object: table.to_string(),
            why,
        })
    }
}

/// `table` as the catalog describes it, triggers included; `None` when it
/// does not exist.
pub(crate) async fn relation(client: &Client, table: &TableName) -> Result<Option<Relation>, tokio_postgres::Error> {
    let sql = format!("SELECT {}, {TRIGGERS} FROM {}", columns(), from(&regclass(table)));
    Ok(super::query::messages(client, &sql)
        .await?
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Relation::from_row(row),
            _ => None,
        }))
}

/// A schema name as `regnamespace` prints it (quoted when it must be), as
/// the catalog stores it.
pub(crate) fn unquote(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_string(),
    }
}

/// Refuses the schema target `schema` unless it belongs to the migrating
/// role, a role it belongs to, a superuser, or a role in `trusted`: the
/// files run with it first on the search_path, so its owner's functions
/// and operators would run as the migrating role.
pub(crate) async fn check_schema(client: &Client, schema: &str, trusted: &[String]) -> Result<(), Error> {
    let trusted: Vec<String> = trusted.iter().map(|r| quote_literal(r)).collect();
    let sql = format!(
        "SELECT pg_get_userbyid(n.nspowner)::text, CURRENT_USER::text, \
         {} OR pg_get_userbyid(n.nspowner) = ANY (ARRAY[{}]::name[]) \
         FROM pg_namespace n WHERE n.nspname = {}",
        trusted_owner("n.nspowner"),
        trusted.join(", "),
        quote_literal(schema)
    );
    let row = super::query::first_row(client, &sql)
        .await
        .map_err(Error::db(format!("checking who owns the schema {schema}")))?;
    match row.as_slice() {
        [Some(owner), Some(user), Some(trusted)] if trusted != "t" => Err(Error::Untrusted {
            object: format!("the schema {}", crate::sql::quote_ident(schema)),
            why: format!(
                "it is owned by {owner}, not by {user} (the role migrating) or a role {user} belongs to; the \
                 files run with it first on the search_path, so functions or operators {owner} creates there \
                 would run as {user}. If {owner} is to be trusted, say so (`--trust-owner {owner}`, \
                 `Runner::trust_owner`)"
            ),
        }),
        _ => Ok(()),
    }
}
