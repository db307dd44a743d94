//! The hooks' decisions as pure functions from what was observed (a [`View`] of Consul plus
//! what the MySQL probes found) to a [`Plan`]: the one `/v1/txn` transaction to send, the
//! changes it makes, and the state Consul will be in afterwards. No I/O here, so every rule is
//! unit-tested.
//!
//! Every transaction starts with an operation on the master KV key that fails unless the key is
//! exactly as read (`cas`, `delete-cas`, `check-index` or `check-not-exists`), and the move
//! record is written with `cas` too. So a plan decided on a stale view is rolled back as a
//! whole, and the caller re-reads and decides again: nothing is ever overwritten blindly.
//!
//! One file because the three plans (`before`, `publish`, `unpublish`) share the guard and
//! move-record helpers; about half of it is their unit tests.

use std::fmt;
use std::time::SystemTime;

use super::records::{Indexed, MasterValue, MoveRecord, NodeRecord, View};
use super::settings::{KvFormat, Names};
use crate::addr::HostPort;
use crate::consul::{KvOp, KvVerb, Node, Service, TxnOp};

/// The service tag of the master instance.
pub const MASTER_TAG: &str = "master";

/// One change a plan makes, for the report and the action log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    RemovedMasterNode { node: String, address: String },
    RemovedKv { key: String, value: String },
    RecordedMove { key: String },
    PublishedMasterNode { node: String, address: String, previous: Option<String> },
    PublishedService { node: String, service: String, port: u16 },
    WroteKv { key: String, value: String, previous: Option<String> },
    PointedReplica { node: String, address: String, previous: Option<String> },
    RemovedReplica { node: String, address: String },
    ClearedMove { key: String },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let was = |previous: &Option<String>| previous.as_ref().map_or(String::new(), |p| format!(" (was {p})"));
        match self {
            Change::RemovedMasterNode { node, address } => write!(f, "removed node {node} ({address})"),
            Change::RemovedKv { key, value } => write!(f, "deleted kv {key} ({value})"),
            Change::RecordedMove { key } => write!(f, "recorded the move in kv {key}"),
            Change::PublishedMasterNode { node, address, previous } => write!(f, "node {node} -> {address}{}", was(previous)),
            Change::PublishedService { node, service, port } => write!(f, "service {service} on node {node} -> port {port}, tag {MASTER_TAG}"),
            Change::WroteKv { key, value, previous } => write!(f, "kv {key} -> {value}{}", was(previous)),
            Change::PointedReplica { node, address, previous } => write!(f, "node {node} -> {address}{}", was(previous)),
            Change::RemovedReplica { node, address } => write!(f, "removed node {node} ({address})"),
            Change::ClearedMove { key } => write!(f, "cleared the move record {key}"),
        }
    }
}

/// One transaction and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ops: Vec<TxnOp>,
    pub changes: Vec<Change>,
    /// The records as they will be once the transaction is applied (indexes unknown: 0).
    pub result: View,
}

impl Plan {
    fn new(view: &View) -> Plan {
        Plan { ops: Vec::new(), changes: Vec::new(), result: view.clone() }
    }

    /// True when there is nothing to change (the ops are only guards then).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes joined for one log field or message: `a; b; c`.
    pub fn changes_text(&self) -> String {
        self.changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }

    fn push(&mut self, op: TxnOp, change: Option<Change>) {
        self.ops.push(op);
        self.changes.extend(change);
    }

    /// Guards the master KV key as read: kept (`check-index` / `check-not-exists`).
    fn keep_kv(&mut self, names: &Names, kv: &Option<Indexed<MasterValue>>) {
        let op = match kv {
            Some(kv) => TxnOp::kv_check_index(&names.kv_key, kv.modify_index),
            None => TxnOp::kv_check_not_exists(&names.kv_key),
        };
        self.push(op, None);
    }

    fn delete_kv(&mut self, names: &Names, kv: &Indexed<MasterValue>) {
        self.push(
            kv_delete_cas(&names.kv_key, kv.modify_index),
            Some(Change::RemovedKv { key: names.kv_key.clone(), value: kv.value.to_string() }),
        );
        self.result.kv = None;
    }

    fn write_kv(&mut self, names: &Names, kv: &Option<Indexed<MasterValue>>, bytes: Vec<u8>) {
        let index = kv.as_ref().map_or(0, |kv| kv.modify_index);
        let value = MasterValue::parse(&bytes);
        let change = Change::WroteKv { key: names.kv_key.clone(), value: value.to_string(), previous: kv.as_ref().map(|kv| kv.value.to_string()) };
        self.push(TxnOp::kv_cas(&names.kv_key, &bytes, index), Some(change));
        self.result.kv = Some(Indexed { value, modify_index: 0 });
    }

    fn remove_master_node(&mut self, names: &Names, node: &NodeRecord) {
        let change = Change::RemovedMasterNode { node: names.master_node.clone(), address: node.address.clone() };
        self.push(TxnOp::node_delete(&names.master_node), Some(change));
        self.result.master_node = None;
    }

    /// Makes sure the move record holds this move (written with `cas`, so it guards too).
    fn record_move(&mut self, names: &Names, view: &View, record: MoveRecord) {
        let key = names.move_key();
        let index = match &view.moving {
            Some(Indexed { value: Some(current), .. }) if current.same_move(&record) => return,
            Some(existing) => existing.modify_index,
            None => 0,
        };
        self.push(TxnOp::kv_cas(&key, &record.encode(), index), Some(Change::RecordedMove { key }));
        self.result.moving = Some(Indexed { value: Some(record), modify_index: 0 });
    }

    fn clear_move(&mut self, names: &Names, view: &View) {
        if let Some(existing) = &view.moving {
            let key = names.move_key();
            self.push(kv_delete_cas(&key, existing.modify_index), Some(Change::ClearedMove { key }));
            self.result.moving = None;
        }
    }
}

fn kv_delete_cas(key: &str, index: u64) -> TxnOp {
    TxnOp::Kv(KvOp { verb: KvVerb::DeleteCas, key: key.to_string(), value: None, flags: 0, index, session: None })
}

/// Old and new master on one host: records without a port cannot tell them apart.
fn same_host(old: Option<&HostPort>, new: &HostPort) -> bool {
    old.is_some_and(|old| old.host == new.host)
}

/// The KV value names `new`, and not just possibly `old` on the same host.
fn kv_names_new(kv: &MasterValue, old: Option<&HostPort>, new: &HostPort) -> bool {
    kv.names(new) && (kv.port.is_some() || !same_host(old, new))
}

/// The master node names `new`, and not just possibly `old` on the same host.
fn node_names_new(node: &NodeRecord, old: Option<&HostPort>, new: &HostPort) -> bool {
    node.names(new) && (node.service_port.is_some() || !same_host(old, new))
}

/// What `mysql-before-exec` observed.
#[derive(Debug, Clone)]
pub struct BeforeInput<'a> {
    pub view: &'a View,
    pub names: &'a Names,
    /// `None` when mysqlfailover passed `UNKNOWN`.
    pub old: Option<&'a HostPort>,
    /// `None` when the manager has not chosen it yet (MHA's failover `stop`).
    pub new: Option<&'a HostPort>,
    /// The new master is already a writable, non-replicating master. Probed only when
    /// [`before_needs_probe`] says a record names it.
    pub new_is_master: bool,
    pub now: SystemTime,
}

/// True when a master record already names the new master, so `before` must find out whether
/// it is a finished move (keep it) or a record naming a server that is not yet a master
/// (remove it).
pub fn before_needs_probe(view: &View, old: Option<&HostPort>, new: Option<&HostPort>) -> bool {
    new.is_some_and(|new| {
        view.kv.as_ref().is_some_and(|kv| kv_names_new(&kv.value, old, new))
            || view.master_node.as_ref().is_some_and(|node| node_names_new(node, old, new))
    })
}

/// `mysql-before-exec`: remove every master record (catalog node with its services, KV key)
/// except one that names the new master when that is already a writable master (a late or
/// repeated run after `after` finished must not unpublish it). Records naming a third server
/// are removed too: during a move the failover manager, not Consul, knows the master. The move
/// is recorded unless the records show it finished.
pub fn before(input: &BeforeInput<'_>) -> Plan {
    let BeforeInput { view, names, old, new, new_is_master, now } = *input;
    let mut plan = Plan::new(view);
    let keep_kv = new.is_some_and(|new| view.kv.as_ref().is_some_and(|kv| new_is_master && kv_names_new(&kv.value, old, new)));
    let keep_node = new.is_some_and(|new| view.master_node.as_ref().is_some_and(|node| new_is_master && node_names_new(node, old, new)));
    match &view.kv {
        Some(kv) if !keep_kv => plan.delete_kv(names, kv),
        kv => plan.keep_kv(names, kv),
    }
    if let Some(node) = view.master_node.as_ref().filter(|_| !keep_node) {
        plan.remove_master_node(names, node);
    }
    // Finished: there are master records, and every one of them names the verified new master.
    let finished =
        (view.kv.is_some() || view.master_node.is_some()) && keep_kv == view.kv.is_some() && keep_node == view.master_node.is_some();
    if !finished {
        plan.record_move(names, view, MoveRecord::new(old, new, now));
    }
    plan
}

/// What `mysql-after-exec` observed once the new master passed verification.
#[derive(Debug, Clone)]
pub struct PublishInput<'a> {
    pub view: &'a View,
    pub names: &'a Names,
    /// From the arguments, else from the move record.
    pub old: Option<&'a HostPort>,
    pub new: &'a HostPort,
    pub kv_format: KvFormat,
    /// The old master is now a healthy replica of the new one (a switchover that demoted it).
    pub old_replicates_new: bool,
    pub now: SystemTime,
}

/// Addresses the master records name that are neither the new nor the old master: someone
/// else moved the master, and `after` must probe them before writing over them. A plain value
/// or a node has no port, so the new master's port is assumed.
pub fn others(view: &View, old: Option<&HostPort>, new: &HostPort) -> Vec<HostPort> {
    let is_known = |host: &str, port: Option<u16>| {
        let names = |addr: &HostPort| addr.host == host && port.is_none_or(|p| p == addr.port);
        names(new) || old.is_some_and(names)
    };
    let mut out: Vec<HostPort> = Vec::new();
    if let Some(kv) = &view.kv
        && !is_known(&kv.value.host, kv.value.port)
    {
        out.extend(kv.value.probe_addr(new.port));
    }
    if let Some(node) = &view.master_node
        && !is_known(&node.address, node.service_port)
    {
        out.extend(HostPort::from_parts(&node.address, &node.service_port.unwrap_or(new.port).to_string()).ok());
    }
    out.dedup();
    out
}

/// `mysql-after-exec`, new master verified: point the master node (and service) and the KV
/// value at it, point the replica node at the old master if that now replicates from the new
/// one (else remove a replica node that names the new or old master), and clear the move
/// record. Records already right are only guarded, so a second run changes nothing.
pub fn publish(input: &PublishInput<'_>) -> Plan {
    let PublishInput { view, names, old, new, kv_format, old_replicates_new, now } = *input;
    let mut plan = Plan::new(view);
    match &view.kv {
        Some(kv) if kv.value.is_current(kv_format, new) && kv_names_new(&kv.value, old, new) => plan.keep_kv(names, &view.kv),
        kv => plan.write_kv(names, kv, MasterValue::encode(kv_format, new, old, now)),
    }
    let node_ok = view.master_node.as_ref().is_some_and(|n| n.address == new.host);
    if !node_ok {
        let change = Change::PublishedMasterNode {
            node: names.master_node.clone(),
            address: new.host.clone(),
            previous: view.master_node.as_ref().map(|n| n.address.clone()),
        };
        plan.push(TxnOp::node_set(Node { node: names.master_node.clone(), address: new.host.clone(), ..Node::default() }), Some(change));
    }
    let service_port = if let Some(service) = &names.service {
        let current = node_ok && view.master_node.as_ref().and_then(|n| n.service_port) == Some(new.port);
        if !current {
            let instance = Service { id: service.clone(), service: service.clone(), tags: vec![MASTER_TAG.to_string()], port: new.port, ..Service::default() };
            let change = Change::PublishedService { node: names.master_node.clone(), service: service.clone(), port: new.port };
            plan.push(TxnOp::service_set(&names.master_node, instance), Some(change));
        }
        Some(new.port)
    } else {
        view.master_node.as_ref().filter(|_| node_ok).and_then(|n| n.service_port)
    };
    plan.result.master_node = Some(NodeRecord { address: new.host.clone(), service_port });

    match (old.filter(|_| old_replicates_new), &view.replica_node) {
        (Some(old), Some(replica)) if replica.address == old.host => {}
        (Some(old), replica) => {
            let change = Change::PointedReplica {
                node: names.replica_node.clone(),
                address: old.host.clone(),
                previous: replica.as_ref().map(|r| r.address.clone()),
            };
            plan.push(TxnOp::node_set(Node { node: names.replica_node.clone(), address: old.host.clone(), ..Node::default() }), Some(change));
            plan.result.replica_node = Some(NodeRecord { address: old.host.clone(), service_port: None });
        }
        (None, Some(replica)) if replica.same_host(new) || old.is_some_and(|old| replica.same_host(old)) => {
            let change = Change::RemovedReplica { node: names.replica_node.clone(), address: replica.address.clone() };
            plan.push(TxnOp::node_delete(&names.replica_node), Some(change));
            plan.result.replica_node = None;
        }
        (None, _) => {}
    }
    plan.clear_move(names, view);
    plan
}

/// What `mysql-after-exec` observed when the new master failed verification.
#[derive(Debug, Clone)]
pub struct UnpublishInput<'a> {
    pub view: &'a View,
    pub names: &'a Names,
    pub old: Option<&'a HostPort>,
    pub new: &'a HostPort,
    /// The new master could not be asked (unreachable, timeout, access denied): nothing shows
    /// it is wrong, so records naming it stay.
    pub keep_new: bool,
    pub now: SystemTime,
}

/// `mysql-after-exec`, new master rejected: Consul must hold no master rather than a wrong one,
/// so master records naming the old master (replaced) or the new one (shown not writable) are
/// removed, as `before` would have. A record naming the new master stays when it could only
/// not be verified (`keep_new`), and a record naming a third server is left alone: this run
/// knows nothing that says they are wrong. The move stays recorded, so a rerun can finish it.
pub fn unpublish(input: &UnpublishInput<'_>) -> Plan {
    let UnpublishInput { view, names, old, new, keep_new, now } = *input;
    let mut plan = Plan::new(view);
    if keep_new && view.names(new) {
        // Published already and not shown wrong: a run that cannot verify leaves it alone.
        return plan;
    }
    let names_ours = |host: &str, port: Option<u16>| {
        let names = |addr: &HostPort| addr.host == host && port.is_none_or(|p| p == addr.port);
        // A record that may name the new master (a node has no port) is kept under `keep_new`.
        if names(new) {
            return !keep_new;
        }
        old.is_some_and(names)
    };
    match &view.kv {
        Some(kv) if names_ours(&kv.value.host, kv.value.port) => plan.delete_kv(names, kv),
        kv => plan.keep_kv(names, kv),
    }
    if let Some(node) = view.master_node.as_ref().filter(|n| names_ours(&n.address, None)) {
        plan.remove_master_node(names, node);
    }
    plan.record_move(names, view, MoveRecord::new(old, Some(new), now));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::Verb;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn node(address: &str) -> Option<NodeRecord> {
        Some(NodeRecord { address: address.into(), service_port: None })
    }

    fn kv(value: &str, index: u64) -> Option<Indexed<MasterValue>> {
        Some(Indexed { value: MasterValue::parse(value.as_bytes()), modify_index: index })
    }

    fn moving(old: Option<&str>, new: &str, index: u64) -> Option<Indexed<Option<MoveRecord>>> {
        let record = MoveRecord::new(old.map(hp).as_ref(), Some(&hp(new)), SystemTime::UNIX_EPOCH);
        Some(Indexed { value: Some(record), modify_index: index })
    }

    /// The old master's records, as the previous `after` (or the old shell hook) left them.
    fn published_old() -> View {
        View { master_node: node("10.0.0.11"), kv: kv("10.0.0.11", 7), replica_node: node("10.0.0.12"), moving: None }
    }

    fn kv_verbs(plan: &Plan) -> Vec<(KvVerb, String, u64)> {
        plan.ops.iter().filter_map(|op| if let TxnOp::Kv(k) = op { Some((k.verb, k.key.clone(), k.index)) } else { None }).collect()
    }

    fn before_plan(view: &View, new_is_master: bool) -> Plan {
        let (old, new) = (hp("10.0.0.11:3306"), hp("10.0.0.12:3306"));
        before(&BeforeInput { view, names: &Names::default(), old: Some(&old), new: Some(&new), new_is_master, now: SystemTime::UNIX_EPOCH })
    }

    #[test]
    fn before_removes_node_and_key_and_records_the_move_in_one_transaction() {
        let view = published_old();
        let plan = before_plan(&view, false);
        assert_eq!(
            kv_verbs(&plan),
            vec![(KvVerb::DeleteCas, "foo-db-master".into(), 7), (KvVerb::Cas, "sengu/mysql/foo-db-master/move".into(), 0)]
        );
        assert!(plan.ops.iter().any(|op| matches!(op, TxnOp::Node(n) if n.verb == Verb::Delete && n.node.node == "foo-db-master")));
        assert!(matches!(plan.ops[0], TxnOp::Kv(_)), "the KV guard comes first");
        assert_eq!(
            plan.changes_text(),
            "deleted kv foo-db-master (10.0.0.11); removed node foo-db-master (10.0.0.11); recorded the move in kv sengu/mysql/foo-db-master/move"
        );
        assert_eq!(plan.result.describe(&Names::default()), "consul holds no master record");
        assert_eq!(plan.result.replica_node, view.replica_node, "before leaves the replica record alone");
    }

    #[test]
    fn before_run_twice_changes_nothing_the_second_time() {
        let first = before_plan(&published_old(), false);
        let second = before_plan(&first.result, false);
        assert!(second.is_empty(), "{:?}", second.changes);
        assert_eq!(kv_verbs(&second), vec![(KvVerb::CheckNotExists, "foo-db-master".into(), 0)]);
    }

    #[test]
    fn before_keeps_a_record_of_the_new_master_only_when_it_is_already_a_writable_master() {
        let view = View { master_node: node("10.0.0.12"), kv: kv("10.0.0.12", 9), ..View::default() };
        assert!(before_needs_probe(&view, Some(&hp("10.0.0.11:3306")), Some(&hp("10.0.0.12:3306"))));
        let late = before_plan(&view, true);
        assert!(late.is_empty(), "a late before must not unpublish a finished move: {:?}", late.changes);
        let early = before_plan(&view, false);
        assert_eq!(early.result.describe(&Names::default()), "consul holds no master record");
    }

    #[test]
    fn before_removes_a_record_of_a_third_server() {
        let view = View { master_node: node("10.0.0.13"), kv: kv("10.0.0.13", 9), ..View::default() };
        assert!(!before_needs_probe(&view, Some(&hp("10.0.0.11:3306")), Some(&hp("10.0.0.12:3306"))));
        assert_eq!(before_plan(&view, false).result.describe(&Names::default()), "consul holds no master record");
    }

    #[test]
    fn before_with_old_and_new_on_one_host_cannot_keep_a_portless_record() {
        let (old, new) = (hp("10.0.0.11:3306"), hp("10.0.0.11:3307"));
        let view = View { master_node: node("10.0.0.11"), kv: kv("10.0.0.11", 3), ..View::default() };
        assert!(!before_needs_probe(&view, Some(&old), Some(&new)));
        let plan = before(&BeforeInput { view: &view, names: &Names::default(), old: Some(&old), new: Some(&new), new_is_master: true, now: SystemTime::UNIX_EPOCH });
        assert_eq!(plan.result.describe(&Names::default()), "consul holds no master record");
    }

    #[test]
    fn before_rewrites_a_move_record_of_another_move() {
        let view = View { moving: moving(Some("10.0.0.13:3306"), "10.0.0.11:3306", 4), ..View::default() };
        let plan = before_plan(&view, false);
        assert_eq!(kv_verbs(&plan)[1], (KvVerb::Cas, "sengu/mysql/foo-db-master/move".into(), 4));
    }

    fn publish_plan(view: &View, old: Option<&str>, format: KvFormat, old_replicates_new: bool, names: &Names) -> Plan {
        let (old, new) = (old.map(hp), hp("10.0.0.12:3306"));
        publish(&PublishInput { view, names, old: old.as_ref(), new: &new, kv_format: format, old_replicates_new, now: SystemTime::UNIX_EPOCH })
    }

    #[test]
    fn publish_after_before_writes_node_and_key_removes_the_promoted_replica_and_clears_the_move() {
        let names = Names::default();
        let view = View { replica_node: node("10.0.0.12"), moving: moving(Some("10.0.0.11:3306"), "10.0.0.12:3306", 20), ..View::default() };
        let plan = publish_plan(&view, Some("10.0.0.11:3306"), KvFormat::Plain, false, &names);
        assert_eq!(
            kv_verbs(&plan),
            vec![(KvVerb::Cas, "foo-db-master".into(), 0), (KvVerb::DeleteCas, "sengu/mysql/foo-db-master/move".into(), 20)]
        );
        assert_eq!(
            plan.changes_text(),
            "kv foo-db-master -> 10.0.0.12; node foo-db-master -> 10.0.0.12; removed node foo-db-slave (10.0.0.12); \
             cleared the move record sengu/mysql/foo-db-master/move"
        );
        assert_eq!(plan.result.describe(&names), "consul's master record names 10.0.0.12");
        assert_eq!(plan.result.replica_node, None);
        let second = publish_plan(&plan.result, Some("10.0.0.11:3306"), KvFormat::Plain, false, &names);
        assert!(second.is_empty(), "a second after changes nothing: {:?}", second.changes);
    }

    #[test]
    fn publish_points_the_replica_node_at_a_demoted_old_master() {
        let names = Names { service: Some("mysql".into()), ..Names::default() };
        let view = View { replica_node: node("10.0.0.12"), ..View::default() };
        let plan = publish_plan(&view, Some("10.0.0.11:3306"), KvFormat::Json, true, &names);
        assert!(plan.changes.contains(&Change::PointedReplica { node: "foo-db-slave".into(), address: "10.0.0.11".into(), previous: Some("10.0.0.12".into()) }));
        assert!(plan.changes.contains(&Change::PublishedService { node: "foo-db-master".into(), service: "mysql".into(), port: 3306 }));
        let service = plan.ops.iter().find_map(|op| if let TxnOp::Service(s) = op { Some(s) } else { None }).unwrap();
        assert_eq!((service.node.as_str(), service.service.tags.as_slice(), service.service.port), ("foo-db-master", &["master".to_string()][..], 3306));
        let second = publish_plan(&plan.result, Some("10.0.0.11:3306"), KvFormat::Json, true, &names);
        assert!(second.is_empty(), "{:?}", second.changes);
    }

    #[test]
    fn publish_over_a_value_someone_else_wrote_uses_its_index() {
        let view = View { kv: kv("10.0.0.13", 31), master_node: node("10.0.0.13"), ..View::default() };
        assert_eq!(others(&view, Some(&hp("10.0.0.11:3306")), &hp("10.0.0.12:3306")), vec![hp("10.0.0.13:3306")]);
        let plan = publish_plan(&view, Some("10.0.0.11:3306"), KvFormat::Plain, false, &Names::default());
        assert_eq!(kv_verbs(&plan)[0], (KvVerb::Cas, "foo-db-master".into(), 31));
        assert!(plan.changes.contains(&Change::WroteKv { key: "foo-db-master".into(), value: "10.0.0.12".into(), previous: Some("10.0.0.13".into()) }));
    }

    #[test]
    fn others_ignores_records_of_the_old_and_new_master() {
        let view = published_old();
        assert!(others(&view, Some(&hp("10.0.0.11:3306")), &hp("10.0.0.12:3306")).is_empty());
        assert_eq!(others(&view, None, &hp("10.0.0.12:3306")), vec![hp("10.0.0.11:3306")], "with the old master unknown it must be probed");
        let json = View { kv: kv(r#"{"host":"10.0.0.12","port":3307,"previous":null,"changed_at":"x"}"#, 2), ..View::default() };
        assert_eq!(others(&json, None, &hp("10.0.0.12:3306")), vec![hp("10.0.0.12:3307")], "another port is another server");
    }

    #[test]
    fn switching_the_kv_format_rewrites_the_value_once() {
        let view = View { kv: kv("10.0.0.12", 5), master_node: node("10.0.0.12"), ..View::default() };
        let plan = publish_plan(&view, None, KvFormat::Json, false, &Names::default());
        assert_eq!(kv_verbs(&plan)[0], (KvVerb::Cas, "foo-db-master".into(), 5));
        assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
        assert!(publish_plan(&view, None, KvFormat::Plain, false, &Names::default()).is_empty());
    }

    #[test]
    fn unpublish_removes_records_of_the_old_or_new_master_and_keeps_the_move() {
        let names = Names::default();
        let (old, new) = (hp("10.0.0.11:3306"), hp("10.0.0.12:3306"));
        let input = |view| UnpublishInput { view, names: &names, old: Some(&old), new: &new, keep_new: false, now: SystemTime::UNIX_EPOCH };
        let old_published = published_old();
        let plan = unpublish(&input(&old_published));
        assert_eq!(plan.result.describe(&names), "consul holds no master record");
        assert!(plan.result.move_record().is_some());
        let new_published = View { master_node: node("10.0.0.12"), kv: kv("10.0.0.12", 3), ..View::default() };
        let plan = unpublish(&input(&new_published));
        assert_eq!(plan.result.describe(&names), "consul holds no master record");
        let third = View { master_node: node("10.0.0.13"), kv: kv("10.0.0.13", 3), ..View::default() };
        let plan = unpublish(&input(&third));
        assert_eq!(plan.result.describe(&names), "consul's master record names 10.0.0.13");
        assert_eq!(plan.changes, vec![Change::RecordedMove { key: "sengu/mysql/foo-db-master/move".into() }]);
        assert!(unpublish(&input(&plan.result)).is_empty(), "a rerun while still rejected changes nothing");
    }

    /// Issue 11, defect 2: a new master that could not be asked (timeout, access denied) is
    /// no evidence; a record already naming it is left exactly as it is.
    #[test]
    fn unpublish_leaves_a_published_new_master_alone_when_it_could_not_be_verified() {
        let names = Names::default();
        let (old, new) = (hp("10.0.0.11:3306"), hp("10.0.0.12:3306"));
        let input = |view| UnpublishInput { view, names: &names, old: Some(&old), new: &new, keep_new: true, now: SystemTime::UNIX_EPOCH };
        let new_published = View { master_node: node("10.0.0.12"), kv: kv("10.0.0.12", 3), ..View::default() };
        assert!(unpublish(&input(&new_published)).is_empty(), "published and unverified: nothing changes");
        let old_published = published_old();
        let plan = unpublish(&input(&old_published));
        assert_eq!(plan.result.describe(&names), "consul holds no master record", "the replaced old master still goes");
    }
}
