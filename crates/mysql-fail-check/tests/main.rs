//! mysql-fail-check's integration tests, one test binary for the package: bad input and flags
//! in [`cli`], verdicts against real MariaDB sets in [`verdict`], manual mode and the
//! post-failover block in [`hold`] (with the Consul stand-in), and the TCP proxy that cuts
//! the monitor's path to a server in [`proxy`]. The binary comes from
//! `CARGO_BIN_EXE_mysql-fail-check`, the `run()` helper from `sengu-testsupport`.

mod cli;
mod hold;
mod proxy;
mod verdict;
