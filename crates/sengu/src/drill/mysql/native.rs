//! The MySQL drill's native switchover for a MariaDB GTID pair, without an external command:
//! every check that can refuse first, then the switch in the order that loses no acknowledged
//! write, reusing the hooks' own library functions for every Consul change:
//!
//! 1. unpublish the old master (`mysql_hooks::before_with`: one transaction, the move recorded);
//! 2. fence it: `read_only=ON`, then kill its client connections (not the replication threads,
//!    not this connection), so nothing writes there any more;
//! 3. read its `@@gtid_binlog_pos` and wait, on the new master, with `MASTER_GTID_WAIT` until it
//!    has applied that position (`catch_up`);
//! 4. promote the new master: `STOP SLAVE`, `RESET SLAVE ALL`, `read_only=OFF`;
//! 5. publish it (`mysql_hooks::after_with`: verified, one transaction, the move cleared);
//! 6. repoint the old master at it (`MASTER_USE_GTID=current_pos`), and once that replicates,
//!    let `after_with` point the replica record at it.
//!
//! A failure before step 4 finishes restores what it safely can: the new master is made a
//! replica of the old one again if it was touched, the old master is made writable and
//! published again (it has every write: nothing else took any). From step 4 on nothing is
//! undone (the new master may have taken writes); the outcome says exactly what state is left
//! and what a person must do. MySQL pairs are refused at the pre-check: the statements differ
//! (`WAIT_FOR_EXECUTED_GTID_SET`, `MASTER_AUTO_POSITION`) and no MySQL server is in the tests.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::SwitchOutcome;
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::drill::report::PreCheck;
use crate::drill::timeline::Timeline;
use crate::mysql::{Credentials, Flavor, Server, Timeouts};
use crate::mysql_hooks::records::View;
use crate::mysql_hooks::{after_with, before_with, HookExit, HookSettings, Masters};

/// The native switchover's settings.
#[derive(Debug, Serialize)]
pub struct Native {
    /// The server to promote; `None`: the one `--server` that is not the master.
    pub to: Option<HostPort>,
    /// Every server of the pair (`--server`).
    pub servers: Vec<HostPort>,
    /// The replication account written into the old master's `CHANGE MASTER TO`.
    pub repl: Credentials,
    /// Longest wait for the new master to apply the old master's last write.
    #[serde(serialize_with = "crate::human::exact")]
    pub catch_up: Duration,
    /// Longest wait for each other step (each statement, each Consul transaction's retries).
    #[serde(serialize_with = "crate::human::exact")]
    pub step: Duration,
    /// The hooks' settings: records, Consul, and the admin login in `credentials`.
    pub hooks: HookSettings,
}

impl Native {
    fn timeouts(&self) -> Timeouts {
        Timeouts::all(self.step)
    }

    fn connect(&self, at: &HostPort, t: Timeouts) -> Result<Server, String> {
        Server::connect(at, &self.hooks.credentials, t).map_err(|e| e.to_string())
    }

    /// The server to promote when `old` is the master.
    fn target(&self, old: &HostPort) -> Result<HostPort, String> {
        if let Some(to) = &self.to {
            return if to == old { Err(format!("--to {to} is the current master")) } else { Ok(to.clone()) };
        }
        let others: Vec<&HostPort> = self.servers.iter().filter(|s| *s != old).collect();
        match others.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(format!("no --server other than the master {old}")),
            _ => Err(format!("{} servers besides the master {old}: name the one to promote with --to", others.len())),
        }
    }
}

/// Every check that can refuse a switch from `old`, in order; returns the server to promote
/// when all pass. Changes nothing.
pub(super) fn precheck(n: &Native, old: &HostPort, checks: &mut Vec<PreCheck>) -> Option<HostPort> {
    let verdict = check_pair(n, old);
    match verdict {
        Ok((new, lines)) => {
            for (name, text) in lines {
                checks.push(PreCheck::ok(name, text));
            }
            Some(new)
        }
        Err((name, text)) => {
            checks.push(PreCheck::failed(name, text));
            None
        }
    }
}

type Checked = Result<(HostPort, Vec<(&'static str, String)>), (&'static str, String)>;

fn check_pair(n: &Native, old: &HostPort) -> Checked {
    let new = n.target(old).map_err(|e| ("pair", e))?;
    let mut lines = Vec::new();
    let old_role = n.connect(old, n.timeouts()).and_then(|mut s| s.role().map_err(|e| e.to_string())).map_err(|e| ("old master", e))?;
    if old_role.flavor != Flavor::MariaDb {
        return Err(("old master", format!("{old} is MySQL ({}): the native switchover handles MariaDB GTID pairs; use --switchover-cmd", old_role.version)));
    }
    if !old_role.is_writable() {
        let why: Vec<String> = old_role.write_blockers().iter().map(ToString::to_string).collect();
        return Err(("old master", format!("{old} is not a writable master: {}", why.join(", "))));
    }
    lines.push(("old master", format!("{old} answers as a writable master ({})", old_role.version)));
    let new_role = n.connect(&new, n.timeouts()).and_then(|mut s| s.role().map_err(|e| e.to_string())).map_err(|e| ("new master", e))?;
    let Some(link) = &new_role.replica else {
        return Err(("new master", format!("{new} does not replicate")));
    };
    if link.master != *old {
        return Err(("new master", format!("{new} replicates from {}, not from {old}", link.master)));
    }
    if !link.is_healthy() {
        let error = link.last_io_error.as_ref().or(link.last_sql_error.as_ref()).map(|e| format!(", {}: {}", e.code, e.message)).unwrap_or_default();
        return Err(("new master", format!("replication {old} -> {new} is not healthy: IO {}, SQL {}{error}", link.io, if link.sql_running { "Yes" } else { "No" })));
    }
    if !link.using_gtid.as_deref().is_some_and(|g| g.eq_ignore_ascii_case("slave_pos") || g.eq_ignore_ascii_case("current_pos")) {
        return Err(("new master", format!("{new} does not replicate by GTID (Using_Gtid {:?})", link.using_gtid.as_deref().unwrap_or("No"))));
    }
    if let Some(lag) = link.seconds_behind_master.filter(|lag| Duration::from_secs(*lag) > n.catch_up) {
        return Err(("new master", format!("{new} is {lag}s behind {old}, more than the catch-up timeout {}", crate::human::duration(n.catch_up))));
    }
    lines.push(("new master", format!("{new} replicates from {old} by GTID ({}), both threads running", link.using_gtid.as_deref().unwrap_or_default())));
    for other in n.servers.iter().filter(|s| **s != new && *s != old) {
        if crate::mysql_hooks::servers::replicates_from(other, old, &n.hooks.credentials, n.timeouts()) {
            return Err(("pair", format!("{other} replicates from {old} too: the native switchover handles a pair only")));
        }
    }
    let names = &n.hooks.names;
    let view = View::read(&n.hooks.consul, names).map_err(|e| ("consul", format!("cannot read the master record: {e}")))?;
    if let Some(m) = view.move_record() {
        return Err(("consul", format!("a move is recorded in kv {} ({} -> {}): a hook has not finished it", names.move_key(), m.old.as_deref().unwrap_or("unknown"), m.new.as_deref().unwrap_or("unknown"))));
    }
    if !view.names(old) || view.master_node.is_none() || view.kv.is_none() {
        return Err(("consul", format!("{}, not {old}", view.describe(names))));
    }
    lines.push(("consul", view.describe(names)));
    Ok((new, lines))
}

/// What a failed step leaves, for the restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touched {
    /// Only Consul and the old master's flags/connections.
    OldOnly,
    /// `STOP SLAVE` ran on the new master.
    NewStopped,
    /// `RESET SLAVE ALL` ran: the new master forgot the old one.
    NewReset,
}

/// One native switch from `old` to `new`, marking each step on the timeline.
pub(super) fn switch(n: &Native, old: &HostPort, new: &HostPort, timeline: &Timeline, log: &mut ActionLog) -> SwitchOutcome {
    timeline.mark("switch started", format!("native switchover {old} -> {new}"));
    log.record("native-switchover", &[("old", old), ("new", new)]);
    let mut notes = Vec::new();

    let unpublished = before_with(&n.hooks, Some(old), Some(new), log, &mut |_| {});
    timeline.mark("old master unpublished", unpublished.summary.clone());
    if unpublished.exit != HookExit::Done {
        let text = format!("the old master could not be unpublished: {}; nothing else was changed", unpublished.summary);
        return SwitchOutcome::aborted(text, notes);
    }

    // Fence: no write may reach the old master once its position is read.
    let fenced = n.connect(old, n.timeouts()).and_then(|mut s| {
        let killed = s.fence().map_err(|e| e.to_string())?;
        let pos = s.gtid_binlog_pos().map_err(|e| e.to_string())?;
        Ok((killed, pos))
    });
    let pos = match fenced {
        Ok((killed, pos)) => {
            timeline.mark("old master read-only", format!("{killed} client connections killed, at GTID {pos:?}"));
            log.record("fence", &[("old", old), ("killed", &killed), ("gtid", &pos)]);
            pos
        }
        Err(e) => return restore(n, old, new, Touched::OldOnly, format!("the old master {old} could not be fenced: {e}"), timeline, log, notes),
    };

    // Caught up: the new master has applied everything the old one acknowledged.
    let wait = Timeouts { read: n.catch_up + n.step, ..n.timeouts() };
    let caught = n.connect(new, wait).and_then(|mut s| {
        let sql = "SELECT MASTER_GTID_WAIT(?, ?)";
        let r: Vec<Option<i64>> = s.exec_rows(sql, (pos.as_str(), n.catch_up.as_secs_f64())).map_err(|e| e.to_string())?;
        match r.first().copied().flatten() {
            Some(0) => Ok(s),
            Some(_) => Err(format!("{new} did not apply GTID {pos:?} within {}", crate::human::duration(n.catch_up))),
            None => Err(format!("{new}: MASTER_GTID_WAIT returned NULL (no GTID replication?)")),
        }
    });
    let mut server = match caught {
        Ok(s) => {
            timeline.mark("new master caught up", format!("applied GTID {pos:?}"));
            s
        }
        Err(e) => return restore(n, old, new, Touched::OldOnly, e, timeline, log, notes),
    };

    // Promote.
    let mut touched = Touched::OldOnly;
    let promoted = (|| {
        server.exec("STOP SLAVE").map_err(|e| e.to_string())?;
        touched = Touched::NewStopped;
        server.exec("RESET SLAVE ALL").map_err(|e| e.to_string())?;
        touched = Touched::NewReset;
        server.set_read_only(false).map_err(|e| e.to_string())
    })();
    if let Err(e) = promoted {
        return restore(n, old, new, touched, format!("{new} could not be promoted: {e}"), timeline, log, notes);
    }
    timeline.mark("new master promoted", "STOP SLAVE, RESET SLAVE ALL, read_only=OFF");
    log.record("promote", &[("new", new)]);

    // From here the new master may take writes: nothing is undone.
    let masters = Masters { old: Some(old.clone()), new: new.clone() };
    let published = after_with(&n.hooks, &masters, None, log, &mut |_| {});
    timeline.mark("new master published", published.summary.clone());
    let mut ok = published.exit == HookExit::Done;
    if !ok {
        notes.push(format!(
            "{new} is the writable master with every acknowledged write, but it is not published: {}; the old master {old} is read-only. \
             Publish it with `mysql-after-exec {} {} {} {}`",
            published.summary, old.host, old.port, new.host, new.port
        ));
    }

    match repoint(n, old, new) {
        Ok(()) => {
            timeline.mark("old master replicates from the new one", format!("CHANGE MASTER TO {new}, MASTER_USE_GTID=current_pos"));
            log.record("repoint", &[("old", old), ("new", new)]);
            if ok && wait_replicating(n, old, new) {
                let follow = after_with(&n.hooks, &masters, None, log, &mut |_| {});
                timeline.mark("replica record follows", follow.summary.clone());
            }
        }
        Err(e) => {
            ok = false;
            notes.push(format!("the old master {old} is read-only but not repointed: {e}; make it a replica of {new} by hand (MASTER_USE_GTID=current_pos)"));
        }
    }
    let status = if ok { format!("{new} promoted and published, {old} replicates from it") } else { "switched with problems (see the notes)".to_string() };
    SwitchOutcome { ok, aborted: false, status, notes }
}

/// `CHANGE MASTER TO` the new master with the replication account, then `START SLAVE`. The
/// statement carries a password: a failure is reported by its code only, never with its text.
fn repoint(n: &Native, replica: &HostPort, master: &HostPort) -> Result<(), String> {
    let mut s = n.connect(replica, n.timeouts())?;
    s.exec("STOP SLAVE").map_err(|e| e.to_string())?;
    change_master(n, &mut s, replica, master, "current_pos")
}

/// A string literal's content, for a statement that cannot take parameters.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

/// Waits (up to the step deadline) until `replica` runs both threads against `master`.
fn wait_replicating(n: &Native, replica: &HostPort, master: &HostPort) -> bool {
    let deadline = Instant::now() + n.step;
    loop {
        if crate::mysql_hooks::servers::replicates_from(replica, master, &n.hooks.credentials, n.timeouts()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Puts things back after a failure before the new master took writes: the new master a
/// replica of the old one again (if it was touched), the old master writable and published.
#[allow(clippy::too_many_arguments)]
fn restore(n: &Native, old: &HostPort, new: &HostPort, touched: Touched, why: String, timeline: &Timeline, log: &mut ActionLog, mut notes: Vec<String>) -> SwitchOutcome {
    timeline.mark("switch aborted", why.clone());
    log.record("native-switchover-abort", &[("old", old), ("new", new), ("why", &why)]);
    let mut left = Vec::new();
    let new_back = match touched {
        Touched::OldOnly => Ok(()),
        Touched::NewStopped => n.connect(new, n.timeouts()).and_then(|mut s| s.exec("START SLAVE").map_err(|e| e.to_string())),
        Touched::NewReset => repoint_slave_pos(n, new, old),
    };
    match new_back {
        Ok(()) if touched != Touched::OldOnly => left.push(format!("{new} replicates from {old} again")),
        Ok(()) => {}
        Err(e) => left.push(format!("{new} could not be made a replica of {old} again ({e}): it is read-only and stands alone, fix it by hand")),
    }
    let writable = n.connect(old, n.timeouts()).and_then(|mut s| s.set_read_only(false).map_err(|e| e.to_string()));
    match writable {
        Ok(()) => {
            let back = Masters { old: Some(new.clone()), new: old.clone() };
            let published = after_with(&n.hooks, &back, None, log, &mut |_| {});
            timeline.mark("old master restored", published.summary.clone());
            if published.exit == HookExit::Done {
                left.push(format!("restored: {old} is writable and published again ({})", published.summary));
            } else {
                left.push(format!("{old} is writable again but not published: {}", published.summary));
            }
        }
        Err(e) => left.push(format!("{old} could not be made writable again ({e}): consul holds no master record, a person must decide")),
    }
    notes.push(format!("{why}; {}", left.join("; ")));
    SwitchOutcome::aborted(why, notes)
}

/// The new master forgot the old one (`RESET SLAVE ALL`) but took no writes: replicate from the
/// old master again from where it stopped (`slave_pos`), read-only.
fn repoint_slave_pos(n: &Native, replica: &HostPort, master: &HostPort) -> Result<(), String> {
    let mut s = n.connect(replica, n.timeouts())?;
    s.set_read_only(true).map_err(|e| e.to_string())?;
    change_master(n, &mut s, replica, master, "slave_pos")
}

/// `CHANGE MASTER TO` `master` with the replication account and `MASTER_USE_GTID=use_gtid`,
/// then `START SLAVE`. The statement carries a password: a failure is reported by its code
/// only, never with its text.
fn change_master(n: &Native, s: &mut Server, replica: &HostPort, master: &HostPort, use_gtid: &str) -> Result<(), String> {
    let password = n.repl.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
    let sql = format!(
        "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='{}', MASTER_PASSWORD='{}', MASTER_USE_GTID={use_gtid}, MASTER_CONNECT_RETRY=1",
        quote(&master.host),
        master.port,
        quote(&n.repl.user),
        quote(&password)
    );
    s.exec(&sql).map_err(|e| format!("CHANGE MASTER TO {master} on {replica} failed (error {})", e.code().map_or("-".to_string(), |c| c.to_string())))?;
    s.exec("START SLAVE").map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_a_password_inside_its_literal() {
        assert_eq!(quote("p'w\\x"), "p\\'w\\\\x");
        assert_eq!(quote("plain"), "plain");
    }
}
