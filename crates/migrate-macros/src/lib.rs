//! `embed_migrations!`: reads a migrations folder at compile time, applies
//! every check of `migrate-core`, and expands to a `migrate_runtime::Migrations`
//! value (usable in a `static`), or to one `compile_error!` per problem.
//!
//! Use it through `migrate_runtime::embed_migrations!`.

mod codegen;

use proc_macro::TokenStream;
use std::path::PathBuf;
use syn::{parse_macro_input, LitStr};

/// `embed_migrations!("migrations")`: the folder, relative to the calling
/// crate's `Cargo.toml`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let path = parse_macro_input!(input as LitStr);
    let dir = manifest_dir().join(path.value());
    match migrate_core::load_dir(&dir, &path.value()) {
        Err(problem) => codegen::errors(&[problem], path.span()),
        Ok(folder) if !folder.problems.is_empty() => codegen::errors(&folder.problems, path.span()),
        Ok(folder) => codegen::migrations(&folder, &dir, path.span()),
    }
    .into()
}

/// The calling crate's manifest folder. trybuild builds its test cases in a
/// generated crate, so it passes the real one in `MIGRATE_MACROS_MANIFEST_DIR`.
fn manifest_dir() -> PathBuf {
    std::env::var_os("MIGRATE_MACROS_MANIFEST_DIR")
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
        .unwrap_or_default()
}
