//! The local lab the demo and the benchmarks run against: the whole suite wired as in
//! production, on loopback "hosts".
//!
//! - Redis host A (127.0.0.11) and host B (127.0.0.12): a Redis each (A master), a fixed
//!   sentinel each, and the floating sentinel that `sentinel-rebalance` starts and moves (it
//!   runs on the host without the master). Every sentinel has `sentinel-rebalance` as its
//!   `client-reconfig-script`, with its host's config file.
//! - consul-standin: agents `redis-a` and `redis-b` (one per Redis host) loading the shipped
//!   `consul.d/redis-role.json`, rewritten only where a laptop differs (binary path, addresses,
//!   ports), so the real `redis-master-check` runs as their script check; DNS on 127.0.0.1.
//! - MariaDB hosts 127.0.0.21 (master) and 127.0.0.22 (replica), GTID replication, published in
//!   Consul by `mysql-after-exec` as the catalog node `foo-db-master`.
//!
//! The executables come from the target directory next to the running program (`cargo build`
//! puts them there), or from `SENGU_BIN_DIR`. Dropping the lab stops everything it started;
//! [`Lab::processes`] and [`Lab::dirs`] list it for a signal handler, which cannot unwind.
//! One piece past 400 lines: it is one lab's lifetime; most of the length is wiring (config
//! files, argument lists) that only makes sense together.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use consul_standin::Standin;
use sengu::consul::{Client, ClientConfig};
use sengu::redis::{ConnectOptions, SentinelConn};
use serde_json::Value;
use testbed::mariadb::{Mariadb, MariadbOpts, APP_PASSWORD, APP_USER, MONITOR_PASSWORD, MONITOR_USER};
use testbed::redis::{RedisSet, Sentinel, SentinelBuilder};
use testbed::{host, reserve, PortLease};

/// The service, as in the shipped `consul.d` files.
pub const SERVICE: &str = "redis";
pub const FLOATING_MYID: &str = "f100000000000000000000000000000000000f1f";
/// The catalog node that stands for the MySQL master (the hooks' default).
pub const MYSQL_NODE: &str = "foo-db-master";
const AGENTS: [&str; 2] = ["redis-a", "redis-b"];
const CHECK_ID: &str = "redis-role";

/// The executables the lab runs.
pub const BINARIES: [&str; 9] = [
    "sengu-drill",
    "redis-master-check",
    "sentinel-rebalance",
    "mysql-before-exec",
    "mysql-after-exec",
    "mysql-fail-check",
    "mysql-mha-script",
    "mysql-master-check",
    "sengu-mariadb-switchover",
];

/// The shipped role-mode definition, `consul.d/redis-role.json`.
fn shipped_role_definition() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../consul.d/redis-role.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sentinels' master name: what the shipped check passes as `--sentinel-master`, so the
/// lab's sentinels monitor the name the check asks for.
/// Host `i`'s fixed sentinel as both labs run it: a numbered myid, the host's settings file and
/// Consul agent in its environment, `sentinel-rebalance` as its `client-reconfig-script`.
pub fn host_sentinel(builder: SentinelBuilder, i: usize, config: &Path, agent: SocketAddr) -> Sentinel {
    builder
        .myid(Sentinel::numbered_myid(0xa0 + i as u64))
        .env("SENGU_CONFIG", config)
        .env("CONSUL_HTTP_ADDR", format!("http://{agent}"))
        .client_reconfig_script(bin("sentinel-rebalance"))
        .start()
}

/// A host's Consul agent config dir (`<host dir>/consul.d`) holding `def` as `redis.json`.
pub fn agent_config_dir(host_dir: &Path, def: &Value) -> PathBuf {
    let dir = host_dir.join("consul.d");
    std::fs::create_dir_all(&dir).expect("create a consul.d dir");
    std::fs::write(dir.join("redis.json"), serde_json::to_string_pretty(def).unwrap_or_default()).expect("write redis.json");
    dir
}

pub fn master_name() -> String {
    let def = shipped_role_definition();
    let args: Vec<&str> = def["service"]["checks"][0]["args"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    args.windows(2).find(|w| w[0] == "--sentinel-master").map_or_else(|| SERVICE.to_string(), |w| w[1].to_string())
}

/// Where the sengu executables are: `SENGU_BIN_DIR`, else the directory of the running program
/// (one up from `deps/` for test executables).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SENGU_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") { dir.parent().map(Path::to_path_buf).unwrap_or(dir) } else { dir }
}

/// The path of executable `name`; panics with the build command when it is missing.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(path.is_file(), "{} is missing: build the workspace first (cargo build --workspace, or cargo xtask test), or set SENGU_BIN_DIR", path.display());
    path
}

/// One Redis host's files for sentinel-rebalance.
#[derive(Debug)]
struct HostFiles {
    dir: PathBuf,
    config: PathBuf,
    pidfile: PathBuf,
    floating: SocketAddr,
    _lease: PortLease,
}

/// The running lab. Field order is drop order after [`Drop`] killed the floating sentinels.
pub struct Lab {
    pub redis: RedisSet,
    pub consul: Standin,
    pub mysql: Vec<Mariadb>,
    hosts: [HostFiles; 2],
    pub dns: SocketAddr,
    agents: [SocketAddr; 2],
    _leases: Vec<PortLease>,
    dir: tempfile::TempDir,
}

impl Lab {
    /// Starts everything and returns once DNS names the Redis master and the MySQL master, and
    /// the floating sentinel runs on host B. `say` hears about each stage.
    pub fn start(say: &mut dyn FnMut(&str)) -> Lab {
        for b in BINARIES {
            bin(b);
        }
        // Closed to other users: sentinel-rebalance refuses a floating config others can reach.
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        let dir = tempfile::Builder::new().prefix("sengu-lab-").permissions(private).tempdir().expect("create the lab dir");
        let leases = vec![reserve(host(11)), reserve(host(12)), reserve(host(1))];
        let agents = [SocketAddr::new(host(11), leases[0].port()), SocketAddr::new(host(12), leases[1].port())];
        let dns = SocketAddr::new(host(1), leases[2].port());
        let hosts = [0, 1].map(|i| {
            let d = dir.path().join(["a", "b"][i]);
            std::fs::create_dir_all(&d).expect("create a host dir");
            let lease = reserve(host(11 + i as u8));
            HostFiles {
                config: d.join("sengu.toml"),
                pidfile: d.join("floating.pid"),
                floating: SocketAddr::new(host(11 + i as u8), lease.port()),
                dir: d,
                _lease: lease,
            }
        });

        say("starting Redis on hosts A (127.0.0.11, master) and B (127.0.0.12, replica) with a fixed sentinel each");
        let mut redis = RedisSet::builder().replicas(1).sentinel_hosts(vec![]).master_name(master_name()).start();
        for i in 0..2 {
            let s = host_sentinel(redis.sentinel_builder(host(11 + i as u8)), i, &hosts[i].config, agents[i]);
            redis.add_sentinel(s);
        }

        say("starting consul-standin: agents redis-a and redis-b with the shipped consul.d/redis-role.json, DNS");
        let mut builder = Standin::builder().dns_at(dns).first_check_immediately(true);
        for i in 0..2 {
            let agent_dir = agent_config_dir(&hosts[i].dir, &role_definition(&redis, &hosts, i, dns, agents[i]));
            builder = builder.agent_at(AGENTS[i], agents[i]).config_dir(AGENTS[i], agent_dir);
        }
        let consul = builder.start().unwrap_or_else(|e| panic!("consul-standin did not start: {e}"));

        say("starting MariaDB on 127.0.0.21 (master) and 127.0.0.22 (replica), GTID replication");
        let master = Mariadb::start(MariadbOpts::new(host(21)));
        master.set_read_only(false);
        let replica = Mariadb::start(MariadbOpts::new(host(22)));
        replica.replicate_from(&master);
        master.test_write("lab up");
        replica.wait_replicating(&master);

        let lab = Lab { redis, consul, mysql: vec![master, replica], hosts, dns, agents, _leases: leases, dir };
        for i in 0..2 {
            std::fs::write(&lab.hosts[i].config, lab.host_config(i)).expect("write a host's sengu.toml");
        }
        std::fs::write(lab.dir.path().join("hooks.cnf"), format!("[client]\nuser = {MONITOR_USER}\npassword = {MONITOR_PASSWORD}\n")).expect("write hooks.cnf");
        std::fs::write(lab.dir.path().join("app.cnf"), format!("[client]\nuser = {APP_USER}\npassword = {APP_PASSWORD}\n")).expect("write app.cnf");

        say("sentinel-rebalance reconcile on host B: it starts the floating sentinel there");
        let out = lab.rebalance(1, &["reconcile"]);
        assert!(out.status.success(), "sentinel-rebalance reconcile failed: {}", text(&out));
        lab.wait("the floating sentinel to run on host B and the three sentinels to know each other", Duration::from_secs(30), || {
            lab.floating_host() == Some(1) && lab.quorum_ok()
        });

        say("mysql-after-exec publishes the MySQL master in Consul (as after a switchover)");
        let m = lab.mysql[0].addr();
        let out = lab.run(&bin("mysql-after-exec"), &[&m.ip().to_string(), &m.port().to_string()], &lab.hook_env());
        assert!(out.status.success(), "mysql-after-exec failed: {}", text(&out));

        lab.wait("redis-master-check to tag the master and DNS to name it", Duration::from_secs(30), || {
            lab.lookup(&format!("master.{SERVICE}.service.consul")) == [host(11)] && lab.lookup(&format!("{MYSQL_NODE}.node.consul")) == [host(21)]
        });
        lab
    }

    /// `[sentinel-rebalance]` and `[log]` of host `i`, as a production host would have them.
    fn host_config(&self, i: usize) -> String {
        let (me, peer) = (&self.hosts[i], &self.hosts[1 - i]);
        let (sentinel, peer_sentinel) = (self.fixed_sentinel(i), self.fixed_sentinel(1 - i));
        let (program, pre) = sentinel_argv();
        let mut start = vec![program];
        start.push(me.dir.join("floating.conf").display().to_string());
        start.extend(pre);
        let redis = |j: usize| self.redis.servers().iter().find(|s| s.ip() == host(11 + j as u8)).map(|s| s.addr().to_string()).unwrap_or_default();
        let lines = [
            "daemonize yes".to_string(),
            format!("pidfile {:?}", me.pidfile.display().to_string()),
            format!("logfile {:?}", me.dir.join("floating.log").display().to_string()),
            format!("dir {:?}", me.dir.display().to_string()),
            "protected-mode no".to_string(),
        ];
        let mut c = String::new();
        let _ = writeln!(c, "[sentinel-rebalance]");
        let _ = writeln!(c, "master_name = {:?}", master_name());
        let _ = writeln!(c, "redis = {:?}\npeer_redis = {:?}", redis(i), redis(1 - i));
        let _ = writeln!(c, "sentinel = \"{sentinel}\"\npeer_sentinel = \"{peer_sentinel}\"");
        let _ = writeln!(c, "floating = \"{}\"\npeer_floating = \"{}\"", me.floating, peer.floating);
        let _ = writeln!(c, "floating_myid = {FLOATING_MYID:?}");
        let _ = writeln!(c, "floating_config = {:?}", me.dir.join("floating.conf").display().to_string());
        let _ = writeln!(c, "floating_start = {}", toml_list(&start));
        let _ = writeln!(c, "floating_script = {:?}", bin("sentinel-rebalance").display().to_string());
        let _ = writeln!(c, "floating_config_lines = {}", toml_list(&lines));
        let _ = writeln!(c, "service = {SERVICE:?}");
        let _ = writeln!(c, "lock_file = {:?}", me.dir.join("rebalance.lock").display().to_string());
        let _ = writeln!(c, "reset_wait = \"1s\"");
        let _ = writeln!(c, "\n[log]\nfile = {:?}", self.action_log().display().to_string());
        c
    }

    /// The action log every executable of the lab appends to.
    pub fn action_log(&self) -> PathBuf {
        self.dir.path().join("actions.log")
    }

    /// Host `i`'s fixed sentinel (0: A, 1: B).
    pub fn fixed_sentinel(&self, i: usize) -> SocketAddr {
        self.redis.sentinels().iter().find(|s| s.ip() == host(11 + i as u8)).map(Sentinel::addr).unwrap_or_else(|| SocketAddr::new(host(11 + i as u8), 1))
    }

    /// Every address a sentinel may answer at: both fixed ones and both homes of the floating one.
    pub fn sentinel_seeds(&self) -> Vec<SocketAddr> {
        vec![self.fixed_sentinel(0), self.fixed_sentinel(1), self.hosts[0].floating, self.hosts[1].floating]
    }

    /// The Redis of host `i`.
    pub fn redis_addr(&self, i: usize) -> SocketAddr {
        self.redis.servers().iter().find(|s| s.ip() == host(11 + i as u8)).map(|s| s.addr()).unwrap_or_else(|| SocketAddr::new(host(11 + i as u8), 1))
    }

    /// The host (0 or 1) whose Redis the sentinels name master.
    pub fn master_host(&self) -> Option<usize> {
        let votes = sengu::redis::ask_sentinels(&self.seeds_hp(), &master_name(), &opts());
        let m = votes.majority_of_asked().or_else(|| votes.majority())?;
        (0..2).find(|i| self.redis_addr(*i).to_string() == m.to_string())
    }

    fn seeds_hp(&self) -> Vec<sengu::addr::HostPort> {
        self.sentinel_seeds().iter().map(|a| sengu::addr::HostPort { host: a.ip().to_string(), port: a.port() }).collect()
    }

    /// The host the floating sentinel answers on.
    pub fn floating_host(&self) -> Option<usize> {
        (0..2).find(|i| {
            let hp = sengu::addr::HostPort { host: self.hosts[*i].floating.ip().to_string(), port: self.hosts[*i].floating.port() };
            SentinelConn::connect(&hp, &opts()).and_then(|mut c| c.myid()).is_ok_and(|id| id == FLOATING_MYID)
        })
    }

    /// Every running sentinel says CKQUORUM OK and knows two others.
    pub fn quorum_ok(&self) -> bool {
        let live: Vec<sengu::addr::HostPort> = self
            .seeds_hp()
            .into_iter()
            .filter(|s| SentinelConn::connect(s, &opts()).and_then(|mut c| c.ping()).is_ok())
            .collect();
        live.len() == 3
            && live.iter().all(|s| {
                SentinelConn::connect(s, &opts())
                    .and_then(|mut c| Ok((c.ckquorum(&master_name())?, c.sentinels(&master_name())?)))
                    .is_ok_and(|(q, peers)| q.is_ok() && peers.len() == 2 && peers.iter().all(|p| !p.looks_down()))
            })
    }

    /// Waits until the floating sentinel runs on the host without the master, the quorum is
    /// clean and DNS names the master: what a drill's pre-checks need.
    pub fn wait_settled(&self, timeout: Duration) {
        self.wait("the lab to settle (floating sentinel placed, quorum, DNS)", timeout, || {
            let Some(m) = self.master_host() else { return false };
            self.floating_host() == Some(1 - m) && self.quorum_ok() && self.lookup(&format!("master.{SERVICE}.service.consul")) == [host(11 + m as u8)]
        });
    }

    /// `http://` address of agent `i`.
    pub fn agent_url(&self, i: usize) -> String {
        format!("http://{}", self.agents[i])
    }

    pub fn consul_client(&self) -> Client {
        let config = ClientConfig::from_lookup(|_| None).and_then(|c| c.with_address(&self.agent_url(0))).unwrap_or_else(|e| panic!("{e}"));
        Client::new(&config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A records for `name` from the lab's DNS (empty on NXDOMAIN or failure).
    pub fn lookup(&self, name: &str) -> Vec<IpAddr> {
        let options = sengu::dns::Options { timeout: Duration::from_millis(500), attempts: 1, transport: sengu::dns::Transport::Tcp };
        sengu::dns::lookup(name, sengu::dns::Family::V4, &sengu::dns::Source::Server(self.dns), &options).unwrap_or_default()
    }

    /// The environment a MySQL hook gets: the Consul agent, its option file, the action log.
    pub fn hook_env(&self) -> Vec<(String, String)> {
        vec![
            ("CONSUL_HTTP_ADDR".into(), self.agent_url(0)),
            ("SENGU_MYSQL_DEFAULTS_FILE".into(), self.dir.path().join("hooks.cnf").display().to_string()),
            ("SENGU_LOG_FILE".into(), self.action_log().display().to_string()),
        ]
    }

    /// The arguments of `sengu-drill redis` against the lab (after the program name).
    pub fn drill_redis_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec!["redis".to_string()];
        for s in self.sentinel_seeds() {
            args.extend(["--sentinel".to_string(), s.to_string()]);
        }
        let log = self.action_log().display().to_string();
        let name = master_name();
        for a in ["--sentinel-master", &name, "--service", SERVICE, "--dns-server", &self.dns.to_string(), "--consul-addr", &self.agent_url(0), "--log-file", &log] {
            args.push(a.to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// The arguments of `sengu-drill mysql` switching from MariaDB `from` to `to` with the
    /// testbed's switchover program and the hooks.
    pub fn drill_mysql_args(&self, from: usize, to: usize, extra: &[&str]) -> Vec<String> {
        let (old, new) = (self.mysql[from].addr(), self.mysql[to].addr());
        let mut command = vec![bin("sengu-mariadb-switchover").display().to_string()];
        command.extend(["--old".to_string(), old.to_string(), "--new".to_string(), new.to_string()]);
        command.extend(["--before-exec".to_string(), bin("mysql-before-exec").display().to_string()]);
        command.extend(["--after-exec".to_string(), bin("mysql-after-exec").display().to_string()]);
        self.drill_mysql_command(extra, &command)
    }

    /// The arguments of `sengu-drill mysql` for the native switchover (no command) against the
    /// lab's MariaDB pair: its admin login is the testbed's root, the replication account the
    /// testbed's replication user (each from an option file, as in production).
    pub fn drill_mysql_native_args(&self, extra: &[&str]) -> Vec<String> {
        let (admin, repl) = (self.dir.path().join("admin.cnf"), self.dir.path().join("repl.cnf"));
        std::fs::write(&admin, format!("[client]\nuser = {}\n", testbed::mariadb::ROOT_USER)).expect("write admin.cnf");
        std::fs::write(&repl, format!("[client]\nuser = {}\npassword = {}\n", testbed::mariadb::REPL_USER, testbed::mariadb::REPL_PASSWORD)).expect("write repl.cnf");
        let mut args = self.drill_mysql_command(extra, &[]);
        // No command: drop the trailing `--switchover-cmd`.
        args.pop();
        args.extend(["--admin-defaults-file".to_string(), admin.display().to_string()]);
        args.extend(["--repl-defaults-file".to_string(), repl.display().to_string()]);
        args
    }

    /// The arguments of `sengu-drill mysql` against the lab's MariaDB pair with `command` as
    /// the switchover command.
    pub fn drill_mysql_command(&self, extra: &[&str], command: &[String]) -> Vec<String> {
        let mut args: Vec<String> = vec!["mysql".into(), "--node".into(), MYSQL_NODE.into()];
        for m in &self.mysql {
            args.extend(["--server".to_string(), m.addr().to_string()]);
        }
        for a in ["--dns-server", &self.dns.to_string(), "--consul-addr", &self.agent_url(0)] {
            args.push(a.to_string());
        }
        args.extend(["--mysql-defaults-file".to_string(), self.dir.path().join("app.cnf").display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push("--switchover-cmd".into());
        args.extend(command.iter().cloned());
        args
    }

    /// Runs `program args` with `env` on top of a clean environment (no `SENGU_*`,
    /// `CONSUL_HTTP_*` or `REDISCLI_AUTH` from the caller, no `/etc/sengu/sengu.toml`).
    pub fn run(&self, program: &Path, args: &[&str], env: &[(String, String)]) -> Output {
        let mut cmd = self.command(program);
        cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
        cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    /// A command for `program` with the clean environment of [`Lab::run`].
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("SENGU_") || k.starts_with("CONSUL_HTTP_") || k == "REDISCLI_AUTH" {
                cmd.env_remove(&key);
            }
        }
        cmd.env("SENGU_CONFIG", "/dev/null");
        cmd
    }

    /// The environment of host `i`'s sentinels and their scripts: its config file and agent.
    pub fn host_env(&self, i: usize) -> Vec<(String, String)> {
        vec![("SENGU_CONFIG".to_string(), self.hosts[i].config.display().to_string()), ("CONSUL_HTTP_ADDR".to_string(), self.agent_url(i))]
    }

    /// `sentinel-rebalance args` as on host `i`.
    pub fn rebalance(&self, i: usize, args: &[&str]) -> Output {
        let mut cmd = self.command(&bin("sentinel-rebalance"));
        cmd.args(args).envs(self.host_env(i));
        cmd.output().unwrap_or_else(|e| panic!("cannot run sentinel-rebalance: {e}"))
    }

    /// The arguments of the shipped role check as agent `i` runs it.
    pub fn check_args(&self, i: usize) -> Vec<String> {
        let def = role_definition(&self.redis, &self.hosts, i, self.dns, self.agents[i]);
        def["service"]["checks"][0]["args"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    /// Host `i` dies: `kill -9` of its Redis, its fixed sentinel and the floating one if there.
    pub fn kill_redis_host(&mut self, i: usize) {
        kill_floating(&self.hosts[i].pidfile);
        self.redis.kill_host(host(11 + i as u8));
    }

    /// Host `i` boots again: its Redis and fixed sentinel start from their configs (the
    /// floating sentinel is not started at boot: sentinel-rebalance decides where it runs).
    pub fn restart_redis_host(&mut self, i: usize) {
        self.redis.restart_host(host(11 + i as u8));
    }

    /// Polls `cond` (through `testbed::wait_until`) until true, or panics after `timeout` with
    /// [`Self::report`].
    pub fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        testbed::wait_until(timeout, what, || cond().then_some(()), || self.report());
    }

    /// The Redis set's report, the agents' check outputs and the action log, for failures.
    pub fn report(&self) -> String {
        let mut out = self.redis.report();
        for (i, agent) in AGENTS.iter().enumerate() {
            let runs = self.consul.check_history(agent, CHECK_ID).unwrap_or_default();
            let _ = writeln!(out, "--- {agent} redis-role check, last runs ---");
            for r in runs.iter().rev().take(4).rev() {
                let _ = writeln!(out, "[{} exit {:?}] {}", r.status, r.exit_code, r.output.trim_end());
            }
            let log = std::fs::read_to_string(self.hosts[i].dir.join("floating.log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            let _ = writeln!(out, "--- floating sentinel log on host {} ---\n{tail}", ["A", "B"][i]);
        }
        let _ = writeln!(out, "--- action log ---\n{}", std::fs::read_to_string(self.action_log()).unwrap_or_default());
        out
    }

    /// Every process the lab started (pid, what), for a signal handler that cannot unwind.
    pub fn processes(&mut self) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        for s in self.redis.servers() {
            out.extend(s.proc().pid().map(|p| (p, format!("redis-server {}", s.addr()))));
        }
        for s in self.redis.sentinels() {
            out.extend(s.proc().pid().map(|p| (p, format!("redis-sentinel {}", s.addr()))));
        }
        for m in &self.mysql {
            out.extend(m.pid().map(|p| (p, format!("mariadbd {}", m.addr()))));
        }
        for h in &self.hosts {
            out.extend(floating_pid(&h.pidfile).map(|p| (p as u32, format!("redis-sentinel {} (floating)", h.floating))));
        }
        out
    }

    /// Every directory the lab writes to, for the same handler.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut out = vec![self.dir.path().to_path_buf()];
        for s in self.redis.servers() {
            out.extend(s.config_path().parent().map(Path::to_path_buf));
        }
        for s in self.redis.sentinels() {
            out.extend(s.config_path().parent().map(Path::to_path_buf));
        }
        for m in &self.mysql {
            out.extend(m.datadir().parent().map(Path::to_path_buf));
        }
        out
    }

    /// The floating sentinels' pidfiles.
    pub fn pidfiles(&self) -> Vec<PathBuf> {
        self.hosts.iter().map(|h| h.pidfile.clone()).collect()
    }

    /// What Consul holds now: every service's instances with their tags and health, every
    /// node, every KV key (with short values).
    pub fn consul_state(&self) -> String {
        let c = self.consul_client();
        let mut out = String::new();
        let services = c.catalog_services().unwrap_or_default();
        for name in services.keys() {
            let entries = c.health_service(name, None, false).unwrap_or_default();
            let _ = writeln!(out, "service {name}:");
            for e in entries {
                let _ = writeln!(
                    out,
                    "  node {:<14} {:>21}  tags [{}]  health {}",
                    e.node.node,
                    format!("{}:{}", e.address(), e.service.port),
                    e.service.tags.join(","),
                    e.status().as_str()
                );
                for check in e.checks.iter().filter(|c| !c.service_id.is_empty()) {
                    let line = check.output.lines().next().unwrap_or_default();
                    let _ = writeln!(out, "    check {}: {line}", check.check_id);
                }
            }
        }
        let nodes: Vec<String> = [MYSQL_NODE, "foo-db-slave"]
            .iter()
            .filter_map(|n| c.catalog_node(n).ok().flatten().map(|cn| format!("{} {}", cn.node.node, cn.node.address)))
            .collect();
        let _ = writeln!(out, "nodes: {}", nodes.join(", "));
        let _ = writeln!(out, "kv:");
        for p in c.kv_list("").unwrap_or_default() {
            let value = String::from_utf8_lossy(&p.value);
            let shown = if p.key.starts_with("sengu/drills/") { format!("({} bytes of JSON report)", p.value.len()) } else { value.chars().take(80).collect() };
            let _ = writeln!(out, "  {} = {shown}", p.key);
        }
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for h in &self.hosts {
            kill_floating(&h.pidfile);
        }
    }
}

fn opts() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_millis(500), io_timeout: Duration::from_millis(500), ..ConnectOptions::default() }
}

/// The shipped `consul.d/redis-role.json` for host `i`, rewritten for the lab: the binary path,
/// the Redis, sentinel and DNS addresses and the port. Every address the file names must be
/// found, so an edit to the file cannot make the lab quietly run something else.
fn role_definition(redis: &RedisSet, hosts: &[HostFiles; 2], i: usize, dns: SocketAddr, agent: SocketAddr) -> Value {
    let path = "consul.d/redis-role.json";
    let mut def = shipped_role_definition();
    let me = redis.servers().iter().find(|s| s.ip() == host(11 + i as u8)).map(|s| s.addr()).unwrap_or_else(|| panic!("no redis on host {i}"));
    let fixed = |j: usize| redis.sentinels().iter().find(|s| s.ip() == host(11 + j as u8)).map(|s| s.addr().to_string()).unwrap_or_default();
    let map: Vec<(&str, String)> = vec![
        ("/usr/bin/redis-master-check", bin("redis-master-check").display().to_string()),
        ("127.0.0.1:6379", me.to_string()),
        ("127.0.0.1:8600", dns.to_string()),
        ("10.0.0.11:26379", fixed(0)),
        ("10.0.0.12:26379", fixed(1)),
        ("10.0.0.12:26380", hosts[1].floating.to_string()),
    ];
    let service = &mut def["service"];
    service["port"] = me.port().into();
    let args = service["checks"][0]["args"].as_array_mut().unwrap_or_else(|| panic!("no check args in {path}"));
    for (from, to) in &map {
        let n = args.iter_mut().filter(|a| a.as_str() == Some(from)).map(|a| *a = Value::String(to.clone())).count();
        assert_eq!(n, 1, "{from} must appear once in the check args of {path}");
    }
    // The floating sentinel's other home, so the check finds it wherever it runs.
    args.push("--sentinel".into());
    args.push(hosts[0].floating.to_string().into());
    args.push("--consul-addr".into());
    args.push(format!("http://{agent}").into());
    def
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
    format!("[{}]", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
}

/// The pid in a floating sentinel's pidfile, if that process is still a redis sentinel.
pub fn floating_pid(pidfile: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline).contains("sentinel").then_some(pid)
}

/// `kill -9` of the floating sentinel named by `pidfile`, if it runs.
pub fn kill_floating(pidfile: &Path) {
    if let Some(pid) = floating_pid(pidfile) {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && std::path::Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// stdout and stderr of a finished command, for messages.
pub fn text(out: &Output) -> String {
    format!("{}\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
