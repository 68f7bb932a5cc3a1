//! The guide, `docs/*.md`, as rustdoc pages: the module of each page, the
//! rewrite of its links and code fences, and the anchors GitHub and rustdoc
//! give its headings. Markdown is read by pulldown-cmark, as rustdoc reads it.
//!
//! `build.rs` uses it through `#[path]`; `tests/links.rs` includes it too.

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashMap;
use std::ops::Range;

/// The guide's folder in the repository; `migrate-runtime/guide` links to it.
pub const GUIDE_DIR: &str = "docs";
/// The page that is the guide's index: the doc of the module `guide` itself.
pub const INDEX: &str = "README.md";

/// GitHub's markdown, as far as pulldown-cmark has it.
pub fn github() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// rustdoc's markdown (its `main_body_opts`): GitHub's and smart punctuation.
pub fn rustdoc() -> Options {
    github() | Options::ENABLE_SMART_PUNCTUATION
}

/// One page of the guide.
pub struct Page {
    /// Its file name in the guide's folder.
    pub file: String,
    /// Its module under `guide`; `None` for the index.
    pub module: Option<String>,
    /// The GitHub anchor of each heading → the id rustdoc gives that heading.
    pub anchors: HashMap<String, String>,
}

/// The pages of the guide.
pub struct Guide {
    pages: Vec<Page>,
}

/// A replacement of a byte range of a page.
type Edit = (Range<usize>, String);

impl Guide {
    /// The guide made of `files` (file name, text). The warnings name the
    /// files that cannot be a module and are left out.
    pub fn new(files: &[(String, String)]) -> (Guide, Vec<String>) {
        let mut pages: Vec<Page> = Vec::new();
        let mut warnings = Vec::new();
        for (file, text) in files {
            let module = match module_name(file) {
                Ok(module) => module,
                Err(why) => {
                    warnings.push(format!("guide page {file} left out of rustdoc: {why}"));
                    continue;
                }
            };
            if let Some(other) = pages.iter().find(|page| page.module == module) {
                warnings.push(format!(
                    "guide page {file} left out of rustdoc: same module as {}",
                    other.file
                ));
                continue;
            }
            let anchors = github_anchors(text).into_iter().zip(rustdoc_ids(text)).collect();
            pages.push(Page {
                file: file.clone(),
                module,
                anchors,
            });
        }
        (Guide { pages }, warnings)
    }

    /// The pages, in the order they were given.
    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// The page in the file `file`.
    pub fn page(&self, file: &str) -> Option<&Page> {
        self.pages.iter().find(|page| page.file == file)
    }

    /// `text`, the markdown of `page`, rewritten for rustdoc: a link to a page
    /// of the guide leads to that page's module (its anchor to rustdoc's id
    /// of the heading), a link leaving the guide becomes its text, a bare URL
    /// becomes `<url>`, and a code block rustdoc would run as a doctest is
    /// marked `text` (no language) or `rust,ignore`.
    pub fn rewrite(&self, page: &Page, text: &str) -> String {
        let markdown = read(text, rustdoc());
        let mut edits: Vec<Edit> = Vec::new();
        for link in &markdown.links {
            self.rewrite_link(page, link, &mut edits);
        }
        for (range, info) in markdown.fences {
            if is_doctest(&info) {
                let info = if info.trim().is_empty() { "text" } else { "rust,ignore" };
                edits.push((range, info.to_owned()));
            }
        }
        for prose in markdown.prose {
            let s = &text[prose.clone()];
            let mut from = 0;
            while let Some(at) = s[from..].find("http").map(|i| from + i) {
                from = at + 4;
                let url = &s[at..];
                if (url.starts_with("https://") || url.starts_with("http://"))
                    && !s[..at].ends_with(|c: char| c.is_ascii_alphanumeric())
                {
                    from = bare_url_end(s, at);
                    edits.push((prose.start + at..prose.start + from, format!("<{}>", &s[at..from])));
                }
            }
        }
        // The edits do not overlap (a link's edits leave its text alone).
        edits.sort_by_key(|(range, _)| range.start);
        let mut out = text.to_owned();
        for (range, with) in edits.into_iter().rev() {
            out.replace_range(range, &with);
        }
        out
    }

    /// Pushes the edits of `link`, on the page `from`, around its text.
    fn rewrite_link(&self, from: &Page, link: &Link, edits: &mut Vec<Edit>) {
        if matches!(link.kind, LinkType::Autolink | LinkType::Email) || has_scheme(&link.dest) {
            return;
        }
        let close = link.text.end..link.range.end;
        let (path, anchor) = link.dest.split_once('#').unwrap_or((&link.dest, ""));
        let to = if path.is_empty() {
            Some(from)
        } else {
            self.resolve(path)
        };
        let Some(to) = to.filter(|_| !link.image) else {
            // It leads out of the guide, which docs.rs cannot show: its text stays.
            edits.push((link.range.start..link.text.start, String::new()));
            edits.push((close, String::new()));
            return;
        };
        let mut href = match (&from.module, &to.module) {
            _ if to.file == from.file && anchor.is_empty() => "index.html".to_owned(),
            _ if to.file == from.file => String::new(),
            (None, Some(module)) => format!("{module}/index.html"),
            (Some(_), Some(module)) => format!("../{module}/index.html"),
            (_, None) => "../index.html".to_owned(),
        };
        if !anchor.is_empty() {
            href = format!("{href}#{}", to.anchors.get(anchor).map_or(anchor, String::as_str));
        }
        if !link.title.is_empty() {
            href = format!("{href} \"{}\"", link.title.replace('\\', "\\\\").replace('"', "\\\""));
        }
        edits.push((close, format!("]({href})")));
    }

    /// The page a relative link from the guide's folder leads to, if any.
    pub fn resolve(&self, path: &str) -> Option<&Page> {
        let mut parts = vec![GUIDE_DIR];
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                part => parts.push(part),
            }
        }
        match parts[..] {
            [dir] if dir == GUIDE_DIR => self.page(INDEX),
            [dir, file] if dir == GUIDE_DIR => self.page(file),
            _ => None,
        }
    }
}

/// A link or image (autolinks too), as written in a page.
pub struct Link {
    /// All of it, in the page's text.
    pub range: Range<usize>,
    /// Its text (an image's alt text), in the page's text.
    pub text: Range<usize>,
    pub dest: String,
    pub title: String,
    pub kind: LinkType,
    pub image: bool,
}

/// What the rewrite needs of a page; ranges are in the page's text.
#[derive(Default)]
pub struct Markdown {
    /// Its links and images, in order.
    pub links: Vec<Link>,
    /// Its fenced code blocks: where the info string is (empty at the end of
    /// the opening line if there is none) and what it says.
    pub fences: Vec<(Range<usize>, String)>,
    /// Its runs of text outside code and links.
    pub prose: Vec<Range<usize>>,
}

/// `text` as pulldown-cmark reads it with `options`.
pub fn read(text: &str, options: Options) -> Markdown {
    let mut markdown = Markdown::default();
    let mut open: Vec<usize> = Vec::new(); // The links being read, innermost last.
    let mut in_code = false;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        if let Event::End(TagEnd::Link | TagEnd::Image) = event {
            open.pop();
        }
        if let Some(&i) = open.last() {
            let inner = &mut markdown.links[i].text;
            inner.end = inner.end.max(range.end);
        }
        match event {
            Event::Start(
                Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    ..
                }
                | Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    ..
                },
            ) => {
                let image = text[range.start..].starts_with('!');
                let start = range.start + 1 + usize::from(image);
                open.push(markdown.links.len());
                markdown.links.push(Link {
                    range,
                    text: start..start,
                    dest: dest_url.into_string(),
                    title: title.into_string(),
                    kind: link_type,
                    image,
                });
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                in_code = true;
                if let CodeBlockKind::Fenced(info) = kind {
                    let line = text[range.start..].lines().next().unwrap_or_default().trim_end();
                    let fence = &line[line.find(['`', '~']).unwrap_or(0)..];
                    let after = fence
                        .trim_start_matches(fence.chars().next().unwrap_or('`'))
                        .trim_start();
                    let end = range.start + line.len();
                    markdown.fences.push((end - after.len()..end, info.into_string()));
                }
            }
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(_) if open.is_empty() && !in_code => match markdown.prose.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => markdown.prose.push(range),
            },
            _ => {}
        }
    }
    markdown
}

/// The module of the page in `file`: `None` for the index, else the file
/// name without `.md`, `-` becoming `_`.
pub fn module_name(file: &str) -> Result<Option<String>, String> {
    if file == INDEX {
        return Ok(None);
    }
    let module = file.strip_suffix(".md").ok_or("not a .md file")?.replace('-', "_");
    let valid = module
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && module.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        return Err(format!(
            "`{module}` is not a module name (lowercase letters, digits, `-`, `_`)"
        ));
    }
    if KEYWORDS.split_whitespace().any(|keyword| keyword == module) {
        return Err(format!("`{module}` is a Rust keyword"));
    }
    Ok(Some(module))
}

const KEYWORDS: &str = "abstract as async await become box break const continue crate do dyn else enum extern false
    final fn for gen if impl in let loop macro match mod move mut override priv pub ref return self static struct super
    trait true try type typeof unsafe unsized use virtual where while yield";

/// Whether rustdoc runs a fenced code block with this info string as a
/// doctest (rustdoc's `LangString::parse`, without `{}` attributes).
pub fn is_doctest(info: &str) -> bool {
    let (mut rust, mut other, mut custom) = (false, false, false);
    for token in info.split([',', ' ', '\t']).filter(|token| !token.is_empty()) {
        match token {
            "rust" => rust = true,
            "custom" => custom = true,
            "should_panic" | "no_run" | "ignore" => rust = !other,
            "test_harness" | "compile_fail" | "standalone_crate" => rust = rust || !other,
            token if token.starts_with("ignore-") => rust = !other,
            token if token.starts_with("edition") => {}
            token if token.len() == 5 && token.starts_with('E') && token[1..].bytes().all(|b| b.is_ascii_digit()) => {
                rust = rust || !other
            }
            _ => other = true,
        }
    }
    !custom && (!other || rust)
}

/// The text of each heading of `text` read with `options`; an image's alt
/// text counts only if `alt`.
fn headings(text: &str, options: Options, alt: bool) -> Vec<String> {
    let (mut headings, mut heading, mut images) = (Vec::new(), None::<String>, 0);
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => headings.extend(heading.take()),
            Event::Start(Tag::Image { .. }) => images += 1,
            Event::End(TagEnd::Image) => images -= 1,
            Event::Text(piece) | Event::Code(piece) if alt || images == 0 => {
                heading.iter_mut().for_each(|heading| heading.push_str(&piece))
            }
            _ => {}
        }
    }
    headings
}

/// GitHub's anchor of each heading of `text` (github-slugger): lowercased,
/// letters, digits, `-` and `_` kept, a space becoming `-`; duplicates get
/// `-1`, `-2`, ... An image's alt text is left out.
pub fn github_anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = Vec::new();
    for heading in headings(text, github(), false) {
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = slug.clone();
        while seen.contains_key(&anchor) {
            let count = seen.entry(slug.clone()).or_default();
            *count += 1;
            anchor = format!("{slug}-{count}");
        }
        seen.insert(anchor.clone(), 0);
        anchors.push(anchor);
    }
    anchors
}

/// The id rustdoc gives each heading of `text` (its `slugify` and
/// `IdMap::derive`): ASCII letters lowercased, other letters and digits, `-`
/// and `_` kept, ASCII whitespace becoming `-`, after smart punctuation.
/// Duplicates, and ids rustdoc's page uses itself, get `-1`, `-2`, ...
pub fn rustdoc_ids(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut ids = Vec::new();
    for heading in headings(text, rustdoc(), true) {
        let id: String = heading
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                c if c.is_ascii() && c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let derived = match seen.get_mut(&id) {
            None if RUSTDOC_IDS.split_whitespace().any(|known| known == id) => {
                seen.insert(id.clone(), 2);
                format!("{id}-1")
            }
            None => id,
            Some(count) => {
                let derived = format!("{id}-{count}");
                *count += 1;
                derived
            }
        };
        seen.insert(derived.clone(), 1);
        ids.push(derived);
    }
    ids
}

/// The ids rustdoc's pages use themselves (rustdoc's `is_default_id`).
const RUSTDOC_IDS: &str = "help settings not-displayed alternative-display search crate-search crate-search-div
    themeStyle settings-menu help-button sidebar-button main-content toggle-all-docs all-types default-settings
    sidebar-vars copy-path rustdoc-toc rustdoc-modnav fields variants implementors-list synthetic-implementors-list
    foreign-impls implementations trait-implementations synthetic-implementations blanket-implementations
    required-associated-types provided-associated-types provided-associated-consts required-associated-consts
    required-methods provided-methods dyn-compatibility implementors synthetic-implementors implementations-list
    trait-implementations-list synthetic-implementations-list blanket-implementations-list deref-methods layout
    aliased-type";

/// The end of the bare URL at `i` in `s`, as GitHub's autolink extension ends it.
fn bare_url_end(s: &str, i: usize) -> usize {
    let end = s[i..].find(|c: char| c.is_whitespace() || "<>`".contains(c));
    let mut url = &s[i..end.map_or(s.len(), |end| i + end)];
    while url.ends_with(|c| "?!.,:*_~'\"".contains(c))
        || (url.ends_with(')') && url.matches('(').count() < url.matches(')').count())
    {
        url = &url[..url.len() - 1];
    }
    i + url.len()
}

/// Whether a link target has a scheme (`https:`, `mailto:`, ...).
fn has_scheme(dest: &str) -> bool {
    dest.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    })
}
