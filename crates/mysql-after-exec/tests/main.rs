//! mysql-after-exec's integration tests, one test binary for the package. Every test here runs
//! only this package's own executable (`CARGO_BIN_EXE_mysql-after-exec`); scenarios that also
//! run `mysql-before-exec` are in the `sengu-e2e` package (`tests/tests/hooks_*.rs`). The
//! stand-in datacenter and the hook helpers come from `sengu_testsupport::hooks`.

use sengu_testsupport::Run;
use sengu_testsupport::hooks::{self, Dc};

mod cli;
mod failover;
mod faults;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-after-exec");

/// Runs `mysql-after-exec args…` as mysqlfailover would, with `dc`'s environment plus `extra`.
fn after(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    hooks::run_hook(BIN, dc, args, extra)
}
