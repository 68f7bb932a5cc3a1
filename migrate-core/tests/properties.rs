//! Hostile input: the lexer, splitter and checks never panic, lose no byte,
//! and point only inside the file.

use migrate_core::lexer::tokenize;
use migrate_core::split::split;
use proptest::prelude::*;

/// Text built from the characters that matter to SQL lexing, plus
/// multi-byte characters and keywords, so literals, comments, dollar tags
/// and BEGIN ATOMIC blocks open and close often.
fn sqlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'"),
        Just("''"),
        Just("\""),
        Just("$"),
        Just("$$"),
        Just("$a$"),
        Just("$1"),
        Just("E'"),
        Just("e'"),
        Just("U&'"),
        Just("B'"),
        Just("X'"),
        Just("\\"),
        Just("\\'"),
        Just("--"),
        Just("/*"),
        Just("*/"),
        Just("-"),
        Just("/"),
        Just("*"),
        Just(";"),
        Just("("),
        Just(")"),
        Just(" "),
        Just("\n"),
        Just("\r\n"),
        Just("\t"),
        Just("CREATE FUNCTION f() "),
        Just("BEGIN ATOMIC "),
        Just("BEGIN "),
        Just("CASE "),
        Just("END"),
        Just("COMMIT"),
        Just("SELECT 1"),
        Just("x"),
        Just("é"),
        Just("☃"),
        Just("日本"),
        Just("1.5e3"),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

/// [`sqlish`] with the pieces of routines, so that bodies of PL/pgSQL and
/// SQL functions and of `DO` blocks compile, or fail, often.
#[cfg(feature = "syntax-check")]
fn plpgsqlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => sqlish(),
        1 => prop_oneof![
            Just("DO $$ "),
            Just("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ "),
            Just("CREATE PROCEDURE p() AS 'BEGIN "),
            Just("CREATE FUNCTION s() RETURNS int LANGUAGE sql AS $$ "),
            Just("' LANGUAGE sql;"),
            Just("' LANGUAGE plpgsql;"),
            Just("$$;"),
            Just("DECLARE n int; "),
            Just("IF n > 0 THEN "),
            Just("END IF; "),
            Just("LOOP "),
            Just("n := n + "),
            Just("RETURN "),
            Just("PERFORM "),
            Just("RAISE NOTICE '%', n; "),
        ]
        .prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

proptest! {
    // PROPTEST_CASES=100000 for a long run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000)
    ))]

    #[test]
    fn tokens_cover_the_input_exactly(src in sqlish()) {
        if let Ok(tokens) = tokenize(&src) {
            let mut at = 0;
            for t in &tokens {
                prop_assert_eq!(t.start, at);
                prop_assert!(t.end > t.start);
                prop_assert!(src.is_char_boundary(t.end));
                at = t.end;
            }
            prop_assert_eq!(at, src.len());
            let joined: String = tokens.iter().map(|t| t.text(&src)).collect();
            prop_assert_eq!(joined, src);
        }
    }

    #[test]
    fn statements_are_ordered_disjoint_and_made_of_tokens(src in sqlish()) {
        if let Ok(s) = split(&src) {
            let mut last_end = 0;
            for st in &s.statements {
                prop_assert!(st.start >= last_end && st.end > st.start && st.end <= src.len());
                prop_assert_eq!(st.start, s.tokens[st.tokens.start].start);
                prop_assert_eq!(st.end, s.tokens[st.tokens.end - 1].end);
                prop_assert!(!st.text(&src).trim().is_empty());
                last_end = st.end;
            }
        }
    }

    #[test]
    fn errors_point_inside_the_file(src in sqlish()) {
        if let Err(e) = tokenize(&src) {
            prop_assert!(e.start() < src.len());
            prop_assert!(src.is_char_boundary(e.start()));
        }
        if let Err(problems) = migrate_core::check_source("f.sql", Some(1), src.as_bytes()) {
            let lines = src.split('\n').count() as u32;
            for p in problems {
                let (line, column) = p.position.expect("content problems have a position");
                prop_assert!(line >= 1 && line <= lines, "{} in {:?}", p, src);
                let text = src.split('\n').nth(line as usize - 1).unwrap_or("");
                prop_assert!(column >= 1 && column as usize <= text.chars().count().max(1), "{} in {:?}", p, src);
            }
        }
    }

    #[cfg(feature = "syntax-check")]
    #[test]
    fn syntax_errors_point_inside_the_file(src in plpgsqlish()) {
        if let Ok(file) = migrate_core::check_source("f.sql", Some(1), src.as_bytes()) {
            if let Some(p) = migrate_core::syntax::diagnostic("f.sql", &file) {
                let (line, column) = p.position.expect("a syntax error has a position");
                let text = file.text.split('\n').nth(line as usize - 1);
                prop_assert!(text.is_some(), "{} in {:?}", p, src);
                let characters = text.unwrap_or_default().trim_end_matches('\r').chars().count();
                prop_assert!(column >= 1 && column as usize <= characters + 1, "{} in {:?}", p, src);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = migrate_core::check_source("f.sql", Some(1), &bytes);
    }
}
