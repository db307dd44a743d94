//! The MySQL errors an operator acts on, and how the driver's errors map onto them: a refused
//! connection, a timeout, denied access, or a statement the server rejected with its code.

use std::time::Duration;

use super::Timeouts;
use crate::addr::HostPort;

/// Server error codes that mean "these credentials may not do this": the operator fixes a
/// grant or a password, not the server.
const ACCESS_DENIED_CODES: &[u16] = &[
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1142, // ER_TABLEACCESS_DENIED_ERROR
    1143, // ER_COLUMNACCESS_DENIED_ERROR
    1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (e.g. SET GLOBAL without the privilege)
    1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
    3118, // MySQL ER_ACCOUNT_HAS_BEEN_LOCKED
    4151, // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED
];
/// Why talking to a server failed, in the classes an operator acts on. Every message names
/// the server's `host:port`; none contains a password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Refused, reset, no route, name not resolved: nothing (or nothing MySQL-shaped) listens.
    #[error("mysql {addr} is unreachable: {reason}")]
    Unreachable { addr: HostPort, reason: String },
    /// Connected or not, no answer in time: a frozen or overloaded server, or a black hole.
    #[error("mysql {addr} did not answer within {} ({during})", crate::human::duration(*after))]
    Timeout { addr: HostPort, after: Duration, during: String },
    /// Wrong password, unknown user, or a missing privilege.
    #[error("mysql {addr} denied access to user {user:?}: {message} (error {code})")]
    AccessDenied { addr: HostPort, user: String, code: u16, message: String },
    /// The server refused a statement for another reason (its error code says which).
    #[error("mysql {addr}: {statement} failed: {message} (error {code})")]
    Query { addr: HostPort, statement: String, code: u16, message: String },
    /// The server answered something this module does not understand.
    #[error("mysql {addr}: unexpected answer to {statement}: {detail}")]
    BadResponse { addr: HostPort, statement: String, detail: String },
}

impl Error {
    /// The server the error is about.
    pub fn addr(&self) -> &HostPort {
        match self {
            Error::Unreachable { addr, .. }
            | Error::Timeout { addr, .. }
            | Error::AccessDenied { addr, .. }
            | Error::Query { addr, .. }
            | Error::BadResponse { addr, .. } => addr,
        }
    }

    /// The server's error code, where the server sent one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::AccessDenied { code, .. } | Error::Query { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What an error happened to; enough to classify the driver's errors.
pub(super) struct Context<'a> {
    pub(super) addr: &'a HostPort,
    pub(super) user: &'a str,
    pub(super) timeouts: &'a Timeouts,
}

impl Context<'_> {
    pub(super) fn classify(&self, err: ::mysql::Error, during: &str) -> Error {
        use ::mysql::mysql_common::proto::codec::error::PacketCodecError;
        use ::mysql::{DriverError, Error as E};
        let addr = self.addr.clone();
        match err {
            E::MySqlError(e) if ACCESS_DENIED_CODES.contains(&e.code) => {
                Error::AccessDenied { addr, user: self.user.to_string(), code: e.code, message: e.message }
            }
            E::MySqlError(e) => Error::Query { addr, statement: during.to_string(), code: e.code, message: e.message },
            E::IoError(e) | E::CodecError(PacketCodecError::Io(e)) => self.io(e, during),
            E::DriverError(DriverError::ConnectTimeout) => Error::Timeout { addr, after: self.timeouts.connect, during: during.to_string() },
            E::DriverError(DriverError::Timeout) => Error::Timeout { addr, after: self.timeouts.read, during: during.to_string() },
            E::DriverError(DriverError::CouldNotConnect(Some((_, reason, kind)))) => {
                if kind == std::io::ErrorKind::TimedOut {
                    Error::Timeout { addr, after: self.timeouts.connect, during: during.to_string() }
                } else {
                    Error::Unreachable { addr, reason }
                }
            }
            E::DriverError(DriverError::CouldNotConnect(None)) => Error::Unreachable { addr, reason: "no address to connect to".into() },
            other => Error::BadResponse { addr, statement: during.to_string(), detail: other.to_string() },
        }
    }

    fn io(&self, e: std::io::Error, during: &str) -> Error {
        use std::io::ErrorKind;
        match e.kind() {
            // A socket read timeout surfaces as EAGAIN (WouldBlock) on Linux.
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                Error::Timeout { addr: self.addr.clone(), after: self.timeouts.read, during: during.to_string() }
            }
            _ => Error::Unreachable { addr: self.addr.clone(), reason: e.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> HostPort {
        "10.0.0.12:3306".parse().unwrap()
    }

    fn classify(err: ::mysql::Error) -> Error {
        let t = Timeouts { connect: Duration::from_secs(1), read: Duration::from_secs(2), write: Duration::from_secs(3) };
        let a = addr();
        Context { addr: &a, user: "sengu", timeouts: &t }.classify(err, "SHOW SLAVE STATUS")
    }

    fn server_error(code: u16, message: &str) -> ::mysql::Error {
        ::mysql::Error::MySqlError(::mysql::MySqlError { state: "HY000".into(), message: message.into(), code })
    }

    #[test]
    fn access_denied_codes_become_access_denied() {
        for code in [1045, 1227, 1698] {
            let e = classify(server_error(code, "Access denied for user 'sengu'@'10.0.0.1' (using password: YES)"));
            assert!(matches!(e, Error::AccessDenied { code: c, .. } if c == code), "{e}");
            assert_eq!(e.code(), Some(code));
        }
        let e = classify(server_error(1045, "Access denied"));
        assert_eq!(e.to_string(), "mysql 10.0.0.12:3306 denied access to user \"sengu\": Access denied (error 1045)");
    }

    #[test]
    fn other_server_errors_are_query_errors_with_the_statement() {
        let e = classify(server_error(1290, "The MariaDB server is running with the --read-only option"));
        assert_eq!(
            e.to_string(),
            "mysql 10.0.0.12:3306: SHOW SLAVE STATUS failed: The MariaDB server is running with the --read-only option (error 1290)"
        );
    }

    #[test]
    fn read_timeouts_and_connect_timeouts_are_timeouts() {
        use std::io::{Error as IoError, ErrorKind};
        let e = classify(::mysql::Error::IoError(IoError::from(ErrorKind::WouldBlock)));
        assert!(matches!(e, Error::Timeout { after, .. } if after == Duration::from_secs(2)), "{e}");
        assert_eq!(e.to_string(), "mysql 10.0.0.12:3306 did not answer within 2.0s (SHOW SLAVE STATUS)");
        let e = classify(::mysql::Error::DriverError(::mysql::DriverError::ConnectTimeout));
        assert!(matches!(e, Error::Timeout { after, .. } if after == Duration::from_secs(1)), "{e}");
        let e = classify(::mysql::Error::DriverError(::mysql::DriverError::Timeout));
        assert!(matches!(e, Error::Timeout { after, .. } if after == Duration::from_secs(2)), "{e}");
        let timed_out = ::mysql::DriverError::CouldNotConnect(Some(("x".into(), "timed out".into(), std::io::ErrorKind::TimedOut)));
        assert!(matches!(classify(::mysql::Error::DriverError(timed_out)), Error::Timeout { .. }));
    }

    #[test]
    fn refused_and_reset_connections_are_unreachable() {
        use std::io::ErrorKind;
        let refused = ::mysql::DriverError::CouldNotConnect(Some(("10.0.0.12:3306".into(), "Connection refused".into(), ErrorKind::ConnectionRefused)));
        let e = classify(::mysql::Error::DriverError(refused));
        assert_eq!(e.to_string(), "mysql 10.0.0.12:3306 is unreachable: Connection refused");
        assert!(matches!(classify(::mysql::Error::server_disconnected()), Error::Unreachable { .. }));
        assert_eq!(classify(::mysql::Error::server_disconnected()).addr(), &addr());
    }
}
