//! The source layout the README's "Architecture" section promises: no file of `src/`
//! imports another in a circle, `policy/` and `seccomp/` (and the builder, handlers and
//! supervisor) never reach into the command line, and no file but the generated syscall
//! table grows past ~800 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` -> ["a", "b"]; `src/a/mod.rs` -> ["a"]; `src/lib.rs` -> [].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file that is not a test or a comment.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every module path named after `root::` (`crate::` or `super::`), with the item or
/// brace group that follows: `crate::a::b::{c, d::E}` gives a::b::c and a::b::d.
fn paths_after(code: &str, root: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(root) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + root.len()..];
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let mut segs = Vec::new();
        let mut s = rest;
        loop {
            let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
            if end == 0 {
                break;
            }
            segs.push(s[..end].to_owned());
            s = &s[end..];
            match s.strip_prefix("::") {
                Some(next) => s = next,
                None => break,
            }
        }
        if let Some(group) = s.strip_prefix('{') {
            let close = group.find('}').unwrap_or(group.len());
            for item in group[..close].split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                let mut p = segs.clone();
                if !first.is_empty() && first != "self" {
                    p.push(first.to_owned());
                }
                out.push(p);
            }
        } else {
            out.push(segs);
        }
    }
    out
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            name != "main.rs" && name != "tests.rs" && !name.ends_with("_tests.rs")
        })
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains_key(p))
    };
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = code(&std::fs::read_to_string(file).unwrap());
        let is_dir = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let mut named: Vec<Vec<String>> = paths_after(&text, "crate::");
        for p in paths_after(&text, "super::") {
            // `super` of a::b (a/b.rs or a/b/mod.rs) is a.
            let mut full = module[..module.len().saturating_sub(1)].to_vec();
            full.extend(p);
            named.push(full);
        }
        if is_dir {
            // A child module used by its parent without a prefix (`files::Files`).
            for (child, _) in modules.range(module.clone()..) {
                if child.len() == module.len() + 1 && child.starts_with(module) {
                    let name = child.last().unwrap();
                    if !paths_after(&text, &format!("{name}::")).is_empty() {
                        named.push(child.clone());
                    }
                }
            }
        }
        let deps: BTreeSet<String> = named
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|p| p != module)
            .map(|p| p.join("::"))
            .collect();
        graph.insert(module.join("::"), deps);
    }
    graph
}

/// A circle through `start`, if there is one.
fn circle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_file_imports_another_in_a_circle() {
    let graph = module_graph();
    assert!(
        graph.len() > 30,
        "the scan found too few modules: {graph:?}"
    );
    assert!(
        graph["seccomp"].contains("policy::traps"),
        "the scan misses imports: {:?}",
        graph["seccomp"]
    );
    for module in graph.keys() {
        if let Some(circle) = circle_from(&graph, module) {
            panic!("import circle: {} -> {module}", circle.join(" -> "));
        }
    }
}

#[test]
fn data_flows_one_way() {
    let graph = module_graph();
    let within = |m: &str, p: &str| m == p || m.starts_with(&format!("{p}::"));
    // (these modules, may not import any of these)
    let rules: [(&[&str], &[&str]); 2] = [
        (
            &["policy", "seccomp"],
            &[
                "cli",
                "spawn",
                "launch",
                "sandbox",
                "supervisor",
                "handlers",
            ],
        ),
        (&["handlers", "supervisor", "sandbox", "launch"], &["cli"]),
    ];
    for (modules, banned) in rules {
        for (module, deps) in &graph {
            if !modules.iter().any(|p| within(module, p)) {
                continue;
            }
            for dep in deps {
                assert!(
                    !banned.iter().any(|b| within(dep, b)),
                    "{module} imports {dep}"
                );
            }
        }
    }
}

#[test]
fn no_file_is_too_long() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        if f.ends_with("seccomp/names.rs") {
            continue; // the generated syscall table
        }
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        assert!(lines <= MAX_LINES, "{}: {lines} lines", f.display());
    }
}

#[test]
fn the_scan_sees_a_circle() {
    let mut graph = BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    graph.insert("a".to_owned(), set(&["b"]));
    graph.insert("b".to_owned(), set(&["c"]));
    graph.insert("c".to_owned(), set(&["a"]));
    graph.insert("d".to_owned(), set(&["a"]));
    assert_eq!(
        circle_from(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(circle_from(&graph, "d"), None);
    assert_eq!(
        paths_after("use crate::a::{b, c::D, self};", "crate::"),
        vec![vec!["a", "b"], vec!["a", "c"], vec!["a"]]
    );
}
