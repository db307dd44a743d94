//! The whole cycle with real Redis and Sentinel processes and the binary installed as every
//! sentinel's `client-reconfig-script`: the master's host dies, the replica side fails over,
//! Consul and DNS follow within a second, the old host returns as a replica and pulls the
//! floating sentinel, the sentinels count exactly 3 — and then the same in the other direction.

use std::time::{Duration, Instant};

use crate::pair::{self, Pair, H};

/// How long the sentinels get to fail over (down-after 2 s, election, promotion).
const FAILOVER: Duration = Duration::from_secs(30);
/// From a host's restart to the floating sentinel running there: Sentinel demotes the returning
/// old master after about 10 s, then it syncs, then the script moves the sentinel.
const RETURN: Duration = Duration::from_secs(45);

/// Kills host `dead`, waits for the failover to `survivor`, and checks that Consul's tags and
/// DNS name the new master within 1 s of the sentinels switching, and that the floating
/// sentinel stays on the survivor (the other host is down: nothing to move to).
fn fail_over(p: &mut Pair, dead: H, survivor: H) {
    let old = p.redis(dead);
    let new = p.redis(survivor);
    let quiet_before = p.count(survivor, "no-change");
    let starts_before = p.count(survivor, "start-floating");
    p.kill_host(dead);
    p.wait("the sentinels to fail over", FAILOVER, || p.set.current_master() == Some(new));
    let switched = Instant::now();
    let ip = survivor.ip();
    p.wait("consul to tag the new master", Duration::from_secs(5), || p.tagged("master") == vec![ip] && p.tagged("replica") == vec![dead.ip()]);
    p.wait("DNS to name the new master", Duration::from_secs(5), || p.dns_master() == vec![ip]);
    let took = switched.elapsed();
    assert!(took <= Duration::from_secs(1), "consul and DNS followed {took:?} after the switch from {old} to {new}\n{}", p.report());
    // The survivor's runs (leader and observer) leave the floating sentinel where it is.
    p.wait("the survivor's script runs to finish", Duration::from_secs(15), || p.count(survivor, "no-change") > quiet_before);
    assert!(p.floating_on(survivor), "the floating sentinel must stay on {survivor:?}\n{}", p.report());
    assert_eq!(p.count(survivor, "start-floating"), starts_before, "{}", p.report());
}

/// Restarts host `back` and waits for it to become a replica and pull the floating sentinel.
fn come_back(p: &mut Pair, back: H) {
    let starts_before = p.count(back, "floating-started");
    let shutdowns_before = p.count(back, "shutdown-peer-floating");
    p.restart_host(back);
    p.wait("the returning host to pull the floating sentinel", RETURN, || {
        p.floating_on(back) && p.count(back, "floating-started") > starts_before
    });
    assert!(p.floating_port_closed(back.other()), "the old copy must be gone before the new one runs\n{}", p.report());
    assert_eq!(p.count(back, "floating-started"), starts_before + 1, "{}", p.report());
    assert_eq!(p.count(back, "shutdown-peer-floating"), shutdowns_before + 1, "{}", p.report());
    let replica = p.set.server_at(p.redis(back)).unwrap();
    assert!(replica.role().unwrap().is_connected_replica_of(p.redis(back.other())), "{}", p.report());
    p.wait_quorum_clean(back, Duration::from_secs(15));
    assert!(p.log(back).contains(" action=quorum clean=true "), "{}", p.log(back));
}

#[test]
fn the_floating_sentinel_follows_two_failovers_and_the_sentinels_stay_three() {
    let mut p = Pair::start(pair::Options::default());

    // Boot: the replica's host B starts the floating sentinel (nothing runs anywhere yet).
    p.run(H::B, &["reconcile"]).exits(0).stdout_starts_with("sentinel-rebalance: started the floating sentinel");
    assert!(p.floating_on(H::B));
    p.wait_quorum_clean(H::B, Duration::from_secs(15));
    // The master's host A has nothing to do.
    p.run(H::A, &["reconcile"]).exits(0);
    assert!(!p.floating_on(H::A));

    fail_over(&mut p, H::A, H::B);
    come_back(&mut p, H::A);
    p.run(H::A, &["status"]).exits(0).stdout_starts_with("PASSING: ");

    fail_over(&mut p, H::B, H::A);
    come_back(&mut p, H::B);

    // A late retry of the first failover's call (A -> B) arrives now that A is the master:
    // it acts on the present and changes nothing.
    let stale = [
        "mymaster", "observer", "start",
        &p.redis(H::A).ip().to_string(), &p.redis(H::A).port().to_string(),
        &p.redis(H::B).ip().to_string(), &p.redis(H::B).port().to_string(),
    ].map(str::to_string);
    let args: Vec<&str> = stale.iter().map(String::as_str).collect();
    let shutdowns = p.count(H::B, "shutdown-peer-floating") + p.count(H::A, "shutdown-peer-floating");
    p.run(H::A, &args).exits(0);
    p.run(H::B, &args).exits(0);
    assert!(p.floating_on(H::B) && p.floating_port_closed(H::A), "{}", p.report());
    assert_eq!(p.count(H::B, "shutdown-peer-floating") + p.count(H::A, "shutdown-peer-floating"), shutdowns);
    assert_eq!(p.tagged("master"), vec![H::A.ip()]);
    p.wait_quorum_clean(H::B, Duration::from_secs(5));
}
