//! The partition lab: the two-host Redis layout of the demo lab, but with each host in a
//! network namespace of its own (`testbed::netlab`), so links between hosts, and between a
//! host and the Consul servers, can be cut and healed while every process keeps running.
//!
//! - host a (10.77.0.11) and host b (10.77.0.12): a Redis each (a starts as master), a fixed
//!   sentinel each, and the floating sentinel that `sentinel-rebalance` (every sentinel's
//!   `client-reconfig-script`) starts and moves, always on the host without the master;
//! - the Consul servers (10.77.0.2, in the hub): one in-process consul-standin whose agents
//!   `redis-a` and `redis-b` have their hosts' node addresses and run the shipped
//!   `consul.d/redis-role.json` check in their host's namespace (`nsenter`), and its DNS;
//! - the observer (10.77.0.1, the hub itself, never cut): asks every Redis its `ROLE`, DNS
//!   for the master's name, and the sentinels, to measure what happened on both sides.
//!
//! Each host's agent listens next to the servers (an in-process listener cannot bind in a
//! host's namespace), so a host cut from the servers is cut from its agent too: its tools get
//! timeouts where a real agent would answer its own node's questions and fail the rest. Consul's
//! gossip is not networked in the stand-in either, so the lab plays it: a host cut from the
//! servers for [`SERF_DETECT`] has its node's `serfHealth` failed, and restored when the cut
//! heals, as Consul's failure detector does.
//!
//! The strategies compared ([`Strategy`]): the shipped check without `--fence-stale-master`,
//! the shipped check (with it), and the check without the fence plus Redis's own
//! `min-replicas-to-write 1` / `min-replicas-max-lag` ([`MIN_REPLICAS_MAX_LAG`]), and that with
//! clients that wait for a replica (`WAIT 1`) before counting a write as done.
//! The scenarios and their figures are in [`scenario`].

pub mod scenario;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use consul_standin::Standin;
use sengu::addr::HostPort;
use sengu::redis::{ConnectOptions, RedisConn, SentinelConn};
use serde_json::Value;
use testbed::netlab::{Direction, NetLab, SERVERS};
use testbed::redis::{RedisServer, Sentinel};
use testbed::{reserve, PortLease};

use crate::lab::{agent_config_dir, bin, host_sentinel, kill_floating, master_name, text, FLOATING_MYID, SERVICE};

/// The hosts' addresses.
pub const HOSTS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 77, 0, 11), Ipv4Addr::new(10, 77, 0, 12)];
const HOST_NAMES: [&str; 2] = ["a", "b"];
const AGENTS: [&str; 2] = ["redis-a", "redis-b"];
const CHECK_ID: &str = "redis-role";
/// How long a host must be cut from the servers before its node fails `serfHealth`: about
/// what Consul's LAN gossip takes for a small cluster (probe every 1 s, suspicion 4 × 1 s).
pub const SERF_DETECT: Duration = Duration::from_secs(5);
/// `min-replicas-max-lag` of the min-replicas strategy (Redis's default is 10).
pub const MIN_REPLICAS_MAX_LAG: u64 = 2;
/// The master's DNS name.
pub const MASTER_NAME: &str = "master.redis.service.consul";

/// How the stale side of a partition is kept from losing writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The shipped check without `--fence-stale-master`.
    NoFencing,
    /// The shipped check, with `--fence-stale-master`.
    Fence,
    /// No fence; Redis `min-replicas-to-write 1`, `min-replicas-max-lag` [`MIN_REPLICAS_MAX_LAG`].
    MinReplicas,
    /// [`Strategy::MinReplicas`], and clients that count a write as done only once `WAIT 1`
    /// says a replica has it.
    MinReplicasWait,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [Strategy::NoFencing, Strategy::Fence, Strategy::MinReplicas, Strategy::MinReplicasWait];

    pub fn name(self) -> String {
        match self {
            Strategy::NoFencing => "no fencing".into(),
            Strategy::Fence => "sengu --fence-stale-master".into(),
            Strategy::MinReplicas => format!("redis min-replicas-to-write 1, min-replicas-max-lag {MIN_REPLICAS_MAX_LAG}"),
            Strategy::MinReplicasWait => format!("{}; clients WAIT 1", Strategy::MinReplicas.name()),
        }
    }

    /// Whether the Redis servers run with `min-replicas-to-write`.
    pub fn min_replicas(self) -> bool {
        matches!(self, Strategy::MinReplicas | Strategy::MinReplicasWait)
    }
}

/// Microseconds since the Unix epoch: the one clock the observer and the writers (other
/// processes, other namespaces) share.
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// One host's files for sentinel-rebalance.
struct HostFiles {
    dir: PathBuf,
    config: PathBuf,
    pidfile: PathBuf,
    floating: SocketAddr,
    _lease: PortLease,
}

/// The running partition lab. Dropping it stops everything (see the module doc).
pub struct PartitionLab {
    pub strategy: Strategy,
    serf_stop: Arc<AtomicBool>,
    serf: Option<std::thread::JoinHandle<()>>,
    sentinels: Vec<Sentinel>,
    servers: Vec<RedisServer>,
    pub consul: Arc<Standin>,
    hosts: [HostFiles; 2],
    agents: [SocketAddr; 2],
    pub dns: SocketAddr,
    _leases: Vec<PortLease>,
    dir: tempfile::TempDir,
    pub net: Arc<NetLab>,
}

impl PartitionLab {
    /// Builds the network, starts everything, and returns once the floating sentinel runs on
    /// host b, the quorum is clean and DNS names host a's Redis. Call it inside a private
    /// network namespace (`testbed::netlab::in_private_net`, or the program run by `unshare`).
    pub fn start(strategy: Strategy, say: &mut dyn FnMut(&str)) -> PartitionLab {
        for b in ["redis-master-check", "sentinel-rebalance", "sengu-lab-writer"] {
            bin(b);
        }
        say(&format!("network: hosts a {} and b {} in namespaces of their own, Consul servers {SERVERS}", HOSTS[0], HOSTS[1]));
        let net = Arc::new(NetLab::start(&[(HOST_NAMES[0], HOSTS[0]), (HOST_NAMES[1], HOSTS[1])]));
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        let dir = tempfile::Builder::new().prefix("sengu-partition-").permissions(private).tempdir().expect("create the lab dir");
        let servers_ip = IpAddr::V4(SERVERS);
        let leases = vec![reserve(servers_ip), reserve(servers_ip), reserve(servers_ip)];
        let agents = [SocketAddr::new(servers_ip, leases[0].port()), SocketAddr::new(servers_ip, leases[1].port())];
        let dns = SocketAddr::new(servers_ip, leases[2].port());
        let hosts = [0, 1].map(|i| {
            let d = dir.path().join(HOST_NAMES[i]);
            std::fs::create_dir_all(&d).expect("create a host dir");
            let lease = reserve(IpAddr::V4(HOSTS[i]));
            HostFiles { config: d.join("sengu.toml"), pidfile: d.join("floating.pid"), floating: SocketAddr::new(IpAddr::V4(HOSTS[i]), lease.port()), dir: d, _lease: lease }
        });

        say(&format!("Redis on a (master) and b (replica), one fixed sentinel each; strategy: {}", strategy.name()));
        let server = |i: usize| {
            let mut b = RedisServer::builder(IpAddr::V4(HOSTS[i]));
            if strategy.min_replicas() {
                b = b.config_line("min-replicas-to-write 1").config_line(format!("min-replicas-max-lag {MIN_REPLICAS_MAX_LAG}"));
            }
            b
        };
        let master = server(0).start();
        let replica = server(1).replica_of(master.addr()).start();
        let servers = vec![master, replica];
        let mut sentinels = Vec::new();
        for i in 0..2 {
            sentinels.push(host_sentinel(Sentinel::builder(IpAddr::V4(HOSTS[i]), master_name(), servers[0].addr()), i, &hosts[i].config, agents[i]));
        }

        say("consul-standin: the servers, agents redis-a and redis-b running the shipped role check in their hosts, DNS");
        let mut builder = Standin::builder().dns_at(dns).first_check_immediately(true);
        for i in 0..2 {
            let def = role_definition(&net, strategy, i, servers[i].addr(), &sentinels, &hosts, dns, agents[i]);
            let agent_dir = agent_config_dir(&hosts[i].dir, &def);
            builder = builder.agent_at(AGENTS[i], agents[i]).node_address(AGENTS[i], IpAddr::V4(HOSTS[i])).config_dir(AGENTS[i], agent_dir);
        }
        let consul = Arc::new(builder.start().unwrap_or_else(|e| panic!("consul-standin did not start: {e}")));

        let serf_stop = Arc::new(AtomicBool::new(false));
        let serf = Some(spawn_serf(Arc::clone(&net), Arc::clone(&consul), Arc::clone(&serf_stop)));
        let lab = PartitionLab { strategy, serf_stop, serf, sentinels, servers, consul, hosts, agents, dns, _leases: leases, dir, net };
        for i in 0..2 {
            std::fs::write(&lab.hosts[i].config, lab.host_config(i)).expect("write a host's sengu.toml");
        }
        say("sentinel-rebalance reconcile on host b: it starts the floating sentinel there");
        let out = lab.rebalance(1, &["reconcile"]);
        assert!(out.status.success(), "sentinel-rebalance reconcile failed: {}", text(&out));
        lab.wait_settled(Duration::from_secs(60));
        lab
    }

    /// `[sentinel-rebalance]` and `[log]` of host `i`.
    fn host_config(&self, i: usize) -> String {
        let (me, peer) = (&self.hosts[i], &self.hosts[1 - i]);
        let start = [vec!["redis-sentinel".to_string(), me.dir.join("floating.conf").display().to_string()]].concat();
        let lines = [
            "daemonize yes".to_string(),
            format!("pidfile {:?}", me.pidfile.display().to_string()),
            format!("logfile {:?}", me.dir.join("floating.log").display().to_string()),
            format!("dir {:?}", me.dir.display().to_string()),
            "protected-mode no".to_string(),
        ];
        let list = |items: &[String]| format!("[{}]", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "));
        let mut c = String::new();
        let _ = writeln!(c, "[sentinel-rebalance]");
        let _ = writeln!(c, "master_name = {:?}", master_name());
        let _ = writeln!(c, "redis = \"{}\"\npeer_redis = \"{}\"", self.redis_addr(i), self.redis_addr(1 - i));
        let _ = writeln!(c, "sentinel = \"{}\"\npeer_sentinel = \"{}\"", self.sentinels[i].addr(), self.sentinels[1 - i].addr());
        let _ = writeln!(c, "floating = \"{}\"\npeer_floating = \"{}\"", me.floating, peer.floating);
        let _ = writeln!(c, "floating_myid = {FLOATING_MYID:?}");
        let _ = writeln!(c, "floating_config = {:?}", me.dir.join("floating.conf").display().to_string());
        let _ = writeln!(c, "floating_start = {}", list(&start));
        let _ = writeln!(c, "floating_script = {:?}", bin("sentinel-rebalance").display().to_string());
        let _ = writeln!(c, "floating_config_lines = {}", list(&lines));
        let _ = writeln!(c, "service = {SERVICE:?}");
        let _ = writeln!(c, "lock_file = {:?}", me.dir.join("rebalance.lock").display().to_string());
        let _ = writeln!(c, "reset_wait = \"1s\"");
        let _ = writeln!(c, "\n[log]\nfile = {:?}", self.dir.path().join("actions.log").display().to_string());
        c
    }

    /// Host `i`'s Redis.
    pub fn redis_addr(&self, i: usize) -> SocketAddr {
        self.servers[i].addr()
    }

    /// Every address a sentinel may answer at: both fixed ones and both homes of the floating one.
    pub fn sentinel_seeds(&self) -> Vec<SocketAddr> {
        vec![self.sentinels[0].addr(), self.sentinels[1].addr(), self.hosts[0].floating, self.hosts[1].floating]
    }

    fn seeds_hp(&self) -> Vec<HostPort> {
        self.sentinel_seeds().iter().map(hp).collect()
    }

    /// The host whose Redis a majority of the sentinels (asked from the observer) names.
    pub fn master_host(&self) -> Option<usize> {
        let votes = sengu::redis::ask_sentinels(&self.seeds_hp(), &master_name(), &opts());
        let m = votes.majority_of_asked().or_else(|| votes.majority())?;
        (0..2).find(|i| self.redis_addr(*i).to_string() == m.to_string())
    }

    /// Whether host `i`'s Redis says `role:master` (to the observer).
    pub fn is_master(&self, i: usize) -> Option<bool> {
        RedisConn::connect(&hp(&self.redis_addr(i)), &opts()).and_then(|mut c| c.role()).ok().map(|r| matches!(r, sengu::redis::Role::Master { .. }))
    }

    /// Whether host `i`'s Redis is a replica of host `j`'s with the link up.
    pub fn replicates(&self, i: usize, j: usize) -> bool {
        let m = self.redis_addr(j);
        RedisConn::connect(&hp(&self.redis_addr(i)), &opts())
            .and_then(|mut c| c.role())
            .is_ok_and(|r| matches!(r, sengu::redis::Role::Replica { ref master, ref state, .. } if master.to_string() == m.to_string() && state == "connected"))
    }

    /// The host the floating sentinel answers on, asked from the observer (`both` when twice).
    pub fn floating_hosts(&self) -> Vec<usize> {
        (0..2).filter(|i| SentinelConn::connect(&hp(&self.hosts[*i].floating), &opts()).and_then(|mut c| c.myid()).is_ok_and(|id| id == FLOATING_MYID)).collect()
    }

    /// Every running sentinel says CKQUORUM OK and knows two others (asked from the observer).
    pub fn quorum_ok(&self) -> bool {
        let live: Vec<HostPort> = self.seeds_hp().into_iter().filter(|s| SentinelConn::connect(s, &opts()).and_then(|mut c| c.ping()).is_ok()).collect();
        live.len() == 3
            && live.iter().all(|s| {
                SentinelConn::connect(s, &opts())
                    .and_then(|mut c| Ok((c.ckquorum(&master_name())?, c.sentinels(&master_name())?)))
                    .is_ok_and(|(q, peers)| q.is_ok() && peers.len() == 2 && peers.iter().all(|p| !p.looks_down()))
            })
    }

    /// The sentinels host `i` reaches (answering PING from inside its namespace).
    pub fn sentinels_seen_from(&self, i: usize) -> usize {
        let mut seen = 0;
        for s in self.sentinel_seeds() {
            // A partition drops packets: a connect there hangs, so bound it.
            let out = self.net.host(HOST_NAMES[i]).command("timeout").args(["1", "redis-cli", "-h", &s.ip().to_string(), "-p", &s.port().to_string(), "PING"]).stderr(Stdio::null()).output();
            if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG") {
                seen += 1;
            }
        }
        seen
    }

    /// The master's A records as the Consul servers' DNS gives them (asked from the observer).
    pub fn lookup(&self) -> Result<Vec<IpAddr>, String> {
        let options = sengu::dns::Options { timeout: Duration::from_millis(300), attempts: 1, transport: sengu::dns::Transport::Tcp };
        sengu::dns::lookup(MASTER_NAME, sengu::dns::Family::V4, &sengu::dns::Source::Server(self.dns), &options).map_err(|e| e.to_string())
    }

    /// Waits until no cut is in force and everything is back in the shape a drill needs: one
    /// master the sentinels agree on, the other host its connected replica, the floating
    /// sentinel on the replica's host, a clean quorum, DNS naming the master alone.
    pub fn wait_settled(&self, timeout: Duration) -> usize {
        let mut master = None;
        testbed::wait_until(
            timeout,
            "the partition lab to settle (one master, its replica linked, floating sentinel placed, quorum, DNS)",
            || {
                let m = self.master_host()?;
                let ok = self.is_master(m) == Some(true)
                    && self.replicates(1 - m, m)
                    && self.floating_hosts() == [1 - m]
                    && self.quorum_ok()
                    && self.lookup().is_ok_and(|ips| ips == [IpAddr::V4(HOSTS[m])]);
                master = Some(m);
                ok.then_some(m)
            },
            || self.report(),
        );
        master.unwrap_or(0)
    }

    /// Cuts host `i` from the other host and from the Consul servers, both ways.
    pub fn isolate(&self, i: usize) {
        self.net.cut(&[HOSTS[i]], &[HOSTS[1 - i], SERVERS], Direction::Both);
    }

    /// Cuts host `i` from the Consul servers only, both ways.
    pub fn cut_from_servers(&self, i: usize) {
        self.net.cut(&[HOSTS[i]], &[SERVERS], Direction::Both);
    }

    /// Cuts the two hosts from each other, both ways; both still reach the servers.
    pub fn cut_between_hosts(&self) {
        self.net.cut(&[HOSTS[0]], &[HOSTS[1]], Direction::Both);
    }

    /// Removes every cut.
    pub fn heal(&self) {
        self.net.heal();
    }

    /// The environment of host `i`'s sentinels and their scripts.
    fn host_env(&self, i: usize) -> Vec<(String, String)> {
        vec![("SENGU_CONFIG".into(), self.hosts[i].config.display().to_string()), ("CONSUL_HTTP_ADDR".into(), format!("http://{}", self.agents[i]))]
    }

    /// `sentinel-rebalance args` on host `i` (in its namespace, with its settings).
    pub fn rebalance(&self, i: usize, args: &[&str]) -> Output {
        let mut cmd = self.net.host(HOST_NAMES[i]).command(bin("sentinel-rebalance"));
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("SENGU_") || k.starts_with("CONSUL_HTTP_") || k == "REDISCLI_AUTH" {
                cmd.env_remove(&key);
            }
        }
        cmd.args(args).envs(self.host_env(i));
        cmd.output().unwrap_or_else(|e| panic!("cannot run sentinel-rebalance: {e}"))
    }

    /// Starts a writer on host `i`: to `target` directly, or through DNS when `None`.
    pub fn writer(&self, i: usize, key: &str, target: Option<SocketAddr>) -> Writer {
        let mut cmd = self.net.host(HOST_NAMES[i]).command(bin("sengu-lab-writer"));
        cmd.args(["--key", key]);
        if self.strategy == Strategy::MinReplicasWait {
            cmd.args(["--wait-replicas", "1"]);
        }
        match target {
            Some(addr) => cmd.args(["--addr", &addr.to_string()]),
            None => {
                cmd.args(["--dns-name", MASTER_NAME, "--dns-server", &self.dns.to_string()]);
                // DNS gives addresses only: the writer learns each host's port.
                for (i, ip) in HOSTS.iter().enumerate() {
                    cmd.args(["--port", &format!("{ip}={}", self.redis_addr(i).port())]);
                }
                &mut cmd
            }
        };
        Writer::start(cmd, key)
    }

    /// `LRANGE key 0 -1` on host `i`'s Redis, as sequence numbers.
    pub fn list(&self, i: usize, key: &str) -> Vec<u64> {
        let info = redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp(HOSTS[i].to_string(), self.redis_addr(i).port()), redis: redis::RedisConnectionInfo::default() };
        let mut con = testbed::redis::connect(&info, Duration::from_secs(5)).unwrap_or_else(|e| panic!("connect to {}: {e}", self.redis_addr(i)));
        redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(&mut con).unwrap_or_else(|e| panic!("LRANGE {key}: {e}"))
    }

    /// The last runs of each agent's role check, the sentinels' views, the action log.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "cuts in force: {:?}", self.net.cuts());
        for (i, agent) in AGENTS.iter().enumerate() {
            let runs = self.consul.check_history(agent, CHECK_ID).unwrap_or_default();
            let _ = writeln!(out, "--- {agent} redis-role check, last runs ---");
            for r in runs.iter().rev().take(3).rev() {
                let _ = writeln!(out, "[{} exit {:?}] {}", r.status, r.exit_code, r.output.trim_end());
            }
            if std::env::var_os("SENGU_PARTITIONS_DEBUG").is_some() {
                for r in runs.iter().rev().take(14).rev() {
                    let _ = writeln!(out, "  {} [{} exit {:?}] {}", r.started_ms % 100_000, r.status, r.exit_code, r.output.trim_end().replace('\n', " | "));
                }
            }
            let times: Vec<String> = runs.iter().rev().take(40).rev().map(|r| format!("{}+{}ms:{}", r.started_ms % 100_000, r.finished_ms.saturating_sub(r.started_ms), r.exit_code.map_or("-".into(), |c| c.to_string()))).collect();
            let _ = writeln!(out, "runs (start mod 100 s, took, exit): {}", times.join(" "));
            let _ = writeln!(out, "--- host {} redis ---\n{}", HOST_NAMES[i], self.servers[i].log_tail().lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
            let log = std::fs::read_to_string(self.hosts[i].dir.join("floating.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            let _ = writeln!(out, "--- floating sentinel log on host {} ---\n{}", HOST_NAMES[i], tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        for s in &self.sentinels {
            let _ = writeln!(out, "{}", s.proc().log_tail().lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        let actions = std::fs::read_to_string(self.dir.path().join("actions.log")).unwrap_or_default();
        let tail: Vec<&str> = actions.lines().rev().take(20).collect();
        let _ = writeln!(out, "--- action log (last 20) ---\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        out
    }
}

impl Drop for PartitionLab {
    fn drop(&mut self) {
        self.serf_stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.serf.take() {
            let _ = t.join();
        }
        for h in &self.hosts {
            kill_floating(&h.pidfile);
        }
    }
}

fn hp(a: &SocketAddr) -> HostPort {
    HostPort { host: a.ip().to_string(), port: a.port() }
}

fn opts() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_millis(300), io_timeout: Duration::from_millis(300), ..ConnectOptions::default() }
}

/// Plays Consul's gossip: a host cut from the servers (either way) for [`SERF_DETECT`] fails
/// its node's `serfHealth`; it passes again as soon as the cut heals.
fn spawn_serf(net: Arc<NetLab>, consul: Arc<Standin>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut cut_since: [Option<std::time::Instant>; 2] = [None, None];
        let mut failed = [false, false];
        while !stop.load(Ordering::Relaxed) {
            let cuts = net.cuts();
            for i in 0..2 {
                let cut = cuts.iter().any(|c| (c.from.contains(&HOSTS[i]) && c.to.contains(&SERVERS)) || (c.to.contains(&HOSTS[i]) && c.from.contains(&SERVERS)));
                match (cut, cut_since[i]) {
                    (true, None) => cut_since[i] = Some(std::time::Instant::now()),
                    (true, Some(since)) if !failed[i] && since.elapsed() >= SERF_DETECT => {
                        let _ = consul.set_serf_health(AGENTS[i], false);
                        failed[i] = true;
                    }
                    (false, _) => {
                        cut_since[i] = None;
                        if failed[i] {
                            let _ = consul.set_serf_health(AGENTS[i], true);
                            failed[i] = false;
                        }
                    }
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

/// The shipped `consul.d/redis-role.json` for host `i`: run in the host's namespace, with the
/// lab's addresses, and without `--fence-stale-master` unless the strategy is the fence.
#[allow(clippy::too_many_arguments)]
fn role_definition(net: &NetLab, strategy: Strategy, i: usize, me: SocketAddr, sentinels: &[Sentinel], hosts: &[HostFiles; 2], dns: SocketAddr, agent: SocketAddr) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../consul.d/redis-role.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut def: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let map: Vec<(&str, String)> = vec![
        ("/usr/bin/redis-master-check", bin("redis-master-check").display().to_string()),
        ("127.0.0.1:6379", me.to_string()),
        ("127.0.0.1:8600", dns.to_string()),
        ("10.0.0.11:26379", sentinels[0].addr().to_string()),
        ("10.0.0.12:26379", sentinels[1].addr().to_string()),
        ("10.0.0.12:26380", hosts[1].floating.to_string()),
    ];
    let service = &mut def["service"];
    service["port"] = me.port().into();
    let args = service["checks"][0]["args"].as_array_mut().unwrap_or_else(|| panic!("no check args in {}", path.display()));
    for (from, to) in &map {
        let n = args.iter_mut().filter(|a| a.as_str() == Some(from)).map(|a| *a = Value::String(to.clone())).count();
        assert_eq!(n, 1, "{from} must appear once in the check args of consul.d/redis-role.json");
    }
    if strategy != Strategy::Fence {
        let before = args.len();
        args.retain(|a| a.as_str() != Some("--fence-stale-master"));
        assert_eq!(before, args.len() + 1, "--fence-stale-master must appear once in consul.d/redis-role.json");
    }
    // The floating sentinel's other home, and the count that makes a majority 2 of the 3
    // sentinels that exist, as docs/redis-master-check.md asks when a sentinel moves between
    // two addresses: counted over 4 addresses, a majority would need 3, and after a partition
    // the returning side's sentinel, whose links take tens of seconds to recover, would hold
    // the fence back.
    args.push("--sentinel".into());
    args.push(hosts[0].floating.to_string().into());
    args.push("--sentinel-count".into());
    args.push("3".into());
    args.push("--consul-addr".into());
    args.push(format!("http://{agent}").into());
    let prefix = net.host(HOST_NAMES[i]).argv_prefix();
    for (k, p) in prefix.into_iter().enumerate() {
        args.insert(k, p.into());
    }
    def
}

/// One writer's attempt, as it printed it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at_us: i64,
    pub seq: u64,
    /// The server that acknowledged it; `None` for a failed attempt.
    pub acked_by: Option<SocketAddr>,
}

/// A running `sengu-lab-writer` and what it has printed so far.
pub struct Writer {
    pub key: String,
    child: Option<Child>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(mut cmd: Command, key: &str) -> Writer {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start sengu-lab-writer: {e}"));
        let stdout = child.stdout.take().expect("writer stdout");
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&attempts);
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut f = line.splitn(4, ' ');
                let (Some(t), Some(kind), Some(seq)) = (f.next(), f.next(), f.next()) else { continue };
                let (Ok(at_us), Ok(seq)) = (t.parse(), seq.parse()) else { continue };
                let acked_by = if kind == "ack" { f.next().and_then(|a| a.parse().ok()) } else { None };
                sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Attempt { at_us, seq, acked_by });
            }
        });
        Writer { key: key.to_string(), child: Some(child), attempts, reader: Some(reader) }
    }

    /// Every attempt so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Stops the writer (closing its stdin) and returns every attempt.
    pub fn stop(mut self) -> Vec<Attempt> {
        self.finish();
        self.attempts()
    }

    fn finish(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while std::time::Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.finish();
    }
}
