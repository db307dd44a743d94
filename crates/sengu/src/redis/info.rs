//! Parsers for `INFO replication` and `ROLE`, kept apart from the connection code so they can be
//! tested on captured outputs of a real Redis 7.0 (master, replica, syncing replica, replica whose
//! master is gone; see `testdata/`).
//!
//! `INFO` is a `key:value` text format with `#` section headers and CRLF line ends. The parser is
//! tolerant by design: unknown keys are kept in `other`, blank and comment lines are skipped, and
//! only the fields a decision depends on are required. That is what lets one binary read Redis
//! 5 to 7 alike.

use std::collections::BTreeMap;

use ::redis::Value;
use serde::Serialize;

use crate::addr::HostPort;

/// `role` as INFO reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InfoRole {
    Master,
    /// INFO says `slave`.
    Replica,
}

/// `master_link_status` of a replica: `up` only while the replication link is fully connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    Up,
    Down,
}

/// A replica's view of its master (the `master_*` and `slave_*` fields of INFO replication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub link_status: LinkStatus,
    /// Seconds since the last interaction with the master; -1 without a link.
    pub last_io_seconds_ago: i64,
    /// True while a full sync (RDB transfer) is running.
    pub sync_in_progress: bool,
    /// Seconds the link has been down; -1 if it was never up since start; absent while up.
    pub link_down_since_seconds: Option<i64>,
    /// `slave_repl_offset`: the replication offset this replica has processed.
    pub repl_offset: i64,
    /// `slave_priority` (0 = never promoted by Sentinel), when reported.
    pub priority: Option<u32>,
    /// `slave_read_only`, when reported.
    pub read_only: Option<bool>,
}

impl MasterLink {
    /// The configured master as an address.
    pub fn addr(&self) -> HostPort {
        HostPort { host: self.host.clone(), port: self.port }
    }
}

/// One `slaveN:ip=…,port=…,state=…,offset=…,lag=…` line: a replica attached to this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaEntry {
    pub ip: String,
    pub port: u16,
    /// `online` once synced; `wait_bgsave`, `send_bulk` … while syncing.
    pub state: String,
    pub offset: i64,
    /// Seconds since the replica's last ACK.
    pub lag: Option<i64>,
}

impl ReplicaEntry {
    pub fn addr(&self) -> HostPort {
        HostPort { host: self.ip.clone(), port: self.port }
    }
}

/// The parsed `INFO replication` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationInfo {
    pub role: InfoRole,
    /// Present exactly when `role` is [`InfoRole::Replica`].
    pub master: Option<MasterLink>,
    pub connected_slaves: u32,
    /// The `slaveN` lines, in N order (a replica can have replicas of its own).
    pub replicas: Vec<ReplicaEntry>,
    pub master_repl_offset: i64,
    pub master_replid: Option<String>,
    /// Every other field, as text (`master_failover_state`, `repl_backlog_*`, …).
    pub other: BTreeMap<String, String>,
}

/// Why a reply could not be parsed; the caller adds which server and command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

impl ReplicationInfo {
    /// Parses the text of `INFO replication` (or of a whole `INFO`, whose other sections are
    /// kept in `other` too).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut replicas: Vec<(u32, ReplicaEntry)> = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else { continue };
            if let Some(n) = key.strip_prefix("slave").and_then(|n| n.parse::<u32>().ok()) {
                replicas.push((n, parse_replica_line(value).map_err(|e| ParseError(format!("{key}: {}", e.0)))?));
                continue;
            }
            fields.insert(key.to_string(), value.to_string());
        }
        replicas.sort_by_key(|(n, _)| *n);

        let role = match take(&mut fields, "role").as_deref() {
            Some("master") => InfoRole::Master,
            Some("slave") => InfoRole::Replica,
            Some(other) => return err(format!("unknown role {other:?}")),
            None => return err("no role field"),
        };
        let master = match role {
            InfoRole::Master => None,
            InfoRole::Replica => Some(parse_master_link(&mut fields)?),
        };
        let connected_slaves = num(&mut fields, "connected_slaves")?.unwrap_or(replicas.len() as u32);
        let master_repl_offset = num(&mut fields, "master_repl_offset")?.unwrap_or(0);
        let master_replid = take(&mut fields, "master_replid");
        Ok(ReplicationInfo {
            role,
            master,
            connected_slaves,
            replicas: replicas.into_iter().map(|(_, r)| r).collect(),
            master_repl_offset,
            master_replid,
            other: fields,
        })
    }
}

fn take(fields: &mut BTreeMap<String, String>, key: &str) -> Option<String> {
    fields.remove(key)
}

/// Removes and parses a numeric field; absent is `None`, malformed is an error.
fn num<T: std::str::FromStr>(fields: &mut BTreeMap<String, String>, key: &str) -> Result<Option<T>, ParseError> {
    match fields.remove(key) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| ParseError(format!("{key}: not a number: {v:?}"))),
    }
}

fn required<T: std::str::FromStr>(fields: &mut BTreeMap<String, String>, key: &str) -> Result<T, ParseError> {
    num(fields, key)?.ok_or_else(|| ParseError(format!("role is slave but {key} is missing")))
}

fn parse_master_link(fields: &mut BTreeMap<String, String>) -> Result<MasterLink, ParseError> {
    let host = take(fields, "master_host").ok_or_else(|| ParseError("role is slave but master_host is missing".into()))?;
    let port = required(fields, "master_port")?;
    let link_status = match take(fields, "master_link_status").as_deref() {
        Some("up") => LinkStatus::Up,
        // Anything else (absent included) is not a working link.
        _ => LinkStatus::Down,
    };
    Ok(MasterLink {
        host,
        port,
        link_status,
        last_io_seconds_ago: num(fields, "master_last_io_seconds_ago")?.unwrap_or(-1),
        sync_in_progress: num::<u8>(fields, "master_sync_in_progress")?.unwrap_or(0) != 0,
        link_down_since_seconds: num(fields, "master_link_down_since_seconds")?,
        repl_offset: num(fields, "slave_repl_offset")?.unwrap_or(0),
        priority: num(fields, "slave_priority")?,
        read_only: num::<u8>(fields, "slave_read_only")?.map(|v| v != 0),
    })
}

/// Parses `ip=…,port=…,state=…,offset=…,lag=…` (older servers lack `state`/`lag`).
fn parse_replica_line(value: &str) -> Result<ReplicaEntry, ParseError> {
    let mut kv: BTreeMap<String, String> = value
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ip = kv.remove("ip").ok_or_else(|| ParseError("no ip".into()))?;
    let port = num(&mut kv, "port")?.ok_or_else(|| ParseError("no port".into()))?;
    Ok(ReplicaEntry {
        ip,
        port,
        state: kv.remove("state").unwrap_or_default(),
        offset: num(&mut kv, "offset")?.unwrap_or(0),
        lag: num(&mut kv, "lag")?,
    })
}

/// A replica as the master's `ROLE` reply lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleReplica {
    pub ip: String,
    pub port: u16,
    /// The offset the replica last acknowledged.
    pub offset: i64,
}

/// The `ROLE` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    Master { offset: i64, replicas: Vec<RoleReplica> },
    /// `state` is one of `none connect connecting handshake sync connected`; `offset` is -1
    /// before the first sync.
    Replica {
        #[serde(serialize_with = "as_text")]
        master: HostPort,
        state: String,
        offset: i64,
    },
    Sentinel { masters: Vec<String> },
}

impl Role {
    /// Parses the array `ROLE` returns.
    pub fn from_value(v: &Value) -> Result<Role, ParseError> {
        let Value::Array(items) = v else { return err(format!("expected an array, got {v:?}")) };
        let kind = items.first().map(text).transpose()?.unwrap_or_default();
        match kind.as_str() {
            "master" => {
                let offset = int(items.get(1))?;
                let list = match items.get(2) {
                    Some(Value::Array(list)) => list.as_slice(),
                    None | Some(Value::Nil) => &[],
                    Some(other) => return err(format!("replica list is not an array: {other:?}")),
                };
                let replicas = list
                    .iter()
                    .map(|r| {
                        let Value::Array(f) = r else { return err(format!("replica entry is not an array: {r:?}")) };
                        Ok(RoleReplica { ip: text(f.first().unwrap_or(&Value::Nil))?, port: port(f.get(1))?, offset: int(f.get(2))? })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Role::Master { offset, replicas })
            }
            "slave" => {
                let host = text(items.get(1).unwrap_or(&Value::Nil))?;
                let port = port(items.get(2))?;
                let state = text(items.get(3).unwrap_or(&Value::Nil))?;
                Ok(Role::Replica { master: HostPort { host, port }, state, offset: int(items.get(4))? })
            }
            "sentinel" => {
                let masters = match items.get(1) {
                    Some(Value::Array(names)) => names.iter().map(text).collect::<Result<_, _>>()?,
                    _ => Vec::new(),
                };
                Ok(Role::Sentinel { masters })
            }
            other => err(format!("unknown role {other:?}")),
        }
    }
}

/// Serializes an address as `host:port` text (`HostPort` itself has no serde support).
pub(crate) fn as_text<S: serde::Serializer>(v: &HostPort, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A string-ish reply element as text.
pub(crate) fn text(v: &Value) -> Result<String, ParseError> {
    match v {
        Value::BulkString(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::VerbatimString { text, .. } => Ok(text.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Okay => Ok("OK".to_string()),
        other => err(format!("expected a string, got {other:?}")),
    }
}

/// An integer reply element; Redis sends some numbers as bulk strings (ports, offsets).
fn int(v: Option<&Value>) -> Result<i64, ParseError> {
    match v {
        Some(Value::Int(i)) => Ok(*i),
        Some(other) => {
            let t = text(other)?;
            t.parse().map_err(|_| ParseError(format!("not a number: {t:?}")))
        }
        None => err("missing number"),
    }
}

fn port(v: Option<&Value>) -> Result<u16, ParseError> {
    let n = int(v)?;
    u16::try_from(n).map_err(|_| ParseError(format!("not a port: {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> ReplicationInfo {
        let text = match name {
            "master-alone" => include_str!("testdata/info-master-alone.txt"),
            "master-two-replicas" => include_str!("testdata/info-master-two-replicas.txt"),
            "master-waiting" => include_str!("testdata/info-master-replica-waiting-bgsave.txt"),
            "replica" => include_str!("testdata/info-replica.txt"),
            "replica-sub" => include_str!("testdata/info-replica-with-subreplica.txt"),
            "replica-syncing" => include_str!("testdata/info-replica-syncing.txt"),
            "replica-gone" => include_str!("testdata/info-replica-master-gone.txt"),
            _ => unreachable!(),
        };
        ReplicationInfo::parse(text).unwrap()
    }

    #[test]
    fn master_without_replicas() {
        let i = sample("master-alone");
        assert_eq!(i.role, InfoRole::Master);
        assert_eq!(i.master, None);
        assert_eq!(i.connected_slaves, 0);
        assert!(i.replicas.is_empty());
        assert_eq!(i.master_replid.as_deref(), Some("7d307ddcc8189edae4f868aff93a6ba206f3900b"));
        assert_eq!(i.other.get("master_failover_state").map(String::as_str), Some("no-failover"));
    }

    #[test]
    fn master_lists_each_replica_with_state_offset_and_lag() {
        let i = sample("master-two-replicas");
        assert_eq!(i.connected_slaves, 2);
        assert_eq!(i.master_repl_offset, 625);
        assert_eq!(
            i.replicas,
            vec![
                ReplicaEntry { ip: "127.0.0.51".into(), port: 26101, state: "online".into(), offset: 625, lag: Some(1) },
                ReplicaEntry { ip: "127.0.0.52".into(), port: 26102, state: "online".into(), offset: 625, lag: Some(1) },
            ]
        );
        assert_eq!(i.replicas[1].addr().to_string(), "127.0.0.52:26102");
    }

    #[test]
    fn master_shows_a_replica_still_waiting_for_its_sync() {
        let i = sample("master-waiting");
        assert_eq!(i.replicas[0].state, "wait_bgsave");
    }

    #[test]
    fn healthy_replica() {
        let i = sample("replica");
        assert_eq!(i.role, InfoRole::Replica);
        let m = i.master.unwrap();
        assert_eq!(m.addr().to_string(), "127.0.0.50:26100");
        assert_eq!(m.link_status, LinkStatus::Up);
        assert_eq!(m.last_io_seconds_ago, 1);
        assert!(!m.sync_in_progress);
        assert_eq!(m.link_down_since_seconds, None);
        assert_eq!(m.repl_offset, 625);
        assert_eq!(m.priority, Some(100));
        assert_eq!(m.read_only, Some(true));
        assert_eq!(i.connected_slaves, 0);
    }

    #[test]
    fn replica_with_its_own_replica() {
        let i = sample("replica-sub");
        assert_eq!(i.role, InfoRole::Replica);
        assert_eq!(i.connected_slaves, 1);
        assert_eq!(i.replicas[0].addr().to_string(), "127.0.0.53:26103");
    }

    #[test]
    fn replica_during_full_sync() {
        let i = sample("replica-syncing");
        let m = i.master.unwrap();
        assert_eq!(m.link_status, LinkStatus::Down);
        assert!(m.sync_in_progress);
        assert_eq!(m.link_down_since_seconds, Some(-1), "never up yet");
        assert_eq!(i.other.get("master_sync_total_bytes").map(String::as_str), Some("-1"));
    }

    #[test]
    fn replica_whose_master_is_gone() {
        let i = sample("replica-gone");
        let m = i.master.unwrap();
        assert_eq!(m.link_status, LinkStatus::Down);
        assert_eq!(m.last_io_seconds_ago, -1);
        assert!(!m.sync_in_progress);
        assert_eq!(m.link_down_since_seconds, Some(1));
        assert_eq!(m.repl_offset, 625);
    }

    #[test]
    fn tolerates_lf_line_ends_unknown_keys_and_missing_optional_fields() {
        let i = ReplicationInfo::parse("role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nfuture_field:x\nslave3:ip=10.0.0.9,port=7000,offset=5\n").unwrap();
        let m = i.master.unwrap();
        assert_eq!(m.link_status, LinkStatus::Down);
        assert_eq!(m.priority, None);
        assert_eq!(i.connected_slaves, 1, "counted from the slaveN lines when the field is absent");
        assert_eq!(i.replicas[0].lag, None);
        assert_eq!(i.other["future_field"], "x");
    }

    #[test]
    fn rejects_what_a_decision_cannot_do_without() {
        assert!(ReplicationInfo::parse("# Replication\r\n").is_err());
        assert!(ReplicationInfo::parse("role:sentinel\r\n").is_err());
        assert!(ReplicationInfo::parse("role:slave\r\nmaster_port:6379\r\n").is_err());
        assert!(ReplicationInfo::parse("role:slave\r\nmaster_host:h\r\nmaster_port:x\r\n").is_err());
        assert!(ReplicationInfo::parse("role:master\r\nslave0:port=1\r\n").is_err());
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn role_of_a_master_with_replicas() {
        // As captured: ports and offsets of replicas come as bulk strings.
        let v = Value::Array(vec![
            bulk("master"),
            Value::Int(625),
            Value::Array(vec![
                Value::Array(vec![bulk("127.0.0.51"), bulk("26101"), bulk("625")]),
                Value::Array(vec![bulk("127.0.0.52"), bulk("26102"), bulk("625")]),
            ]),
        ]);
        let Role::Master { offset, replicas } = Role::from_value(&v).unwrap() else { panic!() };
        assert_eq!(offset, 625);
        assert_eq!(replicas[1], RoleReplica { ip: "127.0.0.52".into(), port: 26102, offset: 625 });
    }

    #[test]
    fn role_of_replicas_connected_and_handshaking() {
        let v = Value::Array(vec![bulk("slave"), bulk("127.0.0.50"), Value::Int(26100), bulk("connected"), Value::Int(625)]);
        assert_eq!(
            Role::from_value(&v).unwrap(),
            Role::Replica { master: "127.0.0.50:26100".parse().unwrap(), state: "connected".into(), offset: 625 }
        );
        let v = Value::Array(vec![bulk("slave"), bulk("127.0.0.50"), Value::Int(26100), bulk("handshake"), Value::Int(-1)]);
        assert!(matches!(Role::from_value(&v).unwrap(), Role::Replica { offset: -1, .. }));
    }

    #[test]
    fn role_of_a_sentinel_and_garbage() {
        let v = Value::Array(vec![bulk("sentinel"), Value::Array(vec![bulk("mymaster")])]);
        assert_eq!(Role::from_value(&v).unwrap(), Role::Sentinel { masters: vec!["mymaster".into()] });
        assert!(Role::from_value(&Value::Int(1)).is_err());
        assert!(Role::from_value(&Value::Array(vec![bulk("leader")])).is_err());
        assert!(Role::from_value(&Value::Array(vec![bulk("slave"), bulk("h"), Value::Int(70000), bulk("connected"), Value::Int(1)])).is_err());
    }
}
