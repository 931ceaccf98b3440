//! Shared helpers for the end-to-end and conformance tests: where the committed vectors
//! live and how to load them. Tests never read `../shared`: the vectors are copied here.

use std::path::PathBuf;

/// `tests/vectors/<sub>`.
pub fn vectors_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(sub)
}

/// Reads one vector file.
pub fn vector(sub: &str, name: &str) -> Vec<u8> {
    let p = vectors_dir(sub).join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The RFC 4475 expectations: `(file, expect, note)` rows of `expected.tsv`.
pub fn rfc4475_expectations() -> Vec<(String, String, String)> {
    let tsv = String::from_utf8(vector("rfc4475", "expected.tsv")).expect("expected.tsv is UTF-8");
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.splitn(3, '\t');
            let f = it.next().unwrap_or_default().to_owned();
            let e = it.next().unwrap_or_default().to_owned();
            let n = it.next().unwrap_or_default().to_owned();
            (f, e, n)
        })
        .collect()
}

/// Every `.sip` file of our own vectors, sorted by name.
pub fn own_vectors() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(vectors_dir("own"))
        .expect("own vectors dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}
