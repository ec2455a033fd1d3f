//! The library's modules form layers (described in `src/lib.rs`): a module
//! imports only from layers below its own, so none imports one that
//! imports it back. Read from the sources, as a reviewer would.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Lowest first; modules in one layer may not import each other either,
/// except where listed in the same inner group.
const LAYERS: &[&[&str]] = &[
    &["cancel", "temp", "yaml", "example"],
    &["shard"],
    &["profile"],
    &["plan"],
    &["archive"],
    &["event"],
    &["report", "slurm"],
    &["engine"],
    &["gui"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `crate::<module>` paths used in a source text, outside comments and
/// the test module.
fn imports(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if ["lib", "main", "bin"].contains(&top.as_str()) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let edges = graph.entry(top.clone()).or_default();
        edges.extend(imports(&text).into_iter().filter(|m| *m != top));
    }
    assert!(graph.len() >= 10, "modules found: {:?}", graph.keys());
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        let Some(own) = layer_of(module) else {
            wrong.push(format!(
                "{module} is in no layer: add it to lib.rs and here"
            ));
            continue;
        };
        for used in uses {
            // Root items (`crate::Summary`) re-export from a module.
            let Some(theirs) = layer_of(used) else {
                continue;
            };
            if theirs >= own {
                wrong.push(format!("{module} imports {used}, which is not below it"));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "{wrong:#?}");
}
