//! mysql-master-check: the Consul check on every MySQL/MariaDB host, the MySQL twin of
//! redis-master-check. It passes on the master Consul's record names (the records the MySQL
//! hooks write: the master node and the KV key) when that server is writable and not
//! replicating, and on a replica that replicates from that master within the lag bounds; it
//! keeps the role tags and the replica node true, fences a stale writable master under proof,
//! and finishes a move a failed `mysql-after-exec` left half done when the evidence is
//! unambiguous.
//!
//! One run is three steps inside one time budget (`--timeout`, below Consul's check timeout):
//!
//! 1. `observe`: the local server's role (one connection), Consul's master records; then only
//!    what the decision needs: the server the record names when this one is a writable master
//!    that the record does not name, the master's GTID position for `--max-gtid-gap`, the old
//!    master of a recorded move.
//! 2. [`decide`]: the pure decision table (its module doc lists every row).
//! 3. `act`: fence, finish the move, point the replica node, publish the tags; then the
//!    outcome.
//!
//! The proof a fence needs: Consul's record (node and KV agreeing) names another server, no
//! move is recorded, and that server answers as a writable master that is not this one (its
//! `server_id` differs). Consul's record is written only by the hooks after they verified the
//! new master, so it is the authority here as the sentinel majority is for Redis.

mod act;
pub mod decide;
mod observe;
mod settings;

pub use decide::{decide, Action, Decision, Local, Observations, Peer};
pub use settings::Args;

use std::time::{Duration, Instant};

use crate::addr::HostPort;
use crate::check::Outcome;
use crate::consul;
use crate::master_check::Mode;
use crate::mysql::{Credentials, Timeouts};
use crate::mysql_hooks::{KvFormat, Names};
use crate::roles::RoleTags;

/// `--timeout` when nothing sets it; the shipped definitions give Consul's check 3 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// `--max-lag` when nothing sets it.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(30);
/// `--warn-lag` when nothing sets it.
pub const DEFAULT_WARN_LAG: Duration = Duration::from_secs(10);

/// Everything one run needs, merged from flags, environment, the config file and defaults;
/// `--print-config` shows it as it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// The local server, as the check connects to it.
    pub mysql: HostPort,
    /// The address it is published under, when `--mysql` is not it.
    pub advertise_ip: Option<std::net::IpAddr>,
    pub mode: Mode,
    /// The records the hooks write (`[mysql-hooks]`).
    pub names: Names,
    /// How a finished move writes the KV value (`[mysql-hooks] kv_format`).
    pub kv_format: KvFormat,
    #[serde(serialize_with = "crate::human::exact")]
    pub max_lag: Duration,
    #[serde(serialize_with = "crate::human::exact")]
    pub warn_lag: Duration,
    pub max_gtid_gap: Option<u64>,
    pub fence_stale_master: bool,
    pub reconcile: bool,
    pub publish_replica_node: bool,
    pub role_service: Option<String>,
    pub publish_tags: bool,
    pub tags: RoleTags,
    pub credentials: Credentials,
    pub mysql_timeouts: Timeouts,
    /// The whole run's budget.
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
    pub consul: consul::ClientConfig,
}

/// Runs the check once and returns its outcome; never takes much longer than the budget.
/// Changes go to the action log at `log`, opened only when there is one.
pub fn run(settings: &Settings, log: &crate::actionlog::Target) -> Outcome {
    let deadline = Instant::now() + settings.timeout;
    let client = consul::Client::new(&settings.consul.clone().with_deadline(deadline));
    let seen = observe::observe(settings, client.as_ref().ok());
    let decision = decide(&settings.policy(), &seen);
    act::act(settings, client.ok(), decision, log, deadline)
}

impl Settings {
    fn policy(&self) -> decide::Policy {
        decide::Policy {
            mode: self.mode,
            max_lag: self.max_lag,
            warn_lag: self.warn_lag,
            max_gtid_gap: self.max_gtid_gap,
            fence: self.fence_stale_master,
            reconcile: self.reconcile,
            replica_node: self.publish_replica_node,
            tags: self.publish_tags,
        }
    }
}
