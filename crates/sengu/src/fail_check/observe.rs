//! The observers' I/O: this monitor's own connection to the master (and, while it answers, its
//! server id and replica list), each replica's replication status, and Consul's view of the
//! master's node or of a replica service. Each call runs under its own timeout and never fails:
//! a failure is itself an answer, which [`super::verdict`] weighs.

use std::time::Duration;

use super::verdict::{ConsulView, Identity, MonitorView, ReplicaLink, ReplicaView};
use crate::addr::HostPort;
use crate::consul::{self, CheckStatus};
use crate::mysql::{Credentials, Error, ReplicaStatus, Server, Timeouts};

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

/// Connects to the master as this monitor and reads `@@server_id` (the trivial query that
/// also tells who answered); then, if `list_replicas`, lists its replicas (best effort).
pub fn master(addr: &HostPort, creds: &Credentials, timeout: Duration, list_replicas: bool) -> MasterSight {
    let mut server = match connect(addr, creds, timeout) {
        Ok(server) => server,
        Err(e) => return MasterSight { view: monitor_view(e), replicas: None },
    };
    let server_id = match server.server_id() {
        Ok(id) => Some(id),
        // It logged us in and answered, if oddly: alive, only its identity is unknown.
        Err(Error::BadResponse { .. }) => None,
        Err(e) => return MasterSight { view: monitor_view(e), replicas: None },
    };
    let replicas = list_replicas.then(|| server.replica_hosts().map_err(|e| e.to_string()));
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

/// Connects over TCP. Connect, each read and each write get half the budget, so that a connect
/// plus one stalled read (a frozen server completes the TCP handshake from the kernel backlog)
/// fit in it.
fn connect(addr: &HostPort, creds: &Credentials, timeout: Duration) -> Result<Server, Error> {
    let step = (timeout / 2).max(Duration::from_millis(100));
    Server::connect(addr, creds, Timeouts::all(step))
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
    let statuses = match connect(addr, creds, timeout).and_then(|mut server| server.replica_statuses()) {
        Ok(statuses) => statuses,
        Err(e) => return ReplicaView::Unreachable { error: e.to_string() },
    };
    let mut links: Vec<ReplicaLink> = statuses.into_iter().map(link).collect();
    match links.iter().position(|l| identity.is_master_of(l)) {
        Some(i) => ReplicaView::Link(links.swap_remove(i)),
        None => links.into_iter().next().map_or(ReplicaView::NotReplica, ReplicaView::Link),
    }
}

/// A replication connection's status as the verdict reads it.
fn link(status: ReplicaStatus) -> ReplicaLink {
    // Only a heartbeat counter tells a silent link from an idle master, so without one
    // (MySQL keeps it in performance_schema) there is no progress marker at all.
    let progress = status.heartbeats.map(|beats| {
        let read = status.read_position.as_ref().map_or_else(|| ":".to_string(), ToString::to_string);
        format!("heartbeats={beats} read={read} gtid={}", status.gtid_io_pos.as_deref().unwrap_or_default())
    });
    ReplicaLink {
        master: status.master,
        master_server_id: status.master_server_id,
        io: status.io,
        io_error: status.last_io_error,
        sql_running: status.sql_running,
        progress,
        heartbeat_period: status.heartbeat_period,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::{Fields, IoState};

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

    fn link_of(row: &Fields) -> ReplicaLink {
        link(ReplicaStatus::from_fields(row).unwrap())
    }

    #[test]
    fn a_mariadb_status_row_becomes_a_link() {
        let l = link_of(&mariadb_row());
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
        let l = link_of(&r);
        assert_eq!((l.progress, l.heartbeat_period), (None, None));
    }

    /// How [`crate::mysql`] classifies the driver's errors is tested there; this is what each
    /// class means to the verdict.
    #[test]
    fn error_classes_map_to_what_the_verdict_needs() {
        let addr: HostPort = "10.0.0.11:3306".parse().unwrap();
        let e = Error::Timeout { addr: addr.clone(), after: Duration::from_secs(1), during: "connect".into() };
        assert!(matches!(monitor_view(e), MonitorView::Timeout { .. }));
        let e = Error::Unreachable { addr: addr.clone(), reason: "Connection refused".into() };
        assert_eq!(e.to_string(), "mysql 10.0.0.11:3306 is unreachable: Connection refused");
        assert!(matches!(monitor_view(e), MonitorView::Unreachable { .. }));
        let e = Error::BadResponse { addr: addr.clone(), statement: "connect".into(), detail: "not mysql".into() };
        assert!(matches!(monitor_view(e), MonitorView::Unreachable { .. }), "nothing MySQL-shaped answered");
        let denied = Error::AccessDenied { addr: addr.clone(), user: "x".into(), code: 1045, message: "Access denied for user 'x'".into() };
        assert!(matches!(monitor_view(denied), MonitorView::Refusing { .. }), "a live server that refuses us is alive");
        let refused = Error::Query { addr, statement: "SELECT @@global.server_id".into(), code: 1227, message: "denied".into() };
        assert!(matches!(monitor_view(refused), MonitorView::Refusing { .. }));
    }
}
