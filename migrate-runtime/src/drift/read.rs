//! The catalog reader: one statement, run under the pinned search_path,
//! that lists every object the migrations could have made, as rows of
//! (kind, name, attribute, value). Definitions come from the server's own
//! printers (`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_viewdef`,
//! `pg_get_triggerdef`, `format_type`, ...), which qualify every name
//! outside the search_path: `pg_catalog`, and a runner's target schema.

use crate::schema::{normalise, Attributes, ObjectId, ObjectKind, ReadOptions, Schema, OF};
use crate::session::query;
use crate::sql::{quote_ident, quote_literal, TableName};
use crate::Error;
use tokio_postgres::{Client, SimpleQueryMessage};

/// A schema and the server that printed its definitions.
pub(crate) struct Read {
    pub(crate) schema: Schema,
    /// `server_version`, such as `15.8 (Debian 15.8-0+deb12u1)`.
    pub(crate) version: String,
}

/// Reads the schema of `client`'s database, leaving out the tracking table
/// `tracking` and its lease table (in every schema when unqualified), the
/// system schemas, and whatever belongs to an extension. The objects of
/// `target` (a runner's [`schema`](crate::Runner::schema)) are named and
/// printed without it, so that every schema migrated by the set reads the
/// same: the target is read on the search_path after `pg_catalog`, as the
/// runner already trusts it to run the files.
pub(crate) async fn read(
    client: &Client,
    tracking: &TableName,
    target: Option<&str>,
    options: ReadOptions,
) -> Result<Read, Error> {
    let path = match target {
        Some(schema) => format!("SET LOCAL search_path = pg_catalog, {}, pg_temp; ", quote_ident(schema)),
        None => String::new(),
    };
    let sql = format!(
        "{path}SELECT current_setting('server_version'); {}",
        statement(tracking, target, options)
    );
    let messages = query::messages(client, &sql)
        .await
        .map_err(Error::db("reading the schema from the catalogs"))?;
    let mut schema = Schema::default();
    let mut version = String::new();
    for message in &messages {
        let SimpleQueryMessage::Row(row) = message else {
            continue;
        };
        if row.len() == 1 {
            version = row.get(0).unwrap_or_default().to_string();
            continue;
        }
        let (Some(kind), Some(name)) = (row.get(0), row.get(1)) else {
            continue;
        };
        let kind = ObjectKind::from_word(kind).ok_or_else(|| Error::UnexpectedReply {
            context: format!("reading the schema: the catalog query returned an object of kind `{kind}`"),
        })?;
        let attributes: &mut Attributes = schema
            .objects
            .entry(ObjectId {
                kind,
                name: name.to_string(),
            })
            .or_default();
        if let (Some(attribute), Some(value)) = (row.get(2), row.get(3)) {
            attributes.insert(attribute.to_string(), normalise(value));
        }
    }
    Ok(Read { schema, version })
}

/// A role's name, or `(reading role)` for the role reading.
fn role(oid: &str) -> String {
    format!("CASE WHEN pg_get_userbyid({oid}) = current_user THEN '{READER}' ELSE pg_get_userbyid({oid})::text END")
}

/// How the role reading shows in owners and privileges, so that a scratch
/// database built by another role compares equal.
const READER: &str = "(reading role)";

/// An ACL as sorted `grantee:PRIVILEGE` items (`*` when grantable), the
/// defaults for `kind` (as `acldefault` takes it) when never granted or
/// revoked; `none` when empty.
fn acl(column: &str, kind: &str, owner: &str) -> String {
    format!(
        "COALESCE((SELECT string_agg(item, ', ' ORDER BY item) FROM \
         (SELECT CASE x.grantee WHEN 0 THEN 'PUBLIC' ELSE {grantee} END || ':' || x.privilege_type \
         || CASE WHEN x.is_grantable THEN '*' ELSE '' END AS item \
         FROM aclexplode(COALESCE({column}, acldefault({kind}, {owner}))) x) y), 'none')",
        grantee = role("x.grantee")
    )
}

/// The `owner` and `privileges` rows, when asked for.
fn privileges(options: ReadOptions, owner: &str, acl_column: &str, kind: &str) -> String {
    if options.privileges {
        format!(
            ", ('owner', {}), ('privileges', {})",
            role(owner),
            acl(acl_column, kind, owner)
        )
    } else {
        String::new()
    }
}

/// A trigger's or rule's `ev_enabled`/`tgenabled` in words.
fn firing(column: &str) -> String {
    format!(
        "CASE {column} WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled on replicas only' \
         ELSE 'enabled always' END"
    )
}

/// The qualified name of `collation` when it is not `type`'s own, else NULL.
fn collation(collation: &str, of_type: &str) -> String {
    format!(
        "CASE WHEN {collation} <> 0 AND {collation} <> (SELECT typcollation FROM pg_type WHERE oid = {of_type}) THEN \
         (SELECT quote_ident(n.nspname) || '.' || quote_ident(o.collname) FROM pg_collation o \
         JOIN pg_namespace n ON n.oid = o.collnamespace WHERE o.oid = {collation}) END"
    )
}

fn statement(tracking: &TableName, target: Option<&str>, options: ReadOptions) -> String {
    let (trigger_state, rule_state) = (firing("t.tgenabled"), firing("r.ev_enabled"));
    let column_collation = collation("a.attcollation", "a.atttypid");
    let domain_collation = collation("t.typcollation", "t.typbasetype");
    // These printers qualify the table whatever the search_path says.
    let on_table = |definition: &str| match target {
        Some(schema) => format!(
            "replace({definition}, ' ON ' || quote_ident({}) || '.', ' ON ')",
            quote_literal(schema)
        ),
        None => definition.to_string(),
    };
    let (index_definition, trigger_definition, rule_definition) = (
        on_table("pg_get_indexdef(x.indexrelid)"),
        on_table("pg_get_triggerdef(t.oid)"),
        on_table("pg_get_ruledef(r.oid)"),
    );
    // A target schema is read alone.
    let only_target = match target {
        Some(schema) => format!("AND s.nspname = {}", quote_literal(schema)),
        None => String::new(),
    };
    let target = target.map_or("NULL".to_string(), quote_literal);
    let skip_names = format!(
        "ARRAY[{}, {}]",
        quote_literal(&tracking.name),
        quote_literal(&format!("{}_lock", tracking.name))
    );
    let skip_schema = match &tracking.schema {
        Some(schema) => format!("AND n.nspname = {}", quote_literal(schema)),
        None => String::new(),
    };
    let rel_privileges = privileges(
        options,
        "c.relowner",
        "c.relacl",
        "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\"",
    );
    // A column has privileges of its own only when granted some.
    let column_privileges = if options.privileges {
        format!(
            ", ('privileges', CASE WHEN a.attacl IS NOT NULL AND cardinality(a.attacl) > 0 THEN {} END)",
            acl("a.attacl", "'c'", "c.relowner")
        )
    } else {
        String::new()
    };
    let schema_privileges = privileges(options, "s.nspowner", "s.nspacl", "'n'");
    let function_privileges = privileges(options, "p.proowner", "p.proacl", "'f'");
    let type_privileges = privileges(options, "t.typowner", "t.typacl", "'T'");
    format!(
        r#"
WITH member AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
ns AS (
  SELECT s.oid, quote_ident(s.nspname) AS q,
    CASE WHEN s.nspname = {target} THEN '' ELSE quote_ident(s.nspname) || '.' END AS p
  FROM pg_namespace s
  WHERE s.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') {only_target}
    AND s.nspname !~ '^pg_(toast_)?temp_'
    AND NOT EXISTS (SELECT FROM member m WHERE m.classid = 'pg_namespace'::regclass AND m.objid = s.oid)),
skip AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND c.relname = ANY({skip_names}) {skip_schema}),
rel AS (
  SELECT c.*, ns.p || quote_ident(c.relname) AS q,
    CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'c' THEN 'type ' ELSE 'table ' END
      || ns.p || quote_ident(c.relname) AS of
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.oid NOT IN (SELECT oid FROM skip)
    AND NOT EXISTS (SELECT FROM member m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid)
    AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM skip))),
fn AS (
  SELECT p.*, ns.p || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')' AS q
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  WHERE NOT EXISTS (SELECT FROM member m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)),
typ AS (
  SELECT t.*, ns.p || quote_ident(t.typname) AS q
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
  WHERE t.typtype IN ('e', 'r', 'd', 'c')
    AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    AND NOT EXISTS (SELECT FROM member m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid))
SELECT kind, name, attribute, value FROM (
  SELECT 'schema' AS kind, ns.q AS name, v.attribute, v.value
  FROM ns JOIN pg_namespace s ON s.oid = ns.oid
  CROSS JOIN LATERAL (VALUES (NULL, NULL){schema_privileges}) v(attribute, value)
  WHERE ns.p <> ''
UNION ALL
  SELECT 'extension', quote_ident(e.extname), v.attribute, v.value
  FROM pg_extension e
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('schema', quote_ident((SELECT nspname FROM pg_namespace WHERE oid = e.extnamespace))),
    ('version', e.extversion)) v(attribute, value)
UNION ALL
  SELECT 'table', c.q, v.attribute, v.value FROM rel c
  CROSS JOIN LATERAL (VALUES (NULL, NULL),
    ('kind', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' ELSE 'foreign table' END),
    ('persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END),
    ('partition key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END),
    ('partition of', CASE WHEN c.relispartition THEN
       (SELECT p.q FROM pg_inherits i JOIN rel p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) END),
    ('partition bound', CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END),
    ('inherits', CASE WHEN NOT c.relispartition THEN
       (SELECT string_agg(p.q, ', ' ORDER BY i.inhseqno) FROM pg_inherits i JOIN rel p ON p.oid = i.inhparent
        WHERE i.inhrelid = c.oid) END),
    ('row security', CASE WHEN c.relforcerowsecurity AND c.relrowsecurity THEN 'enabled and forced'
       WHEN c.relrowsecurity THEN 'enabled' WHEN c.relforcerowsecurity THEN 'disabled (forced when enabled)' ELSE 'disabled' END),
    ('options', array_to_string(c.reloptions, ', '))
    {rel_privileges}) v(attribute, value)
  WHERE c.relkind IN ('r', 'p', 'f')
UNION ALL
  SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, c.q, v.attribute, v.value FROM rel c
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('definition', pg_get_viewdef(c.oid)),
    ('options', array_to_string(c.reloptions, ', ')) {rel_privileges}) v(attribute, value)
  WHERE c.relkind IN ('v', 'm')
UNION ALL
  SELECT 'column', c.q || '.' || quote_ident(a.attname), v.attribute, v.value
  FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('{OF}', c.of),
    ('type', format_type(a.atttypid, a.atttypmod)),
    ('null', CASE WHEN c.relkind = 'c' THEN NULL WHEN a.attnotnull THEN 'not allowed' ELSE 'allowed' END),
    ('default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END),
    ('generated', CASE a.attgenerated WHEN 's' THEN 'stored: ' WHEN 'v' THEN 'virtual: ' END || pg_get_expr(d.adbin, d.adrelid)),
    ('identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END),
    ('collation', {column_collation})
    {column_privileges}) v(attribute, value)
  WHERE c.relkind IN ('r', 'p', 'f', 'c')
UNION ALL
  SELECT 'constraint', c.q || '.' || quote_ident(k.conname), v.attribute, v.value
  FROM pg_constraint k JOIN rel c ON c.oid = k.conrelid
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('{OF}', c.of),
    ('definition', regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', '')),
    ('state', CASE WHEN k.convalidated THEN 'valid' ELSE 'not valid' END)) v(attribute, value)
  WHERE k.contype::text <> 'n'
UNION ALL
  SELECT 'index', i.q, v.attribute, v.value
  FROM pg_index x JOIN rel i ON i.oid = x.indexrelid JOIN rel c ON c.oid = x.indrelid
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('{OF}', c.of), ('definition', {index_definition}),
    ('state', CASE WHEN x.indisvalid THEN 'valid' ELSE 'invalid' END)) v(attribute, value)
UNION ALL
  SELECT 'sequence', c.q, v.attribute, v.value
  FROM rel c JOIN pg_sequence s ON s.seqrelid = c.oid
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('type', format_type(s.seqtypid, NULL)),
    ('start', s.seqstart::text), ('increment', s.seqincrement::text), ('minimum', s.seqmin::text),
    ('maximum', s.seqmax::text), ('cache', s.seqcache::text), ('cycle', CASE WHEN s.seqcycle THEN 'yes' ELSE 'no' END),
    ('owned by', (SELECT t.q || '.' || quote_ident(a.attname) FROM pg_depend d JOIN rel t ON t.oid = d.refobjid
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
         AND d.deptype IN ('a', 'i') LIMIT 1))
    {rel_privileges}) v(attribute, value)
UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, p.q, v.attribute, v.value
  FROM fn p LEFT JOIN pg_aggregate g ON g.aggfnoid = p.oid
  CROSS JOIN LATERAL (VALUES (NULL, NULL),
    ('arguments', pg_get_function_arguments(p.oid)),
    ('returns', pg_get_function_result(p.oid)),
    ('language', CASE WHEN p.prokind <> 'a' THEN (SELECT lanname::text FROM pg_language WHERE oid = p.prolang) END),
    ('volatility', CASE WHEN p.prokind <> 'a' THEN CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END END),
    ('strict', CASE WHEN p.prokind NOT IN ('a', 'p') THEN CASE WHEN p.proisstrict THEN 'yes' ELSE 'no' END END),
    ('security', CASE WHEN p.prokind <> 'a' THEN CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END END),
    ('parallel', CASE WHEN p.prokind NOT IN ('a', 'p') THEN CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END END),
    ('window', CASE WHEN p.prokind = 'w' THEN 'yes' END),
    ('settings', array_to_string(p.proconfig, ', ')),
    ('body', CASE WHEN p.prokind = 'a' THEN NULL WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END),
    ('state function', g.aggtransfn::regprocedure::text),
    ('state type', CASE WHEN g.aggfnoid IS NOT NULL THEN format_type(g.aggtranstype, NULL) END),
    ('final function', CASE WHEN g.aggfinalfn <> 0 THEN g.aggfinalfn::regprocedure::text END),
    ('initial value', g.agginitval)
    {function_privileges}) v(attribute, value)
UNION ALL
  SELECT 'trigger', c.q || '.' || quote_ident(t.tgname), v.attribute, v.value
  FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('{OF}', c.of), ('definition', {trigger_definition}),
    ('state', {trigger_state})) v(attribute, value)
  WHERE NOT t.tgisinternal
UNION ALL
  SELECT 'rule', c.q || '.' || quote_ident(r.rulename), v.attribute, v.value
  FROM pg_rewrite r JOIN rel c ON c.oid = r.ev_class
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('{OF}', c.of), ('definition', {rule_definition}),
    ('state', {rule_state})) v(attribute, value)
  WHERE r.rulename <> '_RETURN'
UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, t.q, v.attribute, v.value FROM typ t
  CROSS JOIN LATERAL (VALUES (NULL, NULL),
    ('kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'r' THEN 'range' WHEN 'c' THEN 'composite' END),
    ('labels', CASE WHEN t.typtype = 'e' THEN
       (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END),
    ('subtype', (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)),
    ('type', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END),
    ('null', CASE WHEN t.typtype = 'd' THEN CASE WHEN t.typnotnull THEN 'not allowed' ELSE 'allowed' END END),
    ('default', CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END),
    ('collation', CASE WHEN t.typtype = 'd' THEN {domain_collation} END),
    ('constraints', CASE WHEN t.typtype = 'd' THEN
       (SELECT string_agg(quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), '; ' ORDER BY k.conname)
        FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype::text <> 'n') END)
    {type_privileges}) v(attribute, value)
UNION ALL
  SELECT 'policy', c.q || '.' || quote_ident(p.polname), v.attribute, v.value
  FROM pg_policy p JOIN rel c ON c.oid = p.polrelid
  CROSS JOIN LATERAL (VALUES (NULL, NULL), ('{OF}', c.of),
    ('mode', CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END),
    ('command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END),
    ('roles', (SELECT string_agg(r, ', ' ORDER BY r) FROM
       (SELECT CASE o WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(o)) END AS r FROM unnest(p.polroles) o) y)),
    ('using', pg_get_expr(p.polqual, p.polrelid)),
    ('with check', pg_get_expr(p.polwithcheck, p.polrelid))) v(attribute, value)
) x
WHERE attribute IS NULL OR value IS NOT NULL
"#
    )
}
