//! The healthy master, with consul-standin running the check from the shipped seed-layout
//! definition: the master passes with a stable line 1, the replica stays critical, and DNS names
//! the master alone. Also pins what makes the shipped definitions safe to use as they are.

use std::time::Duration;

use serde_json::Value;
use testbed::{host, wait_until};

use crate::scenario::{Consul, NODES, Shipped, redis_set, wait_master_in_dns};

#[test]
fn in_the_seed_layout_the_master_passes_and_the_replica_stays_critical() {
    let set = redis_set(3, Duration::from_secs(2));
    let consul = Consul::start(&set, Some(Shipped::Master));
    let context = || format!("a:\n{}\nb:\n{}", consul.history(0, Shipped::Master), consul.history(1, Shipped::Master));
    wait_master_in_dns(&consul, host(11), Duration::from_secs(10), context);
    let a = set.server(0).addr();
    // Three runs in a row: same state, same line 1, so Consul has nothing new to store.
    let runs = wait_until(
        Duration::from_secs(10),
        "three runs of the master's check",
        || Some(consul.standin.check_history(NODES[0], "redis-master").ok()?).filter(|r| r.len() >= 3),
        context,
    );
    for run in &runs {
        assert_eq!(run.exit_code, Some(0), "{}", run.output);
        assert_eq!(run.output.lines().next(), Some(format!("PASSING: redis 127.0.0.11:{} is the master of redis", a.port()).as_str()));
    }
    let b = consul.standin.agent_check(NODES[1], "redis-master").unwrap();
    assert_eq!(b.status, "critical");
    assert!(b.output.starts_with(&format!("CRITICAL: redis 127.0.0.12:{} is a replica of {a}", set.server(1).port())), "{}", b.output);
    assert_eq!(consul.masters(), [host(11)]);
}

fn load(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn seconds(v: &Value) -> f64 {
    let text = v.as_str().unwrap();
    text.strip_suffix("ms").map(|ms| ms.parse::<f64>().unwrap() / 1000.0).unwrap_or_else(|| text.strip_suffix('s').unwrap().parse().unwrap())
}

#[test]
fn the_shipped_definitions_are_usable_as_they_are() {
    for shipped in [Shipped::Master, Shipped::Role] {
        let def = load(&shipped.path());
        let service = &def["service"];
        let check = &service["checks"][0];
        let args: Vec<&str> = check["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(args[0], "/usr/bin/redis-master-check", "an absolute path: Consul runs argv directly, without a shell");
        assert!(check.get("script").is_none(), "script was removed from config files in Consul 1.1");
        let budget = args.iter().position(|a| *a == "--timeout").map(|i| seconds(&Value::from(args[i + 1]))).unwrap();
        assert!(budget < seconds(&check["timeout"]), "--timeout must stay below the check's timeout");
        assert!(seconds(&check["interval"]) <= 3.0, "DNS must follow a failover within one interval");
        assert_eq!(check["success_before_passing"], 1, "a new master enters DNS at its first good run");
        assert_eq!(check["failures_before_critical"], 2, "one bad run does not empty DNS");
        // Below failures_before_critical, Consul reports *warning* for the first failures, even
        // of a check that was critical, and DNS lists warning instances: at every agent start a
        // replica of the seed layout would enter the master's name for an interval.
        assert!(check.get("failures_before_warning").is_none_or(|w| *w == check["failures_before_critical"]));
        assert!(!args.iter().any(|a| a.contains("pass") || a.contains("token")), "no secrets in argv");
        if shipped == Shipped::Role {
            assert_eq!(service["enable_tag_override"], true, "tags written to the catalog must survive anti-entropy");
            for flag in ["--role", "--publish-tags", "--fence-stale-master"] {
                assert!(args.contains(&flag), "{flag}");
            }
        }
    }
    // The wired example is the role definition plus the floating sentinel's second place.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/redis-sentinel/consul.d/redis.json");
    let (mut example, mut shipped) = (load(&example), load(&Shipped::Role.path()));
    let floating = ["--sentinel", "10.0.0.11:26380", "--sentinel-count", "3"];
    let args = example["service"]["checks"][0]["args"].as_array_mut().unwrap();
    let at = args.iter().position(|a| a == "10.0.0.11:26380").expect("the floating sentinel's second place") - 1;
    let removed: Vec<Value> = args.drain(at..at + 4).collect();
    assert_eq!(removed, floating.map(Value::from));
    for def in [&mut example, &mut shipped] {
        def["service"]["checks"][0]["notes"] = Value::Null;
    }
    assert_eq!(example, shipped, "examples/redis-sentinel/consul.d/redis.json drifted from consul.d/redis-role.json");
}
