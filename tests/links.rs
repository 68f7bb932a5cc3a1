//! The repository's markdown links resolve: every relative link and anchor in
//! the root's `*.md` (README, SECURITY, CONTRIBUTING), `docs/*.md` (the guide)
//! and `bench/*.md` leads to a file that exists and to a heading that exists
//! (GitHub's anchors); the readme crates.io shows of each published crate has
//! no relative link, since crates.io cannot resolve one without a repository
//! URL. And the guide's rewrite for rustdoc (`migrate-runtime/build/guide.rs`,
//! run by that crate's build script; it reads the markdown here too) keeps
//! the text, leads every link to a rustdoc page and id, and leaves no
//! doctest. The checker and the rewrite are tested on small files first.

#[path = "../migrate-runtime/build/guide.rs"]
mod guide;

use pulldown_cmark::{BrokenLink, CodeBlockKind, CowStr, Event, LinkType, Parser, Tag};
use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// A markdown file as GitHub reads it.
struct Doc {
    /// Its links and images outside code.
    links: Vec<Link>,
    /// The anchor of each heading.
    anchors: Vec<String>,
    /// Reference links without a definition: (line, `[text]`).
    undefined: Vec<(usize, String)>,
    /// The line of each indented code block (rustdoc runs one as a doctest).
    indented_code: Vec<usize>,
}

struct Link {
    line: usize,
    /// As written, on one line.
    text: String,
    dest: String,
}

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

fn parse(text: &str) -> Doc {
    let mut undefined = Vec::new();
    let callback = |link: BrokenLink| {
        undefined.push((line_of(text, link.span.start), text[link.span].to_owned()));
        None::<(CowStr, CowStr)>
    };
    let mut indented_code = Vec::new();
    for (event, range) in
        Parser::new_with_broken_link_callback(text, guide::github(), Some(callback)).into_offset_iter()
    {
        if let Event::Start(Tag::CodeBlock(CodeBlockKind::Indented)) = event {
            indented_code.push(line_of(text, range.start));
        }
    }
    // An email autolink, `<a@b.c>`, has no `mailto:` in its target.
    let links = guide::read(text, guide::github()).links.into_iter();
    let links = links.filter(|link| link.kind != LinkType::Email).map(|link| Link {
        line: line_of(text, link.range.start),
        text: text[link.text].replace('\n', " "),
        dest: link.dest,
    });
    Doc {
        links: links.collect(),
        anchors: guide::github_anchors(text),
        undefined,
        indented_code,
    }
}

/// `path` with `.` and `..` taken out, without asking the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if out.pop() => {}
            Component::ParentDir => out.push(".."),
            other => out.push(other),
        }
    }
    out
}

/// Checks the links of `files` (relative to `root`). Returns one line per
/// problem: `file:line: link [text](target): what is wrong`.
fn check(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut anchors: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut problems = Vec::new();
    for file in files {
        let name = file.display();
        let text = match fs::read_to_string(root.join(file)) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let doc = parse(&text);
        for (line, reference) in &doc.undefined {
            problems.push(format!(
                "{name}:{line}: {reference}: a reference link without a definition (write \\[ \\] for brackets)"
            ));
        }
        for link in &doc.links {
            if let Err(what) = check_link(root, file, &doc, link, &mut anchors) {
                problems.push(format!(
                    "{name}:{}: link [{}]({}): {what}",
                    link.line, link.text, link.dest
                ));
            }
        }
    }
    problems
}

fn check_link(
    root: &Path,
    file: &Path,
    doc: &Doc,
    link: &Link,
    anchors: &mut HashMap<PathBuf, Vec<String>>,
) -> Result<(), String> {
    let dest = link.dest.as_str();
    if dest.is_empty() {
        return Err("empty target".into());
    }
    if let Some((scheme, _)) = dest
        .split_once(':')
        .filter(|(s, _)| s.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return match scheme {
            "http" | "https" | "mailto" => Ok(()),
            _ => Err(format!(
                "a `{scheme}:` link is not checked; use a relative path or http(s)"
            )),
        };
    }
    let (path, anchor) = dest.split_once('#').unwrap_or((dest, ""));
    let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    if path.starts_with('/') {
        return Err("an absolute path: GitHub resolves it outside the repository; use a relative path".into());
    }
    let target = normalize(&file.parent().unwrap_or(Path::new("")).join(&*path));
    if target.starts_with("..") {
        return Err("leads out of the repository".into());
    }
    let on_disk = root.join(&target);
    if !path.is_empty() && !on_disk.exists() {
        return Err(format!("{} does not exist", target.display()));
    }
    if anchor.is_empty() {
        return Ok(());
    }
    let markdown = match () {
        _ if path.is_empty() => file.to_path_buf(),
        _ if on_disk.is_dir() => target.join("README.md"),
        _ => target,
    };
    if markdown.extension().is_none_or(|ext| ext != "md") {
        // GitHub's line anchors in a source file: #L10, #L10-L20.
        let line = |s: &str| {
            s.strip_prefix('L')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        return match anchor.split_once('-') {
            Some((from, to)) if line(from) && line(to) => Ok(()),
            None if line(anchor) => Ok(()),
            _ => Err(format!("#{anchor} is not a line anchor (#L10, #L10-L20)")),
        };
    }
    let known = if markdown == file {
        &doc.anchors
    } else {
        &*anchors.entry(markdown.clone()).or_insert_with(|| {
            let text = fs::read_to_string(root.join(&markdown));
            text.map(|text| guide::github_anchors(&text)).unwrap_or_default()
        })
    };
    if known.iter().any(|known| known == anchor) {
        return Ok(());
    }
    let near: Vec<&String> = known
        .iter()
        .filter(|k| k.starts_with(&anchor[..anchor.len().min(4)]))
        .collect();
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!(" (anchors starting alike: {near:?})")
    };
    Err(format!(
        "no heading with the anchor #{anchor} in {}{hint}",
        markdown.display()
    ))
}

/// The files to check: the root's, the guide's and the benchmark's `*.md`,
/// relative to `root`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["", guide::GUIDE_DIR, "bench"] {
        for entry in fs::read_dir(root.join(dir)).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "md") && path.is_file() {
                files.push(Path::new(dir).join(path.file_name().unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The readme of each published crate of the workspace at `root`, relative to
/// `root`: (crate folder, readme). `None` for a crate without one.
fn crate_readmes(root: &Path) -> Vec<(PathBuf, Option<PathBuf>)> {
    let manifest = |dir: &Path| -> toml::Table {
        let text = fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap();
        text.parse()
            .unwrap_or_else(|e| panic!("{}/Cargo.toml: {e}", dir.display()))
    };
    let workspace = manifest(Path::new(""));
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("a [workspace] members list");
    let mut readmes = Vec::new();
    for dir in members.iter().map(|member| PathBuf::from(member.as_str().unwrap())) {
        let manifest = manifest(&dir);
        let package = &manifest["package"];
        if package.get("publish").and_then(toml::Value::as_bool) == Some(false) {
            continue;
        }
        let readme = match package.get("readme") {
            Some(toml::Value::Boolean(false)) => None,
            Some(toml::Value::String(readme)) => Some(normalize(&dir.join(readme))),
            _ => Some(dir.join("README.md")).filter(|readme| root.join(readme).is_file()),
        };
        readmes.push((dir, readme));
    }
    readmes
}

/// The relative links of each crate readme (crates.io cannot resolve them);
/// a readme outside its crate (`../README.md`) is logged and left out.
fn check_crate_readmes(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (dir, readme) in crate_readmes(root) {
        let Some(readme) = readme else { continue };
        if !readme.starts_with(&dir) {
            let (dir, readme) = (dir.display(), readme.display());
            eprintln!("{dir}: readme {readme} is outside the crate: not checked for relative links");
            continue;
        }
        let text = match fs::read_to_string(root.join(&readme)) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{}: readme: {e}", readme.display()));
                continue;
            }
        };
        for link in parse(&text).links {
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|s| link.dest.starts_with(s));
            if !external && !link.dest.starts_with('#') {
                problems.push(format!(
                    "{}:{}: link [{}]({}): crates.io cannot resolve a relative link (the crate has no repository URL); use an https:// link",
                    readme.display(), link.line, link.text, link.dest
                ));
            }
        }
    }
    problems
}

/// The text of a page (prose, inline code and code blocks), as rustdoc reads it.
fn plain_text(text: &str) -> String {
    let mut plain = String::new();
    for event in Parser::new_ext(text, guide::rustdoc()) {
        match event {
            Event::Text(piece) | Event::Code(piece) => plain.push_str(&piece),
            Event::SoftBreak | Event::HardBreak => plain.push('\n'),
            _ => {}
        }
    }
    plain
}

/// The targets of the links of a page that the rewrite may change (not autolinks).
fn rewritable_links(text: &str) -> Vec<String> {
    let links = guide::read(text, guide::rustdoc()).links.into_iter();
    let links = links.filter(|link| !matches!(link.kind, LinkType::Autolink | LinkType::Email));
    links.map(|link| link.dest).collect()
}

/// Checks the rewrite of the guide made of `files` (name, text): the
/// rewritten page has the same text; the links that stay lead to a page of
/// the guide and to an id rustdoc gives there, or out by http(s); no code
/// block is a doctest rustdoc would run.
fn check_rewrite(files: &[(String, String)]) -> Vec<String> {
    let (guide, mut problems) = guide::Guide::new(files);
    let ids: HashMap<&str, Vec<String>> = files
        .iter()
        .map(|(name, text)| (name.as_str(), guide::rustdoc_ids(text)))
        .collect();
    for (name, text) in files {
        let Some(page) = guide.page(name) else { continue };
        let rewritten = guide.rewrite(page, text);
        let (before, after) = (plain_text(text), plain_text(&rewritten));
        if before != after {
            let line = before
                .lines()
                .zip(after.lines())
                .position(|(a, b)| a != b)
                .map_or(0, |l| l + 1);
            problems.push(format!(
                "{name}: the rewrite changes the text (line {line} of the plain text)"
            ));
        }
        let stay = |dest: &&String| {
            let path = dest.split('#').next().unwrap_or_default();
            dest.starts_with("http") || dest.starts_with("mailto:") || path.is_empty() || guide.resolve(path).is_some()
        };
        let kept = rewritable_links(text).iter().filter(stay).count();
        let left = rewritable_links(&rewritten);
        if left.len() != kept {
            problems.push(format!(
                "{name}: {kept} links should stay, {} did: {left:?}",
                left.len()
            ));
        }
        for dest in left {
            if let Err(what) = check_rustdoc_link(&guide, page, &ids, &dest) {
                problems.push(format!("{name}: rewritten link ({dest}): {what}"));
            }
        }
        for (_, info) in guide::read(&rewritten, guide::rustdoc()).fences {
            if guide::is_doctest(&info) && !info.split(',').any(|tag| tag == "ignore") {
                problems.push(format!("{name}: a code block rustdoc runs as a doctest: ```{info}"));
            }
        }
        for line in parse(text).indented_code {
            problems.push(format!(
                "{name}:{line}: an indented code block: rustdoc would run it as a doctest; fence it with a language tag"
            ));
        }
    }
    problems
}

/// Whether `dest`, a link in the rustdoc page of `from`, leads to a page of
/// the guide and to an id rustdoc gives there (or out by http(s)).
fn check_rustdoc_link(
    guide: &guide::Guide,
    from: &guide::Page,
    ids: &HashMap<&str, Vec<String>>,
    dest: &str,
) -> Result<(), String> {
    if ["https://", "http://", "mailto:"].iter().any(|s| dest.starts_with(s)) {
        return Ok(());
    }
    let (path, id) = dest.split_once('#').unwrap_or((dest, ""));
    // rustdoc's pages: guide/index.html, guide/<module>/index.html.
    let html = |page: &guide::Page| Path::new("guide").join(page.module.as_deref().unwrap_or_default());
    let target = normalize(&html(from).join(path));
    let to = match path {
        "" => Some(from),
        _ => guide
            .pages()
            .iter()
            .find(|page| target == html(page).join("index.html")),
    };
    let to = to.ok_or("no page of the guide there")?;
    if !id.is_empty() && !ids[to.file.as_str()].iter().any(|known| known == id) {
        return Err(format!("rustdoc gives no heading of {} the id {id}", to.file));
    }
    Ok(())
}

fn root() -> PathBuf {
    normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

fn assert_none(problems: Vec<String>, what: &str) {
    assert!(
        problems.is_empty(),
        "{} {what}:\n{}\n",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn relative_links_and_anchors_resolve() {
    let root = root();
    let mut files = markdown_files(&root);
    assert!(files.contains(&PathBuf::from("README.md")), "{files:?}");
    for (_, readme) in crate_readmes(&root) {
        files.extend(readme.filter(|readme| !files.contains(readme)));
    }
    let text = |file: &PathBuf| fs::read_to_string(root.join(file)).unwrap_or_default();
    let links: usize = files.iter().map(|file| parse(&text(file)).links.len()).sum();
    println!("checking {links} links in {} files: {files:?}", files.len());
    assert_none(check(&root, &files), "broken links");
}

#[test]
fn crate_readmes_have_no_relative_links() {
    assert_none(check_crate_readmes(&root()), "relative links in crate readmes");
}

#[test]
fn guide_rewrite_for_rustdoc_keeps_text_and_links() {
    let root = root();
    let files: Vec<(String, String)> = markdown_files(&root)
        .into_iter()
        .filter(|file| file.starts_with(guide::GUIDE_DIR))
        .map(|file| {
            (
                file.file_name().unwrap().to_str().unwrap().to_owned(),
                fs::read_to_string(root.join(&file)).unwrap(),
            )
        })
        .collect();
    assert!(!files.is_empty(), "no page in {}/", guide::GUIDE_DIR);
    assert_none(check_rewrite(&files), "problems with the guide in rustdoc");
}

// --- The checker, on small files ------------------------------------------------------

fn write(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn check_files(files: &[(&str, &str)]) -> Vec<String> {
    let dir = write(files);
    let names = files.iter().map(|(name, _)| PathBuf::from(name));
    let markdown: Vec<PathBuf> = names.filter(|n| n.extension().is_some_and(|e| e == "md")).collect();
    check(dir.path(), &markdown)
}

#[test]
fn a_broken_anchor_is_reported_with_its_line() {
    let problems = check_files(&[
        (
            "README.md",
            "# Top\n\nSee [the rules](docs/rules.md#nope) and [top](#top).\n",
        ),
        (
            "docs/rules.md",
            "# Rules\n\n## `setting-not-null`\n\nBack to [the README](../README.md#top).\n",
        ),
    ]);
    assert_eq!(
        problems,
        ["README.md:3: link [the rules](docs/rules.md#nope): no heading with the anchor #nope in docs/rules.md"]
    );
    let problems = check_files(&[("a.md", "# A\n\n[lint](#setting-not-nul)\n\n## `setting-not-null`\n")]);
    assert_eq!(
        problems,
        ["a.md:3: link [lint](#setting-not-nul): no heading with the anchor #setting-not-nul in a.md (anchors starting alike: [\"setting-not-null\"])"]
    );
}

#[test]
fn a_missing_file_or_folder_is_reported() {
    let problems = check_files(&[
        (
            "docs/a.md",
            "[x](../tests/missing.rs), [`y`](../src/) and\n[ok](../tests/)\n",
        ),
        ("tests/here.rs", ""),
    ]);
    assert_eq!(
        problems,
        [
            "docs/a.md:1: link [x](../tests/missing.rs): tests/missing.rs does not exist",
            "docs/a.md:1: link [`y`](../src/): src does not exist",
        ]
    );
    let problems = check_files(&[
        (
            "a.md",
            "[out](../x.md) [abs](/x.md) [line](b.rs#L3-L9) [bad](b.rs#main)\n",
        ),
        ("b.rs", ""),
    ]);
    assert_eq!(
        problems,
        [
            "a.md:1: link [out](../x.md): leads out of the repository",
            "a.md:1: link [abs](/x.md): an absolute path: GitHub resolves it outside the repository; use a relative path",
            "a.md:1: link [bad](b.rs#main): #main is not a line anchor (#L10, #L10-L20)",
        ]
    );
}

#[test]
fn links_in_code_are_not_links() {
    let problems = check_files(&[(
        "a.md",
        "```sh\n[x](missing.md)\n```\n\n`[y](missing.md)` and ``a `[z](missing.md)` b``\n\n    [w](missing.md)\n\n[http](https://example.com/#x) [mail](mailto:a@b.c) <a@b.c>\n",
    )]);
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn duplicate_headings_get_numbered_anchors() {
    let text = "# Setup\n## Setup\n## Setup-1\n## `lint` & *more*: [link](x.md)\n## Ünïcode Déjà-vu\n\n[a](#setup-1-1) [b](#setup-2) [c](#lint--more-link) [d](#ünïcode-déjà-vu)\n";
    assert_eq!(
        guide::github_anchors(text),
        ["setup", "setup-1", "setup-1-1", "lint--more-link", "ünïcode-déjà-vu"]
    );
    assert_eq!(
        check_files(&[("a.md", text), ("x.md", "")]),
        ["a.md:7: link [b](#setup-2): no heading with the anchor #setup-2 in a.md (anchors starting alike: [\"setup\", \"setup-1\", \"setup-1-1\"])"]
    );
}

#[test]
fn an_undefined_reference_link_is_reported() {
    let problems = check_files(&[(
        "a.md",
        "# A\n\nSee [the rules][rules] or [x].\nNot \\[y\\] nor `[z]`.\n\n[ok]: #a\n[ok] [ok][]\n",
    )]);
    assert_eq!(
        problems,
        [
            "a.md:3: [the rules][rules]: a reference link without a definition (write \\[ \\] for brackets)",
            "a.md:3: [x]: a reference link without a definition (write \\[ \\] for brackets)",
        ]
    );
}

#[test]
fn a_crate_readme_with_a_relative_link_is_reported() {
    let dir = write(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\n    \"a\",\n    \"b\",\n    \"c\",\n    \"tests\",\n]\n",
        ),
        ("a/Cargo.toml", "[package]\nname = \"a\"\nreadme = \"README.md\"\n"),
        (
            "a/README.md",
            "# A\n\n[guide](https://docs.rs/a) [top](#a) [rules](../docs/rules.md)\n",
        ),
        ("b/Cargo.toml", "[package]\nname = \"b\"\nreadme = \"../README.md\"\n"),
        (
            "c/Cargo.toml",
            "[package]\nname = \"c\"\n[dependencies]\nreadme = \"x\"\n",
        ),
        ("tests/Cargo.toml", "[package]\nname = \"t\"\npublish = false\n"),
    ]);
    assert_eq!(
        crate_readmes(dir.path()),
        [
            (PathBuf::from("a"), Some(PathBuf::from("a/README.md"))),
            (PathBuf::from("b"), Some(PathBuf::from("README.md"))),
            (PathBuf::from("c"), None),
        ]
    );
    assert_eq!(
        check_crate_readmes(dir.path()),
        ["a/README.md:3: link [rules](../docs/rules.md): crates.io cannot resolve a relative link (the crate has no repository URL); use an https:// link"]
    );
}

// --- The guide's rewrite for rustdoc, on small pages ---------------------------------

fn guide_of(files: &[(&str, &str)]) -> (guide::Guide, Vec<(String, String)>) {
    let files: Vec<(String, String)> = files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    let (guide, warnings) = guide::Guide::new(&files);
    assert_eq!(warnings, Vec::<String>::new());
    (guide, files)
}

/// Asserts that `page` of the guide made of `files` is rewritten as
/// `expected`, and that the rewrite check finds nothing wrong.
fn assert_rewrite(files: &[(&str, &str)], page: &str, expected: &str) {
    let (guide, texts) = guide_of(files);
    let text = files.iter().find(|(name, _)| *name == page).unwrap().1;
    assert_eq!(guide.rewrite(guide.page(page).unwrap(), text), expected);
    assert_eq!(check_rewrite(&texts), Vec::<String>::new());
}

#[test]
fn links_to_pages_lead_to_their_modules_and_rustdoc_ids() {
    let files = [
        ("README.md", "# The guide\n\n- [Rules](file-rules.md) and [a lint](file-rules.md#setting-not-null)\n- [the dir](./)\n"),
        (
            "file-rules.md",
            "# Rules\n\n## Search\n\n### `setting-not-null`\n\n## A -- B\n\nSee [search](#search), [ab](#a----b), [index](README.md#the-guide),\n[myself](file-rules.md) and [a lint](./file-rules.md#setting-not-null \"title\").\n",
        ),
    ];
    assert_rewrite(
        &files,
        "README.md",
        "# The guide\n\n- [Rules](file_rules/index.html) and [a lint](file_rules/index.html#setting-not-null)\n- [the dir](index.html)\n",
    );
    assert_rewrite(
        &files,
        "file-rules.md",
        "# Rules\n\n## Search\n\n### `setting-not-null`\n\n## A -- B\n\nSee [search](#search-1), [ab](#a--b), [index](../index.html#the-guide),\n[myself](index.html) and [a lint](#setting-not-null \"title\").\n",
    );
}

#[test]
fn links_out_of_the_guide_become_their_text() {
    assert_rewrite(
        &[(
            "a.md",
            "See [`tests/pooler.rs`](../tests/pooler.rs), [the\nREADME](../README.md#install), [**b**](b.md) and ![logo](logo.png).\nKept: [docs.rs](https://docs.rs/x#y), <https://example.com>, [mail](mailto:a@b.c).\n",
        )],
        "a.md",
        "See `tests/pooler.rs`, the\nREADME, **b** and logo.\nKept: [docs.rs](https://docs.rs/x#y), <https://example.com>, [mail](mailto:a@b.c).\n",
    );
}

#[test]
fn code_is_left_alone_and_doctests_are_marked() {
    let page = "Text `[x](../x.md)` and ``a ` [y](../y.md) ``.\n\n```\nplain [z](../z.md) https://a.b\n```\n\n```rust\nlet a = 1;\n```\n\n- item\n\n  ~~~~rust,no_run\n  ```\n  [w](../w.md)\n  ~~~~\n\n```sh\nmigrate up\n```\n\n```toml\n[dependencies]\n```\n";
    let expected = "Text `[x](../x.md)` and ``a ` [y](../y.md) ``.\n\n```text\nplain [z](../z.md) https://a.b\n```\n\n```rust,ignore\nlet a = 1;\n```\n\n- item\n\n  ~~~~rust,ignore\n  ```\n  [w](../w.md)\n  ~~~~\n\n```sh\nmigrate up\n```\n\n```toml\n[dependencies]\n```\n";
    assert_rewrite(&[("a.md", page)], "a.md", expected);
}

#[test]
fn bare_urls_become_autolinks() {
    assert_rewrite(
        &[("a.md", "See https://a.example/x_(y). Or (https://b.example/z), https://c.example/?q=1,\n`https://d.example` <https://e.example> [f](https://f.example) [https://g.example](https://g.example)\n")],
        "a.md",
        "See <https://a.example/x_(y)>. Or (<https://b.example/z>), <https://c.example/?q=1>,\n`https://d.example` <https://e.example> [f](https://f.example) [https://g.example](https://g.example)\n",
    );
}

#[test]
fn the_rewrite_check_finds_what_the_rewrite_would_get_wrong() {
    // Anchors no heading has (a setext heading has one), and an indented code
    // block, which rustdoc would run as a doctest.
    let files = [
        (
            "a.md",
            "Title\n=====\n\n[t](#title) [x](#nope) [b](b.md#gone)\n\n    let x = 1;\n",
        ),
        ("b.md", "# B\n"),
    ];
    assert_eq!(
        check_rewrite(&guide_of(&files).1),
        [
            "a.md: rewritten link (#nope): rustdoc gives no heading of a.md the id nope",
            "a.md: rewritten link (../b/index.html#gone): rustdoc gives no heading of b.md the id gone",
            "a.md:6: an indented code block: rustdoc would run it as a doctest; fence it with a language tag",
        ]
    );
}

#[test]
fn rustdoc_ids_follow_rustdoc() {
    // Ids read from `cargo doc` output (rustdoc 1.95) for these headings.
    let page = "# Top heading\n## The `--dry-run` flag\n## A -- B --- C\n## Modules\n## Search\n## Required Methods\n## Dup\n## Dup\n## Dup-1\n## Émile Über straße\n## What \"run\" guarantees: in full (really)!\n## Link [in](https://example.com) heading *em* **strong**\n## under_score & amp; 1.2.3\n## `a--b` and a--b and a---b and a----b\n## Café _emphasis_ and snake_case __init__\n## Text &amp; entity &lt;x&gt; <span>html</span> ##\n### Ends with hashes ###\n";
    let expected = "top-heading the---dry-run-flag a--b--c modules search-1 required-methods-1 dup dup-1 dup-1-1
        Émile-Über-straße what-run-guarantees-in-full-really link-in-heading-em-strong under_score--amp-123
        a--b-and-ab-and-ab-and-ab café-emphasis-and-snake_case-init text--entity-x-html ends-with-hashes";
    assert_eq!(
        guide::rustdoc_ids(page),
        expected.split_whitespace().collect::<Vec<_>>()
    );
}

#[test]
fn which_code_blocks_are_doctests() {
    for info in "|rust|no_run|ignore|should_panic|rust,no_run|compile_fail,E0308|edition2021|ignore,sh".split('|') {
        assert!(guide::is_doctest(info), "{info}");
    }
    for info in "text|sh|toml|sql|rust,custom|sh,ignore|json edition2021".split('|') {
        assert!(!guide::is_doctest(info), "{info}");
    }
}

#[test]
fn page_names_become_module_names() {
    assert_eq!(guide::module_name("README.md"), Ok(None));
    assert_eq!(guide::module_name("file-rules.md"), Ok(Some("file_rules".to_owned())));
    assert_eq!(guide::module_name("v2.md"), Ok(Some("v2".to_owned())));
    assert!(guide::module_name("type.md").is_err());
    assert!(guide::module_name("Big.md").is_err());
    assert!(guide::module_name("2fa.md").is_err());
    let files = [("a-b.md", String::new()), ("a_b.md", String::new())].map(|(n, t)| (n.to_owned(), t));
    let (guide, warnings) = guide::Guide::new(&files);
    assert_eq!(guide.pages().len(), 1);
    assert_eq!(
        warnings,
        ["guide page a_b.md left out of rustdoc: same module as a-b.md"]
    );
}
