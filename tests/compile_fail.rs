//! Every rule of the migration file contract fails `cargo build` with the
//! message checked in next to each case (`tests/ui/*.stderr`).

#[test]
fn bad_migration_folders_do_not_compile() {
    // trybuild compiles the cases in a crate of its own; tell the macro
    // where this crate's fixture folders are.
    std::env::set_var("MIGRATE_MACROS_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"));
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.compile_fail("ui/syntax/*.rs");
    cases.pass("ui/pass/*.rs");
}
