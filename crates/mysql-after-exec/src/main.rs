//! `mysql-after-exec`: mysqlfailover's `--exec-after` hook. It verifies that the new master is
//! really writable, then publishes it in Consul (catalog + KV); a new master that fails the
//! check is not published, and Consul is left naming no master rather than a wrong one.

use mysql_after_exec::cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};
use sengu::mysql_hooks::{self, HookSettings};

const PROGRAM: &str = "mysql-after-exec";

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let masters = cli.masters()?;
        let config = cli.common.config_file()?;
        let settings = HookSettings::resolve(&cli.hook, &cli.flags(), &cli.common, &cli.consul, &config)?;
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
        let report = mysql_hooks::after(&settings, &masters, &mut log);
        let report = match cli.is_failover() {
            true => mysql_hooks::held::block_after_failover(&settings, &masters, report, &mut log),
            false => report,
        };
        let report = mysql_hooks::held::show(&settings, report);
        Ok(report.print(PROGRAM, cli.common.format()))
    })
}
