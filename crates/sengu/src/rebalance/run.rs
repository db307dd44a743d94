//! One run of `sentinel-rebalance` (as Sentinel's script or as `reconcile`): under the host lock,
//! look at the present, publish the roles to Consul, decide, act; repeat while the decision is
//! "not yet" and the budget lasts. The lock is never held while waiting, so a second run (or a
//! newer failover's call) gets its turn within a look, not after a 40 s wait.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::floating::{self, FloatingError, MonitorParams};
use super::lock;
use super::observe::{MasterFact, Observation, Presence, Side};
use super::plan::{decide, Action, Facts, Plan};
use super::quorum::{self, QuorumCheck};
use super::settings::Settings;
use super::{Exit, Report};
use crate::actionlog::ActionLog;
use crate::addr::HostPort;
use crate::consul;
use crate::roles::{self, Claim, Others};

/// The most one step of a handover (a command, a wait for a port) may take.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// Kept free at the end of the budget for a handover and its checks.
const ACT_RESERVE: Duration = Duration::from_secs(12);
/// How long the checks after a move wait for the sentinels to agree (hellos come every 2 s).
const SETTLE_LIMIT: Duration = Duration::from_secs(15);
/// How long a converged run waits for the quorum checks to come out clean.
const CONVERGED_SETTLE: Duration = Duration::from_secs(5);
/// Between two looks while waiting.
const LOOK_AGAIN: Duration = Duration::from_millis(200);

/// The facts [`decide`] needs, from one observation.
pub(crate) fn facts(s: &Settings, obs: &Observation) -> Facts {
    let master = obs.master(s);
    let here_replica = match &master {
        MasterFact::On(_, m) => obs.here_is_healthy_replica_of(m),
        _ => Err("no master yet".into()),
    };
    Facts {
        master,
        here: obs.floating_here(s),
        peer: obs.floating_peer(s),
        failover_signs: obs.failover_signs(s),
        here_replica,
        unseen: obs.unseen_fixed(s),
        master_age: obs.master_age(s),
        settle: MonitorParams::pick(s, obs.learned_master()).settle(s),
    }
}

/// Where the floating sentinel runs, or should run, for the quorum check.
pub(crate) fn floating_is_here(f: &Facts) -> bool {
    match (&f.here, &f.peer) {
        (Presence::Running, _) => true,
        (_, Presence::Running) => false,
        // Nowhere: check it where it belongs.
        _ => matches!(f.master, MasterFact::On(Side::Peer, _)),
    }
}

/// Runs until converged, nothing to do, or out of budget. `reset` adds the extra-sentinel
/// cleanup of `reconcile --reset`.
pub fn converge(s: &Settings, reset: bool, log: &mut ActionLog) -> Report {
    let started = Instant::now();
    let deadline = started + s.timeout;
    let reserve = ACT_RESERVE.min(s.timeout / 3);
    let stop_waiting = (started + s.replica_wait).min(deadline - reserve);
    let mut publisher = Publisher::new(s, deadline);
    let mut last_wait = String::new();
    loop {
        let held = match lock::acquire(&s.lock_file, stop_waiting) {
            Ok(held) => held,
            Err(e @ lock::LockError::Busy { .. }) => return publisher.finish(Report::new(Exit::Retry, e.to_string())),
            Err(e) => return publisher.finish(Report::new(Exit::GiveUp, e.to_string())),
        };
        let obs = Observation::take(s);
        let facts = facts(s, &obs);
        if let MasterFact::On(_, m) = &facts.master {
            publisher.publish(m, log);
        }
        let plan = decide(&facts);
        match plan {
            Plan::Wait(why) => {
                drop(held);
                if why != last_wait {
                    log.record("wait", &[("why", &why)]);
                    last_wait = why.clone();
                }
                if Instant::now() >= stop_waiting {
                    log.record("give-up-for-now", &[("why", &why)]);
                    return publisher.finish(Report::new(Exit::Retry, format!("not yet: {why}")));
                }
                std::thread::sleep(LOOK_AGAIN);
            }
            Plan::Refuse(why) => {
                log.record("refuse", &[("why", &why)]);
                return publisher.finish(Report::new(Exit::GiveUp, why));
            }
            Plan::Converged | Plan::Stay(_) => {
                drop(held);
                let summary = match &plan {
                    Plan::Stay(why) => why.clone(),
                    _ => placement_text(s, &facts),
                };
                log.record("no-change", &[("why", &summary)]);
                // A run right after another one's move may find the peers still learning the
                // new address: give them a moment when converged. A `Stay` usually means a host
                // is down, and waiting would not make its sentinel answer.
                let settle = if plan == Plan::Converged { CONVERGED_SETTLE } else { Duration::ZERO };
                let report = after_placement(s, &facts, Report::new(Exit::Done, summary), reset, settle, deadline, log);
                return publisher.finish(report);
            }
            Plan::Act(action) => {
                let MasterFact::On(_, master) = &facts.master else {
                    // decide() acts only on a settled master; refuse rather than guess.
                    return publisher.finish(Report::new(Exit::GiveUp, "internal error: an action without a settled master".into()));
                };
                // Before anything is stopped: a config other users could read once Sentinel
                // rewrites it is a setting to fix, not something a retry fixes.
                if let (Action::Move | Action::Start, Err(e)) = (action, floating::check_private(&s.floating_config)) {
                    log.record("refuse", &[("why", &e)]);
                    return publisher.finish(Report::new(Exit::GiveUp, e.to_string()));
                }
                let result = act(s, action, master, &obs, deadline, log);
                drop(held);
                let report = match result {
                    Ok(done) => {
                        // The checks expect the placement the action produced.
                        let now = facts_after(action, &facts);
                        after_placement(s, &now, Report::new(Exit::Done, done), reset, SETTLE_LIMIT, deadline, log)
                    }
                    Err(e) => {
                        log.record("action-failed", &[("action", &action.describe()), ("error", &e)]);
                        Report::new(Exit::Retry, format!("could not {}: {e}", action.describe()))
                    }
                };
                return publisher.finish(report);
            }
        }
    }
}

/// The placement after `action` succeeded.
fn facts_after(action: Action, before: &Facts) -> Facts {
    let mut f = before.clone();
    match action {
        Action::Move | Action::Start | Action::StopPeer => {
            f.here = Presence::Running;
            f.peer = Presence::Stopped;
        }
        Action::StopHere => f.here = Presence::Stopped,
    }
    f
}

fn placement_text(s: &Settings, f: &Facts) -> String {
    let master = match &f.master {
        MasterFact::On(Side::Here, m) => format!("master {m} is on this host"),
        MasterFact::On(Side::Peer, m) => format!("master {m} is on the peer"),
        _ => "no master".into(),
    };
    let at = if floating_is_here(f) { &s.here.floating } else { &s.peer.floating };
    format!("{master}; the floating sentinel runs at {at}, on the replica's host")
}

/// The checks after a look or an action: quorum (waiting up to `settle` for it), and the
/// extra-sentinel report or cleanup.
fn after_placement(
    s: &Settings,
    f: &Facts,
    mut report: Report,
    reset: bool,
    settle: Duration,
    deadline: Instant,
    log: &mut ActionLog,
) -> Report {
    // Only meaningful once the floating sentinel runs somewhere.
    if !matches!((&f.here, &f.peer), (Presence::Running, _) | (_, Presence::Running)) {
        return report;
    }
    let sentinels = s.sentinel_addrs(floating_is_here(f));
    let limit = settle.min(deadline.saturating_duration_since(Instant::now()));
    let check = quorum::wait_clean(&sentinels, &s.master_name, &s.connect, limit);
    record_check(&check, log);
    report.details.extend(check.lines());
    if check.is_clean() {
        report.details.insert(0, check.summary());
        return report;
    }
    if !reset || check.extras().is_empty() {
        // Say so; the exit code stays the placement's: a retry of this run cannot fix a
        // sentinel that is down, and an extra needs `--reset` (after it was stopped).
        report.details.insert(0, format!("warning: {}", check.summary()));
        return report;
    }
    // Not bounded by the run's budget: `--reset` is for people, and the documented procedure
    // takes `reset_wait` between two sentinels.
    let relearn = Duration::from_secs(30);
    match quorum::reset(&sentinels, &s.master_name, &s.connect, s.reset_wait, relearn, log) {
        Ok(done) => {
            let after = quorum::wait_clean(&sentinels, &s.master_name, &s.connect, SETTLE_LIMIT);
            record_check(&after, log);
            let names: Vec<String> = done.reset.iter().map(ToString::to_string).collect();
            report.details = after.lines();
            report.details.insert(0, format!("reset {}; {}", names.join(", "), after.summary()));
            if !after.is_clean() {
                report.exit = report.exit.max(Exit::Retry);
            }
        }
        Err(e) => {
            log.record("reset-refused", &[("error", &e)]);
            report.details.insert(0, format!("reset not done: {e}"));
            report.exit = report.exit.max(Exit::Retry);
        }
    }
    report
}

fn record_check(check: &QuorumCheck, log: &mut ActionLog) {
    let clean = check.is_clean();
    log.record("quorum", &[("clean", &clean), ("summary", &check.summary())]);
}

/// Carries out `action`; returns what was done.
fn act(s: &Settings, action: Action, master: &HostPort, obs: &Observation, deadline: Instant, log: &mut ActionLog) -> Result<String, FloatingError> {
    let step = || STEP_LIMIT.min(deadline.saturating_duration_since(Instant::now()));
    match action {
        Action::Move => {
            stop_peer(s, step(), log)?;
            start_here(s, master, obs, step, log)?;
            Ok(format!("moved the floating sentinel from {} to {}", s.peer.floating, s.here.floating))
        }
        Action::Start => {
            start_here(s, master, obs, step, log)?;
            Ok(format!("started the floating sentinel at {} (it ran nowhere)", s.here.floating))
        }
        Action::StopPeer => {
            stop_peer(s, step(), log)?;
            Ok(format!("shut down the second floating sentinel at {}; it runs at {}", s.peer.floating, s.here.floating))
        }
        Action::StopHere => {
            match &s.floating_stop {
                Some(argv) => {
                    log.record("stop-floating", &[("argv", &Argv(argv))]);
                    floating::run_command(argv, step(), &command_log(s))?;
                }
                None => {
                    log.record("shutdown-floating", &[("sentinel", &s.here.floating)]);
                    floating::shutdown(&s.here.floating, &s.floating_myid, &s.connect)?;
                }
            }
            floating::wait_closed(&s.here.floating, step(), s.connect.connect_timeout)?;
            log.record("floating-stopped", &[("sentinel", &s.here.floating)]);
            Ok(format!("stopped the second floating sentinel at {}; it runs at {}", s.here.floating, s.peer.floating))
        }
    }
}

/// Shuts the peer's copy down and proves it gone (its port refuses connections).
fn stop_peer(s: &Settings, limit: Duration, log: &mut ActionLog) -> Result<(), FloatingError> {
    log.record("shutdown-peer-floating", &[("sentinel", &s.peer.floating)]);
    floating::shutdown(&s.peer.floating, &s.floating_myid, &s.connect)?;
    floating::wait_closed(&s.peer.floating, limit, s.connect.connect_timeout)?;
    log.record("peer-floating-stopped", &[("sentinel", &s.peer.floating)]);
    Ok(())
}

/// Writes a fresh config from the current master, runs the start command, and waits until the
/// sentinel answers with the floating myid.
fn start_here(s: &Settings, master: &HostPort, obs: &Observation, step: impl Fn() -> Duration, log: &mut ActionLog) -> Result<(), FloatingError> {
    let params = MonitorParams::pick(s, obs.learned_master());
    let script = match &s.floating_script {
        Some(path) => path.clone(),
        None => std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sentinel-rebalance")),
    };
    let text = floating::config_text(s, master, &params, &script);
    floating::write_config(&s.floating_config, &text)?;
    log.record("write-floating-config", &[("path", &s.floating_config.display()), ("master", master), ("quorum", &params.quorum)]);
    log.record("start-floating", &[("argv", &Argv(&s.floating_start))]);
    floating::run_command(&s.floating_start, step(), &command_log(s))?;
    floating::wait_answering(&s.here.floating, &s.floating_myid, &s.connect, step())?;
    log.record("floating-started", &[("sentinel", &s.here.floating), ("myid", &s.floating_myid)]);
    Ok(())
}

/// Where the output of the start and stop commands goes: beside the floating config.
fn command_log(s: &Settings) -> PathBuf {
    let mut name = s.floating_config.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".command.log");
    s.floating_config.with_file_name(name)
}

/// An argv for the action log, space-separated.
struct Argv<'a>(&'a [String]);

impl std::fmt::Display for Argv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// Publishes the roles once per master seen, so DNS follows a failover at once. Failures are
/// remembered and decide the run's exit code at the end: the placement work goes on anyway.
struct Publisher<'a> {
    s: &'a Settings,
    deadline: Instant,
    client: Option<Result<consul::Client, consul::Error>>,
    done_for: Option<HostPort>,
    failure: Option<(Exit, String)>,
    /// When the last attempt failed: a Consul that is down is asked again only after a pause,
    /// not on every look of a waiting run.
    failed_at: Option<Instant>,
    note: Option<String>,
}

/// The pause after a failed publish before the next attempt within the same run.
const PUBLISH_RETRY: Duration = Duration::from_secs(5);

impl<'a> Publisher<'a> {
    fn new(s: &'a Settings, deadline: Instant) -> Self {
        Publisher { s, deadline, client: None, done_for: None, failure: None, failed_at: None, note: None }
    }

    fn client(&mut self) -> Result<&consul::Client, consul::Error> {
        let (config, deadline) = (&self.s.consul, self.deadline);
        let built = self.client.get_or_insert_with(|| consul::Client::new(&config.clone().with_deadline(deadline)));
        built.as_ref().map_err(Clone::clone)
    }

    fn publish(&mut self, master: &HostPort, log: &mut ActionLog) {
        let Some(service) = self.s.service.clone() else { return };
        if self.done_for.as_ref() == Some(master) || self.failed_at.is_some_and(|t| t.elapsed() < PUBLISH_RETRY) {
            return;
        }
        let claim = Claim::Master { at: master.clone(), others: Others::Demote };
        let tags = self.s.role_tags.clone();
        // A transaction rolled back by a concurrent writer (the other host publishing the same
        // roles) is read again and re-planned; the second read usually finds nothing to do.
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let result = self.client().map_err(roles::Error::from).and_then(|c| roles::publish_roles(c, &service, &claim, &tags));
            match result {
                Err(roles::Error::Consul(e)) if e.class() == consul::ErrorClass::Conflict && attempt < 3 => continue,
                other => break other,
            }
        };
        match result {
            Ok(report) => {
                let changes: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
                let text = if changes.is_empty() { "already right".to_string() } else { changes.join("; ") };
                log.record("publish-roles", &[("service", &service), ("master", master), ("changes", &text)]);
                self.note = Some(format!("consul: service {service:?} tags {master} as master ({text})"));
                self.done_for = Some(master.clone());
                self.failure = None;
                self.failed_at = None;
            }
            Err(e) => {
                log.record("publish-roles-failed", &[("service", &service), ("master", master), ("error", &e)]);
                let exit = match &e {
                    roles::Error::Consul(c) if c.is_transient() => Exit::Retry,
                    _ => Exit::GiveUp,
                };
                self.failure = Some((exit, format!("could not publish the roles to consul: {e}")));
                self.failed_at = Some(Instant::now());
            }
        }
    }

    /// Adds the publishing result to the report.
    fn finish(self, mut report: Report) -> Report {
        if let Some(note) = self.note {
            report.details.push(note);
        }
        if let Some((exit, why)) = self.failure {
            report.details.insert(0, why);
            report.exit = report.exit.max(exit);
        }
        report
    }
}
