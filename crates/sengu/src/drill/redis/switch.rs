//! The planned switchover itself, step by step, each against a deadline, and the way back
//! when a step fails before the failover happened.
//!
//! Why this order (reference A6, B): a plain `SENTINEL FAILOVER` promotes the best replica at
//! once, without pausing clients or waiting for the replica to catch up, and leaves the old
//! master writable until Sentinel converts it about ten seconds later. Every write the old
//! master acknowledges in between is gone when it becomes a replica. So:
//!
//! 1. `CLIENT PAUSE … WRITE` on the old master: from here on it acknowledges no write (reads
//!    go on). The pause carries its own expiry, so a drill that dies cannot leave it paused.
//! 2. Wait until every replica Sentinel may promote has the master's replication offset:
//!    whichever one Sentinel picks then holds every acknowledged write.
//! 3. `SENTINEL FAILOVER`.
//!    With a single replica Sentinel may promote, the drill promotes it itself right away
//!    (`REPLICAOF NO ONE`, see [`promote_first`]): Sentinel's state machine needs three timer
//!    ticks to get there, 150–220 ms of the old sequence's window.
//! 4. Poll the replicas' `ROLE` until one reports master: that is the moment writes can go
//!    there, about a second before Sentinel's own view (it reads replicas' INFO once a second
//!    during a failover) catches up.
//! 5. Publish the roles in Consul at once (`sengu::roles`: the old master's instance is
//!    demoted and the new one promoted in one transaction, so DNS never names two masters).
//! 6. `CLIENT KILL TYPE normal` on the old master, as Sentinel does when it reconfigures a
//!    server: clients stuck behind the pause reconnect and resolve the name again, now naming
//!    the new master.
//! 7. `REPLICAOF <new>` on the old master ourselves instead of waiting ~10 s for Sentinel's
//!    `+convert-to-slave` (Sentinel agrees: it is what its new config says), still paused, so
//!    the old master can never take a write again; then lift the pause.
//!
//! Before step 3 everything is undone by lifting the pause. From step 3 on the failover cannot
//! be taken back; the drill completes it instead and reports what was late.

use std::time::{Duration, Instant};

use super::precheck::Topology;
use crate::actionlog::ActionLog;
use super::RedisDrill;
use crate::addr::HostPort;
use crate::consul::Client;
use crate::drill::timeline::Timeline;
use crate::redis::{ConnectOptions, RedisConn, Role, SentinelConn};
use crate::roles::{self, Claim, Others};

/// How long the poll loops sleep between two looks.
const POLL: Duration = Duration::from_millis(2);

/// What the switch did.
#[derive(Debug, Default)]
pub(super) struct Switched {
    /// The promoted replica, once one reported master.
    pub new_master: Option<HostPort>,
    /// True when the drill gave up before or during the failover.
    pub aborted: bool,
    /// Steps that took longer than their deadline.
    pub late: Vec<String>,
    /// Whether Consul's tags were flipped.
    pub consul_published: bool,
    pub notes: Vec<String>,
}

impl Switched {
    fn abort(mut self, why: String) -> Switched {
        self.aborted = true;
        self.notes.push(why);
        self
    }
}

/// Runs steps 1 to 7 (see the module doc), marking each on `timeline`.
pub(super) fn run(d: &RedisDrill, consul: &Client, topo: &Topology, admin: &ConnectOptions, timeline: &Timeline, log: &mut ActionLog) -> Switched {
    let mut out = Switched::default();
    let old_addr = &topo.master;
    // Connections are opened before the clock starts, so connecting is not part of the switch.
    let mut old = match RedisConn::connect(old_addr, admin) {
        Ok(c) => c,
        Err(e) => return out.abort(format!("cannot connect to the master: {e}; nothing was changed")),
    };
    let mut sentinel = match SentinelConn::connect(&topo.sentinel, &d.sentinel) {
        Ok(c) => c,
        Err(e) => return out.abort(format!("cannot connect to sentinel {}: {e}; nothing was changed", topo.sentinel)),
    };
    let mut replicas: Vec<Poller> = topo.candidates.iter().map(|a| Poller::new(a, admin)).collect();
    let pause_for = d.deadlines.catch_up + d.deadlines.step * 2 + Duration::from_secs(1);

    timeline.mark("switch started", format!("{old_addr} -> one of {}", list(&topo.candidates)));
    if let Err(e) = old.pause_writes(pause_for) {
        return out.abort(format!("cannot pause writes: {e}; nothing was changed"));
    }
    timeline.mark("writes paused on the old master", format!("CLIENT PAUSE {} ms WRITE", pause_for.as_millis()));
    log.record("pause-writes", &[("redis", old_addr), ("ms", &pause_for.as_millis())]);
    let target = match old.role() {
        Ok(Role::Master { offset, .. }) => offset,
        Ok(other) => return out.abort(restore(&mut old, format!("{old_addr} no longer reports master ({other:?})"), log)),
        Err(e) => return out.abort(restore(&mut old, e.to_string(), log)),
    };

    let started = Instant::now();
    let deadline = started + d.deadlines.catch_up;
    loop {
        let behind: Vec<String> = replicas
            .iter_mut()
            .filter_map(|r| match r.role() {
                Some(Role::Replica { offset, .. }) if offset >= target => None,
                Some(Role::Replica { offset, .. }) => Some(format!("{} at offset {offset}", r.addr)),
                Some(other) => Some(format!("{} reports {other:?}", r.addr)),
                None => Some(format!("{} does not answer", r.addr)),
            })
            .collect();
        if behind.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let why = format!(
                "replica not caught up within {}: {} (the master is at offset {target})",
                humantime::format_duration(d.deadlines.catch_up),
                behind.join(", ")
            );
            return out.abort(restore(&mut old, why, log));
        }
        std::thread::sleep(POLL);
    }
    timeline.mark("replicas caught up", format!("offset {target}"));

    if let Err(e) = sentinel.failover(&d.master_name) {
        return out.abort(restore(&mut old, e.to_string(), log));
    }
    timeline.mark("failover requested", format!("SENTINEL FAILOVER {} via {}", d.master_name, topo.sentinel));
    log.record("sentinel-failover", &[("sentinel", &topo.sentinel), ("master", &d.master_name)]);
    if let [only] = topo.candidates.as_slice() {
        promote_first(only, admin, timeline, log, &mut out);
    }

    let started = Instant::now();
    let deadline = started + d.deadlines.step;
    // Past the deadline the failover may still complete; waiting a while longer (still paused)
    // lets the drill finish it cleanly instead of leaving two writable masters.
    let grace = started + d.deadlines.step * 2;
    let new = loop {
        if let Some(addr) = replicas.iter_mut().find_map(|r| matches!(r.role(), Some(Role::Master { .. })).then(|| r.addr.clone())) {
            break addr;
        }
        if Instant::now() >= grace {
            return out.abort(no_promotion(d, &topo.sentinels, &mut old, log));
        }
        std::thread::sleep(POLL);
    };
    if Instant::now() > deadline {
        out.late.push(format!("promotion took longer than {}", humantime::format_duration(d.deadlines.step)));
    }
    timeline.mark("new master promoted", format!("{new} reports role:master"));
    out.new_master = Some(new.clone());

    let step = Instant::now();
    let claim = Claim::Master { at: new.clone(), others: Others::Demote };
    match roles::publish_roles(consul, &d.service, &claim, &d.tags) {
        Ok(report) => {
            out.consul_published = true;
            let what = if report.changes.is_empty() {
                "already right".to_string()
            } else {
                report.changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            };
            log.record("publish-roles", &[("service", &d.service), ("master", &new), ("changes", &what)]);
            timeline.mark("consul tags flipped", what);
        }
        Err(e) => out.notes.push(format!("could not publish the new master in Consul: {e}")),
    }
    if let Err(e) = old.query::<::redis::Value>(::redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal"), "CLIENT KILL") {
        out.notes.push(format!("could not disconnect the old master's clients: {e}"));
    }
    // Still paused: the old master takes no write before it is a replica.
    match demote(&mut old, &new) {
        Ok(()) => {
            timeline.mark("old master demoted", format!("REPLICAOF {} {}", new.host, new.port));
            log.record("demote", &[("redis", old_addr), ("replicaof", &new)]);
        }
        Err(e) => out.notes.push(format!("could not demote {old_addr} ({e}); Sentinel converts it within ~10 s, and its write pause lasts until then")),
    }
    match old.unpause() {
        Ok(()) => {
            timeline.mark("writes unpaused on the old master", "");
            log.record("unpause-writes", &[("redis", old_addr)]);
        }
        Err(e) => out.notes.push(format!("could not lift the pause on {old_addr} ({e}); it ends by itself after {} ms", pause_for.as_millis())),
    }
    if step.elapsed() > d.deadlines.step {
        out.late.push(format!("demoting and publishing took longer than {}", humantime::format_duration(d.deadlines.step)));
    }
    out
}

/// Step 3b: with a single replica Sentinel may promote, that replica is the one its failover
/// will pick (`SENTINEL FAILOVER` has just checked that it qualifies), so the drill promotes it
/// at once (`REPLICAOF NO ONE`) instead of waiting the three timer ticks (53–100 ms each:
/// Sentinel's `hz` is 10–19, randomised per tick) that Sentinel's state machine takes to get
/// there. Sentinel's own `SLAVEOF NO ONE` then finds a master and changes nothing but
/// disconnecting its normal clients once; it does not take the replica back, since a replica
/// that turned master is only converted after 8 s, and only while its master looks sane,
/// which the paused-then-demoted old master does not. A failure here is only a note: Sentinel
/// promotes it anyway.
fn promote_first(replica: &HostPort, admin: &ConnectOptions, timeline: &Timeline, log: &mut ActionLog, out: &mut Switched) {
    let promoted = RedisConn::connect(replica, admin).and_then(|mut c| c.query::<::redis::Value>(::redis::cmd("REPLICAOF").arg("NO").arg("ONE"), "REPLICAOF NO ONE"));
    match promoted {
        Ok(_) => {
            timeline.mark("replica promoted by the drill", format!("REPLICAOF NO ONE on {replica}, the one replica Sentinel may pick"));
            log.record("promote", &[("redis", replica)]);
        }
        Err(e) => out.notes.push(format!("could not promote {replica} ahead of Sentinel ({e}); waited for Sentinel's promotion")),
    }
}

/// `REPLICAOF <new>` and, like Sentinel, `CONFIG REWRITE` so a restart keeps the new role (a
/// server started without a config file refuses the rewrite; that is not an error here).
fn demote(old: &mut RedisConn, new: &HostPort) -> Result<(), crate::redis::Error> {
    old.query::<::redis::Value>(::redis::cmd("REPLICAOF").arg(&new.host).arg(new.port), "REPLICAOF")?;
    let _ = old.query::<::redis::Value>(::redis::cmd("CONFIG").arg("REWRITE"), "CONFIG REWRITE");
    Ok(())
}

/// Lifts the pause after a failed step before the failover: the old master is master again,
/// with every acknowledged write, and nothing else changed.
fn restore(old: &mut RedisConn, why: String, log: &mut ActionLog) -> String {
    log.record("abort", &[("redis", old.addr()), ("why", &why)]);
    match old.unpause() {
        Ok(()) => format!("{why}; aborted before the failover: writes resumed on {}, nothing else was changed", old.addr()),
        Err(e) => format!("{why}; aborted before the failover, but lifting the write pause on {} failed ({e}): it ends by itself", old.addr()),
    }
}

/// No replica became master in time. If no sentinel is failing over any more, nothing will
/// happen and the pause can go; otherwise it stays until it expires.
fn no_promotion(d: &RedisDrill, sentinels: &[HostPort], old: &mut RedisConn, log: &mut ActionLog) -> String {
    let in_progress = sentinels.iter().any(|s| {
        SentinelConn::connect(s, &d.sentinel).and_then(|mut c| c.master(&d.master_name)).map_or(true, |m| m.has_flag("failover_in_progress"))
    });
    let why = format!("no replica reported role:master within {}", humantime::format_duration(d.deadlines.step * 2));
    if in_progress {
        log.record("abort", &[("redis", old.addr()), ("why", &why), ("pause", &"left to expire")]);
        format!("{why}, and a sentinel still has a failover in progress (or did not answer): the write pause on {} stays until it expires; check the sentinels", old.addr())
    } else {
        restore(old, format!("{why}, and no failover is in progress"), log)
    }
}

/// A replica's `ROLE`, reconnecting after errors: Sentinel disconnects every normal client of
/// the replica it promotes.
struct Poller {
    addr: HostPort,
    opts: ConnectOptions,
    conn: Option<RedisConn>,
}

impl Poller {
    fn new(addr: &HostPort, opts: &ConnectOptions) -> Poller {
        Poller { addr: addr.clone(), opts: opts.clone(), conn: RedisConn::connect(addr, opts).ok() }
    }

    fn role(&mut self) -> Option<Role> {
        if self.conn.is_none() {
            self.conn = RedisConn::connect(&self.addr, &self.opts).ok();
        }
        let role = self.conn.as_mut()?.role();
        match role {
            Ok(role) => Some(role),
            Err(_) => {
                self.conn = None;
                None
            }
        }
    }
}

fn list(addrs: &[HostPort]) -> String {
    addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
