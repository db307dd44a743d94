//! Replicas: the role layout passes a healthy replica and tags it; syncing and lagging replicas
//! are warnings; a replica whose link is down, or that follows another master than the
//! sentinels', is critical.

use std::time::Duration;

use testbed::{host, wait_until};

use crate::scenario::{self, Consul, NODES, Shipped, redis_set};

#[test]
fn the_role_layout_passes_master_and_replica_and_tags_them() {
    let set = redis_set(3, Duration::from_secs(2));
    let consul = Consul::start(&set, Some(Shipped::Role));
    let context = || format!("a:\n{}\nb:\n{}", consul.history(0, Shipped::Role), consul.history(1, Shipped::Role));
    wait_until(
        Duration::from_secs(10),
        "master.redis and replica.redis to resolve",
        || (consul.resolve("master").ok()? == vec![host(11)] && consul.resolve("replica").ok()? == vec![host(12)]).then_some(()),
        context,
    );
    for (i, want) in [(0, "PASSING: redis 127.0.0.11:"), (1, "PASSING: redis 127.0.0.12:")] {
        let check = consul.standin.agent_check(NODES[i], "redis-role").unwrap();
        assert_eq!(check.status, "passing", "{}", check.output);
        assert!(check.output.starts_with(want), "{}", check.output);
    }
}

use crate::scenario::{BIN, SERVICE, argv};
use testbed::redis::{RedisServer, RedisSet};

/// Runs the check in replica mode on the set's replica.
fn check_replica(set: &RedisSet, extra: &[String]) -> sengu_testsupport::Run {
    let mut args = argv(&[&"--redis", &set.server(1).addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.12", &"--role", &"replica"]);
    args.extend_from_slice(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sengu_testsupport::run(BIN, &args)
}

/// A field of the replica's `INFO replication`.
fn info_field(server: &RedisServer, key: &str) -> Option<String> {
    let info = server.info("replication");
    info.lines().find_map(|l| l.trim_end().strip_prefix(&format!("{key}:")).map(str::to_string))
}

#[test]
fn a_replica_without_data_from_its_master_for_longer_than_max_lag_is_a_warning() {
    let set = RedisSet::builder().replicas(1).sentinels(0).start();
    check_replica(&set, &argv(&[&"--max-lag", &1])).exits(0);
    // A hung master keeps the TCP link up but sends nothing, not even its pings.
    set.server(0).freeze();
    wait_until(
        Duration::from_secs(6),
        "the replica's last I/O to age past 1s",
        || info_field(set.server(1), "master_last_io_seconds_ago")?.parse::<i64>().ok().filter(|&s| s >= 2),
        || set.report(),
    );
    let run = check_replica(&set, &argv(&[&"--max-lag", &1]));
    set.server(0).thaw();
    run.exits(1).stdout_starts_with(&format!(
        "WARNING: replica 127.0.0.12:{} lags behind {}: no data for more than 1s\n",
        set.server(1).port(),
        set.server(0).addr()
    ));
}

#[test]
fn a_syncing_replica_is_a_warning() {
    let set = RedisSet::builder().replicas(1).sentinels(0).start();
    // Make the next full sync wait 5 s on the master's side, then force one.
    redis::cmd("CONFIG").arg("SET").arg("repl-diskless-sync").arg("yes").arg("repl-diskless-sync-delay").arg("5").exec(&mut set.server(0).conn()).unwrap();
    set.server(1).replicaof_no_one();
    set.server(1).replicaof(set.server(0).addr());
    // INFO shows the link down and no sync while the master delays; ROLE says handshake.
    wait_until(
        Duration::from_secs(5),
        "the replica to wait for its full sync",
        || matches!(set.server(1).role(), Ok(testbed::redis::Role::Replica { ref state, .. }) if state == "handshake").then_some(()),
        || set.report(),
    );
    check_replica(&set, &[])
        .exits(1)
        .stdout_starts_with(&format!("WARNING: replica 127.0.0.12:{} is syncing from {}\n", set.server(1).port(), set.server(0).addr()));
}

#[test]
fn a_replica_whose_master_is_gone_is_critical() {
    let mut set = RedisSet::builder().replicas(1).sentinels(0).start();
    set.server_mut(0).kill9();
    wait_until(
        Duration::from_secs(5),
        "the replica's link to go down",
        || (info_field(set.server(1), "master_link_status")? == "down").then_some(()),
        || set.report(),
    );
    check_replica(&set, &[]).exits(2).stdout_starts_with(&format!(
        "CRITICAL: replica 127.0.0.12:{} has lost its master {}\n",
        set.server(1).port(),
        set.server(0).addr()
    ));
}

#[test]
fn a_replica_of_another_master_than_the_sentinels_is_critical() {
    let set = scenario::redis_set(3, Duration::from_secs(2));
    let stray = RedisServer::start(host(13));
    let mut sentinels: Vec<String> = set.sentinels().iter().flat_map(|s| ["--sentinel".to_string(), s.addr().to_string()]).collect();
    sentinels.extend(argv(&[&"--sentinel-master", &scenario::MASTER_NAME]));
    check_replica(&set, &sentinels).exits(0);
    set.server(1).replicaof(stray.addr());
    set.server(1).wait_replica_connected(stray.addr(), Duration::from_secs(5));
    // Sentinel repoints such a replica after a while; the check fails it at once.
    check_replica(&set, &sentinels).exits(2).stdout_starts_with(&format!(
        "CRITICAL: replica 127.0.0.12:{} follows {}, but 3 of 3 sentinels name {} master\n",
        set.server(1).port(),
        stray.addr(),
        set.server(0).addr()
    ));
}
