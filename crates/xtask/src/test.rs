//! `cargo xtask test`: the one command that takes a fresh machine to a full test run.

use std::ffi::OsString;

use crate::{cargo, packages, run_checked, DynError};

/// Installs what is missing, then runs `cargo test --workspace` with `extra` appended.
pub fn run(extra: Vec<OsString>) -> Result<(), DynError> {
    packages::ensure()?;
    let mut args: Vec<OsString> = vec!["test".into(), "--workspace".into()];
    args.extend(extra);
    run_checked(&mut cargo(args))
}
