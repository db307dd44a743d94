//! Repository rules as ordinary tests, so plain `cargo test` enforces them (rust-analyzer's
//! `tidy.rs`). Only rules a reviewer would otherwise have to remember belong here.

use std::path::{Path, PathBuf};

use crate::project_root;

/// Every `.rs` file starts with a `//!` comment saying what it is for (STYLE.md, point 7).
#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = project_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.iter().any(|f| f.ends_with("crates/xtask/src/tidy.rs")), "the walk missed this file; is the root right? {}", root.display());
    let undocumented: Vec<String> = files
        .iter()
        .filter(|file| !std::fs::read_to_string(file).is_ok_and(|text| text.starts_with("//!")))
        .map(|file| file.strip_prefix(&root).unwrap_or(file).display().to_string())
        .collect();
    assert!(
        undocumented.is_empty(),
        "these files do not start with a `//!` comment saying what they are for:\n  {}",
        undocumented.join("\n  ")
    );
}

/// All `.rs` files under `dir`, skipping build output and hidden directories (`.git`, `.cargo`).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => rust_files(&path, out),
            Ok(t) if t.is_file() && name.ends_with(".rs") => out.push(path),
            _ => {}
        }
    }
}
