//! The settings of sentinel-rebalance: [`Args`], each setting declared once as a flag, a
//! `SENGU_*` variable and a key of `[sentinel-rebalance]`, and the checked [`Settings`] a run
//! works from.
//!
//! Sentinel passes the script nothing but its seven arguments, so everything here comes from the
//! sentinel's environment or the config file. The argv commands that start and stop the local
//! floating sentinel are TOML arrays in the file only: an argv has no safe one-string form.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::addr::HostPort;
use crate::redis::{ConnectOptions, RedisAuth};
use crate::roles::RoleTags;
use crate::settings::{optional_duration, parse_duration, CommonArgs, ConfigFile, ConsulArgs, SetupError, Table};

/// The table name in the config file.
pub const SECTION: &str = "sentinel-rebalance";

/// Whole-run budget: below Sentinel's 60 s script limit, with room for the final checks.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(50);
/// The longest budget accepted. Sentinel SIGKILLs a `client-reconfig-script` after 60 s
/// (`script-max-runtime`, 60 000 ms, reference A1), possibly in the middle of a move. A step
/// that starts just before the deadline may still take its own timeout (a Redis connect and
/// read of 1 s + 2 s, a Consul request of 2 s), and the process must start and print its
/// report: 5 s of margin.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(55);
/// How long a run waits for this host's Redis to become a healthy replica before a move.
/// Sentinel converts a returning old master after about 10 s; a full sync adds to that.
pub const DEFAULT_REPLICA_WAIT: Duration = Duration::from_secs(40);
/// The pause between two `SENTINEL RESET`s, as Sentinel's documentation asks (at least 30 s).
pub const DEFAULT_RESET_WAIT: Duration = Duration::from_secs(30);
/// World-writable on Debian (`/run/lock` is 1777), so a sentinel running as `redis` can lock it.
pub const DEFAULT_LOCK_FILE: &str = "/run/lock/sentinel-rebalance.lock";

/// Every setting of sentinel-rebalance, declared once: each field is a flag with its `SENGU_*`
/// variable (Sentinel passes none: in a sentinel's environment only the variables count) and a
/// key of `[sentinel-rebalance]`. The start/stop commands and extra config lines are argv
/// arrays and live in the config file only (no safe one-string form), like the budget, whose
/// flag is the shared `--timeout`. [`Args::resolve`] checks what [`crate::settings::layer`]
/// merged and fills the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[command(next_help_heading = "Settings (also [sentinel-rebalance] in the config file)")]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// The master name the sentinels monitor
    #[arg(long = "sentinel-master", id = "sentinel_master", global = true, env = "SENGU_SENTINEL_MASTER", value_name = "NAME")]
    pub master_name: Option<String>,
    /// This host's Redis
    #[arg(long, global = true, env = "SENGU_REDIS", value_name = "HOST:PORT")]
    pub redis: Option<HostPort>,
    /// The other host's Redis
    #[arg(long, global = true, env = "SENGU_PEER_REDIS", value_name = "HOST:PORT")]
    pub peer_redis: Option<HostPort>,
    /// This host's fixed sentinel
    #[arg(long, global = true, env = "SENGU_SENTINEL", value_name = "HOST:PORT")]
    pub sentinel: Option<HostPort>,
    /// The other host's fixed sentinel
    #[arg(long, global = true, env = "SENGU_PEER_SENTINEL", value_name = "HOST:PORT")]
    pub peer_sentinel: Option<HostPort>,
    /// Where the floating sentinel listens when it runs on this host
    #[arg(long, global = true, env = "SENGU_FLOATING", value_name = "HOST:PORT")]
    pub floating: Option<HostPort>,
    /// Where it listens when it runs on the other host
    #[arg(long, global = true, env = "SENGU_PEER_FLOATING", value_name = "HOST:PORT")]
    pub peer_floating: Option<HostPort>,
    /// The floating sentinel's fixed `sentinel myid` (40 hex characters)
    #[arg(long, global = true, env = "SENGU_FLOATING_MYID", value_name = "ID")]
    pub floating_myid: Option<String>,
    /// The floating sentinel's config file, written fresh before each start (absolute path)
    #[arg(long, global = true, env = "SENGU_FLOATING_CONFIG", value_name = "FILE")]
    pub floating_config: Option<PathBuf>,
    /// argv that starts the local floating sentinel and returns (e.g. `systemctl start …`).
    #[arg(skip)]
    pub floating_start: Option<Vec<String>>,
    /// argv that stops it; without it, the sentinel is asked to `SHUTDOWN`.
    #[arg(skip)]
    pub floating_stop: Option<Vec<String>>,
    /// The client-reconfig-script written into that config [default: this executable]
    #[arg(long, global = true, env = "SENGU_FLOATING_SCRIPT", value_name = "FILE")]
    pub floating_script: Option<PathBuf>,
    /// Further lines for the floating sentinel's config (logfile, dir, pidfile, requirepass …).
    #[arg(skip)]
    pub floating_config_lines: Option<Vec<String>>,
    /// Quorum of the floating sentinel's monitor line [default: the fixed sentinels']
    #[arg(long, global = true, env = "SENGU_QUORUM", value_name = "N")]
    pub quorum: Option<u32>,
    /// down-after-milliseconds for the floating sentinel, e.g. 5s [default: the fixed sentinels']
    #[arg(long, global = true, env = "SENGU_DOWN_AFTER", value_name = "DURATION", value_parser = parse_duration)]
    #[serde(with = "optional_duration")]
    pub down_after: Option<Duration>,
    /// failover-timeout for the floating sentinel, e.g. 3m [default: the fixed sentinels']
    #[arg(long, global = true, env = "SENGU_FAILOVER_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    #[serde(with = "optional_duration")]
    pub failover_timeout: Option<Duration>,
    /// Consul service whose master/replica tags follow the master [default: tags untouched]
    #[arg(long, global = true, env = "SENGU_SERVICE", value_name = "NAME")]
    pub service: Option<String>,
    /// The tag that marks the master [default: master]
    #[arg(long, global = true, env = "SENGU_MASTER_TAG", value_name = "TAG")]
    pub master_tag: Option<String>,
    /// The tag that marks a replica [default: replica]
    #[arg(long, global = true, env = "SENGU_REPLICA_TAG", value_name = "TAG")]
    pub replica_tag: Option<String>,
    /// Lock file serialising runs on this host [default: /run/lock/sentinel-rebalance.lock]
    #[arg(long, global = true, env = "SENGU_LOCK_FILE", value_name = "FILE")]
    pub lock_file: Option<PathBuf>,
    /// Pause between two SENTINEL RESETs of `reconcile --reset` [default: 30s]
    #[arg(long, global = true, env = "SENGU_RESET_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    #[serde(with = "optional_duration")]
    pub reset_wait: Option<Duration>,
    /// How long to wait for this host's Redis to become a healthy replica before a move [default: 40s]
    #[arg(long, global = true, env = "SENGU_REPLICA_WAIT", value_name = "DURATION", value_parser = parse_duration)]
    #[serde(with = "optional_duration")]
    pub replica_wait: Option<Duration>,
    /// No sentinel moves until the master has been the master this long [default: the sentinels' failover-timeout]
    #[arg(long, global = true, env = "SENGU_SETTLE_TIME", value_name = "DURATION", value_parser = parse_duration)]
    #[serde(with = "optional_duration")]
    pub settle_time: Option<Duration>,
    /// The whole run's budget: the file's key; the flag is the shared --timeout.
    #[arg(skip)]
    #[serde(with = "optional_duration")]
    pub timeout: Option<Duration>,
}

impl Table for Args {
    const NAME: &'static str = SECTION;
}

/// A required setting that no layer gave, or a value that cannot work. Messages say where to
/// set it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file, the Redis password file or the Consul settings could not be used.
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("missing setting {key} (set {env} or {key} in [sentinel-rebalance])")]
    Missing { key: &'static str, env: &'static str },
    #[error("missing setting {key} (set {key} in [sentinel-rebalance] as an array of strings)")]
    MissingArgv { key: &'static str },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl From<crate::settings::Error> for SettingsError {
    fn from(e: crate::settings::Error) -> Self {
        SettingsError::Setup(e.into())
    }
}

/// One host's three endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostEnds {
    pub redis: HostPort,
    pub sentinel: HostPort,
    pub floating: HostPort,
}

/// Checked settings for one run.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub master_name: String,
    /// This host.
    pub here: HostEnds,
    /// The other host.
    pub peer: HostEnds,
    pub floating_myid: String,
    pub floating_config: PathBuf,
    pub floating_start: Vec<String>,
    pub floating_stop: Option<Vec<String>>,
    pub floating_script: Option<PathBuf>,
    #[serde(serialize_with = "shown_config_lines")]
    pub floating_config_lines: Vec<String>,
    pub quorum: Option<u32>,
    #[serde(serialize_with = "crate::settings::optional_duration::serialize")]
    pub down_after: Option<Duration>,
    #[serde(serialize_with = "crate::settings::optional_duration::serialize")]
    pub failover_timeout: Option<Duration>,
    pub service: Option<String>,
    pub role_tags: RoleTags,
    /// How to reach the Consul agent, read once at start (`CONSUL_*`, `--consul-addr`,
    /// `[consul] addr`); a client is built from it only when roles are published.
    pub consul: crate::consul::ClientConfig,
    pub lock_file: PathBuf,
    #[serde(serialize_with = "crate::human::exact")]
    pub reset_wait: Duration,
    #[serde(serialize_with = "crate::human::exact")]
    pub replica_wait: Duration,
    #[serde(serialize_with = "crate::settings::optional_duration::serialize")]
    pub settle_time: Option<Duration>,
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
    /// How to reach Redis and the sentinels (credentials from `REDISCLI_AUTH` or `[redis]`).
    pub connect: ConnectOptions,
}

/// The floating sentinel's extra config lines as `--print-config` shows them: the value of a
/// password directive (`requirepass`, `masterauth`, `sentinel auth-pass <name>`,
/// `sentinel sentinel-pass`) as `<set>`.
fn shown_config_lines<S: serde::Serializer>(lines: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    const SECRET_AFTER: &[&[&str]] = &[&["requirepass"], &["masterauth"], &["sentinel", "auth-pass", "*"], &["sentinel", "sentinel-pass"]];
    let shown: Vec<String> = lines
        .iter()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let secret = SECRET_AFTER.iter().find(|p| words.len() > p.len() && p.iter().zip(&words).all(|(p, w)| *p == "*" || w.eq_ignore_ascii_case(p)));
            match secret {
                Some(prefix) => format!("{} <set>", words[..prefix.len()].join(" ")),
                None => line.clone(),
            }
        })
        .collect();
    serde::Serialize::serialize(&shown, serializer)
}

impl Args {
    /// Layers the flags over `[sentinel-rebalance]` (the budget from the shared `--timeout`),
    /// reads the Redis login and the Consul client configuration, and resolves.
    pub fn load(&self, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Settings, SettingsError> {
        let mut merged = crate::settings::layer(self, config)?;
        merged.timeout = common.timeout.or(merged.timeout);
        let auth = crate::settings::redis_auth(config)?;
        let consul = consul.client_config::<SetupError>(config)?;
        merged.resolve(auth, consul)
    }

    /// Checks the merged settings and fills the defaults.
    pub fn resolve(self, auth: RedisAuth, consul: crate::consul::ClientConfig) -> Result<Settings, SettingsError> {
        fn need<T>(v: Option<T>, key: &'static str, env: &'static str) -> Result<T, SettingsError> {
            v.ok_or(SettingsError::Missing { key, env })
        }
        let master_name = need(self.master_name, "master_name", "SENGU_SENTINEL_MASTER")?;
        if master_name.is_empty() || master_name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SettingsError::Invalid { key: "master_name", message: format!("{master_name:?} is not a sentinel master name") });
        }
        let here = HostEnds {
            redis: need(self.redis, "redis", "SENGU_REDIS")?,
            sentinel: need(self.sentinel, "sentinel", "SENGU_SENTINEL")?,
            floating: need(self.floating, "floating", "SENGU_FLOATING")?,
        };
        let peer = HostEnds {
            redis: need(self.peer_redis, "peer_redis", "SENGU_PEER_REDIS")?,
            sentinel: need(self.peer_sentinel, "peer_sentinel", "SENGU_PEER_SENTINEL")?,
            floating: need(self.peer_floating, "peer_floating", "SENGU_PEER_FLOATING")?,
        };
        let floating_myid = need(self.floating_myid, "floating_myid", "SENGU_FLOATING_MYID")?;
        if floating_myid.len() != 40 || !floating_myid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SettingsError::Invalid {
                key: "floating_myid",
                message: format!("{floating_myid:?} is not 40 hex characters (Sentinel refuses any other myid)"),
            });
        }
        let floating_config = need(self.floating_config, "floating_config", "SENGU_FLOATING_CONFIG")?;
        if !floating_config.is_absolute() {
            return Err(SettingsError::Invalid { key: "floating_config", message: format!("{} is not an absolute path", floating_config.display()) });
        }
        let floating_start = self.floating_start.ok_or(SettingsError::MissingArgv { key: "floating_start" })?;
        for (key, argv) in [("floating_start", Some(&floating_start)), ("floating_stop", self.floating_stop.as_ref())] {
            if argv.is_some_and(|a| a.first().is_none_or(String::is_empty)) {
                return Err(SettingsError::Invalid { key, message: "the command is empty".into() });
            }
        }
        let ends = [&here.redis, &here.sentinel, &here.floating, &peer.redis, &peer.sentinel, &peer.floating];
        for (i, a) in ends.iter().enumerate() {
            if let Some(b) = ends[i + 1..].iter().find(|b| **b == *a) {
                return Err(SettingsError::Invalid { key: "redis/sentinel/floating", message: format!("{b} is given twice") });
            }
        }
        for (key, tag) in [("master_tag", &self.master_tag), ("replica_tag", &self.replica_tag)] {
            if tag.as_ref().is_some_and(|t| t.is_empty()) {
                return Err(SettingsError::Invalid { key, message: "must not be empty".into() });
            }
        }
        if self.quorum == Some(0) {
            return Err(SettingsError::Invalid { key: "quorum", message: "must be at least 1".into() });
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout > MAX_TIMEOUT {
            return Err(SettingsError::Invalid {
                key: "timeout",
                message: format!(
                    "{} is more than Sentinel lets its script run (it kills it after 60s, maybe in the middle of a move); at most {}",
                    crate::human::duration(timeout),
                    crate::human::duration(MAX_TIMEOUT)
                ),
            });
        }
        Ok(Settings {
            master_name,
            here,
            peer,
            floating_myid: floating_myid.to_ascii_lowercase(),
            floating_config,
            floating_start,
            floating_stop: self.floating_stop,
            floating_script: self.floating_script,
            floating_config_lines: self.floating_config_lines.unwrap_or_default(),
            quorum: self.quorum,
            down_after: self.down_after,
            failover_timeout: self.failover_timeout,
            service: self.service,
            role_tags: RoleTags {
                master: self.master_tag.unwrap_or_else(|| RoleTags::default().master),
                replica: self.replica_tag.unwrap_or_else(|| RoleTags::default().replica),
            },
            consul,
            lock_file: self.lock_file.unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK_FILE)),
            reset_wait: self.reset_wait.unwrap_or(DEFAULT_RESET_WAIT),
            replica_wait: self.replica_wait.unwrap_or(DEFAULT_REPLICA_WAIT),
            settle_time: self.settle_time,
            timeout,
            connect: ConnectOptions {
                connect_timeout: Duration::from_secs(1),
                io_timeout: Duration::from_secs(2),
                auth,
                ..ConnectOptions::default()
            },
        })
    }
}

impl Settings {
    /// The three sentinels as they should be: both fixed ones and the floating one on `floating_at`.
    pub fn sentinel_addrs(&self, floating_here: bool) -> [HostPort; 3] {
        let floating = if floating_here { &self.here.floating } else { &self.peer.floating };
        [self.here.sentinel.clone(), self.peer.sentinel.clone(), floating.clone()]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::settings::ConfigFile;

    pub(crate) const MYID: &str = "00000000000000000000000000000000000000f1";

    pub(crate) fn full() -> Args {
        Args {
            master_name: Some("mymaster".into()),
            redis: Some("10.0.0.11:6379".parse().unwrap()),
            peer_redis: Some("10.0.0.12:6379".parse().unwrap()),
            sentinel: Some("10.0.0.11:26379".parse().unwrap()),
            peer_sentinel: Some("10.0.0.12:26379".parse().unwrap()),
            floating: Some("10.0.0.11:26380".parse().unwrap()),
            peer_floating: Some("10.0.0.12:26380".parse().unwrap()),
            floating_myid: Some(MYID.into()),
            floating_config: Some("/var/lib/sengu/floating-sentinel.conf".into()),
            floating_start: Some(vec!["systemctl".into(), "start".into(), "redis-sentinel-floating".into()]),
            ..Args::default()
        }
    }

    #[test]
    fn a_full_layer_resolves_with_defaults() {
        let s = full().resolve(RedisAuth::default(), Default::default()).unwrap();
        assert_eq!(s.here.floating.to_string(), "10.0.0.11:26380");
        assert_eq!(s.lock_file, PathBuf::from(DEFAULT_LOCK_FILE));
        assert_eq!((s.reset_wait, s.replica_wait, s.timeout), (DEFAULT_RESET_WAIT, DEFAULT_REPLICA_WAIT, DEFAULT_TIMEOUT));
        assert!(s.timeout < Duration::from_secs(60), "must end before Sentinel kills the script");
        assert_eq!(s.sentinel_addrs(false)[2].to_string(), "10.0.0.12:26380");
    }

    #[test]
    fn a_budget_sentinel_cannot_honour_is_refused() {
        let e = Args { timeout: Some(Duration::from_secs(600)), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting timeout: 10m is more than Sentinel lets its script run (it kills it after 60s, maybe in the middle of a move); at most 55s"
        );
        assert!(Args { timeout: Some(Duration::from_millis(55_001)), ..full() }.resolve(RedisAuth::default(), Default::default()).is_err());
        let s = Args { timeout: Some(MAX_TIMEOUT), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap();
        assert_eq!(s.timeout, MAX_TIMEOUT);
    }

    #[test]
    fn flags_win_and_the_file_fills_gaps_argv_included() {
        let flags = Args { quorum: Some(3), master_name: Some("other".into()), ..Args::default() };
        let text = "[sentinel-rebalance]\nquorum = 2\nmaster_name = \"mymaster\"\nfloating_start = [\"systemctl\", \"start\", \"x\"]\n";
        let config = ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap();
        let merged = crate::settings::layer(&flags, &config).unwrap();
        assert_eq!((merged.quorum, merged.master_name.as_deref()), (Some(3), Some("other")));
        assert_eq!(merged.floating_start, Some(vec!["systemctl".to_string(), "start".into(), "x".into()]));
    }

    #[test]
    fn print_config_hides_password_directives_in_the_floating_config_lines() {
        let s = Args { floating_config_lines: Some(vec!["requirepass s3cret".into(), "sentinel auth-pass mymaster pw2".into(), "logfile /x".into()]), ..full() }
            .resolve(RedisAuth::default(), Default::default())
            .unwrap();
        let text = crate::settings::render(&s).unwrap();
        assert!(text.contains("\"requirepass <set>\"") && text.contains("\"sentinel auth-pass mymaster <set>\"") && text.contains("\"logfile /x\""), "{text}");
        assert!(!text.contains("s3cret") && !text.contains("pw2"), "{text}");
    }

    #[test]
    fn a_missing_setting_names_the_key_and_the_variable() {
        let e = Args { floating_myid: None, ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert_eq!(e.to_string(), "missing setting floating_myid (set SENGU_FLOATING_MYID or floating_myid in [sentinel-rebalance])");
        let e = Args { floating_start: None, ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert!(e.to_string().contains("floating_start in [sentinel-rebalance] as an array"), "{e}");
    }

    #[test]
    fn bad_values_are_refused() {
        let e = Args { floating_myid: Some("abc".into()), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert!(e.to_string().contains("not 40 hex characters"), "{e}");
        let e = Args { floating_start: Some(vec![]), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert!(e.to_string().contains("floating_start: the command is empty"), "{e}");
        let e = Args { peer_floating: full().floating, ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert!(e.to_string().contains("10.0.0.11:26380 is given twice"), "{e}");
        let e = Args { floating_config: Some("relative.conf".into()), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert!(e.to_string().contains("not an absolute path"), "{e}");
        let e = Args { master_name: Some("my master".into()), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap_err();
        assert!(matches!(e, SettingsError::Invalid { key: "master_name", .. }));
    }

    #[test]
    fn the_table_reads_addresses_argv_and_durations() {
        let text = r#"
[sentinel-rebalance]
master_name = "mymaster"
redis = "10.0.0.11:6379"
floating_start = ["systemctl", "start", "redis-sentinel-floating.service"]
floating_config_lines = ["logfile /var/log/redis/floating.log"]
reset_wait = "45s"
"#;
        let config = ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap();
        let layer: Args = config.section(SECTION).unwrap();
        assert_eq!(layer.redis.unwrap().to_string(), "10.0.0.11:6379");
        assert_eq!(layer.floating_start.unwrap()[2], "redis-sentinel-floating.service");
        assert_eq!(layer.reset_wait, Some(Duration::from_secs(45)));
        let bad = ConfigFile::parse("/etc/sengu/sengu.toml".into(), "[sentinel-rebalance]\nredis = \"10.0.0.11\"\n").unwrap();
        let e = bad.section::<Args>(SECTION).unwrap_err();
        assert!(e.to_string().contains("invalid value for \"redis\" in [sentinel-rebalance]"), "{e}");
        let typo = ConfigFile::parse("/etc/sengu/sengu.toml".into(), "[sentinel-rebalance]\nfloating_id = \"x\"\n").unwrap();
        assert!(typo.section::<Args>(SECTION).unwrap_err().to_string().contains("unknown key \"floating_id\""));
    }
}
