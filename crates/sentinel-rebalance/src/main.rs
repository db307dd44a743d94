//! `sentinel-rebalance`: Redis Sentinel's client-reconfig-script. After a master move it moves
//! the spare sentinel so the master's host runs fewer sentinels than the replica's, and
//! publishes the new roles to Consul at once. The work is `sengu::rebalance`.

use sentinel_rebalance::cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};
use sengu::rebalance::{self, Call};

const PROGRAM: &str = "sentinel-rebalance";

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let task = cli.task()?;
        let config = cli.common.config_file()?;
        let settings = cli.settings.load(&cli.common, &cli.consul, &config)?;
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
        Ok(match task {
            cli::Task::Reconfig { master_name, role, from, to } => {
                let call = Call { master_name, role: role.as_str().to_string(), from, to };
                rebalance::reconfig(&settings, &call, &mut log).print(PROGRAM)
            }
            cli::Task::Reconcile { reset } => rebalance::reconcile(&settings, reset, &mut log).print(PROGRAM),
            cli::Task::Status => rebalance::status(&settings).print(cli.common.format()),
        })
    })
}
