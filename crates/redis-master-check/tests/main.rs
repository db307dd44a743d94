//! redis-master-check's integration tests, one test binary for the package (as ripgrep's
//! `tests/tests.rs` and fd's `tests/tests.rs` are): one module per topic, the binary from
//! `CARGO_BIN_EXE_redis-master-check`, the shared `run()` helper from `sengu-testsupport`, and
//! the scenarios this package's tests share (a Redis set, a Consul stand-in) in [`scenario`].
//! One binary instead of one per file: each would link the whole dependency tree again.

mod cli;
mod failover;
mod failures;
mod master;
mod partition;
mod publish;
mod replica;
mod scenario;
