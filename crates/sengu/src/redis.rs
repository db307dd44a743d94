//! Redis and Sentinel probes: what a check or a hook needs to know about a Redis server's role
//! and replication link, and what the sentinels believe.
//!
//! - [`conn`]: connecting with timeouts, ACL user and password, optional TLS; `PING`, `INFO
//!   replication`, `ROLE`, `CLIENT PAUSE … WRITE` / `CLIENT UNPAUSE`.
//! - [`batch`]: several of those exchanges at once from one thread, on non-blocking sockets.
//! - [`info`]: the parsers for `INFO replication` text and `ROLE` replies (pure, unit-tested on
//!   captured real outputs).
//! - [`sentinel`]: `SENTINEL …` queries and the "ask every sentinel, take the majority" helper
//!   that redis-master-check and sentinel-rebalance share.
//!
//! Every network call is bounded: a connect timeout covers the TCP connect and the handshake, a
//! read/write timeout covers each command. A frozen server (SIGSTOP, hung host) still completes
//! the TCP handshake from the kernel's backlog, so only these timeouts turn it into an answer.

pub mod batch;
pub mod conn;
pub mod info;
pub mod sentinel;

use std::fmt;
use std::time::Duration;

use crate::addr::HostPort;

pub use conn::{ConnectOptions, RedisAuth, RedisConn};
pub(crate) use conn::{INFO_REPLICATION, ROLE, info_replication_cmd, info_replication_from, role_cmd, role_from};
pub use info::{InfoRole, LinkStatus, MasterLink, ReplicaEntry, ReplicationInfo, Role, RoleReplica};
pub use sentinel::{ask_sentinels, distinct, CkQuorum, MasterVotes, SentinelConn, SentinelMaster, SentinelPeer, SentinelReplica};

/// Which kind of process an error is about, so messages say "sentinel 10.0.0.1:26379" or
/// "redis 10.0.0.1:6379".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Redis,
    Sentinel,
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerKind::Redis => "redis",
            ServerKind::Sentinel => "sentinel",
        })
    }
}

/// Why a login was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// The server requires a password (`NOAUTH`) and none was configured.
    NoCredentials,
    /// The user name or password is wrong (`WRONGPASS`, or an `AUTH` error).
    WrongCredentials,
    /// Logged in, but the ACL user may not run a command this probe needs (`NOPERM`).
    NotPermitted(String),
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::NoCredentials => f.write_str("a password is required but none was given (set REDISCLI_AUTH or a password file)"),
            AuthFailure::WrongCredentials => f.write_str("wrong user name or password"),
            AuthFailure::NotPermitted(detail) => write!(f, "permission denied: {detail}"),
        }
    }
}

/// What went wrong talking to a Redis server or a sentinel. Each message names the server's
/// `host:port` and never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Connection refused, reset or closed, no route, or a host name that does not resolve.
    #[error("{kind} {addr} is unreachable: {detail}")]
    Unreachable { kind: ServerKind, addr: HostPort, detail: String },
    /// Connected (or still connecting) but no answer in time: a frozen or overloaded server.
    #[error("{kind} {addr} did not answer within {}", crate::human::duration(*after))]
    Timeout { kind: ServerKind, addr: HostPort, after: Duration },
    #[error("{kind} {addr} refused the login: {reason}")]
    AuthFailed { kind: ServerKind, addr: HostPort, reason: AuthFailure },
    /// The server answered a command with an error reply (e.g. `ERR No such master with that
    /// name`, `INPROG`, `NOGOODSLAVE`).
    #[error("{kind} {addr} refused {command}: {message}")]
    Rejected { kind: ServerKind, addr: HostPort, command: String, message: String },
    /// The reply did not have the shape the command promises.
    #[error("{kind} {addr} gave an unexpected reply to {command}: {detail}")]
    Protocol { kind: ServerKind, addr: HostPort, command: String, detail: String },
    /// The TLS handshake failed: an untrusted or mismatched certificate, or a server that does
    /// not speak TLS on that port.
    #[error("{kind} {addr}: TLS handshake failed: {detail}")]
    Tls { kind: ServerKind, addr: HostPort, detail: String },
    /// The connection settings themselves are unusable (e.g. an unreadable CA file).
    #[error("{kind} {addr}: unusable connection settings: {detail}")]
    Config { kind: ServerKind, addr: HostPort, detail: String },
}

impl Error {
    /// The server the error is about.
    pub fn addr(&self) -> &HostPort {
        match self {
            Error::Unreachable { addr, .. }
            | Error::Timeout { addr, .. }
            | Error::AuthFailed { addr, .. }
            | Error::Rejected { addr, .. }
            | Error::Protocol { addr, .. }
            | Error::Tls { addr, .. }
            | Error::Config { addr, .. } => addr,
        }
    }

    /// True when the server did not answer at all (down, unreachable or frozen), as opposed to
    /// answering something unwelcome.
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Error::Unreachable { .. } | Error::Timeout { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> HostPort {
        "10.0.0.12:6379".parse().unwrap()
    }

    #[test]
    fn messages_name_kind_and_address() {
        let e = Error::Timeout { kind: ServerKind::Redis, addr: addr(), after: Duration::from_millis(1500) };
        assert_eq!(e.to_string(), "redis 10.0.0.12:6379 did not answer within 1.5s");
        let e = Error::AuthFailed { kind: ServerKind::Sentinel, addr: addr(), reason: AuthFailure::NoCredentials };
        assert!(e.to_string().starts_with("sentinel 10.0.0.12:6379 refused the login: a password is required"), "{e}");
        assert!(!e.is_no_answer() && e.addr() == &addr());
    }
}
