//! The command line of `mysql-fail-check`: the two positional arguments mysqlfailover's
//! `--exec-fail-check` passes (the master's host and port), plus how sure it must be before it
//! says "down". mysqlfailover reads any non-zero exit as "fail over now".

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use sengu::addr::HostPort;
use sengu::fail_check::{Overrides, WhenNoReplicas};
use sengu::mysql::MysqlArgs;
use sengu::settings::{parse_duration, CommonArgs, ConsulArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-fail-check",
    version,
    about = "mysqlfailover --exec-fail-check hook: confirm the master is really down, from the replicas' view too, before a failover starts",
    after_help = "\
Called by: mysqlfailover --exec-fail-check=/usr/local/bin/mysql-fail-check, every --interval
(default 15s), with two arguments: OLD_HOST OLD_PORT (the current master). Every other setting
comes from SENGU_* variables or the config file ([mysql-fail-check], [mysql], [log]).

The master is dead only when this monitor cannot reach it AND every replica that answers has
lost its connection to it too, on --confirm-runs consecutive runs and for --fail-after.

Exit codes (mysqlfailover's contract):
  0  no failover: the master is up, only unreachable from here, not yet confirmed dead, no
     replica could tell (unless --when-no-replicas says otherwise), or bad input (a CRITICAL
     line says so, in the log too)
  2  the master is confirmed dead: mysqlfailover fails over at once
Any non-zero exit starts a failover, so bad input never gives one; a crash by signal still would."
)]
pub struct Cli {
    /// The master's host, as mysqlfailover passes it
    #[arg(value_name = "OLD_HOST")]
    pub old_host: String,
    /// The master's port, as mysqlfailover passes it
    #[arg(value_name = "OLD_PORT")]
    pub old_port: String,
    /// How many consecutive runs must find the master dead before a failover [default: 2]
    #[arg(long, env = "SENGU_CONFIRM_RUNS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub confirm_runs: Option<u32>,
    /// How long the master must have been found dead before a failover, e.g. 30s [default: 0s]
    #[arg(long, env = "SENGU_FAIL_AFTER", value_name = "DURATION", value_parser = parse_duration)]
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
    #[arg(long, env = "SENGU_MAX_SILENCE", value_name = "DURATION", value_parser = parse_duration)]
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
    #[command(flatten)]
    pub mysql: MysqlArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

impl Cli {
    /// The values given as flags or environment variables, for the library to merge.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            confirm_runs: self.confirm_runs,
            fail_after: self.fail_after,
            max_silence: self.max_silence,
            when_no_replicas: self.when_no_replicas,
            replicas: self.replicas.clone(),
            master_aliases: self.master_aliases.clone(),
            state_dir: self.state_dir.clone(),
            consul_node: self.consul_node.clone(),
            replica_service: self.replica_service.clone(),
            mysql: self.mysql.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mysql-fail-check").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn two_positionals_are_the_master() {
        let cli = parse(&["10.0.0.1", "3306"]).unwrap();
        assert_eq!((cli.old_host.as_str(), cli.old_port.as_str()), ("10.0.0.1", "3306"));
        assert!(parse(&["10.0.0.1"]).is_err());
        assert!(parse(&["10.0.0.1", "3306", "x"]).is_err());
        // UNKNOWN is read as text; the library refuses it with its own message.
        assert!(parse(&["UNKNOWN", "UNKNOWN"]).is_ok());
    }

    #[test]
    fn confirmation_settings_parse() {
        let cli = parse(&["h", "1", "--confirm-runs", "2", "--fail-after", "45s"]).unwrap();
        assert_eq!(cli.confirm_runs, Some(2));
        assert_eq!(cli.fail_after, Some(Duration::from_secs(45)));
        assert!(parse(&["h", "1", "--confirm-runs", "0"]).is_err());
        assert!(parse(&["h", "1", "--fail-after", "later"]).is_err());
        assert_eq!(parse(&["h", "1"]).unwrap().confirm_runs, None, "no clap default: the config file may set it");
    }

    #[test]
    fn replicas_and_aliases_repeat() {
        let cli = parse(&["h", "1", "--replica", "10.0.0.12:3306", "--replica", "10.0.0.13:3306", "--master-alias", "db:3306"]).unwrap();
        assert_eq!(cli.overrides().replicas.len(), 2);
        assert_eq!(cli.overrides().master_aliases, vec!["db:3306".parse().unwrap()]);
        assert!(parse(&["h", "1", "--replica", "10.0.0.12"]).is_err(), "a replica needs a port");
    }

    #[test]
    fn the_rule_and_silence_parse() {
        let cli = parse(&["h", "1", "--when-no-replicas", "consul", "--max-silence", "20s", "--consul-node", "db1"]).unwrap();
        assert_eq!(cli.when_no_replicas, Some(WhenNoReplicas::Consul));
        assert_eq!(cli.max_silence, Some(Duration::from_secs(20)));
        assert_eq!(cli.consul_node.as_deref(), Some("db1"));
        assert!(parse(&["h", "1", "--when-no-replicas", "maybe"]).is_err());
        for rule in ["no-failover", "failover"] {
            assert!(parse(&["h", "1", "--when-no-replicas", rule]).is_ok(), "{rule}");
        }
    }

    #[test]
    fn every_flag_has_its_environment_variable() {
        let command = Cli::command();
        let env = |id: &str| command.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned());
        for (id, var) in [
            ("confirm_runs", "SENGU_CONFIRM_RUNS"),
            ("fail_after", "SENGU_FAIL_AFTER"),
            ("replicas", "SENGU_REPLICAS"),
            ("master_aliases", "SENGU_MASTER_ALIASES"),
            ("max_silence", "SENGU_MAX_SILENCE"),
            ("when_no_replicas", "SENGU_WHEN_NO_REPLICAS"),
            ("state_dir", "SENGU_STATE_DIR"),
            ("consul_node", "SENGU_CONSUL_NODE"),
            ("replica_service", "SENGU_REPLICA_SERVICE"),
            ("mysql_defaults_file", "SENGU_MYSQL_DEFAULTS_FILE"),
            ("mysql_user", "SENGU_MYSQL_USER"),
        ] {
            assert_eq!(env(id).as_deref(), Some(var), "{id}");
        }
    }
}
