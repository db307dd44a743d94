//! mysql-before-exec's integration tests, one test binary for the package. Every test here runs
//! only this package's own executable (`CARGO_BIN_EXE_mysql-before-exec`); scenarios that also
//! run `mysql-after-exec` are in the `sengu-e2e` package (`tests/tests/hooks_*.rs`). The
//! stand-in datacenter and the hook helpers come from `sengu_testsupport::hooks`.

use sengu_testsupport::Run;
use sengu_testsupport::hooks::{self, Dc};

mod cli;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-before-exec");

/// Runs `mysql-before-exec args…` as mysqlfailover would, with `dc`'s environment plus `extra`.
fn before(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    hooks::run_hook(BIN, dc, args, extra)
}
