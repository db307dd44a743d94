//! MySQL/MariaDB role probes and the few actions failover hooks take: read a server's role
//! (read-only flags, replica status, GTID position, version), its identity and its replicas,
//! flip `read_only`, and answer "is it alive" and "may it take writes".
//!
//! Every call runs under connect, read and write timeouts: a frozen server (SIGSTOP, hung host)
//! still completes the TCP handshake from the kernel's backlog, and only the read timeout turns
//! it into an [`Error::Timeout`] instead of a hang. Credentials come from a MySQL option file or
//! `MYSQL_PWD`, never from argv, and no message or `Debug` output shows the password.
//!
//! - [`optfile`]: parsing `my.cnf`-style option files.
//! - `credentials`: user and password from an option file or `MYSQL_PWD`, and the shared
//!   `--mysql-*` flags and `[mysql]` table that name them.
//! - `error`: the error classes and how the driver's errors map onto them.
//! - `status`: typed role and replica status, mapped from result rows (no I/O).
//! - this file: the connection, its queries and actions.

mod credentials;
mod error;
pub mod optfile;
mod status;

use std::fmt;
use std::time::Duration;

use ::mysql::prelude::Queryable;
use ::mysql::prelude::FromRow;
use ::mysql::{Conn, OptsBuilder, Params, Row, Value};

use crate::addr::HostPort;
pub use credentials::{Credentials, MysqlArgs, CLIENT_GROUPS};
use error::Context;
pub use error::Error;
pub use optfile::{OptionFile, OptionFileError};
pub use status::{Fields, Flavor, GtidPosition, IoState, LogPosition, ReplicaStatus, ServerRole, ThreadError, WriteBlocker};

/// What mysqlfailover passes for a host and a port it does not know (its master object is
/// lost): its hooks and its fail check all receive it.
pub const UNKNOWN: &str = "UNKNOWN";

/// `ERROR 1193 Unknown system variable`: how a server says it lacks e.g. `super_read_only`.
const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
/// `ERROR 1064` parse error: `SHOW SLAVE STATUS` on MySQL 8.4+, `SHOW REPLICA STATUS` on old servers.
const PARSE_ERROR: u16 = 1064;
/// ER_NO_SUCH_THREAD: `KILL` of a connection that has ended.
const UNKNOWN_THREAD: u16 = 1094;

/// Time limits for every network call to one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    /// TCP connect.
    #[serde(serialize_with = "crate::human::exact")]
    pub connect: Duration,
    /// Each wait for the server's answer, the login handshake included.
    #[serde(serialize_with = "crate::human::exact")]
    pub read: Duration,
    /// Each send.
    #[serde(serialize_with = "crate::human::exact")]
    pub write: Duration,
}

impl Timeouts {
    pub fn all(d: Duration) -> Timeouts {
        Timeouts { connect: d, read: d, write: d }
    }
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts { connect: Duration::from_secs(2), read: Duration::from_secs(3), write: Duration::from_secs(3) }
    }
}

/// An open connection to one server, used for a handful of probes or actions and then dropped.
pub struct Server {
    conn: Conn,
    addr: HostPort,
    user: String,
    timeouts: Timeouts,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("user", &self.user).finish_non_exhaustive()
    }
}

impl Server {
    /// Connects over TCP and logs in. Never uses a unix socket, even for a loopback address:
    /// the probe must see what remote clients see.
    pub fn connect(addr: &HostPort, creds: &Credentials, timeouts: Timeouts) -> Result<Server, Error> {
        // Resolved here, within the connect timeout: the driver would wait on the system
        // resolver without any limit.
        let ip = crate::dns::resolve_endpoint(addr, timeouts.connect).map_err(|e| match e {
            crate::dns::EndpointError::Timeout { .. } => Error::Timeout { addr: addr.clone(), after: timeouts.connect, during: e.to_string() },
            crate::dns::EndpointError::Failed { .. } => Error::Unreachable { addr: addr.clone(), reason: e.to_string() },
        })?[0]
            .ip();
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some(ip.to_string()))
            .tcp_port(addr.port)
            .user(Some(creds.user.clone()))
            .pass(creds.password.as_ref().map(|p| p.expose().to_string()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(timeouts.connect))
            .read_timeout(Some(timeouts.read))
            .write_timeout(Some(timeouts.write))
            // Known up front, so the driver skips its `SELECT @@max_allowed_packet` round trip.
            .max_allowed_packet(Some(16 * 1024 * 1024));
        let ctx = Context { addr, user: &creds.user, timeouts: &timeouts };
        let conn = Conn::new(opts).map_err(|e| ctx.classify(e, "connect"))?;
        Ok(Server { conn, addr: addr.clone(), user: creds.user.clone(), timeouts })
    }

    pub fn addr(&self) -> &HostPort {
        &self.addr
    }

    fn ctx(&self) -> Context<'_> {
        Context { addr: &self.addr, user: &self.user, timeouts: &self.timeouts }
    }

    fn bad(&self, statement: &str, detail: impl Into<String>) -> Error {
        Error::BadResponse { addr: self.addr.clone(), statement: statement.to_string(), detail: detail.into() }
    }

    /// The first row of `sql` as column name → text, or `None` for an empty result.
    fn first_row(&mut self, sql: &str) -> Result<Option<Fields>, Error> {
        let row: Option<Row> = self.conn.query_first(sql).map_err(|e| self.ctx().classify(e, sql))?;
        Ok(row.as_ref().map(fields))
    }

    /// Every row of `sql` as column name → text.
    fn rows(&mut self, sql: &str) -> Result<Vec<Fields>, Error> {
        let rows: Vec<Row> = self.conn.query(sql).map_err(|e| self.ctx().classify(e, sql))?;
        Ok(rows.iter().map(fields).collect())
    }

    /// The rows of the first of `statements` this server knows, and which one that was:
    /// MariaDB, MySQL < 8.4 and MySQL 8.4 each accept a different spelling. A parse error
    /// moves on to the next; the first one explains an old server best when none is known.
    fn first_known(&mut self, statements: &[&'static str]) -> Result<(&'static str, Vec<Fields>), Error> {
        let mut first = None;
        for &sql in statements {
            match self.rows(sql) {
                Ok(rows) => return Ok((sql, rows)),
                Err(e @ Error::Query { code: PARSE_ERROR, .. }) => {
                    first.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(first.unwrap_or_else(|| self.bad("", "no statement to try")))
    }

    /// The single value `sql` returns (`None` for SQL NULL).
    fn scalar(&mut self, sql: &str) -> Result<Option<String>, Error> {
        let row: Option<Row> = self.conn.query_first(sql).map_err(|e| self.ctx().classify(e, sql))?;
        let row = row.ok_or_else(|| self.bad(sql, "no row"))?;
        Ok(row.as_ref(0).and_then(value_text))
    }

    fn flag(&mut self, sql: &str) -> Result<bool, Error> {
        let v = self.scalar(sql)?;
        parse_flag(v.as_deref()).ok_or_else(|| self.bad(sql, format!("expected 0 or 1, got {v:?}")))
    }

    /// Runs a statement that returns no rows (DDL, `SET`), classifying its failure.
    pub(crate) fn exec(&mut self, sql: &str) -> Result<(), Error> {
        self.conn.query_drop(sql).map_err(|e| self.ctx().classify(e, sql))
    }

    /// Runs a prepared statement with `params` and returns its rows: for the few statements of
    /// sengu's own (the drill's probe table), so their failures are classified like any other.
    pub(crate) fn exec_rows<T: FromRow, P: Into<Params>>(&mut self, sql: &str, params: P) -> Result<Vec<T>, Error> {
        self.conn.exec(sql, params).map_err(|e| self.ctx().classify(e, sql))
    }

    /// [`Server::exec_rows`] for a statement whose rows, if any, do not matter.
    pub(crate) fn exec_params<P: Into<Params>>(&mut self, sql: &str, params: P) -> Result<(), Error> {
        self.conn.exec_drop(sql, params).map_err(|e| self.ctx().classify(e, sql))
    }

    /// A trivial round trip (`SELECT 1`): the server is alive and answering queries.
    pub fn ping(&mut self) -> Result<(), Error> {
        const SQL: &str = "SELECT 1";
        match self.scalar(SQL)?.as_deref() {
            Some("1") => Ok(()),
            other => Err(self.bad(SQL, format!("got {other:?}"))),
        }
    }

    /// `@@server_id`: which server answered, whatever address it was reached by.
    pub fn server_id(&mut self) -> Result<u32, Error> {
        const SQL: &str = "SELECT @@global.server_id";
        let v = self.scalar(SQL)?;
        v.as_deref().and_then(|s| s.parse().ok()).ok_or_else(|| self.bad(SQL, format!("expected a number, got {v:?}")))
    }

    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1-log`. (The handshake's version,
    /// which the driver reports, is a `5.5.5-` compatibility prefix on MariaDB.)
    pub fn version(&mut self) -> Result<String, Error> {
        const SQL: &str = "SELECT VERSION()";
        self.scalar(SQL)?.ok_or_else(|| self.bad(SQL, "NULL version"))
    }

    pub fn read_only(&mut self) -> Result<bool, Error> {
        self.flag("SELECT @@global.read_only")
    }

    /// `@@super_read_only`, or `None` where the server has no such variable (MariaDB).
    pub fn super_read_only(&mut self) -> Result<Option<bool>, Error> {
        match self.flag("SELECT @@global.super_read_only") {
            Ok(v) => Ok(Some(v)),
            Err(Error::Query { code: UNKNOWN_SYSTEM_VARIABLE, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The replica status, or `None` when the server is not configured as a replica.
    /// Tries `SHOW SLAVE STATUS` (MariaDB, MySQL < 8.4), then `SHOW REPLICA STATUS` (MySQL 8.4+).
    pub fn replica_status(&mut self) -> Result<Option<ReplicaStatus>, Error> {
        const OLD: &str = "SHOW SLAVE STATUS";
        const NEW: &str = "SHOW REPLICA STATUS";
        let (sql, row) = match self.first_row(OLD) {
            Ok(row) => (OLD, row),
            Err(first @ Error::Query { .. }) => match self.first_row(NEW) {
                Ok(row) => (NEW, row),
                // Neither is known: the first error is the one that explains an old server.
                Err(Error::Query { code: PARSE_ERROR, .. }) => return Err(first),
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        row.map(|fields| ReplicaStatus::from_fields(&fields).map_err(|detail| self.bad(sql, detail))).transpose()
    }

    /// The status of every replication connection, empty when the server is not a replica:
    /// MariaDB's `SHOW ALL SLAVES STATUS` (one row per named connection, and the only form with
    /// the heartbeat counter and period), else `SHOW SLAVE STATUS`, else `SHOW REPLICA STATUS`.
    pub fn replica_statuses(&mut self) -> Result<Vec<ReplicaStatus>, Error> {
        let (sql, rows) = self.first_known(&["SHOW ALL SLAVES STATUS", "SHOW SLAVE STATUS", "SHOW REPLICA STATUS"])?;
        rows.iter().map(|fields| ReplicaStatus::from_fields(fields).map_err(|detail| self.bad(sql, detail))).collect()
    }

    /// The replicas registered with this master (`SHOW SLAVE HOSTS`, `SHOW REPLICAS` on MySQL
    /// 8.4), sorted and without duplicates. `Host` is the replica's `report_host` or, on
    /// MariaDB, the address it connected from; rows without a host or with an odd port are
    /// skipped.
    pub fn replica_hosts(&mut self) -> Result<Vec<HostPort>, Error> {
        let (_, rows) = self.first_known(&["SHOW SLAVE HOSTS", "SHOW REPLICAS"])?;
        let text = |row: &Fields, name: &str| row.get(name).cloned().flatten();
        let mut hosts: Vec<HostPort> = rows
            .iter()
            .filter_map(|row| {
                let host = text(row, "Host").filter(|h| !h.is_empty())?;
                HostPort::from_parts(&host, &text(row, "Port")?).ok()
            })
            .collect();
        hosts.sort();
        hosts.dedup();
        Ok(hosts)
    }

    /// Fences this server: `read_only` (and `super_read_only`) on, then every client connection
    /// killed ([`Server::kill_clients`]). Returns how many were killed.
    pub fn fence(&mut self) -> Result<usize, Error> {
        self.set_read_only(true)?;
        self.kill_clients()
    }

    /// Kills every client connection except this one, the replication threads (`Binlog Dump`
    /// to replicas, this server's own replica threads) and the server's own threads: what a
    /// fence does after `read_only`, so that no pooled connection or open transaction keeps
    /// writing to a server that is no longer the master. A connection that ended in between is
    /// not an error. Returns how many were killed. Needs `PROCESS` and `CONNECTION ADMIN` (or
    /// `SUPER`).
    pub fn kill_clients(&mut self) -> Result<usize, Error> {
        const SQL: &str = "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
                           AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker', 'Connect') \
                           AND USER NOT IN ('system user', 'event_scheduler')";
        let ids: Vec<u64> = self.conn.query(SQL).map_err(|e| self.ctx().classify(e, SQL))?;
        let mut killed = 0;
        for id in ids {
            match self.exec(&format!("KILL CONNECTION {id}")) {
                Ok(()) => killed += 1,
                Err(Error::Query { code: UNKNOWN_THREAD, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(killed)
    }

    /// `@@gtid_binlog_pos` (MariaDB) or `@@gtid_executed` (MySQL): every transaction this
    /// server has written to its binary log, what its replicas must reach.
    pub fn gtid_binlog_pos(&mut self) -> Result<String, Error> {
        match self.scalar("SELECT @@global.gtid_binlog_pos") {
            Err(Error::Query { code: UNKNOWN_SYSTEM_VARIABLE, .. }) => self.scalar("SELECT @@global.gtid_executed"),
            other => other,
        }
        .map(Option::unwrap_or_default)
    }

    /// Where this server's binary log ends (`SHOW MASTER STATUS`, `SHOW BINARY LOG STATUS` on
    /// MySQL 8.4), or `None` when binary logging is off.
    pub fn binlog_position(&mut self) -> Result<Option<LogPosition>, Error> {
        let (sql, rows) = self.first_known(&["SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"])?;
        let Some(row) = rows.first() else { return Ok(None) };
        let text = |name: &str| row.get(name).cloned().flatten();
        match (text("File"), text("Position").and_then(|p| p.parse().ok())) {
            (Some(file), Some(pos)) => Ok(Some(LogPosition { file, pos })),
            _ => Err(self.bad(sql, format!("no File/Position in {row:?}"))),
        }
    }

    /// GTID positions for the server's flavor, or `None` where it has no GTID variables.
    pub fn gtid_position(&mut self, flavor: Flavor) -> Result<Option<GtidPosition>, Error> {
        let result = match flavor {
            Flavor::MariaDb => {
                const SQL: &str = "SELECT @@global.gtid_current_pos AS executed, @@global.gtid_slave_pos AS replica_pos";
                self.first_row(SQL).map(|row| {
                    row.map(|r| GtidPosition {
                        executed: r.get("executed").cloned().flatten().unwrap_or_default(),
                        replica_pos: r.get("replica_pos").cloned().flatten(),
                    })
                })
            }
            Flavor::MySql => self
                .scalar("SELECT @@global.gtid_executed")
                .map(|v| Some(GtidPosition { executed: v.unwrap_or_default(), replica_pos: None })),
        };
        match result {
            Err(Error::Query { code: UNKNOWN_SYSTEM_VARIABLE, .. }) => Ok(None),
            other => other,
        }
    }

    /// Reads everything that decides the server's role.
    pub fn role(&mut self) -> Result<ServerRole, Error> {
        let version = self.version()?;
        let flavor = Flavor::from_version(&version);
        Ok(ServerRole {
            read_only: self.read_only()?,
            super_read_only: self.super_read_only()?,
            replica: self.replica_status()?,
            gtid: self.gtid_position(flavor)?,
            version,
            flavor,
        })
    }

    /// `read_only` off and no replication thread running; the reasons if not.
    pub fn write_blockers(&mut self) -> Result<Vec<WriteBlocker>, Error> {
        Ok(self.role()?.write_blockers())
    }

    /// Sets `read_only`, and `super_read_only` where the server has it, so that on MySQL
    /// SUPER users are stopped too. (On MariaDB, users with `READ_ONLY ADMIN` — root included —
    /// still write; only stopping the server or its clients prevents that.)
    pub fn set_read_only(&mut self, on: bool) -> Result<(), Error> {
        let has_super = self.super_read_only()?.is_some();
        if on {
            self.exec("SET GLOBAL read_only = ON")?;
            if has_super {
                self.exec("SET GLOBAL super_read_only = ON")?;
            }
        } else {
            // super_read_only=ON forces read_only=ON, so it goes first.
            if has_super {
                self.exec("SET GLOBAL super_read_only = OFF")?;
            }
            self.exec("SET GLOBAL read_only = OFF")?;
        }
        Ok(())
    }
}

/// Connects and reads the role in one call: what a check or hook does for each server.
pub fn probe(addr: &HostPort, creds: &Credentials, timeouts: Timeouts) -> Result<ServerRole, Error> {
    Server::connect(addr, creds, timeouts)?.role()
}

/// A result row as column name → text.
fn fields(row: &Row) -> Fields {
    row.columns_ref().iter().enumerate().map(|(i, col)| (col.name_str().into_owned(), row.as_ref(i).and_then(value_text))).collect()
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true)),
    }
}

fn parse_flag(v: Option<&str>) -> Option<bool> {
    match v?.to_ascii_uppercase().as_str() {
        "1" | "ON" => Some(true),
        "0" | "OFF" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_accept_numbers_and_words() {
        assert_eq!(parse_flag(Some("1")), Some(true));
        assert_eq!(parse_flag(Some("OFF")), Some(false));
        assert_eq!(parse_flag(Some("maybe")), None);
        assert_eq!(parse_flag(None), None);
    }
}
