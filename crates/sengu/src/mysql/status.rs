//! What a MySQL or MariaDB server says about its role, as typed values: `SHOW SLAVE STATUS`
//! rows mapped from either column vocabulary (`Slave_*`/`Master_*` or MySQL 8's
//! `Replica_*`/`Source_*`), and the read-only and replication facts that decide whether a
//! server may take writes. Pure data and mapping, so it is unit-tested without a server.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::addr::HostPort;

/// A result row as column name → text value (`None` for SQL NULL).
pub type Fields = BTreeMap<String, Option<String>>;

/// Which server family answered (from `SELECT VERSION()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    /// MariaDB puts its name in the version string (`10.11.19-MariaDB-0+deb12u1-log`).
    pub fn from_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") { Flavor::MariaDb } else { Flavor::MySql }
    }
}

/// The replica's IO thread (`Slave_IO_Running` / `Replica_IO_Running`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoState {
    /// `Yes`: connected to the master and fetching.
    Running,
    /// `Connecting`: the thread runs but has no working connection (master down, frozen past
    /// `slave_net_timeout`, wrong credentials).
    Connecting,
    /// `No`: stopped, by an operator or by an error.
    Stopped,
}

impl IoState {
    fn parse(s: &str) -> Option<IoState> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Some(IoState::Running),
            "connecting" => Some(IoState::Connecting),
            "no" => Some(IoState::Stopped),
            _ => None,
        }
    }
}

impl fmt::Display for IoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoState::Running => "Yes",
            IoState::Connecting => "Connecting",
            IoState::Stopped => "No",
        })
    }
}

/// An error a replication thread recorded (`Last_IO_Errno`/`Last_IO_Error`, or the SQL pair).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThreadError {
    pub code: u32,
    pub message: String,
}

/// A position in the master's binary log (`Master_Log_File`, `Read_Master_Log_Pos`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogPosition {
    pub file: String,
    pub pos: u64,
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// One replication connection's status row (`SHOW SLAVE STATUS` gives the default connection
/// or channel, MariaDB's `SHOW ALL SLAVES STATUS` one row per named connection).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaStatus {
    /// `Master_Host`:`Master_Port` (`Source_*` on MySQL 8).
    #[serde(serialize_with = "as_text")]
    pub master: HostPort,
    pub io: IoState,
    pub sql_running: bool,
    /// `None` when the server cannot tell (SQL thread stopped, IO thread not connected).
    pub seconds_behind_master: Option<u64>,
    pub last_io_error: Option<ThreadError>,
    pub last_sql_error: Option<ThreadError>,
    /// MariaDB's `Using_Gtid` (`Slave_Pos`, `Current_Pos`, `No`); on MySQL `Auto_Position` (`1`/`0`).
    pub using_gtid: Option<String>,
    /// GTIDs fetched so far: MariaDB's `Gtid_IO_Pos`, MySQL's `Retrieved_Gtid_Set`.
    pub gtid_io_pos: Option<String>,
    /// `Master_Server_Id`: the server id of the master it last connected to (0 before it ever
    /// connected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_server_id: Option<u32>,
    /// How far the IO thread has read in the master's binary log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_position: Option<LogPosition>,
    /// How far the SQL thread has applied, in the master's binary log (`Relay_Master_Log_File`,
    /// `Exec_Master_Log_Pos`): equal to the master's `SHOW MASTER STATUS` when caught up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_position: Option<LogPosition>,
    /// `Slave_received_heartbeats`: heartbeats received since the link was configured. Only
    /// MariaDB's `SHOW ALL SLAVES STATUS` has it (MySQL keeps it in performance_schema).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeats: Option<u64>,
    /// `Slave_heartbeat_period`: how often an idle master sends a heartbeat (zero: off). Only in
    /// MariaDB's `SHOW ALL SLAVES STATUS`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "as_secs")]
    pub heartbeat_period: Option<Duration>,
}

impl ReplicaStatus {
    /// Maps a status row, accepting both the `Slave_*`/`Master_*` and the MySQL 8.0.22+
    /// `Replica_*`/`Source_*` column names. `Err` says which column was missing or odd.
    pub fn from_fields(fields: &Fields) -> Result<ReplicaStatus, String> {
        let get = |names: &[&str]| -> Option<&str> { names.iter().find_map(|n| fields.get(*n)).and_then(|v| v.as_deref()) };
        let required = |names: &[&str]| get(names).ok_or_else(|| format!("no {} column", names[0]));

        let io_text = required(&["Slave_IO_Running", "Replica_IO_Running"])?;
        let io = IoState::parse(io_text).ok_or_else(|| format!("Slave_IO_Running is {io_text:?}"))?;
        let sql_text = required(&["Slave_SQL_Running", "Replica_SQL_Running"])?;
        let sql_running = match sql_text.to_ascii_lowercase().as_str() {
            "yes" => true,
            "no" => false,
            _ => return Err(format!("Slave_SQL_Running is {sql_text:?}")),
        };
        let host = required(&["Master_Host", "Source_Host"])?.to_string();
        let port_text = required(&["Master_Port", "Source_Port"])?;
        let port = port_text.parse::<u16>().map_err(|_| format!("Master_Port is {port_text:?}"))?;
        let seconds_behind_master = match get(&["Seconds_Behind_Master", "Seconds_Behind_Source"]) {
            None => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| format!("Seconds_Behind_Master is {s:?}"))?),
        };
        let thread_error = |code_col: &str, msg_col: &str| -> Result<Option<ThreadError>, String> {
            let code = match get(&[code_col]) {
                None | Some("") => 0,
                Some(s) => s.parse::<u32>().map_err(|_| format!("{code_col} is {s:?}"))?,
            };
            Ok((code != 0).then(|| ThreadError { code, message: get(&[msg_col]).unwrap_or_default().to_string() }))
        };
        Ok(ReplicaStatus {
            master: HostPort { host, port },
            io,
            sql_running,
            seconds_behind_master,
            last_io_error: thread_error("Last_IO_Errno", "Last_IO_Error")?,
            last_sql_error: thread_error("Last_SQL_Errno", "Last_SQL_Error")?,
            using_gtid: get(&["Using_Gtid", "Auto_Position"]).map(str::to_string),
            gtid_io_pos: get(&["Gtid_IO_Pos", "Retrieved_Gtid_Set"]).filter(|s| !s.is_empty()).map(str::to_string),
            // The columns below only add detail to a row the ones above already made sense of,
            // so an odd value reads as unknown instead of failing the whole row.
            master_server_id: get(&["Master_Server_Id", "Source_Server_Id"]).and_then(|s| s.parse().ok()),
            read_position: match (get(&["Master_Log_File", "Source_Log_File"]), get(&["Read_Master_Log_Pos", "Read_Source_Log_Pos"])) {
                (Some(file), Some(pos)) => pos.parse().ok().map(|pos| LogPosition { file: file.to_string(), pos }),
                _ => None,
            },
            exec_position: match (get(&["Relay_Master_Log_File", "Relay_Source_Log_File"]), get(&["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"])) {
                (Some(file), Some(pos)) => pos.parse().ok().map(|pos| LogPosition { file: file.to_string(), pos }),
                _ => None,
            },
            heartbeats: get(&["Slave_received_heartbeats"]).and_then(|s| s.parse().ok()),
            heartbeat_period: get(&["Slave_heartbeat_period"])
                .and_then(|s| s.parse::<f64>().ok())
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
        })
    }

    /// Both threads running and connected: the replica follows its master.
    pub fn is_healthy(&self) -> bool {
        self.io == IoState::Running && self.sql_running
    }

    /// Any replication thread still running (a `Connecting` IO thread counts: it will resume
    /// applying the old master's changes as soon as it gets through).
    pub fn threads_running(&self) -> bool {
        self.io != IoState::Stopped || self.sql_running
    }
}

/// GTID positions, for comparing how far servers got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GtidPosition {
    /// Everything this server has applied or written: MariaDB `@@gtid_current_pos`, MySQL `@@gtid_executed`.
    pub executed: String,
    /// MariaDB `@@gtid_slave_pos`: what replication applied (`None` on MySQL).
    pub replica_pos: Option<String>,
}

/// Everything that decides a server's role, read in one go.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerRole {
    /// `SELECT VERSION()` (the handshake's version says `5.5.5-…` on MariaDB).
    pub version: String,
    pub flavor: Flavor,
    pub read_only: bool,
    /// `None` where the server has no such variable (MariaDB, MySQL < 5.7.8).
    pub super_read_only: Option<bool>,
    /// `None` when the server is not configured as a replica.
    pub replica: Option<ReplicaStatus>,
    /// `None` where the server has no GTID variables.
    pub gtid: Option<GtidPosition>,
}

/// Why a server should not take application writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WriteBlocker {
    ReadOnly,
    SuperReadOnly,
    Replicating {
        #[serde(serialize_with = "as_text")]
        master: HostPort,
        io: IoState,
        sql_running: bool,
    },
}

impl fmt::Display for WriteBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteBlocker::ReadOnly => f.write_str("read_only is ON"),
            WriteBlocker::SuperReadOnly => f.write_str("super_read_only is ON"),
            WriteBlocker::Replicating { master, io, sql_running } => {
                let sql = if *sql_running { "Yes" } else { "No" };
                write!(f, "still replicating from {master} (IO thread {io}, SQL thread {sql})")
            }
        }
    }
}

impl ServerRole {
    /// Everything that stands between this server and being a writable master; empty when it is one.
    pub fn write_blockers(&self) -> Vec<WriteBlocker> {
        let mut out = Vec::new();
        if self.read_only {
            out.push(WriteBlocker::ReadOnly);
        }
        if self.super_read_only == Some(true) {
            out.push(WriteBlocker::SuperReadOnly);
        }
        if let Some(r) = self.replica.as_ref().filter(|r| r.threads_running()) {
            out.push(WriteBlocker::Replicating { master: r.master.clone(), io: r.io, sql_running: r.sql_running });
        }
        out
    }

    /// `read_only` off (and `super_read_only` where it exists) and no replication thread running.
    pub fn is_writable(&self) -> bool {
        self.write_blockers().is_empty()
    }
}

/// Serializes a `host:port` as its text form, the way operators read it.
fn as_text<S: serde::Serializer>(v: &HostPort, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Serializes a period as seconds, as the server shows it.
fn as_secs<S: serde::Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, Option<&str>)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    /// Columns as MariaDB 10.11 returns them for a healthy replica (subset).
    fn mariadb_healthy() -> Fields {
        fields(&[
            ("Slave_IO_State", Some("Waiting for master to send event")),
            ("Master_Host", Some("127.0.0.11")),
            ("Master_User", Some("repl")),
            ("Master_Port", Some("24017")),
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Last_Errno", Some("0")),
            ("Seconds_Behind_Master", Some("0")),
            ("Last_IO_Errno", Some("0")),
            ("Last_IO_Error", Some("")),
            ("Last_SQL_Errno", Some("0")),
            ("Last_SQL_Error", Some("")),
            ("Using_Gtid", Some("Slave_Pos")),
            ("Gtid_IO_Pos", Some("0-11-3")),
        ])
    }

    #[test]
    fn maps_a_healthy_mariadb_replica() {
        let s = ReplicaStatus::from_fields(&mariadb_healthy()).unwrap();
        assert_eq!(s.master.to_string(), "127.0.0.11:24017");
        assert_eq!(s.io, IoState::Running);
        assert!(s.sql_running && s.is_healthy() && s.threads_running());
        assert_eq!(s.seconds_behind_master, Some(0));
        assert_eq!((s.last_io_error, s.last_sql_error), (None, None));
        assert_eq!(s.using_gtid.as_deref(), Some("Slave_Pos"));
        assert_eq!(s.gtid_io_pos.as_deref(), Some("0-11-3"));
    }

    #[test]
    fn maps_the_link_details_of_show_all_slaves_status() {
        let mut f = mariadb_healthy();
        for (k, v) in [
            ("Connection_name", ""),
            ("Master_Log_File", "mariadb-bin.000001"),
            ("Read_Master_Log_Pos", "545"),
            ("Master_Server_Id", "11"),
            ("Slave_received_heartbeats", "23"),
            ("Slave_heartbeat_period", "2.000"),
        ] {
            f.insert(k.into(), Some(v.into()));
        }
        let s = ReplicaStatus::from_fields(&f).unwrap();
        assert_eq!(s.master_server_id, Some(11));
        assert_eq!(s.read_position.as_ref().map(ToString::to_string).as_deref(), Some("mariadb-bin.000001:545"));
        assert_eq!((s.heartbeats, s.heartbeat_period), (Some(23), Some(Duration::from_secs(2))));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!((json["heartbeat_period"].as_f64(), json["read_position"]["pos"].as_u64()), (Some(2.0), Some(545)));
    }

    #[test]
    fn link_details_are_optional_and_odd_ones_read_as_unknown() {
        let s = ReplicaStatus::from_fields(&mariadb_healthy()).unwrap();
        assert_eq!((s.master_server_id, s.read_position, s.heartbeats, s.heartbeat_period), (None, None, None, None));
        let mut f = mariadb_healthy();
        f.insert("Master_Server_Id".into(), Some("eleven".into()));
        f.insert("Slave_heartbeat_period".into(), Some("-1".into()));
        let s = ReplicaStatus::from_fields(&f).unwrap();
        assert_eq!((s.master_server_id, s.heartbeat_period), (None, None));
    }

    #[test]
    fn maps_a_replica_whose_master_died() {
        let mut f = mariadb_healthy();
        let msg = "error reconnecting to master 'repl@127.0.0.11:24017' - retry-time: 1  maximum-retries: 100000  message: Can't connect";
        f.insert("Slave_IO_Running".into(), Some("Connecting".into()));
        f.insert("Seconds_Behind_Master".into(), None);
        f.insert("Last_IO_Errno".into(), Some("2003".into()));
        f.insert("Last_IO_Error".into(), Some(msg.into()));
        let s = ReplicaStatus::from_fields(&f).unwrap();
        assert_eq!(s.io, IoState::Connecting);
        assert!(!s.is_healthy() && s.threads_running());
        assert_eq!(s.seconds_behind_master, None);
        assert_eq!(s.last_io_error, Some(ThreadError { code: 2003, message: msg.into() }));
    }

    #[test]
    fn maps_mysql_8_replica_and_source_column_names() {
        let f = fields(&[
            ("Source_Host", Some("10.0.0.11")),
            ("Source_Port", Some("3306")),
            ("Replica_IO_Running", Some("No")),
            ("Replica_SQL_Running", Some("No")),
            ("Seconds_Behind_Source", None),
            ("Last_IO_Errno", Some("0")),
            ("Last_SQL_Errno", Some("1062")),
            ("Last_SQL_Error", Some("Duplicate entry")),
            ("Auto_Position", Some("1")),
            ("Retrieved_Gtid_Set", Some("")),
        ]);
        let s = ReplicaStatus::from_fields(&f).unwrap();
        assert_eq!(s.master.to_string(), "10.0.0.11:3306");
        assert_eq!((s.io, s.sql_running, s.threads_running()), (IoState::Stopped, false, false));
        assert_eq!(s.last_sql_error.unwrap().code, 1062);
        assert_eq!(s.using_gtid.as_deref(), Some("1"));
        assert_eq!(s.gtid_io_pos, None);
    }

    #[test]
    fn odd_or_missing_columns_are_errors_naming_the_column() {
        let mut f = mariadb_healthy();
        f.insert("Slave_IO_Running".into(), Some("Preparing".into()));
        assert!(ReplicaStatus::from_fields(&f).unwrap_err().contains("Slave_IO_Running"));
        let mut f = mariadb_healthy();
        f.remove("Master_Port");
        assert!(ReplicaStatus::from_fields(&f).unwrap_err().contains("Master_Port"));
        let mut f = mariadb_healthy();
        f.insert("Seconds_Behind_Master".into(), Some("-1".into()));
        assert!(ReplicaStatus::from_fields(&f).unwrap_err().contains("Seconds_Behind_Master"));
    }

    fn role(read_only: bool, super_ro: Option<bool>, replica: Option<ReplicaStatus>) -> ServerRole {
        ServerRole { version: "10.11.19-MariaDB".into(), flavor: Flavor::MariaDb, read_only, super_read_only: super_ro, replica, gtid: None }
    }

    #[test]
    fn a_master_is_writable_and_a_replica_lists_every_blocker() {
        assert!(role(false, None, None).is_writable());
        let replica = ReplicaStatus::from_fields(&mariadb_healthy()).unwrap();
        let r = role(true, Some(true), Some(replica));
        let texts: Vec<String> = r.write_blockers().iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            ["read_only is ON", "super_read_only is ON", "still replicating from 127.0.0.11:24017 (IO thread Yes, SQL thread Yes)"]
        );
    }

    #[test]
    fn stopped_replication_threads_do_not_block_writes() {
        let mut f = mariadb_healthy();
        f.insert("Slave_IO_Running".into(), Some("No".into()));
        f.insert("Slave_SQL_Running".into(), Some("No".into()));
        let r = role(false, Some(false), Some(ReplicaStatus::from_fields(&f).unwrap()));
        assert!(r.is_writable());
    }

    #[test]
    fn a_connecting_io_thread_still_blocks_writes() {
        let mut f = mariadb_healthy();
        f.insert("Slave_IO_Running".into(), Some("Connecting".into()));
        f.insert("Slave_SQL_Running".into(), Some("No".into()));
        let r = role(false, None, Some(ReplicaStatus::from_fields(&f).unwrap()));
        assert!(matches!(r.write_blockers()[..], [WriteBlocker::Replicating { io: IoState::Connecting, sql_running: false, .. }]));
    }

    #[test]
    fn flavor_comes_from_the_version_string() {
        assert_eq!(Flavor::from_version("10.11.19-MariaDB-0+deb12u1-log"), Flavor::MariaDb);
        assert_eq!(Flavor::from_version("8.0.36"), Flavor::MySql);
    }
}
