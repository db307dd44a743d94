//! `sengu-drill`: switch the active side on purpose, in normal times, and measure what the
//! applications felt — the idea sengu is named after. A drill checks that a switch is safe,
//! switches while probes write and read through the DNS name like an application, and reports
//! a timeline, the figures (write-unavailable window, DNS convergence, acknowledged writes
//! lost, two masters in DNS) and whether every invariant held. Each report is kept in Consul
//! KV, so the history of drills shows whether failover still works and what it costs.
//!
//! - [`redis`]: a planned switchover through Sentinel, done so that no acknowledged write is
//!   lost and DNS follows within milliseconds of the promotion;
//! - [`mysql`]: any switchover command (mysqlrpladmin, a MariaDB script), or the native
//!   switchover of a MariaDB GTID pair, with the same probes;
//! - [`probe`]: the writer, reader and DNS sampler both share;
//! - [`timeline`], [`report`]: the clock, the report and its renderings;
//! - [`history`]: storing and listing reports in Consul KV;
//! - [`settings`]: the `[drill]` table and the flags both drills share.
//!
//! Both drills refuse to start while manual mode is on or a post-failover block holds
//! ([`crate::hold`]), unless `--despite-hold` says a person decided: manual mode is exactly
//! when a person runs the one-shot switch.

pub mod history;
pub mod mysql;
pub mod probe;
pub mod redis;
pub mod report;
pub mod settings;
pub mod timeline;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::consul::Client;

pub use self::mysql::MysqlDrill;
pub use self::redis::RedisDrill;
pub use report::{DrillKind, Figures, Invariant, PreCheck, Report, Round, RoundOutcome};

use probe::{describe_answer, Observed};
use timeline::{round_ms, Clock, Timeline};

/// How long each part of a switch may take before the drill gives up or reports it late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deadlines {
    /// For the replicas to reach the paused master's offset (Redis).
    #[serde(serialize_with = "crate::human::exact")]
    pub catch_up: Duration,
    /// For each step of the switch: the promotion, the demotion and publishing (Redis), or
    /// the whole switchover command (MySQL).
    #[serde(serialize_with = "crate::human::exact")]
    pub step: Duration,
    /// For everything to converge afterwards, and between rounds for the pre-checks to pass.
    #[serde(serialize_with = "crate::human::exact")]
    pub settle: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines { catch_up: Duration::from_secs(2), step: Duration::from_secs(5), settle: Duration::from_secs(15) }
    }
}

/// Runs a Redis drill and stores its report in Consul KV (unless `keep` is false). Every
/// change it makes (pause, failover, demotion, tags) goes to the action log as it happens.
pub fn run_redis(d: &RedisDrill, consul: &Client, keep: bool, log: &mut ActionLog) -> Report {
    let report = match held(consul, &d.service, d.despite_hold) {
        Err(refusal) => refused(DrillKind::Redis, &d.service, refusal),
        Ok(note) => with_precheck(redis::run(d, consul, log), note),
    };
    finish(report, consul, keep, log)
}

/// Runs a MySQL drill and stores its report in Consul KV (unless `keep` is false).
pub fn run_mysql(d: &MysqlDrill, consul: &Client, keep: bool, log: &mut ActionLog) -> Report {
    let report = match held(consul, &d.hold_name, d.despite_hold) {
        Err(refusal) => refused(DrillKind::Mysql, &d.label, refusal),
        Ok(note) => with_precheck(mysql::run(d, consul, log), note),
    };
    finish(report, consul, keep, log)
}

/// The hold pre-check ([`crate::hold`]): refuses while manual mode is on or a block holds,
/// unless `despite` (`--despite-hold`: a person decided). A hold that cannot be read does not
/// stop a drill (it is advisory here); the pre-check says so.
fn held(consul: &Client, name: &str, despite: bool) -> Result<Option<PreCheck>, PreCheck> {
    let now = SystemTime::now();
    match crate::hold::read(consul, name) {
        Ok(holds) => match holds.describe(now) {
            None => Ok(None),
            Some(line) if despite => Ok(Some(PreCheck::ok("hold", format!("{line}; going ahead: --despite-hold")))),
            Some(line) => Err(PreCheck::failed(
                "hold",
                format!("automatic failover is off for {name} ({line}); a person's switch runs with --despite-hold, `sengu-drill manual off --name {name}` ends it"),
            )),
        },
        Err(e) => Ok(Some(PreCheck::ok("hold", format!("the hold of {name} could not be read ({e}); not obeyed")))),
    }
}

fn refused(kind: DrillKind, label: &str, check: PreCheck) -> Report {
    let mut report = Report::new(kind, label, rfc3339(SystemTime::now()));
    report.prechecks.push(check);
    report.refused = true;
    report.finish();
    report
}

fn with_precheck(mut report: Report, check: Option<PreCheck>) -> Report {
    if let Some(check) = check {
        report.prechecks.insert(0, check);
    }
    report
}

/// A drill that refused to start changed nothing, so it leaves no history either.
fn finish(mut report: Report, consul: &Client, keep: bool, log: &mut ActionLog) -> Report {
    let passed = report.passed;
    if report.refused {
        log.record("drill-refused", &[("service", &report.service)]);
    } else if keep {
        match history::store(consul, &report) {
            Ok(key) => {
                log.record("drill-stored", &[("service", &report.service), ("key", &key), ("passed", &passed)]);
                report.history_key = Some(key);
            }
            Err(e) => report.history_error = Some(e.to_string()),
        }
    }
    report
}

/// RFC 3339 in UTC with milliseconds, as every time in a report is written.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The figures of a round from what the probes saw, marking the writes and DNS changes that
/// matter on the timeline. `old` is the master before the switch, `new` the one after (if
/// any); `stored` the sequence numbers found where every acknowledged write should be.
#[allow(clippy::too_many_arguments)]
pub(crate) fn figures_from(
    observed: &Observed,
    clock: &Clock,
    old: &HostPort,
    new: Option<&HostPort>,
    new_ip: Option<IpAddr>,
    end: Instant,
    stored: Option<&BTreeSet<u64>>,
    timeline: &Timeline,
) -> Figures {
    let zero = clock.zero();
    let first_new = new.and_then(|n| observed.first_ack_by(n, zero));
    let last_old = observed.last_ack_by(old, first_new.unwrap_or(end));
    if let Some(at) = last_old {
        timeline.mark_at(at, "last write acknowledged by the old master", old.to_string());
    }
    if let (Some(at), Some(n)) = (first_new, new) {
        timeline.mark_at(at, "first write acknowledged by the new master", n.to_string());
    }
    for (at, answer) in observed.dns_changes(zero, 8) {
        timeline.mark_at(at, "DNS answers", answer);
    }
    let dns_at = new_ip.and_then(|ip| observed.dns_first_only(ip, zero));
    let (multi, samples) = observed.dns_multi();
    let acked = observed.acked();
    let lost = stored.map_or(0, |s| acked.difference(s).count());
    Figures {
        write_unavailable_ms: first_new.zip(last_old).map(|(f, l)| round_ms(clock.ms_at(f) - clock.ms_at(l))),
        read_unavailable_ms: observed.longest_read_gap(end).map(|g| round_ms(g.as_secs_f64() * 1000.0)),
        write_gap_after_switch_ms: first_new.and_then(|f| observed.longest_write_gap(f, end)).map(|g| round_ms(g.as_secs_f64() * 1000.0)),
        dns_convergence_ms: dns_at.map(|at| round_ms(clock.ms_at(at))),
        dns_after_sentinels_ms: None,
        writes_acknowledged: acked.len() as u64,
        writes_lost: lost as u64,
        two_masters_in_dns: multi,
        dns_samples: samples,
    }
}

/// "No acknowledged write lost": every acknowledged sequence number is on `holder`.
pub(crate) fn lost_invariant(observed: &Observed, holder: &HostPort, stored: &Result<BTreeSet<u64>, String>) -> Invariant {
    const NAME: &str = "no acknowledged write lost";
    let acked = observed.acked();
    match stored {
        Err(e) => Invariant::new(NAME, false, format!("cannot read the probe writes back from {holder}: {e}")),
        Ok(stored) => {
            let lost: Vec<String> = acked.difference(stored).take(10).map(ToString::to_string).collect();
            if lost.is_empty() {
                Invariant::new(NAME, true, format!("all {} acknowledged writes are on {holder}", acked.len()))
            } else {
                let n = acked.difference(stored).count();
                Invariant::new(NAME, false, format!("{n} acknowledged writes missing on {holder}, e.g. {}", lost.join(", ")))
            }
        }
    }
}

/// Longest write gap after the switch that still counts as writes flowing: well above a
/// probe timeout plus a reconnect, well below the ~10 s pause of a fenced server or a check
/// interval of DNS without a master.
pub const MAX_WRITE_GAP_AFTER_SWITCH: Duration = Duration::from_secs(1);

/// How long the probes keep running once the switch converged: long enough for a health
/// check interval (2 s in the shipped definitions, counted from the promotion) to act on the
/// new master, so a check that wrongly fences it shows up as a second outage.
pub const OBSERVE_AFTER: Duration = Duration::from_millis(1500);

/// "Writes kept flowing after the switch": no second outage once the new master took writes.
pub(crate) fn flowing_invariant(figures: &Figures) -> Invariant {
    const NAME: &str = "writes kept flowing after the switch";
    let limit = MAX_WRITE_GAP_AFTER_SWITCH.as_secs_f64() * 1000.0;
    match figures.write_gap_after_switch_ms {
        Some(gap) => Invariant::new(NAME, gap < limit, format!("longest gap {gap:.1} ms (limit {limit:.0} ms)")),
        None => Invariant::new(NAME, false, "no write reached the new master"),
    }
}

/// "Never two masters in DNS".
pub(crate) fn dns_invariant(observed: &Observed) -> Invariant {
    let (multi, samples) = observed.dns_multi();
    let detail = match observed.dns.lock().ok().and_then(|d| d.iter().find(|(_, a)| matches!(a, Ok(ips) if ips.len() > 1)).map(|(_, a)| a.clone())) {
        Some(answer) => format!("{multi} of {samples} answers named several, e.g. {}", describe_answer(&answer)),
        None => format!("{samples} answers sampled"),
    };
    Invariant::new("never two masters in DNS", multi == 0, detail)
}
