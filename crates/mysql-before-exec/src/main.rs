//! `mysql-before-exec`: mysqlfailover's `--exec-before` hook. It takes the old master out of
//! Consul (catalog + KV) so no client writes to it while the master moves, and optionally
//! fences the old master with `read_only`.

use mysql_before_exec::cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};
use sengu::mysql_hooks::{self, HookSettings};

const PROGRAM: &str = "mysql-before-exec";

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let masters = cli.masters()?;
        let config = cli.common.config_file()?;
        let settings = HookSettings::resolve(&cli.hook, &cli.flags(), &cli.common, &cli.consul, &config)?;
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
        let report = mysql_hooks::held::show(&settings, mysql_hooks::before(&settings, &masters, &mut log));
        Ok(report.print(PROGRAM, cli.common.format()))
    })
}
