//! `redis-master-check`: the Consul check on every Redis host that passes only on the one true
//! master (or, in role mode, on a healthy replica) and keeps the master/replica tags true.
//!
//! Not implemented yet: for now it validates its arguments and settings, says what it would
//! check, and reports CRITICAL, so a host wired up early never passes by accident.

mod cli;

use std::process::ExitCode;

use sengu::check::{Outcome, SubResult};
use sengu::entry::{self, Kind};

fn main() -> ExitCode {
    entry::run(Kind::Check, |cli: cli::Cli| {
        let config = cli.common.config_file()?;
        let timeout = cli.common.timeout(None, cli::DEFAULT_TIMEOUT);
        let consul = cli.consul.addr(&config)?.unwrap_or_else(|| "default".into());
        let role = cli.role.unwrap_or(cli::Role::Master);
        let plan = format!("would check that redis {} is the {} of service {:?}", cli.redis, role.as_str(), cli.service);
        let details = format!(
            "timeout: {timeout:?}\nconsul: {consul}\nconfig: {}",
            config.path().map_or("none".into(), |p| p.display().to_string())
        );
        let outcome = Outcome::from(SubResult::critical("redis-master-check", format!("not implemented: {plan}")).with_details(details));
        Ok(outcome.print(cli.common.format()))
    })
}
