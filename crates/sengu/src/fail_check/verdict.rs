//! The verdict as a pure function: from what each observer saw (this monitor, every replica,
//! optionally Consul) and what earlier runs remembered, to orchestrator's failure category,
//! this run's dead-or-alive opinion, and whether the death is confirmed (anti-flap). No I/O and
//! no clock, so every case is a unit test.
//!
//! The rule (orchestrator's holistic detection): the master is dead only when this monitor
//! cannot reach it *and* every replica that can be asked has lost its connection to it too. A
//! replica that still receives from the master proves it alive, whatever the monitor sees.
//!
//! It is one piece past 400 lines because the observation types exist only to be judged here:
//! splitting them from the table that reads them would split one vocabulary in two.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::state::{Seen, State};
use crate::addr::HostPort;
use crate::consul::CheckStatus;
use crate::mysql::{IoState, ThreadError};

/// A dead streak whose last run is older than this is forgotten: the runs were not consecutive
/// (mysqlfailover was stopped, or this monitor was down), so they confirm nothing.
pub const STREAK_EXPIRY: Duration = Duration::from_secs(600);

/// The least silence ever taken as a lost link, beyond one heartbeat period: a replica of an
/// idle master hears nothing between heartbeats, and this check samples only once per run.
const SILENCE_SLACK: Duration = Duration::from_secs(1);

/// What the checked master is known as: the address mysqlfailover passed plus configured
/// aliases, and its `@@server_id` once a run has reached it. A replica counts as a witness
/// only if its `Master_Host:Master_Port` is one of the addresses or its `Master_Server_Id` is
/// the recorded server id; a replica of some other master says nothing about this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub addresses: Vec<HostPort>,
    pub server_id: Option<u32>,
}

impl Identity {
    /// True when `link` replicates from this master.
    pub fn is_master_of(&self, link: &ReplicaLink) -> bool {
        let by_address = self.addresses.iter().any(|a| a.port == link.master.port && a.host.eq_ignore_ascii_case(&link.master.host));
        // Master_Server_Id is 0 until the replica has connected once.
        let by_server_id = matches!((self.server_id, link.master_server_id), (Some(ours), Some(theirs)) if ours == theirs && ours != 0);
        by_address || by_server_id
    }
}

/// This monitor's own view of the master: connect, then `SELECT @@server_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MonitorView {
    /// Connected and answered.
    Up { server_id: Option<u32> },
    /// A live server answered with an error (access denied, a refused query): it is alive, and
    /// this check's login needs fixing.
    Refusing { error: String },
    /// Nothing answered: refused, reset, unknown host, not MySQL.
    Unreachable { error: String },
    /// No answer in time: a frozen server or a black-holed network.
    Timeout { error: String },
}

impl MonitorView {
    /// True when a live server answered, even with an error.
    pub fn reached(&self) -> bool {
        matches!(self, MonitorView::Up { .. } | MonitorView::Refusing { .. })
    }
}

impl fmt::Display for MonitorView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorView::Up { server_id: Some(id) } => write!(f, "up (server_id {id})"),
            MonitorView::Up { server_id: None } => f.write_str("up"),
            MonitorView::Refusing { error } => write!(f, "answering but refusing this check: {error}"),
            MonitorView::Unreachable { error } => write!(f, "unreachable: {error}"),
            MonitorView::Timeout { error } => write!(f, "timeout: {error}"),
        }
    }
}

/// A replica's replication link as its status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLink {
    /// `Master_Host:Master_Port`.
    pub master: HostPort,
    /// `Master_Server_Id`: the server id of the master it last connected to (0 before that).
    pub master_server_id: Option<u32>,
    pub io: IoState,
    pub io_error: Option<ThreadError>,
    pub sql_running: bool,
    /// Changes whenever the replica receives anything from its master (events or heartbeats);
    /// `None` when the server keeps no heartbeat counter, so silence cannot be told from idleness.
    pub progress: Option<String>,
    /// `Slave_heartbeat_period`: how often an idle master sends a heartbeat; `None` or zero
    /// when unknown or off.
    pub heartbeat_period: Option<Duration>,
}

/// What asking one replica gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaView {
    /// The replica itself could not be asked.
    Unreachable { error: String },
    /// It answered, and is not configured as a replica.
    NotReplica,
    Link(ReplicaLink),
}

/// Consul's view of the master's node, from its local agent (`/v1/health/node/<node>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConsulView {
    Unreachable { error: String },
    /// Consul knows no such node (or it has no checks).
    UnknownNode { node: String },
    Node {
        node: String,
        /// The node's `serfHealth` check: critical when the cluster lost the node's agent.
        serf_health: Option<CheckStatus>,
        /// Names of the node's other checks that are not passing.
        failing: Vec<String>,
    },
}

impl ConsulView {
    /// True when Consul's gossip has lost the master's host.
    pub fn host_gone(&self) -> bool {
        matches!(self, ConsulView::Node { serf_health: Some(CheckStatus::Critical), .. })
    }
}

impl fmt::Display for ConsulView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsulView::Unreachable { error } => write!(f, "unreachable: {error}"),
            ConsulView::UnknownNode { node } => write!(f, "no node {node:?}"),
            ConsulView::Node { node, serf_health, failing } => {
                let serf = serf_health.map_or("absent", CheckStatus::as_str);
                write!(f, "node {node} serfHealth {serf}")?;
                if !failing.is_empty() {
                    write!(f, ", failing: {}", failing.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// Everything one run observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observations {
    pub now: SystemTime,
    pub monitor: MonitorView,
    /// Every replica asked, in the order they were found.
    pub replicas: Vec<(HostPort, ReplicaView)>,
    /// `None` when no Consul node is configured.
    pub consul: Option<ConsulView>,
}

/// What a replica's answer says about the checked master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Testimony {
    /// IO thread `Yes` and not silent: the master is alive.
    Receiving {
        /// Seconds since this replica's progress was last seen to change, when measurable.
        silent_secs: Option<u64>,
    },
    /// The IO thread is not connected, but its last error came from the master's server
    /// (e.g. 1045, the replication login was refused): the master is alive.
    MasterAnswered { io: IoState, code: u32 },
    /// Lost its connection to the master: IO `Connecting`, IO `No` after a connection error
    /// (retries used up), or IO `Yes` with nothing received for longer than the threshold.
    Lost {
        io: IoState,
        code: Option<u32>,
        silent_secs: Option<u64>,
    },
    /// IO thread stopped without a connection error (`STOP SLAVE`, a binlog error): it is not
    /// trying to reach the master, so it testifies neither way.
    Stopped { code: Option<u32> },
    /// The replica itself could not be asked.
    Unreachable { error: String },
    /// It replicates from another master: irrelevant to this one.
    OtherMaster { master: String },
    /// It is not a replica at all: irrelevant.
    NotReplica,
}

impl Testimony {
    /// The master is alive as far as this replica can tell.
    pub fn says_alive(&self) -> bool {
        matches!(self, Testimony::Receiving { .. } | Testimony::MasterAnswered { .. })
    }

    /// This replica lost the master.
    pub fn says_lost(&self) -> bool {
        matches!(self, Testimony::Lost { .. })
    }

    /// False for replicas of other masters and non-replicas.
    pub fn is_relevant(&self) -> bool {
        !matches!(self, Testimony::OtherMaster { .. } | Testimony::NotReplica)
    }
}

impl fmt::Display for Testimony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Testimony::Receiving { silent_secs: Some(s) } if *s > 0 => write!(f, "receiving (unchanged for {s}s)"),
            Testimony::Receiving { .. } => f.write_str("receiving"),
            Testimony::MasterAnswered { io, code } => write!(f, "master answered (IO {io}, error {code})"),
            Testimony::Lost { io, silent_secs: Some(s), .. } if *io == IoState::Running => {
                write!(f, "lost (IO Yes but nothing received for {s}s)")
            }
            Testimony::Lost { io, code: Some(code), .. } => write!(f, "lost (IO {io}, error {code})"),
            Testimony::Lost { io, .. } => write!(f, "lost (IO {io})"),
            Testimony::Stopped { code: Some(code) } => write!(f, "stopped (IO No, error {code})"),
            Testimony::Stopped { code: None } => f.write_str("stopped (IO No)"),
            Testimony::Unreachable { error } => write!(f, "unreachable: {error}"),
            Testimony::OtherMaster { master } => write!(f, "replicates from another master {master}"),
            Testimony::NotReplica => f.write_str("not a replica"),
        }
    }
}

/// One replica's address and answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    #[serde(serialize_with = "as_text")]
    pub addr: HostPort,
    #[serde(flatten)]
    pub testimony: Testimony,
}

/// The situation, named after orchestrator's failure analysis so logs read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Category {
    /// The monitor reached the master.
    NoProblem,
    /// The monitor reached the master, yet every replica that answered has lost it (a network
    /// split between master and replicas, or replication misconfigured): no failover.
    AllMasterReplicasNotReplicating,
    /// The monitor cannot reach the master, but a replica still receives from it: no failover.
    UnreachableMaster,
    /// The monitor cannot reach the master, and every replica lost it too: dead.
    DeadMaster,
    /// As DeadMaster, but some replicas could not be asked: dead.
    DeadMasterAndSomeReplicas,
    /// The monitor cannot reach the master, and no replica could be asked at all.
    DeadMasterAndReplicas,
    /// The monitor cannot reach the master, and no replica of it is known.
    DeadMasterWithoutReplicas,
    /// The monitor cannot reach the master, and the replicas that answered have stopped
    /// replication themselves, so none can tell.
    UnreachableMasterWithStoppedReplicas,
}

impl Category {
    /// The replicas confirmed the death.
    pub fn is_dead(self) -> bool {
        matches!(self, Category::DeadMaster | Category::DeadMasterAndSomeReplicas)
    }

    /// No replica could testify either way; [`WhenNoReplicas`] decides.
    pub fn lacks_witnesses(self) -> bool {
        matches!(
            self,
            Category::DeadMasterAndReplicas | Category::DeadMasterWithoutReplicas | Category::UnreachableMasterWithStoppedReplicas
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::NoProblem => "NoProblem",
            Category::AllMasterReplicasNotReplicating => "AllMasterReplicasNotReplicating",
            Category::UnreachableMaster => "UnreachableMaster",
            Category::DeadMaster => "DeadMaster",
            Category::DeadMasterAndSomeReplicas => "DeadMasterAndSomeReplicas",
            Category::DeadMasterAndReplicas => "DeadMasterAndReplicas",
            Category::DeadMasterWithoutReplicas => "DeadMasterWithoutReplicas",
            Category::UnreachableMasterWithStoppedReplicas => "UnreachableMasterWithStoppedReplicas",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to conclude when the monitor cannot reach the master and no replica can testify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WhenNoReplicas {
    /// Count the run as alive: a failover needs a witness besides this monitor.
    #[default]
    NoFailover,
    /// Count the run as dead: this monitor's view alone may start a failover.
    Failover,
    /// Count the run as dead only if Consul's `serfHealth` for the master's node is critical.
    Consul,
}

impl WhenNoReplicas {
    pub fn as_str(self) -> &'static str {
        match self {
            WhenNoReplicas::NoFailover => "no-failover",
            WhenNoReplicas::Failover => "failover",
            WhenNoReplicas::Consul => "consul",
        }
    }
}

/// How sure a run must be, and how to read replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Consecutive dead runs needed before a failover (at least 1).
    pub confirm_runs: u32,
    /// How long the master must have been seen dead before a failover.
    #[serde(serialize_with = "crate::human::exact")]
    pub fail_after: Duration,
    /// A replica whose IO thread says `Yes` but that received nothing for longer than this has
    /// lost its master. `None`: twice the replica's heartbeat period. Never below one period
    /// plus a second; not applied where the heartbeat period is unknown or off.
    #[serde(serialize_with = "crate::settings::optional_duration::serialize")]
    pub max_silence: Option<Duration>,
    pub when_no_replicas: WhenNoReplicas,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { confirm_runs: 2, fail_after: Duration::ZERO, max_silence: None, when_no_replicas: WhenNoReplicas::NoFailover }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub category: Category,
    pub replicas: Vec<Answer>,
    /// This run's opinion, before anti-flap: the master is dead.
    pub dead: bool,
    /// Set when the category lacked witnesses and this rule decided `dead`.
    pub rule: Option<WhenNoReplicas>,
    /// Consecutive dead runs, this one included (0 when this run found it alive).
    pub dead_runs: u32,
    /// Since the first run of the current dead streak.
    #[serde(serialize_with = "as_secs")]
    pub dead_for: Option<Duration>,
    /// Confirmed: mysqlfailover should fail over now.
    pub failover: bool,
}

/// Decides one run. `prev` is what earlier runs stored; the returned state replaces it (the
/// learned topology is left as it was: the caller owns it).
pub fn decide(identity: &Identity, obs: &Observations, policy: &Policy, prev: &State) -> (Decision, State) {
    let now = obs.now;
    let mut next = prev.clone();
    next.progress.clear();
    let replicas: Vec<Answer> = obs
        .replicas
        .iter()
        .map(|(addr, view)| {
            let testimony = testify(addr, view, identity, policy, prev, now, &mut next);
            Answer { addr: addr.clone(), testimony }
        })
        .collect();

    let category = categorize(&obs.monitor, &replicas);
    let (dead, rule) = if category.is_dead() {
        (true, None)
    } else if category.lacks_witnesses() {
        let rule = policy.when_no_replicas;
        let dead = match rule {
            WhenNoReplicas::NoFailover => false,
            WhenNoReplicas::Failover => true,
            WhenNoReplicas::Consul => obs.consul.as_ref().is_some_and(ConsulView::host_gone),
        };
        (dead, Some(rule))
    } else {
        (false, None)
    };

    let streak_alive = prev.last_run.is_some_and(|last| now.duration_since(last).is_ok_and(|gap| gap <= STREAK_EXPIRY));
    if dead {
        next.dead_runs = if streak_alive { prev.dead_runs.saturating_add(1) } else { 1 };
        next.dead_since = if streak_alive && prev.dead_runs > 0 { prev.dead_since.or(Some(now)) } else { Some(now) };
    } else {
        next.dead_runs = 0;
        next.dead_since = None;
    }
    let dead_for = next.dead_since.map(|since| now.duration_since(since).unwrap_or_default());
    let failover = dead && next.dead_runs >= policy.confirm_runs.max(1) && dead_for.unwrap_or_default() >= policy.fail_after;

    next.last_run = Some(now);
    if let MonitorView::Up { server_id: Some(id) } = obs.monitor {
        next.master_server_id = Some(id);
    }
    let decision = Decision { category, replicas, dead, rule, dead_runs: next.dead_runs, dead_for, failover };
    (decision, next)
}

fn categorize(monitor: &MonitorView, replicas: &[Answer]) -> Category {
    let relevant: Vec<&Testimony> = replicas.iter().map(|a| &a.testimony).filter(|t| t.is_relevant()).collect();
    let alive = relevant.iter().any(|t| t.says_alive());
    let lost = relevant.iter().filter(|t| t.says_lost()).count();
    let unreachable = relevant.iter().filter(|t| matches!(t, Testimony::Unreachable { .. })).count();
    if monitor.reached() {
        return if lost > 0 && !alive { Category::AllMasterReplicasNotReplicating } else { Category::NoProblem };
    }
    if alive {
        Category::UnreachableMaster
    } else if lost > 0 && unreachable == 0 {
        Category::DeadMaster
    } else if lost > 0 {
        Category::DeadMasterAndSomeReplicas
    } else if relevant.is_empty() {
        Category::DeadMasterWithoutReplicas
    } else if unreachable == relevant.len() {
        Category::DeadMasterAndReplicas
    } else {
        Category::UnreachableMasterWithStoppedReplicas
    }
}

/// Reads one replica's answer, and records its progress in `next` for the silence measure.
fn testify(addr: &HostPort, view: &ReplicaView, identity: &Identity, policy: &Policy, prev: &State, now: SystemTime, next: &mut State) -> Testimony {
    let link = match view {
        ReplicaView::Unreachable { error } => return Testimony::Unreachable { error: error.clone() },
        ReplicaView::NotReplica => return Testimony::NotReplica,
        ReplicaView::Link(link) => link,
    };
    if !identity.is_master_of(link) {
        return Testimony::OtherMaster { master: link.master.to_string() };
    }
    let key = addr.to_string();
    let silence = link.progress.as_ref().and_then(|progress| {
        let since = prev.progress.get(&key).filter(|seen| &seen.progress == progress).map_or(now, |seen| seen.since);
        next.progress.insert(key.clone(), Seen { progress: progress.clone(), since });
        let period = link.heartbeat_period.filter(|p| !p.is_zero())?;
        let limit = policy.max_silence.unwrap_or(period * 2).max(period + SILENCE_SLACK);
        let silent = now.duration_since(since).unwrap_or_default();
        Some((silent, silent > limit))
    });
    let silent_secs = silence.map(|(silent, _)| silent.as_secs());
    let code = link.io_error.as_ref().map(|e| e.code).filter(|&c| c != 0);
    match link.io {
        IoState::Running if silence.is_some_and(|(_, too_long)| too_long) => Testimony::Lost { io: link.io, code, silent_secs },
        IoState::Running => Testimony::Receiving { silent_secs },
        IoState::Connecting => match code {
            Some(code) if !is_client_error(code) => Testimony::MasterAnswered { io: link.io, code },
            _ => Testimony::Lost { io: link.io, code, silent_secs: None },
        },
        IoState::Stopped => match code {
            Some(c) if is_client_error(c) => Testimony::Lost { io: link.io, code, silent_secs: None },
            _ => Testimony::Stopped { code },
        },
    }
}

/// MySQL client-side errors (`CR_*`, 2000–2999: can't connect 2003, lost connection 2013, …)
/// mean the replica could not talk to its master; any other code came from the master's server.
fn is_client_error(code: u32) -> bool {
    (2000..=2999).contains(&code)
}

fn as_text<S: serde::Serializer>(v: &HostPort, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn as_secs<S: serde::Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
    }

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn master() -> HostPort {
        hp("10.0.0.11:3306")
    }

    fn identity() -> Identity {
        Identity { addresses: vec![master()], server_id: Some(11) }
    }

    fn link(io: IoState, code: u32) -> ReplicaView {
        ReplicaView::Link(ReplicaLink {
            master: master(),
            master_server_id: Some(11),
            io,
            io_error: (code != 0).then(|| ThreadError { code, message: format!("error {code}") }),
            sql_running: true,
            progress: None,
            heartbeat_period: None,
        })
    }

    fn receiving() -> ReplicaView {
        link(IoState::Running, 0)
    }

    fn connecting(code: u32) -> ReplicaView {
        link(IoState::Connecting, code)
    }

    fn unreachable() -> ReplicaView {
        ReplicaView::Unreachable { error: "refused".into() }
    }

    fn down() -> MonitorView {
        MonitorView::Unreachable { error: "connection refused".into() }
    }

    fn up() -> MonitorView {
        MonitorView::Up { server_id: Some(11) }
    }

    fn obs(monitor: MonitorView, replicas: Vec<ReplicaView>) -> Observations {
        let replicas = replicas.into_iter().enumerate().map(|(i, v)| (hp(&format!("10.0.0.{}:3306", 12 + i)), v)).collect();
        Observations { now: at(0), monitor, replicas, consul: None }
    }

    fn run(o: &Observations) -> Decision {
        decide(&identity(), o, &Policy::default(), &State::default()).0
    }

    /// The decision table: monitor view × replica answers → category and this run's opinion.
    #[test]
    fn categories_follow_orchestrator() {
        let stopped = || link(IoState::Stopped, 0);
        let other = || {
            let ReplicaView::Link(mut l) = receiving() else { unreachable!() };
            l.master = hp("10.0.0.99:3306");
            l.master_server_id = Some(99);
            ReplicaView::Link(l)
        };
        let cases: Vec<(&str, MonitorView, Vec<ReplicaView>, Category, bool)> = vec![
            ("master up, replicas fine", up(), vec![receiving(), receiving()], Category::NoProblem, false),
            ("master up, one replica down", up(), vec![receiving(), unreachable()], Category::NoProblem, false),
            ("master up, replicas lost it", up(), vec![connecting(2003), connecting(2003)], Category::AllMasterReplicasNotReplicating, false),
            ("master refusing the check's login", MonitorView::Refusing { error: "1045".into() }, vec![connecting(2003)], Category::AllMasterReplicasNotReplicating, false),
            ("killed master: refused and replicas connecting", down(), vec![connecting(2003), connecting(2003)], Category::DeadMaster, true),
            ("frozen master: timeout and errno 2013", MonitorView::Timeout { error: "read".into() }, vec![connecting(2013), connecting(0)], Category::DeadMaster, true),
            ("monitor path broken, replicas replicate", down(), vec![receiving(), receiving()], Category::UnreachableMaster, false),
            ("one replica still receiving is enough", down(), vec![connecting(2003), receiving()], Category::UnreachableMaster, false),
            ("replica login refused by a live master", down(), vec![connecting(2003), connecting(1045)], Category::UnreachableMaster, false),
            ("dead master, one replica down too", down(), vec![connecting(2003), unreachable()], Category::DeadMasterAndSomeReplicas, true),
            ("no replica reachable", down(), vec![unreachable(), unreachable()], Category::DeadMasterAndReplicas, false),
            ("no replica known", down(), vec![], Category::DeadMasterWithoutReplicas, false),
            ("replicas follow a different master", down(), vec![other(), ReplicaView::NotReplica], Category::DeadMasterWithoutReplicas, false),
            ("a different master's replica does not agree for ours", down(), vec![other(), connecting(2003)], Category::DeadMaster, true),
            ("stopped replicas cannot tell", down(), vec![stopped(), unreachable()], Category::UnreachableMasterWithStoppedReplicas, false),
            ("stopped after retries used up is lost", down(), vec![link(IoState::Stopped, 2003)], Category::DeadMaster, true),
            ("stopped on a binlog error cannot tell", down(), vec![link(IoState::Stopped, 1236), connecting(2003)], Category::DeadMaster, true),
        ];
        for (name, monitor, replicas, category, dead) in cases {
            let d = run(&obs(monitor, replicas));
            assert_eq!((d.category, d.dead), (category, dead), "{name}: {d:?}");
        }
    }

    #[test]
    fn a_replica_counts_by_alias_or_by_server_id() {
        let ReplicaView::Link(mut l) = connecting(2003) else { unreachable!() };
        l.master = hp("10.0.0.50:3306");
        l.master_server_id = Some(11);
        let by_id = Identity { addresses: vec![master()], server_id: Some(11) };
        assert!(by_id.is_master_of(&l));
        let unknown_id = Identity { addresses: vec![master()], server_id: None };
        assert!(!unknown_id.is_master_of(&l));
        let alias = Identity { addresses: vec![master(), hp("10.0.0.50:3306")], server_id: None };
        assert!(alias.is_master_of(&l));
        l.master = hp("DB1.example:3306");
        l.master_server_id = Some(0);
        let by_name = Identity { addresses: vec![hp("db1.example:3306")], server_id: Some(0) };
        assert!(by_name.is_master_of(&l), "host names compare case-insensitively");
        let zero = Identity { addresses: vec![master()], server_id: Some(0) };
        assert!(!zero.is_master_of(&l), "server id 0 means never connected, not a match");
    }

    #[test]
    fn the_rule_decides_when_no_replica_can_tell() {
        let o = obs(down(), vec![unreachable(), unreachable()]);
        let with = |rule, consul: Option<ConsulView>| {
            let o = Observations { consul, ..o.clone() };
            let policy = Policy { when_no_replicas: rule, confirm_runs: 1, ..Policy::default() };
            decide(&identity(), &o, &policy, &State::default()).0
        };
        let d = with(WhenNoReplicas::NoFailover, None);
        assert_eq!((d.dead, d.failover, d.rule), (false, false, Some(WhenNoReplicas::NoFailover)));
        let d = with(WhenNoReplicas::Failover, None);
        assert_eq!((d.dead, d.failover), (true, true));
        let node = |serf| Some(ConsulView::Node { node: "db1".into(), serf_health: Some(serf), failing: vec![] });
        assert!(with(WhenNoReplicas::Consul, node(CheckStatus::Critical)).failover);
        assert!(!with(WhenNoReplicas::Consul, node(CheckStatus::Passing)).dead);
        assert!(!with(WhenNoReplicas::Consul, Some(ConsulView::Unreachable { error: "x".into() })).dead);
        assert!(!with(WhenNoReplicas::Consul, None).dead, "consul not configured: no failover");
    }

    #[test]
    fn consul_alone_never_kills_a_master() {
        let gone = Some(ConsulView::Node { node: "db1".into(), serf_health: Some(CheckStatus::Critical), failing: vec!["mysql".into()] });
        let policy = Policy { when_no_replicas: WhenNoReplicas::Consul, confirm_runs: 1, ..Policy::default() };
        for (monitor, replicas) in [(up(), vec![]), (down(), vec![receiving()])] {
            let o = Observations { consul: gone.clone(), ..obs(monitor, replicas) };
            let d = decide(&identity(), &o, &policy, &State::default()).0;
            assert!(!d.dead, "{d:?}");
        }
    }

    #[test]
    fn death_is_confirmed_after_n_consecutive_runs() {
        let policy = Policy { confirm_runs: 3, ..Policy::default() };
        let mut state = State::default();
        let mut results = vec![];
        for (i, alive) in [false, false, true, false, false, false].into_iter().enumerate() {
            let replicas = vec![if alive { receiving() } else { connecting(2003) }];
            let o = Observations { now: at(15 * i as u64), ..obs(down(), replicas) };
            let (d, next) = decide(&identity(), &o, &policy, &state);
            results.push((d.dead_runs, d.failover));
            state = next;
        }
        assert_eq!(results, [(1, false), (2, false), (0, false), (1, false), (2, false), (3, true)]);
    }

    #[test]
    fn death_is_confirmed_only_after_fail_after() {
        let policy = Policy { confirm_runs: 1, fail_after: Duration::from_secs(30), ..Policy::default() };
        let mut state = State::default();
        let mut results = vec![];
        for t in [0, 15, 30] {
            let o = Observations { now: at(t), ..obs(down(), vec![connecting(2003)]) };
            let (d, next) = decide(&identity(), &o, &policy, &state);
            results.push((d.dead_for.map(|d| d.as_secs()), d.failover));
            state = next;
        }
        assert_eq!(results, [(Some(0), false), (Some(15), false), (Some(30), true)]);
    }

    #[test]
    fn an_old_streak_is_forgotten() {
        let policy = Policy::default();
        let o = |t| Observations { now: at(t), ..obs(down(), vec![connecting(2003)]) };
        let (_, state) = decide(&identity(), &o(0), &policy, &State::default());
        let (d, _) = decide(&identity(), &o(STREAK_EXPIRY.as_secs() + 1), &policy, &state);
        assert_eq!((d.dead_runs, d.failover), (1, false));
        let (d, _) = decide(&identity(), &o(15), &policy, &state);
        assert_eq!((d.dead_runs, d.failover), (2, true));
        // A clock that went backwards starts over rather than trusting the old streak.
        let (d, _) = decide(&identity(), &Observations { now: at(0) - Duration::from_secs(5), ..o(0) }, &policy, &state);
        assert_eq!(d.dead_runs, 1);
    }

    fn progressing(progress: &str, period: u64) -> ReplicaView {
        let ReplicaView::Link(mut l) = receiving() else { unreachable!() };
        l.progress = Some(progress.into());
        l.heartbeat_period = Some(Duration::from_secs(period));
        ReplicaView::Link(l)
    }

    #[test]
    fn io_yes_with_nothing_received_for_too_long_is_lost() {
        let policy = Policy::default();
        let step = |t, view, state: &State| {
            let o = Observations { now: at(t), ..obs(down(), vec![view]) };
            decide(&identity(), &o, &policy, state)
        };
        // Heartbeat every 2s: limit 4s. First sight: no history, so receiving.
        let (d, s) = step(0, progressing("hb=1", 2), &State::default());
        assert_eq!(d.category, Category::UnreachableMaster);
        // Changed since: receiving, and the clock restarts.
        let (d, s) = step(10, progressing("hb=5", 2), &s);
        assert_eq!(d.replicas[0].testimony, Testimony::Receiving { silent_secs: Some(0) });
        // Unchanged for 3s: within the limit.
        let (d, s2) = step(13, progressing("hb=5", 2), &s);
        assert_eq!(d.replicas[0].testimony, Testimony::Receiving { silent_secs: Some(3) });
        // Unchanged for 5s: lost, and the master is dead from the replicas' side too.
        let (d, _) = step(15, progressing("hb=5", 2), &s2);
        assert_eq!(d.replicas[0].testimony, Testimony::Lost { io: IoState::Running, code: None, silent_secs: Some(5) });
        assert_eq!(d.category, Category::DeadMaster);
        assert_eq!(d.replicas[0].testimony.to_string(), "lost (IO Yes but nothing received for 5s)");
    }

    #[test]
    fn silence_is_not_judged_without_a_heartbeat_period() {
        let policy = Policy { max_silence: Some(Duration::from_secs(1)), ..Policy::default() };
        for period in [0, 30] {
            let (_, s) = decide(&identity(), &obs(down(), vec![progressing("x", period)]), &policy, &State::default());
            let o = Observations { now: at(20), ..obs(down(), vec![progressing("x", period)]) };
            let (d, _) = decide(&identity(), &o, &policy, &s);
            // Period 0 (heartbeats off): idle is normal. Period 30: the floor (31s) beats max_silence.
            assert!(matches!(d.replicas[0].testimony, Testimony::Receiving { .. }), "period {period}: {d:?}");
        }
    }

    #[test]
    fn the_master_server_id_is_remembered_only_from_a_live_master() {
        let (_, s) = decide(&identity(), &obs(MonitorView::Up { server_id: Some(7) }, vec![]), &Policy::default(), &State::default());
        assert_eq!(s.master_server_id, Some(7));
        let (_, s) = decide(&identity(), &obs(down(), vec![]), &Policy::default(), &s);
        assert_eq!(s.master_server_id, Some(7));
    }

    #[test]
    fn testimonies_read_well_in_the_log() {
        let d = run(&obs(down(), vec![connecting(2003), receiving(), unreachable(), link(IoState::Connecting, 1045)]));
        let texts: Vec<String> = d.replicas.iter().map(|a| a.testimony.to_string()).collect();
        assert_eq!(texts, ["lost (IO Connecting, error 2003)", "receiving", "unreachable: refused", "master answered (IO Connecting, error 1045)"]);
    }
}
