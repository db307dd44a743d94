//! `cargo xtask man`: renders each executable's man pages (`docs/man/`, one page per
//! subcommand too) and its bash, zsh and fish completions (`docs/completions/`) from the clap
//! definition in its crate's `cli` module, the one the executable itself parses, so `--help`,
//! the man page and the completions cannot drift apart. The files are committed; a test below
//! fails when they differ from what this renders (rust-analyzer's `ensure_file_contents`).
//!
//! consul-standin gets none: it is a test tool that is never installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use clap_complete::{Generator, Shell};

use crate::{project_root, DynError};

/// Where the man pages go, relative to the project root.
pub const MAN_DIR: &str = "docs/man";
/// Where the completions go, relative to the project root.
const COMPLETIONS_DIR: &str = "docs/completions";
/// The shells that get completions.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Every shipped executable's clap command, as the executable builds it.
pub fn executables() -> Vec<Command> {
    vec![
        redis_master_check::cli::Cli::command(),
        sentinel_rebalance::cli::Cli::command(),
        mysql_before_exec::cli::Cli::command(),
        mysql_after_exec::cli::Cli::command(),
        mysql_fail_check::cli::Cli::command(),
        mysql_mha_script::cli::Cli::command(),
        mysql_master_check::cli::Cli::command(),
        sengu_drill::cli::Cli::command(),
        consul_hosts_fallback::cli::Cli::command(),
    ]
}

/// Writes every generated file and removes files in the two directories that are no longer
/// generated (a renamed subcommand, say).
pub fn run() -> Result<(), DynError> {
    let root = project_root();
    let files = generated()?;
    for dir in [MAN_DIR, COMPLETIONS_DIR] {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for stale in files_in(&dir) {
            let relative = stale.strip_prefix(&root).unwrap_or(&stale).to_path_buf();
            if !files.contains_key(&relative) {
                std::fs::remove_file(&stale).map_err(|e| format!("cannot remove {}: {e}", stale.display()))?;
                eprintln!("xtask: removed {}", relative.display());
            }
        }
    }
    let mut changed = 0;
    for (relative, contents) in &files {
        let path = root.join(relative);
        if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            std::fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!("xtask: wrote {}", relative.display());
            changed += 1;
        }
    }
    eprintln!("xtask: {} files generated, {changed} changed", files.len());
    Ok(())
}

/// Every generated file: its path relative to the project root, and its contents.
pub fn generated() -> Result<BTreeMap<PathBuf, Vec<u8>>, DynError> {
    let mut files = BTreeMap::new();
    for command in executables() {
        let name = command.get_name().to_string();
        // As clap_mangen's own `generate_to`: no `help` subcommand page, one page per subcommand.
        let mut command = command.disable_help_subcommand(true);
        command.build();
        man_pages(&command, &mut files)?;
        for shell in SHELLS {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command.clone(), &name, &mut text);
            files.insert(Path::new(COMPLETIONS_DIR).join(shell.file_name(&name)), text);
        }
    }
    Ok(files)
}

/// The man page of `command` and of each of its visible subcommands (`sengu-drill-redis.1`).
fn man_pages(command: &Command, files: &mut BTreeMap<PathBuf, Vec<u8>>) -> Result<(), DynError> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, files)?;
    }
    let man = clap_mangen::Man::new(command.clone());
    let mut text = Vec::new();
    man.render(&mut text)?;
    let title = command.get_display_name().unwrap_or_else(|| command.get_name());
    let text = finish_page(&String::from_utf8(text)?, title);
    files.insert(Path::new(MAN_DIR).join(man.get_filename()), text.into_bytes());
    Ok(())
}

/// Two fixes to clap_mangen's page. Its `.TH` line leaves the empty date unquoted, so man
/// reads the source as the date and the manual name as the source; this writes all five
/// fields. And the text after the options (`after_help`: the caller, its argv, the exit codes)
/// is laid out by hand as in `--help`, so it is set unfilled, under NOTES rather than EXTRA.
fn finish_page(roff: &str, title: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut out = String::with_capacity(roff.len() + 64);
    let mut unfilled = false;
    for line in roff.lines() {
        if line.starts_with(".TH ") {
            out.push_str(&format!(".TH {title} 1 \"\" \"sengu {version}\" \"sengu manual\"\n"));
            continue;
        }
        if line.starts_with(".SH ") && unfilled {
            out.push_str(".fi\n");
            unfilled = false;
        }
        if line == ".SH EXTRA" {
            out.push_str(".SH NOTES\n.nf\n");
            unfilled = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if unfilled {
        out.push_str(".fi\n");
    }
    out
}

/// The regular files directly in `dir`.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect()
}

/// The committed man pages and completions are what `cargo xtask man` renders from the clap
/// definitions now: a flag added, renamed or re-documented without regenerating fails here.
#[test]
fn man_pages_and_completions_are_current() {
    let root = project_root();
    let files = generated().unwrap();
    let mut stale: Vec<String> = files
        .iter()
        .filter(|(relative, contents)| std::fs::read(root.join(relative)).ok().as_deref() != Some(contents.as_slice()))
        .map(|(relative, _)| format!("{} (missing or out of date)", relative.display()))
        .collect();
    for dir in [MAN_DIR, COMPLETIONS_DIR] {
        for file in files_in(&root.join(dir)) {
            let relative = file.strip_prefix(&root).unwrap_or(&file).to_path_buf();
            if !files.contains_key(&relative) {
                stale.push(format!("{} (no longer generated)", relative.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the generated man pages and completions do not match the clap definitions; run `cargo xtask man` and commit the result:\n  {}",
        stale.join("\n  ")
    );
}

/// Every executable a crate under `crates/` builds has its page, so a new one cannot ship
/// without (consul-standin is the test tool that is never installed).
#[test]
fn every_shipped_executable_has_a_man_page() {
    let files = generated().unwrap();
    let crates = project_root().join("crates");
    let (mut found, mut missing) = (0, Vec::new());
    for manifest in std::fs::read_dir(&crates).unwrap().flatten().map(|e| e.path().join("Cargo.toml")) {
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        for section in text.split("[[bin]]").skip(1) {
            let name = section.lines().find_map(|l| l.trim().strip_prefix("name = ")).unwrap_or_default().trim_matches('"');
            found += 1;
            if name != "consul-standin" && !files.contains_key(&Path::new(MAN_DIR).join(format!("{name}.1"))) {
                missing.push(name.to_string());
            }
        }
    }
    assert!(found > 1, "found no [[bin]] sections under {}; is the root right?", crates.display());
    assert!(missing.is_empty(), "no man page for {missing:?}: add its `cli::Cli::command()` to `executables()` in crates/xtask/src/man.rs");
}
