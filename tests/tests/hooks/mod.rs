//! The two MySQL hooks for the scenarios that run both, found as every cross-executable test
//! finds its executables (`sengu_e2e::lab::bin`: next to the test executable, or in
//! `SENGU_BIN_DIR`) and run through `sengu_testsupport::hooks` as mysqlfailover runs them.

use sengu_e2e::lab;
use sengu_testsupport::Run;
use sengu_testsupport::hooks::{self, Dc};

/// Runs `mysql-before-exec args…` as mysqlfailover would, with `dc`'s environment plus `extra`.
pub fn before(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    hooks::run_hook(&lab::bin("mysql-before-exec").display().to_string(), dc, args, extra)
}

/// Runs `mysql-after-exec args…` as mysqlfailover would, with `dc`'s environment plus `extra`.
pub fn after(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    hooks::run_hook(&lab::bin("mysql-after-exec").display().to_string(), dc, args, extra)
}
