//! Repository rules as ordinary tests, so plain `cargo test` enforces them (rust-analyzer's
//! `tidy.rs`). Only rules a reviewer would otherwise have to remember belong here: every Rust
//! file says what it is for, and every relative link in the Markdown docs leads somewhere.

use std::path::{Path, PathBuf};

use crate::project_root;

/// Every `.rs` file starts with a `//!` comment saying what it is for (docs/design.md, Layout).
#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = project_root();
    let mut files = Vec::new();
    files_ending_with(&root, ".rs", &mut files);
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

/// Every relative link in a Markdown file leads to a file or directory that exists, and a
/// `#fragment` into a Markdown page to one of its headings, so moving text between the README
/// and `docs/` cannot leave a dead link behind. Links in code blocks and code spans are not
/// links; `http(s):` and `mailto:` targets are not checked.
#[test]
fn relative_links_in_markdown_resolve() {
    let root = project_root();
    let mut pages = Vec::new();
    files_ending_with(&root, ".md", &mut pages);
    assert!(pages.iter().any(|f| f.ends_with("README.md")), "the walk found no README.md under {}", root.display());
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap_or_default();
        for target in link_targets(&text) {
            if ["http://", "https://", "mailto:"].iter().any(|scheme| target.starts_with(scheme)) {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() { page.clone() } else { page.parent().unwrap_or(&root).join(path) };
            let fine = resolved.exists()
                && fragment.is_none_or(|fragment| {
                    !path.is_empty() && !path.ends_with(".md")
                        || anchors(&std::fs::read_to_string(&resolved).unwrap_or_default()).contains(&fragment.to_string())
                });
            if !fine {
                broken.push(format!("{}: ({target})", page.strip_prefix(&root).unwrap_or(page).display()));
            }
        }
    }
    assert!(broken.is_empty(), "these Markdown links lead nowhere:\n  {}", broken.join("\n  "));
}

/// The targets of the inline links `[text](target)` in `markdown`, outside code.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        // Drop code spans: every second piece between backticks is code.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find(')') else { break };
            targets.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    targets
}

/// The anchors GitHub gives the headings of `markdown`: lower case, punctuation dropped except
/// `-` and `_`, spaces as `-`, and `-1`, `-2`… for repeats.
fn anchors(markdown: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !in_block) else { continue };
        let heading = heading.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let repeats = seen.iter().filter(|s| **s == slug || s.strip_prefix(&slug).is_some_and(|n| n.starts_with('-') && n[1..].parse::<u32>().is_ok())).count();
        seen.push(if repeats == 0 { slug } else { format!("{slug}-{repeats}") });
    }
    seen
}

#[test]
fn anchors_follow_github() {
    let page = "# sengu\n## Fencing a stale master (`--fence-stale-master`)\n```\n# not a heading\n```\n## Exit codes\n## Exit codes\n";
    assert_eq!(anchors(page), ["sengu", "fencing-a-stale-master---fence-stale-master", "exit-codes", "exit-codes-1"]);
    assert_eq!(link_targets("see [a](docs/a.md#x) and `[b](c)`, [d](https://e)\n```\n[f](g)\n```\n"), ["docs/a.md#x", "https://e"]);
}

/// All files under `dir` whose name ends with `suffix`, skipping build output and hidden
/// directories (`.git`, `.cargo`).
fn files_ending_with(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => files_ending_with(&path, suffix, out),
            Ok(t) if t.is_file() && name.ends_with(suffix) => out.push(path),
            _ => {}
        }
    }
}
