//! `mysql-fail-check`: mysqlfailover's `--exec-fail-check` hook. It confirms that the master is
//! really down, from the replicas' view too, before a failover starts: exit 2 only for a master
//! confirmed dead, exit 0 for everything else, bad input included.

use mysql_fail_check::cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::fail_check::{self, entry, Settings, PROGRAM};

fn main() -> ExitCode {
    entry::run(|cli: cli::Cli| {
        let config = cli.common.config_file()?;
        let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
        let request = fail_check::master_from_args(&cli.old_host, &cli.old_port)
            .and_then(|master| Ok((master, Settings::resolve(&cli.check, &cli.common, &cli.consul, &config)?)));
        let report = match request {
            Ok((_, settings)) if cli.print.print_config => return sengu::entry::print_config(&settings),
            Ok((master, settings)) => fail_check::run(&master, &settings, &mut log),
            Err(problem) => fail_check::refuse(&problem, &mut log),
        };
        Ok(report.print(cli.common.format()))
    })
}
