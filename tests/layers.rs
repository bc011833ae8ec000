//! No module imports a higher layer: every `crate::<module>` path in `src/**/*.rs` (comments aside) names a module
//! below its own in [`LAYERS`], the layout table of `src/lib.rs`. A module missing from the table fails too, so a
//! new one gets its place on purpose.

use std::fs;
use std::path::{Path, PathBuf};

/// Bottom → top. A module may use only the modules before it (and itself).
const LAYERS: &[&str] = &[
    "names", "error", "fork", "parallel", "money", "json", "tokens", "prices", "usage", "cost", "ledger", "budget",
    "py",
];

/// What the crate root itself defines (`lib.rs`): usable from anywhere.
const ROOT_ITEMS: &[&str] = &["Error", "Result", "testing"];

/// The module a file belongs to: `src/cost/table.rs` → `cost`, `src/money.rs` → `money`; `None` for `lib.rs`.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(stem) => Some(stem.to_string()),
        None => Some(first.to_string()),
    }
}

/// The source without its comments (line, doc and block comments) and the text of its string literals.
fn without_comments(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let rest = &source[i..];
        if in_string {
            if rest.starts_with("\\\"") || rest.starts_with("\\\\") {
                i += 2;
                continue;
            }
            in_string = bytes[i] != b'"';
            if in_string {
                i += rest.chars().next().unwrap().len_utf8();
                continue;
            }
        } else if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
            continue;
        } else if bytes[i] == b'"' && !source[..i].ends_with('\'') {
            in_string = true;
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The top-level names after each `crate::` in `code`: `crate::cost::table` → `cost`, `crate::{a, b::c}` → `a`, `b`.
fn crate_paths(code: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut names = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `other_crate::`
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            names.extend(group.split(',').map(|part| ident(part.trim())).filter(|n| !n.is_empty()));
        } else {
            names.push(ident(rest));
        }
    }
    names
}

/// The violations of one file of module `module`: `"<file>: <module> uses <higher>"`.
fn violations(file: &str, module: &str, source: &str) -> Vec<String> {
    let Some(rank) = LAYERS.iter().position(|m| *m == module) else {
        return vec![format!("{file}: module {module} is not in the layer table")];
    };
    let mut found = Vec::new();
    for name in crate_paths(&without_comments(source)) {
        if ROOT_ITEMS.contains(&name.as_str()) {
            continue;
        }
        match LAYERS.iter().position(|m| *m == name) {
            Some(r) if r <= rank => {}
            Some(_) => found.push(format!("{file}: {module} uses {name}, a higher layer")),
            None => found.push(format!("{file}: {module} uses crate::{name}, which is not in the layer table")),
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} files under {}", files.len(), src.display());
    let mut all = Vec::new();
    let mut checked = 0;
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap();
        let Some(module) = module_of(relative) else { continue };
        let source = fs::read_to_string(path).unwrap();
        all.extend(violations(&relative.display().to_string(), &module, &source));
        checked += 1;
    }
    assert!(checked > 20);
    assert!(all.is_empty(), "layer violations (order, bottom → top: {}):\n{}", LAYERS.join(" < "), all.join("\n"));
}

/// The check itself: a planted import of a higher layer is caught, in every form a path can take; comments,
/// strings, lower layers and the crate root's items are not.
#[test]
fn a_planted_violation_is_caught() {
    let planted = [
        "use crate::cost::table::price_table;",
        "use crate::{error::Result, cost::table};",
        "fn f() { let _ = crate::usage::Usage::default(); }",
    ];
    for code in planted {
        let found = violations("prices/book.rs", "prices", code);
        assert_eq!(found.len(), 1, "{code}: {found:?}");
        assert!(found[0].contains("higher layer"), "{found:?}");
    }
    let fine = [
        "use crate::money::Factor;\nuse crate::names::closest;\nuse crate::Error;",
        "// use crate::cost::table;\n/// See [`crate::ledger`].\nfn f() {}",
        "/* crate::py */ const S: &str = \"crate::cost\";",
        "use tokenprice_crate::cost;",
    ];
    for code in fine {
        assert_eq!(violations("prices/book.rs", "prices", code), Vec::<String>::new(), "{code}");
    }
    assert_eq!(violations("new.rs", "new", "").len(), 1, "a module outside the table fails");
    assert_eq!(
        violations("usage/x.rs", "usage", "use crate::whatever::x;"),
        ["usage/x.rs: usage uses crate::whatever, which is not in the layer table"]
    );
    assert_eq!(module_of(Path::new("cost/table.rs")).as_deref(), Some("cost"));
    assert_eq!(module_of(Path::new("money.rs")).as_deref(), Some("money"));
    assert_eq!(module_of(Path::new("lib.rs")), None);
}
