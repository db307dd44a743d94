//! Real-process test harness: starts `redis-server`, `redis-sentinel`, `mariadbd` and `dnsmasq`
//! on loopback addresses that stand for hosts (127.0.0.11, 127.0.0.12, …), each in its own temp
//! dir, and stops them on drop (also when a test panics).
//!
//! - [`ports`]: hosts and ports, reserved across test processes.
//! - [`process`]: a child process owned by a struct, killed and reaped on drop; fault helpers.
//! - [`redis`]: `RedisServer`, `Sentinel` and `RedisSet` (master + replicas + sentinels).
//! - [`mariadb`]: `Mariadb` instances from a bootstrapped template, and GTID master/replica sets.
//! - [`dnsmasq`]: a DNS server answering from a hosts file, for DNS tests.
//! - [`resolver`]: a hung system resolver for one command, in a private mount namespace.
//! - [`mha`]: MHA's `masterha_master_switch` run for real against testbed MariaDB servers.
//! - [`netlab`]: the partition lab's network: hosts in network namespaces of their own, links
//!   cut and healed (both ways or one way) by nftables rules in a private hub namespace.
//!
//! Binary paths can be overridden by environment: `SENGU_REDIS_SERVER`, `SENGU_REDIS_SENTINEL`,
//! `SENGU_MARIADBD`, `SENGU_MARIADB_INSTALL_DB`, `SENGU_DNSMASQ`.

pub mod ports;
pub mod process;
pub mod redis;
pub mod mariadb;
pub mod dnsmasq;
pub mod resolver;
pub mod mha;
pub mod netlab;

pub use ports::{host, reserve, PortLease};
pub use process::{wait_until, Proc};
