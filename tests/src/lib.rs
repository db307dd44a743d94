//! Helpers for end-to-end scenarios across sengu executables, the local lab the demo and
//! the benchmarks run against ([`lab`]), and the partition lab with hosts in network
//! namespaces of their own ([`partition`]).

pub mod lab;
pub mod partition;
