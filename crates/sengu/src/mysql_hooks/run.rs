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
use super::servers;
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
    before_with(settings, masters, log, &mut |_| {})
}

/// [`before`] with a [`Between`] callback.
pub fn before_with(settings: &HookSettings, masters: &Masters, log: &mut ActionLog, between: Between<'_>) -> Report {
    let (names, new) = (&settings.names, &masters.new);
    let old = masters.old.as_ref();
    let mut journal = Journal { log, old: old_text(old), new: new.to_string() };
    let what = format!("{} not taken out of consul", old.map_or("old master".to_string(), |o| format!("old master {o}")));
    let mut report = 'consul: {
        for attempt in 1..=MAX_ATTEMPTS {
            let view = match View::read(&settings.consul, names) {
                Ok(view) => view,
                Err(e) => break 'consul journal.consul_failure(&what, &e, None),
            };
            let new_is_master = plan::before_needs_probe(&view, old, new)
                && servers::is_writable_master(new, &settings.credentials, settings.mysql_timeouts);
            let plan = plan::before(&plan::BeforeInput { view: &view, names, old, new, new_is_master, now: SystemTime::now() });
            if plan.is_empty() {
                let state = view.describe(names);
                journal.record("unchanged", "nothing", None, &state);
                let why = if new_is_master { format!("{new} is already the published master and writable") } else { "nothing to remove".into() };
                break 'consul Report::new(HookExit::Done, format!("{why}: {state}"));
            }
            between(attempt);
            match apply(&settings.consul, &plan) {
                Applied::Done { index } => {
                    let state = plan.result.describe(names);
                    journal.record("unpublish", &plan.changes_text(), index, &state);
                    let summary = format!("{} taken out of consul{}: {state}", old.map_or("master records".into(), |o| format!("old master {o}")), at(index));
                    break 'consul with_changes(Report::new(HookExit::Done, summary), &plan);
                }
                Applied::Conflict => continue,
                Applied::Failed(e) => break 'consul journal.consul_failure(&what, &e, Some(view.describe(names))),
            }
        }
        journal.kept_changing(&what)
    };
    if settings.fence_old_master {
        report = match old {
            Some(old) => {
                let fence = servers::fence(old, &settings.credentials, settings.fence_timeouts);
                journal.log.record("fence", &[("old", &old), ("new", &new), ("result", &fence.label()), ("detail", &fence)]);
                report.detail(fence.to_string())
            }
            None => report.detail("old master not fenced: mysqlfailover did not know it (UNKNOWN)"),
        };
    }
    report
}

/// `mysql-after-exec`: verifies the new master, then publishes it (or, if it failed, makes
/// sure Consul names no wrong master), then waits for DNS if asked to.
pub fn after(settings: &HookSettings, masters: &Masters, log: &mut ActionLog) -> Report {
    after_with(settings, masters, log, &mut |_| {})
}

/// [`after`] with a [`Between`] callback.
pub fn after_with(settings: &HookSettings, masters: &Masters, log: &mut ActionLog, between: Between<'_>) -> Report {
    let (names, new, creds, timeouts) = (&settings.names, &masters.new, &settings.credentials, settings.mysql_timeouts);
    let mut journal = Journal { log, old: old_text(masters.old.as_ref()), new: new.to_string() };
    let verdict = servers::verify_new_master(new, creds, timeouts, settings.make_writable);
    let mut notes = Vec::new();
    if verdict.as_ref().is_ok_and(|v| v.made_writable) {
        journal.log.record("make-writable", &[("new", &new), ("changed", &"read_only=OFF")]);
        notes.push(format!("turned read_only off on {new} (--make-writable)"));
    }
    let what = match &verdict {
        Ok(_) => format!("{new} not published"),
        Err(rejection) => format!("new master not published: {rejection}"),
    };
    let mut probed: HashMap<HostPort, bool> = HashMap::new();
    let mut report = 'consul: {
        for attempt in 1..=MAX_ATTEMPTS {
            let view = match View::read(&settings.consul, names) {
                Ok(view) => view,
                Err(e) => break 'consul journal.consul_failure(&what, &e, None),
            };
            let old = masters.old.clone().or_else(|| {
                view.move_record().filter(|m| m.new_addr().as_ref() == Some(new)).and_then(MoveRecord::old_addr)
            });
            if masters.old.is_none() {
                journal.old = old_text(old.as_ref());
            }
            let old = old.as_ref();
            let (plan, exit, action) = match &verdict {
                Err(_) => {
                    let plan = plan::unpublish(&plan::UnpublishInput { view: &view, names, old, new, now: SystemTime::now() });
                    (plan, HookExit::NewMasterRejected, "refused")
                }
                Ok(_) => {
                    let others = plan::others(&view, old, new);
                    let live = others.iter().find(|o| *probed.entry((*o).clone()).or_insert_with(|| servers::is_writable_master(o, creds, timeouts)));
                    if let Some(other) = live {
                        let state = view.describe(names);
                        journal.record("conflict", "nothing", None, &state);
                        break 'consul Report::new(
                            HookExit::OtherMaster,
                            format!("{what}: {state}, and {other} is a writable master too; left as is, a person must decide which master is right"),
                        );
                    }
                    for other in &others {
                        let note = format!("replacing {other} in consul: it is not a writable master");
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    }
                    let old_replicates_new = old.is_some_and(|o| servers::replicates_from(o, new, creds, timeouts));
                    let input = plan::PublishInput { view: &view, names, old, new, kv_format: settings.kv_format, old_replicates_new, now: SystemTime::now() };
                    (plan::publish(&input), HookExit::Done, "publish")
                }
            };
            let summary = |state: &str, index: Option<u64>| match &verdict {
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
            match apply(&settings.consul, &plan) {
                Applied::Done { index } => {
                    let state = plan.result.describe(names);
                    journal.record(action, &plan.changes_text(), index, &state);
                    break 'consul with_changes(Report::new(exit, summary(&state, index)), &plan);
                }
                Applied::Conflict => continue,
                Applied::Failed(e) => break 'consul journal.consul_failure(&what, &e, Some(view.describe(names))),
            }
        }
        journal.kept_changing(&what)
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

    /// A Consul call failed: nothing of this run's transaction was applied. `state` is what
    /// the last read showed, when there was one.
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

    fn kept_changing(&mut self, what: &str) -> Report {
        let error = format!("the records changed under every one of {MAX_ATTEMPTS} attempts");
        self.log.record("failed", &[("old", &self.old), ("new", &self.new), ("error", &error)]);
        Report::new(HookExit::ConsulNotUpdated, format!("{what}: {error}; this run changed nothing in consul (retry is safe)"))
    }
}

fn old_text(old: Option<&HostPort>) -> String {
    old.map_or("unknown".to_string(), ToString::to_string)
}

fn at(index: Option<u64>) -> String {
    index.map_or(String::new(), |i| format!(" at consul index {i}"))
}

fn with_changes(mut report: Report, plan: &Plan) -> Report {
    report.details.extend(plan.changes.iter().map(ToString::to_string));
    report
}

enum Applied {
    Done { index: Option<u64> },
    /// A guard failed: the records changed since they were read.
    Conflict,
    Failed(consul::Error),
}

/// Sends the plan's transaction. A rollback counts as a conflict only when every failed
/// operation is a KV operation: those are the guards; a failed catalog operation is Consul
/// refusing what we sent, which a re-read will not fix.
fn apply(client: &Client, plan: &Plan) -> Applied {
    match client.txn(&plan.ops) {
        Ok(results) => Applied::Done { index: results.iter().filter_map(result_index).max() },
        Err(consul::Error::TxnRolledBack { errors, .. })
            if !errors.is_empty() && errors.iter().all(|e| matches!(plan.ops.get(e.op_index), Some(TxnOp::Kv(_)))) =>
        {
            Applied::Conflict
        }
        Err(e) => Applied::Failed(e),
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
                humantime::format_duration(wait.timeout)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
