//! The command line of `mysql-before-exec`: the four positional arguments mysqlfailover's
//! `--exec-before` passes (old host, old port, new host, new port), or the same as two flags.
//!
//! MHA, unlike mysqlfailover, appends `--key=value` options of its own (`--ssh_user`, …); when
//! MHA is supported, options this hook does not know must be ignored rather than refused. For
//! now they are usage errors (exit 2).

use clap::{CommandFactory, Parser};

use sengu::addr::HostPort;
use sengu::settings::{positional_endpoint, CommonArgs, ConsulArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-before-exec",
    version,
    about = "mysqlfailover --exec-before hook: take the old master out of Consul (catalog + KV) so no client writes to it during the move",
    after_help = "\
Called by: mysqlfailover --exec-before=/usr/local/bin/mysql-before-exec (also mysqlrpladmin
switchover), with four arguments: OLD_HOST OLD_PORT NEW_HOST NEW_PORT. mysqlfailover requires
a bare executable path, so every other setting comes from SENGU_* variables or the config file.

Exit codes:
  0  done: the old master is out of Consul
  2  failed: the message says what state Consul was left in (mysqlfailover 1.6.5 only logs it)"
)]
pub struct Cli {
    /// OLD_HOST OLD_PORT NEW_HOST NEW_PORT, as mysqlfailover passes them
    #[arg(
        value_names = ["OLD_HOST", "OLD_PORT", "NEW_HOST", "NEW_PORT"],
        num_args = 4,
        required_unless_present_all = ["old_master", "new_master"],
        conflicts_with_all = ["old_master", "new_master"]
    )]
    pub positional: Vec<String>,
    /// The master being replaced (instead of the positional arguments)
    #[arg(long, value_name = "HOST:PORT", requires = "new_master")]
    pub old_master: Option<HostPort>,
    /// The master taking over (instead of the positional arguments)
    #[arg(long, value_name = "HOST:PORT", requires = "old_master")]
    pub new_master: Option<HostPort>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

/// The old and the new master, however they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub old: HostPort,
    pub new: HostPort,
}

impl Cli {
    /// The move, with positional addresses parsed; a malformed one is a usage error.
    pub fn masters(&self) -> Result<Move, clap::Error> {
        let mut command = Cli::command();
        match (&self.old_master, &self.new_master, self.positional.as_slice()) {
            (Some(old), Some(new), _) => Ok(Move { old: old.clone(), new: new.clone() }),
            (_, _, [old_host, old_port, new_host, new_port]) => Ok(Move {
                old: positional_endpoint(&mut command, ["OLD_HOST", "OLD_PORT"], old_host, old_port)?,
                new: positional_endpoint(&mut command, ["NEW_HOST", "NEW_PORT"], new_host, new_port)?,
            }),
            // clap already refuses every other combination.
            _ => Err(command.error(clap::error::ErrorKind::MissingRequiredArgument, "expected OLD_HOST OLD_PORT NEW_HOST NEW_PORT")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mysql-before-exec").chain(args.iter().copied()))
    }

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn four_positionals_or_two_flags_give_the_same_move() {
        let expected = Move { old: hp("10.0.0.1:3306"), new: hp("10.0.0.2:3306") };
        assert_eq!(parse(&["10.0.0.1", "3306", "10.0.0.2", "3306"]).unwrap().masters().unwrap(), expected);
        assert_eq!(parse(&["--old-master", "10.0.0.1:3306", "--new-master", "10.0.0.2:3306"]).unwrap().masters().unwrap(), expected);
    }

    #[test]
    fn other_counts_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["10.0.0.1", "3306", "10.0.0.2"]).is_err());
        assert!(parse(&["10.0.0.1", "3306", "10.0.0.2", "3306", "x"]).is_err());
        assert!(parse(&["--old-master", "10.0.0.1:3306"]).is_err());
        assert!(parse(&["10.0.0.1", "3306", "10.0.0.2", "3306", "--old-master", "10.0.0.1:3306", "--new-master", "10.0.0.2:3306"]).is_err());
    }

    #[test]
    fn a_malformed_address_is_a_usage_error() {
        let e = parse(&["10.0.0.1", "3306", "10.0.0.2", "UNKNOWN"]).unwrap().masters().unwrap_err();
        assert!(e.to_string().contains("invalid <NEW_HOST> <NEW_PORT>: invalid port \"UNKNOWN\""), "{e}");
        assert!(parse(&["--old-master", "10.0.0.1", "--new-master", "10.0.0.2:3306"]).is_err());
    }
}
