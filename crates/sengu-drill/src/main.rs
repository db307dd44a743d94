//! `sengu-drill`: switch the active side on purpose, with probes through the DNS name, and
//! report what the applications felt: a planned Redis switchover through Sentinel, any MySQL
//! switchover command or a native MariaDB switchover, the history of past drills in Consul KV,
//! and manual mode (`manual on|off|status`), the switch that turns automatic failover off.

use sengu_drill::cli;

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::drill::{self, history, settings};
use sengu::entry::{self, Kind};
use sengu::hold;

const PROGRAM: &str = "sengu-drill";

fn main() -> ExitCode {
    entry::run(Kind::Hook, |cli: cli::Cli| {
        let config = cli.common.config_file()?;
        let format = cli.common.format();
        let report = match &cli.command {
            cli::Command::Redis(args) => {
                let ready = settings::redis(args, &cli.common, &cli.consul, &config)?;
                if cli.print.print_config {
                    return entry::print_config(&ready);
                }
                let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
                drill::run_redis(&ready.drill, &ready.consul, ready.keep_history, &mut log)
            }
            cli::Command::Mysql(args) => {
                let ready = settings::mysql(args, &cli.common, &cli.consul, &config)?;
                if cli.print.print_config {
                    return entry::print_config(&ready);
                }
                let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
                drill::run_mysql(&ready.drill, &ready.consul, ready.keep_history, &mut log)
            }
            cli::Command::Manual(args) => {
                let request = args.request()?;
                let consul = settings::bounded_client(&cli.common, &cli.consul, &config, cli::HISTORY_TIMEOUT)?;
                if cli.print.print_config {
                    // All `manual` takes from settings is the Consul agent.
                    return entry::print_config(&std::collections::BTreeMap::from([("consul", consul.address())]));
                }
                let mut log = ActionLog::open(PROGRAM, &cli.common.log_target(&config)?);
                let outcome = hold::manual::run(&consul, &request, &mut log);
                print!("{}", outcome.render(format));
                return Ok(outcome.exit_code());
            }
            cli::Command::History(args) => {
                let consul = settings::bounded_client(&cli.common, &cli.consul, &config, cli::HISTORY_TIMEOUT)?;
                let entries = history::list(&consul, args.service.as_deref(), args.limit)?;
                println!("{}", history::render(&entries, format).trim_end());
                return Ok(ExitCode::SUCCESS);
            }
        };
        println!("{}", report.render(format).trim_end());
        Ok(report.exit_code())
    })
}
