//! `cargo xtask demo`: installs what is missing, builds every executable, then runs the demo
//! program. The program lives in the `sengu-e2e` package (`tests/src/bin/sengu-demo.rs`)
//! because it needs the testbed, which xtask deliberately does not depend on;
//! it finds the executables it runs next to itself in the target directory.

use std::process::Command;

use crate::{cargo, packages, project_root, run_checked, DynError};

pub fn run() -> Result<(), DynError> {
    packages::ensure()?;
    eprintln!("xtask: building the executables (cargo build --workspace --bins --exclude xtask)");
    // Not xtask itself: a workspace build unifies features differently and would replace the
    // running binary, which the hosts-fallback step re-runs inside its namespaces.
    run_checked(&mut cargo(["build", "--quiet", "--workspace", "--bins", "--exclude", "xtask"]))?;
    run_checked(&mut Command::new(target_dir("debug").join("sengu-demo")))?;
    crate::demo_fallback::run(&target_dir("debug"))
}

/// `target/<profile>`: `CARGO_TARGET_DIR` if set, else the workspace's `target`.
pub fn target_dir(profile: &str) -> std::path::PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| project_root().join("target"));
    let base = if base.is_relative() { project_root().join(base) } else { base };
    base.join(profile)
}
