//! `mysql-before-exec`: mysqlfailover's `--exec-before` hook. It takes the old master out of
//! Consul (catalog + KV) so no client writes to it while the master moves.
//!
//! Not implemented yet: it validates its arguments and settings, logs and says what it would
//! do, and exits 2.

mod cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let moving = cli.masters()?;
        let config = cli.common.config_file()?;
        let mut log = ActionLog::open("mysql-before-exec", &cli.common.log_target(&config)?);
        log.record("not-implemented", &[("old", &moving.old), ("new", &moving.new)]);
        println!(
            "mysql-before-exec: not implemented: would take {} out of Consul before the move to {}; Consul is unchanged",
            moving.old, moving.new
        );
        Ok(ExitCode::from(2))
    })
}
