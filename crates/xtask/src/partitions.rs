//! `cargo xtask partitions`: installs what is missing (nftables among it), builds every
//! executable in release mode, then runs the partition scenarios (`tests/src/bin/sengu-partitions.rs`
//! in the `sengu-e2e` package), which prints one table of figures per strategy. As root: the lab
//! lives in private network namespaces that die with it. Further arguments are passed on:
//! `cargo xtask partitions --runs 3 --strategy fence --scenario 1`.

use std::ffi::OsString;
use std::process::Command;

use crate::demo::target_dir;
use crate::{cargo, packages, run_checked, DynError};

pub fn run(extra: Vec<OsString>) -> Result<(), DynError> {
    packages::ensure()?;
    eprintln!("xtask: building the executables (cargo build --release --workspace --bins)");
    run_checked(&mut cargo(["build", "--quiet", "--release", "--workspace", "--bins"]))?;
    run_checked(Command::new(target_dir("release").join("sengu-partitions")).args(extra))
}
