//! The command line of `mysql-mha-script`: the long options MHA 0.58 appends when it runs a
//! `master_ip_failover_script` or `master_ip_online_change_script` (`--command=…`,
//! `--orig_master_host=…`, …; see `docs/mysql-mha-script.md`), plus the hooks' own settings.
//! Every option MHA sends is accepted, the passwords and SSH settings only to be ignored;
//! anything else is a usage error (exit 2).

use clap::{CommandFactory, Parser};

use sengu::addr::HostPort;
use sengu::mysql_hooks::mha::{Call, Caller, Command};
use sengu::mysql_hooks::{AfterArgs, BeforeArgs, HookArgs, HookFlags};
use sengu::settings::{CommonArgs, ConsulArgs, PrintArgs};

#[derive(Debug, Parser)]
#[command(
    name = "mysql-mha-script",
    version,
    about = "MHA master_ip_failover_script and master_ip_online_change_script: move the master's Consul records (catalog + KV) with every phase of an MHA switch",
    after_help = "\
Called by: MHA 0.58, as both master_ip_failover_script and master_ip_online_change_script
(= /usr/bin/mysql-mha-script in the application config). MHA appends --command=status|stop|
stopssh|start and the masters as --orig_master_host=… --new_master_port=…; every other setting
comes from SENGU_* / CONSUL_* variables or the config file ([mysql-hooks], [mysql], [consul],
[log]). sengu logs in with its own MySQL credentials: MHA's --*_password values are never used,
logged or printed.

  status          Consul's master record names --orig_master_host, it is a writable master, and
                  automatic failover is not held off (manual mode or a post-failover block in
                  sengu/hold/<master node>): in manual mode MHA's monitor does not start
  stop, stopssh   take the old master out of Consul (one transaction) and fence it (read_only);
                  in an online switch, a master that cannot be fenced is published again
  start           verify the new master (reachable, caught up with the old one, no other
                  writable master), turn read_only off, publish it; a refused online switch is
                  switched back to the old master; after a failover (the failover script)
                  it blocks further automatic failovers for --block-after-failover (1h)
--fence-old-master and --make-writable are always on: MHA's sequence needs both.

Exit codes (MHA carries on after 0 and 10 and aborts the switch on anything else):
  0  done: Consul is as this phase wants it
  1  Consul unreachable, kept changing or lost its reply: the message says what it holds
  2  bad arguments or settings: nothing touched
  3  the new master failed verification, or the old one could not be fenced (see the report
     for whether the old master was switched back)
  4  Consul refused (ACL denied, TLS, rejected request): fix the token or settings
  5  another server is a writable master too (or the old one still is): left as is
  7  status: Consul and MHA's master disagree, or automatic failover is held off
  10 published, but --wait-dns did not see the new address in time (MHA proceeds)
Under Perl 5.36 (Debian 12) MHA 0.58 itself must run as `perl -X masterha_…`."
)]
pub struct Cli {
    #[command(flatten)]
    pub mha: MhaOptions,
    #[command(flatten)]
    pub before: BeforeArgs,
    #[command(flatten)]
    pub after: AfterArgs,
    #[command(flatten)]
    pub hook: HookArgs,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

/// The options MHA passes, spelled as MHA spells them.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "MHA's options (as MHA passes them)")]
pub struct MhaOptions {
    /// The phase
    #[arg(long, value_enum, required_unless_present = "print_config")]
    pub command: Option<Command>,
    /// The old master's host
    #[arg(long = "orig_master_host", value_name = "HOST", required_unless_present = "print_config")]
    pub orig_master_host: Option<String>,
    /// The old master's IP address
    #[arg(long = "orig_master_ip", value_name = "IP")]
    pub orig_master_ip: Option<String>,
    /// The old master's port
    #[arg(long = "orig_master_port", value_name = "PORT", required_unless_present = "print_config")]
    pub orig_master_port: Option<String>,
    /// The new master's host (online switch; failover start)
    #[arg(long = "new_master_host", value_name = "HOST")]
    pub new_master_host: Option<String>,
    /// The new master's IP address
    #[arg(long = "new_master_ip", value_name = "IP")]
    pub new_master_ip: Option<String>,
    /// The new master's port
    #[arg(long = "new_master_port", value_name = "PORT")]
    pub new_master_port: Option<String>,
    /// MHA's MySQL user on the old master (only the online change script gets it)
    #[arg(long = "orig_master_user", value_name = "USER")]
    pub orig_master_user: Option<String>,
    /// MHA's MySQL user on the new master (not used)
    #[arg(long = "new_master_user", value_name = "USER")]
    pub new_master_user: Option<String>,
    /// Old master ends up a replica of the new one (online switch)
    #[arg(long = "orig_master_is_new_slave")]
    pub orig_master_is_new_slave: bool,
    /// MHA's password for the old master: accepted, never used or shown
    #[arg(long = "orig_master_password", value_name = "PASSWORD")]
    pub orig_master_password: Option<String>,
    /// MHA's password for the new master: accepted, never used or shown
    #[arg(long = "new_master_password", value_name = "PASSWORD")]
    pub new_master_password: Option<String>,
    /// SSH settings MHA passes (not used: sengu does not log in over SSH)
    #[arg(long = "ssh_user", value_name = "USER")]
    pub ssh_user: Option<String>,
    #[arg(long = "orig_master_ssh_user", value_name = "USER", hide = true)]
    pub orig_master_ssh_user: Option<String>,
    #[arg(long = "new_master_ssh_user", value_name = "USER", hide = true)]
    pub new_master_ssh_user: Option<String>,
    #[arg(long = "orig_master_ssh_host", value_name = "HOST", hide = true)]
    pub orig_master_ssh_host: Option<String>,
    #[arg(long = "orig_master_ssh_ip", value_name = "IP", hide = true)]
    pub orig_master_ssh_ip: Option<String>,
    #[arg(long = "orig_master_ssh_port", value_name = "PORT", hide = true)]
    pub orig_master_ssh_port: Option<String>,
    #[arg(long = "new_master_ssh_host", value_name = "HOST", hide = true)]
    pub new_master_ssh_host: Option<String>,
    #[arg(long = "new_master_ssh_ip", value_name = "IP", hide = true)]
    pub new_master_ssh_ip: Option<String>,
    #[arg(long = "new_master_ssh_port", value_name = "PORT", hide = true)]
    pub new_master_ssh_port: Option<String>,
    #[arg(long = "ssh_options", value_name = "OPTIONS", hide = true, allow_hyphen_values = true)]
    pub ssh_options: Option<String>,
}

impl Cli {
    /// MHA's call, checked: the old master's address always, the new one for `start` (and
    /// whenever either half of it is given), distinct masters. `Err` is a usage error.
    pub fn call(&self) -> Result<Call, clap::Error> {
        let mut command = Cli::command();
        let o = &self.mha;
        let (Some(phase), Some(host), Some(port)) = (o.command, &o.orig_master_host, &o.orig_master_port) else {
            return Err(command.error(clap::error::ErrorKind::MissingRequiredArgument, "--command, --orig_master_host and --orig_master_port are required"));
        };
        let orig = endpoint(&mut command, "--orig_master_host/--orig_master_port", host, port)?;
        let orig_ip = match o.orig_master_ip.as_deref().filter(|ip| *ip != host) {
            Some(ip) => Some(endpoint(&mut command, "--orig_master_ip/--orig_master_port", ip, port)?),
            None => None,
        };
        let new = match (&o.new_master_host, &o.new_master_port) {
            (Some(host), Some(port)) => Some(endpoint(&mut command, "--new_master_host/--new_master_port", host, port)?),
            (None, None) if phase != Command::Start => None,
            _ => {
                return Err(command.error(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "--new_master_host and --new_master_port are required with --command=start, and go together",
                ));
            }
        };
        if new.as_ref() == Some(&orig) {
            return Err(command.error(clap::error::ErrorKind::ValueValidation, format!("the old and the new master are the same server ({orig})")));
        }
        let caller = if o.orig_master_user.is_some() { Caller::OnlineChange } else { Caller::Failover };
        Ok(Call { command: phase, caller, orig, orig_ip, new })
    }

    /// The hooks' flags of both groups (`--fence-old-master` and `--make-writable` are forced
    /// on afterwards by `sengu::mysql_hooks::mha::for_mha`).
    pub fn flags(&self) -> HookFlags {
        HookFlags { before: self.before.clone(), after: self.after.clone() }
    }
}

/// `host` and `port` as one address, or a usage error naming `what`.
fn endpoint(command: &mut clap::Command, what: &str, host: &str, port: &str) -> Result<HostPort, clap::Error> {
    HostPort::from_parts(host, port).map_err(|e| command.error(clap::error::ErrorKind::ValueValidation, format!("invalid {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mysql-mha-script").chain(args.split_whitespace()))
    }

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// The exact option lists MHA 0.58 builds (MasterRotate.pm, MasterFailover.pm,
    /// MasterMonitor.pm), as `sh -c` hands them over.
    #[test]
    fn every_call_mha_makes_parses() {
        let online = "--orig_master_host=10.0.0.11 --orig_master_ip=10.0.0.11 --orig_master_port=3306 --orig_master_user=root \
                      --new_master_host=10.0.0.12 --new_master_ip=10.0.0.12 --new_master_port=3307 --new_master_user=root \
                      --orig_master_ssh_user=root --new_master_ssh_user=root --orig_master_ssh_port=2222 --orig_master_is_new_slave \
                      --orig_master_password=s3cret --new_master_password=";
        for phase in ["stop", "start"] {
            let call = parse(&format!("--command={phase} {online}")).unwrap().call().unwrap();
            assert_eq!(call.caller, Caller::OnlineChange);
            assert_eq!((call.orig.clone(), call.new.clone(), call.orig_ip.clone()), (hp("10.0.0.11:3306"), Some(hp("10.0.0.12:3307")), None));
        }
        let stop = parse("--orig_master_host=db1 --orig_master_ip=10.0.0.11 --orig_master_port=3306 --command=stop").unwrap().call().unwrap();
        assert_eq!((stop.command, stop.caller, stop.new), (Command::Stop, Caller::Failover, None));
        assert_eq!(stop.orig_ip, Some(hp("10.0.0.11:3306")), "a host name and its IP are both the old master");
        let stopssh = "--orig_master_host=10.0.0.11 --orig_master_ip=10.0.0.11 --orig_master_port=3306 --command=stopssh --ssh_user=root \
                       --orig_master_ssh_host=b --orig_master_ssh_ip=10.0.1.11 --ssh_options=-o";
        assert_eq!(parse(stopssh).unwrap().call().unwrap().command, Command::Stopssh);
        let start = "--command=start --ssh_user=root --orig_master_host=10.0.0.11 --orig_master_ip=10.0.0.11 --orig_master_port=3306 \
                     --new_master_host=10.0.0.12 --new_master_ip=10.0.0.12 --new_master_port=3306 --new_master_user=root --new_master_password=x";
        let start = parse(start).unwrap().call().unwrap();
        assert_eq!((start.command, start.caller), (Command::Start, Caller::Failover));
        let status = "--command=status --ssh_user=root --orig_master_host=10.0.0.11 --orig_master_ip=10.0.0.11 --orig_master_port=3306";
        assert_eq!(parse(status).unwrap().call().unwrap().command, Command::Status);
    }

    #[test]
    fn anything_mha_does_not_send_is_a_usage_error() {
        let base = "--command=stop --orig_master_host=10.0.0.11 --orig_master_port=3306";
        assert!(parse(&format!("{base} --orig_master_hots=x")).is_err(), "a typo is not ignored");
        assert!(parse(&format!("{base} extra")).is_err());
        assert!(parse("--command=reboot --orig_master_host=10.0.0.11 --orig_master_port=3306").is_err());
        let usage = |args: &str| parse(args).unwrap().call().unwrap_err().to_string();
        assert!(usage("--command=start --orig_master_host=10.0.0.11 --orig_master_port=3306").contains("--new_master_host and --new_master_port are required"));
        assert!(usage("--command=stop --orig_master_host=10.0.0.11 --orig_master_port=x").contains("invalid --orig_master_host/--orig_master_port"));
        assert!(usage("--command=stop --orig_master_host=10.0.0.11 --orig_master_port=3306 --new_master_host=10.0.0.12").contains("go together"));
        assert!(usage("--command=start --orig_master_host=10.0.0.11 --orig_master_port=3306 --new_master_host=10.0.0.11 --new_master_port=3306")
            .contains("the old and the new master are the same server (10.0.0.11:3306)"));
    }
}
