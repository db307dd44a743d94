//! The command line of `mysql-fail-check`: the two positional arguments mysqlfailover's
//! `--exec-fail-check` passes (the master's host and port), plus how sure it must be before it
//! says "down". mysqlfailover reads any non-zero exit as "fail over now".

use clap::Parser;

use sengu::fail_check;
use sengu::settings::{CommonArgs, ConsulArgs, PrintArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-fail-check",
    version,
    about = "mysqlfailover --exec-fail-check hook: confirm the master is really down, from the replicas' view too, before a failover starts",
    after_help = "\
Called by: mysqlfailover --exec-fail-check=/usr/bin/mysql-fail-check, every --interval
(default 15s), with two arguments: OLD_HOST OLD_PORT (the current master). Every other setting
comes from SENGU_* variables or the config file ([mysql-fail-check], [mysql], [log]).

The master is dead only when this monitor cannot reach it AND every replica that answers has
lost its connection to it too, on --confirm-runs consecutive runs and for --fail-after. Even
then there is no failover while manual mode or a post-failover block holds for --master-node
(`sengu-drill manual status`), nor while that record cannot be read (--hold ignore: a monitor
without Consul).

Exit codes (mysqlfailover's contract):
  0  no failover: the master is up, only unreachable from here, not yet confirmed dead, no
     replica could tell (unless --when-no-replicas says otherwise), automatic failover is held
     off (manual mode, a block, or the hold unreadable), or bad input (a CRITICAL line says so,
     in the log too)
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
    #[command(flatten)]
    pub check: fail_check::Args,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use sengu::fail_check::WhenNoReplicas;
    use std::time::Duration;

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
        assert_eq!(cli.check.confirm_runs, Some(2));
        assert_eq!(cli.check.fail_after, Some(Duration::from_secs(45)));
        assert!(parse(&["h", "1", "--confirm-runs", "0"]).is_err());
        assert!(parse(&["h", "1", "--fail-after", "later"]).is_err());
        assert_eq!(parse(&["h", "1"]).unwrap().check.confirm_runs, None, "no clap default: the config file may set it");
    }

    #[test]
    fn replicas_and_aliases_repeat() {
        let cli = parse(&["h", "1", "--replica", "10.0.0.12:3306", "--replica", "10.0.0.13:3306", "--master-alias", "db:3306"]).unwrap();
        assert_eq!(cli.check.replicas.len(), 2);
        assert_eq!(cli.check.master_aliases, vec!["db:3306".parse().unwrap()]);
        assert!(parse(&["h", "1", "--replica", "10.0.0.12"]).is_err(), "a replica needs a port");
    }

    #[test]
    fn the_rule_and_silence_parse() {
        let cli = parse(&["h", "1", "--when-no-replicas", "consul", "--max-silence", "20s", "--consul-node", "db1"]).unwrap();
        assert_eq!(cli.check.when_no_replicas, Some(WhenNoReplicas::Consul));
        assert_eq!(cli.check.max_silence, Some(Duration::from_secs(20)));
        assert_eq!(cli.check.consul_node.as_deref(), Some("db1"));
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
            ("master_node", "SENGU_MASTER_NODE"),
            ("hold", "SENGU_HOLD"),
            ("mysql_defaults_file", "SENGU_MYSQL_DEFAULTS_FILE"),
            ("mysql_user", "SENGU_MYSQL_USER"),
        ] {
            assert_eq!(env(id).as_deref(), Some(var), "{id}");
        }
    }
}
