//! `mysql-fail-check` against a real MariaDB GTID master with two replicas, run over and over
//! the way mysqlfailover runs it: a killed or frozen master is dead once the replicas lost it
//! too and enough runs agree; a master the monitor cannot reach while replicas still replicate
//! is never dead; replicas down follow the configured rule.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use consul_standin::Standin;
use sengu::consul::{CatalogRegistration, Client, ClientConfig, Service};
use sengu_testsupport::{run, Run};
use tempfile::TempDir;
use testbed::mariadb::{GtidCluster, MONITOR_PASSWORD, MONITOR_USER};
use testbed::ports::host;

use crate::proxy::Proxy;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-fail-check");

/// One monitor host: its own state directory and durable log, checking one master address.
struct Monitor {
    dir: TempDir,
    master: SocketAddr,
}

impl Monitor {
    fn new(master: SocketAddr) -> Monitor {
        Monitor { dir: tempfile::tempdir().unwrap(), master }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("actions.log")
    }

    /// One run with mysqlfailover's two arguments, plus `extra` settings.
    fn run(&self, extra: &[&str]) -> Run {
        let (host, port) = (self.master.ip().to_string(), self.master.port().to_string());
        let state = self.dir.path().join("state");
        let log = self.log_path();
        // No Consul here: the hold record is not read (`tests/hold.rs` has the runs that obey it).
        let mut args = vec![host.as_str(), port.as_str(), "--state-dir", state.to_str().unwrap(), "--log-file", log.to_str().unwrap(), "--hold", "ignore"];
        args.extend_from_slice(extra);
        run(BIN, &args)
    }

    /// Runs again and again until `done` holds for a run, and returns that run.
    fn run_until(&self, extra: &[&str], what: &str, timeout: Duration, done: impl Fn(&Run) -> bool, logs: impl Fn() -> String) -> Run {
        let start = Instant::now();
        loop {
            let r = self.run(extra);
            if done(&r) {
                return r;
            }
            assert!(start.elapsed() < timeout, "no run {what} within {timeout:?}; last run:\n{r}\nlog:\n{}\n{}", self.log(), logs());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn last_log_line(&self) -> String {
        self.log().lines().last().unwrap_or_default().to_string()
    }
}

fn replica_args(c: &GtidCluster) -> Vec<String> {
    c.replicas.iter().flat_map(|r| ["--replica".to_string(), r.host_port()]).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_killed_master_is_dead_after_two_runs_that_agree() {
    let mut c = GtidCluster::new(2);
    let m = Monitor::new(c.master.addr());
    m.run(&[]).exits(0).stdout_contains(&format!("master {} is up (NoProblem): no failover", c.master.host_port()));
    // Without a list, the master's SHOW SLAVE HOSTS is recorded. Its Host is the address each
    // replica connected from (127.0.0.1 here, as the testbed sets no report_host), so only the
    // ports are checked; the rest of this test names the replicas.
    let state = std::fs::read_to_string(m.dir.path().join("state").join(format!("{}_{}.json", c.master.host(), c.master.port()))).unwrap();
    for r in &c.replicas {
        assert!(state.contains(&format!(":{}\"", r.port())), "{state}");
    }
    assert!(state.contains("\"master_server_id\": 11"), "{state}");

    let replicas = replica_args(&c);
    let args = strs(&replicas);
    c.master.kill9();
    let first = m.run_until(&args, "finding DeadMaster", Duration::from_secs(20), |r| r.stdout().contains("(DeadMaster:"), || c.logs());
    first.exits(0).stdout_contains("not yet confirmed: dead on 1 consecutive runs, 2 needed: no failover yet");
    m.run(&args).exits(2).stdout_contains("confirmed: dead on 2 consecutive runs, 2 needed: failover");

    let log = m.log();
    let lines: Vec<&str> = log.lines().collect();
    let last = lines.last().unwrap();
    assert!(last.contains("decision=failover category=DeadMaster dead_runs=2/2"), "{last}");
    assert!(last.contains("monitor=\"unreachable: mysql "), "{last}");
    for r in &c.replicas {
        assert!(last.contains(&format!("\"{} lost (IO Connecting", r.host_port())), "{last}");
    }
    assert!(lines[..lines.len() - 1].iter().all(|l| l.contains(" decision=no-failover ")), "only the last run fails over:\n{log}");
}

#[test]
fn a_frozen_master_is_dead_once_the_replicas_lose_it() {
    // The testbed's replicas run with slave_net_timeout=4s (heartbeat every 2s).
    let c = GtidCluster::new(2);
    let m = Monitor::new(c.master.addr());
    let replicas = replica_args(&c);
    let args = strs(&replicas);
    m.run(&args).exits(0).stdout_contains("(NoProblem)");

    c.master.freeze();
    m.run(&args).exits(0);
    let line = m.last_log_line();
    assert!(line.contains("monitor=\"timeout: mysql "), "a frozen master accepts TCP but never answers: {line}");

    let failover = m.run_until(&args, "failing over", Duration::from_secs(30), |r| r.code() != Some(0), || c.logs());
    failover.exits(2).stdout_contains("confirmed: dead on 2 consecutive runs");
    let line = m.last_log_line();
    assert!(line.contains(" category=DeadMaster "), "{line}");
    for r in &c.replicas {
        assert!(line.contains(&format!("\"{} lost (IO ", r.host_port())), "{line}");
    }
    c.master.thaw();
}

#[test]
fn a_master_unreachable_only_from_the_monitor_is_never_dead() {
    let c = GtidCluster::new(2);
    // The monitor reaches the master through a proxy; the replicas connect directly.
    let proxy = Proxy::start(host(31), c.master.addr());
    let m = Monitor::new(proxy.addr());
    let replicas = replica_args(&c);
    let args = strs(&replicas);
    m.run(&args).exits(0).stdout_contains("(NoProblem)");

    proxy.blackhole();
    for i in 0..3 {
        m.run(&args).exits(0).stdout_contains("master unreachable from the monitor, replicas still replicating — no failover");
        c.master.test_write(&format!("write {i} while the monitor's path is broken"));
    }
    for r in &c.replicas {
        r.wait_replicating(&c.master);
    }
    let line = m.last_log_line();
    assert!(line.contains("decision=no-failover category=UnreachableMaster dead_runs=0/2"), "{line}");
    assert!(line.contains("monitor=\"timeout: "), "{line}");
    for r in &c.replicas {
        assert!(line.contains(&format!("\"{} receiving", r.host_port())), "{line}");
    }

    // The replicas name the master by its real address, not the proxy's. A monitor that never
    // reached the master cannot learn its server id, so only an alias ties them together.
    let fresh = Monitor::new(proxy.addr());
    fresh.run(&args).exits(0).stdout_contains("(DeadMasterWithoutReplicas: no replica of it is known");
    let line = fresh.last_log_line();
    assert!(line.contains(&format!("replicates from another master {}", c.master.host_port())), "{line}");
    let mut with_alias = args.clone();
    let real = c.master.host_port();
    with_alias.extend(["--master-alias", real.as_str()]);
    fresh.run(&with_alias).exits(0).stdout_contains("replicas still replicating — no failover (UnreachableMaster: 2 of 2 replicas");
}

fn monitor_option_file(dir: &TempDir) -> String {
    let path = dir.path().join("monitor.cnf");
    std::fs::write(&path, format!("[client]\nuser={MONITOR_USER}\npassword={MONITOR_PASSWORD}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn replicas_down_do_not_kill_a_live_master_and_all_down_follow_the_rule() {
    let mut c = GtidCluster::new(2);
    let m = Monitor::new(c.master.addr());
    // The least-privileged monitor user (BINLOG MONITOR, SLAVE MONITOR) is enough.
    let option_file = monitor_option_file(&m.dir);
    let mut base = replica_args(&c);
    base.extend(["--mysql-defaults-file".to_string(), option_file]);
    let base = strs(&base);
    m.run(&base).exits(0).stdout_contains("(NoProblem)");
    assert!(m.last_log_line().contains("replicas_from=config"), "{}", m.last_log_line());

    let (r1, r2) = (c.replicas[0].host_port(), c.replicas[1].host_port());
    c.replicas[0].kill9();
    m.run(&base).exits(0).stdout_contains("is up (NoProblem): no failover");
    let line = m.last_log_line();
    assert!(line.contains(&format!("replica.1=\"{r1} unreachable: mysql {r1} is unreachable")), "{line}");
    assert!(line.contains(&format!("replica.2=\"{r2} receiving")), "{line}");

    c.replicas[1].kill9();
    c.master.kill9();
    for _ in 0..3 {
        m.run(&base)
            .exits(0)
            .stdout_contains("CRITICAL: master")
            .stdout_contains("(DeadMasterAndReplicas: none of 2 replicas could be asked; when_no_replicas = no-failover): no failover");
    }
    assert!(m.last_log_line().contains("decision=no-failover category=DeadMasterAndReplicas dead_runs=0/2 when_no_replicas=no-failover"));

    let mut failover = base.clone();
    failover.extend(["--when-no-replicas", "failover"]);
    m.run(&failover).exits(0).stdout_contains("when_no_replicas = failover), not yet confirmed: dead on 1 consecutive runs");
    m.run(&failover).exits(2).stdout_contains("confirmed: dead on 2 consecutive runs, 2 needed: failover");

    // Consul as the tie-breaker: only a lost serfHealth of the master's node counts.
    let standin = Standin::builder().agent("monitor", host(40)).agent("db-master", host(11)).start().unwrap();
    let consul_url = standin.http_url("monitor").unwrap();
    let mut consul = base.clone();
    consul.extend(["--when-no-replicas", "consul", "--consul-node", "db-master", "--consul-addr", &consul_url, "--confirm-runs", "1"]);
    m.run(&consul).exits(0).stdout_contains("when_no_replicas = consul: node db-master serfHealth passing): no failover");
    standin.set_serf_health("db-master", false).unwrap();
    m.run(&consul).exits(2).stdout_contains("when_no_replicas = consul: node db-master serfHealth critical), confirmed");
    assert!(m.last_log_line().contains("consul=\"node db-master serfHealth critical\""), "{}", m.last_log_line());

    // Discovery from Consul: a monitor with no list and no history finds the replicas there.
    let client = Client::new(&ClientConfig::default().with_address(&consul_url).unwrap()).unwrap();
    for (i, r) in c.replicas.iter().enumerate() {
        let service = Service { service: "mysql-replica".into(), port: r.port(), ..Service::default() };
        let node = format!("db-replica{i}");
        client.catalog_register(&CatalogRegistration { node, address: r.host().to_string(), service: Some(service), ..CatalogRegistration::default() }).unwrap();
    }
    let fresh = Monitor::new(c.master.addr());
    fresh.run(&["--replica-service", "mysql-replica", "--consul-addr", &consul_url]).exits(0).stdout_contains("(DeadMasterAndReplicas:");
    let line = fresh.last_log_line();
    assert!(line.contains("replicas_from=consul") && line.contains(&r1) && line.contains(&r2), "{line}");
}

/// Issue 11, defect 3: a master given by host name with a hung system resolver costs the run
/// its budget, not glibc's 10 s, and is no reason to fail over on its own.
#[test]
fn a_hung_resolver_ends_within_the_budget_without_a_failover() {
    let resolver = testbed::resolver::HungResolver::start();
    let dir = tempfile::tempdir().unwrap();
    let (state, log) = (dir.path().join("state"), dir.path().join("actions.log"));
    let args = ["db1.example", "3306", "--timeout", "2s", "--state-dir", state.to_str().unwrap(), "--log-file", log.to_str().unwrap()];
    sengu_testsupport::run_with_resolver(&resolver, Duration::from_millis(3500), BIN, &args, &[])
        .exits(0)
        .stdout_starts_with("mysql-fail-check: CRITICAL: master db1.example:3306 is unreachable and no replica can tell");
}
