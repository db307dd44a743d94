//! Sentinel failover after `kill -9` of the master, with consul-standin running the check from
//! the shipped `consul.d/` files: DNS names the new master within one check interval of the
//! switch, and never two masters at once (sampled every 50 ms from before the kill until after
//! DNS follows).

use std::time::{Duration, Instant};

use testbed::host;

use crate::scenario::{Consul, Shipped, redis_set, sample_masters, wait_master_in_dns};

/// The shipped definitions' check interval.
const INTERVAL: Duration = Duration::from_secs(2);
/// Room for sampling (50 ms), the check's own run time and a busy two-core machine.
const SLACK: Duration = Duration::from_millis(600);

/// Kills the master, then returns (the moment a majority of sentinels named the new master,
/// the moment DNS first named it) while asserting DNS never lists two masters.
fn kill_master_and_follow(set: &mut testbed::redis::RedisSet, consul: &Consul, shipped: Shipped) -> (Instant, Instant) {
    let old = set.server(0).addr();
    let context = |set: &testbed::redis::RedisSet| {
        format!("{}\na:\n{}\nb:\n{}", set.sentinel_view(), consul.history(0, shipped), consul.history(1, shipped))
    };
    sample_masters(consul, Duration::from_millis(300), || context(set));
    set.server_mut(0).kill9();
    let killed = Instant::now();
    let mut switched = None;
    let mut named = None;
    while named.is_none() || switched.is_none() {
        assert!(killed.elapsed() < Duration::from_secs(30), "no failover within 30s\n{}", context(set));
        let masters = consul.masters();
        assert!(masters.len() <= 1, "DNS listed two masters: {masters:?}\n{}", context(set));
        if switched.is_none() {
            let votes = set.sentinels().iter().filter(|s| s.master_addr().ok().flatten().is_some_and(|m| m != old)).count();
            if votes >= 2 {
                switched = Some(Instant::now());
            }
        }
        if named.is_none() && masters == [host(12)] {
            named = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Keep watching a little after DNS followed: still one master, the new one.
    for (_, masters) in sample_masters(consul, Duration::from_millis(1500), || context(set)) {
        assert_eq!(masters, [host(12)], "{}", context(set));
    }
    (switched.unwrap(), named.unwrap())
}

#[test]
fn in_role_mode_dns_follows_a_failover_within_one_interval_and_never_lists_two_masters() {
    let mut set = redis_set(3, Duration::from_secs(2));
    let consul = Consul::start(&set, Some(Shipped::Role));
    wait_master_in_dns(&consul, host(11), Duration::from_secs(10), || consul.history(0, Shipped::Role));
    let (switched, named) = kill_master_and_follow(&mut set, &consul, Shipped::Role);
    let delay = named.saturating_duration_since(switched);
    eprintln!("role mode: DNS named the new master {delay:?} after the switch");
    assert!(delay <= INTERVAL + SLACK, "DNS named the new master {delay:?} after the switch\n{}", consul.history(1, Shipped::Role));
    // The dead master lost its tag in the same transaction that promoted the new one.
    assert_eq!(consul.resolve("replica").unwrap(), Vec::<std::net::IpAddr>::new(), "the dead one is critical, the live one is master");
}

#[test]
fn in_the_seed_layout_dns_follows_a_failover_within_one_interval_and_never_lists_two_masters() {
    // The seed layout has no tags to move: the dead master must leave DNS by failing its check
    // (failures_before_critical 2 at a 2 s interval) before Sentinel promotes, so
    // down-after-milliseconds must exceed 2 intervals plus --timeout (docs/redis-master-check.md).
    let mut set = redis_set(3, Duration::from_secs(6));
    let consul = Consul::start(&set, Some(Shipped::Master));
    wait_master_in_dns(&consul, host(11), Duration::from_secs(10), || consul.history(0, Shipped::Master));
    let (switched, named) = kill_master_and_follow(&mut set, &consul, Shipped::Master);
    let delay = named.saturating_duration_since(switched);
    eprintln!("seed layout: DNS named the new master {delay:?} after the switch");
    assert!(delay <= INTERVAL + SLACK, "DNS named the new master {delay:?} after the switch\n{}", consul.history(1, Shipped::Master));
}
