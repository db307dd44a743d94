//! The drill's settings: the flag groups of `sengu-drill redis` and `sengu-drill mysql`, each
//! setting with a config key declared once as a flag, a variable and a key of `[drill]` (shared
//! by the groups, merged by [`crate::settings::layer_part`]), and their merge into a ready
//! [`RedisDrill`] or [`MysqlDrill`] (flag > environment > file > default). The groups live here rather than in the binary
//! because the merge needs them and the merge is what unit tests reach.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::mysql::{MysqlDrill, Native};
use super::probe::{Cadence, Ports};
use super::redis::RedisDrill;
use super::Deadlines;
use crate::addr::HostPort;
use crate::consul::Client;
use crate::mysql::Timeouts;
pub use crate::settings::SetupError;
use crate::redis::ConnectOptions;
use crate::roles::RoleTags;
use crate::settings::{self, keys, layer_part, optional_duration, parse_timeout, CommonArgs, ConfigFile, ConsulArgs, Table};

pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(10);
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// The DNS sampler's interval: a few milliseconds, so a two-master answer cannot slip through.
pub const DNS_SAMPLE_INTERVAL: Duration = Duration::from_millis(5);
pub const DEFAULT_SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_TABLE: &str = "sengu_drill.probes";
pub const DEFAULT_DOMAIN: &str = "consul";
pub const DEFAULT_MYSQL_PORT: u16 = 3306;

/// Flags both drills take. Each field with a config key is declared once here, as a flag, a
/// variable and a key of `[drill]` (a table the three groups share); fields without one are
/// `#[serde(skip)]` and always come from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeArgs {
    /// DNS server applications use, e.g. Consul's 127.0.0.1:8600 (also [drill] dns_server) [default: the system resolver]
    #[arg(long, env = "SENGU_DNS_SERVER", value_name = "IP:PORT")]
    pub dns_server: Option<HostPort>,
    /// The name the probes resolve, instead of the one built from the service or node
    #[arg(long, env = "SENGU_DNS_NAME", value_name = "NAME")]
    #[serde(skip)]
    pub dns_name: Option<String>,
    /// Consul datacenter in the DNS name (also [drill] datacenter) [default: none, the agent's]
    #[arg(long, env = "SENGU_DATACENTER", value_name = "DC")]
    pub datacenter: Option<String>,
    /// Consul DNS domain (also [drill] domain) [default: consul]
    #[arg(long, env = "SENGU_DOMAIN", value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// How often the probes write and read (also [drill] probe_interval) [default: 10ms]
    #[arg(long, env = "SENGU_PROBE_INTERVAL", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub probe_interval: Option<Duration>,
    /// Timeout of each probe's connect and command (also [drill] probe_timeout) [default: 250ms]
    #[arg(long, env = "SENGU_PROBE_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub probe_timeout: Option<Duration>,
    /// Longest wait for things to settle after a switch, and for the pre-checks before the next round (also [drill] settle_timeout) [default: 15s]
    #[arg(long, env = "SENGU_SETTLE_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub settle_timeout: Option<Duration>,
    /// Do not store the report in Consul KV (also [drill] history = false)
    #[arg(long, env = "SENGU_NO_HISTORY", value_parser = clap::builder::BoolishValueParser::new())]
    #[serde(skip)]
    pub no_history: bool,
    /// `[drill] history`: store each report in Consul KV [default: true]; its flag is `--no-history`.
    #[arg(skip)]
    pub history: Option<bool>,
    /// Run although manual mode is on or a post-failover block holds (`sengu-drill manual status`): a person decided; the documented way to make the one-shot switch in manual mode
    #[arg(long)]
    #[serde(skip)]
    pub despite_hold: bool,
}

impl Table for ProbeArgs {
    const NAME: &'static str = "drill";
}

/// Flags of `sengu-drill redis` (keys of `[drill]` where they have one).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisArgs {
    /// A sentinel; repeat for each (env: comma-separated)
    #[arg(long = "sentinel", env = "SENGU_SENTINELS", value_delimiter = ',', value_name = "HOST:PORT", required = true)]
    #[serde(skip)]
    pub sentinels: Vec<HostPort>,
    /// The master name the sentinels monitor [default: the service name]
    #[arg(long, env = "SENGU_SENTINEL_MASTER", value_name = "NAME")]
    #[serde(skip)]
    pub sentinel_master: Option<String>,
    /// The Consul service whose instances carry the master/replica tags
    #[arg(long, env = "SENGU_SERVICE", value_name = "NAME")]
    #[serde(skip)]
    pub service: String,
    /// How many switches, back and forth [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    #[serde(skip)]
    pub rounds: Option<u32>,
    /// Go on with the next round after one that broke an invariant (an aborted round still stops the drill); for measuring
    #[arg(long)]
    #[serde(skip)]
    pub keep_going: bool,
    /// Longest wait for the replicas to reach the paused master's offset (also [drill] catch_up_timeout) [default: 2s]
    #[arg(long, env = "SENGU_CATCH_UP_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub catch_up_timeout: Option<Duration>,
    /// Longest wait for each step: promotion, demotion, publishing (also [drill] step_timeout) [default: 5s]
    #[arg(long, env = "SENGU_STEP_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub step_timeout: Option<Duration>,
    /// The tag that marks the master [default: master]
    #[arg(long, env = "SENGU_MASTER_TAG", value_name = "TAG")]
    #[serde(skip)]
    pub master_tag: Option<String>,
    /// The tag that marks a replica [default: replica]
    #[arg(long, env = "SENGU_REPLICA_TAG", value_name = "TAG")]
    #[serde(skip)]
    pub replica_tag: Option<String>,
    #[command(flatten)]
    #[serde(skip)]
    pub probes: ProbeArgs,
}

impl Table for RedisArgs {
    const NAME: &'static str = "drill";
}

/// Flags of `sengu-drill mysql` (keys of `[drill]` where they have one).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["service", "node"]))]
#[serde(default, deny_unknown_fields)]
pub struct MysqlDrillArgs {
    /// Probe `<NAME>.service.<domain>`: the service the hooks publish on the master
    #[arg(long, env = "SENGU_SERVICE", value_name = "NAME")]
    #[serde(skip)]
    pub service: Option<String>,
    /// Probe `<NAME>.node.<domain>`: the catalog node that stands for the master, e.g. foo-db-master
    #[arg(long, env = "SENGU_MASTER_NODE", value_name = "NAME")]
    #[serde(skip)]
    pub node: Option<String>,
    /// A server taking part, so the probes know its port; repeat for each
    #[arg(long = "server", value_name = "HOST:PORT")]
    #[serde(skip)]
    pub servers: Vec<HostPort>,
    /// The port of any other address DNS answers [default: 3306]
    #[arg(long, value_name = "PORT")]
    #[serde(skip)]
    pub port: Option<u16>,
    /// The probe table, created if missing (also [drill] table) [default: sengu_drill.probes]
    #[arg(long, env = "SENGU_DRILL_TABLE", value_name = "DB.TABLE")]
    pub table: Option<String>,
    // The probes' login: `--mysql-defaults-file`, `--mysql-user`, shared with the hooks.
    #[command(flatten)]
    #[serde(skip)]
    pub login: crate::mysql::MysqlArgs,
    /// Longest run of the switchover command (also [drill] switchover_timeout) [default: 60s]
    #[arg(long, env = "SENGU_SWITCHOVER_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub switchover_timeout: Option<Duration>,
    /// Native switchover: the server to promote [default: the one other --server]
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "switchover_cmd")]
    #[serde(skip)]
    pub to: Option<HostPort>,
    /// Native switchover: how many switches, back and forth [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000), conflicts_with = "switchover_cmd")]
    #[serde(skip)]
    pub rounds: Option<u32>,
    /// Native switchover: option file with the login for its own statements (read_only, KILL, STOP SLAVE, CHANGE MASTER; also [drill] admin_defaults_file)
    #[arg(long, env = "SENGU_ADMIN_DEFAULTS_FILE", value_name = "FILE")]
    pub admin_defaults_file: Option<std::path::PathBuf>,
    /// Native switchover: option file with the replication account the old master uses to replicate from the new one (also [drill] repl_defaults_file)
    #[arg(long, env = "SENGU_REPL_DEFAULTS_FILE", value_name = "FILE")]
    pub repl_defaults_file: Option<std::path::PathBuf>,
    /// Native switchover: longest wait for the new master to apply the old one's last write (also [drill] catch_up_timeout) [default: 2s]
    #[arg(long, env = "SENGU_CATCH_UP_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub catch_up_timeout: Option<Duration>,
    /// Native switchover: longest wait for each of its steps (also [drill] step_timeout) [default: 5s]
    #[arg(long, env = "SENGU_STEP_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    #[serde(with = "optional_duration")]
    pub step_timeout: Option<Duration>,
    /// The switchover command and its arguments, run without a shell; must come last. Without it the drill switches natively (MariaDB GTID pairs)
    #[arg(long, value_name = "ARGV", num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true)]
    #[serde(skip)]
    pub switchover_cmd: Vec<OsString>,
    #[command(flatten)]
    #[serde(skip)]
    pub probes: ProbeArgs,
}

impl Table for MysqlDrillArgs {
    const NAME: &'static str = "drill";
}

/// Every key of `[drill]`, whichever group declares it.
fn table_keys() -> Vec<String> {
    [keys::<ProbeArgs>(), keys::<RedisArgs>(), keys::<MysqlDrillArgs>()].concat()
}

/// A ready drill, whether to keep its report in Consul KV, and the Consul client.
#[derive(Debug, Serialize)]
pub struct Ready<T> {
    pub drill: T,
    pub keep_history: bool,
    pub consul: Client,
}

/// What both drills share, merged.
#[derive(Debug, Clone)]
struct Shared {
    dns_server: Option<SocketAddr>,
    dns_name: Option<String>,
    datacenter: Option<String>,
    domain: String,
    cadence: Cadence,
    probe_timeout: Duration,
    settle: Duration,
    keep_history: bool,
    despite_hold: bool,
}

impl Shared {
    /// `args` layered over `[drill]`; the command-line-only fields come from `args` itself.
    fn resolve(args: &ProbeArgs, config: &ConfigFile, known: &[String]) -> Result<Shared, SetupError> {
        let merged = layer_part(args, config, known)?;
        let dns_server = match merged.dns_server {
            None => None,
            Some(hp) => Some(SocketAddr::new(hp.ip().ok_or_else(|| bad("DNS server", hp.to_string(), "expected IP:PORT"))?, hp.port)),
        };
        let domain = merged.domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        Ok(Shared {
            dns_server,
            dns_name: args.dns_name.clone(),
            datacenter: merged.datacenter,
            domain: domain.trim_matches('.').to_string(),
            cadence: Cadence { probe: merged.probe_interval.unwrap_or(DEFAULT_PROBE_INTERVAL), dns: DNS_SAMPLE_INTERVAL },
            probe_timeout: merged.probe_timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT),
            settle: merged.settle_timeout.unwrap_or(Deadlines::default().settle),
            keep_history: !args.no_history && merged.history.unwrap_or(true),
            despite_hold: args.despite_hold,
        })
    }

    /// `<first>.<kind>[.<dc>].<domain>`, unless a name was given.
    fn name(&self, first: &str, kind: &str) -> String {
        if let Some(name) = &self.dns_name {
            return name.clone();
        }
        match &self.datacenter {
            Some(dc) => format!("{first}.{kind}.{dc}.{}", self.domain),
            None => format!("{first}.{kind}.{}", self.domain),
        }
    }
}

fn bad(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> SetupError {
    SetupError::BadValue { what, value: value.into(), reason: reason.into() }
}

/// A ready Redis drill, whether to keep its report, and the Consul client.
pub fn redis(args: &RedisArgs, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Ready<RedisDrill>, SetupError> {
    let known = table_keys();
    let shared = Shared::resolve(&args.probes, config, &known)?;
    let own = layer_part(args, config, &known)?;
    let tags = RoleTags {
        master: args.master_tag.clone().unwrap_or_else(|| RoleTags::default().master),
        replica: args.replica_tag.clone().unwrap_or_else(|| RoleTags::default().replica),
    };
    let auth = settings::redis_auth(config)?;
    let opts = ConnectOptions { auth, ..ConnectOptions::default() };
    let defaults = Deadlines::default();
    let drill = RedisDrill {
        sentinels: args.sentinels.clone(),
        master_name: args.sentinel_master.clone().unwrap_or_else(|| args.service.clone()),
        service: args.service.clone(),
        dns_name: shared.name(&format!("{}.{}", tags.master, args.service), "service"),
        dns_server: shared.dns_server,
        rounds: args.rounds.unwrap_or(1),
        keep_going: args.keep_going,
        cadence: shared.cadence,
        probe_timeout: shared.probe_timeout,
        deadlines: Deadlines {
            catch_up: own.catch_up_timeout.unwrap_or(defaults.catch_up),
            step: own.step_timeout.unwrap_or(defaults.step),
            settle: shared.settle,
        },
        tags,
        redis: opts.clone(),
        sentinel: opts,
        despite_hold: shared.despite_hold,
    };
    Ok(Ready { drill, keep_history: shared.keep_history, consul: client(common, consul, config)? })
}

/// A ready MySQL drill, whether to keep its report, and the Consul client.
pub fn mysql(args: &MysqlDrillArgs, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Ready<MysqlDrill>, SetupError> {
    let known = table_keys();
    let shared = Shared::resolve(&args.probes, config, &known)?;
    let own = layer_part(args, config, &known)?;
    let (label, dns_name) = match (&args.service, &args.node) {
        (Some(s), _) => (s.clone(), shared.name(s, "service")),
        (None, Some(n)) => (n.clone(), shared.name(n, "node")),
        (None, None) => return Err(bad("target", "", "give --service or --node")),
    };
    let table = own.table.clone().unwrap_or_else(|| DEFAULT_TABLE.to_string());
    let valid = table.split_once('.').is_some_and(|(db, t)| [db, t].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')));
    if !valid {
        return Err(bad("table", table, "expected DATABASE.TABLE of letters, digits and '_'"));
    }
    let credentials = crate::settings::layer(&args.login, config)?.credentials()?;
    let mut ports = Ports { default: Some(args.port.unwrap_or(DEFAULT_MYSQL_PORT)), ..Ports::default() };
    for s in &args.servers {
        let ip = s.ip().ok_or_else(|| bad("server", s.to_string(), "expected an IP address, as DNS answers"))?;
        ports.by_ip.insert(ip, s.port);
    }
    // The hold is the master node's, as the hooks and `mysql-fail-check` name it.
    let hold_name = match &args.node {
        Some(node) => node.clone(),
        None => crate::mysql_hooks::settings::master_node_in_file(config)?
            .unwrap_or_else(|| crate::mysql_hooks::settings::DEFAULT_MASTER_NODE.to_string()),
    };
    crate::hold::validate_name(&hold_name).map_err(|reason| bad("node", hold_name.clone(), reason))?;
    let native = match args.switchover_cmd.is_empty() {
        true => Some(native(args, &own, common, consul, config)?),
        false => None,
    };
    let drill = MysqlDrill {
        switchover: args.switchover_cmd.clone(),
        native,
        rounds: args.rounds.unwrap_or(1),
        hold_name,
        despite_hold: shared.despite_hold,
        label,
        dns_name,
        dns_server: shared.dns_server,
        ports,
        credentials,
        table,
        cadence: shared.cadence,
        probe_timeout: shared.probe_timeout,
        timeouts: Timeouts::all(Duration::from_secs(3)),
        deadlines: Deadlines {
            step: own.switchover_timeout.unwrap_or(DEFAULT_SWITCHOVER_TIMEOUT),
            settle: shared.settle,
            ..Deadlines::default()
        },
    };
    Ok(Ready { drill, keep_history: shared.keep_history, consul: client(common, consul, config)? })
}

/// The native switchover's settings: its admin login (also the hooks' login, since it runs
/// the hooks' library functions), the replication account, the hooks' records
/// (`[mysql-hooks]`, with `--node`/`--service` naming the master node and service), deadlines.
fn native(args: &MysqlDrillArgs, own: &MysqlDrillArgs, common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Native, SetupError> {
    let admin_file: std::path::PathBuf = own.admin_defaults_file.clone().ok_or_else(|| {
        SetupError::usage("the native switchover (no --switchover-cmd) needs --admin-defaults-file FILE (or [drill] admin_defaults_file): the login for its own statements")
    })?;
    let repl_file = own.repl_defaults_file.clone().ok_or_else(|| {
        SetupError::usage("the native switchover (no --switchover-cmd) needs --repl-defaults-file FILE (or [drill] repl_defaults_file): the replication account the old master uses")
    })?;
    if args.servers.len() < 2 {
        return Err(SetupError::usage("the native switchover needs --server HOST:PORT for both servers of the pair"));
    }
    let repl = crate::mysql::Credentials::load(Some(&repl_file))?;
    let hook_args = crate::mysql_hooks::HookArgs {
        master_node: args.node.clone(),
        service: args.service.clone(),
        mysql: crate::mysql::MysqlArgs { defaults_file: Some(admin_file.clone()), user: None },
        ..Default::default()
    };
    let mut hooks = crate::mysql_hooks::HookSettings::resolve(&hook_args, &Default::default(), common, consul, config)?;
    // The admin file alone, not `[mysql] user` over it: that names the hooks' own login.
    hooks.credentials = crate::mysql::Credentials::load(Some(&admin_file))?;
    // The drill measures DNS itself, fences and promotes itself, and runs longer than one
    // hook's budget: each Consul request keeps its own timeout instead.
    hooks.wait_dns = None;
    hooks.make_writable = false;
    hooks.fence_old_master = false;
    hooks.consul.set_deadline(None);
    let defaults = Deadlines::default();
    Ok(Native {
        to: args.to.clone(),
        servers: args.servers.clone(),
        repl,
        catch_up: own.catch_up_timeout.unwrap_or(defaults.catch_up),
        step: own.step_timeout.unwrap_or(defaults.step),
        hooks,
    })
}

/// The Consul client: `CONSUL_*`, then `--consul-addr`/`[consul] addr`, bounded by `--timeout`
/// per request (a drill runs longer than any one request).
pub fn client(common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile) -> Result<Client, SetupError> {
    let mut c = consul.client_config::<SetupError>(config)?;
    if let Some(t) = common.timeout {
        c = c.with_timeout(t);
    }
    Ok(Client::new(&c)?)
}

/// A client whose whole run is bounded, for `history`.
pub fn bounded_client(common: &CommonArgs, consul: &ConsulArgs, config: &ConfigFile, default: Duration) -> Result<Client, SetupError> {
    let mut client = client(common, consul, config)?;
    client.set_deadline(Some(Instant::now() + common.timeout.unwrap_or(default)));
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct R {
        #[command(flatten)]
        r: RedisArgs,
    }

    #[derive(Debug, Parser)]
    struct M {
        #[command(flatten)]
        m: MysqlDrillArgs,
    }

    fn config(text: &str) -> ConfigFile {
        ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap()
    }

    fn consul() -> ConsulArgs {
        ConsulArgs { addr: Some("127.0.0.1:8500".into()) }
    }

    #[test]
    fn redis_defaults_build_the_master_name_from_tag_and_service() {
        let cli = R::try_parse_from(["t", "--sentinel", "127.0.0.1:26379", "--service", "redis"]).unwrap();
        let Ready { drill: d, keep_history: keep, .. } = redis(&cli.r, &CommonArgs::default(), &consul(), &config("")).unwrap();
        assert_eq!(d.dns_name, "master.redis.service.consul");
        assert_eq!(d.master_name, "redis");
        assert_eq!((d.rounds, keep), (1, true));
        assert_eq!(d.cadence.probe, DEFAULT_PROBE_INTERVAL);
        assert_eq!(d.deadlines, Deadlines::default());
        assert_eq!(d.dns_server, None);
    }

    #[test]
    fn the_file_fills_in_and_flags_win() {
        let text = "[drill]\nprobe_interval = \"20ms\"\ncatch_up_timeout = \"1s\"\ndns_server = \"127.0.0.1:8600\"\ndatacenter = \"dc1\"\nhistory = false\n";
        let cli = R::try_parse_from(["t", "--sentinel", "127.0.0.1:26379", "--service", "redis", "--probe-interval", "5ms", "--master-tag", "primary"]).unwrap();
        let Ready { drill: d, keep_history: keep, .. } = redis(&cli.r, &CommonArgs::default(), &consul(), &config(text)).unwrap();
        assert_eq!(d.cadence.probe, Duration::from_millis(5));
        assert_eq!(d.deadlines.catch_up, Duration::from_secs(1));
        assert_eq!(d.dns_server, Some("127.0.0.1:8600".parse().unwrap()));
        assert_eq!(d.dns_name, "primary.redis.service.dc1.consul");
        assert!(!keep);
    }

    #[test]
    fn a_dns_server_must_be_an_address() {
        let cli = R::try_parse_from(["t", "--sentinel", "127.0.0.1:26379", "--service", "redis", "--dns-server", "dns.example:53"]).unwrap();
        let e = redis(&cli.r, &CommonArgs::default(), &consul(), &config("")).unwrap_err();
        assert!(e.to_string().contains("expected IP:PORT"), "{e}");
    }

    #[test]
    fn mysql_takes_the_command_last_with_its_own_flags() {
        let cli = M::try_parse_from(["t", "--node", "foo-db-master", "--server", "127.0.0.21:3307", "--mysql-user", "probe", "--switchover-cmd", "switch", "--new", "x"]).unwrap();
        assert_eq!(cli.m.switchover_cmd, ["switch", "--new", "x"]);
        let d = mysql(&cli.m, &CommonArgs::default(), &consul(), &config("")).unwrap().drill;
        assert_eq!(d.dns_name, "foo-db-master.node.consul");
        assert_eq!(d.ports.endpoint("127.0.0.21".parse().unwrap()).unwrap().to_string(), "127.0.0.21:3307");
        assert_eq!(d.ports.endpoint("127.0.0.22".parse().unwrap()).unwrap().to_string(), "127.0.0.22:3306");
        assert_eq!(d.table, DEFAULT_TABLE);
        assert_eq!(d.credentials.user, "probe", "the shared --mysql-user flag names the probe user");
        assert!(M::try_parse_from(["t", "--switchover-cmd", "x"]).is_err(), "--service or --node is required");
    }

    #[test]
    fn a_bad_table_name_is_refused() {
        let cli = M::try_parse_from(["t", "--service", "mysql", "--table", "probes; drop", "--switchover-cmd", "x"]).unwrap();
        let e = mysql(&cli.m, &CommonArgs::default(), &consul(), &config("")).unwrap_err();
        assert!(e.to_string().starts_with("invalid table"), "{e}");
    }
}
