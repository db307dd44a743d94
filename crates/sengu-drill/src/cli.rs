//! The command line of `sengu-drill`: three subcommands over the flag groups the library
//! defines (`sengu::drill::settings`), plus the flags every sengu binary takes.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use sengu::drill::settings::{MysqlDrillArgs, RedisArgs};
use sengu::hold::manual::ManualArgs;
use sengu::settings::{CommonArgs, ConsulArgs, PrintArgs};

/// Time budget of `history` when `--timeout` does not set one.
pub const HISTORY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(
    name = "sengu-drill",
    version,
    about = "Switch the active database side on purpose, with probes through DNS, and report what clients felt",
    after_help = "\
Run by: an operator or a timer, in normal times, so that failover is known to work.

Each drill checks first that a switch is safe and refuses to start otherwise. While it
switches, a probe writes a unique sequence number through the DNS name every probe interval,
a reader reads, and a sampler asks DNS for the master name every 5 ms. The report gives a
timeline, the write-unavailable window, the DNS convergence time, the acknowledged writes
lost (must be 0) and whether DNS ever named two masters (must be never). Reports are stored
in Consul KV under sengu/drills/<service>/ unless --no-history.

Both drills refuse to start while manual mode is on or a post-failover block holds for their
name (the Redis service, the MySQL master node) unless --despite-hold: that is the documented
way for a person to make the one-shot switch with automatic failover off.

  sengu-drill manual on --name NAME --reason TEXT [--for DURATION]   automatic failover off
  sengu-drill manual off --name NAME                                  on again (also ends a block)
  sengu-drill manual status [--name NAME]                             what holds, and since when

Exit codes:
  0  every round passed every invariant (history: listed; manual: done or shown)
  1  a round broke an invariant or aborted; the report says what state was left (manual:
     Consul could not be read or written; the message says what changed)
  2  refused to start (a pre-check failed, manual mode or a block holds, nothing was changed),
     or bad input"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A planned switchover through Sentinel: pause writes, wait for the replica, SENTINEL
    /// FAILOVER, publish the new master in Consul at once, demote the old one
    Redis(RedisArgs),
    /// Run a switchover command (e.g. mysqlrpladmin switchover), or without one switch a MariaDB GTID pair natively, with the same probes and report
    Mysql(MysqlDrillArgs),
    /// List the drills stored in Consul KV
    History(HistoryArgs),
    /// Manual mode: turn automatic failover off or on for a name, or show it and the post-failover block
    Manual(ManualArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Only the drills of this service (or node)
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Show at most the last N drills
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use sengu::hold::manual::Action;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sengu-drill").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn redis_needs_a_sentinel_and_a_service() {
        assert!(parse(&["redis", "--service", "redis"]).is_err());
        assert!(parse(&["redis", "--sentinel", "127.0.0.1:26379"]).is_err());
        let cli = parse(&["redis", "--sentinel", "127.0.0.1:26379", "--sentinel", "127.0.0.2:26379", "--service", "redis", "--rounds", "3"]).unwrap();
        let Command::Redis(r) = cli.command else { panic!("not redis") };
        assert_eq!((r.sentinels.len(), r.rounds, r.keep_going), (2, Some(3), false));
        let cli = parse(&["redis", "--sentinel", "127.0.0.1:26379", "--service", "redis", "--keep-going"]).unwrap();
        let Command::Redis(r) = cli.command else { panic!("not redis") };
        assert!(r.keep_going);
    }

    #[test]
    fn rounds_must_be_positive() {
        assert!(parse(&["redis", "--sentinel", "127.0.0.1:26379", "--service", "redis", "--rounds", "0"]).is_err());
    }

    #[test]
    fn durations_and_formats_parse_after_the_subcommand() {
        let cli = parse(&["redis", "--sentinel", "127.0.0.1:26379", "--service", "redis", "--probe-interval", "5ms", "--format", "json"]).unwrap();
        let Command::Redis(r) = &cli.command else { panic!("not redis") };
        assert_eq!(r.probes.probe_interval, Some(Duration::from_millis(5)));
        assert_eq!(cli.common.format(), sengu::check::Format::Json);
        assert!(parse(&["redis", "--sentinel", "127.0.0.1:26379", "--service", "redis", "--probe-interval", "soon"]).is_err());
    }

    #[test]
    fn mysql_takes_the_switchover_command_last() {
        let cli = parse(&["mysql", "--node", "foo-db-master", "--switchover-cmd", "/bin/switch", "--to", "b"]).unwrap();
        let Command::Mysql(m) = cli.command else { panic!("not mysql") };
        assert_eq!(m.switchover_cmd, ["/bin/switch", "--to", "b"]);
        assert!(parse(&["mysql", "--node", "foo-db-master"]).is_ok(), "without a command: the native switchover");
    }

    #[test]
    fn mysql_without_a_command_is_the_native_switchover() {
        let cli = parse(&["mysql", "--node", "foo-db-master", "--server", "127.0.0.21:3306", "--server", "127.0.0.22:3306", "--rounds", "4", "--to", "127.0.0.22:3306"]).unwrap();
        let Command::Mysql(m) = cli.command else { panic!("not mysql") };
        assert!(m.switchover_cmd.is_empty());
        assert_eq!((m.rounds, m.to.map(|t| t.to_string())), (Some(4), Some("127.0.0.22:3306".to_string())));
        assert!(parse(&["mysql", "--node", "n", "--rounds", "2", "--switchover-cmd", "x"]).is_err(), "--rounds is the native switchover's");
        assert!(parse(&["mysql", "--node", "n", "--despite-hold"]).is_ok());
    }

    #[test]
    fn manual_takes_an_action_a_name_a_reason_and_a_duration() {
        let cli = parse(&["manual", "on", "--name", "redis", "--reason", "migrating", "--for", "2h"]).unwrap();
        let Command::Manual(m) = cli.command else { panic!("not manual") };
        assert_eq!((m.action, m.name.as_deref(), m.reason.as_deref()), (Action::On, Some("redis"), Some("migrating")));
        assert_eq!(m.lasts, Some(Duration::from_secs(7200)));
        assert!(parse(&["manual", "maybe", "--name", "redis"]).is_err());
        assert!(parse(&["manual", "on", "--name", "redis", "--for", "0s"]).is_err());
        assert!(parse(&["manual", "status"]).is_ok());
    }

    #[test]
    fn history_filters_by_service() {
        let cli = parse(&["history", "--service", "redis", "--limit", "5"]).unwrap();
        let Command::History(h) = cli.command else { panic!("not history") };
        assert_eq!((h.service.as_deref(), h.limit), (Some("redis"), 5));
    }
}
