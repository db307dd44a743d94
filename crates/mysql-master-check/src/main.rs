//! `mysql-master-check`: the Consul check on every MySQL/MariaDB host. It passes on the master
//! Consul's record names and on healthy replicas of it, keeps the tags and the replica node
//! true, fences a stale master under proof and finishes a half-done move. Everything it decides
//! lives in `sengu::mysql_check`; this only merges the settings, runs the check once and turns
//! its outcome into the exit code (0 passing, 1 warning, 2 critical).

use mysql_master_check::cli;

use std::process::ExitCode;

use sengu::entry::{self, Kind};
use sengu::mysql_check::{self, Settings};

fn main() -> ExitCode {
    entry::run(Kind::Check, |cli: cli::Cli| {
        let config = cli.common.config_file()?;
        let settings = Settings::resolve(&cli.check, &cli.hook, &cli.common, &cli.consul, &config)?;
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        let log = cli.common.log_target(&config)?;
        Ok(mysql_check::run(&settings, &log).print(cli.common.format()))
    })
}
