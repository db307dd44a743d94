//! How the MySQL hooks treat the hold record ([`crate::hold`], named after the master node):
//! they carry on whatever it says, because a person's manual switch runs them too, and show it
//! as a detail line; after a failover (not a switchover), `mysql-after-exec` and MHA's failover
//! `start` write the post-failover block, best effort, once the publish transaction is done.
//! Neither a failed read nor a failed write changes a hook's outcome.

use std::time::SystemTime;

use super::outcome::{HookExit, Report};
use super::settings::HookSettings;
use super::Masters;
use crate::actionlog::ActionLog;
use crate::hold::{self, Hold, Written};

/// The hold's name for the MySQL side: the master node, as `sengu-drill manual --name` takes it.
pub fn hold_name(settings: &HookSettings) -> &str {
    &settings.names.master_node
}

/// Adds the hold, if one is in force, as a detail line. Skipped when the hook could not reach
/// Consul at all: one failure said is enough.
pub fn show(settings: &HookSettings, report: Report) -> Report {
    if matches!(report.exit, HookExit::ConsulNotUpdated | HookExit::ConsulRefused) {
        return report;
    }
    match hold::read(&settings.consul, hold_name(settings)) {
        Ok(holds) => match holds.describe(SystemTime::now()) {
            Some(line) => report.detail(format!("hold: {line}")),
            None => report,
        },
        Err(e) => report.detail(format!("hold: could not be read ({e}); the hooks do not depend on it")),
    }
}

/// After a published failover, blocks further automatic failovers of this master for
/// `block_after_failover` (a zero period writes nothing), and says what was written.
pub fn block_after_failover(settings: &HookSettings, masters: &Masters, report: Report, log: &mut ActionLog) -> Report {
    if settings.block_after_failover.is_zero() || !matches!(report.exit, HookExit::Done | HookExit::DnsNotUpdated) {
        return report;
    }
    let name = hold_name(settings);
    let old = masters.old.as_ref().map_or_else(|| "an unknown master".to_string(), ToString::to_string);
    let hold = Hold::now(format!("after the failover {old} -> {}", masters.new), Some(settings.block_after_failover));
    let until = hold.until.map(hold::time_text).unwrap_or_default();
    match hold::set_block(&settings.consul, name, &hold) {
        Ok(Written::Changed(_)) => {
            log.record("block", &[("name", &name), ("key", &hold::key(name)), ("until", &until), ("why", &hold.why)]);
            report.detail(format!(
                "wrote the post-failover block in kv {}: automatic failover of {name} blocked until {until}; `sengu-drill manual off --name {name}` clears it",
                hold::key(name)
            ))
        }
        Ok(Written::Unchanged(holds)) => {
            let line = holds.active_block(SystemTime::now()).map_or_else(|| "in place".to_string(), |b| format!("until {}", b.until.map(hold::time_text).unwrap_or_default()));
            report.detail(format!("post-failover block already in kv {}: {line}", hold::key(name)))
        }
        Err(e) => report.detail(format!("post-failover block not written ({e}); the new master is published all the same")),
    }
}
