//! The layer check: within a library crate, the top-level modules (the files
//! and folders directly under `src/`, but `lib.rs`) reference each other
//! through `crate::` (or `super::` up to the root) without a cycle, so they
//! stack in layers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use syn::visit::{self, Visit};
use syn::{Attribute, ImplItem, Item, UseTree};

/// Where a module references another, and the path as written.
struct Reference {
    file: PathBuf,
    line: usize,
    path: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.path)
    }
}

/// Each top-level module with the modules it references, one example each.
type Graph = BTreeMap<String, BTreeMap<String, Reference>>;

/// The crate's modules in layers, the lowest first, each layer referencing
/// only those below it; or a report of the cycles.
pub fn check(crate_dir: &Path) -> Result<Vec<Vec<String>>, String> {
    let graph = graph(crate_dir);
    let cycles = cycles(&graph);
    if cycles.is_empty() {
        Ok(layers(&graph))
    } else {
        let name = crate_dir.file_name().unwrap_or_default().to_string_lossy();
        Err(format!(
            "{name}: the top-level modules form a cycle\n{}",
            cycles.join("\n")
        ))
    }
}

/// The references between the top-level modules of the crate at `crate_dir`.
fn graph(crate_dir: &Path) -> Graph {
    let src = crate_dir.join("src");
    let mut graph: Graph = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir() || path.extension().is_some_and(|e| e == "rs"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "lib")
        .map(|name| (name, BTreeMap::new()))
        .collect();
    let mut reexports = BTreeMap::new();
    for item in &parse(&src.join("lib.rs")).items {
        if let Item::Use(u) = item {
            if !test_only(&u.attrs) {
                for (path, bound) in flatten(&u.tree) {
                    let start = usize::from(matches!(path[0].0.as_str(), "crate" | "self"));
                    if path.len() > start + 1 && graph.contains_key(&path[start].0) && bound != "*" {
                        reexports.insert(bound, path[start].0.clone());
                    }
                }
            }
        }
    }
    let shown = crate_dir.file_name().map(PathBuf::from).unwrap_or_default();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative.components().next().unwrap().as_os_str().to_string_lossy();
        let module = module.trim_end_matches(".rs").to_string();
        let mut collector = Collector {
            level: relative.components().count() - usize::from(file.ends_with("mod.rs")),
            found: Vec::new(),
        };
        collector.visit_file(&parse(&file));
        for (name, line, path) in collector.found {
            let target = if graph.contains_key(&name) {
                Some(&name)
            } else {
                reexports.get(&name)
            };
            if let Some(target) = target.filter(|t| **t != module).cloned() {
                let file = shown.join("src").join(relative);
                let reference = Reference { file, line, path };
                graph.get_mut(&module).unwrap().entry(target).or_insert(reference);
            }
        }
    }
    graph
}

fn parse(file: &Path) -> syn::File {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The `.rs` files under `dir` but `lib.rs`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("src/lib.rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Paths that reach the crate root, as (the name at the root, line, path).
struct Collector {
    /// How deep the module being visited sits below the crate root.
    level: usize,
    found: Vec<(String, usize, String)>,
}

impl Collector {
    fn reference(&mut self, segments: &[(String, usize)]) {
        let ups = segments.iter().take_while(|(s, _)| s == "super").count();
        let root = if segments[0].0 == "crate" {
            1
        } else if ups > 0 && ups == self.level {
            ups
        } else {
            return;
        };
        if let Some((name, line)) = segments.get(root).filter(|(name, _)| name != "*") {
            let path: Vec<&str> = segments
                .iter()
                .map(|(s, _)| s.as_str())
                .filter(|s| *s != "self")
                .collect();
            self.found.push((name.clone(), *line, path.join("::")));
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast Item) {
        let attrs = match item {
            Item::Const(i) => &i.attrs,
            Item::Enum(i) => &i.attrs,
            Item::Fn(i) => &i.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Macro(i) => &i.attrs,
            Item::Mod(i) => &i.attrs,
            Item::Static(i) => &i.attrs,
            Item::Struct(i) => &i.attrs,
            Item::Trait(i) => &i.attrs,
            Item::Type(i) => &i.attrs,
            Item::Use(i) => &i.attrs,
            _ => return visit::visit_item(self, item),
        };
        if !test_only(attrs) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        let attrs = match item {
            ImplItem::Const(i) => &i.attrs,
            ImplItem::Fn(i) => &i.attrs,
            ImplItem::Type(i) => &i.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !test_only(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.level += 1;
        visit::visit_item_mod(self, item);
        self.level -= 1;
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_none() {
            for (path, _) in flatten(&item.tree) {
                self.reference(&path);
            }
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments: Vec<(String, usize)> = (path.segments.iter())
                .map(|s| (s.ident.to_string(), s.ident.span().start().line))
                .collect();
            self.reference(&segments);
        }
        visit::visit_path(self, path);
    }
}

/// Each path a `use` tree names, segment by segment with its line (`*` for
/// a glob), and the name it binds.
fn flatten(tree: &UseTree) -> Vec<(Vec<(String, usize)>, String)> {
    let segment = |ident: &syn::Ident| (ident.to_string(), ident.span().start().line);
    match tree {
        UseTree::Path(p) => flatten(&p.tree)
            .into_iter()
            .map(|(rest, bound)| ([vec![segment(&p.ident)], rest].concat(), bound))
            .collect(),
        UseTree::Name(n) => vec![(vec![segment(&n.ident)], n.ident.to_string())],
        UseTree::Rename(r) => vec![(vec![segment(&r.ident)], r.rename.to_string())],
        UseTree::Glob(g) => vec![(vec![("*".into(), g.star_token.span.start().line)], "*".into())],
        UseTree::Group(g) => g.items.iter().flat_map(flatten).collect(),
    }
}

/// Whether `#[cfg(test)]` is among the attributes.
fn test_only(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"))
}

/// Modules that reach `from`'s references and come back to it.
fn reach(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut next = vec![from.to_string()];
    while let Some(module) = next.pop() {
        for target in graph[&module].keys() {
            if seen.insert(target.clone()) {
                next.push(target.clone());
            }
        }
    }
    seen
}

/// One report per set of modules that reach each other: the shortest cycle
/// through each of them, then every reference between them.
fn cycles(graph: &Graph) -> Vec<String> {
    let reach: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|m| (m, reach(graph, m))).collect();
    let mut reported = BTreeSet::new();
    let mut reports = Vec::new();
    for (module, reached) in &reach {
        if !reached.contains(*module) || reported.contains(*module) {
            continue;
        }
        let members: BTreeSet<&String> = reached.iter().filter(|m| reach[m].contains(*module)).collect();
        reported.extend(members.iter().map(|m| m.to_string()));
        let mut shortest = BTreeSet::new();
        for start in &members {
            let mut cycle = shortest_cycle(graph, start, &members);
            cycle.pop();
            let lowest = cycle.iter().enumerate().min_by_key(|(_, m)| *m).unwrap().0;
            cycle.rotate_left(lowest);
            cycle.push(cycle[0].clone());
            shortest.insert(cycle.join(" → "));
        }
        let mut report = String::new();
        for cycle in shortest {
            report += &format!("  cycle: {cycle}\n");
        }
        for from in &members {
            for (to, reference) in graph[*from].iter().filter(|(to, _)| members.contains(to)) {
                report += &format!("    {from} → {to}: {reference}\n");
            }
        }
        reports.push(report);
    }
    reports
}

/// The shortest way from `start` back to itself through `members`.
fn shortest_cycle(graph: &Graph, start: &String, members: &BTreeSet<&String>) -> Vec<String> {
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(module) = queue.pop_front() {
        for target in graph[module].keys().filter(|t| members.contains(t)) {
            if target == start {
                let mut cycle = vec![start.clone()];
                let mut at = module;
                while at != start {
                    cycle.push(at.clone());
                    at = came_from[at];
                }
                cycle.push(start.clone());
                cycle.reverse();
                return cycle;
            }
            if !came_from.contains_key(target) {
                came_from.insert(target, module);
                queue.push_back(target);
            }
        }
    }
    unreachable!("{start} is on a cycle")
}

/// The modules of an acyclic graph by height: each above all it references.
fn layers(graph: &Graph) -> Vec<Vec<String>> {
    let mut height: BTreeMap<&String, usize> = BTreeMap::new();
    while height.len() < graph.len() {
        for (module, targets) in graph {
            if !height.contains_key(module) && targets.keys().all(|t| height.contains_key(t)) {
                let h = targets.keys().map(|t| height[t] + 1).max().unwrap_or(0);
                height.insert(module, h);
            }
        }
    }
    let mut layers = vec![Vec::new(); height.values().max().map_or(0, |h| h + 1)];
    for (module, h) in height {
        layers[h].push(module.clone());
    }
    layers
}
