//! The Consul records the MySQL hooks manage, as read: the master and replica catalog nodes,
//! the KV value naming the master (plain or JSON), and the move-in-progress record. Reading
//! them is one [`View`]; deciding what to change is `plan`'s job.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::settings::{KvFormat, Names};
use crate::addr::HostPort;
use crate::consul::{self, Client};

/// What a KV value says about the master. Both formats are read whatever `kv_format` is set
/// to, so switching formats never makes a hook misread the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterValue {
    /// The host, or the whole text when it is neither format.
    pub host: String,
    /// Known for `HOST:PORT` and JSON values; the plain format stores the host only.
    pub port: Option<u16>,
    /// The bytes were in the JSON format.
    pub json: bool,
}

/// The JSON format of the KV value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonValue {
    pub host: String,
    pub port: u16,
    /// The master this one replaced, `host:port`, when known.
    pub previous: Option<String>,
    /// When the hook wrote the value (RFC 3339, UTC).
    pub changed_at: String,
}

impl MasterValue {
    /// Reads a stored value: JSON `{"host", "port", …}`, `HOST:PORT`, or a bare host.
    pub fn parse(bytes: &[u8]) -> MasterValue {
        let text = String::from_utf8_lossy(bytes).trim().to_string();
        if let Ok(json) = serde_json::from_str::<JsonValue>(&text) {
            return MasterValue { host: json.host, port: Some(json.port), json: true };
        }
        match text.parse::<HostPort>() {
            Ok(hp) => MasterValue { host: hp.host, port: Some(hp.port), json: false },
            Err(_) => MasterValue { host: text, port: None, json: false },
        }
    }

    /// The bytes to store for `new` in `format`.
    pub fn encode(format: KvFormat, new: &HostPort, previous: Option<&HostPort>, now: SystemTime) -> Vec<u8> {
        match format {
            KvFormat::Plain => new.host.clone().into_bytes(),
            KvFormat::Json => {
                let value = JsonValue {
                    host: new.host.clone(),
                    port: new.port,
                    previous: previous.map(ToString::to_string),
                    changed_at: humantime::format_rfc3339_seconds(now).to_string(),
                };
                // A struct of strings and a number always serialises.
                serde_json::to_vec(&value).unwrap_or_default()
            }
        }
    }

    /// True when the value names `addr`: same host, and the same port where the value has one.
    pub fn names(&self, addr: &HostPort) -> bool {
        self.host == addr.host && self.port.is_none_or(|p| p == addr.port)
    }

    /// True when the value is already what [`MasterValue::encode`] would write for `new` in
    /// `format` (ignoring `previous` and `changed_at`).
    pub fn is_current(&self, format: KvFormat, new: &HostPort) -> bool {
        match format {
            KvFormat::Plain => !self.json && self.port.is_none() && self.host == new.host,
            KvFormat::Json => self.json && self.names(new),
        }
    }

    /// The address to probe when deciding about this value; a plain value has no port, so the
    /// new master's port is assumed (masters usually share one port).
    pub fn probe_addr(&self, default_port: u16) -> Option<HostPort> {
        HostPort::from_parts(&self.host, &self.port.unwrap_or(default_port).to_string()).ok()
    }
}

impl fmt::Display for MasterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}", HostPort { host: self.host.clone(), port }),
            None => f.write_str(&self.host),
        }
    }
}

/// A move in progress, written by `mysql-before-exec` and removed by `mysql-after-exec` once
/// the new master is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRecord {
    /// `host:port`, or `None` when mysqlfailover did not know it (`UNKNOWN`).
    pub old: Option<String>,
    /// `host:port`, or `None` when the manager did not say yet (MHA's failover `stop` comes
    /// before it picks the new master).
    #[serde(default)]
    pub new: Option<String>,
    pub started_at: String,
}

impl MoveRecord {
    pub fn new(old: Option<&HostPort>, new: Option<&HostPort>, now: SystemTime) -> MoveRecord {
        MoveRecord {
            old: old.map(ToString::to_string),
            new: new.map(ToString::to_string),
            started_at: humantime::format_rfc3339_seconds(now).to_string(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `None` for bytes that are not a move record (then the record is replaced).
    pub fn parse(bytes: &[u8]) -> Option<MoveRecord> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn old_addr(&self) -> Option<HostPort> {
        self.old.as_deref().and_then(|s| s.parse().ok())
    }

    pub fn new_addr(&self) -> Option<HostPort> {
        self.new.as_deref().and_then(|s| s.parse().ok())
    }

    /// Same move (the start time does not matter).
    pub fn same_move(&self, other: &MoveRecord) -> bool {
        self.old == other.old && self.new == other.new
    }
}

/// A catalog node as the hooks care about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub address: String,
    /// The port of the configured service on this node, when it has one.
    pub service_port: Option<u16>,
}

impl NodeRecord {
    /// The node's address is `addr`'s host (and the service port, when there is a service).
    pub fn names(&self, addr: &HostPort) -> bool {
        self.address == addr.host && self.service_port.is_none_or(|p| p == addr.port)
    }

    /// Same host as `addr`, whatever the port: a node record alone cannot tell two servers on
    /// one host apart.
    pub fn same_host(&self, addr: &HostPort) -> bool {
        self.address == addr.host
    }
}

/// A KV entry read with its index, for compare-and-set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed<T> {
    pub value: T,
    pub modify_index: u64,
}

/// Everything the hooks read from Consul before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub master_node: Option<NodeRecord>,
    pub kv: Option<Indexed<MasterValue>>,
    pub replica_node: Option<NodeRecord>,
    /// `Some(Indexed { value: None, .. })`: the key holds something that is not a move record.
    pub moving: Option<Indexed<Option<MoveRecord>>>,
}

impl View {
    /// Reads the four records (four requests; a transaction cannot read catalog nodes by name
    /// together with their services).
    pub fn read(client: &Client, names: &Names) -> Result<View, consul::Error> {
        let master_node = node_record(client, &names.master_node, names.service.as_deref())?;
        let kv = client.kv_get(&names.kv_key)?.map(|pair| Indexed { value: MasterValue::parse(&pair.value), modify_index: pair.modify_index });
        let replica_node = node_record(client, &names.replica_node, None)?;
        let moving = client
            .kv_get(&names.move_key())?
            .map(|pair| Indexed { value: MoveRecord::parse(&pair.value), modify_index: pair.modify_index });
        Ok(View { master_node, kv, replica_node, moving })
    }

    /// The move record, when the key holds one.
    pub fn move_record(&self) -> Option<&MoveRecord> {
        self.moving.as_ref().and_then(|m| m.value.as_ref())
    }

    /// True when the master node or the KV value names `addr` (a plain value or a node has
    /// no port, so the host alone decides for them).
    pub fn names(&self, addr: &HostPort) -> bool {
        self.master_node.as_ref().is_some_and(|n| n.address == addr.host)
            || self.kv.as_ref().is_some_and(|kv| kv.value.names(addr))
    }

    /// True when both views hold the same records, whatever their modify indexes: how a
    /// re-read after a lost reply tells "applied" from "as before".
    pub fn same_records(&self, other: &View) -> bool {
        self.master_node == other.master_node
            && self.kv.as_ref().map(|k| &k.value) == other.kv.as_ref().map(|k| &k.value)
            && self.replica_node == other.replica_node
            && self.moving.as_ref().map(|m| &m.value) == other.moving.as_ref().map(|m| &m.value)
    }

    /// What Consul says about the master, for messages: `no master record`, `master record
    /// names 10.0.0.11`, or each part when node and KV disagree.
    pub fn describe(&self, names: &Names) -> String {
        match (&self.master_node, &self.kv) {
            (None, None) => "consul holds no master record".to_string(),
            (Some(node), Some(kv)) if kv.value.host == node.address => format!("consul's master record names {}", kv.value),
            (node, kv) => {
                let node = node.as_ref().map_or("absent".to_string(), |n| format!("names {}", n.address));
                let kv = kv.as_ref().map_or("absent".to_string(), |k| format!("names {}", k.value));
                format!("consul's master node {} {node}, kv {} {kv}", names.master_node, names.kv_key)
            }
        }
    }
}

fn node_record(client: &Client, node: &str, service: Option<&str>) -> Result<Option<NodeRecord>, consul::Error> {
    Ok(client.catalog_node(node)?.map(|found| NodeRecord {
        service_port: service.and_then(|s| found.services.get(s)).map(|s| s.port),
        address: found.node.address,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    #[test]
    fn plain_values_are_the_bare_host() {
        let new = hp("10.0.0.12:3306");
        let bytes = MasterValue::encode(KvFormat::Plain, &new, Some(&hp("10.0.0.11:3306")), SystemTime::UNIX_EPOCH);
        assert_eq!(bytes, b"10.0.0.12");
        let value = MasterValue::parse(&bytes);
        assert_eq!(value, MasterValue { host: "10.0.0.12".into(), port: None, json: false });
        assert!(value.names(&new) && value.names(&hp("10.0.0.12:3307")), "a bare host names every port");
        assert!(value.is_current(KvFormat::Plain, &new));
        assert!(!value.is_current(KvFormat::Json, &new));
        assert_eq!(value.probe_addr(3306), Some(new));
    }

    #[test]
    fn json_values_carry_port_previous_and_time() {
        let new = hp("10.0.0.12:3307");
        let bytes = MasterValue::encode(KvFormat::Json, &new, Some(&hp("10.0.0.11:3306")), SystemTime::UNIX_EPOCH);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"host": "10.0.0.12", "port": 3307, "previous": "10.0.0.11:3306", "changed_at": "1970-01-01T00:00:00Z"})
        );
        let value = MasterValue::parse(&bytes);
        assert!(value.json && value.names(&new) && !value.names(&hp("10.0.0.12:3306")));
        assert!(value.is_current(KvFormat::Json, &new));
        assert_eq!(value.to_string(), "10.0.0.12:3307");
        let unknown_previous = MasterValue::encode(KvFormat::Json, &new, None, SystemTime::UNIX_EPOCH);
        assert!(String::from_utf8(unknown_previous).unwrap().contains("\"previous\":null"));
    }

    #[test]
    fn other_values_are_read_as_well_as_possible() {
        assert_eq!(MasterValue::parse(b"10.0.0.13:3306\n"), MasterValue { host: "10.0.0.13".into(), port: Some(3306), json: false });
        let garbage = MasterValue::parse(b"not an address");
        assert_eq!(garbage.host, "not an address");
        assert!(!garbage.names(&hp("10.0.0.12:3306")));
        assert_eq!(garbage.probe_addr(3306), None);
    }

    #[test]
    fn move_records_round_trip_and_compare_without_time() {
        let a = MoveRecord::new(Some(&hp("10.0.0.11:3306")), Some(&hp("10.0.0.12:3306")), SystemTime::UNIX_EPOCH);
        let parsed = MoveRecord::parse(&a.encode()).unwrap();
        assert_eq!(parsed, a);
        assert_eq!(parsed.old_addr(), Some(hp("10.0.0.11:3306")));
        assert_eq!(parsed.new_addr(), Some(hp("10.0.0.12:3306")));
        let later = MoveRecord::new(Some(&hp("10.0.0.11:3306")), Some(&hp("10.0.0.12:3306")), SystemTime::now());
        assert!(a.same_move(&later));
        assert!(!a.same_move(&MoveRecord::new(None, Some(&hp("10.0.0.12:3306")), SystemTime::UNIX_EPOCH)));
        let unknown_new = MoveRecord::new(Some(&hp("10.0.0.11:3306")), None, SystemTime::UNIX_EPOCH);
        assert_eq!(MoveRecord::parse(&unknown_new.encode()).unwrap().new_addr(), None, "MHA's failover stop does not know it yet");
        assert_eq!(MoveRecord::parse(b"10.0.0.12"), None);
    }

    #[test]
    fn the_view_describes_agreement_and_disagreement() {
        let names = Names::default();
        let mut view = View::default();
        assert_eq!(view.describe(&names), "consul holds no master record");
        view.master_node = Some(NodeRecord { address: "10.0.0.11".into(), service_port: None });
        view.kv = Some(Indexed { value: MasterValue::parse(b"10.0.0.11"), modify_index: 5 });
        assert_eq!(view.describe(&names), "consul's master record names 10.0.0.11");
        view.kv = None;
        assert_eq!(view.describe(&names), "consul's master node foo-db-master names 10.0.0.11, kv foo-db-master absent");
    }
}
