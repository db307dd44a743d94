//! The Redis drill: a planned switchover through Sentinel, rounds back and forth, with probes
//! through the DNS name and a report of what clients felt.
//!
//! - [`precheck`]: what must hold before anything is touched;
//! - [`switch`]: the switch sequence and why it is in that order;
//! - this file: the settings, the probe store (`RPUSH` of sequence numbers to a drill key),
//!   one round (probes around the switch, convergence, verification, figures) and the rounds.
//!
//! Still one piece past 400 lines: the parts of a round (sentinel watcher, convergence,
//! invariants) share the round's state; what stands alone is in the submodules.

mod precheck;
mod switch;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::probe::{with_probes, Cadence, NameLookup, Observed, Store};
use super::report::{self, DrillKind, Invariant, Report, Round, RoundOutcome};
use super::timeline::{round_ms, Clock, Timeline};
use super::{figures_from, rfc3339, Deadlines};
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::consul::Client;
use crate::redis::{ConnectOptions, RedisConn, Role, SentinelConn};
use crate::roles::{self, RoleTags};

use self::precheck::Topology;

/// Everything a Redis drill needs, merged from flags, environment and the `[drill]` table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RedisDrill {
    pub sentinels: Vec<HostPort>,
    /// The name the sentinels monitor.
    pub master_name: String,
    /// The Consul service whose instances carry the master/replica tags.
    pub service: String,
    /// The name applications resolve, e.g. `master.redis.service.consul`.
    pub dns_name: String,
    /// The DNS server to ask (Consul's); the system resolver when `None`.
    pub dns_server: Option<SocketAddr>,
    pub rounds: u32,
    /// Go on after a round that broke an invariant (never after an aborted one).
    pub keep_going: bool,
    pub cadence: Cadence,
    /// Connect and command timeout of each probe.
    #[serde(serialize_with = "crate::human::exact")]
    pub probe_timeout: Duration,
    pub deadlines: Deadlines,
    pub tags: RoleTags,
    /// Credentials and TLS for the Redis servers (the drill's own commands and the probes).
    pub redis: ConnectOptions,
    pub sentinel: ConnectOptions,
    /// Run despite manual mode or a block on the service ([`crate::hold`]): a person decided.
    pub despite_hold: bool,
}

/// How long the probes run before the switch, so the report shows writes flowing first.
const WARM_UP: Duration = Duration::from_millis(300);
/// How long they run on after the first write on the new master.
const COOL_DOWN: Duration = Duration::from_millis(200);
/// How long the drill key lives if the drill never gets to delete it.
const KEY_TTL_SECONDS: u64 = 24 * 3600;

impl RedisDrill {
    /// Connections for the drill's own commands: short timeouts, since the switch polls.
    fn admin(&self) -> ConnectOptions {
        ConnectOptions { connect_timeout: Duration::from_secs(1), io_timeout: Duration::from_secs(1), ..self.redis.clone() }
    }

    fn probe(&self) -> ConnectOptions {
        ConnectOptions { connect_timeout: self.probe_timeout, io_timeout: self.probe_timeout, ..self.redis.clone() }
    }

    fn lookup(&self) -> NameLookup {
        NameLookup::new(&self.dns_name, self.dns_server, self.probe_timeout.max(Duration::from_millis(200)))
    }
}

/// Runs the drill: pre-checks, then `rounds` switches back and forth, each waiting for the
/// pre-checks to pass again first. Stops at the first round that does not pass (with
/// `keep_going`, only at one that aborted). Never panics; every failure ends up in the report.
pub fn run(d: &RedisDrill, consul: &Client, log: &mut ActionLog) -> Report {
    let now = SystemTime::now();
    let mut report = Report::new(DrillKind::Redis, &d.service, rfc3339(now));
    let lookup = d.lookup();
    let (checks, topology) = precheck::run(d, consul, &lookup);
    report.prechecks = checks;
    let Some(mut topo) = topology else {
        report.refused = true;
        report.finish();
        return report;
    };
    let key = format!("sengu:drill:{}:{}", d.service, now.duration_since(UNIX_EPOCH).map_or(0, |t| t.as_millis()));
    for n in 1..=d.rounds.max(1) {
        if n > 1 {
            match wait_prechecks(d, consul, &lookup) {
                Ok(t) => topo = t,
                Err(failed) => {
                    report.rounds.push(Round::not_started(n, topo.master.to_string(), failed, d.deadlines.settle));
                    break;
                }
            }
        }
        let round = run_round(d, consul, &topo, &lookup, &key, n, log);
        let go_on = match round.outcome {
            RoundOutcome::Passed => true,
            RoundOutcome::Failed => d.keep_going,
            RoundOutcome::Aborted => false,
        };
        report.rounds.push(round);
        if !go_on {
            break;
        }
    }
    cleanup_key(d, &topo.sentinels, &key);
    report.finish();
    report
}

/// Before a further round: the pre-checks until they pass (after a switch the sentinels take a
/// moment to agree and to see the old master as a healthy replica).
fn wait_prechecks(d: &RedisDrill, consul: &Client, lookup: &NameLookup) -> Result<Topology, Vec<String>> {
    report::wait_prechecks(d.deadlines.settle, || precheck::run(d, consul, lookup))
}

/// The probes' view of Redis: `RPUSH` of the sequence number to the drill key.
struct RedisStore {
    key: String,
    probe: ConnectOptions,
    admin: ConnectOptions,
}

impl Store for RedisStore {
    type Conn = RedisConn;

    fn connect(&self, at: &HostPort) -> Result<RedisConn, String> {
        RedisConn::connect(at, &self.probe).map_err(|e| e.to_string())
    }

    fn write(&self, conn: &mut RedisConn, seq: u64) -> Result<(), String> {
        conn.query::<i64>(::redis::cmd("RPUSH").arg(&self.key).arg(seq), "RPUSH").map(|_| ()).map_err(|e| e.to_string())
    }

    fn read(&self, conn: &mut RedisConn) -> Result<(), String> {
        conn.query::<Option<String>>(::redis::cmd("LINDEX").arg(&self.key).arg(-1), "LINDEX").map(|_| ()).map_err(|e| e.to_string())
    }

    fn stored(&self, at: &HostPort) -> Result<BTreeSet<u64>, String> {
        let mut conn = RedisConn::connect(at, &self.admin).map_err(|e| e.to_string())?;
        let items: Vec<String> = conn.query(::redis::cmd("LRANGE").arg(&self.key).arg(0).arg(-1), "LRANGE").map_err(|e| e.to_string())?;
        Ok(items.iter().filter_map(|s| s.parse().ok()).collect())
    }
}

/// When the sentinels switched, as a watcher thread saw it.
#[derive(Debug, Default)]
struct SentinelSwitch {
    first: Option<(Instant, HostPort, HostPort)>,
    all: Option<(Instant, HostPort)>,
}

/// Asks every sentinel for the master every few milliseconds until all name the same one
/// other than `old`, and marks the first and the last of them on the timeline.
///
/// A sentinel that refuses connections is left out (marked once on the timeline) as long as
/// a majority still answers: in the two-host layout `sentinel-rebalance` may move the floating
/// sentinel to its other address in the middle of a round.
fn watch_sentinels(d: &RedisDrill, sentinels: &[HostPort], old: &HostPort, timeline: &Timeline, seen: &Mutex<SentinelSwitch>, stop: &AtomicBool) {
    let mut conns: Vec<(HostPort, Option<SentinelConn>, bool)> =
        sentinels.iter().map(|s| (s.clone(), SentinelConn::connect(s, &d.sentinel).ok(), false)).collect();
    let majority = sentinels.len() / 2 + 1;
    while !stop.load(Ordering::Relaxed) {
        let mut names: Vec<Option<HostPort>> = Vec::new();
        for (addr, conn, gone) in conns.iter_mut() {
            if conn.is_none() {
                match SentinelConn::connect(addr, &d.sentinel) {
                    Ok(c) => {
                        *conn = Some(c);
                        *gone = false;
                    }
                    Err(crate::redis::Error::Unreachable { .. }) => {
                        if !*gone {
                            timeline.mark("a sentinel stopped answering", format!("{addr} refuses connections"));
                        }
                        *gone = true;
                        continue;
                    }
                    Err(_) => {}
                }
            }
            let answer = conn.as_mut().map(|c| c.master_addr(&d.master_name));
            let named = match answer {
                Some(Ok(m)) => m,
                _ => {
                    *conn = None;
                    None
                }
            };
            if let (Some(m), Ok(mut s)) = (named.as_ref().filter(|m| *m != old), seen.lock())
                && s.first.is_none()
            {
                s.first = Some((Instant::now(), addr.clone(), m.clone()));
                timeline.mark("first sentinel names the new master", format!("{addr} names {m}"));
            }
            names.push(named);
        }
        let first = names.first().cloned().flatten();
        if let Some(m) = first.filter(|m| m != old && names.len() >= majority && names.iter().all(|n| n.as_ref() == Some(m))) {
            if let Ok(mut s) = seen.lock() {
                s.all = Some((Instant::now(), m.clone()));
            }
            timeline.mark("sentinels switched", format!("all {} name {m}", names.len()));
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One switch with probes around it, then the figures and the invariants.
fn run_round(d: &RedisDrill, consul: &Client, topo: &Topology, lookup: &NameLookup, key: &str, n: u32, log: &mut ActionLog) -> Round {
    let admin = d.admin();
    let store = RedisStore { key: key.to_string(), probe: d.probe(), admin: admin.clone() };
    if let Err(e) = RedisConn::connect(&topo.master, &admin)
        .and_then(|mut c| c.query::<::redis::Value>(::redis::cmd("EXPIRE").arg(key).arg(KEY_TTL_SECONDS), "EXPIRE"))
    {
        // Not fatal: the key is deleted at the end anyway.
        let _ = e;
    }
    let timeline = Timeline::new();
    let observed = Observed::new();
    let seen = Mutex::new(SentinelSwitch::default());
    let stop_watch = AtomicBool::new(false);
    let first_seq = u64::from(n) * 1_000_000;
    let (clock, switched, warm) = with_probes(&store, lookup, &topo.ports, d.cadence, &observed, first_seq, || {
        timeline.mark("probes started", format!("writing and reading through {}", lookup.name));
        let warm = wait_for(WARM_UP.max(Duration::from_secs(2)), || observed.acks.lock().map_or(0, |a| a.len()) >= 3);
        if warm {
            let started = Instant::now();
            while started.elapsed() < WARM_UP {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let clock = Clock::start();
        if !warm {
            return (clock, None, false);
        }
        let switched = std::thread::scope(|s| {
            s.spawn(|| watch_sentinels(d, &topo.sentinels, &topo.master, &timeline, &seen, &stop_watch));
            let switched = switch::run(d, consul, topo, &admin, &timeline, log);
            if let Some(new) = switched.new_master.clone() {
                converge(d, &topo.master, &new, clock.zero(), &observed, &seen, &timeline);
                std::thread::sleep(super::OBSERVE_AFTER);
            }
            stop_watch.store(true, Ordering::Relaxed);
            switched
        });
        (clock, Some(switched), true)
    });
    let end = Instant::now();
    // Zero is the moment the switch started, after the drill opened its connections.
    let clock = timeline.first("switch started").map_or(clock, Clock::from_instant);
    let mut round = Round {
        round: n,
        from: topo.master.to_string(),
        to: None,
        started_at: rfc3339(clock.wall()),
        outcome: RoundOutcome::Passed,
        timeline: Vec::new(),
        figures: Default::default(),
        invariants: Vec::new(),
        notes: Vec::new(),
    };
    let Some(switched) = switched.filter(|_| warm) else {
        let failures = observed.write_failures.lock().map(|f| f.describe()).unwrap_or_default();
        round.outcome = RoundOutcome::Aborted;
        round.notes.push(format!("the probe could not write through {} before the switch ({failures}); nothing was changed", lookup.name));
        round.timeline = timeline.events(&clock);
        return round;
    };
    let new = switched.new_master.clone();
    round.to = new.as_ref().map(ToString::to_string);
    // Where every acknowledged write must be now: the new master, or the old one if the
    // switch was undone.
    let holder = new.clone().unwrap_or_else(|| topo.master.clone());
    let stored = store.stored(&holder);
    let new_ip = new.as_ref().and_then(HostPort::ip);
    let first_sentinel = seen.lock().ok().and_then(|s| s.first.as_ref().map(|f| f.0));
    round.figures = figures_from(&observed, &clock, &topo.master, new.as_ref(), new_ip, end, stored.as_ref().ok(), &timeline);
    if let (Some(dns), Some(sentinel)) = (new_ip.and_then(|ip| observed.dns_first_only(ip, clock.zero())), first_sentinel) {
        round.figures.dns_after_sentinels_ms = Some(round_ms(clock.ms_at(dns) - clock.ms_at(sentinel)));
    }
    round.invariants = invariants(d, consul, topo, &switched, &observed, &seen, &holder, stored, new_ip, &clock, &round.figures);
    round.timeline = timeline.events(&clock);
    round.notes = switched.notes.clone();
    let write_failures = observed.write_failures.lock().map(|f| f.describe()).unwrap_or_default();
    if !write_failures.is_empty() {
        round.notes.push(format!("probe write failures: {write_failures}"));
    }
    if switched.aborted {
        round.outcome = RoundOutcome::Aborted;
    }
    round.settle_outcome();
    round
}

/// Polls `cond` every 10 ms for up to `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// After the switch: waits (up to the settle deadline) until clients write to the new master,
/// DNS names only it, every sentinel names it and the old master replicates from it.
fn converge(d: &RedisDrill, old: &HostPort, new: &HostPort, zero: Instant, observed: &Observed, seen: &Mutex<SentinelSwitch>, timeline: &Timeline) {
    let new_ip = new.ip();
    let mut linked = false;
    let mut old_conn: Option<RedisConn> = None;
    wait_for(d.deadlines.settle, || {
        if !linked {
            if old_conn.is_none() {
                old_conn = RedisConn::connect(old, &d.admin()).ok();
            }
            match old_conn.as_mut().map(RedisConn::role) {
                Some(Ok(Role::Replica { master, state, .. })) if &master == new && state == "connected" => {
                    linked = true;
                    timeline.mark("old master replicates from the new master", format!("{old} link to {new} connected"));
                }
                Some(Err(_)) => old_conn = None,
                _ => {}
            }
        }
        let written = observed.first_ack_by(new, zero).is_some_and(|at| at.elapsed() >= COOL_DOWN);
        let dns = matches!((observed.dns_latest(), new_ip), (Some(Ok(ips)), Some(ip)) if ips.as_slice() == [ip]);
        let sentinels = seen.lock().is_ok_and(|s| s.all.as_ref().is_some_and(|(_, m)| m == new));
        linked && written && dns && sentinels
    });
}

#[allow(clippy::too_many_arguments)]
fn invariants(
    d: &RedisDrill,
    consul: &Client,
    topo: &Topology,
    switched: &switch::Switched,
    observed: &Observed,
    seen: &Mutex<SentinelSwitch>,
    holder: &HostPort,
    stored: Result<BTreeSet<u64>, String>,
    new_ip: Option<IpAddr>,
    clock: &Clock,
    figures: &super::Figures,
) -> Vec<Invariant> {
    let mut out = vec![super::lost_invariant(observed, holder, &stored), super::dns_invariant(observed)];
    out.push(Invariant::new("every step within its deadline", switched.late.is_empty(), switched.late.join("; ")));
    let Some(new) = switched.new_master.as_ref() else { return out };
    let all = seen.lock().ok().and_then(|s| s.all.clone());
    out.push(match all {
        Some((at, m)) if &m == new => Invariant::new("the sentinels agree on the new master", true, format!("all name {m} at {:.1} ms", clock.ms_at(at))),
        Some((_, m)) => Invariant::new("the sentinels agree on the new master", false, format!("they name {m}")),
        None => Invariant::new("the sentinels agree on the new master", false, format!("not all sentinels named {new} within {}", humantime::format_duration(d.deadlines.settle))),
    });
    let latest = observed.dns_latest();
    let dns_ok = matches!((&latest, new_ip), (Some(Ok(ips)), Some(ip)) if ips.as_slice() == [ip]);
    out.push(Invariant::new("DNS names only the new master", dns_ok, latest.map(|a| super::probe::describe_answer(&a)).unwrap_or_default()));
    let tags = roles::read_instances(consul, &d.service).map(|instances| {
        let role_at = |at: &HostPort| instances.iter().find(|i| i.is_at(at)).and_then(|i| i.role(&d.tags));
        (role_at(new), role_at(&topo.master))
    });
    out.push(match tags {
        Ok((Some(roles::Role::Master), Some(roles::Role::Replica))) => Invariant::new("Consul tags follow the new master", true, ""),
        Ok((n, o)) => Invariant::new("Consul tags follow the new master", false, format!("new master tagged {n:?}, old master tagged {o:?}")),
        Err(e) => Invariant::new("Consul tags follow the new master", false, e.to_string()),
    });
    let linked = RedisConn::connect(&topo.master, &d.admin()).and_then(|mut c| c.role());
    out.push(match linked {
        Ok(Role::Replica { master, state, .. }) if &master == new && state == "connected" => Invariant::new("the old master replicates from the new master", true, ""),
        Ok(role) => Invariant::new("the old master replicates from the new master", false, format!("{role:?}")),
        Err(e) => Invariant::new("the old master replicates from the new master", false, e.to_string()),
    });
    out.push(super::flowing_invariant(figures));
    let resumed = observed.first_ack_by(new, clock.zero());
    out.push(Invariant::new("writes resumed on the new master", resumed.is_some(), if resumed.is_some() { String::new() } else { format!("no write reached {new}") }));
    out
}

/// Deletes the drill key on whichever server is master now.
fn cleanup_key(d: &RedisDrill, sentinels: &[HostPort], key: &str) {
    let votes = crate::redis::ask_sentinels(sentinels, &d.master_name, &d.sentinel);
    if let Some(mut c) = votes.majority().and_then(|master| RedisConn::connect(&master, &d.admin()).ok()) {
        let _ = c.query::<::redis::Value>(::redis::cmd("DEL").arg(key), "DEL");
    }
}
