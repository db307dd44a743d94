//! The settings of `redis-master-check`, declared once: [`Args`] is at the same time the clap
//! flags (with their `SENGU_…` environment variables) and the `[redis-master-check]` table of
//! the config file; [`Settings::resolve`] layers them (flags > environment > file), fills the
//! defaults and validates everything in one place, before the check asks anything.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use serde::{Deserialize, Serialize};

use super::{DEFAULT_DOMAIN, DEFAULT_FENCE_DURATION, DEFAULT_MAX_LAG, DEFAULT_TIMEOUT, Mode, Settings};
use crate::addr::HostPort;
use crate::dns;
use crate::roles::RoleTags;
use crate::settings::{self, CommonArgs, ConfigFile, ConsulArgs, SetupError, Table, optional_duration, parse_timeout};

/// Every setting of the check; each field is a flag, an environment variable and a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// The local Redis to check (also [redis-master-check] redis)
    #[arg(long, env = "SENGU_REDIS", value_name = "HOST:PORT")]
    pub redis: Option<HostPort>,
    /// The Consul service this Redis is registered as (also [redis-master-check] service)
    #[arg(long, env = "SENGU_SERVICE", value_name = "NAME")]
    pub service: Option<String>,
    /// Consul datacenter in the master's DNS name [default: none, i.e. the agent's]
    #[arg(long, env = "SENGU_DATACENTER", value_name = "DC")]
    pub datacenter: Option<String>,
    /// Consul DNS domain [default: consul]
    #[arg(long, env = "SENGU_DOMAIN", value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// DNS server to ask for the master's name, e.g. Consul's 127.0.0.1:8600 [default: the
    /// system resolver, as applications on this host use it]
    #[arg(long, env = "SENGU_DNS_SERVER", value_name = "IP:PORT")]
    pub dns_server: Option<HostPort>,
    /// The address this node is published under [default: the local Consul agent's node
    /// address, else the --redis host when it is not loopback]
    #[arg(long, env = "SENGU_ADVERTISE_IP", value_name = "IP")]
    pub advertise_ip: Option<IpAddr>,
    /// What passing means: master, replica, or auto (either, when healthy) [default: master]
    #[arg(long, env = "SENGU_ROLE", value_enum, value_name = "ROLE")]
    pub role: Option<Mode>,
    /// A sentinel to ask who the master is; repeat for each (env: comma-separated)
    #[arg(long = "sentinel", env = "SENGU_SENTINELS", value_delimiter = ',', value_name = "HOST:PORT")]
    pub sentinels: Vec<HostPort>,
    /// How many sentinels exist, when --sentinel lists more places than that (a sentinel that
    /// sentinel-rebalance moves between hosts): a master needs more than half of this many
    /// [default: the number of --sentinel addresses]
    #[arg(long, env = "SENGU_SENTINEL_COUNT", value_name = "N")]
    pub sentinel_count: Option<usize>,
    /// The master name the sentinels monitor [default: the service name]
    #[arg(long, env = "SENGU_SENTINEL_MASTER", value_name = "NAME")]
    pub sentinel_master: Option<String>,
    /// Most seconds a passing replica may go without data from its master [default: 30]
    #[arg(long, env = "SENGU_MAX_LAG", value_name = "SECONDS")]
    pub max_lag: Option<u64>,
    /// Keep this instance's master/replica tag in Consul's catalog equal to its real role
    #[arg(long, env = "SENGU_PUBLISH_TAGS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub publish_tags: Option<bool>,
    /// Stop a stale master's writes and demote it to a replica of the sentinels' master
    #[arg(long, env = "SENGU_FENCE_STALE_MASTER", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub fence_stale_master: Option<bool>,
    /// How long one fencing pause of writes lasts; renewed every run [default: 10s]
    #[arg(long, env = "SENGU_FENCE_DURATION", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub fence_duration: Option<Duration>,
    /// The tag that marks the master [default: master]
    #[arg(long, env = "SENGU_MASTER_TAG", value_name = "TAG")]
    pub master_tag: Option<String>,
    /// The tag that marks a replica [default: replica]
    #[arg(long, env = "SENGU_REPLICA_TAG", value_name = "TAG")]
    pub replica_tag: Option<String>,
    /// The run's budget: the file's key; the flag is the shared --timeout
    #[arg(skip)]
    #[serde(with = "optional_duration")]
    pub timeout: Option<Duration>,
}

impl Table for Args {
    const NAME: &'static str = "redis-master-check";
}

/// Service, datacenter and tags become labels of the master's DNS name.
const LABEL: &str = "expected 1 to 63 letters, digits, '-' or '_' (it is part of a DNS name)";

impl Settings {
    /// Layers `args` over `[redis-master-check]`, fills the defaults and validates: a missing
    /// or malformed setting is a usage error naming the flag (exit 2), before anything is asked.
    pub fn resolve(args: &Args, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Settings, SetupError> {
        let a = settings::layer(args, config)?;
        let redis = a.redis.ok_or_else(|| missing("--redis <HOST:PORT>", "SENGU_REDIS", "redis"))?;
        let service = a.service.ok_or_else(|| missing("--service <NAME>", "SENGU_SERVICE", "service"))?;
        if !dns::is_valid_label(&service) {
            return Err(SetupError::usage(format!("invalid value {service:?} for '--service <NAME>': {LABEL}")));
        }
        if let Some(dc) = a.datacenter.as_ref().filter(|dc| !dns::is_valid_label(dc)) {
            return Err(SetupError::usage(format!("invalid value {dc:?} for '--datacenter <DC>': {LABEL}")));
        }
        let domain = a.domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        if !dns::is_valid_name(&domain) {
            return Err(SetupError::usage(format!("invalid value {domain:?} for '--domain <DOMAIN>': expected a DNS name of such labels: {LABEL}")));
        }
        let dns_server = match a.dns_server {
            Some(hp) => Some(SocketAddr::new(
                hp.ip().ok_or_else(|| {
                    SetupError::usage(format!("invalid value '{hp}' for '--dns-server <IP:PORT>': the host must be an IP address"))
                })?,
                hp.port,
            )),
            None => None,
        };
        let tags = RoleTags {
            master: a.master_tag.unwrap_or_else(|| RoleTags::default().master),
            replica: a.replica_tag.unwrap_or_else(|| RoleTags::default().replica),
        };
        if tags.master.is_empty() || tags.replica.is_empty() || tags.master.eq_ignore_ascii_case(&tags.replica) {
            return Err(SetupError::usage(format!(
                "--master-tag {:?} and --replica-tag {:?} must be two different, non-empty tags",
                tags.master, tags.replica
            )));
        }
        for (flag, tag) in [("--master-tag <TAG>", &tags.master), ("--replica-tag <TAG>", &tags.replica)] {
            if !dns::is_valid_label(tag) {
                return Err(SetupError::usage(format!("invalid value {tag:?} for '{flag}': {LABEL}")));
            }
        }
        if let Some(n) = a.sentinel_count {
            let given = crate::redis::distinct(&a.sentinels).len();
            if n == 0 || n > given {
                return Err(SetupError::usage(format!(
                    "invalid value '{n}' for '--sentinel-count <N>': must be from 1 to the {given} --sentinel addresses given"
                )));
            }
        }
        Ok(Settings {
            sentinel_master: a.sentinel_master.unwrap_or_else(|| service.clone()),
            redis,
            service,
            datacenter: a.datacenter,
            domain,
            dns_server,
            advertise_ip: a.advertise_ip,
            mode: a.role.unwrap_or_default(),
            sentinels: a.sentinels,
            sentinel_count: a.sentinel_count,
            max_lag: a.max_lag.map_or(DEFAULT_MAX_LAG, Duration::from_secs),
            publish_tags: a.publish_tags.unwrap_or(false),
            fence_stale_master: a.fence_stale_master.unwrap_or(false),
            fence_duration: a.fence_duration.unwrap_or(DEFAULT_FENCE_DURATION),
            tags,
            timeout: common.timeout(a.timeout, DEFAULT_TIMEOUT),
            auth: settings::redis_auth(config)?,
            consul: consul.client_config::<SetupError>(config)?,
        })
    }
}

fn missing(flag: &str, env: &str, key: &str) -> SetupError {
    SetupError::Usage(clap::Error::raw(
        clap::error::ErrorKind::MissingRequiredArgument,
        format!("the following required argument was not provided: {flag} (or {env}, or {key} in [{}])\n", Args::NAME),
    ))
}
