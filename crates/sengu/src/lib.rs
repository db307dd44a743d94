//! The sengu library: everything the executables decide and do lives here, so it can be
//! unit-tested; the binaries only parse flags, call one function and map the result to an
//! exit code.
//!
//! Modules, one job each:
//! - [`addr`]: `host:port` endpoints as operators and failover managers pass them.
//! - [`consul`]: a blocking Consul HTTP client for the catalog, KV, transactions, agent and health.
//! - [`dns`]: A/AAAA lookups through the system resolver or a given server.
//! - [`redis`]: Redis and Sentinel probes (`INFO replication`, `ROLE`, `SENTINEL …`).
//! - [`mysql`]: MySQL/MariaDB role probes (read_only, replica status, GTID position).
//! - [`check`]: a check's outcome, its text and JSON renderings and its exit code.
//! - [`settings`]: flags > environment > config file, and the flag groups every binary shares.
//! - [`actionlog`]: the durable one-line-per-action log that hooks write.
//! - [`entry`]: process start-up shared by every binary (panic → exit 2).

pub mod actionlog;
pub mod addr;
pub mod check;
pub mod consul;
pub mod dns;
pub mod drill;
pub mod entry;
pub mod master_check;
pub mod fail_check;
pub mod mysql;
pub mod mysql_hooks;
pub mod rebalance;
pub mod redis;
pub mod roles;
pub mod settings;
