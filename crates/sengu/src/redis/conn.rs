//! One bounded connection to a Redis server (or a sentinel): connect with a timeout, log in with
//! an optional ACL user and password, then run commands under a read/write timeout, mapping
//! every failure to [`Error`] with the server's address and never the password.
//!
//! The login is sent as an explicit `AUTH` after connecting rather than left to the `redis`
//! crate, because the crate reports every failed login as one generic error; sending it here
//! keeps the server's own answer, which tells a missing password from a wrong one.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use ::redis::{ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue, RedisConnectionInfo, RedisError, Value};

use super::info::{ReplicationInfo, Role};
use super::{AuthFailure, Error, ServerKind};
use crate::addr::HostPort;
use crate::secret::Secret;

/// Credentials for Redis 6+ ACL users (`AUTH user password`) or the classic `requirepass`
/// (`AUTH password`, when `user` is `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RedisAuth {
    pub user: Option<String>,
    pub password: Option<Secret>,
}

/// How to connect.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectOptions {
    /// Bounds the TCP connect plus the protocol handshake (and TLS, and the login).
    #[serde(serialize_with = "crate::human::exact")]
    pub connect_timeout: Duration,
    /// Bounds each command: a frozen server accepts the connection but never answers, and only
    /// this catches it.
    #[serde(serialize_with = "crate::human::exact")]
    pub io_timeout: Duration,
    pub auth: RedisAuth,
    /// TLS (`rediss://`), verifying the server certificate and its name (or IP address).
    pub tls: bool,
    /// With `tls`: a PEM file of the CA certificates to trust instead of the system and webpki
    /// roots, as Redis deployments usually run their own CA.
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(2),
            auth: RedisAuth::default(),
            tls: false,
            tls_ca_file: None,
        }
    }
}

/// An open connection to a Redis server or a sentinel.
pub struct RedisConn {
    con: ::redis::Connection,
    addr: HostPort,
    kind: ServerKind,
    io_timeout: Duration,
}

impl fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConn").field("kind", &self.kind).field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RedisConn {
    /// Connects to the Redis server at `addr` and logs in.
    pub fn connect(addr: &HostPort, opts: &ConnectOptions) -> Result<RedisConn, Error> {
        Self::connect_as(ServerKind::Redis, addr, opts)
    }

    /// Connects to `addr`, naming it `kind` in errors.
    pub(crate) fn connect_as(kind: ServerKind, addr: &HostPort, opts: &ConnectOptions) -> Result<RedisConn, Error> {
        // The name is resolved here, within the connect timeout: the driver would call the
        // system resolver without any limit. TLS keeps the name for the certificate check.
        let ip = crate::dns::resolve_endpoint(addr, opts.connect_timeout)
            .map_err(|e| Error::Unreachable { kind, addr: addr.clone(), detail: e.to_string() })?[0]
            .ip();
        let info = ConnectionInfo {
            addr: if opts.tls {
                ConnectionAddr::TcpTls { host: addr.host.clone(), port: addr.port, insecure: false, tls_params: None }
            } else {
                ConnectionAddr::Tcp(ip.to_string(), addr.port)
            },
            // No credentials here: the login is our own AUTH below (see the module doc).
            redis: RedisConnectionInfo::default(),
        };
        let fail = |e: ::redis::RedisError, after: Duration| {
            // rustls reports certificate and handshake failures as I/O errors; on a TLS
            // connection any I/O error that is not a refusal, a timeout or a closed connection
            // comes from the handshake.
            if opts.tls && e.is_io_error() && !e.is_timeout() && !e.is_connection_refusal() && !e.is_connection_dropped() {
                return Error::Tls { kind, addr: addr.clone(), detail: e.to_string() };
            }
            map_error(e, kind, addr, "connect", after, None)
        };
        let client = match (&opts.tls_ca_file, opts.tls) {
            (Some(ca), true) => {
                let pem = crate::files::read(ca, crate::files::CONFIG_LIMIT).map_err(|e| Error::Config {
                    kind,
                    addr: addr.clone(),
                    detail: format!("cannot read CA file {}: {e}", ca.display()),
                })?;
                ::redis::Client::build_with_tls(info, ::redis::TlsCertificates { client_tls: None, root_cert: Some(pem) })
            }
            _ => ::redis::Client::open(info),
        }
        .map_err(|e| fail(e, opts.connect_timeout))?;
        let con = client.get_connection_with_timeout(opts.connect_timeout).map_err(|e| fail(e, opts.connect_timeout))?;
        let mut conn = RedisConn { con, addr: addr.clone(), kind, io_timeout: opts.io_timeout };
        conn.set_timeouts(opts.connect_timeout)?;
        if opts.tls {
            // rustls completes the handshake on the first read or write, not at connect; do
            // that I/O here so a certificate problem is a connect error every time. A reply
            // that is an error (NOAUTH before our login) still proves the handshake worked.
            if let Err(e) = ::redis::cmd("PING").query::<Value>(&mut conn.con)
                && (e.is_io_error() || e.is_timeout() || e.is_connection_dropped())
            {
                return Err(fail(e, opts.connect_timeout));
            }
        }
        if let Some(password) = &opts.auth.password {
            conn.login(opts.auth.user.as_deref(), password, opts.connect_timeout)?;
        }
        conn.set_timeouts(opts.io_timeout)?;
        Ok(conn)
    }

    fn set_timeouts(&mut self, t: Duration) -> Result<(), Error> {
        // A zero timeout means "block forever" to the socket layer; never allow that.
        let t = t.max(Duration::from_millis(1));
        self.con
            .set_read_timeout(Some(t))
            .and_then(|()| self.con.set_write_timeout(Some(t)))
            .map_err(|e| map_error(e, self.kind, &self.addr, "connect", t, None))
    }

    fn login(&mut self, user: Option<&str>, password: &Secret, timeout: Duration) -> Result<(), Error> {
        let mut auth = ::redis::cmd("AUTH");
        if let Some(user) = user {
            auth.arg(user);
        }
        auth.arg(password.expose());
        login_outcome(auth.query::<Value>(&mut self.con), self.kind, &self.addr, timeout)
    }

    pub fn addr(&self) -> &HostPort {
        &self.addr
    }

    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Runs `cmd` (called `name` in errors) and converts the reply.
    pub(crate) fn query<T: FromRedisValue>(&mut self, cmd: &::redis::Cmd, name: &str) -> Result<T, Error> {
        cmd.query(&mut self.con).map_err(|e| map_error(e, self.kind, &self.addr, name, self.io_timeout, None))
    }

    /// `PING`.
    pub fn ping(&mut self) -> Result<(), Error> {
        self.query::<Value>(&::redis::cmd("PING"), "PING").map(|_| ())
    }

    /// `INFO replication`, parsed.
    pub fn info_replication(&mut self) -> Result<ReplicationInfo, Error> {
        let reply = self.query(&info_replication_cmd(), INFO_REPLICATION);
        info_replication_from(self.kind, &self.addr, reply)
    }

    /// `ROLE`, parsed.
    pub fn role(&mut self) -> Result<Role, Error> {
        let reply = self.query(&role_cmd(), ROLE);
        role_from(self.kind, &self.addr, reply)
    }

    /// `CLIENT PAUSE <ms> WRITE` (Redis 6.2+): write commands block for `duration` while reads go
    /// on, so a replica can catch up before a switchover.
    pub fn pause_writes(&mut self, duration: Duration) -> Result<(), Error> {
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.query::<Value>(::redis::cmd("CLIENT").arg("PAUSE").arg(ms).arg("WRITE"), "CLIENT PAUSE").map(|_| ())
    }

    /// `CLIENT UNPAUSE` (Redis 6.2+): ends a pause early.
    pub fn unpause(&mut self) -> Result<(), Error> {
        self.query::<Value>(::redis::cmd("CLIENT").arg("UNPAUSE"), "CLIENT UNPAUSE").map(|_| ())
    }

    pub(crate) fn protocol(&self, command: &str, detail: impl Into<String>) -> Error {
        Error::Protocol { kind: self.kind, addr: self.addr.clone(), command: command.to_string(), detail: detail.into() }
    }
}

/// `INFO replication`, as errors name it.
pub(crate) const INFO_REPLICATION: &str = "INFO replication";
/// `ROLE`, as errors name it.
pub(crate) const ROLE: &str = "ROLE";

pub(crate) fn info_replication_cmd() -> ::redis::Cmd {
    let mut cmd = ::redis::cmd("INFO");
    cmd.arg("replication");
    cmd
}

pub(crate) fn role_cmd() -> ::redis::Cmd {
    ::redis::cmd("ROLE")
}

/// A reply to [`info_replication_cmd`], parsed.
pub(crate) fn info_replication_from(kind: ServerKind, addr: &HostPort, reply: Result<Value, Error>) -> Result<ReplicationInfo, Error> {
    let protocol = |detail: String| Error::Protocol { kind, addr: addr.clone(), command: INFO_REPLICATION.to_string(), detail };
    let text = String::from_redis_value(&reply?).map_err(|e| protocol(e.to_string()))?;
    ReplicationInfo::parse(&text).map_err(|e| protocol(e.0))
}

/// A reply to [`role_cmd`], parsed.
pub(crate) fn role_from(kind: ServerKind, addr: &HostPort, reply: Result<Value, Error>) -> Result<Role, Error> {
    Role::from_value(&reply?).map_err(|e| Error::Protocol { kind, addr: addr.clone(), command: ROLE.to_string(), detail: e.0 })
}

/// What the reply to `AUTH` means for the connection.
pub(crate) fn login_outcome(reply: Result<Value, RedisError>, kind: ServerKind, addr: &HostPort, timeout: Duration) -> Result<(), Error> {
    match reply {
        Ok(_) => Ok(()),
        // A server without any password answers AUTH with this error; the connection works
        // anyway, so a password configured ahead of `requirepass` (during a rollout) is not a
        // failure, as with redis-cli.
        Err(e) if e.detail().is_some_and(|d| d.contains("without any password configured")) => Ok(()),
        Err(e) => Err(match map_error(e, kind, addr, "AUTH", timeout, Some(true)) {
            Error::Rejected { kind, addr, .. } => Error::AuthFailed { kind, addr, reason: AuthFailure::WrongCredentials },
            other => other,
        }),
    }
}

/// Maps a `redis` crate error to ours. `had_password` is `Some(true)` while logging in, `None`
/// otherwise: a `NOAUTH` reply then means no password was configured at all.
pub(crate) fn map_error(e: RedisError, kind: ServerKind, addr: &HostPort, command: &str, after: Duration, had_password: Option<bool>) -> Error {
    let addr = addr.clone();
    if e.is_timeout() {
        return Error::Timeout { kind, addr, after };
    }
    if e.is_connection_refusal() {
        return Error::Unreachable { kind, addr, detail: "connection refused".to_string() };
    }
    if e.is_connection_dropped() {
        return Error::Unreachable { kind, addr, detail: "connection closed by the server".to_string() };
    }
    if e.is_io_error() {
        return Error::Unreachable { kind, addr, detail: e.to_string() };
    }
    let detail = e.detail().unwrap_or_default().to_string();
    match (e.kind(), e.code()) {
        (_, Some("NOAUTH")) if had_password != Some(true) => Error::AuthFailed { kind, addr, reason: AuthFailure::NoCredentials },
        (_, Some("WRONGPASS")) | (ErrorKind::AuthenticationFailed, _) => {
            Error::AuthFailed { kind, addr, reason: AuthFailure::WrongCredentials }
        }
        (_, Some("NOPERM")) => Error::AuthFailed { kind, addr, reason: AuthFailure::NotPermitted(detail) },
        (ErrorKind::InvalidClientConfig, _) => Error::Config { kind, addr, detail: e.to_string() },
        (ErrorKind::TypeError | ErrorKind::ParseError | ErrorKind::ClientError, _) => {
            Error::Protocol { kind, addr, command: command.to_string(), detail: e.to_string() }
        }
        (_, Some(code)) => {
            let message = if detail.is_empty() { code.to_string() } else { format!("{code} {detail}") };
            Error::Rejected { kind, addr, command: command.to_string(), message }
        }
        _ => Error::Protocol { kind, addr, command: command.to_string(), detail: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_hides_the_secret() {
        let auth = RedisAuth { user: Some("checker".into()), password: Some(Secret::new("s3cret")) };
        let shown = format!("{auth:?} {:?}", ConnectOptions { auth: auth.clone(), ..Default::default() });
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("***") && shown.contains("checker"), "{shown}");
    }

    fn hp() -> HostPort {
        "10.0.0.1:6379".parse().unwrap()
    }

    /// A server error reply as the crate hands it over, parsed from the wire format.
    fn server_error(code: &str, detail: &str) -> ::redis::RedisError {
        match ::redis::parse_redis_value(format!("-{code} {detail}\r\n").as_bytes()) {
            Ok(Value::ServerError(se)) => se.into(),
            Err(e) => e,
            Ok(other) => panic!("unexpected parse result {other:?}"),
        }
    }

    #[test]
    fn server_error_codes_map_to_auth_failures() {
        let t = Duration::from_secs(1);
        let noauth = map_error(server_error("NOAUTH", "Authentication required."), ServerKind::Redis, &hp(), "PING", t, None);
        assert_eq!(noauth, Error::AuthFailed { kind: ServerKind::Redis, addr: hp(), reason: AuthFailure::NoCredentials });
        let wrong = map_error(server_error("WRONGPASS", "invalid username-password pair"), ServerKind::Redis, &hp(), "AUTH", t, Some(true));
        assert!(matches!(wrong, Error::AuthFailed { reason: AuthFailure::WrongCredentials, .. }), "{wrong:?}");
        let noperm = map_error(server_error("NOPERM", "this user has no permissions to run the 'info' command"), ServerKind::Redis, &hp(), "INFO", t, None);
        assert!(matches!(noperm, Error::AuthFailed { reason: AuthFailure::NotPermitted(_), .. }), "{noperm:?}");
    }

    #[test]
    fn other_error_replies_are_rejections_that_keep_the_server_text() {
        let e = map_error(server_error("NOGOODSLAVE", "No suitable replica to promote"), ServerKind::Sentinel, &hp(), "SENTINEL FAILOVER", Duration::from_secs(1), None);
        assert_eq!(e.to_string(), "sentinel 10.0.0.1:6379 refused SENTINEL FAILOVER: NOGOODSLAVE No suitable replica to promote");
    }

    #[test]
    fn io_errors_map_to_unreachable_and_timeout() {
        let t = Duration::from_millis(300);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(map_error(refused.into(), ServerKind::Redis, &hp(), "connect", t, None), Error::Unreachable { .. }));
        let blocked = std::io::Error::from(std::io::ErrorKind::WouldBlock);
        assert_eq!(map_error(blocked.into(), ServerKind::Redis, &hp(), "PING", t, None), Error::Timeout { kind: ServerKind::Redis, addr: hp(), after: t });
    }
}
