//! Tokens for a checked folder, or for its problems.

use migrate_core::{layout, Diagnostic, Folder};
use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use std::path::{Path, PathBuf};

/// One `compile_error!` per problem, all pointing at the folder argument.
pub fn errors(problems: &[Diagnostic], span: Span) -> TokenStream {
    let errors = problems.iter().map(|p| syn::Error::new(span, p).to_compile_error());
    quote! {{ #(#errors)* }}
}

/// A compiler warning on stable Rust: using a `#[deprecated]` item makes
/// rustc print its note, at the span of the use (the folder argument).
fn warning(diagnostic: &Diagnostic, span: Span) -> TokenStream {
    let note = diagnostic.to_string();
    quote_spanned! {span=>
        {
            #[deprecated(note = #note)]
            struct MigrationLint;
            let _ = MigrationLint;
        }
    }
}

/// A `Migrations` value in the layout of [`migrate_core::layout`]. The SQL
/// is embedded with `include_str!` on each file, and the lint baseline is
/// read with `include_str!`, so editing or removing either makes cargo
/// rebuild the caller even without a build script.
pub fn migrations(folder: &Folder, dir: &Path, warnings: &[Diagnostic], span: Span) -> TokenStream {
    let packed = match layout::pack(folder) {
        Ok(packed) => packed,
        Err(e) => return errors(&[Diagnostic::error(dir.to_string_lossy(), e)], span),
    };
    let migrations = section(&packed.migrations, folder.migrations.iter().map(|m| &m.path));
    let downs = section(&packed.downs, folder.downs.iter().map(|d| &d.path));
    let repeatables = section(&packed.repeatables, folder.repeatables.iter().map(|r| &r.path));
    let digest = packed.digest;
    let dir = dir.to_string_lossy();
    let warnings = warnings.iter().map(|w| warning(w, span));
    let baseline = folder.baseline.as_ref().map(|b| {
        let path = b.path.to_string_lossy();
        quote! { const _: &str = ::core::include_str!(#path); }
    });
    let irreversible = &packed.irreversible;
    let replaced = &packed.replaced;
    let squashes = match packed.squashes {
        Some((from, through)) => quote! { ::core::option::Option::Some((#from, #through)) },
        None => quote! { ::core::option::Option::None },
    };
    quote! {{
        #(#warnings)*
        #baseline
        const EMBEDDED: &::migrate_runtime::__private::Embedded = &::migrate_runtime::__private::Embedded {
            migrations: #migrations,
            downs: #downs,
            repeatables: #repeatables,
            digest: #digest,
            source_dir: if ::core::cfg!(debug_assertions) { ::core::option::Option::Some(#dir) } else { ::core::option::Option::None },
            irreversible: &[#(#irreversible),*],
            squashes: #squashes,
            replaced: &[#(#replaced),*],
        };
        ::migrate_runtime::Migrations::__embedded(EMBEDDED)
    }}
}

/// A `Section` whose text is the `include_str!` of each of its files, at
/// `paths`, which the packed text equals.
fn section<'a>(packed: &layout::Section, paths: impl Iterator<Item = &'a PathBuf>) -> TokenStream {
    let paths = paths.map(|p| p.to_string_lossy().into_owned());
    let (names, objects) = (&packed.names, &packed.objects);
    let index = Literal::byte_string(&packed.index);
    let statements = Literal::byte_string(&packed.statements);
    quote! {
        ::migrate_runtime::__private::Section {
            text: ::core::concat!(#(::core::include_str!(#paths)),*),
            names: #names,
            index: #index,
            statements: #statements,
            objects: #objects,
        }
    }
}
