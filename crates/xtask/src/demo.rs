//! `cargo xtask demo`: installs what is missing, then runs the demo program, which lives in the
//! `sengu-e2e` package (`tests/src/bin/sengu-demo.rs`) because it needs the testbed and the
//! library, which xtask deliberately does not depend on.

use crate::{cargo, packages, run_checked, DynError};

pub fn run() -> Result<(), DynError> {
    packages::ensure()?;
    run_checked(&mut cargo(["run", "--quiet", "-p", "sengu-e2e", "--bin", "sengu-demo"]))
}
