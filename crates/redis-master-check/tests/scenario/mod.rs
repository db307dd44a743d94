//! Scaffolding for the scenario tests of redis-master-check: the two-host layout (master host
//! 127.0.0.11 with one sentinel, replica host 127.0.0.12 with two), a consul-standin with one
//! agent per host that runs the check from the shipped `consul.d/` files, and DNS sampling.
//!
//! The shipped files are loaded as they are; only what differs on a test machine is rewritten:
//! the binary path, the Redis, sentinel and DNS addresses and the service port. Every address
//! the file names must be found and rewritten, so an edit to the file cannot make a test quietly
//! check something else. The stand-in's agents listen on reserved ports rather than 8500, so
//! `--consul-addr` is appended (in production the default, 127.0.0.1:8500, is the local agent).

#![allow(dead_code)] // each test file uses a different subset

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use consul_standin::Standin;
use sengu::dns::{self, DnsError, Family, Source, Transport};
use serde_json::Value;
use testbed::redis::RedisSet;
use testbed::{PortLease, host, reserve};

pub const BIN: &str = env!("CARGO_BIN_EXE_redis-master-check");

/// The service name and the Sentinel master name of the shipped definitions.
pub const SERVICE: &str = "redis";
pub const MASTER_NAME: &str = "mymaster";

/// Agent (node) names per host.
pub const NODES: [&str; 2] = ["redis-a", "redis-b"];

/// The shipped definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipped {
    /// `consul.d/redis-master.json`: the seed layout, master-only check.
    Master,
    /// `consul.d/redis-role.json`: role mode with tags.
    Role,
}

impl Shipped {
    pub fn path(self) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../consul.d");
        root.join(match self {
            Shipped::Master => "redis-master.json",
            Shipped::Role => "redis-role.json",
        })
    }

    pub fn check_id(self) -> &'static str {
        match self {
            Shipped::Master => "redis-master",
            Shipped::Role => "redis-role",
        }
    }
}

/// A Redis master + replica with 3 sentinels in the 2-host layout, master name `mymaster` (the shipped files' `--sentinel-master`).
pub fn redis_set(sentinels: usize, down_after: Duration) -> RedisSet {
    RedisSet::builder().replicas(1).sentinels(sentinels).master_name(MASTER_NAME).down_after(down_after).start()
}

/// The stand-in datacenter for a set: agents `redis-a` (127.0.0.11) and `redis-b`
/// (127.0.0.12) on reserved ports, DNS on a reserved port of 127.0.0.1.
pub struct Consul {
    pub standin: Standin,
    pub dns: SocketAddr,
    _leases: Vec<PortLease>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Consul {
    /// Starts the stand-in; with `shipped`, each agent runs that definition for its host's Redis.
    pub fn start(set: &RedisSet, shipped: Option<Shipped>) -> Consul {
        let leases: Vec<PortLease> = vec![reserve(host(11)), reserve(host(12)), reserve(host(1))];
        let http: Vec<SocketAddr> = (0..2).map(|i| SocketAddr::new(host(11 + i as u8), leases[i].port())).collect();
        let dns = SocketAddr::new(host(1), leases[2].port());
        let mut builder = Standin::builder().dns_at(dns).first_check_immediately(true);
        let mut dirs = Vec::new();
        for (i, name) in NODES.iter().enumerate() {
            builder = builder.agent_at(name, http[i]);
            if let Some(shipped) = shipped {
                let dir = tempfile::tempdir().unwrap();
                let def = rewrite(shipped, set, i, dns, http[i]);
                std::fs::write(dir.path().join("redis.json"), serde_json::to_string_pretty(&def).unwrap()).unwrap();
                builder = builder.config_dir(name, dir.path());
                dirs.push(dir);
            }
        }
        let standin = builder.start().unwrap_or_else(|e| panic!("consul-standin did not start: {e}"));
        Consul { standin, dns, _leases: leases, _dirs: dirs }
    }

    /// `http://ip:port` of the agent on host `i` (0 = 127.0.0.11).
    pub fn agent_url(&self, i: usize) -> String {
        self.standin.http_url(NODES[i]).unwrap()
    }

    /// The addresses `<tag>.redis.service.consul` resolves to (empty for NXDOMAIN), over TCP.
    pub fn resolve(&self, tag: &str) -> Result<Vec<IpAddr>, DnsError> {
        let options = dns::Options { timeout: Duration::from_secs(2), attempts: 1, transport: Transport::Tcp };
        match dns::lookup(&format!("{tag}.{SERVICE}.service.consul."), Family::V4, &Source::Server(self.dns), &options) {
            Err(e) if e.is_negative_answer() => Ok(Vec::new()),
            other => other,
        }
    }

    /// The addresses of the master name; panics if DNS itself fails.
    pub fn masters(&self) -> Vec<IpAddr> {
        self.resolve("master").unwrap_or_else(|e| panic!("dns failed: {e}"))
    }

    /// The outputs of the last runs of the check on host `i`, newest last, for messages.
    pub fn history(&self, i: usize, shipped: Shipped) -> String {
        let runs = self.standin.check_history(NODES[i], shipped.check_id()).unwrap_or_default();
        runs.iter()
            .rev()
            .take(6)
            .rev()
            .map(|r| format!("[{} exit {:?} applied {:?} at {}] {}", r.status, r.exit_code, r.applied, r.finished_ms, r.output.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The shipped definition for host `i`, rewritten for this machine (see the module doc).
pub fn rewrite(shipped: Shipped, set: &RedisSet, i: usize, dns: SocketAddr, agent: SocketAddr) -> Value {
    let text = std::fs::read_to_string(shipped.path()).unwrap();
    let mut def: Value = serde_json::from_str(&text).unwrap();
    let redis = set.server(i).addr();
    let sentinels: Vec<String> = set.sentinels().iter().map(|s| s.addr().to_string()).collect();
    assert_eq!(sentinels.len(), 3, "the shipped files name three sentinels");
    let map: Vec<(&str, String)> = vec![
        ("/usr/bin/redis-master-check", BIN.to_string()),
        ("127.0.0.1:6379", redis.to_string()),
        ("127.0.0.1:8600", dns.to_string()),
        ("10.0.0.11:26379", sentinels[0].clone()),
        ("10.0.0.12:26379", sentinels[1].clone()),
        ("10.0.0.12:26380", sentinels[2].clone()),
    ];
    let service = def.get_mut("service").expect("a service definition");
    assert_eq!(service["port"], 6379);
    service["port"] = redis.port().into();
    let check = &mut service["checks"][0];
    let args = check["args"].as_array_mut().expect("args");
    for (from, to) in &map {
        let n = args.iter_mut().filter(|a| a.as_str() == Some(from)).map(|a| *a = Value::String(to.clone())).count();
        assert_eq!(n, 1, "{from} must appear once in the args of {}", shipped.path().display());
    }
    args.push("--consul-addr".into());
    args.push(format!("http://{agent}").into());
    def
}

/// Samples `master.redis.service.consul` every 50 ms for `window`, asserting each time that it
/// lists at most one address; returns every sample with its time.
pub fn sample_masters(consul: &Consul, window: Duration, context: impl Fn() -> String) -> Vec<(Instant, Vec<IpAddr>)> {
    let end = Instant::now() + window;
    let mut samples = Vec::new();
    while Instant::now() < end {
        let at = Instant::now();
        let masters = consul.masters();
        assert!(masters.len() <= 1, "DNS listed two masters: {masters:?}\n{}", context());
        samples.push((at, masters));
        std::thread::sleep(Duration::from_millis(50));
    }
    samples
}

/// Polls until `master.redis.service.consul` is exactly `[ip]`; returns when it first was.
pub fn wait_master_in_dns(consul: &Consul, ip: IpAddr, timeout: Duration, context: impl FnOnce() -> String) -> Instant {
    testbed::wait_until(
        timeout,
        &format!("master.redis.service.consul to be {ip}"),
        || {
            let at = Instant::now();
            (consul.resolve("master").ok() == Some(vec![ip])).then_some(at)
        },
        context,
    )
}

/// A stand-in with one agent on 127.0.0.11 and DNS on an ephemeral port of 127.0.0.1, for
/// tests that run the binary themselves and shape DNS through the catalog.
pub fn dns_standin() -> Standin {
    Standin::builder().agent(NODES[0], host(11)).dns(true).start().unwrap_or_else(|e| panic!("consul-standin did not start: {e}"))
}

/// A client for the stand-in's first agent.
pub fn client(standin: &Standin) -> sengu::consul::Client {
    let config = sengu::consul::ClientConfig::default().with_address(&standin.http_url(NODES[0]).unwrap()).unwrap();
    sengu::consul::Client::new(&config).unwrap()
}

/// Registers a catalog-only node `node` at `ip` with a `redis` instance tagged master (no
/// checks, so DNS counts it healthy): a master as DNS sees it.
pub fn register_master_in_catalog(standin: &Standin, node: &str, ip: IpAddr) {
    use sengu::consul::{CatalogRegistration, Service};
    let registration = CatalogRegistration {
        node: node.to_string(),
        address: ip.to_string(),
        service: Some(Service { service: SERVICE.into(), tags: vec!["master".into()], port: 6379, ..Default::default() }),
        ..Default::default()
    };
    client(standin).catalog_register(&registration).unwrap();
}

/// A port on `ip` where nothing listens, reserved so no other test takes it meanwhile.
pub fn dead_port(ip: IpAddr) -> (PortLease, SocketAddr) {
    let lease = reserve(ip);
    let addr = SocketAddr::new(ip, lease.port());
    (lease, addr)
}

/// A TCP listener that never accepts: the kernel completes handshakes from its backlog, so a
/// client connects and then waits forever, like a hung server.
pub fn black_hole(ip: IpAddr) -> (PortLease, std::net::TcpListener) {
    let lease = reserve(ip);
    let listener = std::net::TcpListener::bind((ip, lease.port())).unwrap();
    (lease, listener)
}

/// Builds an argv from string-ish parts.
pub fn argv(parts: &[&dyn std::fmt::Display]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}
