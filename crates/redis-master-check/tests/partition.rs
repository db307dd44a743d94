//! The old master back after a partition: the master's host hangs (SIGSTOP of its Redis and its
//! sentinel) long enough for the other host's sentinels to fail over, then comes back as a
//! writable `role:master`. The sentinels' master stays in DNS, the stale one never passes, and
//! with `--fence-stale-master` (on in the shipped role definition) it stops taking writes.

use std::time::{Duration, Instant};

use testbed::redis::{RedisServer, Role};
use testbed::{host, wait_until};

use crate::scenario::{BIN, Consul, MASTER_NAME, NODES, SERVICE, Shipped, redis_set, sample_masters, wait_master_in_dns};

#[test]
fn a_stale_master_back_after_a_partition_never_passes_and_is_fenced() {
    let set = redis_set(3, Duration::from_secs(2));
    let consul = Consul::start(&set, Some(Shipped::Role));
    let old = set.server(0).addr();
    let new = set.server(1).addr();
    wait_master_in_dns(&consul, host(11), Duration::from_secs(10), || consul.history(0, Shipped::Role));

    set.freeze_host(host(11));
    assert_eq!(set.wait_new_master(old, Duration::from_secs(30)), new);
    wait_master_in_dns(&consul, host(12), Duration::from_secs(5), || consul.history(1, Shipped::Role));
    let thawed_ms = unix_ms();
    set.thaw_host(host(11));
    let thawed = Instant::now();
    assert!(matches!(set.server(0).role(), Ok(Role::Master { .. })), "the old master is back as a writable master");

    // The sentinels' master stays the only one in DNS while the stale one is around.
    let context = || format!("{}\na:\n{}\nb:\n{}", set.report(), consul.history(0, Shipped::Role), consul.history(1, Shipped::Role));
    for (_, masters) in sample_masters(&consul, Duration::from_secs(3), context) {
        assert_eq!(masters, [host(12)], "{}", context());
    }
    wait_until(
        Duration::from_secs(10),
        "the stale master to be demoted",
        || set.server(0).role().ok().filter(|r| r.is_connected_replica_of(new)).map(|_| ()),
        context,
    );
    // The check demoted it (Sentinel would have needed ~10 s), and no run that ended after the
    // thaw (one may have started while the host hung) passed it while it was still a master.
    let runs = consul.standin.check_history(NODES[0], Shipped::Role.check_id()).unwrap();
    let after: Vec<_> = runs.iter().filter(|r| r.finished_ms >= thawed_ms).collect();
    let fenced = after.iter().position(|r| r.output.contains("[CRITICAL] fence: demoted stale master 127.0.0.11:"));
    let fenced = fenced.unwrap_or_else(|| panic!("no run fenced the stale master\n{}", consul.history(0, Shipped::Role)));
    assert!(thawed.elapsed() < Duration::from_secs(8), "demoted by the check, not by Sentinel's ~10 s timer");
    for run in &after[..=fenced] {
        assert_ne!(run.status, "passing", "a run passed the stale master: {}", run.output);
    }
    assert!(after[fenced].output.starts_with("CRITICAL: redis 127.0.0.11:"), "{}", after[fenced].output);
    // The new master was never fenced. For about a second after its promotion the sentinel
    // majority still names the hung old master, which cannot deny it; a pause then would have
    // held the sentinels' hellos and pings, and they would have failed over back to the old one.
    for run in consul.standin.check_history(NODES[1], Shipped::Role.check_id()).unwrap() {
        assert!(!run.output.contains("paused") && !run.output.contains("demoted"), "the check fenced the new master: {}\n{}", run.output, context());
    }

    // Writes are refused from then on.
    let err = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut set.server(0).conn()).unwrap_err();
    assert_eq!(err.code(), Some("READONLY"), "{err}");
    // And once it has synced, it is a healthy replica again, published as such.
    wait_until(
        Duration::from_secs(10),
        "the old master to be a healthy, tagged replica",
        || (consul.resolve("replica").ok()? == vec![host(11)]).then_some(()),
        || consul.history(0, Shipped::Role),
    );
    assert_eq!(consul.masters(), [host(12)]);
}

#[test]
fn a_stale_master_that_cannot_be_demoted_safely_stays_paused() {
    // A master the sentinels do not know at all (a wrong --sentinel-master, or a stray server):
    // demoting it to the sentinels' master could wipe an unrelated dataset, so the fence only
    // pauses its writes, for --fence-duration, renewed by every run.
    let set = redis_set(3, Duration::from_secs(2));
    let stray = RedisServer::start(host(13));
    let mut args = vec![
        "--redis".to_string(),
        stray.addr().to_string(),
        "--service".into(),
        SERVICE.into(),
        "--advertise-ip".into(),
        "127.0.0.13".into(),
        "--sentinel-master".into(),
        MASTER_NAME.into(),
        "--fence-stale-master".into(),
        "--fence-duration".into(),
        "1500ms".into(),
    ];
    for s in set.sentinels() {
        args.extend(["--sentinel".to_string(), s.addr().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = sengu_testsupport::run(BIN, &args);
    run.exits(2)
        .stdout_starts_with(&format!("CRITICAL: redis {} is a stale master: 3 of 3 sentinels name {} master", stray.addr(), set.server(0).addr()))
        .stdout_contains(&format!(
            "[CRITICAL] fence: writes to stale master {} are paused for 1s 500ms; not demoted: only 0 of 3 sentinels list",
            stray.addr()
        ));
    let started = Instant::now();
    let mut con = stray.conn();
    con.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let blocked = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut con);
    assert!(blocked.is_err_and(|e| e.is_timeout()), "a write during the pause must not be accepted");
    assert!(matches!(stray.role(), Ok(Role::Master { .. })), "not demoted");
    // Not renewed (no further run): the pause lapses by itself.
    wait_until(
        Duration::from_secs(3),
        "the pause to lapse",
        || redis::cmd("SET").arg("k2").arg("v").query::<()>(&mut stray.conn()).ok(),
        || stray.log_tail(),
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}
