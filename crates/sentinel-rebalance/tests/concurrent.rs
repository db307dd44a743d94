//! Several runs at once, as Sentinel makes them (once per sentinel process, so twice on a host
//! with two) and as a timer adds: they serialise on the host lock, exactly one of them moves
//! the floating sentinel, the rest find the work done. And the handover's safety rule: a copy
//! that cannot be proven stopped (a frozen peer) is never joined by a second one.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::pair::{self, Pair, H};

/// A pair whose floating sentinel runs on the master's host A: the state after a failover,
/// before the returning host took it over. No scripts, so only the test's runs act.
fn misplaced() -> Pair {
    let p = Pair::start(pair::Options { script: false, ..Default::default() });
    p.start_floating_by_hand(H::A);
    p.wait_quorum_clean(H::A, Duration::from_secs(15));
    p
}

#[test]
fn concurrent_runs_on_both_hosts_move_the_floating_sentinel_exactly_once() {
    let p = misplaced();
    let runs: Vec<(H, sengu_testsupport::Run)> = std::thread::scope(|scope| {
        let handles: Vec<_> = [H::B, H::B, H::B, H::A, H::B, H::A]
            .into_iter()
            .map(|h| {
                let p = &p;
                scope.spawn(move || (h, p.run(h, &["reconcile"])))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (_, run) in &runs {
        run.exits(0);
    }
    assert_eq!(p.count(H::B, "shutdown-peer-floating"), 1, "{}", p.report());
    assert_eq!(p.count(H::B, "start-floating"), 1, "{}", p.report());
    assert_eq!(p.count(H::A, "start-floating") + p.count(H::A, "stop-floating"), 0, "the master's host never acts\n{}", p.report());
    assert!(p.floating_on(H::B) && p.floating_port_closed(H::A), "{}", p.report());
    let moved = runs.iter().filter(|(_, r)| r.stdout().starts_with("sentinel-rebalance: moved the floating sentinel")).count();
    assert_eq!(moved, 1, "exactly one run reports the move");
    p.wait_quorum_clean(H::B, Duration::from_secs(15));
    // Another run afterwards is a no-op.
    p.run(H::B, &["reconcile"]).exits(0).stdout_contains("on the replica's host");
    assert_eq!(p.count(H::B, "start-floating"), 1);
}

#[test]
fn a_frozen_peer_copy_cannot_be_proven_stopped_so_nothing_starts() {
    let p = misplaced();
    // Past every other gate, so the run stops at the one under test.
    p.wait_settled();
    p.signal_floating(H::A, Signal::SIGSTOP);
    // A short budget: the run keeps looking, then asks for a retry.
    let run = p.run_env(H::B, &["reconcile"], &[("SENGU_TIMEOUT", "6s")]);
    run.exits(1).stdout_contains("cannot prove the floating sentinel is stopped on the peer");
    assert!(p.floating_port_closed(H::B), "nothing may start while the peer copy may live\n{}", p.report());
    assert_eq!(p.count(H::B, "start-floating"), 0);

    // Once the peer answers again, the same run moves it.
    p.signal_floating(H::A, Signal::SIGCONT);
    p.run(H::B, &["reconcile"]).exits(0).stdout_starts_with("sentinel-rebalance: moved the floating sentinel");
    assert!(p.floating_on(H::B) && p.floating_port_closed(H::A), "{}", p.report());
    p.wait_quorum_clean(H::B, Duration::from_secs(15));
}

#[test]
fn a_second_copy_is_stopped_on_the_host_it_does_not_belong_on() {
    let p = misplaced();
    // Someone starts the floating sentinel on B too: two live processes with one myid.
    p.start_floating_by_hand(H::B);
    p.run(H::A, &["status"]).exits(2).stdout_contains("the floating sentinel runs twice");
    // The master's host stops its own copy with the configured stop command.
    p.run(H::A, &["reconcile"]).exits(0).stdout_starts_with("sentinel-rebalance: stopped the second floating sentinel");
    assert_eq!(p.count(H::A, "stop-floating"), 1);
    assert!(p.floating_port_closed(H::A) && p.floating_on(H::B), "{}", p.report());
    p.wait_quorum_clean(H::B, Duration::from_secs(15));
}
