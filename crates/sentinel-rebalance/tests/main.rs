//! sentinel-rebalance's integration tests, one test binary for the package: one module per
//! topic, the binary from `CARGO_BIN_EXE_sentinel-rebalance`, the shared `run()` helper from
//! `sengu-testsupport`, and the two-host Redis/Sentinel pair the scenarios share in [`pair`].

mod bad_input;
mod cli;
mod concurrent;
mod extra_sentinel;
mod failover;
mod pair;
mod secrets;
