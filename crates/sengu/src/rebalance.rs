//! sentinel-rebalance: keeps the spare ("floating") sentinel of a two-host Redis + Sentinel
//! setup on the host that does *not* run the master, so that losing the master's host always
//! leaves two of the three sentinels alive to fail over; and publishes the roles to Consul the
//! moment a failover is seen.
//!
//! # Layout
//!
//! Each host runs one fixed sentinel; the floating one runs on the replica's host. It has one
//! fixed `sentinel myid` wherever it runs, so when it moves the others record an address switch
//! and keep counting 3 sentinels (majority 2). Sentinel never forgets a sentinel it has seen,
//! so a new identity would make it 4 (majority 3) and silently break the next failover.
//!
//! # Handover ("pull, with proof")
//!
//! Only the host the floating sentinel belongs on ever starts it. When a run there finds it on
//! the peer, it:
//!
//! 1. waits until no sentinel flags a failover (`failover_in_progress`, `s_down`, `o_down`, a
//!    `failover-state`), both fixed sentinels answer (so no election can run unseen), the
//!    master has been the master for at least `settle_time` (default: the failover-timeout),
//!    and this host's Redis is a replica of the master with its link up (a returning old master
//!    is demoted by Sentinel after about 10 s);
//! 2. checks the peer's floating sentinel answers with the floating myid and sends it
//!    `SHUTDOWN NOSAVE`;
//! 3. waits until the peer's floating port *refuses* connections — the only proof accepted;
//! 4. writes a fresh config from the current master and runs the configured start argv;
//! 5. waits until it answers with the floating myid, then checks that every sentinel says
//!    `CKQUORUM` OK and knows exactly the other two.
//!
//! The master's host never starts the floating sentinel and never gives it away by itself; it
//! only stops a second copy when both run. Failure modes:
//!
//! - peer unreachable (timeout, no route): nothing is proven, nothing starts; exit 1 (retry);
//! - peer host dead while it should receive the sentinel: it stays where it is (exit 0); the
//!   returning host's own run (its fixed sentinel's `observer` call, or the boot/timer
//!   `reconcile`) pulls it once its Redis is a healthy replica;
//! - a failover that completes between one host's look and its start could in principle let
//!   both hosts start it; the next run of either host sees both copies and stops the one that
//!   does not belong (and status reports it as critical meanwhile);
//! - the floating sentinel's service manager must not restart it after `SHUTDOWN` (systemd
//!   `Restart=on-failure`, and the unit not enabled at boot: `reconcile` starts it).
//!
//! # Decisions come from the present
//!
//! Sentinel's seven arguments are validated (bad input exits 2 before anything happens) and
//! then used only in the log: the master is what 2 of the 3 sentinels name *now* and what that
//! server's `ROLE` confirms. A late retry of an older failover, or a rejoining sentinel's
//! `observer` call, therefore does the right thing. Runs on one host serialise on a file lock
//! and re-look after each other, so they are idempotent.
//!
//! Submodules: [`settings`] (what a run is told), [`observe`] (what is true), [`plan`] (the pure
//! decision), [`floating`] (the process: config, start, stop, proofs), [`quorum`] (checks and
//! the `--reset` cleanup), [`lock`], `run` (the loop) and `status`.

pub mod floating;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod quorum;
mod run;
pub mod settings;
mod status;

use std::io::Write;
use std::process::ExitCode;

pub use settings::{HostEnds, Args, Settings, SettingsError, SECTION};
pub use status::status;

use crate::actionlog::ActionLog;
use crate::addr::HostPort;

/// How a run ends, in Sentinel's script contract. Ordered: a later variant is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    /// 0: converged, or nothing for this host to do.
    Done,
    /// 1: not possible yet, Sentinel should retry (a wait ran out, the peer could not be proven
    /// stopped, a command failed, Consul was unavailable).
    Retry,
    /// 2: cannot work (bad settings, unknown master name, a stranger on the floating port):
    /// retrying would not help.
    GiveUp,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(match exit {
            Exit::Done => 0,
            Exit::Retry => 1,
            Exit::GiveUp => 2,
        })
    }
}

/// What a run did: its exit, one summary line and detail lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub exit: Exit,
    pub summary: String,
    pub details: Vec<String>,
}

impl Report {
    pub fn new(exit: Exit, summary: String) -> Report {
        Report { exit, summary, details: Vec::new() }
    }

    /// `<program>: <summary>`, then the details indented; returns the exit code.
    pub fn print(&self, program: &str) -> ExitCode {
        let mut text = format!("{program}: {}\n", self.summary.replace('\n', " "));
        for line in &self.details {
            text.push_str(&format!("    {}\n", line.replace('\n', " ")));
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
        self.exit.into()
    }
}

/// Sentinel's seven arguments, parsed: a hint of what happened, never the basis of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub master_name: String,
    /// `leader` or `observer`.
    pub role: String,
    pub from: HostPort,
    pub to: HostPort,
}

/// The `client-reconfig-script` call: checks the master name, records the call, then converges
/// like [`reconcile`].
pub fn reconfig(s: &Settings, call: &Call, log: &mut ActionLog) -> Report {
    log.record("reconfig-call", &[("master", &call.master_name), ("role", &call.role), ("from", &call.from), ("to", &call.to)]);
    if call.master_name != s.master_name {
        let why = format!("unknown master name {:?}: this host handles {:?}", call.master_name, s.master_name);
        log.record("refuse", &[("why", &why)]);
        return Report::new(Exit::GiveUp, why);
    }
    run::converge(s, false, log)
}

/// Looks at the current master and converges this host to its target placement; with `reset`,
/// also forgets extra sentinels the others still know (the documented one-at-a-time procedure).
pub fn reconcile(s: &Settings, reset: bool, log: &mut ActionLog) -> Report {
    log.record("reconcile", &[("reset", &reset)]);
    run::converge(s, reset, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_map_to_sentinels_script_codes_and_order_by_severity() {
        assert_eq!(ExitCode::from(Exit::Done), ExitCode::from(0));
        assert_eq!(ExitCode::from(Exit::Retry), ExitCode::from(1));
        assert_eq!(ExitCode::from(Exit::GiveUp), ExitCode::from(2));
        assert_eq!(Exit::Done.max(Exit::Retry), Exit::Retry);
        assert_eq!(Exit::GiveUp.max(Exit::Retry), Exit::GiveUp);
    }

    #[test]
    fn an_unknown_master_name_is_refused_before_anything_is_looked_at() {
        let s = settings::tests::full().resolve(crate::redis::RedisAuth::default(), Default::default()).unwrap();
        let call = Call { master_name: "other".into(), role: "leader".into(), from: "10.0.0.11:6379".parse().unwrap(), to: "10.0.0.12:6379".parse().unwrap() };
        let report = reconfig(&s, &call, &mut ActionLog::disabled("test"));
        assert_eq!(report.exit, Exit::GiveUp);
        assert_eq!(report.summary, "unknown master name \"other\": this host handles \"mymaster\"");
    }
}
