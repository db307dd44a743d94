//! `mysql-before-exec` and `mysql-after-exec`, the mysqlfailover hooks that move the master's
//! Consul records (a catalog-only node, optionally a service on it, and a KV value) so a master
//! move never leaves Consul naming a wrong or unwritable server.
//!
//! - before: in one transaction, remove the master node (with its services) and the KV value
//!   and record the move in progress (`sengu/mysql/<kv_key>/move`); then optionally fence the
//!   old master with `read_only`.
//! - after: verify the new master (reachable, not replicating, writable); only then, in one
//!   transaction, publish it, repoint or remove the replica node, write the KV value with
//!   compare-and-set, and clear the move record. A new master that fails verification is not
//!   published, and records naming it or the old master are removed: Consul holds no master
//!   rather than a wrong one.
//!
//! Parts: [`settings`] (flags, tables, merge), [`records`] (what is stored and read),
//! [`plan`] (the decisions, pure), [`servers`] (the MySQL probes and actions), [`outcome`]
//! (exit codes and the report), and `run` (the executors that tie them together).

pub mod outcome;
pub mod plan;
pub mod records;
mod run;
pub mod servers;
pub mod settings;

use crate::addr::HostPort;

pub use outcome::{HookExit, Report};
pub use run::{after, after_with, before, before_with, Between, MAX_ATTEMPTS};
pub use settings::{HookArgs, HookFlags, HookSettings, KvFormat, Names, SetupError};

/// The masters of one move, as the failover manager passed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masters {
    /// `None` when unknown: mysqlfailover passes `UNKNOWN UNKNOWN` when it has lost the old
    /// master's object, and a mysqlrpladmin switchover gives `--exec-after` only the new one.
    pub old: Option<HostPort>,
    pub new: HostPort,
}

/// The literal mysqlfailover passes for a host and a port it does not know.
pub const UNKNOWN: &str = "UNKNOWN";
