//! The command line of `mysql-fail-check`: the two positional arguments mysqlfailover's
//! `--exec-fail-check` passes (the master's host and port), plus how sure it must be before it
//! says "down". mysqlfailover reads any non-zero exit as "fail over now".

use std::time::Duration;

use clap::{CommandFactory, Parser};

use sengu::addr::HostPort;
use sengu::settings::{parse_duration, positional_endpoint, CommonArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-fail-check",
    version,
    about = "mysqlfailover --exec-fail-check hook: confirm the master is really down, from the replicas' view too, before a failover starts",
    after_help = "\
Called by: mysqlfailover --exec-fail-check=/usr/local/bin/mysql-fail-check, every --interval
(default 15s), with two arguments: OLD_HOST OLD_PORT (the current master). Every other setting
comes from SENGU_* variables or the config file.

Exit codes (mysqlfailover's contract):
  0  the master is up, or not confirmed down: no failover
  2  the master is confirmed down: mysqlfailover fails over at once
Any non-zero exit starts a failover, so bad arguments (exit 2) do too: test the wiring first."
)]
pub struct Cli {
    /// The master's host, as mysqlfailover passes it
    #[arg(value_name = "OLD_HOST")]
    pub old_host: String,
    /// The master's port, as mysqlfailover passes it
    #[arg(value_name = "OLD_PORT")]
    pub old_port: String,
    /// How many consecutive runs must find the master down before confirming [default: 3]
    #[arg(long, env = "SENGU_CONFIRM_RUNS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub confirm_runs: Option<u32>,
    /// How long the master must have been down before confirming, e.g. 30s [default: 0s]
    #[arg(long, env = "SENGU_FAIL_AFTER", value_name = "DURATION", value_parser = parse_duration)]
    pub fail_after: Option<Duration>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Cli {
    /// The master, with the positional address parsed; a malformed one is a usage error.
    pub fn master(&self) -> Result<HostPort, clap::Error> {
        positional_endpoint(&mut Cli::command(), ["OLD_HOST", "OLD_PORT"], &self.old_host, &self.old_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mysql-fail-check").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn two_positionals_are_the_master() {
        assert_eq!(parse(&["10.0.0.1", "3306"]).unwrap().master().unwrap(), "10.0.0.1:3306".parse().unwrap());
        assert!(parse(&["10.0.0.1"]).is_err());
        assert!(parse(&["10.0.0.1", "3306", "x"]).is_err());
    }

    #[test]
    fn a_malformed_port_is_a_usage_error() {
        let e = parse(&["UNKNOWN", "UNKNOWN"]).unwrap().master().unwrap_err();
        assert!(e.to_string().contains("invalid <OLD_HOST> <OLD_PORT>: invalid port \"UNKNOWN\""), "{e}");
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
}
