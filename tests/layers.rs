//! The top-level modules of each library crate form layers: no cycle of
//! `crate::` references between them. The checker itself is tested on small
//! crates first, so that it is known to be able to fail.

use migrate_tests::layers::check;
use migrate_tests::write_files;
use std::path::Path;

#[test]
fn top_level_modules_of_each_library_form_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cycles = Vec::new();
    for name in ["migrate-core", "migrate-runtime", "migrate-macros", "throwaway-pg"] {
        match check(&root.join(name)) {
            Ok(layers) => {
                println!("{name}, lowest layer first:");
                for (i, layer) in layers.iter().enumerate() {
                    println!("  {i}: {}", layer.join(", "));
                }
            }
            Err(report) => cycles.push(report),
        }
    }
    assert!(cycles.is_empty(), "\n{}", cycles.join("\n"));
}

/// A crate named `krate` in a temporary folder, holding `files` under `src/`.
fn krate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("krate/src");
    std::fs::create_dir_all(&src).unwrap();
    write_files(&src, files);
    dir
}

#[test]
fn a_cycle_is_reported_with_a_reference_per_edge() {
    let dir = krate(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b/mod.rs", "mod inner;\npub struct B;\n"),
        ("b/inner.rs", "fn f() -> super::super::c::C {\n    todo!()\n}\n"),
        ("c.rs", "pub struct C;\n\nfn f(_: super::a::A) {}\n"),
    ]);
    let report = check(&dir.path().join("krate")).unwrap_err();
    assert_eq!(
        report,
        "krate: the top-level modules form a cycle\n  cycle: a → b → c → a\n    \
         a → b: krate/src/a.rs:1: crate::b::B\n    \
         b → c: krate/src/b/inner.rs:1: super::super::c::C\n    \
         c → a: krate/src/c.rs:3: super::a::A\n"
    );
}

#[test]
fn modules_without_a_cycle_pass_in_layers() {
    let dir = krate(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", "pub fn a() -> crate::b::B { crate::c::c() }\n"),
        ("b.rs", "pub type B = crate::c::C;\n"),
        (
            "c.rs",
            "pub struct C;\npub fn c() -> C { C }\n#[cfg(test)]\nmod tests {\n    use crate::a::a;\n}\n",
        ),
    ]);
    let layers = check(&dir.path().join("krate")).unwrap();
    assert_eq!(layers, [["c"], ["b"], ["a"]]);
}

#[test]
fn a_reexport_in_lib_rs_leads_to_its_module() {
    let dir = krate(&[
        (
            "lib.rs",
            "mod a;\nmod b;\npub use a::{inner::{A as Renamed}, Other};\npub struct Root;\n",
        ),
        (
            "a.rs",
            "pub mod inner {\n    pub struct A;\n}\npub struct Other(crate::b::B);\n",
        ),
        ("b.rs", "pub struct B;\n\nuse crate::{\n    Renamed,\n    Root,\n};\n"),
    ]);
    let report = check(&dir.path().join("krate")).unwrap_err();
    assert_eq!(
        report,
        "krate: the top-level modules form a cycle\n  cycle: a → b → a\n    \
         a → b: krate/src/a.rs:4: crate::b::B\n    \
         b → a: krate/src/b.rs:4: crate::Renamed\n"
    );
}
