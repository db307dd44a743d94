//! mysql-master-check's decision table, pure: what was observed in, the sub-results and the
//! actions out. No I/O here, so every row is unit-tested.
//!
//! The local server is a *master* (writable, no replication thread), *read-only* (neither
//! writable nor replicating) or a *replica* (it has a replication link). Consul's master record
//! is the KV value, else the master node; node and KV naming two servers count as no record.
//!
//! | local | Consul's record | result | actions |
//! |---|---|---|---|
//! | master | names it (by address, or a server with the same `server_id`) | passing | master tag (others demoted) |
//! | master | names another server that answers as a writable master, no move recorded | critical: stale master | fence (`--fence-stale-master`), tag dropped |
//! | master | names another server that is not a healthy master, or cannot be asked | critical, left alone: a person decides | tag dropped |
//! | master | none; a move to this server is recorded and the old master is not writable | finished by `--reconcile` (publish, as `mysql-after-exec`), else critical | reconcile |
//! | master | none, and no move to it | critical: a person decides | — |
//! | master | cannot be read | warning (stays in DNS: nothing shows it wrong) | — |
//! | replica | — | critical when a thread is stopped, when it replicates from another server than the record names, beyond `--max-lag` or `--max-gtid-gap`; warning beyond `--warn-lag`; else passing | replica tag, replica node pointed at it when absent or naming the master; critical: tag dropped, replica node removed if it names it |
//! | read-only | — | critical | tag dropped |
//!
//! `--role master` turns a replica critical, `--role replica` a master; `auto` judges each by
//! what it is.

use std::time::Duration;

use crate::addr::HostPort;
use crate::check::SubResult;
use crate::consul;
use crate::master_check::Mode;
use crate::mysql::{self, ReplicaStatus, ServerRole};
use crate::mysql_hooks::records::{MoveRecord, View};
use crate::mysql_hooks::Masters;
use crate::roles::{same_host, Claim, Others};

/// The rules' parameters.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    pub max_lag: Duration,
    pub warn_lag: Duration,
    pub max_gtid_gap: Option<u64>,
    pub fence: bool,
    pub reconcile: bool,
    pub replica_node: bool,
    pub tags: bool,
}

/// The local server as it answered.
#[derive(Debug, Clone)]
pub struct Local {
    pub role: ServerRole,
    pub server_id: u32,
}

/// Another server as it answered: the one Consul's record names.
#[derive(Debug, Clone)]
pub struct Peer {
    pub role: ServerRole,
    pub server_id: u32,
}

/// Everything one run saw.
#[derive(Debug)]
pub struct Observations {
    /// The local server as published: `--advertise-ip`, the `--mysql` host unless loopback,
    /// else the local agent's node address; with `--mysql`'s port.
    pub me: HostPort,
    pub local: Result<Local, mysql::Error>,
    pub consul: Result<View, consul::Error>,
    /// The server Consul's record names, asked when the local server is a writable master the
    /// record does not name by its address.
    pub named: Option<(HostPort, Result<Peer, mysql::Error>)>,
    /// The master's `@@gtid_binlog_pos`, asked for a replica when `--max-gtid-gap` is set.
    pub source_gtid: Option<Result<String, mysql::Error>>,
    /// Whether the old master of a move recorded towards this server is a writable master.
    pub old_writable: Option<bool>,
    /// Manual mode and the post-failover block for the master node's name (`sengu-drill
    /// manual`); `None` when Consul could not be asked.
    pub holds: Option<crate::hold::Holds>,
    /// When the run looked, for whether a hold is in force.
    pub now: std::time::SystemTime,
}

/// What to do after deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `read_only` on and client connections killed on the local server.
    Fence { named: HostPort },
    /// Publish the local server as `mysql-after-exec` would, finishing the recorded move.
    Reconcile(Masters),
}

/// What to change in the replica node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaNode {
    /// Point it at the local server.
    Point,
    /// Remove it: it names the local server, which is no healthy replica.
    Remove,
}

/// The decision: the sub-results so far and what to do.
#[derive(Debug)]
pub struct Decision {
    /// The local server as published ([`Observations::me`]).
    pub me: HostPort,
    pub results: Vec<SubResult>,
    pub action: Option<Action>,
    pub claim: Option<Claim>,
    pub replica_node: Option<ReplicaNode>,
    /// The view read, for the actions' guards.
    pub view: Option<View>,
}

/// What the local server is.
enum Kind<'a> {
    Master,
    ReadOnly,
    Replica(&'a ReplicaStatus),
}

fn kind(role: &ServerRole) -> Kind<'_> {
    match &role.replica {
        Some(status) if status.threads_running() || status.last_io_error.is_some() || status.last_sql_error.is_some() => Kind::Replica(status),
        _ if role.is_writable() => Kind::Master,
        _ => Kind::ReadOnly,
    }
}

/// The master Consul's record names: the KV value, else the master node. `Err` when the two
/// name different hosts.
pub fn published(view: &View) -> Result<Option<(String, Option<u16>)>, String> {
    match (&view.kv, &view.master_node) {
        (Some(kv), Some(node)) if !same_host(&kv.value.host, &node.address) => {
            Err(format!("consul's master kv names {} but the master node names {}", kv.value, node.address))
        }
        (Some(kv), _) => Ok(Some((kv.value.host.clone(), kv.value.port))),
        (None, Some(node)) => Ok(Some((node.address.clone(), node.service_port))),
        (None, None) => Ok(None),
    }
}

/// The address to ask for the record's master: its port, else the local server's (masters
/// usually share one).
pub fn record_addr(record: &(String, Option<u16>), local_port: u16) -> HostPort {
    HostPort { host: record.0.clone(), port: record.1.unwrap_or(local_port) }
}

/// True when the record names `addr` by address (the port only where the record has one).
fn names_addr(record: &(String, Option<u16>), addr: &HostPort) -> bool {
    same_host(&record.0, &addr.host) && record.1.is_none_or(|p| p == addr.port)
}

pub fn decide(p: &Policy, o: &Observations) -> Decision {
    let me = &o.me;
    let mut d = Decision { me: me.clone(), results: Vec::new(), action: None, claim: None, replica_node: None, view: o.consul.as_ref().ok().cloned() };
    let local = match &o.local {
        Ok(local) => local,
        Err(e) => {
            d.results.push(SubResult::critical("mysql", format!("mysql {me} could not be asked: {e}")));
            return d;
        }
    };
    match (kind(&local.role), p.mode) {
        (Kind::Replica(status), Mode::Master) => {
            d.results.push(SubResult::critical("role", format!("mysql {me} is a replica of {}, not the master", status.master)));
        }
        (Kind::Replica(status), _) => replica(p, o, local, status, &mut d),
        (Kind::Master | Kind::ReadOnly, Mode::Replica) => {
            d.results.push(SubResult::critical("role", format!("mysql {me} is not a replica")));
            d.claim = Some(Claim::Untagged { at: me.clone() });
        }
        (Kind::Master, _) => master(p, o, local, &mut d),
        (Kind::ReadOnly, _) => {
            let why = match o.consul.as_ref().ok().and_then(View::move_record) {
                Some(m) if m.new_addr().as_ref() == Some(me) => ": a move to it is recorded but it was never made writable; a person must decide".to_string(),
                _ => String::new(),
            };
            d.results.push(SubResult::critical("role", format!("mysql {me} is read-only and not replicating{why}")));
            d.claim = Some(Claim::Untagged { at: me.clone() });
        }
    }
    if let Some(holds) = &o.holds {
        let state = match (holds.active_manual(o.now).is_some() || holds.unreadable.is_some(), holds.active_block(o.now).is_some()) {
            (true, true) => Some("manual mode on, and automatic failover blocked after a failover"),
            (true, false) => Some("manual mode on: automatic failover is off"),
            (false, true) => Some("automatic failover blocked after a failover"),
            (false, false) => None,
        };
        // The text stays the same while the hold does; who, why and until go in the details.
        if let (Some(state), Some(line)) = (state, holds.describe(o.now)) {
            d.results.push(SubResult::passing("hold", state).with_details(line));
        }
    }
    if !p.tags {
        d.claim = None;
    }
    if !p.replica_node {
        d.replica_node = None;
    }
    d
}

fn move_text(m: &MoveRecord) -> String {
    format!("{} -> {}", m.old.as_deref().unwrap_or("unknown"), m.new.as_deref().unwrap_or("unknown"))
}

fn master(p: &Policy, o: &Observations, local: &Local, d: &mut Decision) {
    let me = &o.me;
    let view = match &o.consul {
        Ok(view) => view,
        Err(e) => {
            d.results.push(SubResult::warning("consul", format!("mysql {me} is a writable master, but consul's master record could not be read")).with_details(e.to_string()));
            return;
        }
    };
    let record = match published(view) {
        Ok(record) => record,
        Err(why) => {
            d.results.push(SubResult::critical("consul", format!("{why}: left alone, a person must decide")));
            d.claim = Some(Claim::Untagged { at: me.clone() });
            return;
        }
    };
    let moving = view.move_record();
    let is_me = |record: &(String, Option<u16>)| {
        names_addr(record, me)
            || matches!(&o.named, Some((_, Ok(peer))) if peer.server_id == local.server_id)
    };
    match record {
        Some(record) if is_me(&record) => {
            d.results.push(SubResult::passing("role", format!("mysql {me} is the master consul names")));
            d.claim = Some(Claim::Master { at: me.clone(), others: Others::Demote });
        }
        Some(record) => {
            let named = record_addr(&record, me.port);
            d.claim = Some(Claim::Untagged { at: me.clone() });
            let peer = o.named.as_ref().filter(|(at, _)| *at == named).map(|(_, answer)| answer);
            let text = match (peer, moving) {
                (_, Some(m)) => format!("mysql {me} is writable, consul names {named}, and a move is recorded ({}): left alone, a person must decide", move_text(m)),
                (Some(Ok(peer)), None) if peer.role.is_writable() => {
                    if p.fence {
                        d.action = Some(Action::Fence { named: named.clone() });
                        format!("mysql {me} is a stale master: consul names {named}, a writable master")
                    } else {
                        format!("mysql {me} is a stale master: consul names {named}, a writable master (not fenced: --fence-stale-master is off)")
                    }
                }
                (Some(Ok(peer)), None) => {
                    let why: Vec<String> = peer.role.write_blockers().iter().map(ToString::to_string).collect();
                    format!("mysql {me} is writable, but consul names {named}, which is not a writable master ({}): left alone, a person must decide", why.join(", "))
                }
                (Some(Err(e)), None) => format!("mysql {me} is writable, but consul names {named}, which could not be asked ({e}): left alone"),
                (None, None) => format!("mysql {me} is writable, but consul names {named}: left alone"),
            };
            d.results.push(SubResult::critical("role", text));
        }
        None => match moving {
            Some(m) if m.new_addr().as_ref() == Some(me) => {
                let old = m.old_addr();
                if o.old_writable == Some(true) {
                    let old = old.map_or("unknown".into(), |o| o.to_string());
                    d.results.push(SubResult::critical("move", format!("a move to mysql {me} is recorded but not published, and the old master {old} is writable too: a person must decide")));
                } else if p.reconcile {
                    d.action = Some(Action::Reconcile(Masters { old, new: me.clone() }));
                } else {
                    d.results.push(SubResult::critical(
                        "move",
                        format!("a move to mysql {me} is recorded but not published (did mysql-after-exec fail?): rerun it, or turn --reconcile on"),
                    ));
                }
            }
            Some(m) => d.results.push(SubResult::critical(
                "move",
                format!("mysql {me} is writable, consul names no master, and a move {} is recorded: a person must decide", move_text(m)),
            )),
            None => d.results.push(SubResult::critical(
                "role",
                format!("mysql {me} is writable, but consul names no master and no move is recorded: a person must decide (mysql-after-exec publishes a master)"),
            )),
        },
    }
}

fn replica(p: &Policy, o: &Observations, local: &Local, status: &ReplicaStatus, d: &mut Decision) {
    let me = &o.me;
    let source = &status.master;
    let view = o.consul.as_ref().ok();
    let names_me = view.and_then(|v| v.replica_node.as_ref()).is_some_and(|n| same_host(&n.address, &me.host));
    let fail = |d: &mut Decision, text: String, details: Option<String>| {
        let result = SubResult::critical("replication", text);
        d.results.push(match details {
            Some(details) => result.with_details(details),
            None => result,
        });
        d.claim = Some(Claim::Untagged { at: me.clone() });
        if names_me {
            d.replica_node = Some(ReplicaNode::Remove);
        }
    };
    if !status.is_healthy() {
        let sql = if status.sql_running { "Yes" } else { "No" };
        let errors: Vec<String> =
            [&status.last_io_error, &status.last_sql_error].into_iter().flatten().map(|e| format!("error {}: {}", e.code, e.message)).collect();
        let details = (!errors.is_empty()).then(|| errors.join("\n"));
        fail(d, format!("mysql {me}: replication from {source} is not running (IO thread {}, SQL thread {sql})", status.io), details);
        return;
    }
    let record = match view.map(published) {
        Some(Ok(record)) => record,
        Some(Err(why)) => {
            d.results.push(SubResult::warning("consul", why));
            None
        }
        None => {
            let e = o.consul.as_ref().err().map(ToString::to_string).unwrap_or_default();
            d.results.push(SubResult::warning("consul", "consul's master record could not be read").with_details(e));
            None
        }
    };
    if let Some(record) = &record
        && !names_addr(record, source)
    {
        let named = record_addr(record, source.port);
        fail(d, format!("mysql {me} replicates from {source}, but consul's master is {named}"), None);
        return;
    }
    let lag = status.seconds_behind_master;
    let gap = match (&o.source_gtid, p.max_gtid_gap) {
        (Some(Ok(master)), Some(_)) => local.role.gtid.as_ref().map(|g| gtid_gap(master, &g.executed)),
        _ => None,
    };
    let lag_text = lag.map_or("Seconds_Behind_Master unknown".to_string(), |s| format!("Seconds_Behind_Master {s}"));
    let details = match gap {
        Some(gap) => format!("{lag_text}; {gap} transactions behind the master's binary log"),
        None => lag_text,
    };
    if lag.is_some_and(|s| s > p.max_lag.as_secs()) {
        return fail(d, format!("mysql {me} is too far behind its master {source} (more than --max-lag {} s)", p.max_lag.as_secs()), Some(details));
    }
    if let (Some(gap), Some(max)) = (gap, p.max_gtid_gap)
        && gap > max
    {
        return fail(d, format!("mysql {me} is too far behind its master {source} (more than --max-gtid-gap {max} transactions)"), Some(details));
    }
    if let Some(Err(e)) = &o.source_gtid {
        d.results.push(SubResult::warning("gtid", format!("the master {source} could not be asked for its GTID position")).with_details(e.to_string()));
    }
    let result = match lag {
        Some(s) if s > p.warn_lag.as_secs() => {
            SubResult::warning("replication", format!("mysql {me} is behind its master {source} (more than --warn-lag {} s)", p.warn_lag.as_secs()))
        }
        Some(_) => SubResult::passing("replication", format!("mysql {me} is a healthy replica of {source}")),
        None => SubResult::warning("replication", format!("mysql {me} replicates from {source}, but how far behind is unknown")),
    };
    d.results.push(result.with_details(details));
    d.claim = Some(Claim::Replica { at: me.clone() });
    let replica_node = view.and_then(|v| v.replica_node.as_ref());
    let take = match replica_node {
        None => true,
        Some(node) => !same_host(&node.address, &me.host) && same_host(&node.address, &source.host),
    };
    if take {
        d.replica_node = Some(ReplicaNode::Point);
    }
}

/// How many transactions `have` lacks of `master`, both MariaDB GTID positions
/// (`domain-server-seq`, comma-separated): the largest per-domain difference of sequence
/// numbers. A MySQL GTID set (`uuid:1-100`) gives 0: not compared.
pub fn gtid_gap(master: &str, have: &str) -> u64 {
    let parse = |list: &str| -> Vec<(u32, u64)> {
        list.split(',')
            .filter_map(|gtid| {
                let mut parts = gtid.trim().split('-');
                let domain = parts.next()?.parse().ok()?;
                let seq = parts.nth(1)?.parse().ok()?;
                Some((domain, seq))
            })
            .collect()
    };
    let have = parse(have);
    parse(master)
        .iter()
        .map(|(domain, seq)| seq.saturating_sub(have.iter().find(|(d, _)| d == domain).map_or(0, |(_, s)| *s)))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
