//! What the runner trusts besides the migration files: its tables, and
//! the schema a schema target's files run in. A relation it reads or
//! writes must be a plain table owned by the migrating role (or a role it
//! belongs to, or a superuser), without user triggers or rules: a view,
//! or another role's table with a trigger, runs its owner's code as the
//! migrating role. The checks read only `pg_catalog`, with every name
//! spelled out, so they hold whatever the search_path.

use crate::table::{quote_literal, TableName};
use crate::Error;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

/// The select list naming, for the relation `regclass` (a SQL expression
/// of type `regclass`, `NULL` when missing), the columns [`Relation::from_row`]
/// reads. Use as `SELECT {columns} FROM {from(regclass)}`.
pub(crate) const COLUMNS: &str = "n.nspname::pg_catalog.text AS r_schema, c.relkind::pg_catalog.text AS r_kind, \
     pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text AS r_owner, \
     (c.relowner OPERATOR(pg_catalog.=) u.oid OR o.rolsuper \
      OR (NOT u.rolsuper AND pg_catalog.pg_has_role(c.relowner, 'USAGE'))) AS r_owned, \
     (SELECT pg_catalog.string_agg(t.tgname::pg_catalog.text, ', ' ORDER BY t.tgname) FROM pg_catalog.pg_trigger t \
      WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid AND NOT t.tgisinternal) AS r_triggers, \
     c.relhasrules AS r_rules, CURRENT_USER::pg_catalog.text AS r_user";

/// The `FROM` list for [`COLUMNS`]: one row, all `NULL` but `r_user` when
/// `regclass` is.
pub(crate) fn from(regclass: &str) -> String {
    format!(
        "(SELECT {regclass} AS oid) x LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.oid \
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
         LEFT JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) c.relowner \
         LEFT JOIN pg_catalog.pg_roles u ON u.rolname OPERATOR(pg_catalog.=) CURRENT_USER"
    )
}

/// `pg_catalog.to_regclass('<table>')`, resolved through the search_path
/// when `table` is unqualified.
pub(crate) fn regclass(table: &TableName) -> String {
    format!("pg_catalog.to_regclass({})", quote_literal(&table.to_string()))
}

/// The SQL condition, over a row of [`COLUMNS`] named `r`, that the
/// relation is one to trust ([`Relation::check`] passes).
pub(crate) const TRUSTED: &str =
    "(r.r_kind OPERATOR(pg_catalog.=) 'r' AND r.r_owned AND r.r_triggers IS NULL AND NOT r.r_rules)";

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
    /// The relation in a row of [`COLUMNS`]; `None` when it does not exist
    /// (or the row has no such columns).
    pub(crate) fn from_row(row: &SimpleQueryRow) -> Option<Relation> {
        let text = |name: &str| row.try_get(name).ok().flatten().map(str::to_string);
        Some(Relation {
            schema: text("r_schema")?,
            kind: text("r_kind")?,
            owner: text("r_owner")?,
            owned: text("r_owned")?.as_str() == "t",
            triggers: text("r_triggers"),
            rules: text("r_rules")?.as_str() == "t",
            user: text("r_user")?,
        })
    }

    /// Refuses `table` (this relation, found in [`Relation::schema`]) unless
    /// it is one to trust, saying how to make it so.
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

/// `table` as the catalog describes it; `None` when it does not exist.
pub(crate) async fn relation(client: &Client, table: &TableName) -> Result<Option<Relation>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {}", from(&regclass(table)));
    Ok(super::query::messages(client, &sql)
        .await?
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Relation::from_row(row),
            _ => None,
        }))
}

/// Refuses the schema target `schema` unless it belongs to the migrating
/// role, a role it belongs to, a superuser, or a role in `trusted`: the
/// files run with it first on the search_path, so its owner's functions
/// and operators would run as the migrating role.
pub(crate) async fn check_schema(client: &Client, schema: &str, trusted: &[String]) -> Result<(), Error> {
    let trusted: Vec<String> = trusted.iter().map(|r| quote_literal(r)).collect();
    let sql = format!(
        "SELECT pg_get_userbyid(n.nspowner)::text, CURRENT_USER::text, \
         n.nspowner = u.oid OR o.rolsuper OR (NOT u.rolsuper AND pg_has_role(n.nspowner, 'USAGE')) \
         OR o.rolname = ANY (ARRAY[{}]::name[]) \
         FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner JOIN pg_roles u ON u.rolname = CURRENT_USER \
         WHERE n.nspname = {}",
        trusted.join(", "),
        quote_literal(schema)
    );
    let row = super::query::first_row(client, &sql)
        .await
        .map_err(Error::db(format!("checking who owns the schema {schema}")))?;
    match row.as_slice() {
        [Some(owner), Some(user), Some(trusted)] if trusted != "t" => Err(Error::Untrusted {
            object: format!("the schema {}", crate::table::quote_ident(schema)),
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
