//! Vocabularies of document-term matrices: reading the term of every column, finding the
//! vocabulary that sits beside a data file, and naming each component's top words.
//!
//! A vocabulary file is either text, one term per line (line i names column i), or JSON: a
//! list of strings, or an object whose `vocabulary` (or `vocab`, `terms`, `feature_names`)
//! field is one, as in the `*_meta.json` files that accompany count matrices such as
//! `debian_docs_counts.npz`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use faer::MatRef;
use nmf_core::Float;

use crate::io::IoError;

/// Fields of a JSON object that may hold the vocabulary, in the order they are tried.
const FIELDS: [&str; 4] = ["vocabulary", "vocab", "terms", "feature_names"];

/// A malformed vocabulary, as the invalid-data error `std` itself gives for bad text.
fn invalid(path: &Path, reason: String) -> IoError {
    IoError::Os {
        path: path.to_path_buf(),
        source: std::io::Error::new(ErrorKind::InvalidData, reason),
    }
}

/// Reads the terms of a vocabulary file, in column order (see the module docs for the
/// formats). JSON is recognised by a `.json` extension or a first character `[` or `{`.
///
/// # Errors
/// The file cannot be read or is not UTF-8; JSON that does not parse, or holds no list of
/// strings (in one of the known fields).
pub fn read_vocabulary(path: impl AsRef<Path>) -> Result<Vec<String>, IoError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| IoError::Os {
        path: path.to_path_buf(),
        source,
    })?;
    let json_ext = path.extension().is_some_and(|e| e == "json");
    let first = text.trim_start().chars().next();
    if json_ext || matches!(first, Some('[' | '{')) {
        return parse_json(path, &text);
    }
    // Every line is a term, blank ones included (dropping them would shift the columns after
    // them); only the terminator of the last line ends nothing.
    let body = text.strip_suffix('\n').unwrap_or(&text);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    Ok(body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}

fn parse_json(path: &Path, text: &str) -> Result<Vec<String>, IoError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(path, format!("not valid JSON: {e}")))?;
    let list = match &value {
        serde_json::Value::Array(_) => &value,
        serde_json::Value::Object(map) => {
            FIELDS.iter().find_map(|f| map.get(*f)).ok_or_else(|| {
                invalid(
                    path,
                    format!(
                        "a JSON object without a vocabulary field ({})",
                        FIELDS.join(", ")
                    ),
                )
            })?
        }
        _ => {
            return Err(invalid(
                path,
                "JSON that is neither a list nor an object".into(),
            ));
        }
    };
    let items = list
        .as_array()
        .ok_or_else(|| invalid(path, "the vocabulary is not a JSON list".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(path, format!("vocabulary entry {i} is not a string: {v}")))
        })
        .collect()
}

/// The vocabulary file that accompanies the data file `data`, if one exists beside it:
/// `NAME_meta.json` for `NAME_counts.npz` (or `.mtx`), else `STEM_meta.json`,
/// `STEM_vocab.txt` or `STEM.vocab` for `STEM.npz`.
pub fn vocabulary_beside(data: &Path) -> Option<PathBuf> {
    let stem = data.file_stem()?.to_str()?;
    let dir = data.parent().unwrap_or(Path::new(""));
    let mut candidates = Vec::new();
    if let Some(base) = stem.strip_suffix("_counts") {
        candidates.push(format!("{base}_meta.json"));
    }
    candidates.extend([
        format!("{stem}_meta.json"),
        format!("{stem}_vocab.txt"),
        format!("{stem}.vocab"),
    ]);
    candidates
        .into_iter()
        .map(|c| dir.join(c))
        .find(|p| p.is_file())
}

/// The `n` top words of each component (row of `h`), largest weight first, ties by column
/// ([`nmf_metrics::top_terms`]); a column beyond the vocabulary is written `#j`.
pub fn top_words<T: Float>(h: MatRef<'_, T>, vocabulary: &[String], n: usize) -> Vec<Vec<String>> {
    nmf_metrics::top_terms(h, n)
        .into_iter()
        .map(|terms| {
            terms
                .into_iter()
                .map(|j| {
                    vocabulary
                        .get(j)
                        .cloned()
                        .unwrap_or_else(|| format!("#{j}"))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nmf-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn lines_keep_their_columns() {
        let p = tmp("v.txt", "alpha\r\n\nbeta\ngamma\n");
        assert_eq!(read_vocabulary(&p).unwrap(), ["alpha", "", "beta", "gamma"]);
        let p = tmp("w.txt", "one\ntwo");
        assert_eq!(read_vocabulary(&p).unwrap(), ["one", "two"]);
        assert!(read_vocabulary(tmp("e.txt", "")).unwrap().is_empty());
    }

    #[test]
    fn json_lists_and_objects_with_a_vocabulary_field() {
        let p = tmp("l.json", r#"["a", "b"]"#);
        assert_eq!(read_vocabulary(&p).unwrap(), ["a", "b"]);
        let p = tmp(
            "meta.json",
            r#"{"documents": ["d"], "vocabulary": ["x", "y", "z"]}"#,
        );
        assert_eq!(read_vocabulary(&p).unwrap(), ["x", "y", "z"]);
        // Recognised by content too.
        let p = tmp("o.vocab", r#"  {"terms": ["t"]}"#);
        assert_eq!(read_vocabulary(&p).unwrap(), ["t"]);
        for bad in [
            r#"{"documents": ["d"]}"#,
            r#"["a", 1]"#,
            "[",
            "3",
            r#"{"vocab": "a"}"#,
        ] {
            let e = read_vocabulary(tmp("bad.json", bad)).unwrap_err();
            assert!(
                matches!(&e, IoError::Os { source, .. } if source.kind() == ErrorKind::InvalidData),
                "{bad}: {e}"
            );
        }
        assert!(read_vocabulary(tmp("x", "").with_file_name("missing.txt")).is_err());
    }

    #[test]
    fn the_meta_file_beside_counts_is_found() {
        let data = tmp("corpus_counts.npz", "");
        assert_eq!(vocabulary_beside(&data), None);
        let meta = tmp("corpus_meta.json", "[]");
        assert_eq!(vocabulary_beside(&data), Some(meta));
        let other = tmp("other.mtx", "");
        let v = tmp("other_vocab.txt", "a\n");
        assert_eq!(vocabulary_beside(&other), Some(v));
    }

    #[test]
    fn top_words_name_the_largest_columns() {
        let h = faer::mat![[0.0, 2.0, 1.0], [5.0, 0.0, 0.0f32]];
        let vocab: Vec<String> = ["a", "b"].map(String::from).to_vec();
        assert_eq!(
            top_words(h.as_ref(), &vocab, 2),
            [vec!["b", "#2"], vec!["a"]]
        );
    }
}
