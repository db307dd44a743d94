//! `redis-master-check`: the Consul check on every Redis host that passes only on the one true
//! master (or, in role mode, on a healthy replica) and keeps the master/replica tags true.
//! Everything it decides lives in `sengu::master_check`; this only merges the settings, runs
//! the check once and turns its outcome into the exit code (0 passing, 1 warning, 2 critical).

use redis_master_check::cli;

use std::process::ExitCode;

use sengu::entry::{self, Kind};
use sengu::master_check;

fn main() -> ExitCode {
    entry::run(Kind::Check, |cli: cli::Cli| {
        let config = cli.common.config_file()?;
        let settings = cli.settings(&config)?;
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        Ok(master_check::run(&settings).print(cli.common.format()))
    })
}
