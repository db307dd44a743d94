//! The two-host setup sentinel-rebalance manages, for its scenario tests: a Redis master on
//! host A (127.0.0.11) and a replica on host B (127.0.0.12) with one fixed sentinel each
//! (testbed), the floating sentinel as the tool starts it (daemonized `redis-sentinel`, found
//! again through its pidfile), a Consul stand-in with one agent per host, DNS, and the service
//! `redis` registered on both with `enable_tag_override`. Each host gets its own config file,
//! handed to its sentinels (and so to their scripts) as `SENGU_CONFIG`.
//!
//! Dropping a [`Pair`] kills the floating sentinels first (by pidfile, after checking the pid
//! still is a sentinel), then the testbed processes and the stand-in. Still one piece past 400
//! lines: it is one fixture; most of it is small probes the scenarios assert with.

#![allow(dead_code)] // each test file uses a different subset

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use consul_standin::Standin;
use sengu::consul::{Client, ClientConfig, ServiceRegistration};
use testbed::ports::{host, reserve, PortLease};
use testbed::redis::{RedisSet, Sentinel};

use sengu_testsupport::{run_env, Run};

pub const BIN: &str = env!("CARGO_BIN_EXE_sentinel-rebalance");
pub const FLOATING_MYID: &str = "f100000000000000000000000000000000000f1f";
pub const SERVICE: &str = "redis";

/// Host A (the first master) and host B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H {
    A,
    B,
}

impl H {
    pub fn ip(self) -> IpAddr {
        match self {
            H::A => host(11),
            H::B => host(12),
        }
    }

    pub fn other(self) -> H {
        match self {
            H::A => H::B,
            H::B => H::A,
        }
    }

    fn index(self) -> usize {
        match self {
            H::A => 0,
            H::B => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            H::A => "a",
            H::B => "b",
        }
    }
}

/// One host's files and addresses.
#[derive(Debug)]
pub struct HostFiles {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    pub floating_conf: PathBuf,
    pub pidfile: PathBuf,
    pub floating: SocketAddr,
    _lease: PortLease,
}

/// Options for [`Pair::start`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Install the binary as every fixed sentinel's client-reconfig-script.
    pub script: bool,
    /// `reset_wait` in the config files.
    pub reset_wait: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Options { script: true, reset_wait: "1s" }
    }
}

pub struct Pair {
    // Field order is drop order: floating sentinels first (see Drop), then the rest.
    pub set: RedisSet,
    pub consul: Standin,
    pub hosts: [HostFiles; 2],
    _dir: tempfile::TempDir,
}

impl Pair {
    /// Starts Redis, the fixed sentinels and Consul; the floating sentinel runs nowhere yet.
    pub fn start(options: Options) -> Pair {
        // Closed to other users, as the floating config's directory must be (the config may
        // hold auth-pass, and Sentinel rewrites it 0644 under umask 022).
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        let dir = tempfile::Builder::new().prefix("sengu-rebalance-").permissions(private).tempdir().unwrap();
        let hosts = [H::A, H::B].map(|h| {
            let d = dir.path().join(h.name());
            std::fs::create_dir_all(&d).unwrap();
            let lease = reserve(h.ip());
            HostFiles {
                config: d.join("sengu.toml"),
                log: d.join("actions.log"),
                floating_conf: d.join("floating.conf"),
                pidfile: d.join("floating.pid"),
                floating: SocketAddr::new(h.ip(), lease.port()),
                dir: d,
                _lease: lease,
            }
        });
        let consul = Standin::builder().agent("a", H::A.ip()).agent("b", H::B.ip()).dns(true).start().unwrap();
        let mut set = RedisSet::builder().replicas(1).sentinel_hosts(vec![]).start();
        for h in [H::A, H::B] {
            let files = &hosts[h.index()];
            let mut b = set
                .sentinel_builder(h.ip())
                .myid(Sentinel::numbered_myid(0xa0 + h.index() as u64))
                .env("SENGU_CONFIG", &files.config)
                .env("CONSUL_HTTP_ADDR", consul.http_url(h.name()).unwrap());
            if options.script {
                b = b.client_reconfig_script(BIN);
            }
            let s = b.start();
            s.set_script_retry_delay(Duration::from_millis(500));
            set.add_sentinel(s);
        }
        let pair = Pair { set, consul, hosts, _dir: dir };
        for h in [H::A, H::B] {
            std::fs::write(&pair.hosts[h.index()].config, pair.config_text(h, &options)).unwrap();
            let tags = if h == H::A { vec!["master".to_string()] } else { vec!["replica".to_string()] };
            let registration = ServiceRegistration {
                name: SERVICE.into(),
                port: pair.redis(h).port(),
                tags,
                enable_tag_override: true,
                ..Default::default()
            };
            pair.consul_client(h).agent_service_register(&registration).unwrap();
        }
        pair
    }

    fn config_text(&self, h: H, options: &Options) -> String {
        let me = &self.hosts[h.index()];
        let peer = &self.hosts[h.other().index()];
        let (sentinel, peer_sentinel) = (self.fixed(h), self.fixed(h.other()));
        let (bin, pre) = sentinel_argv();
        let mut start = vec![bin];
        start.push(me.floating_conf.display().to_string());
        start.extend(pre);
        let mut c = String::new();
        let _ = writeln!(c, "[sentinel-rebalance]");
        let _ = writeln!(c, "master_name = \"mymaster\"");
        let _ = writeln!(c, "redis = \"{}\"", self.redis(h));
        let _ = writeln!(c, "peer_redis = \"{}\"", self.redis(h.other()));
        let _ = writeln!(c, "sentinel = \"{sentinel}\"");
        let _ = writeln!(c, "peer_sentinel = \"{peer_sentinel}\"");
        let _ = writeln!(c, "floating = \"{}\"", me.floating);
        let _ = writeln!(c, "peer_floating = \"{}\"", peer.floating);
        let _ = writeln!(c, "floating_myid = \"{FLOATING_MYID}\"");
        let _ = writeln!(c, "floating_config = {:?}", me.floating_conf.display().to_string());
        let _ = writeln!(c, "floating_start = {}", toml_list(&start));
        let stop: Vec<String> = ["redis-cli", "-h", &h.ip().to_string(), "-p", &me.floating.port().to_string(), "shutdown", "nosave"]
            .map(String::from)
            .to_vec();
        let _ = writeln!(c, "floating_stop = {}", toml_list(&stop));
        let _ = writeln!(c, "floating_script = {:?}", BIN);
        let lines = [
            "daemonize yes".to_string(),
            format!("pidfile {:?}", me.pidfile.display().to_string()),
            format!("logfile {:?}", me.dir.join("floating.log").display().to_string()),
            format!("dir {:?}", me.dir.display().to_string()),
            "protected-mode no".to_string(),
        ];
        let _ = writeln!(c, "floating_config_lines = {}", toml_list(&lines));
        let _ = writeln!(c, "service = \"{SERVICE}\"");
        let _ = writeln!(c, "lock_file = {:?}", me.dir.join("rebalance.lock").display().to_string());
        let _ = writeln!(c, "reset_wait = \"{}\"", options.reset_wait);
        let _ = writeln!(c, "\n[log]\nfile = {:?}", me.log.display().to_string());
        c
    }

    pub fn files(&self, h: H) -> &HostFiles {
        &self.hosts[h.index()]
    }

    pub fn redis(&self, h: H) -> SocketAddr {
        self.set.servers().iter().find(|s| s.ip() == h.ip()).map(|s| s.addr()).unwrap()
    }

    /// The fixed sentinel of host `h` (the floating one is not part of the set).
    pub fn fixed(&self, h: H) -> SocketAddr {
        self.set.sentinels().iter().find(|s| s.ip() == h.ip()).map(Sentinel::addr).unwrap()
    }

    pub fn floating_addr(&self, h: H) -> SocketAddr {
        self.hosts[h.index()].floating
    }

    pub fn consul_client(&self, h: H) -> Client {
        Client::new(&ClientConfig::default().with_address(&self.consul.http_url(h.name()).unwrap()).unwrap()).unwrap()
    }

    /// Runs the binary as if on host `h` (its config file and Consul agent), with `extra` env.
    pub fn run_env(&self, h: H, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let config = self.hosts[h.index()].config.display().to_string();
        let consul = self.consul.http_url(h.name()).unwrap();
        let mut env = vec![("SENGU_CONFIG", config.as_str()), ("CONSUL_HTTP_ADDR", consul.as_str())];
        env.extend_from_slice(extra);
        run_env(BIN, args, &env)
    }

    pub fn run(&self, h: H, args: &[&str]) -> Run {
        self.run_env(h, args, &[])
    }

    /// The action log of host `h`.
    pub fn log(&self, h: H) -> String {
        std::fs::read_to_string(&self.hosts[h.index()].log).unwrap_or_default()
    }

    /// How many lines of host `h`'s action log record `action`.
    pub fn count(&self, h: H, action: &str) -> usize {
        let needle = format!(" action={action} ");
        self.log(h).lines().filter(|l| format!("{l} ").contains(&needle)).count()
    }

    /// True when the floating sentinel answers at host `h`'s floating address.
    pub fn floating_on(&self, h: H) -> bool {
        sentinel_myid(self.floating_addr(h)).is_some_and(|id| id == FLOATING_MYID)
    }

    /// True when nothing listens at host `h`'s floating address.
    pub fn floating_port_closed(&self, h: H) -> bool {
        matches!(std::net::TcpStream::connect_timeout(&self.floating_addr(h), Duration::from_millis(500)), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
    }

    /// Starts a floating sentinel on `h` by hand, the way the start command would, monitoring
    /// the current master (for scenarios that begin with it in the wrong place).
    pub fn start_floating_by_hand(&self, h: H) {
        let files = &self.hosts[h.index()];
        let master = self.set.current_master().unwrap();
        let conf = format!(
            "port {port}\nbind {ip}\nsentinel announce-ip {ip}\nsentinel myid {FLOATING_MYID}\nsentinel monitor mymaster {mip} {mport} 2\n\
             sentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 6000\n\
             daemonize yes\npidfile {pid:?}\nlogfile {log:?}\ndir {dir:?}\nprotected-mode no\n",
            port = files.floating.port(),
            ip = h.ip(),
            mip = master.ip(),
            mport = master.port(),
            pid = files.pidfile.display().to_string(),
            log = files.dir.join("floating.log").display().to_string(),
            dir = files.dir.display().to_string(),
        );
        std::fs::write(&files.floating_conf, conf).unwrap();
        let (bin, pre) = sentinel_argv();
        let status = std::process::Command::new(bin).arg(&files.floating_conf).args(pre).status().unwrap();
        assert!(status.success(), "redis-sentinel {} failed", files.floating_conf.display());
        self.wait("the hand-started floating sentinel to answer", Duration::from_secs(10), || self.floating_on(h));
    }

    /// Kills the floating sentinel on `h`, if its pidfile names a live sentinel.
    pub fn kill_floating(&self, h: H) {
        kill_by_pidfile(&self.hosts[h.index()].pidfile, self.floating_addr(h).port());
    }

    /// SIGSTOP / SIGCONT of the floating sentinel on `h`.
    pub fn signal_floating(&self, h: H, signal: nix::sys::signal::Signal) {
        if let Some(pid) = sentinel_pid(&self.hosts[h.index()].pidfile, self.floating_addr(h).port()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    /// Host `h` dies: its Redis, its fixed sentinel and its floating sentinel, kill -9.
    pub fn kill_host(&mut self, h: H) {
        self.kill_floating(h);
        self.set.kill_host(h.ip());
    }

    /// Host `h` comes back: Redis and the fixed sentinel start again from their configs (the
    /// floating sentinel is not enabled at boot: sentinel-rebalance decides where it runs).
    pub fn restart_host(&mut self, h: H) {
        self.set.restart_host(h.ip());
        for s in self.set.sentinels().iter().filter(|s| s.ip() == h.ip()) {
            s.set_script_retry_delay(Duration::from_millis(500));
        }
    }

    /// The hosts whose Consul instance carries `tag`.
    pub fn tagged(&self, tag: &str) -> Vec<IpAddr> {
        let Ok(entries) = self.consul_client(H::A).health_service(SERVICE, None, false) else { return vec![] };
        entries.iter().filter(|e| e.service.tags.iter().any(|t| t == tag)).filter_map(|e| e.address().parse().ok()).collect()
    }

    /// What `master.redis.service.consul` resolves to.
    pub fn dns_master(&self) -> Vec<IpAddr> {
        let source = sengu::dns::Source::Server(self.consul.dns_addr().unwrap());
        let options = sengu::dns::Options { timeout: Duration::from_millis(500), attempts: 1, ..Default::default() };
        sengu::dns::lookup("master.redis.service.consul", sengu::dns::Family::V4, &source, &options).unwrap_or_default()
    }

    /// Every sentinel of the three (fixed A, fixed B, floating on `floating`) says CKQUORUM OK
    /// and knows exactly the other two at their current addresses.
    pub fn quorum_clean(&self, floating: H) -> Result<(), String> {
        let three = [self.fixed(H::A), self.fixed(H::B), self.floating_addr(floating)];
        for me in three {
            let info = connection_info(me);
            let mut con = testbed::redis::connect(&info, Duration::from_secs(2)).map_err(|e| format!("{me}: {e}"))?;
            let ck: redis::RedisResult<String> = redis::cmd("SENTINEL").arg("CKQUORUM").arg("mymaster").query(&mut con);
            let ck = ck.map_err(|e| format!("{me}: {e}"))?;
            if !ck.starts_with("OK") {
                return Err(format!("{me}: {ck}"));
            }
            let peers: Vec<std::collections::HashMap<String, String>> =
                redis::cmd("SENTINEL").arg("SENTINELS").arg("mymaster").query(&mut con).map_err(|e| format!("{me}: {e}"))?;
            let mut known: Vec<String> = peers.iter().map(|p| format!("{}:{}", p["ip"], p["port"])).collect();
            let mut want: Vec<String> = three.iter().filter(|a| **a != me).map(ToString::to_string).collect();
            known.sort();
            want.sort();
            if known != want {
                return Err(format!("{me} knows {known:?}, want {want:?}"));
            }
        }
        Ok(())
    }

    /// Waits until the master has been the master longer than the failover-timeout (6 s in the
    /// testbed), as every move requires.
    pub fn wait_settled(&self) {
        self.wait("the master to be older than the failover-timeout", Duration::from_secs(20), || {
            self.set.sentinels().iter().any(|s| {
                s.master_info().is_ok_and(|m| m.get("role-reported-time").and_then(|t| t.parse::<u64>().ok()).is_some_and(|t| t > 6500))
            })
        });
    }

    pub fn wait_quorum_clean(&self, floating: H, timeout: Duration) {
        let mut last = String::new();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.quorum_clean(floating) {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("quorum not clean after {timeout:?}: {last}\n{}", self.report());
    }

    /// Polls `cond` (through `testbed::wait_until`) until true, or panics after `timeout` with
    /// [`Self::report`].
    pub fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        testbed::wait_until(timeout, what, || cond().then_some(()), || self.report());
    }

    /// Everything a failed assertion should show: the set's report, the floating sentinels'
    /// logs and both action logs.
    pub fn report(&self) -> String {
        let mut out = self.set.report();
        for h in [H::A, H::B] {
            let files = &self.hosts[h.index()];
            let tail = |p: &Path| {
                let t = std::fs::read_to_string(p).unwrap_or_default();
                let start = t.char_indices().rev().nth(6000).map_or(0, |(i, _)| i);
                t[start..].to_string()
            };
            let _ = writeln!(out, "--- floating sentinel log on {} ---\n{}", h.name(), tail(&files.dir.join("floating.log")));
            let _ = writeln!(out, "--- action log of host {} ---\n{}", h.name(), tail(&files.log));
        }
        out
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for h in [H::A, H::B] {
            self.kill_floating(h);
        }
    }
}

/// `redis-sentinel` (or `SENGU_REDIS_SENTINEL`) and what goes after the config path.
fn sentinel_argv() -> (String, Vec<String>) {
    match std::env::var("SENGU_REDIS_SENTINEL") {
        Ok(bin) if bin.contains("redis-server") => (bin, vec!["--sentinel".into()]),
        Ok(bin) => (bin, vec![]),
        Err(_) => ("redis-sentinel".into(), vec![]),
    }
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

fn connection_info(addr: SocketAddr) -> redis::ConnectionInfo {
    redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()), redis: Default::default() }
}

/// `SENTINEL SENTINELS mymaster` of the sentinel at `addr`: each known peer's fields.
pub fn sentinel_peers(addr: SocketAddr) -> Option<Vec<std::collections::HashMap<String, String>>> {
    let mut con = testbed::redis::connect(&connection_info(addr), Duration::from_millis(500)).ok()?;
    redis::cmd("SENTINEL").arg("SENTINELS").arg("mymaster").query(&mut con).ok()
}

/// `SENTINEL MYID` of the sentinel at `addr`, if one answers.
pub fn sentinel_myid(addr: SocketAddr) -> Option<String> {
    let info = connection_info(addr);
    let mut con = testbed::redis::connect(&info, Duration::from_millis(500)).ok()?;
    redis::cmd("SENTINEL").arg("MYID").query(&mut con).ok()
}

/// The pid in `pidfile` if it is a live sentinel process on `port` (a pid can be reused).
fn sentinel_pid(pidfile: &Path, port: u16) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    (cmdline.contains("sentinel") && cmdline.contains(&format!(":{port}"))).then_some(pid)
}

fn kill_by_pidfile(pidfile: &Path, port: u16) {
    if let Some(pid) = sentinel_pid(pidfile, port) {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}
