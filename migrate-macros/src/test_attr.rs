//! `#[migrate_runtime::test(MIGRATIONS)]`: turns
//! `async fn name(pool: Pool) { body }` into a `#[test] fn name()` that
//! hands the body to `migrate_runtime::testing::__run`, which does the work.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;

const USAGE: &str =
    "write the test as `#[migrate_runtime::test(MIGRATIONS)] async fn name(pool: deadpool_postgres::Pool) { ... }`";

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    parse(args, item).unwrap_or_else(|e| e.to_compile_error())
}

fn parse(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if args.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("name the migrations the test needs: {USAGE}"),
        ));
    }
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let mut i = 0;
    let mut attrs = TokenStream::new();
    while let (Some(TokenTree::Punct(hash)), Some(TokenTree::Group(group))) = (tokens.get(i), tokens.get(i + 1)) {
        if hash.as_char() != '#' {
            break;
        }
        if let Some(test) = test_attribute(group.stream()) {
            return Err(syn::Error::new(
                group.span(),
                format!("remove `#[{test}]`: `#[migrate_runtime::test]` already makes this a test and runs it"),
            ));
        }
        attrs.extend(tokens[i..i + 2].iter().cloned());
        i += 2;
    }
    let mut head = TokenStream::new();
    let mut is_async = false;
    while let Some(token) = tokens.get(i) {
        match token {
            TokenTree::Ident(id) if id == "fn" => break,
            TokenTree::Ident(id) if id == "async" => is_async = true,
            other => head.extend([other.clone()]),
        }
        i += 1;
    }
    let fn_span = tokens.get(i).map_or_else(Span::call_site, TokenTree::span);
    let Some(TokenTree::Ident(name)) = tokens.get(i + 1) else {
        return Err(syn::Error::new(fn_span, format!("expected a function: {USAGE}")));
    };
    if !is_async {
        return Err(syn::Error::new(
            name.span(),
            format!("the test must be an `async fn`: {USAGE}"),
        ));
    }
    let params = match tokens.get(i + 2) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => g,
        other => {
            let span = other.map_or(name.span(), TokenTree::span);
            return Err(syn::Error::new(
                span,
                format!("generic tests are not supported: {USAGE}"),
            ));
        }
    };
    let param = single_parameter(params.stream()).ok_or_else(|| {
        syn::Error::new(
            params.span(),
            format!("the test takes exactly one parameter, the pool: {USAGE}"),
        )
    })?;
    let Some(TokenTree::Group(body)) = tokens.last().filter(|_| tokens.len() > i + 3) else {
        return Err(syn::Error::new(
            name.span(),
            format!("expected the function's body: {USAGE}"),
        ));
    };
    let signature_rest: TokenStream = tokens[i + 3..tokens.len() - 1].iter().cloned().collect();
    let output = output_type(&signature_rest);
    Ok(quote! {
        #attrs
        #[::core::prelude::v1::test]
        #head fn #name() #signature_rest {
            ::migrate_runtime::testing::__run(
                &(#args),
                ::core::stringify!(#name),
                |#param| -> ::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = #output>>> {
                    ::std::boxed::Box::pin(async move #body)
                },
            )
        }
    })
}

/// `test` or `tokio::test` (any path ending in `test`), if that is what the
/// attribute is.
fn test_attribute(attr: TokenStream) -> Option<String> {
    let words: Vec<String> = attr
        .into_iter()
        .take_while(|t| !matches!(t, TokenTree::Group(_)))
        .map(|t| t.to_string())
        .collect();
    (words.last().map(String::as_str) == Some("test")).then(|| words.concat())
}

/// The parameter's tokens, if there is exactly one (a trailing comma allowed).
fn single_parameter(params: TokenStream) -> Option<TokenStream> {
    let mut parts = vec![TokenStream::new()];
    let mut depth = 0i32;
    for token in params {
        match &token {
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
            TokenTree::Punct(p) if p.as_char() == ',' && depth == 0 => {
                parts.push(TokenStream::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("never empty").extend([token]);
    }
    parts.retain(|p| !p.is_empty());
    (parts.len() == 1).then(|| parts.remove(0))
}

/// The type after `->`, or `()`.
fn output_type(rest: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = rest.clone().into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Punct(dash), TokenTree::Punct(gt), ty @ ..]
            if dash.as_char() == '-' && gt.as_char() == '>' && !ty.is_empty() =>
        {
            ty.iter().cloned().collect()
        }
        _ => quote!(()),
    }
}
