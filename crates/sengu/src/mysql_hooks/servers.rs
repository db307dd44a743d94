//! What the MySQL hooks ask of the database servers: is the new master really one (reachable,
//! not replicating, writable, optionally made writable), is some other server a writable master,
//! does the old master now replicate from the new one, and fencing the old master.
//!
//! Every call runs under the given timeouts (a dead old master is the usual case, and a frozen
//! one must not stall the failover).

use std::fmt;

use crate::addr::HostPort;
use crate::mysql::{self, Credentials, Server, Timeouts, WriteBlocker};

/// Why the new master was not published.
#[derive(Debug)]
pub enum Rejection {
    /// It could not be asked: unreachable, no answer in time, access denied, an answer not
    /// understood. That says nothing about the server being wrong, so a record that already
    /// names it is left alone.
    Unverified(mysql::Error),
    /// It answered, and is not a writable master: evidence that it must not be published.
    NotWritable { addr: HostPort, blockers: Vec<WriteBlocker> },
}

impl Rejection {
    /// True when the server itself showed it is not a writable master.
    pub fn is_evidence(&self) -> bool {
        matches!(self, Rejection::NotWritable { .. })
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

/// Checks that `addr` is a master that takes writes: reachable, no replication thread running,
/// `read_only` (and `super_read_only`) off. With `make_writable`, a server whose only blockers
/// are the read-only flags is a [`Candidate::ReadOnly`]; a server still replicating never is,
/// since writes there would fork its data from its master's. Changes nothing.
pub fn inspect_new_master(addr: &HostPort, creds: &Credentials, timeouts: Timeouts, make_writable: bool) -> Result<Candidate, Rejection> {
    let role = mysql::probe(addr, creds, timeouts).map_err(Rejection::Unverified)?;
    let blockers = role.write_blockers();
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

/// `--make-writable`, after every refusing check passed: turns the read-only flags off and
/// checks again that nothing blocks writes (a replication thread started meanwhile does).
pub fn make_writable(addr: &HostPort, creds: &Credentials, timeouts: Timeouts) -> Result<(), Rejection> {
    let mut server = Server::connect(addr, creds, timeouts).map_err(Rejection::Unverified)?;
    server.set_read_only(false).map_err(Rejection::Unverified)?;
    let blockers = server.role().map_err(Rejection::Unverified)?.write_blockers();
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
