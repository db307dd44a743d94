//! The command line of `sentinel-rebalance`: the seven positional arguments Redis Sentinel passes
//! to a `client-reconfig-script`, plus the `reconcile` and `status` subcommands for timers and
//! people. Sentinel passes nothing else, so every other setting comes from `SENGU_*` variables
//! in the sentinel's environment or from the `[sentinel-rebalance]` table of the config file.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use sengu::addr::HostPort;
use sengu::rebalance;
use sengu::settings::{positional_endpoint, CommonArgs, ConsulArgs, PrintArgs};

#[derive(Debug, Parser)]
#[command(
    name = "sentinel-rebalance",
    version,
    about = "Redis Sentinel client-reconfig-script: after a master move, move the spare sentinel so the master's host runs fewer sentinels than the replica's; publish the new roles to Consul at once",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "\
Called by: Redis Sentinel, as its client-reconfig-script (sentinel.conf):
  sentinel client-reconfig-script mymaster /usr/bin/sentinel-rebalance
Every sentinel runs it once per failover, with exactly seven arguments:
  <master-name> <leader|observer> start <from-ip> <from-port> <to-ip> <to-port>
Also run `sentinel-rebalance reconcile` from a timer or at boot, and `sentinel-rebalance status`
to see the layout. A master named \"reconcile\" or \"status\" cannot be handled.
Settings come from SENGU_* variables in the sentinel's environment or from [sentinel-rebalance]
in the config file; the floating_start/floating_stop commands are argv arrays in the file only.

Exit codes (Sentinel's script contract):
  0  done, or nothing to do
  1  failed for now: Sentinel retries (up to 10 times, 30s apart, doubling)
  2  failed for good, do not retry (bad arguments, bad settings, internal error)
`status` exits like a Consul check: 0 converged, 1 something to change, 2 no agreed master
or NOQUORUM."
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
    pub settings: rebalance::Args,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub consul: ConsulArgs,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Compare the sentinels' layout with the current master and fix it (timer, boot)
    Reconcile {
        /// Also make the sentinels forget stopped extra sentinels: SENTINEL RESET on one at a time, waiting between them
        #[arg(
            long,
            long_help = "Also make the sentinels forget extra sentinels (stop those first): SENTINEL RESET <master> on each sentinel \
that knows one, one at a time, waiting until it knows exactly the other two again and then --reset-wait before the next. \
Takes about --reset-wait per sentinel beyond --timeout; for people, not for timers."
        )]
        reset: bool,
    },
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
    Reconcile { reset: bool },
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
            (Some(Command::Reconcile { reset }), ..) => Ok(Task::Reconcile { reset: *reset }),
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
    use std::time::Duration;

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
        assert_eq!(parse(&["reconcile"]).unwrap().task().unwrap(), Task::Reconcile { reset: false });
        assert_eq!(parse(&["reconcile", "--reset"]).unwrap().task().unwrap(), Task::Reconcile { reset: true });
        let cli = parse(&["status", "--format", "json"]).unwrap();
        assert_eq!(cli.task().unwrap(), Task::Status);
        assert_eq!(cli.common.format(), sengu::check::Format::Json);
        assert!(parse(&["status", "extra"]).is_err());
    }

    #[test]
    fn every_setting_flag_has_its_variable() {
        let command = Cli::command();
        let env = |id: &str| command.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned());
        for (id, var) in [
            ("sentinel_master", "SENGU_SENTINEL_MASTER"),
            ("redis", "SENGU_REDIS"),
            ("peer_redis", "SENGU_PEER_REDIS"),
            ("sentinel", "SENGU_SENTINEL"),
            ("peer_sentinel", "SENGU_PEER_SENTINEL"),
            ("floating", "SENGU_FLOATING"),
            ("peer_floating", "SENGU_PEER_FLOATING"),
            ("floating_myid", "SENGU_FLOATING_MYID"),
            ("floating_config", "SENGU_FLOATING_CONFIG"),
            ("floating_script", "SENGU_FLOATING_SCRIPT"),
            ("quorum", "SENGU_QUORUM"),
            ("down_after", "SENGU_DOWN_AFTER"),
            ("failover_timeout", "SENGU_FAILOVER_TIMEOUT"),
            ("service", "SENGU_SERVICE"),
            ("master_tag", "SENGU_MASTER_TAG"),
            ("replica_tag", "SENGU_REPLICA_TAG"),
            ("lock_file", "SENGU_LOCK_FILE"),
            ("reset_wait", "SENGU_RESET_WAIT"),
            ("replica_wait", "SENGU_REPLICA_WAIT"),
            ("settle_time", "SENGU_SETTLE_TIME"),
        ] {
            assert_eq!(env(id).as_deref(), Some(var), "--{id}");
        }
    }

    #[test]
    fn setting_flags_reach_the_layer_after_a_subcommand() {
        let cli = parse(&[
            "status", "--sentinel-master", "m", "--redis", "10.0.0.11:6379", "--peer-redis", "10.0.0.12:6379",
            "--sentinel", "10.0.0.11:26379", "--peer-sentinel", "10.0.0.12:26379", "--floating", "10.0.0.11:26380",
            "--peer-floating", "10.0.0.12:26380", "--floating-myid", "ab", "--floating-config", "/x.conf",
            "--floating-script", "/bin/s", "--quorum", "2", "--down-after", "5s", "--failover-timeout", "1m",
            "--service", "redis", "--master-tag", "primary", "--replica-tag", "standby", "--lock-file", "/l",
            "--reset-wait", "31s", "--replica-wait", "20s", "--settle-time", "0s", "--timeout", "9s",
        ])
        .unwrap();
        let layer = &cli.settings;
        assert_eq!(layer.master_name.as_deref(), Some("m"));
        assert_eq!(layer.peer_floating.as_ref().unwrap().to_string(), "10.0.0.12:26380");
        assert_eq!((layer.down_after, layer.failover_timeout), (Some(Duration::from_secs(5)), Some(Duration::from_secs(60))));
        assert_eq!((layer.reset_wait, layer.replica_wait, layer.settle_time), (Some(Duration::from_secs(31)), Some(Duration::from_secs(20)), Some(Duration::ZERO)));
        assert_eq!((layer.quorum, cli.common.timeout), (Some(2), Some(Duration::from_secs(9))));
        assert_eq!((layer.master_tag.as_deref(), layer.replica_tag.as_deref()), (Some("primary"), Some("standby")));
        assert_eq!(layer.floating_start, None, "argv settings are file-only");
        assert!(parse(&["status", "--redis", "10.0.0.11"]).is_err(), "HOST:PORT is checked");
        assert!(parse(&["status", "--reset-wait", "soon"]).is_err());
    }
}
