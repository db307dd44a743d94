//! The hooks' executors: read Consul, probe MySQL, let `plan` decide, send the plan as one
//! transaction, and when another writer changed the records in between (the transaction's
//! guards roll it back) read again and decide again. Each change goes to the action log with
//! the Consul index it was applied at, and every report says what Consul holds afterwards.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use super::Masters;
use super::outcome::{HookExit, Report};
use super::plan::{self, Plan};
use super::records::{MoveRecord, View};
use super::servers::{self, Candidate, Rejection, Source};
use super::settings::{HookSettings, Names, WaitDns};
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::consul::{self, Client, TxnOp, TxnResult};
use crate::dns;

/// How many times a hook reads and decides again after its transaction was rolled back because
/// the records changed under it. Past that, it gives up with "retry is safe".
pub const MAX_ATTEMPTS: u32 = 5;

/// A callback run after Consul was read and before the transaction decided on that read is
/// sent, with the attempt number (from 1). Tests play a concurrent writer here.
pub type Between<'a> = &'a mut dyn FnMut(u32);

/// `mysql-before-exec`: takes the old master out of Consul, then fences it if asked to.
pub fn before(settings: &HookSettings, masters: &Masters, log: &mut ActionLog) -> Report {
    before_with(settings, masters.old.as_ref(), Some(&masters.new), log, &mut |_| {})
}

/// [`before`] with a [`Between`] callback, for a move whose new master may not be chosen yet
/// (`new` is `None` in MHA's failover `stop`).
pub fn before_with(settings: &HookSettings, old: Option<&HostPort>, new: Option<&HostPort>, log: &mut ActionLog, between: Between<'_>) -> Report {
    let report = unpublish(settings, old, new, log, between);
    if !settings.fence_old_master {
        return report;
    }
    match old {
        Some(old) => fence_old(settings, old, new, report, log).0,
        None => report.detail("old master not fenced: mysqlfailover did not know it (UNKNOWN)"),
    }
}

/// `before` without fencing: takes every master record out of Consul and records the move.
pub(super) fn unpublish(settings: &HookSettings, old: Option<&HostPort>, new: Option<&HostPort>, log: &mut ActionLog, between: Between<'_>) -> Report {
    let names = &settings.names;
    let mut journal = Journal { log, old: addr_text(old), new: addr_text(new) };
    let what = format!("{} not taken out of consul", old.map_or("old master".to_string(), |o| format!("old master {o}")));
    'consul: {
        for attempt in 1..=MAX_ATTEMPTS {
            let view = match View::read(&settings.consul, names) {
                Ok(view) => view,
                Err(e) => break 'consul journal.consul_failure(&what, &e, None),
            };
            let new_is_master = plan::before_needs_probe(&view, old, new)
                && new.is_some_and(|new| servers::is_writable_master(new, &settings.credentials, settings.mysql_timeouts));
            let plan = plan::before(&plan::BeforeInput { view: &view, names, old, new, new_is_master, now: SystemTime::now() });
            if plan.is_empty() {
                let state = view.describe(names);
                journal.record("unchanged", "nothing", None, &state);
                let why = match new.filter(|_| new_is_master) {
                    Some(new) => format!("{new} is already the published master and writable"),
                    None => "nothing to remove".into(),
                };
                break 'consul Report::new(HookExit::Done, format!("{why}: {state}"));
            }
            between(attempt);
            match send(&settings.consul, names, &view, &plan) {
                Sent::Applied { index, lost_reply } => {
                    let state = plan.result.describe(names);
                    journal.record("unpublish", &plan.changes_text(), index, &state);
                    let summary = format!("{} taken out of consul{}: {state}", old.map_or("master records".into(), |o| format!("old master {o}")), at(index));
                    break 'consul with_changes(Report::new(HookExit::Done, summary), &plan, lost_reply.as_ref());
                }
                Sent::Conflict => continue,
                Sent::NotApplied { error, state } => break 'consul journal.consul_failure(&what, &error, Some(state)),
                Sent::Unknown { error, state } => break 'consul journal.unknown_outcome(&what, &error, state),
            }
        }
        journal.kept_changing(&what)
    }
}

/// Fences the old master and adds the result to `report`; also logged.
pub(super) fn fence_old(settings: &HookSettings, old: &HostPort, new: Option<&HostPort>, report: Report, log: &mut ActionLog) -> (Report, servers::Fence) {
    let fence = servers::fence(old, &settings.credentials, settings.fence_timeouts);
    log.record("fence", &[("old", &old), ("new", &addr_text(new)), ("result", &fence.label()), ("detail", &fence)]);
    (report.detail(fence.to_string()), fence)
}

/// `mysql-after-exec`: verifies the new master, then publishes it (or, if it failed, makes
/// sure Consul names no wrong master), then waits for DNS if asked to.
pub fn after(settings: &HookSettings, masters: &Masters, log: &mut ActionLog) -> Report {
    after_with(settings, masters, None, log, &mut |_| {})
}

/// [`after`] with a [`Between`] callback, and the link to the old master that the new master
/// may keep when it has applied all of it (MHA's online switch calls `start` before it
/// resets replication on the new master).
///
/// Order: inspect the new master (changing nothing), read Consul, refuse when another
/// writable master is published; only then, with `--make-writable`, turn `read_only` off;
/// then send the one transaction.
pub fn after_with(settings: &HookSettings, masters: &Masters, source: Option<&Source>, log: &mut ActionLog, between: Between<'_>) -> Report {
    let (names, new, creds, timeouts) = (&settings.names, &masters.new, &settings.credentials, settings.mysql_timeouts);
    let mut journal = Journal { log, old: addr_text(masters.old.as_ref()), new: new.to_string() };
    let mut verdict = servers::inspect_new_master(new, creds, timeouts, settings.make_writable, source);
    let mut notes = Vec::new();
    let mut probed: HashMap<HostPort, bool> = HashMap::new();
    let mut report = 'consul: {
        for attempt in 1..=MAX_ATTEMPTS {
            let view = match View::read(&settings.consul, names) {
                Ok(view) => view,
                Err(e) => break 'consul journal.consul_failure(&not_published(&verdict, new), &e, None),
            };
            let old = masters.old.clone().or_else(|| {
                view.move_record().filter(|m| m.new_addr().as_ref() == Some(new)).and_then(MoveRecord::old_addr)
            });
            if masters.old.is_none() {
                journal.old = addr_text(old.as_ref());
            }
            let old = old.as_ref();
            if verdict.is_ok() {
                let others = plan::others(&view, old, new);
                let live = others.iter().find(|o| *probed.entry((*o).clone()).or_insert_with(|| servers::is_writable_master(o, creds, timeouts)));
                if let Some(other) = live {
                    let state = view.describe(names);
                    journal.record("conflict", "nothing", None, &state);
                    break 'consul Report::new(
                        HookExit::OtherMaster,
                        format!(
                            "{}: {state}, and {other} is a writable master too; left as is, a person must decide which master is right",
                            not_published(&verdict, new)
                        ),
                    );
                }
                for other in &others {
                    let note = format!("replacing {other} in consul: it is not a writable master");
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
            }
            if matches!(verdict, Ok(Candidate::ReadOnly)) {
                // Every check that can refuse the move has passed: only now may it take writes.
                verdict = servers::make_writable(new, creds, timeouts, source).map(|()| Candidate::Writable);
                if verdict.is_ok() {
                    journal.log.record("make-writable", &[("new", &new), ("changed", &"read_only=OFF")]);
                    notes.push(format!("turned read_only off on {new} (--make-writable)"));
                }
            }
            let what = not_published(&verdict, new);
            let (plan, exit, action) = match &verdict {
                Err(rejection) => {
                    // Only the server's own answer shows it is wrong; a failure to ask leaves a
                    // record that names it alone.
                    let keep_new = !rejection.is_evidence();
                    let plan = plan::unpublish(&plan::UnpublishInput { view: &view, names, old, new, keep_new, now: SystemTime::now() });
                    (plan, HookExit::NewMasterRejected, "refused")
                }
                Ok(_) => {
                    let old_replicates_new = old.is_some_and(|o| servers::replicates_from(o, new, creds, timeouts));
                    let input = plan::PublishInput { view: &view, names, old, new, kv_format: settings.kv_format, old_replicates_new, now: SystemTime::now() };
                    (plan::publish(&input), HookExit::Done, "publish")
                }
            };
            let summary = |state: &str, index: Option<u64>| match &verdict {
                Err(rejection) if !rejection.is_evidence() && view.names(new) => {
                    format!("{new} could not be verified: {rejection}; {state}, left as is: nothing shows it is wrong")
                }
                Err(_) => format!("{what}; {state}"),
                Ok(_) if plan.is_empty() => format!("{new} is already published: {state}"),
                Ok(_) => format!("published {new} as the master{}: {state}", at(index)),
            };
            if plan.is_empty() {
                let state = view.describe(names);
                journal.record(if exit == HookExit::Done { "unchanged" } else { action }, "nothing", None, &state);
                break 'consul Report::new(exit, summary(&state, None));
            }
            between(attempt);
            match send(&settings.consul, names, &view, &plan) {
                Sent::Applied { index, lost_reply } => {
                    let state = plan.result.describe(names);
                    journal.record(action, &plan.changes_text(), index, &state);
                    break 'consul with_changes(Report::new(exit, summary(&state, index)), &plan, lost_reply.as_ref());
                }
                Sent::Conflict => continue,
                Sent::NotApplied { error, state } => break 'consul journal.consul_failure(&what, &error, Some(state)),
                Sent::Unknown { error, state } => break 'consul journal.unknown_outcome(&what, &error, state),
            }
        }
        journal.kept_changing(&not_published(&verdict, new))
    };
    report.details.splice(0..0, notes);
    if let (HookExit::Done, Ok(_), Some(wait)) = (report.exit, &verdict, &settings.wait_dns) {
        report = match wait_for_dns(wait, names, new) {
            Ok(answer) => report.detail(answer),
            Err(problem) => {
                report.exit = HookExit::DnsNotUpdated;
                report.summary = format!("{}; but {problem}", report.summary);
                report
            }
        };
    }
    report
}

/// The start of a failure message of `after`: what was not done, and why when verification
/// failed.
fn not_published(verdict: &Result<Candidate, Rejection>, new: &HostPort) -> String {
    match verdict {
        Ok(_) => format!("{new} not published"),
        Err(rejection) => format!("new master not published: {rejection}"),
    }
}

/// Writes action-log lines with the run's old and new master.
struct Journal<'a> {
    log: &'a mut ActionLog,
    old: String,
    new: String,
}

impl Journal<'_> {
    /// One line: the action, the old and new master, what changed, the Consul index the change
    /// was applied at (`-` when none), and what Consul holds now.
    fn record(&mut self, action: &str, changed: &str, index: Option<u64>, consul: &str) {
        let index = index.map_or("-".to_string(), |i| i.to_string());
        self.log.record(action, &[("old", &self.old), ("new", &self.new), ("changed", &changed), ("index", &index), ("consul", &consul)]);
    }

    /// A Consul call failed and nothing of this run's transaction was applied (Consul refused
    /// it, it was never sent, or a re-read showed the records as they were). `state` is what
    /// Consul was last seen to hold, when it could be read.
    fn consul_failure(&mut self, what: &str, error: &consul::Error, state: Option<String>) -> Report {
        let state = match state {
            Some(state) => format!("consul is unchanged: {state}"),
            None => "this run changed nothing in consul; what it holds could not be read".to_string(),
        };
        self.log.record("failed", &[("old", &self.old), ("new", &self.new), ("error", &error), ("consul", &state)]);
        let exit = HookExit::for_consul_error(error);
        let retry = if exit == HookExit::ConsulNotUpdated { " (retry is safe)" } else { "" };
        Report::new(exit, format!("{what}: {error}; {state}{retry}"))
    }

    /// The transaction's reply was lost and a re-read could not tell whether it was applied:
    /// say what Consul holds now, or that it could not be read. Never "unchanged".
    fn unknown_outcome(&mut self, what: &str, error: &consul::Error, state: Option<String>) -> Report {
        let state = match state {
            Some(state) => format!("a re-read shows neither the records before nor the ones sent: {state}"),
            None => "consul could not be re-read, so whether it was applied is unknown".to_string(),
        };
        self.log.record("unknown", &[("old", &self.old), ("new", &self.new), ("error", &error), ("consul", &state)]);
        Report::new(HookExit::ConsulNotUpdated, format!("{what}: the reply to the transaction was lost ({error}); {state} (rerun to finish)"))
    }

    fn kept_changing(&mut self, what: &str) -> Report {
        let error = format!("the records changed under every one of {MAX_ATTEMPTS} attempts");
        self.log.record("failed", &[("old", &self.old), ("new", &self.new), ("error", &error)]);
        Report::new(HookExit::ConsulNotUpdated, format!("{what}: {error}; this run changed nothing in consul (retry is safe)"))
    }
}

fn addr_text(addr: Option<&HostPort>) -> String {
    addr.map_or("unknown".to_string(), ToString::to_string)
}

fn at(index: Option<u64>) -> String {
    index.map_or(String::new(), |i| format!(" at consul index {i}"))
}

fn with_changes(mut report: Report, plan: &Plan, lost_reply: Option<&consul::Error>) -> Report {
    if let Some(error) = lost_reply {
        report.details.push(format!("the reply to the transaction was lost ({error}); a re-read shows it applied"));
    }
    report.details.extend(plan.changes.iter().map(ToString::to_string));
    report
}

/// What became of a transaction.
enum Sent {
    /// Applied: Consul said so, or (`lost_reply`) its reply was lost and a re-read shows the
    /// records the plan wrote.
    Applied { index: Option<u64>, lost_reply: Option<consul::Error> },
    /// A guard failed: the records changed since they were read.
    Conflict,
    /// Not applied: refused, never sent, or lost and a re-read shows the records as they were
    /// (`state`).
    NotApplied { error: consul::Error, state: String },
    /// The reply was lost and a re-read shows other records (`state`), or failed (`None`).
    Unknown { error: consul::Error, state: Option<String> },
}

/// Sends the plan's transaction. A rollback counts as a conflict only when every failed
/// operation is a KV operation: those are the guards; a failed catalog operation is Consul
/// refusing what we sent, which a re-read will not fix. When the reply may have been lost
/// after Consul applied the transaction, the records are read again and compared: the audit
/// log must never claim a change did not happen when it did.
fn send(client: &Client, names: &Names, view: &View, plan: &Plan) -> Sent {
    match client.txn(&plan.ops) {
        Ok(results) => Sent::Applied { index: results.iter().filter_map(result_index).max(), lost_reply: None },
        Err(consul::Error::TxnRolledBack { errors, .. })
            if !errors.is_empty() && errors.iter().all(|e| matches!(plan.ops.get(e.op_index), Some(TxnOp::Kv(_)))) =>
        {
            Sent::Conflict
        }
        Err(error) if error.may_have_applied() => match View::read(client, names) {
            Ok(now) if now.same_records(&plan.result) => Sent::Applied { index: None, lost_reply: Some(error) },
            Ok(now) if now.same_records(view) => Sent::NotApplied { error, state: now.describe(names) },
            Ok(now) => Sent::Unknown { error, state: Some(now.describe(names)) },
            Err(_) => Sent::Unknown { error, state: None },
        },
        Err(error) => Sent::NotApplied { error, state: view.describe(names) },
    }
}

/// The index a transaction result was written at. Deletes return no result.
fn result_index(result: &TxnResult) -> Option<u64> {
    [
        result.kv.as_ref().map(|kv| kv.modify_index),
        result.node.as_ref().map(|n| n.modify_index),
        result.service.as_ref().map(|s| s.modify_index),
        result.check.as_ref().map(|c| c.modify_index),
    ]
    .into_iter()
    .flatten()
    .find(|&i| i > 0)
}

struct Addrs<'a>(&'a [IpAddr]);

impl fmt::Display for Addrs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", list.join(", "))
    }
}

/// Polls the DNS server until `name` answers exactly the new master's addresses, or the wait's
/// timeout passes. `Ok` describes the answer, `Err` what was last seen.
fn wait_for_dns(wait: &WaitDns, names: &Names, new: &HostPort) -> Result<String, String> {
    let name = wait.name.clone().unwrap_or_else(|| format!("{}.node.consul.", names.master_node));
    let mut expected = match new.ip() {
        Some(ip) => vec![ip],
        None => dns::lookup(&new.host, dns::Family::Both, &dns::Source::System, &dns::Options::default())
            .map_err(|e| format!("--wait-dns cannot resolve {} itself: {e}", new.host))?,
    };
    expected.sort();
    let family = match (expected.iter().all(IpAddr::is_ipv4), expected.iter().all(IpAddr::is_ipv6)) {
        (true, _) => dns::Family::V4,
        (_, true) => dns::Family::V6,
        _ => dns::Family::Both,
    };
    let source = dns::Source::Server(wait.server);
    let deadline = Instant::now() + wait.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let options = dns::Options { timeout: left.clamp(Duration::from_millis(100), Duration::from_secs(1)), attempts: 1, transport: dns::Transport::Tcp };
        let seen = match dns::lookup(&name, family, &source, &options) {
            Ok(answer) if answer == expected => return Ok(format!("{source} answers {name} with {}", Addrs(&answer))),
            Ok(answer) => format!("it answers {}", Addrs(&answer)),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "{source} did not answer {name} with {} within {}: {seen}",
                Addrs(&expected),
                crate::human::duration(wait.timeout)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
