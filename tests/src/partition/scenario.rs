//! The partition scenarios and their figures. Each run starts from a settled lab (one master,
//! its replica linked, the floating sentinel placed, DNS naming the master), starts a writer on
//! each host (on the master's host a client configured with its local master; on the replica's
//! host a client that writes through the DNS name), lets the observer sample `ROLE` and DNS
//! every 10 ms, applies the fault, heals, waits until the old master replicates from whoever is
//! master now, and reads every writer's list back from that master.
//!
//! | # | fault |
//! |---|---|
//! | 1 | the master's host cut from the other host (its sentinels) and from the Consul servers; figures of its local writer |
//! | 2 | the same run; figures of the replica host's writer, through DNS |
//! | 3 | that cut flapping: cut and healed every few seconds |
//! | 4 | the master's host cut until DNS names the new master, then back: figures after the return |
//! | 5 | the master's host cut from the Consul servers only |
//! | 6 | the two Redis hosts cut from each other, both still reaching Consul; `sentinel-rebalance reconcile` run on both sides meanwhile |
//!
//! The figures of one run ([`Figures`]), all from the fault's start unless said otherwise:
//! acknowledged writes lost; how long the old master kept acknowledging writes (after the heal
//! for scenario 4); the longest time two masters both acknowledged writes; when DNS first named
//! exactly the new master; DNS answers naming two masters; the longest stretch DNS named no
//! master; the longest gap between two acknowledged writes of the DNS writer.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{now_us, Attempt, PartitionLab, Strategy, HOSTS, MIN_REPLICAS_MAX_LAG};

/// How long the fence may take to stop a stale master once its host reaches the sentinels
/// again: one check interval plus the check's timeout in Consul (2 s + 3 s in
/// `consul.d/redis-role.json`).
pub const FENCE_BOUND: Duration = Duration::from_secs(5);

/// How long a master under `min-replicas-to-write` may still acknowledge writes after its
/// replica's link is cut: `min-replicas-max-lag`, plus Redis's whole-second bookkeeping (the
/// lag is counted in whole seconds, and the count of good replicas refreshed once a second).
pub fn min_replicas_bound() -> Duration {
    Duration::from_secs(MIN_REPLICAS_MAX_LAG + 2)
}

/// How long each scenario holds its fault, and how many times the flapping link flaps.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub hold: Duration,
    pub flap_cut: Duration,
    pub flap_heal: Duration,
    pub flap_for: Duration,
}

impl Timing {
    /// `cargo xtask partitions`: 15 s partitions, a link flapping 3 s / 3 s for a minute.
    pub const FULL: Timing = Timing { hold: Duration::from_secs(15), flap_cut: Duration::from_secs(3), flap_heal: Duration::from_secs(3), flap_for: Duration::from_secs(60) };
}

/// What the observer saw, sampled every 10 ms.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub dns: Vec<(i64, Result<Vec<IpAddr>, String>)>,
    /// Whether each host's Redis said `role:master` (None: no answer).
    pub roles: Vec<(i64, [Option<bool>; 2])>,
    /// On how many hosts the floating sentinel answered (sampled every 100 ms).
    pub floating: Vec<(i64, usize)>,
}

/// The observer's sampling thread.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    data: Arc<Mutex<Samples>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub fn start(lab: &PartitionLab) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let data = Arc::new(Mutex::new(Samples::default()));
        let (dns, redis) = (lab.dns, [lab.redis_addr(0), lab.redis_addr(1)]);
        let floating: Vec<SocketAddr> = lab.sentinel_seeds()[2..].to_vec();
        let (s, d) = (Arc::clone(&stop), Arc::clone(&data));
        let thread = std::thread::spawn(move || {
            let options = sengu::dns::Options { timeout: Duration::from_millis(300), attempts: 1, transport: sengu::dns::Transport::Tcp };
            let opts = sengu::redis::ConnectOptions { connect_timeout: Duration::from_millis(200), io_timeout: Duration::from_millis(200), ..Default::default() };
            let hp = |a: &SocketAddr| sengu::addr::HostPort { host: a.ip().to_string(), port: a.port() };
            let mut conns: [Option<sengu::redis::RedisConn>; 2] = [None, None];
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                let tick = Instant::now();
                let answer = sengu::dns::lookup(super::MASTER_NAME, sengu::dns::Family::V4, &sengu::dns::Source::Server(dns), &options).map_err(|e| e.to_string());
                let t = now_us();
                let mut roles = [None, None];
                for i in 0..2 {
                    if conns[i].is_none() {
                        conns[i] = sengu::redis::RedisConn::connect(&hp(&redis[i]), &opts).ok();
                    }
                    if let Some(c) = conns[i].as_mut() {
                        match c.role() {
                            Ok(r) => roles[i] = Some(matches!(r, sengu::redis::Role::Master { .. })),
                            Err(_) => conns[i] = None,
                        }
                    }
                }
                let fl = if n.is_multiple_of(10) {
                    Some(floating.iter().filter(|f| sengu::redis::SentinelConn::connect(&hp(f), &opts).and_then(|mut c| c.myid()).is_ok_and(|id| id == crate::lab::FLOATING_MYID)).count())
                } else {
                    None
                };
                {
                    let mut g = d.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    g.dns.push((t, answer));
                    g.roles.push((t, roles));
                    if let Some(f) = fl {
                        g.floating.push((t, f));
                    }
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(10).saturating_sub(tick.elapsed()));
            }
        });
        Sampler { stop, data, thread: Some(thread) }
    }

    pub fn snapshot(&self) -> Samples {
        self.data.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn stop(mut self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.snapshot()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The figures of one writer in one run.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub scenario: u8,
    pub acked: usize,
    pub lost: usize,
    /// Last write the old master acknowledged, after `from` (the fault's start, or the heal in
    /// scenario 4), in ms; 0 when it acknowledged none.
    pub old_acked_for_ms: f64,
    /// The longest time both masters acknowledged writes.
    pub two_writable_ms: f64,
    /// When DNS first named exactly the new master (None: no new master, or never).
    pub dns_new_ms: Option<f64>,
    pub dns_two: usize,
    pub dns_samples: usize,
    pub dns_none_ms: f64,
    pub write_gap_ms: f64,
    pub note: String,
}

/// What a run leaves for the figures.
pub struct RunData {
    pub old: usize,
    pub new: usize,
    pub fault_at: i64,
    pub heal_at: i64,
    pub samples: Samples,
    /// (writer's role: "local" or "dns", its attempts, the key's final contents on the master)
    pub writers: Vec<(String, Vec<Attempt>, BTreeSet<u64>)>,
    pub note: String,
}

impl RunData {
    /// The figures of one writer, measured from `from` (µs).
    pub fn figures(&self, scenario: u8, writer: &str, from: i64, lab: &PartitionLab) -> Figures {
        let (_, attempts, present) = self.writers.iter().find(|(w, _, _)| w == writer).unwrap_or_else(|| panic!("no writer {writer}"));
        let old = lab.redis_addr(self.old);
        let new = lab.redis_addr(self.new);
        let acks: Vec<&Attempt> = attempts.iter().filter(|a| a.acked_by.is_some()).collect();
        let lost = acks.iter().filter(|a| !present.contains(&a.seq)).count();
        let old_last = acks.iter().filter(|a| a.acked_by == Some(old) && a.at_us >= from).map(|a| a.at_us).max();
        let ms = |us: i64| us as f64 / 1000.0;
        let mut f = Figures { scenario, acked: acks.len(), lost, old_acked_for_ms: old_last.map_or(0.0, |t| ms(t - from)), note: self.note.clone(), ..Figures::default() };
        // Two writable masters: across every writer, from the new master's first acknowledged
        // write to the old master's last one after it.
        if self.new != self.old {
            let all: Vec<&Attempt> = self.writers.iter().flat_map(|(_, a, _)| a.iter()).filter(|a| a.acked_by.is_some() && a.at_us >= self.fault_at).collect();
            let first_new = all.iter().filter(|a| a.acked_by == Some(new)).map(|a| a.at_us).min();
            let last_old = all.iter().filter(|a| a.acked_by == Some(old)).map(|a| a.at_us).max();
            if let (Some(n), Some(o)) = (first_new, last_old) {
                f.two_writable_ms = ms((o - n).max(0));
            }
            let new_ip = IpAddr::V4(HOSTS[self.new]);
            f.dns_new_ms = self.samples.dns.iter().find(|(t, a)| *t >= from && a.as_ref().is_ok_and(|ips| ips == &[new_ip])).map(|(t, _)| ms(t - from));
        }
        let during: Vec<&(i64, Result<Vec<IpAddr>, String>)> = self.samples.dns.iter().filter(|(t, _)| *t >= self.fault_at).collect();
        f.dns_samples = during.len();
        f.dns_two = during.iter().filter(|(_, a)| a.as_ref().is_ok_and(|ips| ips.len() > 1)).count();
        let mut none_since = None;
        for (t, a) in &during {
            let none = a.as_ref().map_or(true, |ips| ips.is_empty());
            match (none, none_since) {
                (true, None) => none_since = Some(*t),
                (false, Some(s)) => {
                    f.dns_none_ms = f.dns_none_ms.max(ms(t - s));
                    none_since = None;
                }
                _ => {}
            }
        }
        let dns_acks: Vec<i64> = self.writers.iter().filter(|(w, _, _)| w == "dns").flat_map(|(_, a, _)| a.iter().filter(|a| a.acked_by.is_some() && a.at_us >= self.fault_at).map(|a| a.at_us)).collect();
        f.write_gap_ms = dns_acks.windows(2).map(|w| ms(w[1] - w[0])).fold(0.0, f64::max);
        f
    }
}

/// Waits (polling every 20 ms) until `cond`, or `timeout`; returns whether it held.
fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// What a run does between starting its writers and healing.
pub enum Fault {
    /// Scenario 1/2: the master's host isolated for `hold`, or, with `None`, until DNS names
    /// the new master (the short version in the test suite).
    Isolate(Option<Duration>),
    /// Scenario 3: isolate and heal in turns.
    Flap { cut: Duration, heal: Duration, total: Duration },
    /// Scenario 4: isolated until DNS names the new master and the DNS writer had a second to
    /// write to it (or `hold` passed), then back.
    Return(Duration),
    /// Scenario 5: the master's host cut from the Consul servers only.
    ServersOnly(Duration),
    /// Scenario 6: the hosts cut from each other; a bounded reconcile runs on both sides after `hold / 3`.
    Between(Duration),
}

/// One run of a fault on a settled lab. Panics with the lab's report when the lab does not
/// settle or converge.
pub fn run(lab: &PartitionLab, fault: &Fault, tag: &str) -> RunData {
    let old = lab.wait_settled(Duration::from_secs(120));
    let replica = 1 - old;
    let keys = [format!("{tag}-local"), format!("{tag}-dns")];
    let local = lab.writer(old, &keys[0], Some(lab.redis_addr(old)));
    let dns = lab.writer(replica, &keys[1], None);
    let sampler = Sampler::start(lab);
    let warm = poll(Duration::from_secs(10), || {
        [&local, &dns].iter().all(|w| w.attempts().iter().filter(|a| a.acked_by.is_some()).count() >= 5)
    });
    assert!(warm, "the writers did not get going\n{}", lab.report());
    let new_master_named = |lab: &PartitionLab| lab.lookup().is_ok_and(|ips| ips == [IpAddr::V4(HOSTS[replica])]);
    let fault_at = now_us();
    let mut note = String::new();
    match fault {
        Fault::Isolate(hold) => {
            lab.isolate(old);
            match hold {
                Some(d) => std::thread::sleep(*d),
                None => assert!(poll(Duration::from_secs(60), || new_master_named(lab)), "DNS did not name the new master\n{}", lab.report()),
            }
        }
        Fault::Flap { cut, heal, total } => {
            let end = Instant::now() + *total;
            let mut flaps = 0;
            while Instant::now() < end {
                lab.isolate(old);
                std::thread::sleep(*cut);
                lab.heal();
                std::thread::sleep(*heal);
                flaps += 1;
            }
            let _ = write!(note, "{flaps} cuts of {} s, healed {} s", cut.as_secs(), heal.as_secs());
        }
        Fault::Return(hold) => {
            lab.isolate(old);
            let named = poll(*hold, || new_master_named(lab));
            assert!(named, "DNS did not name the new master within {hold:?}\n{}", lab.report());
            // Let the DNS writer reach the new master, if it can (min-replicas cannot).
            let since = now_us();
            poll(Duration::from_secs(3), || dns.attempts().iter().any(|a| a.acked_by == Some(lab.redis_addr(replica)) && a.at_us >= since));
        }
        Fault::ServersOnly(hold) => {
            lab.cut_from_servers(old);
            std::thread::sleep(*hold);
        }
        Fault::Between(hold) => {
            let heal_due = Instant::now() + *hold;
            lab.cut_between_hosts();
            std::thread::sleep(*hold / 3);
            let seen = [lab.sentinels_seen_from(0), lab.sentinels_seen_from(1)];
            // A timer's reconcile on each side, at once. Left to its default, the minority
            // side's would wait about 37 s for a majority and hold the heal back that long
            // (the partition then lasted 55 s, not 15): bounded to end inside the partition.
            let wait = format!("{}ms", (*hold / 3).as_millis());
            let codes: Vec<String> = std::thread::scope(|scope| {
                let wait = wait.as_str();
                let runs: Vec<_> = (0..2).map(|i| scope.spawn(move || lab.rebalance(i, &["reconcile", "--replica-wait", wait]))).collect();
                runs.into_iter().map(|h| h.join().ok().and_then(|out| out.status.code()).map_or("signal".into(), |c| c.to_string())).collect()
            });
            std::thread::sleep(heal_due.saturating_duration_since(Instant::now()));
            let held = Duration::from_micros(u64::try_from(now_us().saturating_sub(fault_at)).unwrap_or(0));
            let _ = write!(
                note,
                "sentinels reachable from host a: {} of 3, from b: {} of 3; reconcile (--replica-wait {wait}) exit a {}, b {}; partition held {:.1} s",
                seen[0],
                seen[1],
                codes[0],
                codes[1],
                held.as_secs_f64()
            );
        }
    }
    let heal_at = now_us();
    lab.heal();
    // Converged: whoever the sentinels name is master, and the other replicates from it.
    let mut new = old;
    let converged = poll(Duration::from_secs(90), || {
        let Some(m) = lab.master_host() else { return false };
        new = m;
        lab.is_master(m) == Some(true) && lab.replicates(1 - m, m)
    });
    assert!(converged, "the lab did not converge after the heal\n{}", lab.report());
    // Writes still in flight reach the master before the writers stop.
    poll(Duration::from_secs(2), || dns.attempts().iter().any(|a| a.acked_by == Some(lab.redis_addr(new)) && a.at_us >= heal_at));
    let attempts = [local.stop(), dns.stop()];
    let samples = sampler.stop();
    if matches!(fault, Fault::Between(_)) {
        let both = samples.floating.iter().filter(|(_, n)| *n > 1).count();
        let _ = write!(note, "; floating sentinel on both hosts in {both} of {} samples", samples.floating.len());
    }
    let writers = ["local", "dns"]
        .iter()
        .zip(attempts)
        .zip(&keys)
        .map(|((w, a), key)| (w.to_string(), a, lab.list(new, key).into_iter().collect::<BTreeSet<u64>>()))
        .collect();
    RunData { old, new, fault_at, heal_at, samples, writers, note }
}

/// Runs scenario `n` once and returns its rows (scenario 1 also gives row 2).
pub fn scenario(lab: &PartitionLab, n: u8, timing: &Timing, tag: &str) -> Vec<Figures> {
    match n {
        1 | 2 => {
            let d = run(lab, &Fault::Isolate(Some(timing.hold)), tag);
            vec![d.figures(1, "local", d.fault_at, lab), d.figures(2, "dns", d.fault_at, lab)]
        }
        3 => {
            let d = run(lab, &Fault::Flap { cut: timing.flap_cut, heal: timing.flap_heal, total: timing.flap_for }, tag);
            vec![merge(3, &[d.figures(3, "local", d.fault_at, lab), d.figures(3, "dns", d.fault_at, lab)])]
        }
        4 => {
            let d = run(lab, &Fault::Return(Duration::from_secs(60)), tag);
            let mut f = merge(4, &[d.figures(4, "local", d.heal_at, lab), d.figures(4, "dns", d.heal_at, lab)]);
            // The DNS time is from the fault's start, as in the other rows.
            f.dns_new_ms = d.figures(4, "dns", d.fault_at, lab).dns_new_ms;
            vec![f]
        }
        5 => {
            let d = run(lab, &Fault::ServersOnly(timing.hold), tag);
            vec![merge(5, &[d.figures(5, "local", d.fault_at, lab), d.figures(5, "dns", d.fault_at, lab)])]
        }
        6 => {
            let d = run(lab, &Fault::Between(timing.hold), tag);
            vec![merge(6, &[d.figures(6, "local", d.fault_at, lab), d.figures(6, "dns", d.fault_at, lab)])]
        }
        _ => panic!("no scenario {n}"),
    }
}

/// Both writers' figures as one row: sums of counts, maxima of times.
fn merge(scenario: u8, rows: &[Figures]) -> Figures {
    let mut f = rows[0].clone();
    f.scenario = scenario;
    for r in &rows[1..] {
        f.acked += r.acked;
        f.lost += r.lost;
        f.old_acked_for_ms = f.old_acked_for_ms.max(r.old_acked_for_ms);
        f.write_gap_ms = f.write_gap_ms.max(r.write_gap_ms);
    }
    f
}

/// What each scenario is, for the table.
pub fn describe(n: u8) -> &'static str {
    match n {
        1 => "(1) master host cut from sentinels+Consul; its local clients",
        2 => "(2) same cut; replica host's clients via DNS",
        3 => "(3) that cut flapping",
        4 => "(4) old master's host returns (from the heal)",
        5 => "(5) master's Consul agent cut from the servers",
        6 => "(6) Redis hosts cut from each other",
        _ => "?",
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// One table for one strategy: a row per scenario, medians and maxima over its runs.
pub fn table(strategy: Strategy, rows: &[Figures]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "strategy: {}", strategy.name());
    let _ = writeln!(
        out,
        "{:<62} {:>4} {:>8} {:>6} {:>17} {:>17} {:>17} {:>9} {:>14} {:>14}",
        "scenario", "runs", "acked", "lost", "old acked for ms", "2 writable ms", "DNS->new ms", "DNS two", "DNS none ms", "write gap ms"
    );
    let mut scenarios: Vec<u8> = rows.iter().map(|r| r.scenario).collect();
    scenarios.dedup();
    scenarios.sort_unstable();
    scenarios.dedup();
    let mm = |v: Vec<f64>| -> String {
        if v.is_empty() {
            return "-".into();
        }
        let max = v.iter().copied().fold(f64::MIN, f64::max);
        format!("{:.0} / {:.0}", median(v), max)
    };
    for s in scenarios {
        let rs: Vec<&Figures> = rows.iter().filter(|r| r.scenario == s).collect();
        let dns_new: Vec<f64> = rs.iter().filter_map(|r| r.dns_new_ms).collect();
        let dns_new = if dns_new.is_empty() { "no switch".to_string() } else { mm(dns_new) };
        let _ = writeln!(
            out,
            "{:<62} {:>4} {:>8} {:>6} {:>17} {:>17} {:>17} {:>9} {:>14} {:>14}",
            describe(s),
            rs.len(),
            rs.iter().map(|r| r.acked).sum::<usize>(),
            rs.iter().map(|r| r.lost).sum::<usize>(),
            mm(rs.iter().map(|r| r.old_acked_for_ms).collect()),
            mm(rs.iter().map(|r| r.two_writable_ms).collect()),
            dns_new,
            format!("{}/{}", rs.iter().map(|r| r.dns_two).sum::<usize>(), rs.iter().map(|r| r.dns_samples).sum::<usize>()),
            mm(rs.iter().map(|r| r.dns_none_ms).collect()),
            mm(rs.iter().map(|r| r.write_gap_ms).collect()),
        );
        for r in rs.iter().filter(|r| !r.note.is_empty()) {
            let _ = writeln!(out, "    note: {}", r.note);
        }
    }
    out
}
