//! `cargo xtask test`: the one command that takes a fresh machine to a full test run.

use std::ffi::OsString;

use crate::{cargo, dist, packages, run_checked, DynError};

/// Installs what is missing, then runs `cargo test --workspace` with `extra` appended. A full
/// run (no `extra`) then checks the Debian package with the executables it just built
/// ([`dist::check`]); a run narrowed by arguments skips that.
pub fn run(extra: Vec<OsString>) -> Result<(), DynError> {
    packages::ensure()?;
    let full = extra.is_empty();
    let mut args: Vec<OsString> = vec!["test".into(), "--workspace".into()];
    args.extend(extra);
    run_checked(&mut cargo(args))?;
    if full {
        dist::check()
    } else {
        eprintln!("xtask: package check skipped: it runs with the full `cargo xtask test` only");
        Ok(())
    }
}
