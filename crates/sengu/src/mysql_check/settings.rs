//! The settings of `mysql-master-check`, declared once: [`Args`] is at the same time the clap
//! flags (with their `SENGU_…` environment variables) and the `[mysql-master-check]` table; the
//! names of the master records and the MySQL login come from the hooks' own settings
//! (`[mysql-hooks]`, `[mysql]`), so the check reads exactly the records the hooks write.
//! [`Settings::resolve`] layers, fills the defaults and validates before anything is asked.

use std::time::Duration;

use clap::builder::BoolishValueParser;
use serde::{Deserialize, Serialize};

use super::{Settings, DEFAULT_MAX_LAG, DEFAULT_TIMEOUT, DEFAULT_WARN_LAG};
use crate::addr::HostPort;
use crate::dns;
use crate::master_check::Mode;
use crate::mysql::Timeouts;
use crate::mysql_hooks::{HookArgs, Names};
use crate::roles::RoleTags;
use crate::settings::{self, CommonArgs, ConfigFile, ConsulArgs, SetupError, Table, optional_duration};

/// Every setting of the check itself; each field is a flag, an environment variable and a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// The local MySQL or MariaDB server to check (also [mysql-master-check] mysql)
    #[arg(long, env = "SENGU_MYSQL", value_name = "HOST:PORT")]
    pub mysql: Option<HostPort>,
    /// The address this server is published under (the hooks' records, the tags, the replica
    /// node) [default: the --mysql host unless loopback, else the local Consul agent's node
    /// address]
    #[arg(long, env = "SENGU_ADVERTISE_IP", value_name = "IP")]
    pub advertise_ip: Option<std::net::IpAddr>,
    /// What passing means: master, replica, or auto (either, when healthy) [default: auto]
    #[arg(long, env = "SENGU_ROLE", value_enum, value_name = "ROLE")]
    pub role: Option<Mode>,
    /// Most seconds behind its master a replica may be and pass; above: critical [default: 30]
    #[arg(long, env = "SENGU_MAX_LAG", value_name = "SECONDS")]
    pub max_lag: Option<u64>,
    /// Seconds behind above which a passing replica is a warning [default: 10]
    #[arg(long, env = "SENGU_WARN_LAG", value_name = "SECONDS")]
    pub warn_lag: Option<u64>,
    /// Most transactions a replica may miss of its master's binary log (GTID sequence numbers
    /// per domain); above: critical [default: not checked]
    #[arg(long, env = "SENGU_MAX_GTID_GAP", value_name = "N")]
    pub max_gtid_gap: Option<u64>,
    /// Set read_only and kill client connections on a stale writable master, when Consul's
    /// master record names another server that is a healthy master
    #[arg(long, env = "SENGU_FENCE_STALE_MASTER", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub fence_stale_master: Option<bool>,
    /// Finish a move a failed mysql-after-exec left half done, when the evidence is unambiguous
    #[arg(long, env = "SENGU_RECONCILE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub reconcile: Option<bool>,
    /// Keep the replica node (--replica-node) pointing at a healthy replica
    #[arg(long, env = "SENGU_PUBLISH_REPLICA_NODE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub publish_replica_node: Option<bool>,
    /// The Consul service this server is registered as on the local agent; with
    /// --publish-tags its master/replica tag follows the role
    #[arg(long, env = "SENGU_ROLE_SERVICE", value_name = "NAME")]
    pub role_service: Option<String>,
    /// Keep the --role-service instance's master/replica tag equal to its real role
    #[arg(long, env = "SENGU_PUBLISH_TAGS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub publish_tags: Option<bool>,
    /// The run's budget: the file's key; the flag is the shared --timeout
    #[arg(skip)]
    #[serde(with = "optional_duration")]
    pub timeout: Option<Duration>,
}

impl Table for Args {
    const NAME: &'static str = "mysql-master-check";
}

impl Settings {
    /// Layers `args` over `[mysql-master-check]` and `hook` over `[mysql-hooks]`/`[mysql]`,
    /// fills the defaults and validates: a missing or malformed setting is a usage error
    /// naming the flag (exit 2), before anything is asked.
    pub fn resolve(args: &Args, hook: &HookArgs, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Settings, SetupError> {
        let a = settings::layer(args, config)?;
        let mysql = a.mysql.ok_or_else(|| {
            SetupError::Usage(clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("the following required argument was not provided: --mysql <HOST:PORT> (or SENGU_MYSQL, or mysql in [{}])\n", Args::NAME),
            ))
        })?;
        let (names, credentials, mysql_timeout, kv_format) = Names::with_login(hook, config)?;
        let max_lag = a.max_lag.map_or(DEFAULT_MAX_LAG, Duration::from_secs);
        let warn_lag = a.warn_lag.map_or(DEFAULT_WARN_LAG.min(max_lag), Duration::from_secs);
        if warn_lag > max_lag {
            return Err(SetupError::usage(format!("--warn-lag {} must not be above --max-lag {}", warn_lag.as_secs(), max_lag.as_secs())));
        }
        let publish_tags = a.publish_tags.unwrap_or(false);
        let role_service = match a.role_service {
            Some(s) if !dns::is_valid_label(&s) => {
                return Err(SetupError::usage(format!("invalid value {s:?} for '--role-service <NAME>': expected 1 to 63 letters, digits, '-' or '_'")));
            }
            Some(s) => Some(s),
            None if publish_tags => return Err(SetupError::usage("--publish-tags needs --role-service <NAME>: the service whose tags to keep")),
            None => None,
        };
        let timeout = common.timeout(a.timeout, DEFAULT_TIMEOUT);
        // Each MySQL call may take a quarter of the budget: the local server, the master it is
        // compared with, and one action still fit.
        let mysql_timeouts = Timeouts::all(mysql_timeout.unwrap_or(timeout / 4).min(timeout / 4));
        Ok(Settings {
            mysql,
            advertise_ip: a.advertise_ip,
            mode: a.role.unwrap_or(Mode::Auto),
            names,
            kv_format,
            max_lag,
            warn_lag,
            max_gtid_gap: a.max_gtid_gap,
            fence_stale_master: a.fence_stale_master.unwrap_or(false),
            reconcile: a.reconcile.unwrap_or(false),
            publish_replica_node: a.publish_replica_node.unwrap_or(false),
            role_service,
            publish_tags,
            tags: RoleTags::default(),
            credentials,
            mysql_timeouts,
            timeout,
            consul: consul.client_config::<SetupError>(config)?,
        })
    }
}
