//! Valid files of every tricky construct compile, and are embedded byte for
//! byte (a leading BOM apart) with the statements psql would send.

use migrate_runtime::{embed_migrations, Migrations, Statement, StatementKind};

static TRICKY: Migrations = embed_migrations!("fixtures/tricky");
static KINDS: Migrations = embed_migrations!("fixtures/kinds");

#[test]
fn every_file_is_embedded_byte_for_byte() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tricky");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    on_disk.sort();
    let embedded: Vec<&str> = TRICKY.iter().map(|m| m.file_name()).collect();
    assert_eq!(embedded, on_disk);
    for m in TRICKY.iter() {
        let bytes = std::fs::read(dir.join(m.file_name())).unwrap();
        let expected = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
        assert_eq!(m.sql().as_bytes(), expected, "{}", m.file_name());
    }
}

#[test]
fn statements_are_the_ones_psql_would_send() {
    let counts: Vec<(&str, usize)> = TRICKY.iter().map(|m| (m.file_name(), m.statements().len())).collect();
    assert_eq!(
        counts,
        vec![
            ("001_last_statement_without_semicolon.sql", 2),
            ("002_placeholder.sql", 1),
            ("003_keywords_in_comments.sql", 1),
            ("004_string_literals.sql", 2),
            ("005_dollar_bodies.sql", 2),
            ("006_begin_atomic.sql", 2),
            ("007_do_block_and_procedure.sql", 2),
            ("008_bom_and_crlf.sql", 2),
            ("009_non_ascii_comments.sql", 1),
            ("010_semicolons_in_parentheses.sql", 2),
            ("011_concurrent_index.sql", 1),
            ("012_quoted_identifiers_and_parameters.sql", 4),
        ]
    );
    let last = TRICKY.iter().next().unwrap().statements().last().unwrap();
    assert_eq!(last.text(), "SELECT 1");
    assert_eq!(last.line_col(), (2, 1));
    let atomic = TRICKY.iter().nth(5).unwrap().statements().next().unwrap();
    assert!(atomic.text().ends_with("END;"), "{}", atomic.text());
}

#[test]
fn directives_and_checksums_are_embedded() {
    let flagged: Vec<&str> = TRICKY
        .iter()
        .filter(|m| m.no_transaction())
        .map(|m| m.file_name())
        .collect();
    assert_eq!(flagged, vec!["011_concurrent_index.sql"]);
    let crlf = TRICKY.iter().find(|m| m.file_name() == "008_bom_and_crlf.sql").unwrap();
    assert_eq!(
        crlf.checksum(),
        migrate_core::checksum(&crlf.sql().replace("\r\n", "\n"))
    );
}

type Described = Vec<(usize, &'static str, StatementKind)>;

fn described(statements: impl Iterator<Item = Statement>) -> Described {
    statements.map(|s| (s.offset(), s.text(), s.kind())).collect()
}

/// Every file of `m` with its statements: versioned, down, repeatable.
fn files(m: Migrations) -> Vec<(String, &'static str, Described)> {
    let versioned = m
        .iter()
        .map(|m| (m.file_name().to_string(), m.sql(), described(m.statements())));
    let downs = m
        .iter()
        .filter_map(|m| m.down())
        .map(|d| (d.file_name(), d.sql(), described(d.statements())));
    let repeatables = m
        .repeatables()
        .map(|r| (r.file_name().to_string(), r.sql(), described(r.statements())));
    versioned.chain(downs).chain(repeatables).collect()
}

#[test]
fn the_macro_embeds_what_from_dir_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (embedded, dir) in [(&TRICKY, "fixtures/tricky"), (&KINDS, "fixtures/kinds")] {
        let read = Migrations::from_dir(&root.join(dir)).unwrap();
        assert_eq!(files(*embedded), files(read), "{dir}");
    }
}

#[test]
fn downs_and_repeatables_are_embedded_with_the_kinds_of_their_statements() {
    let index = StatementKind::CreateIndexConcurrently {
        index: Some("Items_Name".into()),
        table: Some("public.items".into()),
    };
    let m = KINDS.find("002_index.sql").unwrap();
    let kinds: Vec<StatementKind> = m.statements().map(|s| s.kind()).collect();
    assert_eq!(kinds, [index, StatementKind::ReindexConcurrently]);

    let down = KINDS.iter().next().unwrap().down().unwrap();
    assert_eq!(down.file_name(), "001_items.down.sql");
    assert!(down.sql().starts_with("-- migrate: allow"), "the BOM is dropped");
    assert_eq!(
        described(down.statements()),
        [
            (38, "DROP TABLE IF EXISTS items;", StatementKind::Atomic),
            (
                67,
                "DO $$ BEGIN RAISE NOTICE 'dropped'; END $$;",
                StatementKind::Procedural
            ),
        ]
    );
    assert_eq!(down.statements().nth(1).unwrap().line_col(), (3, 1));

    let repeatable = KINDS.repeatables().next().unwrap();
    let kinds: Vec<StatementKind> = repeatable.statements().map(|s| s.kind()).collect();
    assert_eq!(kinds, [StatementKind::Atomic, StatementKind::Procedural]);
}
