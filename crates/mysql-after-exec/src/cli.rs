//! The command line of `mysql-after-exec`: mysqlfailover's `--exec-after` passes four positional
//! arguments after a failover (old host, old port, new host, new port) but only two after a
//! mysqlrpladmin switchover (new host, new port), so both counts are accepted; or the same as
//! flags. MHA calls its scripts with `--options` of its own: MHA runs `mysql-mha-script`.


use clap::{CommandFactory, Parser};

use sengu::addr::HostPort;
use sengu::mysql_hooks::{AfterArgs, HookArgs, HookFlags, Masters};
use sengu::settings::{CommonArgs, ConsulArgs, PrintArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-after-exec",
    version,
    about = "mysqlfailover --exec-after hook: verify the new master is really writable, then publish it in Consul (catalog + KV)",
    after_help = "\
Called by: mysqlfailover --exec-after=/usr/bin/mysql-after-exec, with four arguments after
a failover (OLD_HOST OLD_PORT NEW_HOST NEW_PORT) and two after a mysqlrpladmin switchover
(NEW_HOST NEW_PORT; the old master then comes from the move mysql-before-exec recorded). Every
other setting comes from SENGU_* / CONSUL_* variables or the config file ([mysql-hooks], [mysql],
[consul], [log]).

It first verifies the new master: reachable, no replication thread running, read_only off (with
--make-writable it turns read_only off). Only then, in one Consul transaction, it points the
master node (and service) and the KV key at it (compare-and-set against what it read), points
the replica node at the old master if that now replicates from the new one (else removes it if
it names the new or old master), and clears the move record. A rejected new master is not
published, and records naming it or the old master are removed.

After a failover (four arguments, or --old-master), once the new master is published, it blocks
further automatic failovers of this master for --block-after-failover (default 1h, 0s: never),
in the hold record sengu/hold/<master node>; `sengu-drill manual off --name NODE` clears it.
Manual mode and the block never stop this hook; it shows them as a detail line.

Exit codes:
  0  done: Consul names the new master (also when it already did)
  1  Consul unreachable, kept changing or lost its reply: the message says what it holds; retry is safe
  2  bad arguments or settings: nothing touched
  3  the new master failed verification: shown not writable, Consul holds no master record rather
     than a wrong one; only not verifiable (unreachable, access denied), a record naming it stays
  4  Consul refused (ACL denied, TLS, rejected request): fix the token or settings
  5  Consul names another server that is a writable master too: left as is, a person decides
  6  published, but --wait-dns did not see the new address in time
mysqlfailover 1.6.5 only logs the code; <= 1.6.4 aborts the failover when it is >= --script-threshold."
)]
pub struct Cli {
    /// NEW_HOST NEW_PORT (switchover) or OLD_HOST OLD_PORT NEW_HOST NEW_PORT (failover)
    #[arg(
        value_names = ["OLD_HOST", "OLD_PORT", "NEW_HOST", "NEW_PORT"],
        allow_negative_numbers = true,
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
    #[command(flatten)]
    pub own: AfterArgs,
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
    /// The move, with positional addresses parsed; three positionals, a malformed address or
    /// the same server as old and new master is a usage error. `UNKNOWN UNKNOWN` as the old
    /// master means it is not known.
    pub fn masters(&self) -> Result<Masters, clap::Error> {
        let mut command = Cli::command();
        match (&self.old_master, &self.new_master, self.positional.as_slice()) {
            (old, Some(new), _) => Masters { old: old.clone(), new: new.clone() }.distinct(&mut command),
            (_, _, [new_host, new_port]) => Masters::from_positionals(&mut command, None, [new_host, new_port]),
            (_, _, [old_host, old_port, new_host, new_port]) => {
                Masters::from_positionals(&mut command, Some([old_host, old_port]), [new_host, new_port])
            }
            (_, _, args) => Err(command.error(
                clap::error::ErrorKind::WrongNumberOfValues,
                format!("expected NEW_HOST NEW_PORT (switchover) or OLD_HOST OLD_PORT NEW_HOST NEW_PORT (failover), got {} arguments", args.len()),
            )),
        }
    }

    /// A failover, not a switchover: four positional arguments (mysqlfailover after a
    /// failover) or `--old-master` (orchestrator's `PostMasterFailoverProcesses` line). Only a
    /// failover writes the post-failover block.
    pub fn is_failover(&self) -> bool {
        self.positional.len() == 4 || self.old_master.is_some()
    }

    /// The flags only this hook has.
    pub fn flags(&self) -> HookFlags {
        HookFlags { after: self.own.clone(), ..HookFlags::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sengu::mysql_hooks::KvFormat;
    use std::time::Duration;

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
        assert_eq!(moved, Masters { old: Some(hp("10.0.0.1:3306")), new: hp("10.0.0.2:3307") });
        let unknown = parse(&["UNKNOWN", "UNKNOWN", "10.0.0.2", "3307"]).unwrap().masters().unwrap();
        assert_eq!(unknown, Masters { old: None, new: hp("10.0.0.2:3307") });
    }

    #[test]
    fn four_positionals_or_an_old_master_flag_are_a_failover_that_blocks() {
        assert!(parse(&["10.0.0.1", "3306", "10.0.0.2", "3307"]).unwrap().is_failover());
        assert!(parse(&["--old-master", "10.0.0.1:3306", "--new-master", "10.0.0.2:3307"]).unwrap().is_failover());
        assert!(!parse(&["10.0.0.2", "3307"]).unwrap().is_failover(), "mysqlrpladmin's switchover");
        assert!(!parse(&["--new-master", "10.0.0.2:3307"]).unwrap().is_failover());
    }

    #[test]
    fn two_positionals_are_a_switchover_to_the_new_master() {
        let moved = parse(&["10.0.0.2", "3307"]).unwrap().masters().unwrap();
        assert_eq!(moved, Masters { old: None, new: hp("10.0.0.2:3307") });
        assert!(parse(&["UNKNOWN", "UNKNOWN"]).unwrap().masters().is_err(), "the new master must be known");
    }

    #[test]
    fn flags_give_the_same_moves() {
        let moved = parse(&["--new-master", "10.0.0.2:3307"]).unwrap().masters().unwrap();
        assert_eq!(moved, Masters { old: None, new: hp("10.0.0.2:3307") });
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
    fn the_same_server_as_old_and_new_is_a_usage_error() {
        let e = parse(&["10.0.0.2", "3306", "10.0.0.2", "3306"]).unwrap().masters().unwrap_err();
        assert!(e.to_string().contains("the old and the new master are the same server (10.0.0.2:3306)"), "{e}");
    }

    #[test]
    fn options_parse() {
        let cli = parse(&[
            "10.0.0.2", "3307", "--make-writable", "--kv-format", "json", "--wait-dns", "127.0.0.1:8600", "--wait-dns-name",
            "db.example.", "--wait-dns-timeout", "3s",
        ])
        .unwrap();
        let HookFlags { before, after: flags } = cli.flags();
        assert_eq!(before, sengu::mysql_hooks::BeforeArgs::default());
        assert_eq!(flags.make_writable, Some(true));
        assert_eq!(flags.kv_format, Some(KvFormat::Json));
        assert_eq!(flags.wait_dns, Some(hp("127.0.0.1:8600")));
        assert_eq!(flags.wait_dns_name.as_deref(), Some("db.example."));
        assert_eq!(flags.wait_dns_timeout, Some(Duration::from_secs(3)));
        assert_eq!(parse(&["10.0.0.2", "3307"]).unwrap().own.kv_format, None, "no clap default: the config file may set it");
        // A bare --make-writable takes no value, so it never swallows a positional argument.
        assert_eq!(parse(&["--make-writable", "10.0.0.2", "3307"]).unwrap().masters().unwrap().new, hp("10.0.0.2:3307"));
        assert!(parse(&["10.0.0.2", "3307", "--kv-format", "yaml"]).is_err());
        assert!(parse(&["10.0.0.2", "3307", "--wait-dns", "127.0.0.1"]).is_err());
    }

    #[test]
    fn every_flag_reads_its_environment_variable() {
        let command = Cli::command();
        let env = |id: &str| command.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned());
        for (id, var) in [
            ("make_writable", "SENGU_MAKE_WRITABLE"),
            ("kv_format", "SENGU_KV_FORMAT"),
            ("wait_dns", "SENGU_WAIT_DNS"),
            ("wait_dns_name", "SENGU_WAIT_DNS_NAME"),
            ("wait_dns_timeout", "SENGU_WAIT_DNS_TIMEOUT"),
            ("master_node", "SENGU_MASTER_NODE"),
            ("kv_key", "SENGU_KV_KEY"),
            ("service", "SENGU_SERVICE"),
        ] {
            assert_eq!(env(id).as_deref(), Some(var), "{id}");
        }
    }
}
