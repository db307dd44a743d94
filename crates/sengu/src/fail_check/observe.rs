//! The observers' I/O: this monitor's own connection to the master (and, while it answers, its
//! server id and replica list), each replica's replication status, and Consul's view of the
//! master's node or of a replica service. Each call runs under its own timeout and never fails:
//! a failure is itself an answer, which [`super::verdict`] weighs.
//!
//! It opens its own connections instead of using [`crate::mysql::Server`] because it needs
//! columns and statements that type does not expose (`Master_Server_Id`, the heartbeat
//! counter and read position that show a link is alive, `SHOW SLAVE HOSTS`, `@@server_id`);
//! its errors are still [`crate::mysql::Error`]s, so messages read the same.

use std::time::Duration;

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, OptsBuilder, Row, Value};

use super::verdict::{ConsulView, Identity, MonitorView, ReplicaLink, ReplicaView};
use crate::addr::HostPort;
use crate::consul::{self, CheckStatus};
use crate::mysql::{Credentials, Error, Fields, ReplicaStatus};

/// `ERROR 1064`: the statement is not known to this server (flavour or version).
const PARSE_ERROR: u16 = 1064;
/// Consul's node-level check that follows the node's agent through gossip.
const SERF_HEALTH: &str = "serfHealth";

/// What the monitor saw of the master, and the replicas it lists when it answered.
#[derive(Debug)]
pub struct MasterSight {
    pub view: MonitorView,
    /// `None` when the master did not answer or was not asked; `Err` says why the list could
    /// not be read.
    pub replicas: Option<Result<Vec<HostPort>, String>>,
}

/// Connects to the master as this monitor and runs `SELECT @@server_id` (the trivial query
/// that also tells who answered); then, if `list_replicas`, lists its replicas (best effort).
pub fn master(addr: &HostPort, creds: &Credentials, timeout: Duration, list_replicas: bool) -> MasterSight {
    let mut session = match Session::open(addr, creds, timeout) {
        Ok(session) => session,
        Err(e) => return MasterSight { view: monitor_view(e), replicas: None },
    };
    let server_id = match session.rows("SELECT @@server_id AS server_id") {
        Ok(rows) => rows.first().and_then(|r| text(r, &["server_id"])).and_then(|s| s.parse().ok()),
        Err(e) => return MasterSight { view: monitor_view(e), replicas: None },
    };
    let replicas = list_replicas.then(|| session.replica_hosts());
    MasterSight { view: MonitorView::Up { server_id }, replicas }
}

fn monitor_view(e: Error) -> MonitorView {
    let error = e.to_string();
    match e {
        Error::AccessDenied { .. } | Error::Query { .. } => MonitorView::Refusing { error },
        Error::Timeout { .. } => MonitorView::Timeout { error },
        Error::Unreachable { .. } | Error::BadResponse { .. } => MonitorView::Unreachable { error },
    }
}

/// Asks every replica in parallel; the answers come back in the order of `addrs`.
pub fn replicas(addrs: &[HostPort], identity: &Identity, creds: &Credentials, timeout: Duration) -> Vec<(HostPort, ReplicaView)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = addrs.iter().map(|addr| scope.spawn(move || replica(addr, identity, creds, timeout))).collect();
        addrs
            .iter()
            .zip(handles)
            .map(|(addr, handle)| {
                let view = handle.join().unwrap_or_else(|_| ReplicaView::Unreachable { error: format!("mysql {addr}: the probe panicked") });
                (addr.clone(), view)
            })
            .collect()
    })
}

/// One replica's view of its master. A multi-source replica answers with the connection that
/// replicates from the checked master, if it has one.
pub fn replica(addr: &HostPort, identity: &Identity, creds: &Credentials, timeout: Duration) -> ReplicaView {
    let rows = Session::open(addr, creds, timeout).and_then(|mut s| s.replica_rows());
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return ReplicaView::Unreachable { error: e.to_string() },
    };
    let mut links = Vec::new();
    for row in &rows {
        match link(row) {
            Ok(link) => links.push(link),
            Err(detail) => return ReplicaView::Unreachable { error: format!("mysql {addr}: unexpected replica status: {detail}") },
        }
    }
    match links.iter().position(|l| identity.is_master_of(l)) {
        Some(i) => ReplicaView::Link(links.swap_remove(i)),
        None => links.into_iter().next().map_or(ReplicaView::NotReplica, ReplicaView::Link),
    }
}

/// Maps one replica status row (either column vocabulary) to a link.
fn link(row: &Fields) -> Result<ReplicaLink, String> {
    let status = ReplicaStatus::from_fields(row)?;
    let master_server_id = text(row, &["Master_Server_Id", "Source_Server_Id"]).and_then(|s| s.parse().ok());
    // Only a heartbeat counter tells a silent link from an idle master, so without one
    // (MySQL keeps it in performance_schema) there is no progress marker at all.
    let progress = text(row, &["Slave_received_heartbeats"]).map(|beats| {
        let file = text(row, &["Master_Log_File", "Source_Log_File"]).unwrap_or_default();
        let pos = text(row, &["Read_Master_Log_Pos", "Read_Source_Log_Pos"]).unwrap_or_default();
        let gtid = status.gtid_io_pos.clone().unwrap_or_default();
        format!("heartbeats={beats} read={file}:{pos} gtid={gtid}")
    });
    let heartbeat_period = text(row, &["Slave_heartbeat_period"]).and_then(|s| s.parse::<f64>().ok()).and_then(|s| Duration::try_from_secs_f64(s).ok());
    Ok(ReplicaLink {
        master: status.master,
        master_server_id,
        io: status.io,
        io_error: status.last_io_error,
        sql_running: status.sql_running,
        progress,
        heartbeat_period,
    })
}

/// Consul's view of the master's node: `serfHealth` and the node's other checks.
pub fn consul_node(client: &consul::Client, node: &str) -> ConsulView {
    let checks = match client.health_node(node) {
        Ok(checks) => checks,
        Err(e) => return ConsulView::Unreachable { error: e.to_string() },
    };
    if checks.is_empty() {
        return ConsulView::UnknownNode { node: node.to_owned() };
    }
    let serf_health = checks.iter().find(|c| c.check_id == SERF_HEALTH).map(|c| c.status);
    let failing = checks
        .iter()
        .filter(|c| c.check_id != SERF_HEALTH && c.status != CheckStatus::Passing)
        .map(|c| format!("{} {}", if c.name.is_empty() { &c.check_id } else { &c.name }, c.status.as_str()))
        .collect();
    ConsulView::Node { node: node.to_owned(), serf_health, failing }
}

/// Every instance of `service`, healthy or not (the check asks each one itself).
pub fn consul_replicas(client: &consul::Client, service: &str) -> Result<Vec<HostPort>, String> {
    let entries = client.health_service(service, None, false).map_err(|e| e.to_string())?;
    Ok(entries.iter().map(|e| HostPort { host: e.address().to_owned(), port: e.service.port }).collect())
}

/// One connection with the row-reading this module needs.
struct Session {
    conn: Conn,
    addr: HostPort,
    timeout: Duration,
}

impl Session {
    /// Connects over TCP (never a socket: the probe must see what the network sees). Connect,
    /// each read and each write get half the budget, so that a connect plus one stalled read
    /// (a frozen server completes the TCP handshake from the kernel backlog) fit in it.
    fn open(addr: &HostPort, creds: &Credentials, timeout: Duration) -> Result<Session, Error> {
        let step = (timeout / 2).max(Duration::from_millis(100));
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some(addr.host.clone()))
            .tcp_port(addr.port)
            .user(Some(creds.user.clone()))
            .pass(creds.password.as_ref().map(|p| p.expose().to_string()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(step))
            .read_timeout(Some(step))
            .write_timeout(Some(step))
            // Known up front, so the driver skips its `SELECT @@max_allowed_packet` round trip.
            .max_allowed_packet(Some(16 * 1024 * 1024));
        let conn = Conn::new(opts).map_err(|e| classify(e, addr, step, "connect"))?;
        Ok(Session { conn, addr: addr.clone(), timeout: step })
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<Fields>, Error> {
        let rows: Vec<Row> = self.conn.query(sql).map_err(|e| classify(e, &self.addr, self.timeout, sql))?;
        Ok(rows
            .iter()
            .map(|row| {
                row.columns_ref()
                    .iter()
                    .enumerate()
                    .map(|(i, col)| (col.name_str().into_owned(), row.as_ref(i).and_then(value_text)))
                    .collect()
            })
            .collect())
    }

    /// The first statement this server knows: MariaDB, MySQL < 8.4 and MySQL 8.4 each accept a
    /// different one. The first error explains an old server best.
    fn first_known(&mut self, statements: &[&str]) -> Result<Vec<Fields>, Error> {
        let mut first = None;
        for sql in statements {
            match self.rows(sql) {
                Err(e @ Error::Query { code: PARSE_ERROR, .. }) => {
                    first.get_or_insert(e);
                }
                other => return other,
            }
        }
        Err(first.unwrap_or_else(|| Error::BadResponse { addr: self.addr.clone(), statement: String::new(), detail: "no statement".into() }))
    }

    /// Replication status rows. MariaDB's `SHOW ALL SLAVES STATUS` also carries the heartbeat
    /// counter and period; the others are the fallbacks for MySQL.
    fn replica_rows(&mut self) -> Result<Vec<Fields>, Error> {
        self.first_known(&["SHOW ALL SLAVES STATUS", "SHOW SLAVE STATUS", "SHOW REPLICA STATUS"])
    }

    /// The replicas connected to this master (`Host`, `Port`; `Host` is `report_host` or, on
    /// MariaDB, the address the replica connected from). Rows without a host are skipped.
    fn replica_hosts(&mut self) -> Result<Vec<HostPort>, String> {
        let rows = self.first_known(&["SHOW SLAVE HOSTS", "SHOW REPLICAS"]).map_err(|e| e.to_string())?;
        let mut hosts: Vec<HostPort> = rows
            .iter()
            .filter_map(|r| {
                let host = text(r, &["Host"]).filter(|h| !h.is_empty())?;
                HostPort::from_parts(&host, &text(r, &["Port"])?).ok()
            })
            .collect();
        hosts.sort();
        hosts.dedup();
        Ok(hosts)
    }
}

/// A field's text by the first of `names` present, `None` when absent or NULL.
fn text(row: &Fields, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| row.get(*n)).cloned().flatten()
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

/// The driver's errors in the classes the verdict needs: a server answered (with an error),
/// nothing answered, or no answer in time.
fn classify(err: ::mysql::Error, addr: &HostPort, timeout: Duration, during: &str) -> Error {
    use ::mysql::mysql_common::proto::codec::error::PacketCodecError;
    use ::mysql::{DriverError, Error as E};
    use std::io::ErrorKind;
    let addr = addr.clone();
    let timed_out = |addr| Error::Timeout { addr, after: timeout, during: during.to_owned() };
    match err {
        E::MySqlError(e) => Error::Query { addr, statement: during.to_owned(), code: e.code, message: e.message },
        E::IoError(e) | E::CodecError(PacketCodecError::Io(e)) => match e.kind() {
            // A socket read timeout surfaces as EAGAIN (WouldBlock) on Linux.
            ErrorKind::WouldBlock | ErrorKind::TimedOut => timed_out(addr),
            _ => Error::Unreachable { addr, reason: e.to_string() },
        },
        E::DriverError(DriverError::ConnectTimeout | DriverError::Timeout) => timed_out(addr),
        E::DriverError(DriverError::CouldNotConnect(Some((_, _, ErrorKind::TimedOut)))) => timed_out(addr),
        E::DriverError(DriverError::CouldNotConnect(Some((_, reason, _)))) => Error::Unreachable { addr, reason },
        E::DriverError(DriverError::CouldNotConnect(None)) => Error::Unreachable { addr, reason: "no address to connect to".into() },
        other => Error::BadResponse { addr, statement: during.to_owned(), detail: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::IoState;

    fn row(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect()
    }

    /// Columns of MariaDB 10.11's `SHOW ALL SLAVES STATUS` (the ones read here).
    fn mariadb_row() -> Fields {
        row(&[
            ("Connection_name", ""),
            ("Master_Host", "127.0.0.11"),
            ("Master_Port", "24000"),
            ("Master_Log_File", "mariadb-bin.000001"),
            ("Read_Master_Log_Pos", "545"),
            ("Slave_IO_Running", "Connecting"),
            ("Slave_SQL_Running", "Yes"),
            ("Last_IO_Errno", "2003"),
            ("Last_IO_Error", "error reconnecting to master 'repl@127.0.0.11:24000' - retry-time: 1"),
            ("Master_Server_Id", "11"),
            ("Gtid_IO_Pos", "0-11-1"),
            ("Slave_received_heartbeats", "23"),
            ("Slave_heartbeat_period", "2.000"),
        ])
    }

    #[test]
    fn a_mariadb_status_row_becomes_a_link() {
        let l = link(&mariadb_row()).unwrap();
        assert_eq!(l.master.to_string(), "127.0.0.11:24000");
        assert_eq!((l.io, l.master_server_id), (IoState::Connecting, Some(11)));
        assert_eq!(l.io_error.map(|e| e.code), Some(2003));
        assert_eq!(l.progress.as_deref(), Some("heartbeats=23 read=mariadb-bin.000001:545 gtid=0-11-1"));
        assert_eq!(l.heartbeat_period, Some(Duration::from_secs(2)));
    }

    #[test]
    fn without_a_heartbeat_counter_there_is_no_progress_marker() {
        let mut r = mariadb_row();
        r.remove("Slave_received_heartbeats");
        r.remove("Slave_heartbeat_period");
        let l = link(&r).unwrap();
        assert_eq!((l.progress, l.heartbeat_period), (None, None));
    }

    #[test]
    fn driver_errors_map_to_what_the_verdict_needs() {
        use std::io::{Error as IoError, ErrorKind};
        let addr: HostPort = "10.0.0.11:3306".parse().unwrap();
        let t = Duration::from_secs(1);
        let e = classify(::mysql::Error::IoError(IoError::from(ErrorKind::WouldBlock)), &addr, t, "connect");
        assert!(matches!(monitor_view(e), MonitorView::Timeout { .. }));
        let refused = ::mysql::DriverError::CouldNotConnect(Some(("x".into(), "Connection refused".into(), ErrorKind::ConnectionRefused)));
        let e = classify(::mysql::Error::DriverError(refused), &addr, t, "connect");
        assert_eq!(e.to_string(), "mysql 10.0.0.11:3306 is unreachable: Connection refused");
        assert!(matches!(monitor_view(e), MonitorView::Unreachable { .. }));
        let denied = ::mysql::MySqlError { state: "28000".into(), message: "Access denied for user 'x'".into(), code: 1045 };
        let e = classify(::mysql::Error::MySqlError(denied), &addr, t, "connect");
        assert!(matches!(monitor_view(e), MonitorView::Refusing { .. }), "a live server that refuses us is alive");
    }
}
