//! `cargo xtask bench`: installs what is missing, builds every executable in release mode,
//! then runs the benchmark program (`tests/src/bin/sengu-bench.rs` in the `sengu-e2e`
//! package), which starts the local lab and prints the table, and last the cost of one
//! `redis-master-check` run on a quiet lab of its own (`cargo bench -p redis-master-check`).
//! Further arguments go to the lab program: `cargo xtask bench --iterations 50 --rounds 10`.

use std::ffi::OsString;
use std::process::Command;

use crate::demo::target_dir;
use crate::{cargo, packages, run_checked, DynError};

pub fn run(extra: Vec<OsString>) -> Result<(), DynError> {
    packages::ensure()?;
    eprintln!("xtask: building the executables (cargo build --release --workspace --bins)");
    run_checked(&mut cargo(["build", "--quiet", "--release", "--workspace", "--bins"]))?;
    run_checked(Command::new(target_dir("release").join("sengu-bench")).args(extra))?;
    eprintln!("xtask: one redis-master-check run (cargo bench -p redis-master-check)");
    run_checked(&mut cargo(["bench", "--quiet", "-p", "redis-master-check", "--bench", "invocation"]))
}
