//! `mysql-fail-check`: mysqlfailover's `--exec-fail-check` hook. It confirms that the master is
//! really down, from the replicas' view too, before a failover starts.
//!
//! Not implemented yet: it validates its arguments and settings, says what it would check, and
//! exits 2, which mysqlfailover reads as "fail over now"; do not wire it up yet.

mod cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let master = cli.master()?;
        let config = cli.common.config_file()?;
        let mut log = ActionLog::open("mysql-fail-check", &cli.common.log_target(&config)?);
        log.record("not-implemented", &[("master", &master)]);
        println!("mysql-fail-check: not implemented: would check whether {master} is down, as seen from here and from its replicas");
        Ok(ExitCode::from(2))
    })
}
