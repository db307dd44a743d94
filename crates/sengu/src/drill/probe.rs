//! The probes a drill runs while it switches, all through the DNS name the way an application
//! reaches the database: a writer that stores a unique, increasing sequence number every probe
//! interval, a reader, and a DNS sampler that asks for the master name every few milliseconds.
//!
//! The writer stores sequence numbers rather than bumping a counter on purpose: during a split
//! both masters would keep incrementing a counter and hide the writes one of them loses. With
//! one number per write, every acknowledged number can be looked for on the new master
//! afterwards. A write that fails or times out is never retried: it may or may not have been
//! applied, so it counts as neither acknowledged nor lost. After any failure the writer drops
//! its connection and resolves the name again, as a client library that reconnects would.
//!
//! The database side is a [`Store`] (Redis: `RPUSH`; MySQL: `INSERT`), so both drills share the
//! loops and the arithmetic. One piece past 400 lines because the three loops and the queries
//! over what they saw ([`Observed`]) are one job; a sixth of it is tests.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::addr::HostPort;
use crate::dns::{self, Family, Source};

/// How the probes find the master: a DNS name, asked the way the drill was told.
#[derive(Debug, Clone)]
pub struct NameLookup {
    pub name: String,
    pub source: Source,
    pub options: dns::Options,
}

impl NameLookup {
    /// `name` asked over TCP (so more than three answers are seen, reference §8) at `server`,
    /// or through the system resolver, with a per-query timeout.
    pub fn new(name: &str, server: Option<SocketAddr>, timeout: Duration) -> NameLookup {
        let source = server.map_or(Source::System, Source::Server);
        NameLookup { name: name.to_string(), source, options: dns::Options { timeout, attempts: 1, transport: dns::Transport::Tcp } }
    }

    /// Every A record of the name; an empty list for NXDOMAIN or no records.
    pub fn addresses(&self) -> Result<Vec<IpAddr>, String> {
        match dns::lookup(&self.name, Family::V4, &self.source, &self.options) {
            Ok(ips) => Ok(ips),
            Err(e) if e.is_negative_answer() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Which port to use at an address DNS answered: DNS A records carry no port, and the
/// instances of one service may listen on different ones.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Ports {
    pub by_ip: BTreeMap<IpAddr, u16>,
    pub default: Option<u16>,
}

impl Ports {
    pub fn endpoint(&self, ip: IpAddr) -> Option<HostPort> {
        let port = self.by_ip.get(&ip).copied().or(self.default)?;
        Some(HostPort { host: ip.to_string(), port })
    }
}

/// The database side of the probes.
pub trait Store: Sync {
    type Conn;
    /// Connects to the server at `at` with the probe's short timeouts.
    fn connect(&self, at: &HostPort) -> Result<Self::Conn, String>;
    /// Stores `seq`; `Ok` only when the server acknowledged it.
    fn write(&self, conn: &mut Self::Conn, seq: u64) -> Result<(), String>;
    /// One read an application would do.
    fn read(&self, conn: &mut Self::Conn) -> Result<(), String>;
    /// Every sequence number stored on the server at `at`.
    fn stored(&self, at: &HostPort) -> Result<BTreeSet<u64>, String>;
}

/// One acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub at: Instant,
    /// The endpoint that acknowledged it.
    pub server: HostPort,
}

/// Failures by kind (the first line of the message, host part kept), for the report.
#[derive(Debug, Default, Clone)]
pub struct Failures {
    pub count: u64,
    pub kinds: BTreeMap<String, u64>,
}

impl Failures {
    fn add(&mut self, message: &str) {
        self.count += 1;
        let kind: String = message.lines().next().unwrap_or_default().chars().take(160).collect();
        // Bounded: a long outage must not grow the report without limit.
        if self.kinds.len() < 12 || self.kinds.contains_key(&kind) {
            *self.kinds.entry(kind).or_default() += 1;
        }
    }

    /// `3 x msg; 1 x other`.
    pub fn describe(&self) -> String {
        let mut kinds: Vec<(&String, &u64)> = self.kinds.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        kinds.iter().map(|(k, n)| format!("{n} x {k}")).collect::<Vec<_>>().join("; ")
    }
}

/// One DNS answer: when it arrived, and the addresses (empty: NXDOMAIN) or the error.
pub type DnsSample = (Instant, Result<Vec<IpAddr>, String>);

/// What the probes saw, filled while they run.
#[derive(Debug, Default)]
pub struct Observed {
    pub acks: Mutex<Vec<Ack>>,
    pub write_failures: Mutex<Failures>,
    /// When each successful read completed, and where.
    pub reads: Mutex<Vec<(Instant, HostPort)>>,
    pub read_failures: Mutex<Failures>,
    pub dns: Mutex<Vec<DnsSample>>,
    stop: AtomicBool,
}

impl Observed {
    pub fn new() -> Observed {
        Observed::default()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The last write acknowledged by `server` at or before `before`.
    pub fn last_ack_by(&self, server: &HostPort, before: Instant) -> Option<Instant> {
        let acks = self.acks.lock().ok()?;
        acks.iter().filter(|a| &a.server == server && a.at <= before).map(|a| a.at).max()
    }

    /// The first write acknowledged by `server` after `after`.
    pub fn first_ack_by(&self, server: &HostPort, after: Instant) -> Option<Instant> {
        let acks = self.acks.lock().ok()?;
        acks.iter().filter(|a| &a.server == server && a.at > after).map(|a| a.at).min()
    }

    /// The first DNS answer after `after` that named exactly `ip`.
    pub fn dns_first_only(&self, ip: IpAddr, after: Instant) -> Option<Instant> {
        let dns = self.dns.lock().ok()?;
        dns.iter().find(|(at, a)| *at > after && matches!(a, Ok(ips) if ips.as_slice() == [ip])).map(|(at, _)| *at)
    }

    /// The latest DNS answer.
    pub fn dns_latest(&self) -> Option<Result<Vec<IpAddr>, String>> {
        self.dns.lock().ok()?.last().map(|(_, a)| a.clone())
    }

    /// How many answers named two or more addresses, out of how many.
    pub fn dns_multi(&self) -> (u64, u64) {
        let Ok(dns) = self.dns.lock() else { return (0, 0) };
        let multi = dns.iter().filter(|(_, a)| matches!(a, Ok(ips) if ips.len() > 1)).count();
        (multi as u64, dns.len() as u64)
    }

    /// Every change of the DNS answer after `after` (at most `limit`), for the timeline.
    pub fn dns_changes(&self, after: Instant, limit: usize) -> Vec<(Instant, String)> {
        let Ok(dns) = self.dns.lock() else { return Vec::new() };
        let mut out = Vec::new();
        let mut last: Option<&Result<Vec<IpAddr>, String>> = None;
        for (at, answer) in dns.iter() {
            if last != Some(answer) {
                if *at > after && out.len() < limit {
                    out.push((*at, describe_answer(answer)));
                }
                last = Some(answer);
            }
        }
        out
    }

    /// The longest time between two successful reads (or from the first read to the end
    /// when reads stopped).
    pub fn longest_read_gap(&self, end: Instant) -> Option<Duration> {
        let reads = self.reads.lock().ok()?;
        let first = reads.first()?.0;
        let mut prev = first;
        let mut gap = Duration::ZERO;
        for (at, _) in reads.iter().skip(1) {
            gap = gap.max(at.saturating_duration_since(prev));
            prev = *at;
        }
        Some(gap.max(end.saturating_duration_since(prev)))
    }

    /// The longest time without an acknowledged write from `after` (the first write on the new
    /// master) to `end`: a second outage once the switch looked done.
    pub fn longest_write_gap(&self, after: Instant, end: Instant) -> Option<Duration> {
        let acks = self.acks.lock().ok()?;
        let mut times: Vec<Instant> = acks.iter().map(|a| a.at).filter(|at| *at >= after).collect();
        times.sort();
        let mut prev = *times.first()?;
        let mut gap = Duration::ZERO;
        for at in times.into_iter().skip(1) {
            gap = gap.max(at.saturating_duration_since(prev));
            prev = at;
        }
        Some(gap.max(end.saturating_duration_since(prev)))
    }

    /// Every acknowledged sequence number.
    pub fn acked(&self) -> BTreeSet<u64> {
        self.acks.lock().map(|a| a.iter().map(|a| a.seq).collect()).unwrap_or_default()
    }
}

/// `127.0.0.12`, `127.0.0.11 and 127.0.0.12`, `nothing (NXDOMAIN)` or the error.
pub fn describe_answer(answer: &Result<Vec<IpAddr>, String>) -> String {
    match answer {
        Ok(ips) if ips.is_empty() => "nothing (no master in DNS)".to_string(),
        Ok(ips) => ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and "),
        Err(e) => format!("no answer: {e}"),
    }
}

/// How often each probe runs.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Cadence {
    /// Writer and reader.
    #[serde(serialize_with = "crate::human::exact")]
    pub probe: Duration,
    /// DNS sampler.
    #[serde(serialize_with = "crate::human::exact")]
    pub dns: Duration,
}

/// Runs the writer, the reader and the DNS sampler in threads of their own while `body` runs
/// in this one, then stops them and returns what `body` returned. `first_seq` is the first
/// sequence number to write (rounds of one drill continue the sequence).
pub fn with_probes<S: Store, R>(
    store: &S,
    lookup: &NameLookup,
    ports: &Ports,
    cadence: Cadence,
    observed: &Observed,
    first_seq: u64,
    body: impl FnOnce() -> R,
) -> R {
    observed.stop.store(false, Ordering::Relaxed);
    std::thread::scope(|scope| {
        scope.spawn(|| write_loop(store, lookup, ports, cadence.probe, observed, first_seq));
        scope.spawn(|| read_loop(store, lookup, ports, cadence.probe, observed));
        scope.spawn(|| dns_loop(lookup, cadence.dns, observed));
        let result = body();
        observed.stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Sleeps until the next tick; never bursts to catch up after a slow step.
fn tick(next: &mut Instant, every: Duration) {
    let now = Instant::now();
    if *next > now {
        std::thread::sleep(*next - now);
    }
    *next = (*next + every).max(Instant::now());
}

/// The one address the name points at, and the endpoint there.
fn resolve(lookup: &NameLookup, ports: &Ports) -> Result<HostPort, String> {
    let ips = lookup.addresses()?;
    match ips.as_slice() {
        [ip] => ports.endpoint(*ip).ok_or_else(|| format!("no port known for {ip}")),
        [] => Err(format!("{} names no master", lookup.name)),
        many => Err(format!("{} names {} addresses", lookup.name, many.len())),
    }
}

/// The probe's connection, opened through the DNS name when there is none (as an application
/// reconnects after an error); a failure to resolve or connect is reported through `fail`.
fn connected<'c, S: Store>(
    store: &S,
    lookup: &NameLookup,
    ports: &Ports,
    conn: &'c mut Option<(S::Conn, HostPort)>,
    fail: &impl Fn(&str),
) -> Option<&'c mut (S::Conn, HostPort)> {
    if conn.is_none() {
        match resolve(lookup, ports).and_then(|at| store.connect(&at).map(|c| (c, at))) {
            Ok(c) => *conn = Some(c),
            Err(e) => fail(&e),
        }
    }
    conn.as_mut()
}

fn write_loop<S: Store>(store: &S, lookup: &NameLookup, ports: &Ports, every: Duration, observed: &Observed, first_seq: u64) {
    let mut conn: Option<(S::Conn, HostPort)> = None;
    let mut seq = first_seq;
    let mut next = Instant::now();
    let fail = |e: &str| {
        if let Ok(mut f) = observed.write_failures.lock() {
            f.add(e);
        }
    };
    while !observed.stopped() {
        tick(&mut next, every);
        let Some((c, at)) = connected(store, lookup, ports, &mut conn, &fail) else { continue };
        let this = seq;
        seq += 1;
        match store.write(c, this) {
            Ok(()) => {
                let ack = Ack { seq: this, at: Instant::now(), server: at.clone() };
                if let Ok(mut acks) = observed.acks.lock() {
                    acks.push(ack);
                }
            }
            Err(e) => {
                fail(&e);
                conn = None;
            }
        }
    }
}

fn read_loop<S: Store>(store: &S, lookup: &NameLookup, ports: &Ports, every: Duration, observed: &Observed) {
    let mut conn: Option<(S::Conn, HostPort)> = None;
    let mut next = Instant::now();
    let fail = |e: &str| {
        if let Ok(mut f) = observed.read_failures.lock() {
            f.add(e);
        }
    };
    while !observed.stopped() {
        tick(&mut next, every);
        let Some((c, at)) = connected(store, lookup, ports, &mut conn, &fail) else { continue };
        match store.read(c) {
            Ok(()) => {
                let at = at.clone();
                if let Ok(mut reads) = observed.reads.lock() {
                    reads.push((Instant::now(), at));
                }
            }
            Err(e) => {
                fail(&e);
                conn = None;
            }
        }
    }
}

fn dns_loop(lookup: &NameLookup, every: Duration, observed: &Observed) {
    let mut next = Instant::now();
    while !observed.stopped() {
        tick(&mut next, every);
        let answer = lookup.addresses();
        // Stamped when the answer arrived: that is when a client would have acted on it.
        let at = Instant::now();
        if let Ok(mut dns) = observed.dns.lock() {
            dns.push((at, answer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    #[test]
    fn acks_and_dns_answers_are_found_by_server_and_time() {
        let o = Observed::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        *o.acks.lock().unwrap() = vec![
            Ack { seq: 1, at: at(0), server: hp("10.0.0.1:6379") },
            Ack { seq: 2, at: at(10), server: hp("10.0.0.1:6379") },
            Ack { seq: 5, at: at(300), server: hp("10.0.0.2:6379") },
        ];
        assert_eq!(o.last_ack_by(&hp("10.0.0.1:6379"), at(100)), Some(at(10)));
        assert_eq!(o.first_ack_by(&hp("10.0.0.2:6379"), at(100)), Some(at(300)));
        assert_eq!(o.first_ack_by(&hp("10.0.0.2:6380"), at(100)), None);
        assert_eq!(o.acked(), BTreeSet::from([1, 2, 5]));
        *o.dns.lock().unwrap() = vec![
            (at(0), Ok(vec![ip("10.0.0.1")])),
            (at(5), Ok(vec![ip("10.0.0.1")])),
            (at(10), Ok(vec![])),
            (at(15), Ok(vec![ip("10.0.0.1"), ip("10.0.0.2")])),
            (at(20), Ok(vec![ip("10.0.0.2")])),
        ];
        assert_eq!(o.dns_first_only(ip("10.0.0.2"), at(1)), Some(at(20)));
        assert_eq!(o.dns_multi(), (1, 5));
        let changes: Vec<String> = o.dns_changes(at(1), 10).into_iter().map(|(_, d)| d).collect();
        assert_eq!(changes, ["nothing (no master in DNS)", "10.0.0.1 and 10.0.0.2", "10.0.0.2"]);
    }

    #[test]
    fn the_longest_read_gap_counts_the_tail() {
        let o = Observed::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        *o.reads.lock().unwrap() = vec![(at(0), hp("10.0.0.1:1")), (at(10), hp("10.0.0.1:1")), (at(250), hp("10.0.0.2:1"))];
        assert_eq!(o.longest_read_gap(at(260)), Some(Duration::from_millis(240)));
        assert_eq!(o.longest_read_gap(at(600)), Some(Duration::from_millis(350)));
    }

    #[test]
    fn a_second_write_outage_after_the_switch_is_measured() {
        let o = Observed::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let ack = |seq, ms| Ack { seq, at: at(ms), server: hp("10.0.0.2:6379") };
        *o.acks.lock().unwrap() = vec![ack(1, 0), ack(2, 300), ack(3, 310), ack(4, 1400), ack(5, 1410)];
        assert_eq!(o.longest_write_gap(at(300), at(1420)), Some(Duration::from_millis(1090)));
        assert_eq!(o.longest_write_gap(at(1400), at(2000)), Some(Duration::from_millis(590)));
        assert_eq!(o.longest_write_gap(at(1500), at(2000)), None);
    }

    #[test]
    fn failures_are_counted_by_kind_within_a_bound() {
        let mut f = Failures::default();
        for i in 0..20 {
            f.add(&format!("error {i}\nsecond line"));
        }
        f.add("error 0");
        assert_eq!(f.count, 21);
        assert_eq!(f.kinds.len(), 12);
        assert!(f.describe().starts_with("2 x error 0"), "{}", f.describe());
    }

    #[test]
    fn a_port_comes_from_the_address_or_the_default() {
        let ports = Ports { by_ip: BTreeMap::from([(ip("10.0.0.1"), 6380)]), default: None };
        assert_eq!(ports.endpoint(ip("10.0.0.1")).unwrap().to_string(), "10.0.0.1:6380");
        assert!(ports.endpoint(ip("10.0.0.2")).is_none());
        let ports = Ports { default: Some(3306), ..ports };
        assert_eq!(ports.endpoint(ip("10.0.0.2")).unwrap().to_string(), "10.0.0.2:3306");
    }
}
