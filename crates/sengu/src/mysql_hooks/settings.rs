//! The MySQL hooks' settings: what both hooks take ([`HookArgs`]) and what only one of them
//! takes ([`BeforeArgs`], [`AfterArgs`]), each field a flag, a variable and a key of the one
//! `[mysql-hooks]` table they share; merged with the `[mysql]` login settings
//! ([`crate::mysql::MysqlArgs`]) into ready-to-use [`HookSettings`] (flag > environment > file >
//! default), validated in one place.
//!
//! mysqlfailover passes a hook nothing but positional addresses, so in production every value
//! here comes from `SENGU_*` variables or the config file; the flags exist for hand use and tests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::builder::BoolishValueParser;
use serde::{Deserialize, Serialize};

use crate::addr::HostPort;
use crate::consul::Client;
use crate::mysql::{Credentials, MysqlArgs, Timeouts};
use crate::settings::{keys, layer_part, optional_duration, parse_timeout, CommonArgs, ConfigFile, ConsulArgs, Table};

/// Catalog node that stands for the master (the old shell hooks' name).
pub const DEFAULT_MASTER_NODE: &str = "foo-db-master";
/// Catalog node that stands for the replica.
pub const DEFAULT_REPLICA_NODE: &str = "foo-db-slave";
/// KV key holding the master's address.
pub const DEFAULT_KV_KEY: &str = "foo-db-master";
/// The whole run's time budget for Consul calls. mysqlfailover waits for a hook without any
/// timeout, so this is what keeps a hung Consul from stalling a failover.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect, read and write timeout of each MySQL call (verification, probes).
pub const DEFAULT_MYSQL_TIMEOUT: Duration = Duration::from_secs(3);
/// Connect and read timeout for fencing the old master, which is usually dead: keep it short.
pub const DEFAULT_FENCE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `--wait-dns` waits for Consul's DNS to answer the new address.
pub const DEFAULT_WAIT_DNS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a failover blocks further automatic failovers of the same master: orchestrator's
/// `RecoveryPeriodBlockSeconds` default.
pub const DEFAULT_BLOCK_AFTER_FAILOVER: Duration = Duration::from_secs(3600);

/// How the master's address is written to the KV key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvFormat {
    /// The bare host (`10.0.0.12`), as the shell hook this replaces wrote it.
    #[default]
    Plain,
    /// `{"host": …, "port": …, "previous": "host:port" or null, "changed_at": RFC 3339}`.
    Json,
}

/// What both hooks take: each setting is a flag, a `SENGU_*` variable and a key of the
/// `[mysql-hooks]` table, declared once here and merged by [`crate::settings::layer_part`]
/// (the table is shared with [`BeforeArgs`] and [`AfterArgs`]). The `[mysql]` login group is
/// flattened in for the command line and layered over its own table.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HookArgs {
    /// Catalog node that publishes the master (also [mysql-hooks] master_node) [default: foo-db-master]
    #[arg(long, global = true, env = "SENGU_MASTER_NODE", value_name = "NAME")]
    pub master_node: Option<String>,
    /// Catalog node that publishes a replica (also [mysql-hooks] replica_node) [default: foo-db-slave]
    #[arg(long, global = true, env = "SENGU_REPLICA_NODE", value_name = "NAME")]
    pub replica_node: Option<String>,
    /// KV key holding the master's address (also [mysql-hooks] kv_key) [default: foo-db-master]
    #[arg(long, global = true, env = "SENGU_KV_KEY", value_name = "KEY")]
    pub kv_key: Option<String>,
    /// Also publish the master as this service (with its port) on the master node (also [mysql-hooks] service)
    #[arg(long, global = true, env = "SENGU_SERVICE", value_name = "NAME")]
    pub service: Option<String>,
    /// Timeout of each MySQL connect and query, e.g. 3s (also [mysql-hooks] mysql_timeout) [default: 3s]
    #[arg(long, global = true, env = "SENGU_MYSQL_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub mysql_timeout: Option<Duration>,
    /// The run's budget: the file's key; the flag is the shared --timeout
    #[arg(skip)]
    #[serde(with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// The `[mysql]` login: a table of its own, so not part of this one's keys.
    #[command(flatten)]
    #[serde(skip)]
    pub mysql: MysqlArgs,
}

impl Table for HookArgs {
    const NAME: &'static str = "mysql-hooks";
}

/// What only `mysql-before-exec` takes (keys of `[mysql-hooks]` too).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeforeArgs {
    /// Set read_only (and super_read_only where it exists) on the old master if it answers (also [mysql-hooks] fence_old_master)
    #[arg(long, env = "SENGU_FENCE_OLD_MASTER", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub fence_old_master: Option<bool>,
    /// How long fencing may wait for the old master, e.g. 2s (also [mysql-hooks] fence_timeout) [default: 2s]
    #[arg(long, env = "SENGU_FENCE_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub fence_timeout: Option<Duration>,
}

impl Table for BeforeArgs {
    const NAME: &'static str = "mysql-hooks";
}

/// What only `mysql-after-exec` takes (keys of `[mysql-hooks]` too).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AfterArgs {
    /// Turn read_only off on the new master if it is still on, instead of refusing it (also [mysql-hooks] make_writable)
    #[arg(long, env = "SENGU_MAKE_WRITABLE", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub make_writable: Option<bool>,
    /// How the master's address is written to Consul KV (also [mysql-hooks] kv_format) [default: plain]
    #[arg(long, env = "SENGU_KV_FORMAT", value_enum, value_name = "FORMAT")]
    pub kv_format: Option<KvFormat>,
    /// Wait until this DNS server (Consul's) answers with the new master before returning (also [mysql-hooks] wait_dns)
    #[arg(long, env = "SENGU_WAIT_DNS", value_name = "IP:PORT")]
    pub wait_dns: Option<HostPort>,
    /// The name to look up with --wait-dns (also [mysql-hooks] wait_dns_name) [default: <master node>.node.consul.]
    #[arg(long, env = "SENGU_WAIT_DNS_NAME", value_name = "NAME")]
    pub wait_dns_name: Option<String>,
    /// How long --wait-dns waits, e.g. 10s (also [mysql-hooks] wait_dns_timeout) [default: 10s]
    #[arg(long, env = "SENGU_WAIT_DNS_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub wait_dns_timeout: Option<Duration>,
    /// After a failover (not a switchover), block further automatic failovers of this master for this long; 0s turns it off (also [mysql-hooks] block_after_failover) [default: 1h]
    #[arg(long, env = "SENGU_BLOCK_AFTER_FAILOVER", value_name = "DURATION", value_parser = crate::settings::parse_duration)]
    #[serde(with = "optional_duration")]
    pub block_after_failover: Option<Duration>,
}

impl Table for AfterArgs {
    const NAME: &'static str = "mysql-hooks";
}

/// The flags only one hook has: a binary passes its own group and leaves the other at its
/// `Default`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookFlags {
    pub before: BeforeArgs,
    pub after: AfterArgs,
}

/// Every key of `[mysql-hooks]`, whichever group declares it.
fn table_keys() -> Vec<String> {
    [keys::<HookArgs>(), keys::<BeforeArgs>(), keys::<AfterArgs>()].concat()
}

/// The master node as the hooks would take it from `[mysql-hooks] master_node` alone (no flag,
/// no variable), for executables that name the same master in their own settings and fall
/// back to the hooks' table (`mysql-fail-check`'s hold name); `None` when the table does not
/// set it.
pub fn master_node_in_file(config: &ConfigFile) -> Result<Option<String>, crate::settings::Error> {
    Ok(layer_part(&HookArgs::default(), config, &table_keys())?.master_node)
}

/// Names of the Consul records the hooks manage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    pub master_node: String,
    pub replica_node: String,
    pub kv_key: String,
    /// The service published on the master node, if any.
    pub service: Option<String>,
}

impl Names {
    /// The KV key where `mysql-before-exec` records the move in progress, so that
    /// `mysql-after-exec` learns the old master even when called with two arguments, and a
    /// rerun of a failed `after` can finish the move.
    pub fn move_key(&self) -> String {
        format!("sengu/mysql/{}/move", self.kv_key)
    }
}

impl Names {
    /// The names from `[mysql-hooks]` as layered (`shared`), defaults filled in and validated.
    pub fn resolve(shared: &HookArgs) -> Result<Names, SetupError> {
        let names = Names {
            master_node: name("master node", shared.master_node.clone(), DEFAULT_MASTER_NODE)?,
            replica_node: name("replica node", shared.replica_node.clone(), DEFAULT_REPLICA_NODE)?,
            kv_key: kv_key(shared.kv_key.clone())?,
            service: shared.service.clone().filter(|s| !s.is_empty()),
        };
        if names.master_node.eq_ignore_ascii_case(&names.replica_node) {
            return Err(SetupError::BadValue {
                what: "replica node",
                value: names.replica_node,
                reason: "it must differ from the master node".into(),
            });
        }
        Ok(names)
    }

    /// The names and the MySQL login the hooks would use: `args` (flags, environment) over
    /// `[mysql-hooks]` and `[mysql]` of `config`. For `mysql-master-check`, which reads the
    /// records the hooks write.
    pub fn with_login(args: &HookArgs, config: &ConfigFile) -> Result<(Names, Credentials, Option<Duration>, KvFormat), SetupError> {
        let known = table_keys();
        let shared = layer_part(args, config, &known)?;
        let after = layer_part(&AfterArgs::default(), config, &known)?;
        let credentials = crate::settings::layer(&args.mysql, config)?.credentials()?;
        Ok((Names::resolve(&shared)?, credentials, shared.mysql_timeout, after.kv_format.unwrap_or_default()))
    }
}

impl Default for Names {
    fn default() -> Self {
        Names {
            master_node: DEFAULT_MASTER_NODE.into(),
            replica_node: DEFAULT_REPLICA_NODE.into(),
            kv_key: DEFAULT_KV_KEY.into(),
            service: None,
        }
    }
}

/// Where and how long to wait for DNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitDns {
    pub server: SocketAddr,
    /// `None`: `<master_node>.node.consul`.
    pub name: Option<String>,
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
}

/// Everything a hook run needs, merged and checked; `--print-config` shows it as it is.
#[derive(Debug, Serialize)]
pub struct HookSettings {
    pub names: Names,
    pub kv_format: KvFormat,
    pub make_writable: bool,
    pub fence_old_master: bool,
    pub wait_dns: Option<WaitDns>,
    /// How long a failover blocks further automatic failovers ([`crate::hold`]); zero: never.
    #[serde(serialize_with = "crate::human::exact")]
    pub block_after_failover: Duration,
    pub credentials: Credentials,
    pub mysql_timeouts: Timeouts,
    pub fence_timeouts: Timeouts,
    /// The Consul client, its deadline set to the end of the run's budget.
    pub consul: Client,
    /// The budget for all Consul calls of the run, counted from [`HookSettings::resolve`].
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
}

pub use crate::settings::SetupError;

impl HookSettings {
    /// Merges flags and environment (already in `args`, `flags`, `common`, `consul_args`) with
    /// the config file and the defaults, reads the MySQL credentials and the Consul client
    /// configuration (`CONSUL_*`).
    pub fn resolve(
        args: &HookArgs,
        flags: &HookFlags,
        common: &CommonArgs,
        consul_args: &ConsulArgs,
        config: &ConfigFile,
    ) -> Result<HookSettings, SetupError> {
        let known = table_keys();
        let shared = layer_part(args, config, &known)?;
        let before = layer_part(&flags.before, config, &known)?;
        let after = layer_part(&flags.after, config, &known)?;
        let names = Names::resolve(&shared)?;
        let wait_dns = match after.wait_dns {
            None => None,
            Some(hp) => {
                let ip = hp.ip().ok_or_else(|| SetupError::BadValue {
                    what: "wait_dns",
                    value: hp.to_string(),
                    reason: "expected IP:PORT of a DNS server".into(),
                })?;
                if let Some(bad) = after.wait_dns_name.as_ref().filter(|n| !crate::dns::is_valid_name(n)) {
                    return Err(SetupError::BadValue { what: "wait_dns_name", value: bad.clone(), reason: "expected a DNS name".into() });
                }
                Some(WaitDns {
                    server: SocketAddr::new(ip, hp.port),
                    name: after.wait_dns_name,
                    timeout: after.wait_dns_timeout.unwrap_or(DEFAULT_WAIT_DNS_TIMEOUT),
                })
            }
        };
        let credentials = crate::settings::layer(&args.mysql, config)?.credentials()?;
        let timeout = common.timeout(shared.timeout, DEFAULT_TIMEOUT);
        let consul = consul_args.client_config::<SetupError>(config)?;
        let consul = Client::new(&consul.with_deadline(Instant::now() + timeout))?;
        Ok(HookSettings {
            names,
            kv_format: after.kv_format.unwrap_or_default(),
            make_writable: after.make_writable.unwrap_or(false),
            fence_old_master: before.fence_old_master.unwrap_or(false),
            wait_dns,
            block_after_failover: after.block_after_failover.unwrap_or(DEFAULT_BLOCK_AFTER_FAILOVER),
            credentials,
            mysql_timeouts: Timeouts::all(shared.mysql_timeout.unwrap_or(DEFAULT_MYSQL_TIMEOUT)),
            fence_timeouts: Timeouts::all(before.fence_timeout.unwrap_or(DEFAULT_FENCE_TIMEOUT)),
            consul,
            timeout,
        })
    }
}

/// A catalog node name: letters, digits, `-`, `_` and `.` (Consul warns about anything else
/// because DNS could not serve it).
fn name(what: &'static str, value: Option<String>, default: &str) -> Result<String, SetupError> {
    let value = value.unwrap_or_else(|| default.to_string());
    let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid { Ok(value) } else { Err(SetupError::BadValue { what, value, reason: "expected letters, digits, '-', '_' or '.'".into() }) }
}

/// A KV key within the characters every Consul version accepts (reference §3).
fn kv_key(value: Option<String>) -> Result<String, SetupError> {
    let value = value.unwrap_or_else(|| DEFAULT_KV_KEY.to_string());
    let valid = !value.is_empty()
        && !value.starts_with('/')
        && !value.split('/').any(|part| part == "..")
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b','));
    if valid {
        Ok(value)
    } else {
        Err(SetupError::BadValue { what: "kv key", value, reason: "expected [A-Za-z0-9_./,-], not starting with '/'".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> ConfigFile {
        ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap()
    }

    fn resolve(args: &HookArgs, flags: &HookFlags, text: &str) -> Result<HookSettings, SetupError> {
        resolve_with(args, flags, &CommonArgs::default(), text)
    }

    fn resolve_with(args: &HookArgs, flags: &HookFlags, common: &CommonArgs, text: &str) -> Result<HookSettings, SetupError> {
        let consul = ConsulArgs { addr: Some("127.0.0.1:8500".into()) };
        HookSettings::resolve(args, flags, common, &consul, &config(text))
    }

    #[test]
    fn defaults_are_the_old_shell_hooks_names() {
        let s = resolve(&HookArgs::default(), &HookFlags::default(), "").unwrap();
        assert_eq!(s.names, Names::default());
        assert_eq!(s.names.move_key(), "sengu/mysql/foo-db-master/move");
        assert_eq!(s.kv_format, KvFormat::Plain);
        assert!(!s.make_writable && !s.fence_old_master);
        assert_eq!(s.wait_dns, None);
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.mysql_timeouts, Timeouts::all(DEFAULT_MYSQL_TIMEOUT));
        assert_eq!(s.fence_timeouts, Timeouts::all(DEFAULT_FENCE_TIMEOUT));
        assert_eq!(s.block_after_failover, DEFAULT_BLOCK_AFTER_FAILOVER);
        let off = resolve(&HookArgs::default(), &HookFlags::default(), "[mysql-hooks]\nblock_after_failover = \"0s\"\n").unwrap();
        assert_eq!(off.block_after_failover, Duration::ZERO, "0s turns the block off");
    }

    #[test]
    fn the_file_fills_in_what_flags_leave_open() {
        let text = "[mysql-hooks]\nmaster_node = \"db-master\"\nkv_key = \"svc/db/master\"\nservice = \"mysql\"\nkv_format = \"json\"\n\
                    make_writable = true\nfence_old_master = true\nwait_dns = \"127.0.0.1:8600\"\nwait_dns_timeout = \"3s\"\n\
                    timeout = \"20s\"\nmysql_timeout = \"1s\"\nfence_timeout = \"500ms\"\n\n[mysql]\nuser = \"sengu\"\n";
        let args = HookArgs { master_node: Some("flag-master".into()), ..HookArgs::default() };
        let s = resolve(&args, &HookFlags::default(), text).unwrap();
        assert_eq!(s.names.master_node, "flag-master", "a flag beats the file");
        assert_eq!(s.names.replica_node, DEFAULT_REPLICA_NODE);
        assert_eq!(s.names.kv_key, "svc/db/master");
        assert_eq!(s.names.service.as_deref(), Some("mysql"));
        assert_eq!(s.kv_format, KvFormat::Json);
        assert!(s.make_writable && s.fence_old_master);
        assert_eq!(
            s.wait_dns,
            Some(WaitDns { server: "127.0.0.1:8600".parse().unwrap(), name: None, timeout: Duration::from_secs(3) })
        );
        assert_eq!(s.timeout, Duration::from_secs(20));
        assert_eq!(s.mysql_timeouts, Timeouts::all(Duration::from_secs(1)));
        assert_eq!(s.fence_timeouts, Timeouts::all(Duration::from_millis(500)));
        assert_eq!(s.credentials.user, "sengu");
    }

    #[test]
    fn flags_beat_the_file() {
        let text = "[mysql-hooks]\nkv_format = \"json\"\ntimeout = \"20s\"\nwait_dns = \"127.0.0.1:8600\"\n";
        let after = AfterArgs {
            kv_format: Some(KvFormat::Plain),
            wait_dns: Some("127.0.0.2:53".parse().unwrap()),
            wait_dns_name: Some("db.example.".into()),
            ..AfterArgs::default()
        };
        let flags = HookFlags { after, ..HookFlags::default() };
        let common = CommonArgs { timeout: Some(Duration::from_secs(5)), ..CommonArgs::default() };
        let s = resolve_with(&HookArgs::default(), &flags, &common, text).unwrap();
        assert_eq!(s.kv_format, KvFormat::Plain);
        assert_eq!(s.timeout, Duration::from_secs(5));
        let wait = s.wait_dns.unwrap();
        assert_eq!((wait.server, wait.name.as_deref()), ("127.0.0.2:53".parse().unwrap(), Some("db.example.")));
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let bad = |text: &str| resolve(&HookArgs::default(), &HookFlags::default(), text).unwrap_err().to_string();
        assert!(bad("[mysql-hooks]\nmaster_node = \"a b\"\n").starts_with("invalid master node \"a b\""));
        assert!(bad("[mysql-hooks]\nkv_key = \"/abs\"\n").starts_with("invalid kv key \"/abs\""));
        assert!(bad("[mysql-hooks]\nkv_key = \"a/../b\"\n").starts_with("invalid kv key"));
        assert!(bad("[mysql-hooks]\nreplica_node = \"foo-db-master\"\n").contains("must differ from the master node"));
        assert!(bad("[mysql-hooks]\nwait_dns = \"localhost:8600\"\n").contains("expected IP:PORT"));
        assert!(bad("[mysql-hooks]\nwait_dns = \"127.0.0.1\"\n").starts_with("invalid value for \"wait_dns\" in [mysql-hooks]"));
        assert!(bad("[mysql-hooks]\nkv_format = \"yaml\"\n").contains("kv_format"));
        assert!(bad("[mysql-hooks]\nnode = \"x\"\n").contains("unknown key \"node\" in [mysql-hooks]"));
        assert!(bad("[mysql]\npassword = \"x\"\n").contains("unknown key \"password\" in [mysql]"), "passwords belong in the option file");
    }

    #[test]
    fn the_option_file_gives_the_credentials_and_the_user_can_be_overridden() {
        let dir = tempfile::tempdir().unwrap();
        let cnf = dir.path().join("sengu.cnf");
        std::fs::write(&cnf, "[client]\nuser = hooks\npassword = s3cret\n").unwrap();
        let text = format!("[mysql]\ndefaults_file = {:?}\n", cnf.to_str().unwrap());
        let s = resolve(&HookArgs::default(), &HookFlags::default(), &text).unwrap();
        assert_eq!(s.credentials.user, "hooks");
        assert_eq!(s.credentials.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        let args = HookArgs { mysql: MysqlArgs { user: Some("other".into()), ..MysqlArgs::default() }, ..HookArgs::default() };
        assert_eq!(resolve(&args, &HookFlags::default(), &text).unwrap().credentials.user, "other");
        let missing = format!("[mysql]\ndefaults_file = {:?}\n", dir.path().join("nope.cnf").to_str().unwrap());
        assert!(resolve(&HookArgs::default(), &HookFlags::default(), &missing).unwrap_err().to_string().starts_with("mysql credentials: "));
    }
}
