//! mysql-mha-script's integration tests, one test binary for the package: the command line as
//! MHA calls it and `status` against a real MariaDB and a Consul stand-in. The scenarios where
//! the real MHA drives this script are in the `sengu-e2e` package (`tests/tests/mha.rs`).

use sengu_testsupport::Run;
use sengu_testsupport::hooks::{self, Dc};

mod cli;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-mha-script");

/// Runs `mysql-mha-script args…` as MHA would, with `dc`'s environment plus `extra`.
fn script(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    hooks::run_hook(BIN, dc, args, extra)
}
