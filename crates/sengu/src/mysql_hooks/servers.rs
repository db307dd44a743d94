//! What the MySQL hooks ask of the database servers: is the new master really one (reachable,
//! not replicating, writable, optionally made writable), is some other server a writable master,
//! does the old master now replicate from the new one, and fencing the old master. Under MHA's
//! online switch the new master may still hold its link to a fenced old master it has fully
//! applied ([`Source`]).
//!
//! Every call runs under the given timeouts (a dead old master is the usual case, and a frozen
//! one must not stall the failover).

use std::fmt;

use crate::addr::HostPort;
use crate::mysql::{self, Credentials, LogPosition, ServerRole, Server, Timeouts, WriteBlocker};

/// Why the new master was not published.
#[derive(Debug)]
pub enum Rejection {
    /// It could not be asked: unreachable, no answer in time, access denied, an answer not
    /// understood. That says nothing about the server being wrong, so a record that already
    /// names it is left alone.
    Unverified(mysql::Error),
    /// It answered, and is not a writable master: evidence that it must not be published.
    NotWritable { addr: HostPort, blockers: Vec<WriteBlocker> },
    /// It replicates from the old master and has not applied all of its binary log.
    Behind { addr: HostPort, applied: Option<LogPosition>, source: Source },
}

impl Rejection {
    /// True when the server itself showed it is not a writable master.
    pub fn is_evidence(&self) -> bool {
        matches!(self, Rejection::NotWritable { .. } | Rejection::Behind { .. })
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Unverified(e) => write!(f, "{e}"),
            Rejection::NotWritable { addr, blockers } => {
                let reasons: Vec<String> = blockers.iter().map(ToString::to_string).collect();
                write!(f, "{addr} is not writable: {}", reasons.join(", "))
            }
            Rejection::Behind { addr, applied, source } => {
                let applied = applied.as_ref().map_or("an unknown position".to_string(), ToString::to_string);
                write!(f, "{addr} is not caught up: it applied {} up to {applied}, whose binary log ends at {}", source.addrs[0], source.at)
            }
        }
    }
}

/// The new master answered as one, or as one that `--make-writable` may finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// Not replicating and writable now.
    Writable,
    /// Not replicating; only `read_only`/`super_read_only` block writes, and `--make-writable`
    /// is on. Nothing is changed until every check that can refuse the move has passed; then
    /// [`make_writable`] finishes it.
    ReadOnly,
}

/// The link MHA leaves on the new master when it calls `start` in an online switch: to the old
/// master, which the hook fenced and MHA locked, after MHA waited for the new master to apply
/// all of it. Such a link does not block publishing, but only while the new master has applied
/// exactly up to `at`, the end of the old master's binary log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The old master as MHA names it (host, and IP when different): `Master_Host` holds one.
    pub addrs: Vec<HostPort>,
    pub at: LogPosition,
}

/// What the old master answered when MHA calls `start`.
#[derive(Debug)]
pub enum OldMaster {
    /// Not reachable (a failover from a dead master).
    Gone(mysql::Error),
    /// It still takes writes: publishing another master would make two.
    Writable,
    /// Read-only; `at` is the end of its binary log (`None` with binary logging off).
    Fenced { at: Option<LogPosition> },
}

/// Asks the old master whether it takes writes and where its binary log ends.
pub fn inspect_old_master(addr: &HostPort, creds: &Credentials, timeouts: Timeouts) -> OldMaster {
    let answer = Server::connect(addr, creds, timeouts).and_then(|mut server| Ok((server.role()?, server.binlog_position()?)));
    match answer {
        Err(e) => OldMaster::Gone(e),
        Ok((role, _)) if role.is_writable() => OldMaster::Writable,
        Ok((_, at)) => OldMaster::Fenced { at },
    }
}

/// Checks that `addr` is a master that takes writes: reachable, no replication thread running,
/// `read_only` (and `super_read_only`) off. With `make_writable`, a server whose only blockers
/// are the read-only flags is a [`Candidate::ReadOnly`]; a server still replicating never is,
/// since writes there would fork its data from its master's, except from `source` when it has
/// applied all of it. Changes nothing.
pub fn inspect_new_master(addr: &HostPort, creds: &Credentials, timeouts: Timeouts, make_writable: bool, source: Option<&Source>) -> Result<Candidate, Rejection> {
    let role = mysql::probe(addr, creds, timeouts).map_err(Rejection::Unverified)?;
    let blockers = blockers(addr, &role, source)?;
    if blockers.is_empty() {
        return Ok(Candidate::Writable);
    }
    let only_flags = blockers.iter().all(|b| matches!(b, WriteBlocker::ReadOnly | WriteBlocker::SuperReadOnly));
    if make_writable && only_flags {
        Ok(Candidate::ReadOnly)
    } else {
        Err(Rejection::NotWritable { addr: addr.clone(), blockers })
    }
}

/// What stands between `role` and taking writes, a caught-up link to `source` aside.
fn blockers(addr: &HostPort, role: &ServerRole, source: Option<&Source>) -> Result<Vec<WriteBlocker>, Rejection> {
    let mut blockers = role.write_blockers();
    let link = role.replica.as_ref().filter(|r| source.is_some_and(|s| s.addrs.contains(&r.master)));
    if let (Some(link), Some(source)) = (link, source) {
        if link.exec_position.as_ref() != Some(&source.at) {
            return Err(Rejection::Behind { addr: addr.clone(), applied: link.exec_position.clone(), source: source.clone() });
        }
        blockers.retain(|b| !matches!(b, WriteBlocker::Replicating { .. }));
    }
    Ok(blockers)
}

/// `--make-writable`, after every refusing check passed: turns the read-only flags off and
/// checks again that nothing blocks writes (a replication thread started meanwhile does).
pub fn make_writable(addr: &HostPort, creds: &Credentials, timeouts: Timeouts, source: Option<&Source>) -> Result<(), Rejection> {
    let mut server = Server::connect(addr, creds, timeouts).map_err(Rejection::Unverified)?;
    server.set_read_only(false).map_err(Rejection::Unverified)?;
    let blockers = blockers(addr, &server.role().map_err(Rejection::Unverified)?, source)?;
    if blockers.is_empty() { Ok(()) } else { Err(Rejection::NotWritable { addr: addr.clone(), blockers }) }
}

/// True when `addr` answers as a writable, non-replicating master. Any failure to ask counts
/// as "no": this decides whether a record naming it may be replaced or removed, and a server
/// that cannot be reached cannot be taking the application's writes through Consul either.
pub fn is_writable_master(addr: &HostPort, creds: &Credentials, timeouts: Timeouts) -> bool {
    mysql::probe(addr, creds, timeouts).is_ok_and(|role| role.is_writable())
}

/// True when `replica` runs both replication threads against `master` (a demoted old master
/// after a switchover). `Master_Host` must be written as the hook receives the master's host.
pub fn replicates_from(replica: &HostPort, master: &HostPort, creds: &Credentials, timeouts: Timeouts) -> bool {
    mysql::probe(replica, creds, timeouts)
        .ok()
        .and_then(|role| role.replica)
        .is_some_and(|status| status.is_healthy() && status.master == *master)
}

/// What fencing the old master did.
#[derive(Debug)]
pub enum Fence {
    /// `read_only` is on now; `super_read_only` too where the server has it.
    Fenced { addr: HostPort, super_read_only: bool },
    /// Not reachable: probably why the failover happens; not an error.
    Unreachable(mysql::Error),
    /// Reachable, but setting `read_only` failed (e.g. the user lacks the privilege).
    Failed(mysql::Error),
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fence::Fenced { addr, super_read_only: true } => write!(f, "fenced old master {addr}: read_only and super_read_only are ON"),
            Fence::Fenced { addr, super_read_only: false } => write!(
                f,
                "fenced old master {addr}: read_only is ON (the server has no super_read_only: users with READ_ONLY ADMIN or SUPER can still write)"
            ),
            Fence::Unreachable(e) => write!(f, "old master not fenced, it is unreachable: {e}"),
            Fence::Failed(e) => write!(f, "old master not fenced: {e}"),
        }
    }
}

impl Fence {
    /// A short word for the action log.
    pub fn label(&self) -> &'static str {
        match self {
            Fence::Fenced { .. } => "fenced",
            Fence::Unreachable(_) => "unreachable",
            Fence::Failed(_) => "failed",
        }
    }
}

/// Sets `read_only` (and `super_read_only` where it exists) on the old master, if it answers
/// within `timeouts`.
pub fn fence(addr: &HostPort, creds: &Credentials, timeouts: Timeouts) -> Fence {
    let mut server = match Server::connect(addr, creds, timeouts) {
        Ok(server) => server,
        Err(e @ (mysql::Error::Unreachable { .. } | mysql::Error::Timeout { .. })) => return Fence::Unreachable(e),
        Err(e) => return Fence::Failed(e),
    };
    let fenced = server.set_read_only(true).and_then(|()| server.super_read_only());
    match fenced {
        Ok(super_read_only) => Fence::Fenced { addr: addr.clone(), super_read_only: super_read_only == Some(true) },
        Err(e @ (mysql::Error::Unreachable { .. } | mysql::Error::Timeout { .. })) => Fence::Unreachable(e),
        Err(e) => Fence::Failed(e),
    }
}
