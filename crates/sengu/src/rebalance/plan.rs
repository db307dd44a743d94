//! The decision, kept pure so every case is a unit test: from what was observed (the master's
//! side, where the floating sentinel answers, whether this host's Redis is a healthy replica,
//! whether a failover is running) to what this host's run does now.
//!
//! The rule: the floating sentinel belongs on the host that does *not* run the master. Only the
//! host it belongs on ever starts it ("pull"): that host first proves the other copy is gone
//! (asks it to shut down, then sees its port refuse connections) and only then starts its own.
//! The master's host never starts it and never gives it away on its own; it only stops a second
//! copy. So two hosts can never both decide to run it.

use std::time::Duration;

use serde::Serialize;

use super::observe::{MasterFact, Presence, Side};

/// What a run observed, reduced to what the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub master: MasterFact,
    /// The floating sentinel at this host's floating address.
    pub here: Presence,
    /// The floating sentinel at the peer's floating address.
    pub peer: Presence,
    /// Signs of a failover under way (flags, failover-state); empty when quiet.
    pub failover_signs: Vec<String>,
    /// `Ok` when this host's Redis is a replica of the master with its link up; else why not.
    pub here_replica: Result<(), String>,
    /// Fixed sentinels that could not be asked: their failover flags are unknown.
    pub unseen: Vec<String>,
    /// How long ago the master last changed, as the sentinel that saw it longest ago says
    /// (`role-reported-time` of its master entry); `None` when no sentinel said.
    pub master_age: Option<Duration>,
    /// No sentinel is moved until the master has been the master this long.
    pub settle: Duration,
}

/// A change to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Shut the peer's floating sentinel down, prove it is gone, then start it here.
    Move,
    /// Nothing runs on the peer (proven): start it here.
    Start,
    /// It runs on both hosts and belongs here: shut the peer's copy down.
    StopPeer,
    /// It runs on both hosts and belongs on the peer: stop this host's copy.
    StopHere,
}

impl Action {
    pub fn describe(self) -> &'static str {
        match self {
            Action::Move => "move the floating sentinel from the peer to this host",
            Action::Start => "start the floating sentinel on this host",
            Action::StopPeer => "shut down the second floating sentinel, on the peer",
            Action::StopHere => "stop the second floating sentinel, on this host",
        }
    }
}

/// What this host's run does now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "plan", content = "why", rename_all = "kebab-case")]
pub enum Plan {
    /// The floating sentinel runs where it belongs.
    Converged,
    /// Nothing for this host to do now (the run exits 0): the other host's run acts, or no
    /// move is possible yet (the peer is down).
    Stay(String),
    /// Not yet: look again until the run's budget is spent, then exit 1 so Sentinel retries.
    Wait(String),
    Act(Action),
    /// Cannot work with these settings or this state (exit 2, no retry).
    Refuse(String),
}

/// The decision; see the module doc for the rule.
pub fn decide(f: &Facts) -> Plan {
    let side = match &f.master {
        MasterFact::Unsettled(why) => return Plan::Wait(why.clone()),
        MasterFact::Stranger(m) => {
            return Plan::Refuse(format!("the sentinels' master {m} is neither this host's redis nor the peer's (check the settings)"));
        }
        MasterFact::On(side, _) => *side,
    };
    match side {
        // This host runs the master: the floating sentinel belongs on the peer.
        Side::Here => match (&f.here, &f.peer) {
            (Presence::Running, Presence::Running) => Plan::Act(Action::StopHere),
            (_, Presence::Running) => Plan::Converged,
            (Presence::Running, _) => Plan::Stay(
                "the floating sentinel stays on this host (the master's) until the peer is a healthy replica again and takes it over".into(),
            ),
            _ => Plan::Stay("the floating sentinel runs on neither host; the peer's run starts it".into()),
        },
        // The peer runs the master: the floating sentinel belongs here.
        Side::Peer => match (&f.here, &f.peer) {
            (Presence::Running, Presence::Running) => Plan::Act(Action::StopPeer),
            (Presence::Running, _) => Plan::Converged,
            (Presence::Foreign { myid }, _) => {
                Plan::Refuse(format!("this host's floating address is taken by a sentinel with myid {myid}, not the floating one"))
            }
            (Presence::Unknown { detail }, _) => Plan::Wait(format!("cannot tell whether the floating sentinel runs on this host: {detail}")),
            (Presence::Stopped, peer) => {
                if !f.failover_signs.is_empty() {
                    return Plan::Wait(format!("a failover is under way: {}", f.failover_signs.join("; ")));
                }
                if let Err(why) = &f.here_replica {
                    return Plan::Wait(format!("this host's redis is not a healthy replica yet: {why}"));
                }
                // A voter must not appear while an election may run unseen: every fixed
                // sentinel must have answered, and the last master change be old enough
                // (reference A4: a fresh process with an old myid could vote twice in one epoch).
                if !f.unseen.is_empty() {
                    return Plan::Wait(format!("cannot see every sentinel, so not every election: {}", f.unseen.join("; ")));
                }
                match f.master_age {
                    Some(age) if age >= f.settle => {}
                    Some(age) => {
                        return Plan::Wait(format!(
                            "the master changed {} ago; no sentinel moves within {} of a change",
                            crate::human::duration(Duration::from_secs(age.as_secs())),
                            crate::human::duration(f.settle)
                        ));
                    }
                    None => return Plan::Wait("no sentinel reports how long the master has been the master".into()),
                }
                match peer {
                    Presence::Running => Plan::Act(Action::Move),
                    Presence::Stopped | Presence::Foreign { .. } => Plan::Act(Action::Start),
                    Presence::Unknown { detail } => {
                        Plan::Wait(format!("cannot prove the floating sentinel is stopped on the peer: {detail}"))
                    }
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(side: Side, here: Presence, peer: Presence) -> Facts {
        Facts {
            master: MasterFact::On(side, "10.0.0.12:6379".parse().unwrap()),
            here,
            peer,
            failover_signs: vec![],
            here_replica: Ok(()),
            unseen: vec![],
            master_age: Some(Duration::from_secs(600)),
            settle: Duration::from_secs(180),
        }
    }

    use Presence::{Running, Stopped};

    fn unknown() -> Presence {
        Presence::Unknown { detail: "timed out".into() }
    }

    #[test]
    fn the_replica_host_pulls_the_floating_sentinel_from_the_master_host() {
        assert_eq!(decide(&facts(Side::Peer, Stopped, Running)), Plan::Act(Action::Move));
        assert_eq!(decide(&facts(Side::Peer, Stopped, Stopped)), Plan::Act(Action::Start));
        assert_eq!(decide(&facts(Side::Peer, Running, Stopped)), Plan::Converged);
    }

    #[test]
    fn the_master_host_never_starts_or_gives_away_the_floating_sentinel() {
        assert!(matches!(decide(&facts(Side::Here, Running, Stopped)), Plan::Stay(_)));
        assert!(matches!(decide(&facts(Side::Here, Running, unknown())), Plan::Stay(_)));
        assert!(matches!(decide(&facts(Side::Here, Stopped, Stopped)), Plan::Stay(_)));
        assert_eq!(decide(&facts(Side::Here, Stopped, Running)), Plan::Converged);
    }

    #[test]
    fn a_duplicate_is_stopped_on_the_host_it_does_not_belong_on() {
        assert_eq!(decide(&facts(Side::Here, Running, Running)), Plan::Act(Action::StopHere));
        assert_eq!(decide(&facts(Side::Peer, Running, Running)), Plan::Act(Action::StopPeer));
    }

    #[test]
    fn without_proof_that_the_peer_copy_is_gone_nothing_starts() {
        let plan = decide(&facts(Side::Peer, Stopped, unknown()));
        assert!(matches!(&plan, Plan::Wait(why) if why.contains("cannot prove")), "{plan:?}");
        assert!(matches!(decide(&facts(Side::Peer, unknown(), Stopped)), Plan::Wait(_)));
    }

    #[test]
    fn another_sentinel_on_the_peer_port_proves_ours_is_not_there() {
        let foreign = Presence::Foreign { myid: "ee".repeat(20) };
        assert_eq!(decide(&facts(Side::Peer, Stopped, foreign.clone())), Plan::Act(Action::Start));
        assert!(matches!(decide(&facts(Side::Peer, foreign, Stopped)), Plan::Refuse(_)));
    }

    #[test]
    fn no_move_until_this_host_is_a_healthy_replica_and_no_failover_runs() {
        let mut f = facts(Side::Peer, Stopped, Running);
        f.here_replica = Err("it is still a master".into());
        assert!(matches!(decide(&f), Plan::Wait(why) if why.contains("not a healthy replica")));
        let mut f = facts(Side::Peer, Stopped, Running);
        f.failover_signs = vec!["sentinel 10.0.0.12:26379 flags master 10.0.0.12:6379 failover_in_progress".into()];
        assert!(matches!(decide(&f), Plan::Wait(why) if why.contains("failover is under way")));
    }

    #[test]
    fn no_voter_appears_soon_after_a_master_change_or_while_a_sentinel_is_unseen() {
        let mut f = facts(Side::Peer, Stopped, Running);
        f.master_age = Some(Duration::from_secs(5));
        assert!(matches!(decide(&f), Plan::Wait(why) if why.contains("the master changed 5.0s ago; no sentinel moves within 3m")));
        f.master_age = None;
        assert!(matches!(decide(&f), Plan::Wait(_)));
        let mut f = facts(Side::Peer, Stopped, Stopped);
        f.unseen = vec!["sentinel 10.0.0.12:26379 is unreachable".into()];
        assert!(matches!(decide(&f), Plan::Wait(why) if why.contains("cannot see every sentinel")));
        // Stopping a second copy needs no such care.
        let mut f = facts(Side::Peer, Running, Running);
        f.unseen = vec!["x".into()];
        f.master_age = Some(Duration::ZERO);
        assert_eq!(decide(&f), Plan::Act(Action::StopPeer));
    }

    #[test]
    fn an_unsettled_or_strange_master_is_waited_for_or_refused() {
        let mut f = facts(Side::Peer, Stopped, Running);
        f.master = MasterFact::Unsettled("no master is named by 2 of the 3 sentinels".into());
        assert!(matches!(decide(&f), Plan::Wait(_)));
        f.master = MasterFact::Stranger("10.0.0.99:6379".parse().unwrap());
        assert!(matches!(decide(&f), Plan::Refuse(why) if why.contains("10.0.0.99:6379")));
    }
}
