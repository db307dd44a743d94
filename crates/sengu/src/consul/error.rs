//! What can go wrong talking to Consul, one variant per thing an operator would do differently,
//! plus the class a binary maps to its exit code. No message ever carries the ACL token.

use std::fmt;
use std::time::Duration;

/// A failed Consul call. Every variant that concerns the agent names its address
/// (`host:port` or `unix:///path`) and, where useful, the request (`PUT /v1/kv/key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection: refused, reset, no route, unknown host, missing unix socket.
    #[error("consul at {addr} is unreachable: {reason}")]
    Unreachable { addr: String, reason: String },

    /// The connection broke after the request was sent (reset, closed, cut mid-answer): a
    /// write may or may not have been applied. Never retried; re-read to find out.
    #[error("consul at {addr} lost the reply to {request}: {reason}")]
    ReplyLost { addr: String, request: String, reason: String },

    /// The request got no complete answer within `after` (the per-request timeout, or what
    /// was left of the caller's deadline).
    #[error("consul at {addr} did not answer {request} within {}", crate::human::duration(*after))]
    Timeout { addr: String, request: String, after: Duration },

    /// The TLS handshake failed: wrong CA, name mismatch, rejected client certificate.
    #[error("tls with consul at {addr} failed: {reason}")]
    Tls { addr: String, reason: String },

    /// HTTP 403: the token (or the anonymous token) lacks a permission. `body` is Consul's text,
    /// e.g. `Permission denied: token with AccessorID '…' lacks permission 'key:write' on "x"`.
    #[error("consul at {addr} denied {request} (acl): {body}")]
    AclDenied { addr: String, request: String, body: String },

    /// HTTP 404 where the object must exist (an agent check or service ID). Reads of absent
    /// KV keys or catalog nodes are not errors: they return `Ok(None)`.
    #[error("consul at {addr} has no {what}")]
    NotFound { addr: String, what: String },

    /// A compare-and-set KV write or delete (`?cas=index`) was refused because the key's
    /// ModifyIndex is no longer `index` (for `index` 0: the key already exists).
    #[error("consul at {addr} refused to change key {key:?}: {}", cas_reason(*index))]
    CasConflict { addr: String, key: String, index: u64 },

    /// HTTP 409 from `/v1/txn`: one or more operations failed and nothing was applied.
    #[error("consul at {addr} rolled back the transaction: {}", OpErrors(errors))]
    TxnRolledBack { addr: String, errors: Vec<TxnOpError> },

    /// Consul refused the request as invalid: a 400 (`Missing node name`, `Request decode
    /// failed: …`) or a 500 carrying one of its validation messages (`Missing service
    /// registration`, `Must provide node`, …). Sending it again cannot help.
    #[error("consul at {addr} rejected {request} ({status}): {reason}")]
    Rejected { addr: String, request: String, status: u16, reason: String },

    /// Any other answer this client did not expect: a 4xx other than 403/404, a 5xx after the
    /// retries, or a body that does not parse. `snippet` is the start of the body.
    #[error("consul at {addr} answered {request} with {status}: {snippet}")]
    BadResponse { addr: String, request: String, status: u16, snippet: String },

    /// The client configuration (environment variables, token file, certificates) is unusable.
    #[error("consul client configuration: {0}")]
    Config(String),
}

/// One failed operation of a rolled-back transaction, as Consul reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnOpError {
    /// Position of the failing operation in the request (0-based).
    pub op_index: usize,
    /// Consul's reason, e.g. `failed to set key "x", index is stale`.
    #[serde(default)]
    pub what: String,
}

impl fmt::Display for TxnOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {}: {}", self.op_index, self.what)
    }
}

fn cas_reason(index: u64) -> String {
    if index == 0 { "it already exists".to_string() } else { format!("it changed since index {index}") }
}

struct OpErrors<'a>(&'a [TxnOpError]);

impl fmt::Display for OpErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no reason given");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The broad kind of an [`Error`], for exit codes and retry decisions in the binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Consul is down, slow, overloaded (5xx, 429) or unreachable: trying later may work.
    Unavailable,
    /// Another writer won a compare-and-set or a transaction check: re-reading and trying
    /// again may work.
    Conflict,
    /// The ACL token lacks a permission: an operator must fix the token or policy.
    Denied,
    /// The addressed agent service or check does not exist.
    NotFound,
    /// Consul rejected the request as invalid, or answered something this client does not
    /// understand: a bug or a version mismatch; retrying will not help.
    Protocol,
    /// The local configuration is wrong (environment, token file, certificates, TLS trust).
    Config,
}

impl Error {
    /// Which class this error belongs to.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Unreachable { .. } | Error::ReplyLost { .. } | Error::Timeout { .. } => ErrorClass::Unavailable,
            Error::BadResponse { status, .. } if *status >= 500 || *status == 429 => ErrorClass::Unavailable,
            Error::BadResponse { .. } | Error::Rejected { .. } => ErrorClass::Protocol,
            Error::CasConflict { .. } | Error::TxnRolledBack { .. } => ErrorClass::Conflict,
            Error::AclDenied { .. } => ErrorClass::Denied,
            Error::NotFound { .. } => ErrorClass::NotFound,
            Error::Tls { .. } | Error::Config(_) => ErrorClass::Config,
        }
    }

    /// True when running the same action again later could succeed without anyone changing
    /// configuration: Consul was unavailable, or a concurrent writer got there first.
    pub fn is_transient(&self) -> bool {
        matches!(self.class(), ErrorClass::Unavailable | ErrorClass::Conflict)
    }

    /// True when a write that failed this way may still have been applied: the request may
    /// have reached Consul and only the answer is missing (lost, timed out, or a 5xx that can
    /// follow a commit). Whoever sent it must read again before saying what Consul holds.
    pub fn may_have_applied(&self) -> bool {
        matches!(self, Error::ReplyLost { .. } | Error::Timeout { .. } | Error::BadResponse { status: 500..=599, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(status: u16) -> Error {
        Error::BadResponse { addr: "a:1".into(), request: "GET /v1/x".into(), status, snippet: String::new() }
    }

    #[test]
    fn classes_and_transience() {
        let unreachable = Error::Unreachable { addr: "a:1".into(), reason: "connection refused".into() };
        assert_eq!(unreachable.class(), ErrorClass::Unavailable);
        assert!(unreachable.is_transient());
        assert_eq!(bad(500).class(), ErrorClass::Unavailable);
        assert_eq!(bad(429).class(), ErrorClass::Unavailable);
        assert_eq!(bad(400).class(), ErrorClass::Protocol);
        assert!(!bad(400).is_transient());
        let rejected = Error::Rejected { addr: "a:1".into(), request: "PUT /v1/catalog/register".into(), status: 500, reason: "Missing service registration".into() };
        assert_eq!(rejected.class(), ErrorClass::Protocol);
        assert!(!rejected.is_transient());
        let denied = Error::AclDenied { addr: "a:1".into(), request: "PUT /v1/kv/k".into(), body: "ACL not found".into() };
        assert_eq!(denied.class(), ErrorClass::Denied);
        assert!(!denied.is_transient());
        let cas = Error::CasConflict { addr: "a:1".into(), key: "k".into(), index: 7 };
        assert!(cas.is_transient());
        assert_eq!(Error::Config("x".into()).class(), ErrorClass::Config);
    }

    #[test]
    fn messages_are_lower_case_and_name_the_address() {
        let e = Error::Timeout { addr: "127.0.0.1:8500".into(), request: "GET /v1/agent/self".into(), after: Duration::from_millis(1500) };
        assert_eq!(e.to_string(), "consul at 127.0.0.1:8500 did not answer GET /v1/agent/self within 1.5s");
        // What was left of a caller's deadline is a measured time: rounded, never to the nanosecond.
        let e = Error::Timeout { addr: "127.0.0.1:8500".into(), request: "GET /v1/kv/x".into(), after: Duration::new(1, 999_884_099) };
        assert_eq!(e.to_string(), "consul at 127.0.0.1:8500 did not answer GET /v1/kv/x within 2.0s");
        let e = Error::TxnRolledBack {
            addr: "h:8500".into(),
            errors: vec![TxnOpError { op_index: 1, what: "index is stale".into() }, TxnOpError { op_index: 3, what: "x".into() }],
        };
        assert_eq!(e.to_string(), "consul at h:8500 rolled back the transaction: op 1: index is stale; op 3: x");
        let e = Error::CasConflict { addr: "h:8500".into(), key: "svc/m".into(), index: 0 };
        assert_eq!(e.to_string(), "consul at h:8500 refused to change key \"svc/m\": it already exists");
        let e = Error::CasConflict { addr: "h:8500".into(), key: "svc/m".into(), index: 12 };
        assert_eq!(e.to_string(), "consul at h:8500 refused to change key \"svc/m\": it changed since index 12");
    }
}
