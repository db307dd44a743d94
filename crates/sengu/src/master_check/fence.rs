//! Fencing a stale master (`--fence-stale-master`): pause its writes at once, then, when that is
//! provably safe, demote it exactly as Sentinel does and lift the pause.
//!
//! The pause alone cannot be the whole fence: `CLIENT PAUSE … WRITE` blocks `PUBLISH` too, and
//! Sentinel sends its hello `PUBLISH` on the same connection as the later `SLAVEOF`, so a pause
//! renewed every run keeps Sentinel from ever demoting the node (measured on Redis 7.0.15; see
//! the parent module doc). "Safe" means what Sentinel itself relies on, plus one guard against
//! a misconfigured master name: a strict majority of the configured sentinels lists this node
//! among the replicas of the master they name, and that master answers `role:master`. Without
//! both, the pause stays (renewed by the next run) and nothing else changes.
//!
//! Before even the pause, [`switch_under_way`] asks every sentinel for its view of the master:
//! while one of them runs a failover, or names this node master at a newer config epoch than
//! the majority's, a switch *to* this node is spreading (a planned `SENTINEL FAILOVER` whose
//! leader is ahead of the others' hellos, with the old master still answering `role:master`).
//! Fencing then would pause, even demote, the master all of them are about to name, so nothing
//! is done. A stale master's own lagging sentinel after a partition also names it, but at an
//! older epoch than the majority, so it does not hold the fence back.

use std::time::Duration;

use ::redis::Value;

use super::{FencePlan, FenceResult, Settings, same_endpoint};
use crate::addr::HostPort;
use crate::redis::{ConnectOptions, InfoRole, RedisConn, SentinelConn, SentinelMaster, distinct};

/// Fences `plan.me` within about `window`: each step (the local commands, then the guard's
/// parallel questions) gets a third of it.
pub(crate) fn fence(settings: &Settings, plan: &FencePlan, window: Duration) -> FenceResult {
    let me = plan.me.clone();
    let step = super::observe::whole_ms(window / 6);
    let opts = ConnectOptions { connect_timeout: step, io_timeout: step, auth: settings.auth.clone(), ..Default::default() };
    let failed = |e: crate::redis::Error| FenceResult::Failed { me: me.clone(), error: e.to_string() };
    if let Some(reason) = switch_under_way(settings, plan, &opts) {
        return FenceResult::Held { me, reason };
    }
    let mut conn = match RedisConn::connect(&settings.redis, &opts) {
        Ok(conn) => conn,
        Err(e) => return failed(e),
    };
    if let Err(e) = conn.pause_writes(settings.fence_duration) {
        return failed(e);
    }
    let paused = |reason: String| FenceResult::Paused { me: me.clone(), duration: settings.fence_duration, reason };
    if let Err(reason) = safe_to_demote(settings, plan, &opts) {
        return paused(reason);
    }
    if let Err(e) = demote(&mut conn, &plan.master) {
        return paused(format!("the demotion failed: {e}"));
    }
    match conn.info_replication() {
        Ok(info) if info.role == InfoRole::Replica && info.master.as_ref().is_some_and(|m| same_endpoint(&m.addr(), &plan.master)) => {}
        Ok(_) => return paused(format!("redis {me} did not become a replica of {}", plan.master)),
        Err(e) => return paused(format!("cannot verify the demotion: {e}")),
    }
    // A replica refuses writes by itself; the writers the pause held were disconnected by the
    // demotion (CLIENT KILL TYPE normal), so nothing they sent runs.
    match conn.unpause() {
        Ok(()) => FenceResult::Demoted { me, to: plan.master.clone() },
        Err(e) => paused(format!("demoted to a replica of {}, but the pause could not be lifted: {e}", plan.master)),
    }
}

/// Why a switch to `plan.me` is under way, if a reachable sentinel shows one: it runs a failover
/// of the master, or it names `plan.me` master at a newer config epoch than any sentinel naming
/// `plan.master`. Sentinels that cannot be asked show nothing.
fn switch_under_way(settings: &Settings, plan: &FencePlan, opts: &ConnectOptions) -> Option<String> {
    let name = settings.sentinel_master.as_str();
    let views: Vec<(HostPort, SentinelMaster)> = std::thread::scope(|scope| {
        let asks: Vec<_> = distinct(&settings.sentinels)
            .into_iter()
            .map(|s| (s, scope.spawn(move || SentinelConn::connect(s, opts).and_then(|mut c| c.master(name)))))
            .collect();
        asks.into_iter().filter_map(|(s, h)| h.join().ok().and_then(Result::ok).map(|m| (s.clone(), m))).collect()
    });
    held_by(&views, plan, name)
}

/// The pure part of [`switch_under_way`]: what the sentinels' views of master `name` say.
fn held_by(views: &[(HostPort, SentinelMaster)], plan: &FencePlan, name: &str) -> Option<String> {
    let names = |m: &SentinelMaster, who: &HostPort| same_endpoint(&m.addr(), who);
    let majority_epoch = views.iter().filter(|(_, m)| names(m, &plan.master)).map(|(_, m)| m.config_epoch).max().unwrap_or(0);
    views.iter().find_map(|(s, m)| {
        if m.has_flag("failover_in_progress") {
            Some(format!("sentinel {s} is running a failover of {name:?}"))
        } else if names(m, &plan.me) && m.config_epoch > majority_epoch {
            Some(format!("sentinel {s} names it master at config epoch {}, newer than the others' {majority_epoch}", m.config_epoch))
        } else {
            None
        }
    })
}

/// Sentinel's own demotion (`sentinelSendSlaveOf`): one transaction that repoints the node,
/// persists that in its config file (which fails harmlessly without one) and disconnects normal
/// and pub/sub clients so they find the real master again. `CLIENT KILL` skips this connection.
fn demote(conn: &mut RedisConn, master: &HostPort) -> Result<(), crate::redis::Error> {
    let cmd = |args: &[&str]| {
        let mut c = ::redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        c
    };
    let port = master.port.to_string();
    conn.query::<Value>(&cmd(&["MULTI"]), "MULTI")?;
    conn.query::<Value>(&cmd(&["REPLICAOF", &master.host, &port]), "REPLICAOF")?;
    conn.query::<Value>(&cmd(&["CONFIG", "REWRITE"]), "CONFIG REWRITE")?;
    conn.query::<Value>(&cmd(&["CLIENT", "KILL", "TYPE", "normal"]), "CLIENT KILL")?;
    conn.query::<Value>(&cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), "CLIENT KILL")?;
    // EXEC's reply carries CONFIG REWRITE's error when the server has no config file; the
    // caller checks the role afterwards instead of trusting this reply.
    let _ = conn.query::<Value>(&cmd(&["EXEC"]), "EXEC");
    Ok(())
}

/// Checks that demoting is what Sentinel would do: the master answers `role:master`, and a
/// strict majority of the configured sentinels lists this node as one of its replicas.
fn safe_to_demote(settings: &Settings, plan: &FencePlan, opts: &ConnectOptions) -> Result<(), String> {
    let unique = distinct(&settings.sentinels);
    let name = settings.sentinel_master.as_str();
    let (master_role, listing) = std::thread::scope(|scope| {
        let master = scope.spawn(|| RedisConn::connect(&plan.master, opts).and_then(|mut c| c.info_replication()));
        let asks: Vec<_> = unique
            .iter()
            .map(|&s| {
                scope.spawn(move || {
                    SentinelConn::connect(s, opts)
                        .and_then(|mut c| c.replicas(name))
                        .map(|replicas| replicas.iter().any(|r| same_endpoint(&r.addr(), &plan.me)))
                })
            })
            .collect();
        let listing: Vec<bool> = asks.into_iter().map(|h| h.join().ok().and_then(Result::ok).unwrap_or(false)).collect();
        (master.join().ok(), listing)
    });
    match master_role {
        Some(Ok(info)) if info.role == InfoRole::Master => {}
        Some(Ok(_)) => return Err(format!("{} does not say role:master", plan.master)),
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err(format!("cannot ask {}", plan.master)),
    }
    let listed = listing.iter().filter(|&&l| l).count();
    let of = settings.sentinel_count.unwrap_or(unique.len());
    if listed * 2 <= of {
        return Err(format!("only {listed} of {of} sentinels list {} as a replica of {name:?}", plan.me));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn view(sentinel: &str, master: &str, epoch: u64, flags: &str) -> (HostPort, SentinelMaster) {
        let m = hp(master);
        let master = SentinelMaster {
            name: "mymaster".into(),
            ip: m.host,
            port: m.port,
            flags: flags.split(',').map(String::from).collect(),
            num_slaves: 1,
            num_other_sentinels: 2,
            quorum: 2,
            failover_state: None,
            config_epoch: epoch,
            fields: Default::default(),
        };
        (hp(sentinel), master)
    }

    const ME: &str = "10.0.0.12:6379";
    const OLD: &str = "10.0.0.11:6379";

    fn plan() -> FencePlan {
        FencePlan { me: hp(ME), master: hp(OLD) }
    }

    /// A planned `SENTINEL FAILOVER` to this node: first the leader runs it, then it names this
    /// node at the new epoch while the others' hellos lag. Either way nothing is fenced.
    #[test]
    fn a_switch_to_this_node_that_is_still_spreading_holds_the_fence() {
        let running = [view("10.0.0.11:26379", OLD, 3, "master"), view("10.0.0.12:26379", OLD, 3, "master,failover_in_progress")];
        assert_eq!(held_by(&running, &plan(), "mymaster").unwrap(), "sentinel 10.0.0.12:26379 is running a failover of \"mymaster\"");
        let ahead = [view("10.0.0.11:26379", OLD, 3, "master"), view("10.0.0.12:26379", ME, 4, "master"), view("10.0.0.12:26380", OLD, 3, "master")];
        assert_eq!(held_by(&ahead, &plan(), "mymaster").unwrap(), "sentinel 10.0.0.12:26379 names it master at config epoch 4, newer than the others' 3");
    }

    /// After a partition the stale master's own sentinel still names it, at the old epoch: that
    /// is no switch to it, and the fence goes ahead.
    #[test]
    fn a_lagging_sentinel_naming_a_stale_master_does_not_hold_the_fence() {
        let lagging = [view("10.0.0.11:26379", OLD, 4, "master"), view("10.0.0.12:26379", ME, 3, "master"), view("10.0.0.12:26380", OLD, 4, "master")];
        assert_eq!(held_by(&lagging, &plan(), "mymaster"), None);
        assert_eq!(held_by(&[], &plan(), "mymaster"), None, "no sentinel answering shows no switch");
    }
}

