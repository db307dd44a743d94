//! `mysql-fail-check`: decides whether a MySQL master is really gone before mysqlfailover fails
//! over, from several vantage points: this monitor's own connection, every replica's view of
//! its link to the master, and optionally Consul's view of the master's node. A master is dead
//! only when the monitor cannot reach it *and* every replica that answers has lost it too
//! (orchestrator's DeadMaster), on several consecutive runs.
//!
//! - [`verdict`]: the decision, a pure function from observations and the stored state;
//! - [`observe`]: the probes (MySQL, Consul) that produce the observations;
//! - [`state`]: the per-master state file (dead streak, learned topology, progress markers);
//! - [`report`]: the exit code, the human line, the JSON form and the durable log line;
//! - [`entry`]: start-up where every failure exits 0, because non-zero starts a failover;
//! - this file: the settings, and [`run`], which ties one run together.

pub mod entry;
pub mod observe;
pub mod report;
pub mod state;
pub mod verdict;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::consul::{self, ClientConfig};
use crate::mysql::{Credentials, MysqlArgs, OptionFileError};
use crate::settings::{self, optional_duration, CommonArgs, ConfigFile, ConsulArgs};

pub use entry::PROGRAM;
pub use report::{Checked, Exit, HoldCheck, Report, Source};
pub use state::{StateFile, DEFAULT_STATE_DIR};
pub use verdict::{Category, Policy, WhenNoReplicas};

/// The whole run's time budget unless `--timeout` or the table says otherwise. mysqlfailover
/// waits for the script without a timeout, so this only has to stay below its `--interval`
/// (15 s by default, 5 s at least).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6);
/// Consecutive dead runs before a failover.
pub const DEFAULT_CONFIRM_RUNS: u32 = 2;
pub use crate::mysql::UNKNOWN;

/// Every setting of `mysql-fail-check`, declared once: each field is a flag, a `SENGU_*`
/// variable and a key of `[mysql-fail-check]` (the `[mysql]` login group is flattened in for
/// the command line and layered over its own table).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// How many consecutive runs must find the master dead before a failover [default: 2]
    #[arg(long, env = "SENGU_CONFIRM_RUNS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub confirm_runs: Option<u32>,
    /// How long the master must have been found dead before a failover, e.g. 30s [default: 0s]
    #[arg(long, env = "SENGU_FAIL_AFTER", value_name = "DURATION", value_parser = settings::parse_duration)]
    #[serde(with = "optional_duration")]
    pub fail_after: Option<Duration>,
    /// A replica of the master to ask, HOST:PORT; repeat, or comma-separate in the variable
    /// (also [mysql-fail-check] replicas) [default: the master's own list, then Consul]
    #[arg(long = "replica", env = "SENGU_REPLICAS", value_name = "HOST:PORT", value_delimiter = ',')]
    pub replicas: Vec<HostPort>,
    /// Another address replicas know the master by (their Master_Host:Master_Port); repeatable
    #[arg(long = "master-alias", env = "SENGU_MASTER_ALIASES", value_name = "HOST:PORT", value_delimiter = ',')]
    pub master_aliases: Vec<HostPort>,
    /// A replica whose IO thread says Yes but that received nothing for longer than this has
    /// lost the master [default: twice its heartbeat period]
    #[arg(long, env = "SENGU_MAX_SILENCE", value_name = "DURATION", value_parser = settings::parse_duration)]
    #[serde(with = "optional_duration")]
    pub max_silence: Option<Duration>,
    /// What to conclude when the master is unreachable and no replica can tell [default: no-failover]
    #[arg(long, env = "SENGU_WHEN_NO_REPLICAS", value_name = "RULE", value_enum)]
    pub when_no_replicas: Option<WhenNoReplicas>,
    /// Where the per-master state files live [default: /var/lib/sengu/mysql-fail-check]
    #[arg(long, env = "SENGU_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The master's Consul node, whose serfHealth is logged and can decide --when-no-replicas consul
    #[arg(long, env = "SENGU_CONSUL_NODE", value_name = "NAME")]
    pub consul_node: Option<String>,
    /// A Consul service whose instances are the master's replicas (the last place they are looked for)
    #[arg(long, env = "SENGU_REPLICA_SERVICE", value_name = "NAME")]
    pub replica_service: Option<String>,
    /// The master's node name as the hooks publish it: the name of its hold record (manual mode, post-failover block) [default: [mysql-hooks] master_node, else foo-db-master]
    #[arg(long, env = "SENGU_MASTER_NODE", value_name = "NAME")]
    pub master_node: Option<String>,
    /// obey: no failover while manual mode or a post-failover block holds, nor while the hold cannot be read; ignore: do not read it (a monitor without Consul) [default: obey]
    #[arg(long, env = "SENGU_HOLD", value_name = "POLICY", value_enum)]
    pub hold: Option<HoldPolicy>,
    /// The run's budget: the file's key; the flag is the shared --timeout
    #[arg(skip)]
    #[serde(with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// The `[mysql]` login: a table of its own, so not part of this one's keys.
    #[command(flatten)]
    #[serde(skip)]
    pub mysql: MysqlArgs,
}

impl settings::Table for Args {
    const NAME: &'static str = "mysql-fail-check";
}

/// Whether the check obeys the hold record ([`crate::hold`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldPolicy {
    /// Read it every run; a dead master fails over only when nothing holds and it was read.
    #[default]
    Obey,
    /// Do not read it: for a monitor host without Consul.
    Ignore,
}

/// Everything a run needs, merged: flags > environment > config file > defaults;
/// `--print-config` shows it as it is.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub policy: Policy,
    pub replicas: Vec<HostPort>,
    pub master_aliases: Vec<HostPort>,
    pub state_dir: PathBuf,
    pub consul_node: Option<String>,
    pub replica_service: Option<String>,
    pub credentials: Credentials,
    /// Set when a Consul node or replica service is configured.
    pub consul: Option<ClientConfig>,
    /// The name of the hold record obeyed ([`crate::hold`]): the master node.
    pub master_node: String,
    pub hold: HoldPolicy,
    /// The Consul the hold is read from (every run).
    pub hold_consul: ClientConfig,
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
}

/// Why a run could not start. Each is bad input: the run exits 0 with a CRITICAL line.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Settings(#[from] settings::Error),
    #[error("mysql credentials: {0}")]
    Credentials(#[from] OptionFileError),
    #[error(transparent)]
    Consul(#[from] consul::Error),
    #[error("invalid {what}: {reason}")]
    BadValue { what: &'static str, reason: String },
    /// mysqlfailover passes `UNKNOWN UNKNOWN` when it has lost its master object.
    #[error("mysqlfailover passed {UNKNOWN} {UNKNOWN}: it has lost track of the master, so there is nothing to check")]
    UnknownMaster,
}

/// Reads mysqlfailover's two arguments.
pub fn master_from_args(host: &str, port: &str) -> Result<HostPort, SetupError> {
    if host == UNKNOWN || port == UNKNOWN {
        return Err(SetupError::UnknownMaster);
    }
    HostPort::from_parts(host, port).map_err(|e| SetupError::BadValue { what: "<OLD_HOST> <OLD_PORT>", reason: e.to_string() })
}

impl Settings {
    /// Layers `args` over `[mysql-fail-check]` (and its `[mysql]` group over `[mysql]`), fills
    /// the defaults and validates: a value that cannot be used is bad input, before any probe.
    pub fn resolve(args: &Args, common: &CommonArgs, consul_args: &ConsulArgs, config: &ConfigFile) -> Result<Settings, SetupError> {
        let a = settings::layer(args, config)?;
        let confirm_runs = a.confirm_runs.unwrap_or(DEFAULT_CONFIRM_RUNS);
        if confirm_runs == 0 {
            return Err(SetupError::BadValue { what: "confirm_runs", reason: "must be at least 1".into() });
        }
        let policy = Policy {
            confirm_runs,
            fail_after: a.fail_after.unwrap_or(Duration::ZERO),
            max_silence: a.max_silence,
            when_no_replicas: a.when_no_replicas.unwrap_or_default(),
        };
        let consul_node = a.consul_node.filter(|n| !n.is_empty());
        let replica_service = a.replica_service.filter(|s| !s.is_empty());
        let consul = if consul_node.is_some() || replica_service.is_some() {
            Some(consul_args.client_config::<SetupError>(config)?)
        } else {
            None
        };
        let credentials = settings::layer(&args.mysql, config)?.credentials()?;
        let master_node = match a.master_node.filter(|n| !n.is_empty()) {
            Some(node) => node,
            None => crate::mysql_hooks::settings::master_node_in_file(config)?
                .unwrap_or_else(|| crate::mysql_hooks::settings::DEFAULT_MASTER_NODE.to_string()),
        };
        crate::hold::validate_name(&master_node).map_err(|reason| SetupError::BadValue { what: "master_node", reason })?;
        let hold_consul = match &consul {
            Some(c) => c.clone(),
            None => consul_args.client_config::<SetupError>(config)?,
        };
        Ok(Settings {
            policy,
            replicas: a.replicas,
            master_aliases: a.master_aliases,
            state_dir: a.state_dir.unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
            consul_node,
            replica_service,
            credentials,
            consul,
            master_node,
            hold: a.hold.unwrap_or_default(),
            hold_consul,
            timeout: common.timeout(a.timeout, DEFAULT_TIMEOUT),
        })
    }
}

/// One run: take the master's state file, ask the monitor's own connection, then every
/// replica, then Consul; decide; store the new state; log one line. Never fails: a problem on
/// the way is an observer's answer or a note in the report.
///
/// The budget is split in thirds: waiting for the lock takes at most half of the first third,
/// the master gets a third, the replicas (asked in parallel) a third, and Consul what is left.
pub fn run(master: &HostPort, s: &Settings, log: &mut ActionLog) -> Report {
    let started = Instant::now();
    let deadline = started + s.timeout;
    let share = s.timeout / 3;
    let mut notes = Vec::new();
    let fresh = state::State { master: master.to_string(), ..state::State::default() };

    let file = StateFile::lock(&s.state_dir, master, share / 2)
        .map_err(|e| notes.push(format!("{e}: counting from a fresh state that is not saved")))
        .ok();
    let prev = match file.as_ref().map(StateFile::load) {
        Some(Ok(state)) => state,
        Some(Err(problem)) => {
            notes.push(format!("{problem}: starting fresh"));
            fresh
        }
        None => fresh,
    };

    // A configured list is the only one used, so the master is not asked for its own.
    let sight = observe::master(master, &s.credentials, share, s.replicas.is_empty());
    let learned = match sight.replicas {
        Some(Ok(list)) => Some(list),
        Some(Err(e)) => {
            notes.push(format!("cannot list the master's replicas: {e}"));
            None
        }
        None => None,
    };
    let server_id = match sight.view {
        verdict::MonitorView::Up { server_id } => server_id,
        _ => None,
    };
    let mut addresses = vec![master.clone()];
    addresses.extend(s.master_aliases.iter().cloned());
    let identity = verdict::Identity { addresses, server_id: server_id.or(prev.master_server_id) };

    let consul = s.consul.as_ref().map(|config| {
        let timeout = share.max(Duration::from_millis(100));
        consul::Client::new(&config.clone().with_timeout(timeout).with_deadline(deadline)).map_err(|e| e.to_string())
    });
    let (targets, from) = replica_targets(s, learned.as_deref(), &prev, consul.as_ref(), &mut notes);
    let targets: Vec<HostPort> = targets.into_iter().filter(|r| !identity.addresses.contains(r)).collect();
    let replicas = observe::replicas(&targets, &identity, &s.credentials, share);

    let consul_view = match (&s.consul_node, &consul) {
        (Some(node), Some(Ok(client))) => Some(observe::consul_node(client, node)),
        (Some(_), Some(Err(e))) => Some(verdict::ConsulView::Unreachable { error: e.clone() }),
        _ => None,
    };

    let now = SystemTime::now();
    let obs = verdict::Observations { now, monitor: sight.view, replicas, consul: consul_view };
    let (decision, mut next) = verdict::decide(&identity, &obs, &s.policy, &prev);
    // An empty list while the master answers is more likely a moment (replicas restarting)
    // than the topology, so it does not replace the record.
    if let Some(list) = learned.filter(|l| !l.is_empty()) {
        next.topology = list;
        next.topology_learned = Some(now);
    }
    if let Some(file) = &file
        && let Err(e) = file.save(&next)
    {
        notes.push(format!("{e}: this run is not counted"));
    }
    let hold = match s.hold {
        HoldPolicy::Obey => read_hold(s, deadline),
        HoldPolicy::Ignore => HoldCheck::Off,
    };
    if let HoldCheck::Unreadable { error, .. } = &hold {
        notes.push(format!("hold record not read: {error}"));
    }
    let mut checked = Checked::new(master.clone(), obs.monitor, from, obs.consul, decision, &s.policy, notes);
    checked.hold = hold;
    let report = Report::Checked(Box::new(checked));
    report.log(log);
    report
}

/// Reads the hold record within what is left of the budget (at least a moment, so a run that
/// spent its budget on a frozen master still asks). The dead streak is counted and stored
/// whatever it says, so the first run after the hold ends fails over at once if the master is
/// still dead.
fn read_hold(s: &Settings, deadline: Instant) -> HoldCheck {
    let name = s.master_node.clone();
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(300));
    let config = s.hold_consul.clone().with_timeout(left).with_deadline(Instant::now() + left);
    let read = consul::Client::new(&config).and_then(|client| crate::hold::read(&client, &name));
    match read {
        Ok(holds) => match holds.describe(SystemTime::now()) {
            Some(line) => HoldCheck::Held { name, line },
            None => HoldCheck::Off,
        },
        Err(e) => HoldCheck::Unreadable { name, error: e.to_string() },
    }
}

/// A run that could not start (bad arguments or settings): logged, and no failover.
pub fn refuse(problem: impl std::fmt::Display, log: &mut ActionLog) -> Report {
    let report = Report::Refused { problem: problem.to_string() };
    report.log(log);
    report
}

/// The replicas to ask and where the list came from: the configured list; else the master's
/// own list, read this run; else the list recorded the last time the master answered; else the
/// Consul replica service.
fn replica_targets(
    s: &Settings,
    learned: Option<&[HostPort]>,
    prev: &state::State,
    consul: Option<&Result<consul::Client, String>>,
    notes: &mut Vec<String>,
) -> (Vec<HostPort>, Source) {
    if !s.replicas.is_empty() {
        return (dedup(s.replicas.clone()), Source::Config);
    }
    if let Some(list) = learned.filter(|l| !l.is_empty()) {
        return (dedup(list.to_vec()), Source::Master);
    }
    if !prev.topology.is_empty() {
        return (dedup(prev.topology.clone()), Source::Recorded);
    }
    if let (Some(service), Some(client)) = (&s.replica_service, consul) {
        match client.as_ref().map_err(Clone::clone).and_then(|c| observe::consul_replicas(c, service)) {
            Ok(list) if !list.is_empty() => return (dedup(list), Source::Consul),
            Ok(_) => notes.push(format!("consul service {service:?} has no instances")),
            Err(e) => notes.push(format!("cannot list consul service {service:?}: {e}")),
        }
    }
    (Vec::new(), Source::None)
}

fn dedup(mut list: Vec<HostPort>) -> Vec<HostPort> {
    let mut seen = std::collections::BTreeSet::new();
    list.retain(|hp| seen.insert(hp.clone()));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> ConfigFile {
        ConfigFile::parse("/etc/sengu/sengu.toml".into(), text).unwrap()
    }

    fn resolve(over: Args, text: &str) -> Result<Settings, SetupError> {
        Settings::resolve(&over, &CommonArgs::default(), &ConsulArgs::default(), &config(text))
    }

    #[test]
    fn defaults_apply_without_a_table() {
        let s = resolve(Args::default(), "").unwrap();
        assert_eq!(s.policy, Policy { confirm_runs: 2, fail_after: Duration::ZERO, max_silence: None, when_no_replicas: WhenNoReplicas::NoFailover });
        assert_eq!(s.state_dir, PathBuf::from("/var/lib/sengu/mysql-fail-check"));
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert!(s.consul.is_none() && s.replicas.is_empty());
    }

    #[test]
    fn the_table_is_read_and_flags_beat_it() {
        let text = r#"
[mysql-fail-check]
replicas = ["10.0.0.12:3306", "10.0.0.13:3306"]
master_aliases = ["db-master:3306"]
confirm_runs = 3
fail_after = "30s"
max_silence = "20s"
when_no_replicas = "consul"
state_dir = "/tmp/x"
consul_node = "db1"
timeout = "4s"

[mysql]
user = "monitor"
"#;
        let s = resolve(Args::default(), text).unwrap();
        assert_eq!(s.replicas.len(), 2);
        assert_eq!(s.master_aliases, vec!["db-master:3306".parse().unwrap()]);
        assert_eq!((s.policy.confirm_runs, s.policy.fail_after), (3, Duration::from_secs(30)));
        assert_eq!((s.policy.max_silence, s.policy.when_no_replicas), (Some(Duration::from_secs(20)), WhenNoReplicas::Consul));
        assert_eq!((s.timeout, s.credentials.user.as_str()), (Duration::from_secs(4), "monitor"));
        assert!(s.consul.is_some(), "a consul node needs a client");
        let over = Args { confirm_runs: Some(1), replicas: vec!["10.0.0.99:3306".parse().unwrap()], ..Args::default() };
        let s = resolve(over, text).unwrap();
        assert_eq!((s.policy.confirm_runs, s.replicas.len()), (1, 1));
    }

    #[test]
    fn bad_values_are_setup_errors() {
        let e = resolve(Args::default(), "[mysql-fail-check]\nreplicas = [\"h:x\"]\n").unwrap_err();
        assert!(e.to_string().contains("invalid value for \"replicas[0]\" in [mysql-fail-check]"), "{e}");
        let e = resolve(Args::default(), "[mysql-fail-check]\nconfirm_runs = 0\n").unwrap_err();
        assert_eq!(e.to_string(), "invalid confirm_runs: must be at least 1");
        let e = resolve(Args::default(), "[mysql-fail-check]\nwhen_no_replicas = \"maybe\"\n").unwrap_err();
        assert!(e.to_string().contains("when_no_replicas"), "{e}");
        assert!(resolve(Args::default(), "[mysql-fail-check]\nreplica = []\n").is_err(), "unknown key");
    }

    #[test]
    fn unknown_master_arguments_have_their_own_message() {
        assert!(matches!(master_from_args("UNKNOWN", "UNKNOWN"), Err(SetupError::UnknownMaster)));
        let e = master_from_args("10.0.0.11", "33o6").unwrap_err();
        assert_eq!(e.to_string(), "invalid <OLD_HOST> <OLD_PORT>: invalid port \"33o6\" (expected a number from 1 to 65535)");
        assert_eq!(master_from_args("10.0.0.11", "3306").unwrap().to_string(), "10.0.0.11:3306");
    }
}
