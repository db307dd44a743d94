//! What the integration tests of sengu's executables share, as a crate of its own (like
//! redis-rs's `redis-test`) instead of one package's `tests/support` included by `#[path]`:
//!
//! - running a binary the way its caller would, with a cleaned environment, and asserting on
//!   what it did: [`run`], [`run_env`], [`run_env_within`], [`Run`] (its assertions chain and
//!   print argv, status, stdout and stderr when they fail), plus [`stuck_fifo`] for hostile
//!   config and secret files;
//! - the MySQL hooks' Consul stand-in datacenter and records ([`hooks::Dc`]), and running a hook
//!   as mysqlfailover does ([`hooks::run_hook`]).
//!
//! Only generic helpers live here. A package's own scenarios (redis-master-check's `scenario`,
//! sentinel-rebalance's `pair`, sengu-drill's `lab`) stay in that package's `tests/` as modules
//! of its one test binary, `tests/main.rs`.
//!
//! # Where the binaries come from
//!
//! This crate never finds or builds an executable: every helper takes the binary's path from
//! its caller. A package's tests pass `env!("CARGO_BIN_EXE_<name>")`, which Cargo sets only for
//! that package's own binaries and builds before the tests run. So a test in
//! `crates/<exe>/tests` runs only `<exe>`. A scenario that needs two executables (the MySQL
//! failover that runs `mysql-before-exec` and then `mysql-after-exec`, the drills in the full
//! lab) lives in the top-level `tests` package (`sengu-e2e`). That package finds the executables
//! next to its test executable (`target/<profile>/`) or in `SENGU_BIN_DIR`, as ripgrep's tests
//! fall back to the copy of `rg` next to them. It does not run `cargo build` from inside a test:
//! a nested cargo resolves features on its own, waits on the build lock of the very run that
//! started it, and may rebuild dependencies. A missing executable fails the test with the
//! command that builds it (`cargo build --workspace`, or `cargo xtask test`).

pub mod hooks;
mod run;

pub use run::{Run, command, run, run_env, run_env_within, run_with_resolver, stuck_fifo};
