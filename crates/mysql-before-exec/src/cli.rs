//! The command line of `mysql-before-exec`: the four positional arguments mysqlfailover's
//! `--exec-before` passes (old host, old port, new host, new port), or the same as two flags.
//!
//! MHA, unlike mysqlfailover, appends `--key=value` options of its own (`--ssh_user`, …); those
//! are usage errors (exit 2) here: MHA runs `mysql-mha-script`.


use clap::{CommandFactory, Parser};

use sengu::addr::HostPort;
use sengu::mysql_hooks::{BeforeArgs, HookArgs, HookFlags, Masters};
use sengu::settings::{CommonArgs, ConsulArgs, PrintArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-before-exec",
    version,
    about = "mysqlfailover --exec-before hook: take the old master out of Consul (catalog + KV) so no client writes to it during the move",
    after_help = "\
Called by: mysqlfailover --exec-before=/usr/bin/mysql-before-exec (also mysqlrpladmin
switchover), with four arguments: OLD_HOST OLD_PORT NEW_HOST NEW_PORT (OLD_HOST OLD_PORT may be
UNKNOWN UNKNOWN). mysqlfailover requires a bare executable path, so every other setting comes
from SENGU_* / CONSUL_* variables or the config file ([mysql-hooks], [mysql], [consul], [log]).

In one Consul transaction it removes the master node (and its services) and the KV key, and
records the move for mysql-after-exec; a record that already names the new master, when that is
a writable master, is kept. Then, with --fence-old-master, it sets read_only on the old master
if it answers (MariaDB has no super_read_only: users with READ_ONLY ADMIN still write).

Exit codes:
  0  done: Consul holds no record of the old master (fencing problems are reported, not fatal)
  1  Consul unreachable, kept changing or lost its reply: the message says what it holds; retry is safe
  2  bad arguments or settings: nothing touched
  4  Consul refused (ACL denied, TLS, rejected request): fix the token or settings
mysqlfailover 1.6.5 only logs the code; <= 1.6.4 aborts the failover when it is >= --script-threshold."
)]
pub struct Cli {
    /// OLD_HOST OLD_PORT NEW_HOST NEW_PORT, as mysqlfailover passes them
    #[arg(
        value_names = ["OLD_HOST", "OLD_PORT", "NEW_HOST", "NEW_PORT"],
        allow_negative_numbers = true,
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
    pub own: BeforeArgs,
    #[command(flatten)]
    pub hook: HookArgs,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

impl Cli {
    /// The move, with positional addresses parsed. A malformed address, or the same server as
    /// old and new master, is a usage error; `UNKNOWN UNKNOWN` is an unknown old master.
    pub fn masters(&self) -> Result<Masters, clap::Error> {
        let mut command = Cli::command();
        match (&self.old_master, &self.new_master, self.positional.as_slice()) {
            (Some(old), Some(new), _) => Masters { old: Some(old.clone()), new: new.clone() }.distinct(&mut command),
            (_, _, [old_host, old_port, new_host, new_port]) => {
                Masters::from_positionals(&mut command, Some([old_host, old_port]), [new_host, new_port])
            }
            // clap already refuses every other combination.
            _ => Err(command.error(clap::error::ErrorKind::MissingRequiredArgument, "expected OLD_HOST OLD_PORT NEW_HOST NEW_PORT")),
        }
    }

    /// The flags only this hook has.
    pub fn flags(&self) -> HookFlags {
        HookFlags { before: self.own.clone(), ..HookFlags::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let expected = Masters { old: Some(hp("10.0.0.1:3306")), new: hp("10.0.0.2:3306") };
        assert_eq!(parse(&["10.0.0.1", "3306", "10.0.0.2", "3306"]).unwrap().masters().unwrap(), expected);
        assert_eq!(parse(&["--old-master", "10.0.0.1:3306", "--new-master", "10.0.0.2:3306"]).unwrap().masters().unwrap(), expected);
    }

    #[test]
    fn an_unknown_old_master_is_accepted_as_mysqlfailover_spells_it() {
        let masters = parse(&["UNKNOWN", "UNKNOWN", "10.0.0.2", "3306"]).unwrap().masters().unwrap();
        assert_eq!(masters, Masters { old: None, new: hp("10.0.0.2:3306") });
        assert!(parse(&["10.0.0.1", "UNKNOWN", "10.0.0.2", "3306"]).unwrap().masters().is_err());
        assert!(parse(&["10.0.0.1", "3306", "UNKNOWN", "UNKNOWN"]).unwrap().masters().is_err());
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

    #[test]
    fn the_same_server_as_old_and_new_is_a_usage_error() {
        let e = parse(&["10.0.0.1", "3306", "10.0.0.1", "3306"]).unwrap().masters().unwrap_err();
        assert!(e.to_string().contains("the old and the new master are the same server (10.0.0.1:3306)"), "{e}");
        assert!(parse(&["10.0.0.1", "3306", "10.0.0.1", "3307"]).unwrap().masters().is_ok(), "two ports are two servers");
    }

    #[test]
    fn fencing_flags_parse() {
        let cli = parse(&["a", "1", "b", "2", "--fence-old-master", "--fence-timeout", "500ms"]).unwrap();
        let before = BeforeArgs { fence_old_master: Some(true), fence_timeout: Some(Duration::from_millis(500)) };
        assert_eq!(cli.flags(), HookFlags { before, ..HookFlags::default() });
        let off = parse(&["a", "1", "b", "2", "--fence-old-master=false"]).unwrap();
        assert_eq!(off.flags().before.fence_old_master, Some(false), "a false flag beats the file");
        assert_eq!(parse(&["a", "1", "b", "2"]).unwrap().flags(), HookFlags::default());
        assert!(parse(&["a", "1", "b", "2", "--fence-timeout", "0s"]).is_err());
    }

    #[test]
    fn shared_hook_flags_parse() {
        let cli = parse(&["a", "1", "b", "2", "--master-node", "db-master", "--kv-key", "svc/db", "--service", "mysql", "--mysql-timeout", "1s"]).unwrap();
        assert_eq!(cli.hook.master_node.as_deref(), Some("db-master"));
        assert_eq!(cli.hook.kv_key.as_deref(), Some("svc/db"));
        assert_eq!(cli.hook.service.as_deref(), Some("mysql"));
        assert_eq!(cli.hook.mysql_timeout, Some(Duration::from_secs(1)));
        assert_eq!(parse(&["a", "1", "b", "2"]).unwrap().hook.master_node, None, "no clap default: the config file may set it");
    }

    #[test]
    fn every_hook_flag_reads_its_environment_variable() {
        let command = Cli::command();
        let env = |id: &str| command.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned());
        for (id, var) in [
            ("fence_old_master", "SENGU_FENCE_OLD_MASTER"),
            ("fence_timeout", "SENGU_FENCE_TIMEOUT"),
            ("master_node", "SENGU_MASTER_NODE"),
            ("replica_node", "SENGU_REPLICA_NODE"),
            ("kv_key", "SENGU_KV_KEY"),
            ("service", "SENGU_SERVICE"),
            ("mysql_defaults_file", "SENGU_MYSQL_DEFAULTS_FILE"),
            ("mysql_user", "SENGU_MYSQL_USER"),
            ("mysql_timeout", "SENGU_MYSQL_TIMEOUT"),
        ] {
            assert_eq!(env(id).as_deref(), Some(var), "{id}");
        }
    }
}
