//! The command line of `redis-master-check`: what Consul's `check.args` passes, and what each
//! flag means. Every setting is also an environment variable and a key of the
//! `[redis-master-check]` table; flags and environment are `Option`s without clap defaults so
//! the file can still fill them (flags > environment > `[redis-master-check]` > defaults), and
//! [`Cli::settings`] does that merge.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use sengu::addr::HostPort;
use sengu::consul::ClientConfig;
use sengu::entry::Failure;
use sengu::master_check::{self, FileSettings, Mode, Settings};
use sengu::roles::RoleTags;
use sengu::settings::{self, CommonArgs, ConfigFile, ConsulArgs};

#[derive(Debug, Parser)]
#[command(
    name = "redis-master-check",
    version,
    about = "Consul check on every Redis host: pass only on the one true master (or, in role mode, on a healthy replica), keep the service's master/replica tags true",
    after_help = "\
Called by: Consul, as a script check on each Redis host (see consul.d/ for ready definitions):
  \"args\": [\"/usr/local/bin/redis-master-check\", \"--redis\", \"127.0.0.1:6379\", \"--service\", \"redis\",
           \"--sentinel\", \"10.0.0.11:26379\", \"--sentinel\", \"10.0.0.12:26379\", \"--sentinel\", \"10.0.0.12:26380\"]

Exit codes (Consul's script-check mapping):
  0  passing   this Redis is what the check asks for (the master, or a healthy replica)
  1  warning   uncertain (DNS or sentinels cannot prove it) or tags not published; stays in DNS
  2  critical  anything else, including \"could not check\" and bad arguments

Line 1 of the output is `PASSING|WARNING|CRITICAL: …` and stays the same while the state does.
The Redis password comes from REDISCLI_AUTH or [redis] password_file, never from a flag; the
Consul token from CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE."
)]
pub struct Cli {
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
    #[arg(long, env = "SENGU_FENCE_DURATION", value_name = "DURATION", value_parser = settings::parse_timeout)]
    pub fence_duration: Option<Duration>,
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

/// Service, datacenter and tags become labels of the master's DNS name.
const LABEL: &str = "expected 1 to 63 letters, digits, '-' or '_' (it is part of a DNS name)";

/// A usage error naming the flag, printed like clap's own (exit 2).
fn usage(message: String) -> Failure {
    Box::new(Cli::command().error(ErrorKind::ValueValidation, message))
}

fn missing(flag: &str, env: &str, key: &str) -> Failure {
    Box::new(Cli::command().error(
        ErrorKind::MissingRequiredArgument,
        format!("the following required argument was not provided: {flag} (or {env}, or {key} in [redis-master-check])"),
    ))
}

impl Cli {
    /// Merges flags and environment with the `[redis-master-check]`, `[redis]` and `[consul]`
    /// tables and the defaults. Missing or contradictory settings are usage errors (exit 2).
    pub fn settings(&self, config: &ConfigFile) -> Result<Settings, Failure> {
        let file: FileSettings = config.section(master_check::SECTION)?;
        let redis = self.redis.clone().or(file.redis).ok_or_else(|| missing("--redis <HOST:PORT>", "SENGU_REDIS", "redis"))?;
        let service = self.service.clone().or(file.service).ok_or_else(|| missing("--service <NAME>", "SENGU_SERVICE", "service"))?;
        if !sengu::dns::is_valid_label(&service) {
            return Err(usage(format!("invalid value {service:?} for '--service <NAME>': {LABEL}")));
        }
        let datacenter = self.datacenter.clone().or(file.datacenter);
        if let Some(dc) = datacenter.as_ref().filter(|dc| !sengu::dns::is_valid_label(dc)) {
            return Err(usage(format!("invalid value {dc:?} for '--datacenter <DC>': {LABEL}")));
        }
        let domain = self.domain.clone().or(file.domain).unwrap_or_else(|| master_check::DEFAULT_DOMAIN.to_string());
        if !sengu::dns::is_valid_name(&domain) {
            return Err(usage(format!("invalid value {domain:?} for '--domain <DOMAIN>': expected a DNS name of such labels: {LABEL}")));
        }
        let dns_server = match self.dns_server.as_ref() {
            Some(hp) => Some(SocketAddr::new(
                hp.ip().ok_or_else(|| usage(format!("invalid value '{hp}' for '--dns-server <IP:PORT>': the host must be an IP address")))?,
                hp.port,
            )),
            None => file.dns_server,
        };
        let tags = RoleTags {
            master: self.master_tag.clone().or(file.master_tag).unwrap_or_else(|| RoleTags::default().master),
            replica: self.replica_tag.clone().or(file.replica_tag).unwrap_or_else(|| RoleTags::default().replica),
        };
        if tags.master.is_empty() || tags.replica.is_empty() || tags.master.eq_ignore_ascii_case(&tags.replica) {
            return Err(usage(format!("--master-tag {:?} and --replica-tag {:?} must be two different, non-empty tags", tags.master, tags.replica)));
        }
        for (flag, tag) in [("--master-tag <TAG>", &tags.master), ("--replica-tag <TAG>", &tags.replica)] {
            if !sengu::dns::is_valid_label(tag) {
                return Err(usage(format!("invalid value {tag:?} for '{flag}': {LABEL}")));
            }
        }
        let sentinels = if self.sentinels.is_empty() { file.sentinels.unwrap_or_default() } else { self.sentinels.clone() };
        let sentinel_count = self.sentinel_count.or(file.sentinel_count);
        if let Some(n) = sentinel_count {
            let mut unique = sentinels.clone();
            unique.sort();
            unique.dedup();
            if n == 0 || n > unique.len() {
                return Err(usage(format!("invalid value '{n}' for '--sentinel-count <N>': must be from 1 to the {} --sentinel addresses given", unique.len())));
            }
        }
        let mut consul = ClientConfig::from_env()?;
        if let Some(addr) = self.consul.addr(config)? {
            consul = consul.with_address(&addr)?;
        }
        Ok(Settings {
            sentinel_master: self.sentinel_master.clone().or(file.sentinel_master).unwrap_or_else(|| service.clone()),
            redis,
            service,
            datacenter,
            domain,
            dns_server,
            advertise_ip: self.advertise_ip.or(file.advertise_ip),
            mode: self.role.or(file.role).unwrap_or_default(),
            sentinels,
            sentinel_count,
            max_lag: self.max_lag.or(file.max_lag).map_or(master_check::DEFAULT_MAX_LAG, Duration::from_secs),
            publish_tags: self.publish_tags.or(file.publish_tags).unwrap_or(false),
            fence_stale_master: self.fence_stale_master.or(file.fence_stale_master).unwrap_or(false),
            fence_duration: self.fence_duration.or(file.fence_duration).unwrap_or(master_check::DEFAULT_FENCE_DURATION),
            tags,
            timeout: self.common.timeout(file.timeout, master_check::DEFAULT_TIMEOUT),
            auth: settings::redis_auth(config)?.into(),
            consul,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1:6379", "--service", "redis"].iter().chain(args))
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap()
    }

    fn settings(args: &[&str], config: &str) -> Result<Settings, Failure> {
        parse(args).unwrap().settings(&file(config))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn redis_and_service_come_from_flags_or_the_file() {
        let cli = Cli::try_parse_from(["redis-master-check"]).unwrap();
        let e = cli.settings(&ConfigFile::empty()).unwrap_err().to_string();
        assert!(e.contains("--redis <HOST:PORT> (or SENGU_REDIS, or redis in [redis-master-check])"), "{e}");
        let cli = Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1:6379"]).unwrap();
        assert!(cli.settings(&ConfigFile::empty()).unwrap_err().to_string().contains("--service <NAME>"));
        let s = cli.settings(&file("[redis-master-check]\nservice = \"cache\"\n")).unwrap();
        assert_eq!((s.redis.to_string().as_str(), s.service.as_str(), s.sentinel_master.as_str()), ("127.0.0.1:6379", "cache", "cache"));
    }

    #[test]
    fn redis_must_be_host_and_port() {
        assert!(Cli::try_parse_from(["redis-master-check", "--redis", "127.0.0.1", "--service", "redis"]).is_err());
    }

    #[test]
    fn sentinels_repeat_and_beat_the_file() {
        let cli = parse(&["--sentinel", "127.0.0.11:26379", "--sentinel", "127.0.0.12:26379"]).unwrap();
        assert_eq!(cli.sentinels.len(), 2);
        assert!(parse(&["--sentinel", "127.0.0.11"]).is_err());
        let from_file = settings(&[], "[redis-master-check]\nsentinels = [\"10.0.0.1:26379\"]\n").unwrap();
        assert_eq!(from_file.sentinels, vec!["10.0.0.1:26379".parse::<HostPort>().unwrap()]);
        let from_flag = settings(&["--sentinel", "10.0.0.2:26379"], "[redis-master-check]\nsentinels = [\"10.0.0.1:26379\"]\n").unwrap();
        assert_eq!(from_flag.sentinels, vec!["10.0.0.2:26379".parse::<HostPort>().unwrap()]);
    }

    #[test]
    fn role_takes_master_replica_or_auto() {
        assert_eq!(parse(&["--role", "replica"]).unwrap().role, Some(Mode::Replica));
        assert_eq!(parse(&[]).unwrap().role, None, "no clap default: the config file may set it");
        assert!(parse(&["--role", "slave"]).is_err());
        assert_eq!(settings(&[], "[redis-master-check]\nrole = \"auto\"\n").unwrap().mode, Mode::Auto);
        assert_eq!(settings(&[], "").unwrap().mode, Mode::Master);
    }

    #[test]
    fn boolean_flags_beat_the_file_both_ways() {
        assert_eq!(parse(&["--publish-tags"]).unwrap().publish_tags, Some(true));
        assert_eq!(parse(&["--publish-tags=false"]).unwrap().publish_tags, Some(false));
        let on = "[redis-master-check]\npublish_tags = true\nfence_stale_master = true\n";
        assert!(settings(&[], on).unwrap().publish_tags);
        assert!(!settings(&["--publish-tags=false"], on).unwrap().publish_tags);
        assert!(settings(&["--fence-stale-master"], "").unwrap().fence_stale_master);
        assert!(!settings(&[], "").unwrap().fence_stale_master);
    }

    #[test]
    fn dns_server_must_be_an_ip_address() {
        let s = settings(&["--dns-server", "127.0.0.1:8600"], "").unwrap();
        assert_eq!(s.dns_server, Some("127.0.0.1:8600".parse().unwrap()));
        let e = settings(&["--dns-server", "consul:8600"], "").unwrap_err().to_string();
        assert!(e.contains("the host must be an IP address"), "{e}");
        assert_eq!(settings(&[], "").unwrap().dns_server, None, "default: the system resolver");
    }

    #[test]
    fn sentinel_count_is_at_most_the_addresses_given() {
        let four = ["--sentinel", "10.0.0.11:26379", "--sentinel", "10.0.0.12:26379", "--sentinel", "10.0.0.11:26380", "--sentinel", "10.0.0.12:26380"];
        let s = settings(&[&four[..], &["--sentinel-count", "3"]].concat(), "").unwrap();
        assert_eq!(s.sentinel_count, Some(3));
        assert!(settings(&[&four[..], &["--sentinel-count", "5"]].concat(), "").is_err());
        assert!(settings(&["--sentinel-count", "1"], "").unwrap_err().to_string().contains("must be from 1 to the 0 --sentinel addresses"));
        assert_eq!(settings(&four, "").unwrap().sentinel_count, None);
    }

    #[test]
    fn tag_names_must_differ() {
        let e = settings(&["--master-tag", "x", "--replica-tag", "X"], "").unwrap_err().to_string();
        assert!(e.contains("must be two different, non-empty tags"), "{e}");
    }

    #[test]
    fn defaults_fill_what_nobody_set() {
        let s = settings(&[], "").unwrap();
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.max_lag, Duration::from_secs(30));
        assert_eq!(s.fence_duration, Duration::from_secs(10));
        assert_eq!(s.tags, RoleTags::default());
        assert_eq!(s.dns_name(), "master.redis.service.consul.");
    }

    #[test]
    fn optional_settings_parse_and_the_flag_wins() {
        let config = "[redis-master-check]\ntimeout = \"5s\"\nmax_lag = 7\ndomain = \"filed\"\n";
        let s = settings(
            &[
                "--datacenter", "dc2", "--domain", "example", "--advertise-ip", "10.0.0.11", "--sentinel-master", "mymaster", "--max-lag",
                "5", "--master-tag", "primary", "--replica-tag", "standby", "--timeout", "1500ms", "--fence-duration", "4s",
            ],
            config,
        )
        .unwrap();
        assert_eq!(s.dns_name(), "primary.redis.service.dc2.example.");
        assert_eq!(s.advertise_ip, Some("10.0.0.11".parse().unwrap()));
        assert_eq!(s.sentinel_master, "mymaster");
        assert_eq!(s.max_lag, Duration::from_secs(5));
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.fence_duration, Duration::from_secs(4));
        let s = settings(&[], config).unwrap();
        assert_eq!((s.timeout, s.max_lag, s.domain.as_str()), (Duration::from_secs(5), Duration::from_secs(7), "filed"));
        assert!(parse(&["--advertise-ip", "not-an-ip"]).is_err());
        assert!(parse(&["--max-lag", "-1"]).is_err());
        assert!(parse(&["--fence-duration", "0s"]).is_err());
    }

    #[test]
    fn an_unknown_key_in_the_table_is_an_error() {
        let e = settings(&[], "[redis-master-check]\nsentinel = [\"10.0.0.1:26379\"]\n").unwrap_err().to_string();
        assert!(e.contains("unknown key \"sentinel\" in [redis-master-check]"), "{e}");
        let e = settings(&[], "[redis-master-check]\nsentinels = [\"10.0.0.1\"]\n").unwrap_err().to_string();
        assert!(e.contains("missing port"), "{e}");
    }
}
