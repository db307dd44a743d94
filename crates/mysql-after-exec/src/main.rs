//! `mysql-after-exec`: mysqlfailover's `--exec-after` hook. It verifies that the new master is
//! really writable, then publishes it in Consul (catalog + KV).
//!
//! Not implemented yet: it validates its arguments and settings, logs and says what it would
//! do, and exits 2.

mod cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let moved = cli.masters()?;
        let config = cli.common.config_file()?;
        let mut log = ActionLog::open("mysql-after-exec", &cli.common.log_target(&config)?);
        let old = moved.old.as_ref().map_or("unknown (switchover)".to_owned(), ToString::to_string);
        log.record("not-implemented", &[("old", &old), ("new", &moved.new)]);
        println!(
            "mysql-after-exec: not implemented: would check that {} is writable and publish it in Consul (old master: {old}); Consul is unchanged",
            moved.new
        );
        Ok(ExitCode::from(2))
    })
}
