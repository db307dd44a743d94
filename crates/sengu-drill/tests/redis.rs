//! The Redis drill against real Redis and Sentinel processes and a consul-standin with DNS:
//! rounds back and forth keep every invariant; a broken pre-check refuses to start and changes
//! nothing; a lagging replica makes the drill abort before the failover, with the pause
//! lifted; and the Redis behaviour the switch sequence relies on (a write-paused master
//! accepts `REPLICAOF` and never applies the writes blocked behind the pause).

use std::time::Duration;

use serde_json::Value;
use sengu_testsupport::run;
use testbed::redis::{RedisServer, Role};
use testbed::host;

use crate::lab::{Lab, BIN};

fn drill(lab: &Lab, extra: &[&str]) -> (sengu_testsupport::Run, Value) {
    let args = lab.drill_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(BIN, &args);
    let report = serde_json::from_str(out.stdout().trim()).unwrap_or_else(|e| panic!("no JSON report ({e})\n{out}\n{}", lab.set.report()));
    (out, report)
}

#[test]
fn rounds_back_and_forth_keep_every_invariant() {
    let lab = Lab::start();
    let first = lab.set.server(0).addr().to_string();
    let second = lab.set.server(1).addr().to_string();
    // An address where no sentinel runs and none is known (a floating sentinel's other home)
    // is not a sentinel: the drill must not refuse because of it.
    let nowhere = testbed::reserve(host(12));
    let nowhere = format!("127.0.0.12:{}", nowhere.port());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("actions.log");
    let (out, report) = drill(&lab, &["--rounds", "4", "--format", "json", "--sentinel", &nowhere, "--log-file", log.to_str().unwrap()]);
    let rounds = report["rounds"].as_array().unwrap();
    for r in rounds {
        eprintln!(
            "round {}: {} -> {} window {} ms, dns {} ms (vs sentinels {} ms), {} acked, {} lost",
            r["round"], r["from"], r["to"], r["figures"]["write_unavailable_ms"], r["figures"]["dns_convergence_ms"],
            r["figures"]["dns_after_sentinels_ms"], r["figures"]["writes_acknowledged"], r["figures"]["writes_lost"]
        );
    }
    out.exits(0);
    assert_eq!(report["passed"], true, "{out}");
    assert_eq!(rounds.len(), 4);
    for (i, r) in rounds.iter().enumerate() {
        let (from, to) = if i % 2 == 0 { (&first, &second) } else { (&second, &first) };
        assert_eq!((r["from"].as_str().unwrap(), r["to"].as_str().unwrap()), (from.as_str(), to.as_str()), "round {i}\n{out}");
        assert_eq!(r["outcome"], "passed", "round {i}\n{out}");
        let f = &r["figures"];
        assert_eq!(f["writes_lost"], 0, "{out}");
        assert_eq!(f["two_masters_in_dns"], 0, "{out}");
        assert!(f["writes_acknowledged"].as_u64().unwrap() > 10, "{out}");
        assert!(f["write_unavailable_ms"].as_f64().is_some_and(|w| w > 0.0), "{out}");
        assert!(f["dns_convergence_ms"].as_f64().is_some_and(|d| d > 0.0), "{out}");
        assert!(f["dns_samples"].as_u64().unwrap() > 20, "{out}");
        let invariants = r["invariants"].as_array().unwrap();
        assert!(invariants.len() >= 8, "{out}");
        for inv in invariants {
            assert_eq!(inv["held"], true, "{inv}\n{out}");
        }
        let events: Vec<&str> = r["timeline"].as_array().unwrap().iter().map(|e| e["what"].as_str().unwrap()).collect();
        for must in [
            "writes paused on the old master",
            "failover requested",
            "new master promoted",
            "old master demoted",
            "consul tags flipped",
            "sentinels switched",
            "first write acknowledged by the new master",
        ] {
            assert!(events.contains(&must), "no {must:?} in round {i}: {events:?}");
        }
    }
    // Every change is in the action log, as it happened.
    let log = std::fs::read_to_string(&log).unwrap();
    for action in ["pause-writes", "sentinel-failover", "demote", "publish-roles", "unpause-writes"] {
        let n = log.lines().filter(|l| l.contains(&format!(" action={action} "))).count();
        assert_eq!(n, 4, "{action} in\n{log}");
    }
    assert!(log.contains(" action=drill-stored "), "{log}");
    // After an even number of rounds the first master is master again, everywhere.
    lab.set.wait_master_agreed(lab.set.server(0).addr(), Duration::from_secs(10));
    assert_eq!(lab.dns_masters(), [host(11)]);
    let key = report["history_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sengu/drills/redis/"), "{key}");
    assert_eq!(lab.stored_drills(), std::slice::from_ref(&key));
    let history = run(BIN, &["history", "--service", "redis", "--format", "json", "--consul-addr", &lab.consul_addr()]);
    history.exits(0);
    let listed: Value = serde_json::from_str(history.stdout().trim()).unwrap();
    assert_eq!(listed[0]["key"], key.as_str(), "{history}");
    assert_eq!(listed[0]["report"]["summary"]["rounds_passed"], 4, "{history}");
    run(BIN, &["history", "--consul-addr", &lab.consul_addr()]).exits(0).stdout_contains("4/4").stdout_contains("passed");
}

#[test]
fn a_broken_precheck_refuses_to_start_and_changes_nothing() {
    let mut lab = Lab::start();
    let master = lab.set.server(0).addr();
    // Two instances tagged master: DNS names two masters.
    let replica = lab.set.server(1);
    lab.register("redis-b", replica.ip(), replica.port(), "master");
    let before = lab.tags();
    let (out, report) = drill(&lab, &["--format", "json"]);
    out.exits(2);
    assert_eq!(report["refused"], true, "{out}");
    let failed: Vec<&Value> = report["prechecks"].as_array().unwrap().iter().filter(|c| c["ok"] == false).collect();
    assert!(failed.iter().any(|c| c["name"] == "dns" && c["text"].as_str().unwrap().contains("names 2 masters")), "{out}");
    assert_eq!(lab.tags(), before, "a refused drill changed Consul");
    assert!(lab.stored_drills().is_empty(), "a refused drill left a report");
    assert_eq!(lab.set.current_master(), Some(master));

    // A sentinel its peers know is down.
    lab.register("redis-b", replica.ip(), replica.port(), "replica");
    let dead = lab.set.sentinel(2).addr();
    lab.set.sentinel_mut(2).kill9();
    let (out, _) = drill(&lab, &["--format", "json"]);
    out.exits(2).stdout_contains(&format!("sentinel {dead} did not answer"));
    lab.set.sentinel_mut(2).restart();

    // A replica down: the drill says which, in text.
    lab.set.server_mut(1).kill9();
    let args = lab.drill_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(BIN, &args);
    out.exits(2).stdout_starts_with("REFUSED: redis drill of \"redis\" did not start, nothing was changed: ");
    out.stdout_contains(&format!("replica {}", lab.set.server(1).addr()));
    assert_eq!(lab.set.current_master(), Some(master));
    assert!(lab.stored_drills().is_empty());
}

#[test]
fn a_lagging_replica_makes_the_drill_abort_before_the_failover_with_writes_resumed() {
    let lab = Lab::start();
    let master = lab.set.server(0).addr();
    // The replica stops applying the master's stream (its master link is a client too), but
    // still answers INFO and acknowledges, so the pre-checks pass and only the catch-up fails.
    lab.set.server(1).client_pause(30_000, true);
    let (out, report) = drill(&lab, &["--catch-up-timeout", "500ms", "--format", "json"]);
    lab.set.server(1).client_unpause();
    out.exits(1);
    let round = &report["rounds"][0];
    assert_eq!(round["outcome"], "aborted", "{out}");
    let notes = round["notes"].to_string();
    assert!(notes.contains("not caught up within 500ms") && notes.contains("aborted before the failover: writes resumed"), "{out}");
    assert_eq!(round["figures"]["writes_lost"], 0, "{out}");
    let events: Vec<&str> = round["timeline"].as_array().unwrap().iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert!(!events.contains(&"failover requested"), "{events:?}");
    // Nothing moved, and the master takes writes again at once (the pause was lifted).
    assert_eq!(lab.set.current_master(), Some(master));
    let mut c = lab.set.server(0).conn();
    let _: () = redis::cmd("SET").arg("after-abort").arg(1).query(&mut c).unwrap();
    assert!(matches!(lab.set.server(1).role().unwrap(), Role::Replica { .. }));
    assert_eq!(lab.dns_masters(), [host(11)]);
    assert_eq!(lab.stored_drills().len(), 1, "an aborted drill is history too");
}

#[test]
fn a_write_paused_master_accepts_replicaof_and_never_applies_the_blocked_write() {
    let old = RedisServer::start(host(11));
    let new = RedisServer::builder(host(12)).replica_of(old.addr()).start();
    new.wait_replica_connected(old.addr(), Duration::from_secs(20));
    old.client_pause(10_000, true);
    let blocked = {
        let mut c = old.conn();
        std::thread::spawn(move || redis::cmd("RPUSH").arg("k").arg("blocked").query::<i64>(&mut c))
    };
    testbed::wait_until(Duration::from_secs(5), "the RPUSH to block behind the pause", || old.info("clients").contains("blocked_clients:1").then_some(()), || old.log_tail());
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut new.conn()).unwrap();
    let mut o = old.conn();
    let _: () = redis::cmd("REPLICAOF").arg(new.ip().to_string()).arg(new.port()).query(&mut o).unwrap();
    old.wait_replica_connected(new.addr(), Duration::from_secs(5));
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal").query(&mut o).unwrap();
    assert!(killed >= 1);
    assert!(blocked.join().unwrap().is_err(), "the blocked write was acknowledged");
    old.client_unpause();
    let on_new: Vec<String> = redis::cmd("LRANGE").arg("k").arg(0).arg(-1).query(&mut new.conn()).unwrap();
    let on_old: Vec<String> = redis::cmd("LRANGE").arg("k").arg(0).arg(-1).query(&mut old.conn()).unwrap();
    assert!(on_new.is_empty() && on_old.is_empty(), "{on_new:?} {on_old:?}");
}
