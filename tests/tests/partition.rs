//! The short version of partition scenarios (1) and (4), once per strategy: the master's host
//! is cut from the other host (its sentinels) and from the Consul servers until DNS names the
//! new master, then comes back. Each test runs in private namespaces of its own
//! (`testbed::netlab::in_private_net`), so the three run side by side without meeting.
//!
//! Only what must always hold is asserted, never a speed: DNS never names two masters; with
//! the fence, the stale master stops acknowledging writes within `FENCE_BOUND` of its host's
//! return; with `min-replicas-to-write`, it stops within `min_replicas_bound()` of the cut, so
//! every write it acknowledged later is kept (the ones before are the loss Redis documents for
//! that setting, bounded by `min-replicas-max-lag`); and with clients that also wait for a
//! replica (`WAIT 1`) before counting a write as done, no acknowledged write is lost at all.
//! `cargo xtask partitions` gives the figures.

use std::time::Duration;

use sengu_e2e::partition::scenario::{self, Fault, RunData, FENCE_BOUND};
use sengu_e2e::partition::{PartitionLab, Strategy};
use testbed::netlab::in_private_net;

/// Lab start, a failover, the return and convergence; generous for a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(300);

fn cut_and_return(strategy: Strategy) -> (PartitionLab, RunData) {
    let lab = PartitionLab::start(strategy, &mut |s| eprintln!("{s}"));
    let data = scenario::run(&lab, &Fault::Isolate(None), "short");
    (lab, data)
}

/// DNS never named two masters, and the sentinels moved the master.
fn common(lab: &PartitionLab, d: &RunData) {
    let two: Vec<_> = d.samples.dns.iter().filter(|(_, a)| a.as_ref().is_ok_and(|ips| ips.len() > 1)).collect();
    assert!(two.is_empty(), "DNS named two masters: {two:?}\n{}", lab.report());
    assert_ne!(d.new, d.old, "the sentinels did not fail over\n{}", lab.report());
}

/// The last write the old master acknowledged at or after `from` (µs), if any.
fn old_master_last_ack(lab: &PartitionLab, d: &RunData, from: i64) -> Option<i64> {
    let old = lab.redis_addr(d.old);
    d.writers.iter().flat_map(|(_, a, _)| a.iter()).filter(|a| a.acked_by == Some(old) && a.at_us >= from).map(|a| a.at_us).max()
}

#[test]
fn master_cut_and_return_without_fencing() {
    in_private_net("partition::master_cut_and_return_without_fencing", DEADLINE, || {
        let (lab, d) = cut_and_return(Strategy::NoFencing);
        common(&lab, &d);
    });
}

#[test]
fn master_cut_and_return_with_the_fence() {
    in_private_net("partition::master_cut_and_return_with_the_fence", DEADLINE, || {
        let (lab, d) = cut_and_return(Strategy::Fence);
        common(&lab, &d);
        if let Some(last) = old_master_last_ack(&lab, &d, d.heal_at) {
            let after = Duration::from_micros((last - d.heal_at).max(0) as u64);
            assert!(after <= FENCE_BOUND, "the stale master acknowledged writes {after:?} after its host returned (bound {FENCE_BOUND:?})\n{}", lab.report());
        }
    });
}

#[test]
fn master_cut_and_return_with_min_replicas() {
    in_private_net("partition::master_cut_and_return_with_min_replicas", DEADLINE, || {
        let (lab, d) = cut_and_return(Strategy::MinReplicas);
        common(&lab, &d);
        let bound = scenario::min_replicas_bound();
        if let Some(last) = old_master_last_ack(&lab, &d, d.fault_at) {
            let after = Duration::from_micros((last - d.fault_at).max(0) as u64);
            assert!(after <= bound, "the old master acknowledged writes {after:?} after it lost its replica (bound {bound:?})\n{}", lab.report());
        }
        // Every acknowledged write that was lost was acknowledged by the old master in that window.
        let old = lab.redis_addr(d.old);
        for (writer, attempts, present) in &d.writers {
            for a in attempts.iter().filter(|a| a.acked_by.is_some() && !present.contains(&a.seq)) {
                assert!(
                    a.acked_by == Some(old) && a.at_us >= d.fault_at - 1_000_000 && a.at_us <= d.fault_at + bound.as_micros() as i64,
                    "{writer} write {} acknowledged by {:?} at {} was lost outside the min-replicas window\n{}",
                    a.seq,
                    a.acked_by,
                    a.at_us - d.fault_at,
                    lab.report()
                );
            }
        }
    });
}

#[test]
fn master_cut_and_return_with_min_replicas_and_clients_that_wait() {
    in_private_net("partition::master_cut_and_return_with_min_replicas_and_clients_that_wait", DEADLINE, || {
        let (lab, d) = cut_and_return(Strategy::MinReplicasWait);
        common(&lab, &d);
        let acked: usize = d.writers.iter().map(|(_, a, _)| a.iter().filter(|a| a.acked_by.is_some()).count()).sum();
        assert!(acked > 0, "no write was acknowledged\n{}", lab.report());
        for (writer, attempts, present) in &d.writers {
            let lost: Vec<u64> = attempts.iter().filter(|a| a.acked_by.is_some() && !present.contains(&a.seq)).map(|a| a.seq).collect();
            assert!(lost.is_empty(), "{writer} lost acknowledged writes {lost:?}\n{}", lab.report());
        }
    });
}
