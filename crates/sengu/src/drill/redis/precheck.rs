//! The conditions a planned Redis switchover needs before it may touch anything: one master,
//! named by every sentinel and by DNS; quorum; every replica linked and in sync, and known
//! as healthy to every sentinel; Consul instances whose tags the drill can flip. Each one is a
//! [`PreCheck`] in the report, so a refusal says exactly what to fix.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::RedisDrill;
use crate::addr::HostPort;
use crate::consul::Client;
use crate::drill::probe::{describe_answer, NameLookup, Ports};
use crate::drill::report::PreCheck;
use crate::redis::{ask_sentinels, Error, InfoRole, LinkStatus, RedisConn, SentinelConn};
use crate::roles::{self, Claim, Others, Role};

/// Most seconds since a replica's last acknowledgement for it to count as in sync.
const MAX_ACK_LAG_SECONDS: i64 = 1;

/// What the switch needs to know, once every pre-check passed.
#[derive(Debug, Clone)]
pub(super) struct Topology {
    pub master: HostPort,
    /// Replicas Sentinel may promote (`replica-priority` not 0), each in sync.
    pub candidates: Vec<HostPort>,
    /// Ports of the service's instances by address, for the probes.
    pub ports: Ports,
    /// The sentinel to send `SENTINEL FAILOVER` to.
    pub sentinel: HostPort,
    /// Every running sentinel.
    pub sentinels: Vec<HostPort>,
}

/// Runs every pre-check and returns them, with the topology when all passed.
pub(super) fn run(d: &RedisDrill, consul: &Client, lookup: &NameLookup) -> (Vec<PreCheck>, Option<Topology>) {
    let mut checks = Vec::new();
    let Some((master, sentinel, sentinels)) = sentinels_agree(d, &mut checks) else { return (checks, None) };
    let Some(master_ip) = master.ip() else {
        checks.push(PreCheck::failed("sentinels", format!("the sentinels name {master}, not an IP address; the drill compares DNS answers by address")));
        return (checks, None);
    };
    let sentinel_replicas = sentinel_views(d, &sentinels, &mut checks);
    let candidates = replicas_in_sync(d, &master, &sentinel_replicas, &mut checks);
    dns_names_master(lookup, master_ip, &mut checks);
    let ports = consul_instances(d, consul, &master, &candidates, &mut checks);
    let topology = match (checks.iter().all(|c| c.ok), ports) {
        (true, Some(ports)) => Some(Topology { master, candidates, ports, sentinel, sentinels }),
        _ => None,
    };
    (checks, topology)
}

/// Every sentinel answers and names the same master. Returns it, a sentinel to talk to and
/// every live sentinel.
///
/// A configured address that refuses connections and that no running sentinel knows as a peer
/// is not a sentinel: in the two-host layout the floating sentinel has an address on each host
/// and runs at one of them. A sentinel its peers know must answer, though.
fn sentinels_agree(d: &RedisDrill, checks: &mut Vec<PreCheck>) -> Option<(HostPort, HostPort, Vec<HostPort>)> {
    let mut votes = ask_sentinels(&d.sentinels, &d.master_name, &d.sentinel);
    let mut known: BTreeSet<HostPort> = votes.answers.iter().map(|(s, _)| s.clone()).collect();
    for (s, _) in &votes.answers {
        if let Ok(peers) = SentinelConn::connect(s, &d.sentinel).and_then(|mut c| c.sentinels(&d.master_name)) {
            known.extend(peers.iter().map(|p| p.addr()));
        }
    }
    let asked: BTreeSet<HostPort> = d.sentinels.iter().cloned().collect();
    let unasked: Vec<HostPort> = known.difference(&asked).cloned().collect();
    if !unasked.is_empty() {
        let more = ask_sentinels(&unasked, &d.master_name, &d.sentinel);
        votes.answers.extend(more.answers);
        votes.failures.extend(more.failures);
    }
    let absent: Vec<String> = votes.failures.iter().filter(|(s, e)| !known.contains(s) && matches!(e, Error::Unreachable { .. })).map(|(s, _)| s.to_string()).collect();
    if let Some((s, e)) = votes.failures.iter().find(|(s, e)| known.contains(s) || !matches!(e, Error::Unreachable { .. })) {
        checks.push(PreCheck::failed("sentinels", format!("sentinel {s} did not answer: {e}")));
        return None;
    }
    if votes.answers.is_empty() {
        let why: Vec<String> = votes.failures.iter().map(|(_, e)| e.to_string()).collect();
        checks.push(PreCheck::failed("sentinels", format!("no sentinel answered: {}", why.join("; "))));
        return None;
    }
    let named: Vec<String> = votes
        .answers
        .iter()
        .map(|(s, m)| format!("{s} names {}", m.as_ref().map_or_else(|| format!("no master {:?}", d.master_name), ToString::to_string)))
        .collect();
    let live: Vec<HostPort> = votes.answers.iter().map(|(s, _)| s.clone()).collect();
    match votes.tally().as_slice() {
        [(master, n)] if *n == votes.answers.len() && *n > 0 => {
            let absent = if absent.is_empty() { String::new() } else { format!(" (nothing runs at {}, and no sentinel knows it)", absent.join(", ")) };
            checks.push(PreCheck::ok("sentinels", format!("all {n} sentinels name {master} as the master of {:?}{absent}", d.master_name)));
            Some((master.clone(), live[0].clone(), live))
        }
        _ => {
            checks.push(PreCheck::failed("sentinels", format!("the sentinels do not agree: {}", named.join(", "))));
            None
        }
    }
}

/// Quorum, no failover running, master up, as every sentinel sees it; returns each replica
/// address with what is wrong with it in some sentinel's view (empty: nothing).
fn sentinel_views(d: &RedisDrill, sentinels: &[HostPort], checks: &mut Vec<PreCheck>) -> BTreeMap<HostPort, Vec<String>> {
    let mut replicas: BTreeMap<HostPort, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for s in sentinels {
        let view = SentinelConn::connect(s, &d.sentinel).and_then(|mut c| Ok((c.ckquorum(&d.master_name)?, c.master(&d.master_name)?, c.replicas(&d.master_name)?)));
        let (quorum, master, seen) = match view {
            Ok(v) => v,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        if !quorum.is_ok() {
            let (crate::redis::CkQuorum::Ok { text, .. } | crate::redis::CkQuorum::NoQuorum { text, .. }) = &quorum;
            problems.push(format!("sentinel {s}: {text}"));
        }
        if master.has_flag("failover_in_progress") {
            problems.push(format!("sentinel {s} has a failover in progress"));
        }
        if master.looks_down() {
            problems.push(format!("sentinel {s} sees the master as {}", master.flags.join(",")));
        }
        for r in seen {
            let issues = replicas.entry(r.addr()).or_default();
            if r.looks_down() {
                issues.push(format!("sentinel {s} flags it {}", r.flags.join(",")));
            }
        }
    }
    if problems.is_empty() {
        checks.push(PreCheck::ok("quorum", format!("CKQUORUM OK on all {} sentinels, no failover in progress", sentinels.len())));
    } else {
        checks.push(PreCheck::failed("quorum", problems.join("; ")));
    }
    replicas
}

/// Every replica any sentinel knows (or the master lists) is linked to the master and in
/// sync. Returns the ones Sentinel may promote.
fn replicas_in_sync(d: &RedisDrill, master: &HostPort, known: &BTreeMap<HostPort, Vec<String>>, checks: &mut Vec<PreCheck>) -> Vec<HostPort> {
    let info = match RedisConn::connect(master, &d.redis).and_then(|mut c| c.info_replication()) {
        Ok(info) if info.role == InfoRole::Master => info,
        Ok(_) => {
            checks.push(PreCheck::failed("replicas", format!("redis {master} is not a master, although the sentinels name it")));
            return Vec::new();
        }
        Err(e) => {
            checks.push(PreCheck::failed("replicas", e.to_string()));
            return Vec::new();
        }
    };
    let mut all: BTreeMap<HostPort, Vec<String>> = known.clone();
    for r in &info.replicas {
        all.entry(r.addr()).or_default();
    }
    if all.is_empty() {
        checks.push(PreCheck::failed("replicas", format!("master {master} has no replica to switch to")));
        return Vec::new();
    }
    let mut problems = Vec::new();
    let mut candidates = Vec::new();
    let mut in_sync = Vec::new();
    for (addr, sentinel_issues) in &all {
        let mut issues = sentinel_issues.clone();
        match RedisConn::connect(addr, &d.redis).and_then(|mut c| c.info_replication()) {
            Err(e) => issues.push(format!("{e} (a replica the sentinels still know; SENTINEL RESET forgets a removed one)")),
            Ok(r) => match &r.master {
                None => issues.push("reports role:master".to_string()),
                Some(link) => {
                    if !(link.port == master.port && roles::same_host(&link.host, &master.host)) {
                        issues.push(format!("replicates from {}", link.addr()));
                    } else if link.link_status != LinkStatus::Up || link.sync_in_progress {
                        issues.push("its link to the master is down or still syncing".to_string());
                    }
                    let listed = info.replicas.iter().find(|e| e.port == addr.port && roles::same_host(&e.ip, &addr.host));
                    match listed {
                        Some(e) if e.state == "online" && e.lag.unwrap_or(i64::MAX) <= MAX_ACK_LAG_SECONDS => {}
                        Some(e) => issues.push(format!("the master lists it {} with lag {:?}", e.state, e.lag)),
                        None => issues.push("the master does not list it".to_string()),
                    }
                    if link.priority != Some(0) {
                        candidates.push(addr.clone());
                    }
                }
            },
        }
        if issues.is_empty() {
            in_sync.push(addr.to_string());
        } else {
            problems.push(format!("replica {addr}: {}", issues.join(", ")));
        }
    }
    if !problems.is_empty() {
        checks.push(PreCheck::failed("replicas", problems.join("; ")));
    } else if candidates.is_empty() {
        checks.push(PreCheck::failed("replicas", "every replica has replica-priority 0: Sentinel cannot promote any"));
    } else {
        checks.push(PreCheck::ok("replicas", format!("{} linked and in sync", in_sync.join(", "))));
    }
    candidates
}

/// DNS names the master and nothing else.
fn dns_names_master(lookup: &NameLookup, master_ip: IpAddr, checks: &mut Vec<PreCheck>) {
    let answer = lookup.addresses();
    let check = match &answer {
        Ok(ips) if ips.as_slice() == [master_ip] => PreCheck::ok("dns", format!("{} names {master_ip} only", lookup.name)),
        Ok(ips) if ips.len() > 1 => PreCheck::failed("dns", format!("{} names {} masters: {}", lookup.name, ips.len(), describe_answer(&answer))),
        _ => PreCheck::failed("dns", format!("{} names {}, not the master {master_ip}", lookup.name, describe_answer(&answer))),
    };
    checks.push(check);
}

/// The service's instances exist for the master and every candidate, the master's carries
/// the master tag, and the drill may retag them. Returns the probes' port map.
fn consul_instances(d: &RedisDrill, consul: &Client, master: &HostPort, candidates: &[HostPort], checks: &mut Vec<PreCheck>) -> Option<Ports> {
    let instances = match roles::read_instances(consul, &d.service) {
        Ok(i) => i,
        Err(e) => {
            checks.push(PreCheck::failed("consul", format!("cannot read service {:?}: {e}", d.service)));
            return None;
        }
    };
    let mut problems = Vec::new();
    match instances.iter().find(|i| i.is_at(master)) {
        None => problems.push(format!("no instance of {:?} at the master {master}", d.service)),
        Some(i) if i.role(&d.tags) != Some(Role::Master) => problems.push(format!("the master's instance on node {} is not tagged {:?}", i.node, d.tags.master)),
        Some(_) => {}
    }
    for c in candidates {
        if let Err(e) = roles::plan(&d.service, &instances, &Claim::Master { at: c.clone(), others: Others::Demote }, &d.tags) {
            problems.push(e.to_string());
        }
    }
    let mut ports = Ports::default();
    for i in &instances {
        if let Ok(ip) = i.address.parse::<IpAddr>() {
            ports.by_ip.insert(ip, i.service.port);
        }
    }
    if problems.is_empty() {
        checks.push(PreCheck::ok("consul", format!("{} instance(s) of {:?}, the master's tagged {:?}", instances.len(), d.service, d.tags.master)));
        Some(ports)
    } else {
        checks.push(PreCheck::failed("consul", problems.join("; ")));
        None
    }
}
