//! The settings of `consul-hosts-fallback`, declared once: [`Args`] is at the same time the clap
//! flags (with their `SENGU_…` variables) and the `[consul-hosts-fallback]` table of the config
//! file; [`Settings::resolve`] layers them, fills the defaults and validates everything before
//! anything is read or written.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use serde::{Deserialize, Serialize};

use super::{Name, Settings};
use super::entries::Kind;
use crate::addr::HostPort;
use crate::dns;
use crate::roles::RoleTags;
use crate::settings::{self, CommonArgs, ConfigFile, ConsulArgs, SetupError, Table, optional_duration, parse_timeout};

/// `--timeout` when nothing sets it: one pass (Consul, the writes, the DNS probes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// `--interval` when nothing sets it: how often `watch` runs a pass, and so the longest a
/// client goes without an address after the local DNS stops answering.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// `--max-age` when nothing sets it.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// `--state-file` when nothing sets it.
pub const DEFAULT_STATE_FILE: &str = "/var/lib/sengu-hosts-fallback/last-good";
/// `--hosts-file` when nothing sets it.
pub const DEFAULT_HOSTS_FILE: &str = "/etc/hosts";
/// `--dns-server` when nothing sets it: the dnsmasq of the shipped layout.
pub const DEFAULT_DNS_SERVER: &str = "127.0.0.1:53";
/// `--domain` when nothing sets it.
pub const DEFAULT_DOMAIN: &str = "consul";

/// Every setting; each field is a flag, an environment variable and a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// A Consul service whose master gets a fallback entry; repeat for each (env: comma-separated)
    #[arg(long = "service", env = "SENGU_SERVICES", value_delimiter = ',', value_name = "NAME", global = true)]
    pub services: Vec<String>,
    /// Also keep `<replica-tag>.<service>.service.<domain>` with every passing replica
    #[arg(long, env = "SENGU_REPLICAS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = BoolishValueParser::new(), global = true)]
    pub replicas: Option<bool>,
    /// The tag that marks the master [default: master]
    #[arg(long, env = "SENGU_MASTER_TAG", value_name = "TAG", global = true)]
    pub master_tag: Option<String>,
    /// The tag that marks a replica [default: replica]
    #[arg(long, env = "SENGU_REPLICA_TAG", value_name = "TAG", global = true)]
    pub replica_tag: Option<String>,
    /// Consul datacenter in the names [default: none, the names clients use without one]
    #[arg(long, env = "SENGU_DATACENTER", value_name = "DC", global = true)]
    pub datacenter: Option<String>,
    /// Consul DNS domain [default: consul]
    #[arg(long, env = "SENGU_DOMAIN", value_name = "DOMAIN", global = true)]
    pub domain: Option<String>,
    /// The last good entries, written atomically; read by no resolver [default: /var/lib/sengu-hosts-fallback/last-good]
    #[arg(long, env = "SENGU_STATE_FILE", value_name = "FILE", global = true)]
    pub state_file: Option<PathBuf>,
    /// The hosts file whose managed block holds the entries while DNS cannot answer [default: /etc/hosts]
    #[arg(long, env = "SENGU_HOSTS_FILE", value_name = "FILE", global = true)]
    pub hosts_file: Option<PathBuf>,
    /// The DNS server clients use (the local dnsmasq), asked whether it answers [default: 127.0.0.1:53]
    #[arg(long, env = "SENGU_DNS_SERVER", value_name = "IP:PORT", global = true)]
    pub dns_server: Option<HostPort>,
    /// watch: time between two passes [default: 2s]
    #[arg(long, env = "SENGU_INTERVAL", value_name = "DURATION", value_parser = parse_timeout, global = true)]
    #[serde(with = "optional_duration")]
    pub interval: Option<Duration>,
    /// check: warn when the state file was not confirmed for longer than this [default: 10m]
    #[arg(long, env = "SENGU_MAX_AGE", value_name = "DURATION", value_parser = parse_timeout, global = true)]
    #[serde(with = "optional_duration")]
    pub max_age: Option<Duration>,
    /// The budget of one pass: the file's key; the flag is the shared --timeout
    #[arg(skip)]
    #[serde(with = "optional_duration")]
    pub timeout: Option<Duration>,
}

impl Table for Args {
    const NAME: &'static str = "consul-hosts-fallback";
}

/// Service, datacenter and tags become labels of DNS names.
const LABEL: &str = "expected 1 to 63 letters, digits, '-' or '_' (it is part of a DNS name)";

impl Settings {
    /// Layers `args` over `[consul-hosts-fallback]`, fills the defaults and validates: a missing
    /// or malformed setting is a usage error naming the flag (exit 2), before anything is read.
    pub fn resolve(args: &Args, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Settings, SetupError> {
        let a = settings::layer(args, config)?;
        if a.services.is_empty() {
            return Err(SetupError::Usage(clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!(
                    "the following required argument was not provided: --service <NAME> (or SENGU_SERVICES, or services in [{}])\n",
                    Args::NAME
                ),
            )));
        }
        let bad = |flag: &str, value: &str, why: &str| SetupError::usage(format!("invalid value {value:?} for '{flag}': {why}"));
        let tags = RoleTags {
            master: a.master_tag.unwrap_or_else(|| RoleTags::default().master),
            replica: a.replica_tag.unwrap_or_else(|| RoleTags::default().replica),
        };
        for (flag, value) in a
            .services
            .iter()
            .map(|s| ("--service <NAME>", s))
            .chain([("--master-tag <TAG>", &tags.master), ("--replica-tag <TAG>", &tags.replica)])
            .chain(a.datacenter.iter().map(|dc| ("--datacenter <DC>", dc)))
        {
            if !dns::is_valid_label(value) {
                return Err(bad(flag, value, LABEL));
            }
        }
        if tags.master.eq_ignore_ascii_case(&tags.replica) {
            return Err(SetupError::usage(format!("--master-tag {:?} and --replica-tag {:?} must differ", tags.master, tags.replica)));
        }
        let domain = a.domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        if !dns::is_valid_name(&domain) {
            return Err(bad("--domain <DOMAIN>", &domain, LABEL));
        }
        let dns_server = match a.dns_server {
            Some(hp) => SocketAddr::new(hp.ip().ok_or_else(|| bad("--dns-server <IP:PORT>", &hp.to_string(), "the host must be an IP address"))?, hp.port),
            None => DEFAULT_DNS_SERVER.parse().map_err(|_| SetupError::usage("bad built-in DNS server (a bug)"))?,
        };
        let state_file = a.state_file.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_FILE));
        let hosts_file = a.hosts_file.unwrap_or_else(|| PathBuf::from(DEFAULT_HOSTS_FILE));
        for (flag, path) in [("--state-file <FILE>", &state_file), ("--hosts-file <FILE>", &hosts_file)] {
            if path.file_name().is_none() {
                return Err(bad(flag, &path.display().to_string(), "expected a file path"));
            }
        }
        if state_file == hosts_file {
            return Err(SetupError::usage("--state-file and --hosts-file must be two different files"));
        }
        let dc = a.datacenter.as_deref().map(|dc| format!(".{dc}")).unwrap_or_default();
        let domain_part = domain.trim_end_matches('.').to_ascii_lowercase();
        let mut names = Vec::new();
        let mut services = a.services.clone();
        services.sort();
        services.dedup();
        for service in &services {
            let name = |tag: &str| format!("{tag}.{service}.service{dc}.{domain_part}").to_ascii_lowercase();
            names.push(Name { name: name(&tags.master), service: service.clone(), tag: tags.master.clone(), kind: Kind::Master });
            if a.replicas.unwrap_or(false) {
                names.push(Name { name: name(&tags.replica), service: service.clone(), tag: tags.replica.clone(), kind: Kind::Replicas });
            }
        }
        Ok(Settings {
            names,
            state_file,
            hosts_file,
            dns_server,
            interval: a.interval.unwrap_or(DEFAULT_INTERVAL),
            max_age: a.max_age.unwrap_or(DEFAULT_MAX_AGE),
            timeout: common.timeout(a.timeout, DEFAULT_TIMEOUT),
            consul: consul.client_config::<SetupError>(config)?,
        })
    }
}
