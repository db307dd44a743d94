//! What is true right now, read from the processes themselves: who the sentinels say the master
//! is (and whether that server agrees), where the floating sentinel answers with its myid, and
//! whether this host's Redis is a healthy replica. Every decision of a run starts here, never
//! from the arguments Sentinel passed, which may describe an older failover.
//!
//! "Not running" is only ever concluded from a refused TCP connection or another myid on the
//! port; a timeout proves nothing (a frozen or unreachable host still may run the sentinel).
//! Still one piece past 400 lines: probing and reading the probes are one job, and a third of
//! the file is its tests.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

use super::settings::Settings;
use crate::addr::HostPort;
use crate::redis::{ConnectOptions, Error, MasterVotes, RedisConn, Role, SentinelConn, SentinelMaster, SentinelPeer, ServerKind};

/// What one TCP port showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortState {
    /// Something accepted the connection.
    Open,
    /// The host answered that nothing listens there: proof that no sentinel runs on it.
    Refused,
    /// No answer in time, no route, or a name that does not resolve: proves nothing.
    NoAnswer(String),
}

/// Connects and hangs up, telling "nothing listens" apart from "no answer".
pub fn probe_port(addr: &HostPort, timeout: Duration) -> PortState {
    let sockets: Vec<SocketAddr> = match (addr.host.as_str(), addr.port).to_socket_addrs() {
        Ok(list) => list.collect(),
        Err(e) => return PortState::NoAnswer(format!("cannot resolve {}: {e}", addr.host)),
    };
    let Some(socket) = sockets.first() else { return PortState::NoAnswer(format!("{} resolves to no address", addr.host)) };
    match TcpStream::connect_timeout(socket, timeout) {
        Ok(_) => PortState::Open,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => PortState::Refused,
        Err(e) => PortState::NoAnswer(format!("{addr}: {e}")),
    }
}

/// A sentinel's answers about the monitored master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelView {
    pub myid: String,
    /// `GET-MASTER-ADDR-BY-NAME`; `None` when it does not monitor the name.
    pub master_addr: Option<HostPort>,
    /// `SENTINEL MASTER`, when it monitors the name.
    pub master: Option<SentinelMaster>,
    /// `SENTINEL SENTINELS`: the other sentinels it knows.
    pub peers: Vec<SentinelPeer>,
}

/// What asking one sentinel address gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nothing listens on the port.
    Refused,
    /// No answer (timeout, unreachable host): unknown whether it runs.
    NoAnswer(String),
    /// Something listens, but a query failed (wrong password, not a sentinel …).
    Failed(Error),
    Answered(SentinelView),
}

impl Probe {
    pub fn view(&self) -> Option<&SentinelView> {
        match self {
            Probe::Answered(v) => Some(v),
            _ => None,
        }
    }
}

/// Asks the sentinel at `addr` everything a run needs about master `name`.
pub fn probe_sentinel(addr: &HostPort, name: &str, opts: &ConnectOptions) -> Probe {
    match probe_port(addr, opts.connect_timeout) {
        PortState::Refused => return Probe::Refused,
        PortState::NoAnswer(detail) => return Probe::NoAnswer(detail),
        PortState::Open => {}
    }
    let ask = || -> Result<SentinelView, Error> {
        let mut conn = SentinelConn::connect(addr, opts)?;
        let myid = conn.myid()?.to_ascii_lowercase();
        let master_addr = conn.master_addr(name)?;
        let (master, peers) = match master_addr {
            Some(_) => (Some(conn.master(name)?), conn.sentinels(name)?),
            None => (None, Vec::new()),
        };
        Ok(SentinelView { myid, master_addr, master, peers })
    };
    match ask() {
        Ok(view) => Probe::Answered(view),
        Err(e) if e.is_no_answer() => Probe::NoAnswer(e.to_string()),
        Err(e) => Probe::Failed(e),
    }
}

/// Where the floating sentinel was found at one of its two addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Presence {
    /// It answers there with its myid.
    Running,
    /// Nothing listens there.
    Stopped,
    /// A sentinel with another myid listens there: not ours, and ours cannot start there.
    Foreign { myid: String },
    /// Nothing could be proven (no answer in time, or not a sentinel that answers).
    Unknown { detail: String },
}

impl Presence {
    fn of(probe: &Probe, myid: &str) -> Presence {
        match probe {
            Probe::Refused => Presence::Stopped,
            Probe::NoAnswer(detail) => Presence::Unknown { detail: detail.clone() },
            Probe::Failed(e) => Presence::Unknown { detail: e.to_string() },
            Probe::Answered(v) if v.myid == myid => Presence::Running,
            Probe::Answered(v) => Presence::Foreign { myid: v.myid.clone() },
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self, Presence::Running)
    }
}

/// Which host something is on, from this host's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Here,
    Peer,
}

/// Everything one look at the two hosts found.
#[derive(Debug, Clone)]
pub struct Observation {
    pub here_fixed: Probe,
    pub peer_fixed: Probe,
    pub here_floating: Probe,
    pub peer_floating: Probe,
    /// The three sentinels' answers, the floating one counted once wherever it runs.
    pub votes: MasterVotes,
    /// The master a majority of the three named, if any.
    pub voted: Option<HostPort>,
    /// `ROLE` of the voted master.
    pub master_role: Option<Result<Role, Error>>,
    pub here_redis: Result<Role, Error>,
    pub peer_redis: Result<Role, Error>,
}

/// The master as a run must treat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterFact {
    /// No master yet that a majority of the sentinels names and that says `master` itself.
    Unsettled(String),
    /// Settled, and neither of the two configured Redis servers: the settings are wrong.
    Stranger(HostPort),
    /// Settled on this host or the peer.
    On(Side, HostPort),
}

impl Observation {
    /// Looks at both hosts, all probes at once so a frozen host costs one timeout.
    pub fn take(s: &Settings) -> Observation {
        let name = s.master_name.as_str();
        let opts = &s.connect;
        let (here_fixed, peer_fixed, here_floating, peer_floating, here_redis, peer_redis) = std::thread::scope(|scope| {
            let sentinel = |addr: &HostPort| {
                let addr = addr.clone();
                scope.spawn(move || probe_sentinel(&addr, name, opts))
            };
            let redis = |addr: &HostPort| {
                let addr = addr.clone();
                scope.spawn(move || RedisConn::connect(&addr, opts).and_then(|mut c| c.role()))
            };
            let handles = (
                sentinel(&s.here.sentinel),
                sentinel(&s.peer.sentinel),
                sentinel(&s.here.floating),
                sentinel(&s.peer.floating),
                redis(&s.here.redis),
                redis(&s.peer.redis),
            );
            let lost = |addr: &HostPort| format!("the probe of {addr} panicked");
            (
                handles.0.join().unwrap_or_else(|_| Probe::NoAnswer(lost(&s.here.sentinel))),
                handles.1.join().unwrap_or_else(|_| Probe::NoAnswer(lost(&s.peer.sentinel))),
                handles.2.join().unwrap_or_else(|_| Probe::NoAnswer(lost(&s.here.floating))),
                handles.3.join().unwrap_or_else(|_| Probe::NoAnswer(lost(&s.peer.floating))),
                handles.4.join().unwrap_or_else(|_| Err(panicked(ServerKind::Redis, &s.here.redis))),
                handles.5.join().unwrap_or_else(|_| Err(panicked(ServerKind::Redis, &s.peer.redis))),
            )
        });
        let votes = count_votes(s, [(&s.here.sentinel, &here_fixed), (&s.peer.sentinel, &peer_fixed)], [
            (&s.here.floating, &here_floating),
            (&s.peer.floating, &peer_floating),
        ]);
        let voted = votes.majority_of_asked();
        let master_role = voted.as_ref().map(|m| {
            if *m == s.here.redis {
                here_redis.clone()
            } else if *m == s.peer.redis {
                peer_redis.clone()
            } else {
                RedisConn::connect(m, opts).and_then(|mut c| c.role())
            }
        });
        Observation { here_fixed, peer_fixed, here_floating, peer_floating, votes, voted, master_role, here_redis, peer_redis }
    }

    pub fn floating_here(&self, s: &Settings) -> Presence {
        Presence::of(&self.here_floating, &s.floating_myid)
    }

    pub fn floating_peer(&self, s: &Settings) -> Presence {
        Presence::of(&self.peer_floating, &s.floating_myid)
    }

    /// The master, once a majority of the three sentinels names it and it reports `master`.
    pub fn master(&self, s: &Settings) -> MasterFact {
        let Some(voted) = &self.voted else {
            let tally: Vec<String> = self.votes.tally().iter().map(|(m, n)| format!("{m} ({n})")).collect();
            let said = if tally.is_empty() { "none named a master".to_string() } else { format!("they named {}", tally.join(", ")) };
            return MasterFact::Unsettled(format!(
                "no master is named by 2 of the 3 sentinels ({} of 3 answered; {said})",
                self.votes.answers.len()
            ));
        };
        match &self.master_role {
            Some(Ok(Role::Master { .. })) => {}
            Some(Ok(Role::Replica { master, .. })) => {
                return MasterFact::Unsettled(format!("the sentinels name {voted}, but it is still a replica of {master}"));
            }
            Some(Ok(Role::Sentinel { .. })) => return MasterFact::Unsettled(format!("the sentinels name {voted}, but it is a sentinel")),
            Some(Err(e)) => return MasterFact::Unsettled(format!("the sentinels name {voted}, but {e}")),
            None => return MasterFact::Unsettled(format!("the sentinels name {voted}, but it was not asked")),
        }
        if *voted == s.here.redis {
            MasterFact::On(Side::Here, voted.clone())
        } else if *voted == s.peer.redis {
            MasterFact::On(Side::Peer, voted.clone())
        } else {
            MasterFact::Stranger(voted.clone())
        }
    }

    /// The four sentinel addresses with what each showed: fixed here, fixed peer, floating
    /// here, floating peer.
    pub fn probes<'a>(&'a self, s: &Settings) -> [(HostPort, &'a Probe); 4] {
        [
            (s.here.sentinel.clone(), &self.here_fixed),
            (s.peer.sentinel.clone(), &self.peer_fixed),
            (s.here.floating.clone(), &self.here_floating),
            (s.peer.floating.clone(), &self.peer_floating),
        ]
    }

    /// Sentinels that report a failover running, or the master down: no time to move a voter.
    pub fn failover_signs(&self, s: &Settings) -> Vec<String> {
        let mut signs = Vec::new();
        for (addr, probe) in self.probes(s) {
            let Some(m) = probe.view().and_then(|v| v.master.as_ref()) else { continue };
            let flags: Vec<&str> =
                m.flags.iter().map(String::as_str).filter(|f| ["failover_in_progress", "s_down", "o_down"].contains(f)).collect();
            if !flags.is_empty() || m.failover_state.is_some() {
                let state = m.failover_state.as_deref().map(|st| format!(" (failover-state {st})")).unwrap_or_default();
                signs.push(format!("sentinel {addr} flags master {} {}{state}", m.addr(), flags.join(",")));
            }
        }
        signs
    }

    /// Whether this host's Redis is a replica of `master` with its link up.
    pub fn here_is_healthy_replica_of(&self, master: &HostPort) -> Result<(), String> {
        match &self.here_redis {
            Ok(Role::Replica { master: m, state, .. }) if m == master && state == "connected" => Ok(()),
            Ok(Role::Replica { master: m, state, .. }) if m == master => Err(format!("its link to {master} is {state}")),
            Ok(Role::Replica { master: m, .. }) => Err(format!("it replicates {m}, not {master}")),
            Ok(Role::Master { .. }) => Err("it is still a master (Sentinel demotes a returning old master after about 10s)".into()),
            Ok(Role::Sentinel { .. }) => Err("it is a sentinel".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// How long ago the master last changed: the largest `role-reported-time` (ms since the
    /// master entry was created or its role last changed) among the sentinels that answered, so
    /// a sentinel that only just (re)started does not make a quiet master look new.
    pub fn master_age(&self, s: &Settings) -> Option<Duration> {
        self.probes(s)
            .iter()
            .filter_map(|(_, p)| p.view()?.master.as_ref()?.fields.get("role-reported-time")?.parse::<u64>().ok())
            .max()
            .map(Duration::from_millis)
    }

    /// The fixed sentinels that could not be asked, with why.
    pub fn unseen_fixed(&self, s: &Settings) -> Vec<String> {
        [(&s.here.sentinel, &self.here_fixed), (&s.peer.sentinel, &self.peer_fixed)]
            .into_iter()
            .filter_map(|(addr, p)| match p {
                Probe::Answered(v) if v.master.is_some() => None,
                Probe::Answered(_) => Some(format!("sentinel {addr} does not monitor {}", s.master_name)),
                Probe::Refused => Some(format!("sentinel {addr}: nothing listens")),
                Probe::NoAnswer(d) => Some(format!("sentinel {addr}: {d}")),
                Probe::Failed(e) => Some(e.to_string()),
            })
            .collect()
    }

    /// Parameters of the monitor as the fixed sentinels have them, to give the floating one the same.
    pub fn learned_master(&self) -> Option<&SentinelMaster> {
        [&self.here_fixed, &self.peer_fixed].into_iter().filter_map(|p| p.view()?.master.as_ref()).next()
    }
}

fn panicked(kind: ServerKind, addr: &HostPort) -> Error {
    Error::Protocol { kind, addr: addr.clone(), command: "probe".into(), detail: "the probe thread panicked".into() }
}

/// Turns four probes into three votes: each fixed sentinel votes where it stands; the floating
/// one votes once, from whichever of its two addresses answers with its myid. Answering on both
/// (a duplicate) counts only if both say the same.
fn count_votes(s: &Settings, fixed: [(&HostPort, &Probe); 2], floating: [(&HostPort, &Probe); 2]) -> MasterVotes {
    let name = s.master_name.clone();
    let mut votes = MasterVotes { name, answers: Vec::new(), failures: Vec::new() };
    let failure = |addr: &HostPort, detail: String| Error::Unreachable { kind: ServerKind::Sentinel, addr: addr.clone(), detail };
    for (addr, probe) in fixed {
        match probe {
            Probe::Answered(v) => votes.answers.push((addr.clone(), v.master_addr.clone())),
            Probe::Failed(e) => votes.failures.push((addr.clone(), e.clone())),
            Probe::Refused => votes.failures.push((addr.clone(), failure(addr, "connection refused".into()))),
            Probe::NoAnswer(d) => votes.failures.push((addr.clone(), failure(addr, d.clone()))),
        }
    }
    let ours: Vec<(&HostPort, &SentinelView)> =
        floating.iter().filter_map(|(a, p)| p.view().filter(|v| v.myid == s.floating_myid).map(|v| (*a, v))).collect();
    match ours.as_slice() {
        [(addr, v)] => votes.answers.push(((*addr).clone(), v.master_addr.clone())),
        [(addr, a), (_, b)] if a.master_addr == b.master_addr => votes.answers.push(((*addr).clone(), a.master_addr.clone())),
        [(addr, _), (other, _)] => {
            votes.failures.push(((*addr).clone(), failure(addr, format!("the floating sentinel answers on both {addr} and {other} and they disagree"))))
        }
        _ => {
            let addr = floating[1].0;
            votes.failures.push((addr.clone(), failure(addr, "the floating sentinel answers on neither host".into())));
        }
    }
    votes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebalance::settings::tests::{full, MYID};
    use crate::redis::RedisAuth;

    fn settings() -> Settings {
        full().resolve(RedisAuth::default(), Default::default()).unwrap()
    }

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn answered(myid: &str, master: Option<&str>) -> Probe {
        Probe::Answered(SentinelView { myid: myid.into(), master_addr: master.map(hp), master: None, peers: vec![] })
    }

    const FIXED: &str = "00000000000000000000000000000000000000a1";

    #[test]
    fn the_floating_sentinel_votes_once_wherever_it_runs() {
        let s = settings();
        let (a, b) = (answered(FIXED, Some("10.0.0.12:6379")), answered(FIXED, Some("10.0.0.12:6379")));
        let here = answered(MYID, Some("10.0.0.12:6379"));
        let v = count_votes(&s, [(&s.here.sentinel, &a), (&s.peer.sentinel, &b)], [(&s.here.floating, &here), (&s.peer.floating, &Probe::Refused)]);
        assert_eq!((v.asked(), v.answers.len()), (3, 3));
        assert_eq!(v.majority_of_asked(), Some(hp("10.0.0.12:6379")));
        // Running on both hosts and agreeing: still one vote.
        let v = count_votes(&s, [(&s.here.sentinel, &a), (&s.peer.sentinel, &b)], [(&s.here.floating, &here), (&s.peer.floating, &here.clone())]);
        assert_eq!(v.asked(), 3);
    }

    #[test]
    fn a_dead_host_leaves_two_of_three() {
        let s = settings();
        let dead = Probe::NoAnswer("timed out".into());
        let b = answered(FIXED, Some("10.0.0.12:6379"));
        let floating = answered(MYID, Some("10.0.0.12:6379"));
        let v = count_votes(&s, [(&s.here.sentinel, &dead), (&s.peer.sentinel, &b)], [(&s.here.floating, &dead), (&s.peer.floating, &floating)]);
        assert_eq!(v.majority_of_asked(), Some(hp("10.0.0.12:6379")));
    }

    #[test]
    fn a_foreign_sentinel_on_the_floating_port_does_not_vote() {
        let s = settings();
        let a = answered(FIXED, Some("10.0.0.11:6379"));
        let b = answered(FIXED, Some("10.0.0.12:6379"));
        let stranger = answered("00000000000000000000000000000000000000ee", Some("10.0.0.12:6379"));
        let v = count_votes(&s, [(&s.here.sentinel, &a), (&s.peer.sentinel, &b)], [(&s.here.floating, &Probe::Refused), (&s.peer.floating, &stranger)]);
        assert_eq!(v.majority_of_asked(), None);
        assert_eq!(Presence::of(&stranger, MYID), Presence::Foreign { myid: "00000000000000000000000000000000000000ee".into() });
    }

    #[test]
    fn only_a_refusal_proves_absence() {
        assert_eq!(Presence::of(&Probe::Refused, MYID), Presence::Stopped);
        assert!(matches!(Presence::of(&Probe::NoAnswer("timed out".into()), MYID), Presence::Unknown { .. }));
        assert!(Presence::of(&answered(MYID, None), MYID).is_running());
    }

    #[test]
    fn a_closed_loopback_port_is_refused() {
        // Bind, learn the port, close: nothing listens there any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(probe_port(&hp(&format!("127.0.0.1:{port}")), Duration::from_secs(1)), PortState::Open);
        drop(listener);
        assert_eq!(probe_port(&hp(&format!("127.0.0.1:{port}")), Duration::from_secs(1)), PortState::Refused);
    }
}
