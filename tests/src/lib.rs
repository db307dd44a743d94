//! Helpers for end-to-end scenarios across sengu executables, and the local lab the demo and
//! the benchmarks run against ([`lab`]).

pub mod lab;
