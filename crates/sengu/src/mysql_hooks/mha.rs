//! The MySQL hooks under MHA: one script for `master_ip_failover_script` and
//! `master_ip_online_change_script`, every phase told apart by MHA's `--command`.
//!
//! MHA 0.58's sequences, read from its source and checked by running it:
//! - online switch (`masterha_master_switch --master_state=alive`): `stop` (the script must
//!   stop writes on the old master), then MHA locks the old master (`FLUSH TABLES WITH READ
//!   LOCK`), waits until the new master has applied everything, calls `start` while the new
//!   master is still read-only and still linked to the old one, and only then turns `read_only`
//!   off and resets replication on it;
//! - failover (`--master_state=dead`, or the monitor): `stop` or `stopssh` with only the old
//!   master known, then log recovery on the new master (replication stopped, still read-only),
//!   `start`, then `read_only` off;
//! - monitor start-up: `status`.
//!
//! So `stop` is `mysql-before-exec` with fencing on, and `start` is `mysql-after-exec` with
//! `--make-writable` on, where the link to the fenced old master may stay when the new master
//! has applied all of its binary log ([`Source`]). An online switch that `start` refuses is
//! switched back: the old master, which has every write, is made writable and published again,
//! unless the new master shows itself writable (then a person decides). MHA aborts on any exit
//! status but 0 and 10, before it turns `read_only` off on the new master.

use std::time::SystemTime;

use super::held;
use super::outcome::{HookExit, Report};
use super::records::View;
use super::run::{after_with, before_with, fence_old, unpublish};
use super::servers::{self, Fence, OldMaster, Source};
use super::settings::HookSettings;
use super::Masters;
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::hold;
use crate::mysql;

/// MHA's `--command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Command {
    /// Monitor start-up: do Consul and the master agree?
    Status,
    /// Take the old master out (online switch, or a failover without SSH to the old master).
    Stop,
    /// The same, in a failover with SSH to the old master.
    Stopssh,
    /// Publish the new master.
    Start,
}

/// Which of MHA's two scripts was called. MHA passes the old master's MySQL user only to the
/// online change script, so that option tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Failover,
    OnlineChange,
}

/// One call from MHA, its options checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub command: Command,
    pub caller: Caller,
    /// The old master as `--orig_master_host`/`--orig_master_port` give it.
    pub orig: HostPort,
    /// The same server by `--orig_master_ip`, when that differs from the host.
    pub orig_ip: Option<HostPort>,
    /// `None` in a failover's `stop`/`stopssh` and in `status`.
    pub new: Option<HostPort>,
}

/// Runs one MHA call. `settings` must come from [`for_mha`]. `status` refuses while manual
/// mode or a post-failover block holds ([`crate::hold`]), so MHA's monitor does not start;
/// `stop` and `start` carry on (a person's manual switch runs them too) and show the hold; a
/// failover's `start` writes the block.
pub fn run(settings: &HookSettings, call: &Call, log: &mut ActionLog) -> Report {
    match (call.command, &call.new) {
        (Command::Status, _) => status(settings, &call.orig),
        (Command::Stop | Command::Stopssh, new) => held::show(settings, stop(settings, call, new.as_ref(), log)),
        (Command::Start, Some(new)) => {
            let report = start(settings, call, new, log);
            let report = match call.caller {
                Caller::Failover => {
                    let masters = Masters { old: Some(call.orig.clone()), new: new.clone() };
                    held::block_after_failover(settings, &masters, report, log)
                }
                Caller::OnlineChange => report,
            };
            held::show(settings, report)
        }
        // `Call` is built by the command line, which requires the new master for `start`.
        (Command::Start, None) => Report::new(HookExit::BadInput, "start needs --new_master_host and --new_master_port; nothing was changed"),
    }
}

/// The settings MHA's sequence needs whatever the configuration says: the old master is
/// always fenced, and the new master is always made writable before it is published (MHA turns
/// `read_only` off only after `start` returns, and a read-only master must never be published).
pub fn for_mha(mut settings: HookSettings) -> HookSettings {
    settings.fence_old_master = true;
    settings.make_writable = true;
    settings
}

/// `status`: exit 0 when Consul's master record names the old master and it is a writable
/// master, and automatic failover is not held off; otherwise say why not. Changes nothing. A
/// hold that cannot be read is shown and does not stop the monitor (it is advisory here).
fn status(settings: &HookSettings, orig: &HostPort) -> Report {
    let view = match View::read(&settings.consul, &settings.names) {
        Ok(view) => view,
        Err(e) => return Report::new(HookExit::for_consul_error(&e), format!("consul could not be read: {e}")),
    };
    let name = held::hold_name(settings);
    let hold = match hold::read(&settings.consul, name) {
        Ok(holds) => match holds.describe(SystemTime::now()) {
            Some(line) => {
                return Report::new(
                    HookExit::Disagrees,
                    format!("automatic failover is off for {name}: {line}; MHA's monitor must not start (`sengu-drill manual off --name {name}` turns it back on)"),
                );
            }
            None => None,
        },
        Err(e) => Some(format!("hold: could not be read ({e}); not holding the monitor back")),
    };
    let state = view.describe(&settings.names);
    let moving = view.move_record().map(|m| {
        format!("a move is recorded in kv {}: {} -> {}", settings.names.move_key(), m.old.as_deref().unwrap_or("unknown"), m.new.as_deref().unwrap_or("unknown"))
    });
    let answer = mysql::probe(orig, &settings.credentials, settings.mysql_timeouts);
    let master = match &answer {
        Ok(role) if role.is_writable() => Ok(()),
        Ok(role) => Err(format!("{orig} is not writable: {}", role.write_blockers().iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))),
        Err(e) => Err(format!("{orig} could not be asked: {e}")),
    };
    let report = match (view.names(orig), master) {
        (true, Ok(())) if moving.is_none() => Report::new(HookExit::Done, format!("{state}, and {orig} is a writable master")),
        (true, Ok(())) => Report::new(HookExit::Disagrees, format!("{state}, but a move is not finished")),
        (true, Err(why)) => Report::new(HookExit::Disagrees, format!("{state}, but {why}")),
        (false, _) => Report::new(HookExit::Disagrees, format!("{state}, not MHA's master {orig}")),
    };
    let report = match moving {
        Some(line) => report.detail(line),
        None => report,
    };
    match hold {
        Some(line) => report.detail(line),
        None => report,
    }
}

/// `stop`/`stopssh`: unpublish and fence the old master. In an online switch the old master is
/// alive and must stop taking writes: it is fenced only once Consul no longer names it (a
/// failed Consul step leaves everything as it was, and MHA aborts), and if fencing fails it is
/// published again and MHA aborts.
fn stop(settings: &HookSettings, call: &Call, new: Option<&HostPort>, log: &mut ActionLog) -> Report {
    if call.caller == Caller::Failover {
        return before_with(settings, Some(&call.orig), new, log, &mut |_| {});
    }
    let report = unpublish(settings, Some(&call.orig), new, log, &mut |_| {});
    if report.exit != HookExit::Done {
        return report;
    }
    let (mut report, fence) = fence_old(settings, &call.orig, new, report, log);
    if let Fence::Fenced { .. } = fence {
        return report;
    }
    report.exit = HookExit::NewMasterRejected;
    report.summary = format!("online switch stopped: the old master {} could not be fenced; {}", call.orig, report.summary);
    switch_back(settings, &call.orig, new, report, log)
}

/// `start`: check the old master takes no writes, then publish the new master as
/// `mysql-after-exec --make-writable` does, accepting its link to the old master when it has
/// applied all of it. A refused online switch is switched back.
fn start(settings: &HookSettings, call: &Call, new: &HostPort, log: &mut ActionLog) -> Report {
    let source = match servers::inspect_old_master(&call.orig, &settings.credentials, settings.mysql_timeouts) {
        OldMaster::Writable => {
            return Report::new(
                HookExit::OtherMaster,
                format!("{new} not published: the old master {} still takes writes; nothing was changed, MHA aborts and a person must decide", call.orig),
            );
        }
        OldMaster::Fenced { at: Some(at) } => {
            Some(Source { addrs: std::iter::once(call.orig.clone()).chain(call.orig_ip.clone()).collect(), at })
        }
        OldMaster::Fenced { at: None } | OldMaster::Gone(_) => None,
    };
    let masters = Masters { old: Some(call.orig.clone()), new: new.clone() };
    let report = after_with(settings, &masters, source.as_ref(), log, &mut |_| {});
    if call.caller == Caller::OnlineChange && report.exit == HookExit::NewMasterRejected {
        return switch_back(settings, &call.orig, Some(new), report, log);
    }
    report
}

/// Undoes an online switch that cannot finish: the old master has every write (MHA locked it
/// and the new master was never made writable), so it is made writable and published again.
/// Only when the new master answers and is not a writable master: otherwise two could take
/// writes, and the report says a person must decide. The exit stays a failure, so MHA aborts.
fn switch_back(settings: &HookSettings, orig: &HostPort, new: Option<&HostPort>, mut report: Report, log: &mut ActionLog) -> Report {
    let new_state = new.map(|new| (new, mysql::probe(new, &settings.credentials, settings.mysql_timeouts)));
    let blocked = match &new_state {
        Some((new, Ok(role))) if role.is_writable() => Some(format!("{new} is a writable master too")),
        Some((new, Err(e))) => Some(format!("{new} could not be asked ({e})")),
        _ => None,
    };
    if let Some(why) = blocked {
        report.details.push(format!("not switched back to {orig}: {why}; {orig} stays read-only, a person must decide"));
        return report;
    }
    let back = Masters { old: new.cloned(), new: orig.clone() };
    let restored = after_with(settings, &back, None, log, &mut |_| {});
    let line = match restored.exit {
        HookExit::Done => format!("switched back: {}", restored.summary),
        _ => format!("switching back to {orig} failed: {}", restored.summary),
    };
    report.details.push(line);
    report.details.extend(restored.details);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mha_settings_always_fence_and_make_writable() {
        let config = crate::settings::ConfigFile::parse("/etc/sengu/sengu.toml".into(), "[mysql-hooks]\nfence_old_master = false\n").unwrap();
        let consul = crate::settings::ConsulArgs { addr: Some("127.0.0.1:8500".into()) };
        let settings = HookSettings::resolve(&Default::default(), &Default::default(), &Default::default(), &consul, &config).unwrap();
        assert!(!settings.fence_old_master && !settings.make_writable);
        let settings = for_mha(settings);
        assert!(settings.fence_old_master && settings.make_writable);
    }
}
