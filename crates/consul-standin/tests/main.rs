//! consul-standin's integration tests, one test binary for the package: the contract tests that
//! also run against a real agent in [`contract`] (`cargo test -p consul-standin --test
//! integration contract::`), what only the stand-in has in [`standin`], and their shared
//! helpers in [`support`].

mod contract;
mod standin;
mod support;
