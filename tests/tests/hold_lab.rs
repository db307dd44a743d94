//! Issue 14, part 3: manual mode and the post-failover block across the executables.
//!
//! - In the full lab (`sengu_e2e::lab`): `sengu-drill manual` refuses bad input and changes
//!   nothing; once on, the state shows in `manual status`, in `sentinel-rebalance status`
//!   (Redis) and in the hooks' output (MySQL); both drills refuse to start, and
//!   `--despite-hold` runs the one-shot switch (the native MySQL switchover) all the same.
//! - With a MariaDB pair and the Consul stand-in: a failover through both hooks writes the
//!   block; while it holds, `mysql-fail-check` answers "no failover" for a dead master and MHA's
//!   `status` refuses; `sengu-drill manual off` clears it and the next check fails over.

use std::process::Output;

use sengu_e2e::lab::{self, Lab};
use sengu_testsupport::hooks::{hook_args, Dc};
use serde_json::Value;
use testbed::mariadb::GtidCluster;

use crate::hooks::{after, before};

fn out(lab: &Lab, program: &str, args: &[&str], env: &[(String, String)]) -> Output {
    lab.run(&lab::bin(program), args, env)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `sengu-drill manual …` against the lab's Consul.
fn manual(lab: &Lab, args: &[&str]) -> Output {
    let mut all = vec!["manual"];
    all.extend_from_slice(args);
    let agent = lab.agent_url(0);
    all.extend(["--consul-addr", agent.as_str()]);
    out(lab, "sengu-drill", &all, &[("SENGU_LOG_FILE".into(), lab.action_log().display().to_string())])
}

#[test]
fn manual_mode_is_visible_everywhere_and_drills_refuse_unless_a_person_decided() {
    let lab = Lab::start(&mut |_| {});
    let index = || lab.consul.index();

    // Bad input: exit 2, one line, nothing written.
    let before_index = index();
    for args in [&["on", "--name", lab::MYSQL_NODE][..], &["on", "--name", "a b", "--reason", "x"], &["off", "--name", "redis", "--for", "1h"], &["on", "--reason", "x"]] {
        let o = manual(&lab, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", lab::text(&o));
    }
    let o = manual(&lab, &["on", "--name", lab::MYSQL_NODE]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("`manual on` needs --reason TEXT"), "{}", lab::text(&o));
    assert_eq!(index(), before_index, "bad input changed consul");
    assert!(lab.consul_client().kv_list("sengu/hold/").unwrap().is_empty());

    // On, for both sides.
    let o = manual(&lab, &["on", "--name", lab::MYSQL_NODE, "--reason", "one-shot switch tonight", "--for", "2h"]);
    assert!(o.status.success(), "{}", lab::text(&o));
    assert!(stdout(&o).starts_with("sengu-drill: automatic failover off for foo-db-master: manual mode on since "), "{}", lab::text(&o));
    let o = manual(&lab, &["on", "--name", lab::SERVICE, "--reason", "sentinel maintenance"]);
    assert!(o.status.success(), "{}", lab::text(&o));

    // status: one name as JSON, and every name as text.
    let o = manual(&lab, &["status", "--name", lab::MYSQL_NODE, "--format", "json"]);
    let json: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let shown = &json["holds"][0];
    assert_eq!((shown["name"].as_str(), shown["blocks_automatic_failover"].as_bool()), (Some(lab::MYSQL_NODE), Some(true)), "{json:#}");
    assert_eq!(shown["manual"]["why"], "one-shot switch tonight");
    assert!(shown["manual"]["until"].is_string() && shown["block"].is_null(), "{json:#}");
    let o = manual(&lab, &["status"]);
    let text = stdout(&o);
    assert!(text.starts_with("sengu-drill: automatic failover off for foo-db-master, redis"), "{text}");
    assert!(text.contains("  redis: manual mode: manual mode on since ") && text.contains("  foo-db-master: post-failover block: none"), "{text}");

    // sentinel-rebalance status shows the Redis side's hold, and says what Sentinel is not told.
    let o = lab.rebalance(1, &["status"]);
    let text = stdout(&o);
    assert!(text.contains("[PASSING] hold: automatic failover is off for redis: manual mode on since "), "{text}");
    assert!(text.contains("Sentinel is not told"), "{text}");

    // The hooks carry on and show it: a rerun of mysql-after-exec for the published master.
    let m = lab.mysql[0].addr();
    let o = out(&lab, "mysql-after-exec", &[&m.ip().to_string(), &m.port().to_string()], &lab.hook_env());
    assert!(o.status.success(), "{}", lab::text(&o));
    assert!(stdout(&o).contains("\n  hold: manual mode on since ") && stdout(&o).contains("\"one-shot switch tonight\""), "{}", lab::text(&o));

    // Both drills refuse to start, and change nothing.
    let before_index = index();
    let o = out(&lab, "sengu-drill", &lab.drill_redis_args(&[]).iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", lab::text(&o));
    assert!(stdout(&o).starts_with("REFUSED: redis drill of \"redis\" did not start, nothing was changed: automatic failover is off for redis"), "{}", lab::text(&o));
    let args = lab.drill_mysql_native_args(&[]);
    let o = out(&lab, "sengu-drill", &args.iter().map(String::as_str).collect::<Vec<_>>(), &lab.hook_env());
    assert_eq!(o.status.code(), Some(2), "{}", lab::text(&o));
    assert!(stdout(&o).contains("--despite-hold"), "{}", lab::text(&o));
    assert_eq!(index(), before_index, "a refused drill changed consul");
    assert_eq!(lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)), [lab.mysql[0].addr().ip()]);

    // A person decided: the one-shot switch runs in manual mode, and manual mode stays on.
    let args = lab.drill_mysql_native_args(&["--despite-hold", "--format", "json"]);
    let o = out(&lab, "sengu-drill", &args.iter().map(String::as_str).collect::<Vec<_>>(), &lab.hook_env());
    let report: Value = serde_json::from_str(stdout(&o).trim()).unwrap_or_else(|e| panic!("{e}: {}", lab::text(&o)));
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["prechecks"][0]["name"], "hold", "{report:#}");
    assert!(report["prechecks"][0]["text"].as_str().unwrap().ends_with("going ahead: --despite-hold"), "{report:#}");
    assert_eq!(lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)), [lab.mysql[1].addr().ip()]);
    let o = manual(&lab, &["status", "--name", lab::MYSQL_NODE]);
    assert!(stdout(&o).starts_with("sengu-drill: foo-db-master: manual mode on since "), "{}", lab::text(&o));

    // Off: automatic failover on again, and a second off has nothing to clear.
    for (i, expected) in ["automatic failover on for redis: cleared manual mode: manual mode on since ", "automatic failover on for redis: nothing to clear"].iter().enumerate() {
        let o = manual(&lab, &["off", "--name", lab::SERVICE]);
        assert!(o.status.success() && stdout(&o).starts_with(&format!("sengu-drill: {expected}")), "run {i}: {}", lab::text(&o));
    }
    let log = std::fs::read_to_string(lab.action_log()).unwrap();
    assert!(log.contains(" action=manual-on name=foo-db-master who=") && log.contains(" action=manual-off name=redis who="), "{log}");
}

/// A real failover through both hooks (four arguments) writes the block; while it holds,
/// `mysql-fail-check` does not fail over a dead master and MHA's `status` refuses; a person
/// clears it with `sengu-drill manual off`.
#[test]
fn the_block_after_a_failover_holds_until_a_person_clears_it() {
    let mut cluster = GtidCluster::new(1);
    let dc = Dc::new();
    dc.seed(cluster.master.host(), None);
    let [old_host, old_port] = hook_args(&cluster.master);
    let [new_host, new_port] = hook_args(&cluster.replicas[0]);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];

    cluster.master.kill9();
    before(&dc, &four, &[]).exits(0);
    cluster.replicas[0].promote();
    after(&dc, &four, &[])
        .exits(0)
        .stdout_contains(&format!("published {new_host}:{new_port} as the master"))
        .stdout_contains("wrote the post-failover block in kv sengu/hold/foo-db-master: automatic failover of foo-db-master blocked until ")
        .stdout_contains("hold: automatic failover blocked until ")
        .stdout_contains(&format!("after the failover {old_host}:{old_port} -> {new_host}:{new_port}"));
    let record: Value = serde_json::from_str(&dc.kv("sengu/hold/foo-db-master").unwrap()).unwrap();
    assert_eq!(record["block"]["why"], format!("after the failover {old_host}:{old_port} -> {new_host}:{new_port}"), "{record}");
    assert!(record["block"]["until"].is_string() && record.get("manual").is_none(), "{record}");
    // A rerun writes nothing more; a switchover (two arguments) writes no block.
    let snapshot = (dc.kv("sengu/hold/foo-db-master"), dc.kv_index("sengu/hold/foo-db-master"));
    after(&dc, &four, &[]).exits(0).stdout_contains("post-failover block already in kv sengu/hold/foo-db-master");
    after(&dc, &[&new_host, &new_port], &[]).exits(0);
    assert_eq!((dc.kv("sengu/hold/foo-db-master"), dc.kv_index("sengu/hold/foo-db-master")), snapshot);

    // The new master dies too, with no replica left: mysql-fail-check would fail over
    // (--when-no-replicas failover), but the block holds.
    let new_master = cluster.replicas.remove(0);
    drop(new_master);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").display().to_string();
    let check = || {
        sengu_testsupport::run_env(
            &lab::bin("mysql-fail-check").display().to_string(),
            &[&new_host, &new_port],
            &[("CONSUL_HTTP_ADDR", dc.url().as_str()), ("SENGU_STATE_DIR", state.as_str()), ("SENGU_WHEN_NO_REPLICAS", "failover"), ("SENGU_CONFIRM_RUNS", "1")],
        )
    };
    check()
        .exits(0)
        .stdout_starts_with("mysql-fail-check: no failover: automatic failover is off for foo-db-master (automatic failover blocked until ");

    // MHA's monitor would not start either.
    let mha = sengu_testsupport::run_env(
        &lab::bin("mysql-mha-script").display().to_string(),
        &["--command=status", "--ssh_user=root", &format!("--orig_master_host={new_host}"), &format!("--orig_master_port={new_port}")],
        &dc.env().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
    );
    mha.exits(7).stdout_contains("automatic failover is off for foo-db-master: automatic failover blocked until ");

    // manual status shows the block; off clears it; the next check fails over.
    let drill = |args: &[&str]| {
        let mut all = vec!["manual"];
        all.extend_from_slice(args);
        sengu_testsupport::run_env(&lab::bin("sengu-drill").display().to_string(), &all, &[("CONSUL_HTTP_ADDR", dc.url().as_str())])
    };
    drill(&["status", "--name", "foo-db-master"]).exits(0).stdout_contains("  foo-db-master: post-failover block: automatic failover blocked until ");
    drill(&["off", "--name", "foo-db-master"]).exits(0).stdout_starts_with("sengu-drill: automatic failover on for foo-db-master: cleared post-failover block: ");
    assert_eq!(dc.kv("sengu/hold/foo-db-master"), None);
    check().exits(2).stdout_contains(": failover");
}
