//! `sentinel-rebalance status`: the placement, the quorum check and what `reconcile` on this
//! host would do, as a check outcome (text or JSON, exit 0/1/2 like a Consul check: passing when
//! converged and clean, warning when something should change or a stale sentinel is known,
//! critical when no master is agreed or a sentinel reports NOQUORUM). It only reads. Manual mode
//! and the post-failover block of the service ([`crate::hold`]) are shown when one holds.

use crate::check::{Outcome, Status, SubResult};

use super::observe::{MasterFact, Observation, Presence, Probe, Side};
use super::plan::{decide, Plan};
use super::quorum::QuorumCheck;
use super::run::{facts, floating_is_here};
use super::settings::Settings;

/// Looks at both hosts and reports; changes nothing.
pub fn status(s: &Settings) -> Outcome {
    let obs = Observation::take(s);
    let f = facts(s, &obs);
    let mut out = Outcome::new();

    let master = match &f.master {
        MasterFact::On(Side::Here, m) => SubResult::passing("master", format!("master {m} runs on this host")),
        MasterFact::On(Side::Peer, m) => SubResult::passing("master", format!("master {m} runs on the peer")),
        MasterFact::Unsettled(why) => SubResult::critical("master", format!("no agreed master: {why}")),
        MasterFact::Stranger(m) => SubResult::critical("master", format!("the sentinels' master {m} is neither this host's redis nor the peer's")),
    };
    let votes: Vec<String> = obs
        .votes
        .answers
        .iter()
        .map(|(s, m)| format!("sentinel {s} names {}", m.as_ref().map_or("no master".to_string(), ToString::to_string)))
        .chain(obs.votes.failures.iter().map(|(_, e)| format!("{e}")))
        .collect();
    out.push(master.with_details(votes.join("\n")));

    let floating = placement(s, &f);
    let probes: Vec<String> = obs.probes(s).iter().map(|(a, p)| format!("{a}: {}", describe(p))).collect();
    out.push(floating.with_details(probes.join("\n")));

    let running_somewhere = f.here.is_running() || f.peer.is_running();
    if running_somewhere {
        let check = QuorumCheck::take(&s.sentinel_addrs(floating_is_here(&f)), &s.master_name, &s.connect);
        let noquorum = check.entries.iter().any(|(_, r)| r.as_ref().is_ok_and(|q| !q.ckquorum.is_ok()));
        let status = match (check.is_clean(), noquorum) {
            (true, _) => Status::Passing,
            (false, true) => Status::Critical,
            (false, false) => Status::Warning,
        };
        out.push(SubResult::new(status, "quorum", check.summary()).with_details(check.lines().join("\n")));
    }

    let plan = decide(&f);
    let (status, text) = match &plan {
        Plan::Converged => (Status::Passing, "reconcile here would change nothing".to_string()),
        Plan::Stay(why) => {
            let status = if running_somewhere && !f.here.is_running() { Status::Passing } else { Status::Warning };
            (status, format!("reconcile here would change nothing: {why}"))
        }
        Plan::Wait(why) => (Status::Warning, format!("reconcile here would wait: {why}")),
        Plan::Act(action) => (Status::Warning, format!("reconcile here would {}", action.describe())),
        Plan::Refuse(why) => (Status::Critical, format!("reconcile here would refuse: {why}")),
    };
    out.push(SubResult::new(status, "plan", text));
    match &s.service {
        None => {
            out.push(SubResult::passing("consul", "no service configured: role tags are not published"));
        }
        Some(service) => {
            if let Some(hold) = hold(s, service) {
                out.push(hold);
            }
        }
    }
    if out.status() == Status::Passing {
        // Line 1 names the whole converged state, not just the first sub-result.
        let floating = if f.here.is_running() { &s.here.floating } else { &s.peer.floating };
        if let MasterFact::On(_, m) = &f.master {
            let summary = format!("master {m}, floating sentinel at {floating} on the replica's host, quorum clean");
            return out.with_summary(summary);
        }
    }
    out
}

/// Manual mode and the post-failover block of the service ([`crate::hold`]), when one holds:
/// shown, never judged (the line stays passing). Sentinel itself cannot be told: it fails over
/// on its own whatever the record says; `replica-priority 0` on every replica is the only
/// lever (docs/sentinel-rebalance.md). A record that cannot be read is said, and changes
/// nothing either.
fn hold(s: &Settings, service: &str) -> Option<SubResult> {
    let config = s.consul.clone().with_timeout(HOLD_TIMEOUT).with_deadline(std::time::Instant::now() + HOLD_TIMEOUT);
    let read = crate::consul::Client::new(&config).and_then(|client| crate::hold::read(&client, service));
    match read {
        Ok(holds) => holds.describe(std::time::SystemTime::now()).map(|line| {
            SubResult::passing("hold", format!("automatic failover is off for {service}: {line}"))
                .with_details("Sentinel is not told: it still fails over on its own (replica-priority 0 on every replica stops it)")
        }),
        Err(e) => Some(SubResult::passing("hold", format!("the hold of {service} could not be read: {e}"))),
    }
}

/// How long `status` waits for the hold record.
const HOLD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the floating sentinel is, judged against where it belongs.
fn placement(s: &Settings, f: &super::plan::Facts) -> SubResult {
    let belongs_here = match &f.master {
        MasterFact::On(side, _) => Some(*side == Side::Peer),
        _ => None,
    };
    match (&f.here, &f.peer, belongs_here) {
        (Presence::Running, Presence::Running, _) => SubResult::critical(
            "floating",
            format!("the floating sentinel runs twice, at {} and {}: peers flap between them", s.here.floating, s.peer.floating),
        ),
        (Presence::Running, _, Some(true)) | (_, Presence::Running, Some(false)) => {
            let at = if f.here.is_running() { &s.here.floating } else { &s.peer.floating };
            SubResult::passing("floating", format!("the floating sentinel runs at {at}, on the replica's host"))
        }
        (Presence::Running, _, _) | (_, Presence::Running, _) => {
            let at = if f.here.is_running() { &s.here.floating } else { &s.peer.floating };
            SubResult::warning("floating", format!("the floating sentinel runs at {at}, on the master's host (or no master is agreed)"))
        }
        _ => SubResult::warning("floating", "the floating sentinel runs on neither host"),
    }
}

fn describe(p: &Probe) -> String {
    match p {
        Probe::Refused => "nothing listens".into(),
        Probe::NoAnswer(d) => format!("no answer: {d}"),
        Probe::Failed(e) => format!("error: {e}"),
        Probe::Answered(v) => {
            let master = v.master_addr.as_ref().map_or("no master".to_string(), ToString::to_string);
            format!("sentinel myid {} names {master}, knows {} other sentinels", v.myid, v.peers.len())
        }
    }
}
