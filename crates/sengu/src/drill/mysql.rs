//! The MySQL drill: runs a switchover command the operator already trusts (mysqlrpladmin
//! switchover, or a script for MariaDB), or, without one, switches a MariaDB GTID pair itself
//! ([`native`]), while the same probes as the Redis drill write and read through the DNS name,
//! then reports the same figures. With a command the drill does not switch anything itself; it
//! measures what the command and the hooks it calls cost clients. The native switchover runs
//! `--rounds` switches back and forth, the pre-checks passing again before each.
//!
//! The writer `INSERT`s one row per probe interval into a probe table (created if missing)
//! with the drill's id and a sequence number, as the probe user (an application account, not
//! one that bypasses `read_only`). Afterwards every acknowledged row must be on the new master.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod native;

pub use native::Native;

use super::probe::{with_probes, Cadence, NameLookup, Observed, Ports, Store};
use super::report::{self, DrillKind, Invariant, PreCheck, Report, Round, RoundOutcome};
use super::timeline::{Clock, Timeline};
use super::{dns_invariant, figures_from, lost_invariant, rfc3339, Deadlines};
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::consul::Client;
use crate::mysql::{Credentials, Server, Timeouts};

/// Everything a MySQL drill needs.
#[derive(Debug, serde::Serialize)]
pub struct MysqlDrill {
    /// The switchover command: program and arguments, run without a shell (shown redacted).
    /// Empty for the native switchover.
    #[serde(serialize_with = "shown_command")]
    pub switchover: Vec<OsString>,
    /// The native switchover's settings, when there is no command.
    pub native: Option<Native>,
    /// Native switchover: how many switches, back and forth.
    pub rounds: u32,
    /// The hold record the drill obeys ([`crate::hold`]): the master node.
    pub hold_name: String,
    /// Run despite manual mode or a block: a person decided.
    pub despite_hold: bool,
    /// The service or node name, for the report and the history key.
    pub label: String,
    pub dns_name: String,
    pub dns_server: Option<SocketAddr>,
    pub ports: Ports,
    /// The probe user.
    pub credentials: Credentials,
    /// `database.table`, validated.
    pub table: String,
    pub cadence: Cadence,
    #[serde(serialize_with = "crate::human::exact")]
    pub probe_timeout: Duration,
    /// Timeouts of the drill's own statements (table setup, reading back).
    pub timeouts: Timeouts,
    /// `step`: the switchover command's longest run; `settle`: convergence afterwards.
    pub deadlines: Deadlines,
}

/// The switchover command as `--print-config` shows it: redacted, like the action log.
fn shown_command<S: serde::Serializer>(argv: &[OsString], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::redact::command_line(&argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>()))
}

const WARM_UP: Duration = Duration::from_millis(300);
const COOL_DOWN: Duration = Duration::from_millis(200);
/// Most bytes of the command's output kept for the report.
const OUTPUT_TAIL: usize = 1500;

/// The probes' view of MySQL: one row per write.
struct MysqlStore {
    table: String,
    drill: String,
    credentials: Credentials,
    probe: Timeouts,
    admin: Timeouts,
}

/// A connection for the probes and the drill's own statements; failures become the report's
/// text, which names the server.
fn connect(at: &HostPort, creds: &Credentials, t: Timeouts) -> Result<Server, String> {
    Server::connect(at, creds, t).map_err(|e| e.to_string())
}

impl Store for MysqlStore {
    type Conn = Server;

    fn connect(&self, at: &HostPort) -> Result<Self::Conn, String> {
        connect(at, &self.credentials, self.probe)
    }

    fn write(&self, conn: &mut Self::Conn, seq: u64) -> Result<(), String> {
        let sql = format!("INSERT INTO {} (drill, seq) VALUES (?, ?)", self.table);
        conn.exec_params(&sql, (&self.drill, seq)).map_err(|e| e.to_string())
    }

    fn read(&self, conn: &mut Self::Conn) -> Result<(), String> {
        let sql = format!("SELECT MAX(seq) FROM {} WHERE drill = ?", self.table);
        conn.exec_rows::<Option<u64>, _>(&sql, (&self.drill,)).map(|_| ()).map_err(|e| e.to_string())
    }

    fn stored(&self, at: &HostPort) -> Result<BTreeSet<u64>, String> {
        let mut conn = connect(at, &self.credentials, self.admin)?;
        let sql = format!("SELECT seq FROM {} WHERE drill = ?", self.table);
        conn.exec_rows::<u64, _>(&sql, (&self.drill,)).map(|v| v.into_iter().collect()).map_err(|e| e.to_string())
    }
}

/// Runs the drill: pre-checks, then the command with probes around it.
pub fn run(d: &MysqlDrill, _consul: &Client, log: &mut ActionLog) -> Report {
    let now = SystemTime::now();
    let mut report = Report::new(DrillKind::Mysql, &d.label, rfc3339(now));
    let lookup = NameLookup::new(&d.dns_name, d.dns_server, d.probe_timeout.max(Duration::from_millis(200)));
    let id = format!("{}-{}", d.label, now.duration_since(UNIX_EPOCH).map_or(0, |t| t.as_millis()));
    let store = MysqlStore { table: d.table.clone(), drill: id, credentials: d.credentials.clone(), probe: Timeouts::all(d.probe_timeout), admin: d.timeouts };
    let (mut checks, master) = precheck(d, &lookup, Some(&store));
    let pair = match (&d.native, master) {
        (Some(n), Some(old)) => native::precheck(n, &old, &mut checks).map(|new| (old, Some(new))),
        (None, Some(old)) => Some((old, None)),
        (_, None) => None,
    };
    report.prechecks = checks;
    let Some((mut old, mut new)) = pair else {
        report.refused = true;
        report.finish();
        return report;
    };
    let mut holder = old.clone();
    for n in 1..=d.rounds.max(1) {
        if n > 1 {
            match wait_prechecks(d, &lookup) {
                Ok((o, nw)) => (old, new) = (o, Some(nw)),
                Err(failed) => {
                    report.rounds.push(Round::not_started(n, old.to_string(), failed, d.deadlines.settle));
                    break;
                }
            }
        }
        // Each round continues the sequence in a range of its own, as the Redis drill does.
        let round = run_round(d, &lookup, &store, &old, new.as_ref(), n, u64::from(n) * 1_000_000, log);
        holder = round.to.as_deref().and_then(|t| t.parse::<HostPort>().ok()).unwrap_or_else(|| old.clone());
        let passed = round.outcome == RoundOutcome::Passed;
        report.rounds.push(round);
        if !passed || d.native.is_none() {
            break;
        }
    }
    if let Ok(mut c) = connect(&holder, &d.credentials, d.timeouts) {
        let _ = c.exec_params(&format!("DELETE FROM {} WHERE drill = ?", d.table), (&store.drill,));
    }
    report.finish();
    report
}

/// Before a further native round: the pre-checks (DNS, the probe table, the pair) until they
/// pass; the old master of the next round is the one DNS names.
fn wait_prechecks(d: &MysqlDrill, lookup: &NameLookup) -> Result<(HostPort, HostPort), Vec<String>> {
    report::wait_prechecks(d.deadlines.settle, || {
        // The probe table was written to in the first pre-check; DNS and the pair are what a
        // switch changes.
        let (mut checks, master) = precheck(d, lookup, None);
        let pair = match (&d.native, master) {
            (Some(n), Some(old)) => native::precheck(n, &old, &mut checks).map(|new| (old, new)),
            _ => None,
        };
        (checks, pair)
    })
}

/// DNS names one address with a known port, and (with `store`) the probe user can write there.
fn precheck(d: &MysqlDrill, lookup: &NameLookup, store: Option<&MysqlStore>) -> (Vec<PreCheck>, Option<HostPort>) {
    let mut checks = Vec::new();
    let answer = lookup.addresses();
    let master = match answer.as_deref() {
        Ok([ip]) => match d.ports.endpoint(*ip) {
            Some(at) => {
                checks.push(PreCheck::ok("dns", format!("{} names {ip} only", lookup.name)));
                at
            }
            None => {
                checks.push(PreCheck::failed("dns", format!("{} names {ip}, whose port is unknown (add --server)", lookup.name)));
                return (checks, None);
            }
        },
        _ => {
            checks.push(PreCheck::failed("dns", format!("{} names {}, not exactly one master", lookup.name, super::probe::describe_answer(&answer))));
            return (checks, None);
        }
    };
    let Some(store) = store else { return (checks, Some(master)) };
    let (db, _) = d.table.split_once('.').unwrap_or((&d.table, ""));
    let setup = connect(&master, &d.credentials, d.timeouts).and_then(|mut c| {
        let ddl = [
            format!("CREATE DATABASE IF NOT EXISTS {db}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (drill VARCHAR(64) NOT NULL, seq BIGINT UNSIGNED NOT NULL, \
                 at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (drill, seq)) ENGINE=InnoDB",
                d.table
            ),
        ];
        for sql in ddl {
            c.exec(&sql).map_err(|e| e.to_string())?;
        }
        Ok(c)
    });
    match setup.and_then(|mut c| store.write(&mut c, 0)) {
        Ok(()) => checks.push(PreCheck::ok("writable", format!("user {:?} can write to {} on {master}", d.credentials.user, d.table))),
        Err(e) => checks.push(PreCheck::failed("writable", e)),
    }
    let ok = checks.iter().all(|c| c.ok);
    (checks, ok.then_some(master))
}

/// One switch with probes around it: the command, or the native switch from `old` to
/// `target`; sequence numbers start at `first_seq`.
#[allow(clippy::too_many_arguments)]
fn run_round(d: &MysqlDrill, lookup: &NameLookup, store: &MysqlStore, old: &HostPort, target: Option<&HostPort>, n: u32, first_seq: u64, log: &mut ActionLog) -> Round {
    let timeline = Timeline::new();
    let observed = Observed::new();
    let old_ip = old.ip();
    let (clock, outcome) = with_probes(store, lookup, &d.ports, d.cadence, &observed, first_seq, || {
        timeline.mark("probes started", format!("writing and reading through {}", lookup.name));
        std::thread::sleep(WARM_UP);
        let clock = Clock::start();
        let outcome = match (&d.native, target) {
            (Some(native), Some(new)) => native::switch(native, old, new, &timeline, log),
            _ => run_command(d, &timeline, log),
        };
        let new = if outcome.aborted && d.native.is_some() { None } else { wait_new_master(d, old_ip, clock.zero(), &observed) };
        if new.is_some() {
            std::thread::sleep(super::OBSERVE_AFTER);
        }
        (clock, (outcome, new))
    });
    let end = Instant::now();
    let started = timeline.first("switchover command started").or_else(|| timeline.first("switch started"));
    let clock = started.map_or(clock, Clock::from_instant);
    let (command, new) = outcome;
    let new_ip = new.as_ref().and_then(HostPort::ip);
    let holder = new.clone().unwrap_or_else(|| old.clone());
    let stored = store.stored(&holder);
    let figures = figures_from(&observed, &clock, old, new.as_ref(), new_ip, end, stored.as_ref().ok(), &timeline);
    let mut invariants = vec![lost_invariant(&observed, &holder, &stored), dns_invariant(&observed)];
    let name = if d.native.is_some() { "the switchover succeeded" } else { "the switchover command succeeded" };
    invariants.push(Invariant::new(name, command.ok, command.status.clone()));
    invariants.push(Invariant::new(
        "DNS names a new master",
        new.is_some(),
        new.as_ref().map_or_else(|| format!("{} did not name another single server within the settle time", lookup.name), ToString::to_string),
    ));
    if new.is_some() {
        invariants.push(super::flowing_invariant(&figures));
    }
    let resumed = new.as_ref().and_then(|n| observed.first_ack_by(n, clock.zero()));
    invariants.push(Invariant::new("writes resumed on the new master", resumed.is_some(), ""));
    let mut notes = command.notes;
    let failures = observed.write_failures.lock().map(|f| f.describe()).unwrap_or_default();
    if !failures.is_empty() {
        notes.push(format!("probe write failures: {failures}"));
    }
    let mut round = Round {
        round: n,
        from: old.to_string(),
        to: new.map(|n| n.to_string()),
        started_at: rfc3339(clock.wall()),
        outcome: if command.aborted { RoundOutcome::Aborted } else { RoundOutcome::Passed },
        timeline: timeline.events(&clock),
        figures,
        invariants,
        notes,
    };
    round.settle_outcome();
    round
}

/// How the switch ended: the command, or the native switchover.
pub(super) struct SwitchOutcome {
    ok: bool,
    /// It stopped before switching (the command ran past its deadline, or the native
    /// switchover gave up and restored what it could).
    aborted: bool,
    status: String,
    notes: Vec<String>,
}

impl SwitchOutcome {
    fn aborted(status: String, notes: Vec<String>) -> SwitchOutcome {
        SwitchOutcome { ok: false, aborted: true, status, notes }
    }
}

/// Runs the command (no shell), waiting at most the step deadline; its output goes to the
/// report's notes, cut to the last lines.
fn run_command(d: &MysqlDrill, timeline: &Timeline, log: &mut ActionLog) -> SwitchOutcome {
    let fail = |status: String| SwitchOutcome { ok: false, aborted: false, status, notes: Vec::new() };
    let Some((program, args)) = d.switchover.split_first() else { return fail("no switchover command given".to_string()) };
    // mysqlrpladmin takes `--master=user:password@host`: what is shown and recorded is redacted.
    let shown = crate::redact::command_line(&d.switchover.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>());
    let spawned = Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    timeline.mark("switchover command started", shown.clone());
    log.record("switchover", &[("command", &shown)]);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot run {shown:?}: {e}")),
    };
    // Drained in threads, so a chatty command cannot block on a full pipe.
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + d.deadlines.step;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => break None,
        }
    };
    let timed_out = status.is_none();
    if timed_out {
        kill(&mut child);
    }
    let mut output = String::new();
    for h in [out, err].into_iter().flatten() {
        output.push_str(&h.join().unwrap_or_default());
    }
    let output = crate::redact::text(&output);
    let tail: String = output.chars().rev().take(OUTPUT_TAIL).collect::<Vec<_>>().into_iter().rev().collect();
    let mut notes = Vec::new();
    if !tail.trim().is_empty() {
        notes.push(format!("switchover command output: {}", tail.trim()));
    }
    match status {
        Some(s) => {
            timeline.mark("switchover command finished", s.to_string());
            log.record("switchover-finished", &[("status", &s)]);
            SwitchOutcome { ok: s.success(), aborted: false, status: s.to_string(), notes }
        }
        None => {
            let why = format!("killed after {}", humantime::format_duration(d.deadlines.step));
            timeline.mark("switchover command killed", why.clone());
            log.record("switchover-killed", &[("why", &why)]);
            notes.push(format!("the switchover command ran past its deadline and was {why}; check the servers' roles"));
            SwitchOutcome { ok: false, aborted: timed_out, status: why, notes }
        }
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<std::thread::JoinHandle<String>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }))
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until DNS names one address other than the old master's and a write there was
/// acknowledged (then a little longer); returns that server.
fn wait_new_master(d: &MysqlDrill, old_ip: Option<IpAddr>, zero: Instant, observed: &Observed) -> Option<HostPort> {
    let deadline = Instant::now() + d.deadlines.settle;
    loop {
        let named = match observed.dns_latest() {
            Some(Ok(ips)) if ips.len() == 1 && Some(ips[0]) != old_ip => d.ports.endpoint(ips[0]),
            _ => None,
        };
        if let Some(new) = named {
            if observed.first_ack_by(&new, zero).is_some_and(|at| at.elapsed() >= COOL_DOWN) || Instant::now() >= deadline {
                return Some(new);
            }
        } else if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
