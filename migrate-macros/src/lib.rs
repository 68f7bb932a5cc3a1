//! `embed_migrations!`: reads a migrations folder at compile time, applies
//! every check of `migrate-core`, and expands to a `migrate_runtime::Migrations`
//! value (usable in a `static`), or to one `compile_error!` per problem.
//! Lint findings become compiler warnings, or errors with `deny_warnings`.
//!
//! Use it through `migrate_runtime::embed_migrations!`. The test attribute
//! `#[migrate_runtime::test]` lives here too, in `test_attr`.
//!
//! What it refuses and warns about, with examples and fixes:
//! [the guide's file rules](https://docs.rs/migrate-runtime/latest/migrate_runtime/guide/file_rules/index.html).

#![warn(missing_docs)]

mod codegen;
mod test_attr;

use migrate_core::lint::summary;
use proc_macro::TokenStream;
use std::path::PathBuf;
use syn::parse::{Parse, ParseStream};
use syn::{parse_macro_input, Ident, LitStr, Token};

/// `embed_migrations!("migrations")`: the folder, relative to the calling
/// crate's `Cargo.toml`. `embed_migrations!("migrations", deny_warnings)`
/// turns lint warnings into errors. Files up to the folder's
/// `lint-baseline` are not linted; more than a few findings are printed as
/// one summary line per lint.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let args = parse_macro_input!(input as Args);
    let path = args.path;
    let dir = manifest_dir().join(path.value());
    let folder = match migrate_core::load_dir(&dir, &path.value()) {
        Err(problem) => return codegen::errors(&[problem], path.span()).into(),
        Ok(folder) => folder,
    };
    let mut warnings: Vec<_> = folder.warnings().cloned().collect();
    if warnings.len() > summary::SUMMARY_ABOVE {
        warnings = summary::summarize(&warnings, &path.value());
    }
    if args.deny_warnings {
        let all: Vec<_> = folder.problems.iter().chain(&warnings).cloned().collect();
        if !all.is_empty() {
            return codegen::errors(&all, path.span()).into();
        }
    } else if !folder.problems.is_empty() {
        return codegen::errors(&folder.problems, path.span()).into();
    }
    codegen::migrations(&folder, &dir, &warnings, path.span()).into()
}

/// `#[migrate_runtime::test(MIGRATIONS)]` on
/// `async fn name(pool: deadpool_postgres::Pool)`: a test on a fresh
/// database holding `MIGRATIONS`. Use it through `migrate_runtime::test`
/// (feature `testing`).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}

struct Args {
    path: LitStr,
    deny_warnings: bool,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let path = input.parse()?;
        let mut deny_warnings = false;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let option: Ident = input.parse()?;
            if option != "deny_warnings" {
                return Err(syn::Error::new(
                    option.span(),
                    "unknown option; the only option is `deny_warnings`",
                ));
            }
            deny_warnings = true;
            input.parse::<Option<Token![,]>>()?;
        }
        Ok(Args { path, deny_warnings })
    }
}

/// The calling crate's manifest folder. trybuild builds its test cases in a
/// generated crate, so it passes the real one in `MIGRATE_MACROS_MANIFEST_DIR`.
fn manifest_dir() -> PathBuf {
    std::env::var_os("MIGRATE_MACROS_MANIFEST_DIR")
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
        .unwrap_or_default()
}
