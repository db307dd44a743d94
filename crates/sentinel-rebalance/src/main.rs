//! `sentinel-rebalance`: Redis Sentinel's client-reconfig-script. After a master move it moves
//! the spare sentinel so the master's host runs fewer sentinels than the replica's, and
//! publishes the new roles to Consul at once.
//!
//! Not implemented yet: it validates its arguments and settings, says what it would do, and
//! exits 2 so Sentinel does not retry.

mod cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let task = cli.task()?;
        let config = cli.common.config_file()?;
        let mut log = ActionLog::open("sentinel-rebalance", &cli.common.log_target(&config)?);
        let plan = match &task {
            cli::Task::Reconfig { master_name, role, from, to } => {
                format!("would move sentinels after {master_name} moved from {from} to {to} ({} call)", role.as_str())
            }
            cli::Task::Reconcile => "would compare the sentinels' layout with the current master and fix it".to_owned(),
            cli::Task::Status => "would show the master and where each sentinel runs".to_owned(),
        };
        log.record("not-implemented", &[("plan", &plan)]);
        println!("sentinel-rebalance: not implemented: {plan}");
        Ok(ExitCode::from(2))
    })
}
