//! sengu-drill's integration tests, one test binary for the package: bad input in [`cli`],
//! Redis drills in [`redis`] against the small lab in [`lab`]. The binary comes from
//! `CARGO_BIN_EXE_sengu-drill`, the `run()` helper from `sengu-testsupport`. Drills in the full
//! lab, with every executable running, are in the `sengu-e2e` package.

mod cli;
mod lab;
mod redis;
