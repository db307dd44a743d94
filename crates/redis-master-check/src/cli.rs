//! The command line of `redis-master-check`: what Consul's `check.args` passes, and what each
//! flag means. Settings a config file may also set are `Option`s without clap defaults, so the
//! file can still fill them (flags > environment > `[redis-master-check]` > defaults).

use std::net::IpAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use sengu::addr::HostPort;
use sengu::settings::{CommonArgs, ConsulArgs};

/// The run's time budget when neither flags, environment nor the config file set one; below
/// Consul's default script-check timeout (30s) with room to spare.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Parser)]
#[command(
    name = "redis-master-check",
    version,
    about = "Consul check on every Redis host: pass only on the one true master (or, in role mode, on a healthy replica), keep the service's master/replica tags true",
    after_help = "\
Called by: Consul, as a script check on each Redis host:
  \"args\": [\"/usr/local/bin/redis-master-check\", \"--redis\", \"10.0.0.11:6379\", \"--service\", \"redis\"]

Exit codes (Consul's script-check mapping):
  0  passing   this Redis is what the check asks for (the master, or a healthy replica)
  1  warning   the answer is uncertain but the node should stay in DNS
  2  critical  anything else, including \"could not check\" and bad arguments

Line 1 of the output is `PASSING|WARNING|CRITICAL: …` and stays the same while the state does."
)]
pub struct Cli {
    /// The local Redis to check
    #[arg(long, env = "SENGU_REDIS", value_name = "HOST:PORT")]
    pub redis: HostPort,
    /// The Consul service this Redis is registered as
    #[arg(long, env = "SENGU_SERVICE", value_name = "NAME")]
    pub service: String,
    /// Consul datacenter to look the service up in [default: the agent's]
    #[arg(long, env = "SENGU_DATACENTER", value_name = "DC")]
    pub datacenter: Option<String>,
    /// Consul DNS domain [default: consul]
    #[arg(long, env = "SENGU_DOMAIN", value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// DNS server to ask for the service's address [default: the agent's DNS, 127.0.0.1:8600]
    #[arg(long, env = "SENGU_DNS_SERVER", value_name = "IP:PORT")]
    pub dns_server: Option<HostPort>,
    /// The address clients reach this Redis at, when it differs from --redis
    #[arg(long, env = "SENGU_ADVERTISE_IP", value_name = "IP")]
    pub advertise_ip: Option<IpAddr>,
    /// What passing means: master, replica, or auto (the role Redis reports) [default: master]
    #[arg(long, env = "SENGU_ROLE", value_enum, value_name = "ROLE")]
    pub role: Option<Role>,
    /// A sentinel to ask who the master is; repeat for each (env: comma-separated)
    #[arg(long = "sentinel", env = "SENGU_SENTINELS", value_delimiter = ',', value_name = "HOST:PORT")]
    pub sentinels: Vec<HostPort>,
    /// The master name the sentinels monitor [default: the service name]
    #[arg(long, env = "SENGU_SENTINEL_MASTER", value_name = "NAME")]
    pub sentinel_master: Option<String>,
    /// Most replication lag a passing replica may have, in seconds [default: 10]
    #[arg(long, env = "SENGU_MAX_LAG", value_name = "SECONDS")]
    pub max_lag: Option<u64>,
    /// Keep the service's master/replica tags in Consul's catalog equal to the real role
    #[arg(long, env = "SENGU_PUBLISH_TAGS", value_parser = clap::builder::BoolishValueParser::new())]
    pub publish_tags: bool,
    /// Demote a stale master that the sentinels no longer see as master (REPLICAOF the real one)
    #[arg(long, env = "SENGU_FENCE_STALE_MASTER", value_parser = clap::builder::BoolishValueParser::new())]
    pub fence_stale_master: bool,
    /// The tag that marks the master [default: master]
    #[arg(long, env = "SENGU_MASTER_TAG", value_name = "TAG")]
    pub master_tag: Option<String>,
    /// The tag that marks a replica [default: replica]
    #[arg(long, env = "SENGU_REPLICA_TAG", value_name = "TAG")]
    pub replica_tag: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

/// What the check passes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Pass only on the one true master.
    Master,
    /// Pass only on a healthy replica.
    Replica,
    /// Pass on either, and report which (for tags).
    Auto,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
            Role::Auto => "master or a replica",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1:6379", "--service", "redis"].iter().chain(args))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn redis_and_service_are_required() {
        assert!(Cli::try_parse_from(["redis-master-check", "--service", "redis"]).is_err());
        assert!(Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1:6379"]).is_err());
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.redis.to_string(), "127.0.0.1:6379");
        assert_eq!(cli.service, "redis");
    }

    #[test]
    fn redis_must_be_host_and_port() {
        assert!(Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1", "--service", "redis"]).is_err());
    }

    #[test]
    fn sentinels_repeat() {
        let cli = parse(&["--sentinel", "127.0.0.11:26379", "--sentinel", "127.0.0.12:26379"]).unwrap();
        assert_eq!(cli.sentinels.len(), 2);
        assert!(parse(&["--sentinel", "127.0.0.11"]).is_err());
    }

    #[test]
    fn role_takes_master_replica_or_auto() {
        assert_eq!(parse(&["--role", "replica"]).unwrap().role, Some(Role::Replica));
        assert_eq!(parse(&[]).unwrap().role, None, "no clap default: the config file may set it");
        assert!(parse(&["--role", "slave"]).is_err());
    }

    #[test]
    fn optional_settings_parse() {
        let cli = parse(&[
            "--datacenter", "dc2", "--domain", "example", "--dns-server", "127.0.0.1:8600", "--advertise-ip", "10.0.0.11",
            "--sentinel-master", "mymaster", "--max-lag", "5", "--publish-tags", "--fence-stale-master",
            "--master-tag", "primary", "--replica-tag", "standby", "--timeout", "2s", "--format", "json",
        ])
        .unwrap();
        assert_eq!(cli.datacenter.as_deref(), Some("dc2"));
        assert_eq!(cli.domain.as_deref(), Some("example"));
        assert_eq!(cli.dns_server.map(|d| d.port), Some(8600));
        assert_eq!(cli.advertise_ip, Some("10.0.0.11".parse().unwrap()));
        assert_eq!(cli.sentinel_master.as_deref(), Some("mymaster"));
        assert_eq!(cli.max_lag, Some(5));
        assert!(cli.publish_tags && cli.fence_stale_master);
        assert_eq!((cli.master_tag.as_deref(), cli.replica_tag.as_deref()), (Some("primary"), Some("standby")));
        assert_eq!(cli.common.timeout, Some(Duration::from_secs(2)));
        assert!(parse(&["--advertise-ip", "not-an-ip"]).is_err());
        assert!(parse(&["--max-lag", "-1"]).is_err());
    }
}
