//! The sengu library's integration tests, one test binary for the package: the Consul client
//! against small in-test HTTP servers in [`consul_client`], and DNS, MySQL and Redis probes
//! against real processes the testbed starts in [`dns`], [`mysql`] and [`redis`].

mod consul_client;
mod dns;
mod mysql;
mod redis;
