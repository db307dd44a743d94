//! The command line of `sentinel-rebalance`: the seven positional arguments Redis Sentinel passes
//! to a `client-reconfig-script`, plus the `reconcile` and `status` subcommands for timers and
//! people. Sentinel passes nothing else, so every other setting comes from `SENGU_*` variables
//! in the sentinel's environment or from the `[sentinel-rebalance]` table of the config file.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use sengu::addr::HostPort;
use sengu::settings::{positional_endpoint, CommonArgs, ConsulArgs};

#[derive(Debug, Parser)]
#[command(
    name = "sentinel-rebalance",
    version,
    about = "Redis Sentinel client-reconfig-script: after a master move, move the spare sentinel so the master's host runs fewer sentinels than the replica's; publish the new roles to Consul at once",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "\
Called by: Redis Sentinel, as its client-reconfig-script (sentinel.conf):
  sentinel client-reconfig-script mymaster /usr/local/bin/sentinel-rebalance
Every sentinel runs it once per failover, with exactly seven arguments:
  <master-name> <leader|observer> start <from-ip> <from-port> <to-ip> <to-port>
Also run `sentinel-rebalance reconcile` from a timer or at boot, and `sentinel-rebalance status`
to see the layout. A master named \"reconcile\" or \"status\" cannot be handled.

Exit codes (Sentinel's script contract):
  0  done, or nothing to do
  1  failed for now: Sentinel retries (up to 10 times, 30s apart, doubling)
  2  failed for good, do not retry (bad arguments, bad settings, internal error)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The master name from `sentinel monitor`
    #[arg(value_name = "master-name", required = true)]
    pub master_name: Option<String>,
    /// Whether this sentinel led the failover
    #[arg(value_name = "role", value_enum, required = true)]
    pub role: Option<Role>,
    /// Always `start`
    #[arg(value_name = "state", value_enum, required = true)]
    pub state: Option<State>,
    /// Address of the old master
    #[arg(value_name = "from-ip", required = true)]
    pub from_ip: Option<String>,
    /// Port of the old master
    #[arg(value_name = "from-port", required = true)]
    pub from_port: Option<String>,
    /// Address of the new master
    #[arg(value_name = "to-ip", required = true)]
    pub to_ip: Option<String>,
    /// Port of the new master
    #[arg(value_name = "to-port", required = true)]
    pub to_port: Option<String>,
    /// Anything after the seven, refused in [`Cli::task`] with a clearer message than clap's.
    #[arg(value_name = "extra", hide = true)]
    pub extra: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Compare the sentinels' layout with the current master and fix it (timer, boot)
    Reconcile,
    /// Show the master, where each sentinel runs and what reconcile would change
    Status,
}

/// The sentinel's part in the failover, as Sentinel passes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// This sentinel led the failover.
    Leader,
    /// Another sentinel led it; this one learned the new master.
    Observer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Observer => "observer",
        }
    }
}

/// The failover state; Sentinel only ever passes `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum State {
    Start,
}

/// What to do, once the arguments are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Called by Sentinel after a failover.
    Reconfig { master_name: String, role: Role, from: HostPort, to: HostPort },
    Reconcile,
    Status,
}

impl Cli {
    /// The task, with the positional addresses parsed; a malformed one is a usage error.
    pub fn task(&self) -> Result<Task, clap::Error> {
        let mut command = Cli::command();
        if !self.extra.is_empty() {
            let message = format!("Sentinel passes exactly 7 arguments, got {}: unexpected {:?}", 7 + self.extra.len(), self.extra);
            return Err(command.error(clap::error::ErrorKind::WrongNumberOfValues, message));
        }
        match (&self.command, &self.master_name, self.role, &self.from_ip, &self.from_port, &self.to_ip, &self.to_port) {
            (Some(Command::Reconcile), ..) => Ok(Task::Reconcile),
            (Some(Command::Status), ..) => Ok(Task::Status),
            (None, Some(master_name), Some(role), Some(from_ip), Some(from_port), Some(to_ip), Some(to_port)) => Ok(Task::Reconfig {
                master_name: master_name.clone(),
                role,
                from: positional_endpoint(&mut command, ["from-ip", "from-port"], from_ip, from_port)?,
                to: positional_endpoint(&mut command, ["to-ip", "to-port"], to_ip, to_port)?,
            }),
            // clap requires all seven unless a subcommand is given.
            _ => Err(command.error(clap::error::ErrorKind::MissingRequiredArgument, "expected seven arguments or a subcommand")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sentinel-rebalance").chain(args.iter().copied()))
    }

    const SEVEN: [&str; 7] = ["mymaster", "leader", "start", "127.0.0.11", "6379", "127.0.0.12", "6379"];

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seven_arguments_make_a_reconfig_task() {
        let task = parse(&SEVEN).unwrap().task().unwrap();
        assert_eq!(
            task,
            Task::Reconfig {
                master_name: "mymaster".into(),
                role: Role::Leader,
                from: "127.0.0.11:6379".parse().unwrap(),
                to: "127.0.0.12:6379".parse().unwrap(),
            }
        );
    }

    #[test]
    fn six_or_eight_arguments_are_refused() {
        assert!(parse(&SEVEN[..6]).is_err());
        let e = parse(&[&SEVEN[..], &["extra"]].concat()).unwrap().task().unwrap_err();
        assert!(e.to_string().contains("Sentinel passes exactly 7 arguments, got 8"), "{e}");
    }

    #[test]
    fn role_is_leader_or_observer_and_state_is_start() {
        let mut args = SEVEN;
        args[1] = "observer";
        assert_eq!(parse(&args).unwrap().role, Some(Role::Observer));
        args[1] = "follower";
        assert!(parse(&args).is_err());
        let mut args = SEVEN;
        args[2] = "end";
        assert!(parse(&args).is_err());
    }

    #[test]
    fn a_malformed_port_is_a_usage_error() {
        let mut args = SEVEN;
        args[6] = "70000";
        let e = parse(&args).unwrap().task().unwrap_err();
        assert!(e.to_string().contains("invalid <to-ip> <to-port>: invalid port \"70000\""), "{e}");
    }

    #[test]
    fn subcommands_take_no_positionals_but_take_common_flags() {
        assert_eq!(parse(&["reconcile"]).unwrap().task().unwrap(), Task::Reconcile);
        let cli = parse(&["status", "--format", "json"]).unwrap();
        assert_eq!(cli.task().unwrap(), Task::Status);
        assert_eq!(cli.common.format(), sengu::check::Format::Json);
        assert!(parse(&["status", "extra"]).is_err());
    }
}
