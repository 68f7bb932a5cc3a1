//! Tokens for a checked folder, or for its problems.

use migrate_core::{Diagnostic, Folder};
use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;
use std::path::Path;

/// One `compile_error!` per problem, all pointing at the folder argument.
pub fn errors(problems: &[Diagnostic], span: Span) -> TokenStream {
    let errors = problems.iter().map(|p| syn::Error::new(span, p).to_compile_error());
    quote! {{ #(#errors)* }}
}

/// A `Migrations` value. The SQL is embedded with `include_str!` on each
/// file, so editing or removing a file makes cargo rebuild the caller; all
/// files share one string and one offset table, so the data needs no
/// per-migration relocations.
pub fn migrations(folder: &Folder, dir: &Path) -> TokenStream {
    let paths = folder.migrations.iter().map(|m| m.path.to_string_lossy().into_owned());
    let names: String = folder.migrations.iter().map(|m| m.file_name.as_str()).collect();
    let (mut text_end, mut name_end, mut statements_end) = (0usize, 0usize, 0usize);
    let mut statements = Vec::new();
    let entries = folder
        .migrations
        .iter()
        .map(|m| {
            text_end += m.file.text.len() + if m.file.bom { 3 } else { 0 };
            name_end += m.file_name.len();
            statements_end += m.file.statements.len();
            statements.extend(m.file.statements.iter().map(|s| {
                let (start, end) = (u32_literal(s.start), u32_literal(s.end));
                quote!((#start, #end))
            }));
            let version = Literal::u64_suffixed(m.version);
            let (t, n, s) = (
                u32_literal(text_end),
                u32_literal(name_end),
                u32_literal(statements_end),
            );
            let checksum = Literal::byte_string(&m.file.checksum);
            let (bom, no_transaction) = (m.file.bom, m.file.no_transaction);
            quote! {
                ::migrate_runtime::__private::Entry {
                    version: #version, text_end: #t, name_end: #n, statements_end: #s,
                    checksum: *#checksum, bom: #bom, no_transaction: #no_transaction,
                }
            }
        })
        .collect::<Vec<_>>();
    let dir = dir.to_string_lossy();
    quote! {{
        const EMBEDDED: &::migrate_runtime::__private::Embedded = &::migrate_runtime::__private::Embedded {
            text: ::core::concat!(#(::core::include_str!(#paths)),*),
            names: #names,
            entries: &[#(#entries),*],
            statements: &[#(#statements),*],
            source_dir: if ::core::cfg!(debug_assertions) { ::core::option::Option::Some(#dir) } else { ::core::option::Option::None },
        };
        ::migrate_runtime::Migrations::__embedded(EMBEDDED)
    }}
}

fn u32_literal(n: usize) -> Literal {
    Literal::u32_suffixed(u32::try_from(n).expect("migrations larger than 4 GiB cannot be embedded"))
}
