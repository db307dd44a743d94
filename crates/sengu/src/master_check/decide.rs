//! The decision table of redis-master-check, as pure functions: [`decide`] turns what was
//! observed (the local `INFO replication`, the sentinels' votes, the DNS answer, who this node
//! is) into health sub-results plus the actions to take (a tag [`Claim`], a [`FencePlan`]), and
//! [`finish`] folds the results of those actions into the final [`Outcome`]. Nothing here does
//! I/O, so every row of the table is a unit test below.
//!
//! The rows, for a local Redis that says `role:master` (modes `master` and `auto`):
//!
//! | sentinels (strict majority of those configured) | DNS `<master-tag>.<service>` | result |
//! |---|---|---|
//! | name this node | not asked (it could only be a note) | passing; claim master, demote the others |
//! | name another node, which says `role:master` | not asked | critical (stale master); claim replica; fence if enabled |
//! | name another node, which cannot be asked | not asked | critical (stale master); claim replica; never fence |
//! | name another node, which says it is a replica (the sentinels are behind a promotion) | like "not configured" | at best warning; claim nothing, never fence |
//! | configured, no majority | like "not configured" | at best warning ("cannot arbitrate") |
//! | not configured | only this node | passing |
//! | not configured | no such name (NXDOMAIN) or no records | passing: the only candidate |
//! | not configured | one other address | critical: the incumbent keeps its place |
//! | not configured | two or more addresses | critical, as the old script |
//! | not configured | lookup failed (down, timeout, SERVFAIL) | warning: uniqueness unproven, stay in DNS |
//!
//! The sentinels lag a promotion by about a second, and a planned switchover leaves the old
//! master alive as a replica of the new one: during that window the new master looks stale to
//! the majority. So the sentinels' "another node is master" counts only when that node agrees
//! (`ROLE` says master); one that cannot be asked does not overturn the majority. When it
//! denies, the verdict comes from DNS as without a majority, but at best warning (the
//! disagreement is real until the sentinels catch up), and nothing acts: no fence, no tags.
//! Whoever promoted this node (sentinel-rebalance, the drill) publishes its tag within
//! milliseconds, so DNS usually names only this node and the run is a warning, which keeps it
//! in DNS. A run that beats that publication sees DNS still naming the old master and is
//! critical, as any master DNS does not prove unique; it only lasts that run (the shipped
//! definitions want two failures before critical), and since nothing is paused or retagged,
//! writes keep flowing.
//!
//! The same window has a second face: when the old master is dead or hung, it cannot deny, so
//! for that second the node the sentinels are promoting looks like a stale master whose rival
//! cannot be asked. That verdict stays critical (a dead old master must never make a stale
//! master pass), but it is never fenced: a `CLIENT PAUSE … WRITE` holds Sentinel's hello
//! `PUBLISH` and, behind it on the same connection, its `PING`s and `INFO`, so the sentinels
//! would see their new master stop answering, call it down after `down-after-milliseconds`,
//! and fail over away from it, back to the stale master. Fencing waits for the sentinels'
//! master to say `role:master` itself.
//!
//! For a local replica (modes `replica` and `auto`): syncing (a full sync, or the handshake
//! before it, which `ROLE` tells apart from a lost master) is warning, a link down is
//! critical, no I/O from the master for more than `--max-lag` is warning; with a sentinel
//! majority, following another master than theirs (or being the node they call master) is
//! critical; without a majority the replica is at best warning. In mode `master` a replica is
//! critical (the seed layout keeps replicas out of DNS); in mode `replica` a master is critical.
//! A Redis that cannot be asked (down, frozen, refusing the login) is critical in every mode.
//!
//! One exception to "a link down is critical": while the sentinels that answer all still name
//! the master the replica lost, and the link has been down for at most `--max-lag`, the
//! replica is a warning. That is a crash as the sentinels see it before `down-after-milliseconds` and the
//! election: this replica is the best copy left and the one about to be promoted. Were it
//! critical, the promotion would retag an instance that is out of DNS, and DNS would name the
//! new master only at its next check run (up to an interval later); as a warning it stays in
//! DNS, so DNS names it the moment sentinel-rebalance flips the tags. A link down for longer,
//! or one the sentinels have moved on from, is critical.
//!
//! The module stays one piece past 400 lines on purpose: it is the table, read top to bottom,
//! and its tests (in `decide/tests.rs`) follow the same order.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use crate::addr::HostPort;
use crate::check::{Outcome, Status, SubResult};
use crate::dns::DnsError;
use crate::redis::{self, InfoRole, LinkStatus, MasterVotes, ReplicationInfo, Role};
use crate::roles::{self, Claim, Others, PublishReport, same_host};

/// What passing means: `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Pass only on the one true master (the seed layout: replicas stay critical).
    #[default]
    Master,
    /// Pass only on a healthy replica.
    Replica,
    /// Pass on the true master or a healthy replica (role mode, with tags telling them apart).
    Auto,
}

/// Where this node's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// `--advertise-ip`.
    Flag,
    /// The local Consul agent's node address.
    Agent,
    /// The `--redis` host (not loopback).
    RedisHost,
}

/// The address this node is published under (in DNS, in the catalog, in the sentinels' view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Known { ip: IpAddr, source: IdentitySource },
    /// Nothing said who this node is; `reason` says why (e.g. the agent was unreachable).
    Unknown { reason: String },
}

impl Identity {
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Identity::Known { ip, .. } => Some(*ip),
            Identity::Unknown { .. } => None,
        }
    }
}

/// The answer for the master's DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The name asked, without the trailing dot.
    pub name: String,
    pub result: Result<Vec<IpAddr>, DnsError>,
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct Observations {
    /// `INFO replication` of the local Redis.
    pub local: Result<ReplicationInfo, redis::Error>,
    /// The replication state from `ROLE` (`connect`, `connecting`, `handshake`, `sync`,
    /// `connected`), asked only of a replica whose INFO shows the link down and no sync.
    pub replica_state: Option<String>,
    pub identity: Identity,
    /// `None` when no sentinel is configured.
    pub sentinels: Option<MasterVotes>,
    /// `None` when DNS was not asked (mode `replica`).
    pub dns: Option<DnsAnswer>,
    /// What the node a sentinel majority names master says of itself, asked only of a local
    /// master when that node is another one.
    pub named_master: Option<NamedMaster>,
}

/// The `ROLE` of the node the sentinels name master, asked at `addr`.
#[derive(Debug, Clone)]
pub struct NamedMaster {
    pub addr: HostPort,
    pub role: Result<Role, redis::Error>,
}

/// Why the sentinels' "another node is master" stands.
struct Standing {
    /// For the details: what that node said, or why it said nothing.
    text: String,
    /// It said `role:master` itself. Only then may this node be fenced: until then it may be
    /// the one the sentinels are promoting (see the module doc).
    confirmed: bool,
}

/// Whether the sentinels' master is really one: `Err(why)` when it says otherwise, which
/// means the sentinels have not caught up with a promotion yet. A node that cannot be asked
/// (or was not) leaves the sentinels' word standing, unconfirmed: a dead old master must never
/// make a stale master pass.
fn confirms(named: Option<&NamedMaster>, master: &HostPort, me: &HostPort) -> Result<Standing, String> {
    let unconfirmed = |text: String| Ok(Standing { text, confirmed: false });
    let Some(named) = named.filter(|n| same_endpoint(&n.addr, master)) else {
        return unconfirmed(format!("{master} was not asked whether it is master"));
    };
    match &named.role {
        Ok(Role::Master { .. }) => Ok(Standing { text: format!("{master} says role:master"), confirmed: true }),
        Ok(Role::Replica { master: up, .. }) if same_endpoint(up, me) => Err("it is a replica of this node".to_string()),
        Ok(Role::Replica { master: up, .. }) => Err(format!("it is a replica of {up}")),
        Ok(Role::Sentinel { .. }) => Err("it is a sentinel".to_string()),
        Err(e) => unconfirmed(format!("{master} cannot confirm it: {e}")),
    }
}

/// The settings the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub service: String,
    /// `--redis`: named in messages when this node's own address is unknown.
    pub redis: HostPort,
    pub max_lag: Duration,
    pub fence: bool,
    /// How many sentinels exist, when `--sentinel` lists more places than that (a floating
    /// sentinel); `None`: as many as are listed.
    pub sentinel_count: Option<usize>,
}

/// What the sentinels decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arbitration {
    /// No `--sentinel` given.
    NotConfigured,
    /// A strict majority of the configured sentinels names `master`.
    Agreed { master: HostPort, votes: usize, of: usize },
    /// Sentinels are configured but no master has a strict majority of them.
    Unknown { of: usize, text: String, details: String },
}

/// Reads the votes. The majority is counted over the configured sentinels (`count`, else every
/// address asked), not over those that answered: after a partition the stale master's own
/// sentinel may be the only one reachable, and it still names the stale master, so one answer
/// must never be enough.
pub fn arbitrate(votes: Option<&MasterVotes>, count: Option<usize>) -> Arbitration {
    let Some(votes) = votes else { return Arbitration::NotConfigured };
    let of = count.unwrap_or_else(|| votes.asked());
    if let Some((master, n)) = votes.tally().into_iter().next().filter(|(_, n)| n * 2 > of) {
        return Arbitration::Agreed { master, votes: n, of };
    }
    let need = of / 2 + 1;
    let knowing = votes.answers.iter().filter(|(_, m)| m.is_some()).count();
    let text = if !votes.answers.is_empty() && knowing == 0 {
        format!("none of the {of} sentinels monitors a master named {:?}", votes.name)
    } else {
        let tally = votes.tally().iter().map(|(m, n)| format!("{m} {n}")).collect::<Vec<_>>().join(", ");
        let tally = if tally.is_empty() { "no votes".to_string() } else { format!("votes: {tally}") };
        format!("no master has {need} of the {of} configured sentinels ({} answered; {tally})", votes.answers.len())
    };
    let mut details = String::new();
    for (s, m) in &votes.answers {
        let _ = writeln!(details, "sentinel {s}: {}", m.as_ref().map_or("does not know the name".to_string(), |m| format!("names {m}")));
    }
    for (_, e) in &votes.failures {
        let _ = writeln!(details, "{e}");
    }
    Arbitration::Unknown { of, text, details: details.trim_end().to_string() }
}

/// What to do about a stale master: stop its writes and demote it to a replica of `master`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencePlan {
    /// This node.
    pub me: HostPort,
    /// The sentinels' master.
    pub master: HostPort,
}

/// The health verdict and the actions it calls for.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub results: Vec<SubResult>,
    /// Line 1 when the run passes (only used then; otherwise line 1 names the worst sub-result).
    pub summary: Option<String>,
    /// The role tags this node should carry, when it can tell.
    pub claim: Option<Claim>,
    pub fence: Option<FencePlan>,
}

impl Decision {
    fn push(&mut self, result: SubResult) {
        self.results.push(result);
    }

    /// The worst state so far; critical without results.
    pub fn status(&self) -> Status {
        self.results.iter().map(|r| r.status).max().unwrap_or(Status::Critical)
    }
}

/// True when `a` and `b` are the same endpoint (IP addresses compared as addresses).
pub fn same_endpoint(a: &HostPort, b: &HostPort) -> bool {
    a.port == b.port && same_host(&a.host, &b.host)
}

/// The decision table (see the module doc).
pub fn decide(policy: &Policy, obs: &Observations) -> Decision {
    let arbitration = arbitrate(obs.sentinels.as_ref(), policy.sentinel_count);
    let me = obs.identity.ip().map(|ip| HostPort { host: ip.to_string(), port: policy.redis.port });
    let mut d = Decision::default();
    let info = match &obs.local {
        Ok(info) => info,
        Err(e) => {
            d.push(SubResult::critical("redis", e.to_string()));
            if let Identity::Unknown { reason } = &obs.identity {
                d.push(SubResult::warning("identity", unknown_identity(policy, reason)));
            }
            return d;
        }
    };
    match info.role {
        InfoRole::Master => decide_master(policy, obs, &arbitration, me.as_ref(), &mut d),
        InfoRole::Replica => decide_replica(policy, obs, &arbitration, me.as_ref(), info, &mut d),
    }
    d
}

fn unknown_identity(policy: &Policy, reason: &str) -> String {
    format!("cannot tell which address redis {} is published under ({reason}); set --advertise-ip", policy.redis)
}

fn decide_master(policy: &Policy, obs: &Observations, arbitration: &Arbitration, me: Option<&HostPort>, d: &mut Decision) {
    let Some(me) = me else {
        let reason = match &obs.identity {
            Identity::Unknown { reason } => reason.as_str(),
            Identity::Known { .. } => "",
        };
        d.push(SubResult::critical("identity", unknown_identity(policy, reason)));
        return;
    };
    if policy.mode == Mode::Replica {
        d.push(SubResult::critical("role", format!("redis {me} is a master, not a replica")));
    }
    let service = &policy.service;
    // Tags are left alone while the sentinels are behind a promotion: they are about to change
    // their verdict, and whoever promoted this node has published its tag already.
    let mut may_claim = true;
    match arbitration {
        Arbitration::Agreed { master, votes, of } if same_endpoint(master, me) => {
            d.push(SubResult::passing("sentinels", format!("{votes} of {of} sentinels name redis {me} master")));
            if let Some(dns) = &obs.dns {
                d.push(dns_note(dns, me));
            }
            d.claim = Some(Claim::Master { at: me.clone(), others: Others::Demote });
        }
        Arbitration::Agreed { master, votes, of } => match confirms(obs.named_master.as_ref(), master, me) {
            Ok(standing) => {
                d.push(
                    SubResult::critical(
                        "sentinels",
                        format!("redis {me} is a stale master: {votes} of {of} sentinels name {master} master of {service}"),
                    )
                    .with_details(standing.text),
                );
                d.claim = Some(Claim::Replica { at: me.clone() });
                if policy.fence && standing.confirmed {
                    d.fence = Some(FencePlan { me: me.clone(), master: master.clone() });
                } else if policy.fence {
                    d.push(
                        SubResult::critical("fence", format!("stale master {me} not fenced: {master} did not say role:master"))
                            .with_details(
                                "until it does, this node may be the one the sentinels are promoting, and a pause would \
                                 make them fail over away from it",
                            ),
                    );
                }
                return;
            }
            // As if no majority had decided: DNS uniqueness is the proof, and nothing acts.
            Err(denial) => {
                d.push(SubResult::warning(
                    "sentinels",
                    format!("sentinels cannot arbitrate: {votes} of {of} sentinels name {master} master, but {denial}; they are behind"),
                ));
                uniqueness(obs, me, d);
                may_claim = false;
            }
        },
        Arbitration::Unknown { text, details, .. } => {
            d.push(SubResult::warning("sentinels", format!("sentinels cannot arbitrate: {text}")).with_details(details.clone()));
            uniqueness(obs, me, d);
        }
        Arbitration::NotConfigured => uniqueness(obs, me, d),
    }
    let master_part_ok = d.results.iter().filter(|r| r.name != "role").all(|r| r.status != Status::Critical);
    if may_claim && d.claim.is_none() && master_part_ok {
        d.claim = Some(Claim::Master { at: me.clone(), others: Others::Respect });
    }
    if policy.mode != Mode::Replica {
        d.summary = Some(format!("redis {me} is the master of {service}"));
    }
}

/// Without a sentinel majority, the master's DNS name is what proves there is one master.
fn uniqueness(obs: &Observations, me: &HostPort, d: &mut Decision) {
    let Some(dns) = &obs.dns else { return };
    let name = &dns.name;
    let result = match &dns.result {
        Ok(addrs) => match addrs.as_slice() {
            [one] if same_host(&one.to_string(), &me.host) => SubResult::passing("dns", format!("{name} names only this node")),
            [other] => SubResult::critical("dns", format!("{name} names another master, {other}; redis {me} must not take its place")),
            many => SubResult::critical("dns", format!("{name} lists {} masters: {}", many.len(), list(many))),
        },
        Err(e) if e.is_negative_answer() => {
            SubResult::passing("dns", format!("{name} names no master; redis {me} is the only candidate")).with_details(e.to_string())
        }
        Err(e) => SubResult::warning("dns", format!("cannot prove that redis {me} is the only master: {e}")),
    };
    d.push(result);
}

/// What DNS says while the sentinels have already decided: for the operator only.
fn dns_note(dns: &DnsAnswer, me: &HostPort) -> SubResult {
    let name = &dns.name;
    let text = match &dns.result {
        Ok(addrs) if addrs.len() == 1 && same_host(&addrs[0].to_string(), &me.host) => format!("{name} names this node"),
        Ok(addrs) => format!("{name} lists {} (the sentinels decide)", list(addrs)),
        Err(e) => format!("{e} (the sentinels decide)"),
    };
    SubResult::passing("dns", text)
}

fn list(addrs: &[IpAddr]) -> String {
    addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

fn decide_replica(
    policy: &Policy,
    obs: &Observations,
    arbitration: &Arbitration,
    me: Option<&HostPort>,
    info: &ReplicationInfo,
    d: &mut Decision,
) {
    let label = me.unwrap_or(&policy.redis);
    if let Some(me) = me {
        d.claim = Some(Claim::Replica { at: me.clone() });
    }
    let Some(link) = &info.master else {
        d.push(SubResult::critical("redis", format!("redis {label} says role:slave but names no master")));
        return;
    };
    let upstream = link.addr();
    if policy.mode == Mode::Master {
        d.push(SubResult::critical("role", format!("redis {label} is a replica of {upstream}")));
        return;
    }
    let lag = Duration::from_secs(u64::try_from(link.last_io_seconds_ago).unwrap_or(0));
    let details = format!(
        "master_link_status: {}\nmaster_last_io_seconds_ago: {}\nmaster_sync_in_progress: {}{}{}",
        if link.link_status == LinkStatus::Up { "up" } else { "down" },
        link.last_io_seconds_ago,
        u8::from(link.sync_in_progress),
        link.link_down_since_seconds.map(|s| format!("\nmaster_link_down_since_seconds: {s}")).unwrap_or_default(),
        obs.replica_state.as_deref().map(|s| format!("\nrole state: {s}")).unwrap_or_default(),
    );
    // A handshake includes waiting for the master's BGSAVE before a full sync: syncing too.
    let syncing = link.sync_in_progress || matches!(obs.replica_state.as_deref(), Some("handshake" | "sync"));
    let replication = if syncing {
        SubResult::warning("replication", format!("replica {label} is syncing from {upstream}"))
    } else if link.link_status == LinkStatus::Down && failover_pending(obs.sentinels.as_ref(), &upstream, link, policy.max_lag) {
        // The candidate of a failover: it must not leave DNS now, or the moment the promotion
        // retags it, DNS would wait for its next run (see the module doc).
        SubResult::warning(
            "replication",
            format!("replica {label} has lost its master {upstream}, which the sentinels still name: a failover may be under way"),
        )
    } else if link.link_status == LinkStatus::Down {
        SubResult::critical("replication", format!("replica {label} has lost its master {upstream}"))
    } else if lag > policy.max_lag {
        SubResult::warning(
            "replication",
            format!("replica {label} lags behind {upstream}: no data for more than {}", humantime::format_duration(policy.max_lag)),
        )
    } else {
        SubResult::passing("replication", format!("link to {upstream} is up"))
    };
    d.push(replication.with_details(details));
    match arbitration {
        Arbitration::Agreed { master, votes, of } if me.is_some_and(|me| same_endpoint(master, me)) => {
            d.push(SubResult::critical(
                "sentinels",
                format!("{votes} of {of} sentinels name redis {label} master, but it is a replica of {upstream}"),
            ));
        }
        Arbitration::Agreed { master, votes, of } if !same_endpoint(master, &upstream) => {
            d.push(SubResult::critical(
                "sentinels",
                format!("replica {label} follows {upstream}, but {votes} of {of} sentinels name {master} master"),
            ));
        }
        Arbitration::Agreed { master, votes, of } => {
            d.push(SubResult::passing("sentinels", format!("{votes} of {of} sentinels name {master} master")));
        }
        Arbitration::Unknown { text, details, .. } => {
            d.push(
                SubResult::warning("sentinels", format!("cannot confirm the master of replica {label}: {text}"))
                    .with_details(details.clone()),
            );
        }
        Arbitration::NotConfigured => {}
    }
    if let (None, Identity::Unknown { reason }) = (me, &obs.identity) {
        d.push(SubResult::warning("identity", unknown_identity(policy, reason)));
    }
    d.summary = Some(format!("redis {label} is a healthy replica of {upstream}"));
}

/// A replica whose link went down at most `max_lag` ago while the sentinels that answer all
/// still name the master it lost (at least one does): they have not decided yet whether that
/// master is gone. No majority is needed: this only keeps a replica a warning, and when its
/// master's host dies, the sentinels there die with it.
fn failover_pending(votes: Option<&MasterVotes>, upstream: &HostPort, link: &redis::MasterLink, max_lag: Duration) -> bool {
    let named: Vec<&HostPort> = votes.map(|v| v.answers.iter().filter_map(|(_, m)| m.as_ref()).collect()).unwrap_or_default();
    let still_upstream = !named.is_empty() && named.iter().all(|m| same_endpoint(m, upstream));
    let recent = link.link_down_since_seconds.and_then(|s| u64::try_from(s).ok()).is_some_and(|s| Duration::from_secs(s) <= max_lag);
    still_upstream && recent
}

/// How fencing went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceResult {
    /// Writes were paused, then the node was demoted to a replica of `to`, as Sentinel does it.
    Demoted { me: HostPort, to: HostPort },
    /// Writes are paused for `duration` (renewed every run); demoting was not safe: `reason`.
    Paused { me: HostPort, duration: Duration, reason: String },
    /// Nothing was done: a sentinel shows a switch to this node under way (`reason`).
    Held { me: HostPort, reason: String },
    /// Fencing failed (the local Redis did not accept the commands).
    Failed { me: HostPort, error: String },
}

/// Folds the actions' results into the outcome. A publish failure is a warning (the health
/// verdict stays in the details and is never hidden: critical stays critical); fencing only
/// happens on a stale master, which is critical.
pub fn finish(d: Decision, fence: Option<FenceResult>, publish: Option<Result<PublishReport, roles::Error>>) -> Outcome {
    let health = d.status();
    let summary = d.summary.clone().filter(|_| health == Status::Passing);
    let health_line = format!("{}: {}", health.label(), summary.as_deref().unwrap_or_else(|| worst_text(&d.results)));
    let mut out = Outcome::new();
    for r in &d.results {
        out.push(r.clone());
    }
    match fence {
        Some(FenceResult::Demoted { me, to }) => {
            out.push(SubResult::critical("fence", format!("demoted stale master {me} to a replica of {to}, as Sentinel would")));
        }
        Some(FenceResult::Paused { me, duration, reason }) => {
            out.push(SubResult::critical(
                "fence",
                format!("writes to stale master {me} are paused for {}; not demoted: {reason}", humantime::format_duration(duration)),
            ));
        }
        Some(FenceResult::Held { me, reason }) => {
            out.push(SubResult::critical("fence", format!("stale master {me} not fenced: {reason}")));
        }
        Some(FenceResult::Failed { me, error }) => {
            out.push(SubResult::critical("fence", format!("cannot fence stale master {me}: {error}")));
        }
        None => {}
    }
    let role = match &d.claim {
        Some(Claim::Master { .. }) => roles::Role::Master,
        _ => roles::Role::Replica,
    };
    match publish {
        Some(Ok(report)) if !report.changes.is_empty() => {
            let changes = report.changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            out.push(SubResult::passing("tags", format!("retagged for {role}")).with_details(changes));
        }
        Some(Ok(PublishReport { held_by: Some(holder), .. })) => {
            out.push(SubResult::warning(
                "tags",
                format!("{holder} holds the master tag and is not critical; without a sentinel majority it keeps it"),
            ));
        }
        Some(Ok(_)) => {
            out.push(SubResult::passing("tags", format!("tagged {role}")));
        }
        Some(Err(e)) => {
            out.push(SubResult::warning("tags", format!("role tags not published: {e}")).with_details(health_line));
        }
        None => {}
    }
    match summary {
        Some(summary) if out.status() == Status::Passing => out.with_summary(summary),
        _ => out,
    }
}

fn worst_text(results: &[SubResult]) -> &str {
    let worst = results.iter().map(|r| r.status).max();
    results.iter().find(|r| Some(r.status) == worst).map_or("no result", |r| r.text.as_str())
}

#[cfg(test)]
mod tests;
