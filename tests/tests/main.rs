//! sengu-e2e's integration tests, one test binary for the package: scenarios that run more than
//! one sengu executable. The drills in the full lab are in [`drill_lab`]; the MySQL failovers
//! and Consul faults that need both hooks (`mysql-before-exec`, then `mysql-after-exec`) are in
//! [`hooks_failover`] and [`hooks_faults`]; the real MHA driving `mysql-mha-script` is in [`mha`];
//! manual mode and the post-failover block across the executables are in [`hold_lab`]; the
//! short partition scenarios, hosts in network namespaces of their own, are in [`partition`].
//!
//! Cargo gives a test `CARGO_BIN_EXE_<name>` only for its own package's binaries, so these tests
//! find the executables next to the test executable (`target/<profile>/`), or in `SENGU_BIN_DIR`
//! (`sengu_e2e::lab::bin`). No test builds anything: `cargo test --workspace` (or `cargo xtask
//! test`) builds them first; under `cargo test -p sengu-e2e` a missing one fails the test with
//! that command, and a stale one is used as it is.

mod drill_lab;
mod hold_lab;
mod hooks;
mod hooks_failover;
mod hooks_faults;
mod mha;
mod partition;
