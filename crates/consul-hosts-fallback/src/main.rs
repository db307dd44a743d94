//! `consul-hosts-fallback`: keeps the masters (and tagged replicas) from Consul's health API as
//! a fallback that the hosts file serves only while the local DNS cannot answer; `check` is the
//! Consul check that says when that fallback is stale or wrong. Everything it decides lives in
//! `sengu::hosts_fallback`; this merges the settings, runs the subcommand and returns its code.

use consul_hosts_fallback::cli::{self, Task};

use std::process::ExitCode;

use sengu::actionlog::ActionLog;
use sengu::entry::{self, Kind};
use sengu::hosts_fallback::{self, PROGRAM};

fn main() -> ExitCode {
    // A failure that ends the run before its outcome exists reads like the rest of its output:
    // `CRITICAL: …` for the check (Consul keeps it), `consul-hosts-fallback: …` otherwise.
    let kind = if std::env::args().nth(1).as_deref() == Some("check") { Kind::Check } else { Kind::Hook };
    entry::run(kind, |cli: cli::Cli| {
        let config = cli.common.config_file()?;
        let settings = cli.settings(&config)?;
        if cli.print.print_config {
            return entry::print_config(&settings);
        }
        let target = cli.common.log_target(&config)?;
        Ok(match cli.task {
            Task::Sync => hosts_fallback::sync(&settings, &mut ActionLog::open(PROGRAM, &target))?.print(),
            Task::Watch => hosts_fallback::watch(&settings, &mut ActionLog::open(PROGRAM, &target)),
            Task::Check => hosts_fallback::check(&settings).print(cli.common.format()),
        })
    })
}
