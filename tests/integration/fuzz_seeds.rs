//! The fuzz targets' entry functions over their committed seeds (and every crash ever found,
//! which is added there), in plain `cargo test`: the harness keeps compiling and the bugs fuzzing
//! found stay fixed without a fuzzing toolchain.

use std::path::PathBuf;

use crate::test::{copy_dir, repo};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo().join("fuzz/seeds").join(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    seeds
}

#[test]
fn catalogue_file_seeds() {
    for (path, bytes) in seeds("catalogue_file") {
        eprintln!("seed {}", path.display());
        rulecast::fuzz::catalogue_file(&bytes);
    }
}

#[test]
fn condition_seeds() {
    for (path, bytes) in seeds("condition") {
        eprintln!("seed {}", path.display());
        rulecast::fuzz::condition(&bytes);
    }
}

#[test]
fn catalogue_seeds() {
    let root = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("tests/fixtures/minimal"), root.path());
    for (path, bytes) in seeds("catalogue") {
        eprintln!("seed {}", path.display());
        rulecast::fuzz::detection_in_catalogue(root.path(), &bytes);
    }
}
