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

use std::time::Duration;

use ::redis::Value;

use super::{FencePlan, FenceResult, Settings, same_endpoint};
use crate::addr::HostPort;
use crate::redis::{ConnectOptions, InfoRole, RedisConn, SentinelConn};

/// Fences `plan.me` within about `window`: each step (the local commands, then the guard's
/// parallel questions) gets a third of it.
pub(crate) fn fence(settings: &Settings, plan: &FencePlan, window: Duration) -> FenceResult {
    let me = plan.me.clone();
    let step = super::observe::whole_ms(window / 6);
    let opts = ConnectOptions { connect_timeout: step, io_timeout: step, auth: settings.auth.clone(), ..Default::default() };
    let failed = |e: crate::redis::Error| FenceResult::Failed { me: me.clone(), error: e.to_string() };
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
    let mut unique: Vec<&HostPort> = Vec::new();
    for s in &settings.sentinels {
        if !unique.contains(&s) {
            unique.push(s);
        }
    }
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
