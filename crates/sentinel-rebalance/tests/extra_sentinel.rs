//! A sentinel started by hand (a fourth identity) is remembered by the others for good and
//! raises the majority to 3. `status` says so; `reconcile --reset` refuses while it still runs,
//! and once it is stopped resets the sentinels one at a time until each knows exactly the
//! other two again.

use std::time::Duration;

use crate::pair::{self, Pair, H};

#[test]
fn a_hand_started_extra_sentinel_is_reported_and_reset_away_once_stopped() {
    let mut p = Pair::start(pair::Options { script: false, ..Default::default() });
    p.run(H::B, &["reconcile"]).exits(0);
    p.wait_quorum_clean(H::B, Duration::from_secs(15));

    // Someone starts a fourth sentinel on A by hand.
    let extra = p.set.sentinel_builder(H::A.ip()).start();
    let extra_addr = extra.addr().to_string();
    let extra_index = p.set.add_sentinel(extra);
    p.wait("the others to learn the extra sentinel", Duration::from_secs(20), || {
        p.set.sentinels()[..2].iter().all(|s| s.master_info().is_ok_and(|m| m["num-other-sentinels"] == "3"))
    });
    p.run(H::A, &["status"])
        .exits(1)
        .stdout_starts_with("WARNING: ")
        .stdout_contains(&format!("unexpected sentinel {extra_addr}"));
    p.run(H::A, &["status", "--format", "json"]).exits(1).stdout_contains("\"status\":\"warning\"");

    // While it runs, a reset would only forget it for two seconds: refused.
    p.run(H::A, &["reconcile", "--reset"]).exits(1).stdout_contains(&format!("knows {extra_addr} and sees it running: stop that sentinel first"));
    assert_eq!(p.count(H::A, "sentinel-reset"), 0);

    // Stopped, it stays known (Sentinel never forgets) until the reset.
    drop(p.set.remove_sentinel(extra_index));
    let three = [p.fixed(H::A), p.fixed(H::B), p.floating_addr(H::B)];
    p.wait("all three to see the extra sentinel down", Duration::from_secs(20), || {
        three.iter().all(|s| {
            pair::sentinel_peers(*s).is_some_and(|peers| {
                peers.iter().any(|x| format!("{}:{}", x["ip"], x["port"]) == extra_addr && x["flags"].contains("s_down"))
            })
        })
    });
    p.run(H::A, &["reconcile", "--reset"]).exits(0).stdout_contains("reset ");
    // The extra was known to all three, so all three were reset, one at a time with the
    // configured pause between them.
    assert_eq!(p.count(H::A, "sentinel-reset"), 3, "{}", p.log(H::A));
    assert_eq!(p.count(H::A, "reset-pause"), 2, "{}", p.log(H::A));
    let log = p.log(H::A);
    let order: Vec<&str> = log.lines().filter(|l| l.contains("action=sentinel-reset") || l.contains("action=sentinel-relearned")).collect();
    assert!(order.chunks(2).all(|c| c.len() == 2 && c[0].contains("sentinel-reset") && c[1].contains("sentinel-relearned")), "each reset is followed by its re-learning before the next: {order:#?}");
    p.wait_quorum_clean(H::B, Duration::from_secs(10));
    p.run(H::A, &["status"]).exits(0).stdout_starts_with("PASSING: ");
}
