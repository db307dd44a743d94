//! `mysql-mha-script`: MHA's `master_ip_failover_script` and `master_ip_online_change_script`.
//! `stop`/`stopssh` take the old master out of Consul and fence it, `start` verifies the new
//! master, makes it writable and publishes it, `status` checks that Consul names MHA's master.

use mysql_mha_script::cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};
use sengu::mysql_hooks::{mha, HookSettings};

const PROGRAM: &str = "mysql-mha-script";

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let call = cli.call()?;
        let config = cli.common.config_file()?;
        let settings = mha::for_mha(HookSettings::resolve(&cli.hook, &cli.flags(), &cli.common, &cli.consul, &config)?);
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
        let report = mha::run(&settings, &call, &mut log);
        Ok(report.print_for_mha(PROGRAM, cli.common.format()))
    })
}
