//! Issue 14: `mysql-fail-check` obeys the hold record (`sengu/hold/<master node>`) against a
//! real MariaDB GTID master with two replicas and the Consul stand-in. A `kill -9`ed master is
//! confirmed dead by its replicas, yet while manual mode or a post-failover block holds, or
//! while the record cannot be read, every run answers "no failover" (exit 0) with the reason
//! first; the dead streak keeps counting, so the first run after the hold ends fails over.

use std::time::{Duration, SystemTime};

use sengu::hold::{self, Hold};
use sengu_testsupport::hooks::Dc;
use sengu_testsupport::{run_env, Run};
use testbed::mariadb::GtidCluster;

const BIN: &str = env!("CARGO_BIN_EXE_mysql-fail-check");
const NODE: &str = "foo-db-master";

/// One run as mysqlfailover makes it, every setting from the environment.
fn check(c: &GtidCluster, dir: &std::path::Path, consul: &str, extra: &[(&str, &str)]) -> Run {
    let replicas = c.replicas.iter().map(|r| r.host_port()).collect::<Vec<_>>().join(",");
    let state = dir.join("state").display().to_string();
    let log = dir.join("actions.log").display().to_string();
    let mut env = vec![
        ("SENGU_REPLICAS", replicas.as_str()),
        ("SENGU_STATE_DIR", state.as_str()),
        ("SENGU_LOG_FILE", log.as_str()),
        ("SENGU_CONFIRM_RUNS", "1"),
        ("CONSUL_HTTP_ADDR", consul),
    ];
    env.extend_from_slice(extra);
    run_env(BIN, &[&c.master.host().to_string(), &c.master.port().to_string()], &env)
}

/// Runs until the replicas have lost the killed master (a run that says `DeadMaster`).
fn until_dead(c: &GtidCluster, dir: &std::path::Path, consul: &str) -> Run {
    testbed::wait_until(
        Duration::from_secs(20),
        "the replicas to lose the killed master",
        || {
            let r = check(c, dir, consul, &[]);
            r.stdout().contains("(DeadMaster:").then_some(r)
        },
        || c.logs(),
    )
}

#[test]
fn manual_mode_answers_no_failover_for_a_dead_master_until_it_is_turned_off() {
    let mut c = GtidCluster::new(2);
    let dc = Dc::new();
    let dir = tempfile::tempdir().unwrap();
    let url = dc.url();
    hold::set_manual(&dc.client, NODE, &Hold::now("migrating the rack", None)).unwrap();
    check(&c, dir.path(), &url, &[]).exits(0).stdout_contains("is up (NoProblem): no failover; automatic failover is off for foo-db-master (manual mode on since");

    c.master.kill9();
    let held = until_dead(&c, dir.path(), &url);
    held.exits(0)
        .stdout_starts_with("mysql-fail-check: no failover: automatic failover is off for foo-db-master (manual mode on since ")
        .stdout_contains("\"migrating the rack\"")
        .stdout_contains("without that: master ")
        .stdout_contains("(DeadMaster: unreachable from the monitor and lost by 2 of 2 replicas), confirmed");
    let log = std::fs::read_to_string(dir.path().join("actions.log")).unwrap();
    let last = log.lines().last().unwrap();
    assert!(last.contains(" decision=no-failover category=DeadMaster ") && last.contains(" hold=\"manual mode on since "), "{last}");

    // JSON says the same: the verdict, the hold, and exit 0.
    let json: serde_json::Value = serde_json::from_str(check(&c, dir.path(), &url, &[("SENGU_FORMAT", "json")]).stdout().trim()).unwrap();
    assert_eq!((json["exit_code"].as_u64(), json["hold"]["state"].as_str()), (Some(0), Some("held")), "{json}");
    assert_eq!(json["decision"]["failover"], true, "the verdict itself is unchanged: {json}");

    // The person turns it off: the next run fails over.
    assert!(matches!(hold::clear(&dc.client, NODE).unwrap(), hold::Written::Changed(_)));
    check(&c, dir.path(), &url, &[]).exits(2).stdout_contains("confirmed: dead on ").stdout_contains(": failover");
}

#[test]
fn a_block_or_an_unreadable_hold_stops_a_failover_and_ignore_reads_nothing() {
    let mut c = GtidCluster::new(2);
    let dc = Dc::new();
    let dir = tempfile::tempdir().unwrap();
    let url = dc.url();
    let block = Hold::now("after the failover 127.0.0.10:3306 -> 127.0.0.11:3306", Some(Duration::from_secs(3600)));
    hold::set_block(&dc.client, NODE, &block).unwrap();
    c.master.kill9();
    until_dead(&c, dir.path(), &url)
        .exits(0)
        .stdout_starts_with("mysql-fail-check: no failover: automatic failover is off for foo-db-master (automatic failover blocked until ")
        .stdout_contains("after the failover 127.0.0.10:3306 -> 127.0.0.11:3306");

    // Another name's hold is not this master's.
    check(&c, dir.path(), &url, &[("SENGU_MASTER_NODE", "other-db-master")]).exits(2);

    // An expired block counts as off.
    let expired = Hold::at(SystemTime::now() - Duration::from_secs(7200), "root@mon1".into(), "after an old failover", Some(Duration::from_secs(3600)));
    hold::clear(&dc.client, NODE).unwrap();
    hold::set_block(&dc.client, NODE, &expired).unwrap();
    check(&c, dir.path(), &url, &[]).exits(2);

    // Consul cannot be asked: manual mode cannot be ruled out, so no failover, said as CRITICAL.
    let nowhere = testbed::reserve(testbed::host(1));
    let dead_consul = format!("http://127.0.0.1:{}", nowhere.port());
    check(&c, dir.path(), &dead_consul, &[("SENGU_TIMEOUT", "2s")])
        .exits(0)
        .stdout_starts_with("mysql-fail-check: CRITICAL: no failover: the hold record of foo-db-master could not be read (consul at ");
    // A monitor without Consul says so once, in its settings.
    check(&c, dir.path(), &dead_consul, &[("SENGU_HOLD", "ignore")]).exits(2);
}
