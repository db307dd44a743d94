//! The command line of `mysql-after-exec`: mysqlfailover's `--exec-after` passes four positional
//! arguments after a failover (old host, old port, new host, new port) but only two after a
//! mysqlrpladmin switchover (new host, new port), so both counts are accepted; or the same as
//! flags. Like the other MySQL hooks, MHA's extra `--options` must become ignorable once MHA is
//! supported; for now they are usage errors.

use clap::{CommandFactory, Parser, ValueEnum};

use sengu::addr::HostPort;
use sengu::settings::{positional_endpoint, CommonArgs, ConsulArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-after-exec",
    version,
    about = "mysqlfailover --exec-after hook: verify the new master is really writable, then publish it in Consul (catalog + KV)",
    after_help = "\
Called by: mysqlfailover --exec-after=/usr/local/bin/mysql-after-exec, with four arguments after
a failover (OLD_HOST OLD_PORT NEW_HOST NEW_PORT) and two after a mysqlrpladmin switchover
(NEW_HOST NEW_PORT). Every other setting comes from SENGU_* variables or the config file.

Exit codes:
  0  done: the new master is writable and published in Consul
  2  failed: the message says what state Consul was left in (mysqlfailover 1.6.5 only logs it)"
)]
pub struct Cli {
    /// NEW_HOST NEW_PORT (switchover) or OLD_HOST OLD_PORT NEW_HOST NEW_PORT (failover)
    #[arg(
        value_names = ["OLD_HOST", "OLD_PORT", "NEW_HOST", "NEW_PORT"],
        num_args = 2..=4,
        required_unless_present = "new_master",
        conflicts_with_all = ["old_master", "new_master"]
    )]
    pub positional: Vec<String>,
    /// The master that was replaced, if known (instead of the positional arguments)
    #[arg(long, value_name = "HOST:PORT", requires = "new_master")]
    pub old_master: Option<HostPort>,
    /// The master that took over (instead of the positional arguments)
    #[arg(long, value_name = "HOST:PORT")]
    pub new_master: Option<HostPort>,
    /// Turn read_only off on the new master if it is still on, instead of failing
    #[arg(long, env = "SENGU_MAKE_WRITABLE", value_parser = clap::builder::BoolishValueParser::new())]
    pub make_writable: bool,
    /// How the master's address is written to Consul KV [default: plain]
    #[arg(long, env = "SENGU_KV_FORMAT", value_enum, value_name = "FORMAT")]
    pub kv_format: Option<KvFormat>,
    /// Wait until this DNS server (Consul's) answers with the new master before returning
    #[arg(long, env = "SENGU_WAIT_DNS", value_name = "IP:PORT")]
    pub wait_dns: Option<HostPort>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

/// How the master's address is stored in Consul KV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KvFormat {
    /// `host:port`, as orchestrator writes it.
    Plain,
    /// `{"host": …, "port": …}`.
    Json,
}

/// The masters after the move: the old one is unknown after a switchover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub old: Option<HostPort>,
    pub new: HostPort,
}

impl Cli {
    /// The move, with positional addresses parsed; three positionals or a malformed address
    /// is a usage error.
    pub fn masters(&self) -> Result<Move, clap::Error> {
        let mut command = Cli::command();
        let new = |command: &mut clap::Command, host: &str, port: &str| positional_endpoint(command, ["NEW_HOST", "NEW_PORT"], host, port);
        match (&self.old_master, &self.new_master, self.positional.as_slice()) {
            (old, Some(new), _) => Ok(Move { old: old.clone(), new: new.clone() }),
            (_, _, [new_host, new_port]) => Ok(Move { old: None, new: new(&mut command, new_host, new_port)? }),
            (_, _, [old_host, old_port, new_host, new_port]) => Ok(Move {
                old: Some(positional_endpoint(&mut command, ["OLD_HOST", "OLD_PORT"], old_host, old_port)?),
                new: new(&mut command, new_host, new_port)?,
            }),
            (_, _, args) => Err(command.error(
                clap::error::ErrorKind::WrongNumberOfValues,
                format!("expected NEW_HOST NEW_PORT (switchover) or OLD_HOST OLD_PORT NEW_HOST NEW_PORT (failover), got {} arguments", args.len()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mysql-after-exec").chain(args.iter().copied()))
    }

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn four_positionals_are_a_failover() {
        let moved = parse(&["10.0.0.1", "3306", "10.0.0.2", "3307"]).unwrap().masters().unwrap();
        assert_eq!(moved, Move { old: Some(hp("10.0.0.1:3306")), new: hp("10.0.0.2:3307") });
    }

    #[test]
    fn two_positionals_are_a_switchover_to_the_new_master() {
        let moved = parse(&["10.0.0.2", "3307"]).unwrap().masters().unwrap();
        assert_eq!(moved, Move { old: None, new: hp("10.0.0.2:3307") });
    }

    #[test]
    fn flags_give_the_same_moves() {
        let moved = parse(&["--new-master", "10.0.0.2:3307"]).unwrap().masters().unwrap();
        assert_eq!(moved, Move { old: None, new: hp("10.0.0.2:3307") });
        let moved = parse(&["--old-master", "10.0.0.1:3306", "--new-master", "10.0.0.2:3307"]).unwrap().masters().unwrap();
        assert_eq!(moved.old, Some(hp("10.0.0.1:3306")));
        assert!(parse(&["--old-master", "10.0.0.1:3306"]).is_err());
    }

    #[test]
    fn one_three_or_five_positionals_are_refused() {
        assert!(parse(&["10.0.0.2"]).is_err());
        let e = parse(&["10.0.0.1", "3306", "10.0.0.2"]).unwrap().masters().unwrap_err();
        assert!(e.to_string().contains("got 3 arguments"), "{e}");
        assert!(parse(&["a", "1", "b", "2", "c"]).is_err());
    }

    #[test]
    fn options_parse() {
        let cli = parse(&["10.0.0.2", "3307", "--make-writable", "--kv-format", "json", "--wait-dns", "127.0.0.1:8600"]).unwrap();
        assert!(cli.make_writable);
        assert_eq!(cli.kv_format, Some(KvFormat::Json));
        assert_eq!(cli.wait_dns, Some(hp("127.0.0.1:8600")));
        assert_eq!(parse(&["10.0.0.2", "3307"]).unwrap().kv_format, None, "no clap default: the config file may set it");
        assert!(parse(&["10.0.0.2", "3307", "--kv-format", "yaml"]).is_err());
        assert!(parse(&["10.0.0.2", "3307", "--wait-dns", "127.0.0.1"]).is_err());
    }
}
