//! Tidy checks over the repository's own files (the idea of rust-analyzer's tidy tests): every
//! Rust file opens with a `//!` module comment, the keyword that opts out of Rust's safety checks
//! stays in an allow-list of files, and every markdown or script file that a `.rs` or `.md` file
//! names exists here.
//!
//! They read files only; a failure lists every offending place as `path:line`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository root (the root package is the workspace root).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directories never scanned: build output, git's store, generated fixtures and the ignored
/// output folder (the last two are in `.gitignore`).
const SKIP_DIRS: [&str; 4] = ["target", ".git", "fixtures-large", "out"];

/// Every file under the root with one of `exts`, as paths relative to the root, sorted.
fn files(exts: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if !SKIP_DIRS.contains(&name) {
                    walk(&p, exts, out);
                }
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), exts, &mut out);
    out.into_iter()
        .map(|p| {
            p.strip_prefix(root())
                .expect("under the root")
                .to_path_buf()
        })
        .collect()
}

fn read(rel: &Path) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

/// Forward slashes whatever the platform, for comparisons and messages.
fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

fn fail_if_any(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}:\n  {}\n({} places)",
        problems.join("\n  "),
        problems.len()
    );
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Byte offsets where `word` occurs as a whole identifier (not inside a longer one such as
/// `unsafe_code`).
fn word_at(line: &str, word: &str) -> Vec<usize> {
    line.match_indices(word)
        .filter(|&(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + word.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn every_rust_file_opens_with_a_module_comment() {
    let problems: Vec<String> = files(&["rs"])
        .iter()
        .filter(|p| !read(p).starts_with("//!"))
        .map(|p| format!("{}:1: does not start with `//!`", slash(p)))
        .collect();
    fail_if_any("Rust files without a leading `//!` comment", &problems);
}

/// The keyword, assembled so that this file does not name it.
const UNSAFE: &str = concat!("un", "safe");

/// The files allowed to contain the keyword: the calls into `#[target_feature]` code and the
/// intrinsics after the CPU check (ARCHITECTURE.md, invariants), the counting allocator of
/// the memory test, and the poisoning allocator of the padding test with its reads of the
/// padding rows.
const UNSAFE_ALLOWED: [&str; 3] = [
    "crates/nmf-core/src/simd.rs",
    "tests/memory.rs",
    "tests/padding.rs",
];

#[test]
fn unsafe_stays_in_its_allow_list() {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for p in files(&["rs"]) {
        let rel = slash(&p);
        for (n, line) in read(&p).lines().enumerate() {
            if !word_at(line, UNSAFE).is_empty() {
                if UNSAFE_ALLOWED.contains(&rel.as_str()) {
                    seen.insert(rel.clone());
                } else {
                    problems.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    fail_if_any(&format!("`{UNSAFE}` outside {UNSAFE_ALLOWED:?}"), &problems);
    // An allow-list entry that no longer needs the keyword should be removed from the list.
    for allowed in UNSAFE_ALLOWED {
        assert!(
            seen.contains(allowed),
            "{allowed} no longer uses `{UNSAFE}`: drop it from the allow-list"
        );
    }
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

/// The extensions of the files a reference must resolve for: documents and scripts.
const REFERENCED_EXTS: [&str; 3] = ["md", "py", "sh"];

/// Path-like tokens of `line` that end in one of [`REFERENCED_EXTS`] (as a whole word).
fn file_tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if !is_path_char(chars[i].1) {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        while i < chars.len() && is_path_char(chars[i].1) {
            i += 1;
        }
        let end = if i < chars.len() {
            chars[i].0
        } else {
            line.len()
        };
        // A sentence may end right after a path: drop trailing dots and slashes.
        let token = line[start..end].trim_end_matches(['.', '/']);
        if let Some((stem, ext)) = token.rsplit_once('.')
            && REFERENCED_EXTS.contains(&ext)
            && !stem.is_empty()
            && !stem.ends_with('/')
        {
            out.push(token.to_string());
        }
    }
    out
}

/// Whether `token` names a file of this repository (as opposed to a file of another project,
/// such as scikit-learn's `sklearn/decomposition/_nmf.py`): its first component is a top-level
/// entry of the repository, it climbs out of it (`../`), or it is a bare upper-case document name
/// (`README.md`, the convention for repository-level documents).
fn is_repo_reference(token: &str, top_level: &BTreeSet<String>) -> bool {
    if token.starts_with("../") || token.starts_with("./") {
        return true;
    }
    match token.split_once('/') {
        Some((first, _)) => top_level.contains(first),
        None => {
            let stem = token.rsplit_once('.').map_or(token, |(s, _)| s);
            stem.chars().any(|c| c.is_ascii_uppercase())
                && stem
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }
    }
}

/// The shared folder beside the checkout, assembled so that this file does not name a path in it.
const SHARED: &str = concat!("../", "shared/");

/// The data folders of the shared folder that code and docs may name; everything else there (notes,
/// hooks) is outside the repository and must not be cited.
const SHARED_ALLOWED: [&str; 2] = ["data", "fixtures-scale"];

#[test]
fn referenced_documents_and_scripts_exist() {
    let top_level: BTreeSet<String> = std::fs::read_dir(root())
        .expect("root")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    let mut problems = Vec::new();
    for p in files(&["rs", "md"]) {
        let rel = slash(&p);
        let dir = root()
            .join(&p)
            .parent()
            .expect("a file has a folder")
            .to_path_buf();
        for (n, line) in read(&p).lines().enumerate() {
            let at = format!("{rel}:{}", n + 1);
            // Into the shared folder only its data folders; the bare folder name is fine.
            for (i, _) in line.match_indices(SHARED) {
                let rest = &line[i..];
                let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
                let named = &rest[..end];
                let first = named[SHARED.len()..].split('/').next().unwrap_or("");
                if !SHARED_ALLOWED.contains(&first) {
                    problems.push(format!(
                        "{at}: `{named}` is outside the repository (only the folders \
                         {SHARED_ALLOWED:?} of the shared folder may be named)"
                    ));
                }
            }
            for token in file_tokens(line) {
                if token.starts_with(SHARED) || !is_repo_reference(&token, &top_level) {
                    continue;
                }
                let exists = root().join(&token).is_file() || dir.join(&token).is_file();
                if !exists {
                    problems.push(format!("{at}: `{token}` does not exist in the repository"));
                }
            }
        }
    }
    fail_if_any("references to missing documents or scripts", &problems);
}

/// The scanner itself, on made-up lines (the names are assembled at run time so that this file
/// holds no reference the test above would check).
#[test]
fn the_reference_scanner_finds_what_it_should() {
    let doc = |s: &str| format!("{s}.md");
    let script = format!("{}/x.py", "scripts");
    let line = format!(
        "see {} 4.4, `{}`, {script}. And {} or {}",
        doc("NOTES"),
        doc("docs/algorithms"),
        doc("sklearn/some/file"),
        doc("lower")
    );
    let tokens = file_tokens(&line);
    assert_eq!(
        tokens,
        vec![
            doc("NOTES"),
            doc("docs/algorithms"),
            script,
            doc("sklearn/some/file"),
            doc("lower")
        ]
    );
    let top: BTreeSet<String> = ["docs", "scripts"].map(String::from).into();
    let checked: Vec<bool> = tokens.iter().map(|t| is_repo_reference(t, &top)).collect();
    assert_eq!(checked, vec![true, true, true, false, false]);
    // Only whole words: `unsafe_code` is a lint name, not the keyword.
    assert_eq!(
        word_at(&format!("{UNSAFE}_code {UNSAFE} x"), UNSAFE),
        vec![12]
    );
    assert!(file_tokens("a.md5 b.mdx version 1.5").is_empty());
}
