//! The drills in the full lab (`sengu_e2e::lab`), where the shipped `consul.d` role check and
//! `sentinel-rebalance` run as in production: a MySQL switchover through the hooks, and one through
//! the real MHA, lose no write, a freshly promoted Redis master is left alone by the role check, and a planned Redis
//! drill keeps every invariant while the checks run.
//!
//! Needs the workspace's binaries built (`cargo build --workspace --bins`; `cargo test
//! --workspace` builds them), found next to the test executable or in `SENGU_BIN_DIR`.

use std::path::Path;
use std::time::{Duration, Instant};

use sengu::addr::HostPort;
use sengu::redis::{ConnectOptions, RedisConn, Role};
use sengu_e2e::lab::{self, Lab};
use serde_json::Value;
use testbed::mha::{Mha, Node};

fn drill(lab: &Lab, args: &[String], env: &[(String, String)]) -> Value {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab.run(&lab::bin("sengu-drill"), &argv, env);
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", lab::text(&out), lab.report()))
}

#[test]
fn a_mysql_switchover_through_the_hooks_loses_no_write_and_moves_dns() {
    let lab = Lab::start(&mut |_| {});
    let report = drill(&lab, &lab.drill_mysql_args(0, 1, &["--format", "json"]), &lab.hook_env());
    let round = &report["rounds"][0];
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(round["figures"]["writes_lost"], 0);
    assert!(round["figures"]["writes_acknowledged"].as_u64().unwrap() > 10, "{report:#}");
    assert_eq!(round["to"], lab.mysql[1].addr().to_string());
    assert_eq!(lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)), [lab.mysql[1].addr().ip()]);
    assert!(lab.mysql[0].slave_field("Slave_IO_Running").is_some(), "the old master replicates");

    // Issue 11, defect 4: a password on the switchover command's argv (mysqlrpladmin's
    // `--master=user:password@host`) and in its output reaches neither the report, the action
    // log nor Consul KV.
    const SECRET: &str = "drill-s3cret";
    let master = format!("root:{SECRET}@{}", lab.mysql[1].addr());
    let mut args = lab.drill_mysql_args(1, 0, &["--format", "json"]);
    args.extend(["--master".to_string(), master]);
    let report = drill(&lab, &args, &lab.hook_env());
    assert_eq!(report["passed"], true, "{report:#}");
    let text = report.to_string();
    assert!(text.contains("--master root:***@") && text.contains("# master on root:***@"), "{report:#}");
    let log = std::fs::read_to_string(lab.action_log()).unwrap();
    let kv: Vec<String> = lab
        .consul_client()
        .kv_list("")
        .unwrap()
        .into_iter()
        .map(|pair| String::from_utf8_lossy(&pair.value).into_owned())
        .collect();
    assert!(!kv.is_empty(), "the drill keeps its history in KV");
    for (place, content) in [("report", text), ("action log", log), ("consul kv", kv.join("\n"))] {
        assert!(!content.contains(SECRET), "the password reached the {place}:\n{content}");
    }
}

/// Issue 12: the drill runs the real MHA online switch (`masterha_master_switch
/// --master_state=alive`, `mysql-mha-script` as its online change script) as its switchover
/// command, there and back: writes through DNS lose nothing, and DNS names the new master.
#[test]
fn a_mysql_drill_through_mha_loses_no_write_and_moves_dns() {
    let lab = Lab::start(&mut |_| {});
    testbed::mha::create_user(&lab.mysql[0]);
    lab.mysql[1].wait_replicating(&lab.mysql[0]);
    let nodes = [Node::from(&lab.mysql[0]), Node::from(&lab.mysql[1])];
    // The script gets its settings from the drill's environment, through MHA.
    let app = Mha::new(&nodes, &lab::bin("mysql-mha-script").display().to_string(), &[]);
    for (to, node) in [(1, nodes[1]), (0, nodes[0])] {
        let args = lab.drill_mysql_command(&["--format", "json"], &app.online_switch_command(node));
        let report = drill(&lab, &args, &lab.hook_env());
        let round = &report["rounds"][0];
        assert_eq!(report["passed"], true, "{report:#}");
        assert_eq!(round["figures"]["writes_lost"], 0, "{report:#}");
        assert!(round["figures"]["writes_acknowledged"].as_u64().unwrap() > 10, "{report:#}");
        assert_eq!(round["to"], lab.mysql[to].addr().to_string());
        assert_eq!(lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)), [lab.mysql[to].addr().ip()]);
        assert!(!report.to_string().contains(testbed::mha::MHA_PASSWORD), "{report:#}");
    }
}

/// For about a second after a promotion the sentinel majority still names the old master. The
/// role check (`--fence-stale-master`, the shipped definition) run on the new master in that
/// window must not take it for a stale master: the old master says it is a replica, so the
/// sentinels are behind, and the check neither pauses the new master's writes nor retags it.
#[test]
fn the_role_check_leaves_a_freshly_promoted_master_alone() {
    let lab = Lab::start(&mut |_| {});
    lab.wait_settled(Duration::from_secs(60));
    let new = lab.redis_addr(1);
    let hp = HostPort { host: new.ip().to_string(), port: new.port() };
    let args = lab.drill_redis_args(&["--format", "json"]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    std::thread::scope(|s| {
        let drill = s.spawn(|| lab.run(&lab::bin("sengu-drill"), &argv, &[]));
        let opts = ConnectOptions { connect_timeout: Duration::from_millis(200), io_timeout: Duration::from_millis(200), ..Default::default() };
        let start = Instant::now();
        while !matches!(RedisConn::connect(&hp, &opts).and_then(|mut c| c.role()), Ok(Role::Master { .. })) {
            assert!(start.elapsed() < Duration::from_secs(10), "no promotion\n{}", lab.report());
            std::thread::sleep(Duration::from_millis(2));
        }
        // Promoted, and the sentinels have not caught up yet: what the role check does now.
        let check = lab.check_args(1);
        let check_args: Vec<&str> = check[1..].iter().map(String::as_str).collect();
        let out = lab.run(Path::new(&check[0]), &check_args, &[]);
        let text = lab::text(&out);
        assert!(!text.contains("paused"), "the check fenced the new master:\n{text}");
        assert!(!text.contains("-> [replica]"), "the check demoted the new master's tag:\n{text}");
        let drilled = drill.join().unwrap();
        assert!(drilled.status.success(), "{}", lab::text(&drilled));
    });
}

#[test]
fn a_planned_redis_drill_with_the_shipped_checks_running_keeps_every_invariant() {
    let lab = Lab::start(&mut |_| {});
    lab.wait_settled(Duration::from_secs(60));
    let report = drill(&lab, &lab.drill_redis_args(&["--rounds", "3", "--format", "json"]), &[]);
    assert_eq!(report["passed"], true, "{report:#}\n{}", lab.report());
}

/// Issue 14, part 4: the native switchover (no `--switchover-cmd`) of the lab's MariaDB GTID
/// pair, 20 rounds back and forth: every round passes every invariant, no acknowledged write
/// is lost, DNS never names two masters, and the pair ends as it began, replicating. Then a
/// replica that cannot catch up (its SQL thread held by a read lock) aborts the switch, and
/// the old master is writable and published again with every write.
#[test]
fn a_native_mysql_switchover_twenty_rounds_back_and_forth_loses_no_write() {
    let lab = Lab::start(&mut |_| {});
    let report = drill(&lab, &lab.drill_mysql_native_args(&["--rounds", "20", "--format", "json"]), &lab.hook_env());
    assert_eq!(report["passed"], true, "{report:#}\n{}", lab.consul_state());
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 20, "{report:#}");
    for (i, round) in rounds.iter().enumerate() {
        let (from, to) = (lab.mysql[i % 2].addr().to_string(), lab.mysql[1 - i % 2].addr().to_string());
        assert_eq!((round["from"].as_str(), round["to"].as_str()), (Some(from.as_str()), Some(to.as_str())), "round {}", i + 1);
        assert_eq!(round["figures"]["writes_lost"], 0, "{round:#}");
        assert_eq!(round["figures"]["two_masters_in_dns"], 0, "{round:#}");
        assert!(round["figures"]["writes_acknowledged"].as_u64().unwrap() > 10, "{round:#}");
    }
    let s = &report["summary"];
    eprintln!(
        "native switchover, 20 rounds: write-unavailable median {} ms max {} ms; DNS convergence median {} ms max {} ms",
        s["write_unavailable_ms"]["median"], s["write_unavailable_ms"]["max"], s["dns_convergence_ms"]["median"], s["dns_convergence_ms"]["max"]
    );
    assert_eq!(lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)), [lab.mysql[0].addr().ip()]);
    lab.mysql[1].wait_replicating(&lab.mysql[0]);
    assert!(!report.to_string().contains(testbed::mariadb::REPL_PASSWORD), "the replication password reached the report");

    // The replica cannot apply anything while a read lock is held on it: the switch waits
    // --catch-up-timeout, then restores the old master, writable and published.
    let mut lock = lab.mysql[1].conn();
    mysql::prelude::Queryable::query_drop(&mut lock, "FLUSH TABLES WITH READ LOCK").unwrap();
    let report = drill(&lab, &lab.drill_mysql_native_args(&["--catch-up-timeout", "1s", "--format", "json"]), &lab.hook_env());
    drop(lock);
    let round = &report["rounds"][0];
    assert_eq!((report["passed"].as_bool(), round["outcome"].as_str()), (Some(false), Some("aborted")), "{report:#}");
    let notes = round["notes"].to_string();
    assert!(notes.contains("did not apply GTID") && notes.contains("is writable and published again"), "{report:#}");
    assert_eq!(round["figures"]["writes_lost"], 0, "{round:#}");
    assert_eq!(lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)), [lab.mysql[0].addr().ip()]);
    assert!(!lab.mysql[0].read_only(), "the old master takes writes again");
    lab.mysql[1].wait_replicating(&lab.mysql[0]);
}
