//! The datacenter's catalog: nodes, service instances and health checks, with Consul's write
//! rules (§2 of the reference) and the JSON shapes its endpoints return.
//!
//! Writes that change nothing keep their ModifyIndex and bump no index, as Consul's state store
//! does, so anti-entropy and repeated registrations don't wake blocking queries. Besides the
//! catalog-wide index, each node and each service name keeps the index of its last change, which
//! is what the node and health endpoints report in `X-Consul-Index`.
//!
//! It stays one module past 400 lines because the model, its write rules and the JSON shapes
//! of its records change together; about a third of it is tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

/// The node check every agent carries; critical while the agent is unreachable.
pub const SERF_CHECK_ID: &str = "serfHealth";
pub const SERF_CHECK_NAME: &str = "Serf Health Status";
pub const SERF_ALIVE_OUTPUT: &str = "Agent alive and reachable";
pub const SERF_DEAD_OUTPUT: &str = "Agent not live or unreachable";

pub const PASSING: &str = "passing";
pub const WARNING: &str = "warning";
pub const CRITICAL: &str = "critical";

/// True for the three statuses Consul accepts.
pub fn valid_status(status: &str) -> bool {
    matches!(status, PASSING | WARNING | CRITICAL)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub passing: i64,
    pub warning: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub tagged_addresses: Map<String, Value>,
    pub meta: BTreeMap<String, String>,
    pub port: i64,
    pub weights: Weights,
    pub enable_tag_override: bool,
    pub kind: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Service {
    /// Same content, indexes aside.
    pub fn same(&self, other: &Service) -> bool {
        self.id == other.id
            && self.service == other.service
            && self.tags == other.tags
            && self.address == other.address
            && self.tagged_addresses == other.tagged_addresses
            && self.meta == other.meta
            && self.port == other.port
            && self.weights == other.weights
            && self.enable_tag_override == other.enable_tag_override
            && self.kind == other.kind
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub node: String,
    pub check_id: String,
    pub name: String,
    pub status: String,
    pub notes: String,
    pub output: String,
    pub service_id: String,
    pub service_name: String,
    pub service_tags: Vec<String>,
    pub kind: String,
    pub interval: String,
    pub timeout: String,
    pub definition: Map<String, Value>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Check {
    pub fn same(&self, other: &Check) -> bool {
        self.node == other.node
            && self.check_id == other.check_id
            && self.name == other.name
            && self.status == other.status
            && self.notes == other.notes
            && self.output == other.output
            && self.service_id == other.service_id
            && self.service_name == other.service_name
            && self.service_tags == other.service_tags
            && self.kind == other.kind
            && self.interval == other.interval
            && self.timeout == other.timeout
            && self.definition == other.definition
    }

    /// A maintenance check (node or service); these are critical and win every aggregation.
    pub fn is_maintenance(&self) -> bool {
        self.check_id == "_node_maintenance" || self.check_id.starts_with("_service_maintenance:")
    }
}

/// One node with everything registered on it.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    pub node: Node,
    pub services: BTreeMap<String, Service>,
    pub checks: BTreeMap<String, Check>,
}

impl NodeEntry {
    /// The node-level checks (no ServiceID) plus the checks of one service instance, in ID order.
    pub fn instance_checks(&self, service_id: &str) -> Vec<&Check> {
        self.checks
            .values()
            .filter(|c| c.service_id.is_empty() || c.service_id == service_id)
            .collect()
    }
}

/// Errors the catalog returns; their text is Consul's and goes out as a 500 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("Must provide node")]
    MissingNode,
    #[error("Must provide address if SkipNodeUpdate is not set")]
    MissingAddress,
    #[error("Bad node ID: {0}")]
    BadNodeId(String),
    #[error("Must provide service name with ID")]
    MissingServiceName,
    #[error("Invalid service address")]
    InvalidServiceAddress,
    #[error("Missing service registration")]
    MissingService,
    #[error("Missing node registration")]
    MissingNodeRegistration,
    #[error("Check node {check_node:?} does not match node {node:?}")]
    CheckNodeMismatch { check_node: String, node: String },
}

/// A parsed `PUT /v1/catalog/register` request.
#[derive(Debug, Clone)]
pub struct Registration {
    pub node: Node,
    pub skip_node_update: bool,
    pub service: Option<Service>,
    pub checks: Vec<Check>,
}

/// Case-insensitive key for node names and service names, as Consul's indexes use.
pub fn key(name: &str) -> String {
    name.to_lowercase()
}

/// True if `id` looks like the UUID Consul requires for node IDs.
pub fn valid_node_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[derive(Debug, Default, Clone)]
pub struct Catalog {
    nodes: BTreeMap<String, NodeEntry>,
    /// Index of the last change anywhere in the catalog.
    pub index: u64,
    node_index: HashMap<String, u64>,
    service_index: HashMap<String, u64>,
}

impl Catalog {
    pub fn nodes(&self) -> impl Iterator<Item = &NodeEntry> {
        self.nodes.values()
    }

    pub fn node(&self, name: &str) -> Option<&NodeEntry> {
        self.nodes.get(&key(name))
    }

    /// Index for reads about one node (its last change, or the catalog index if never seen).
    pub fn node_index(&self, name: &str) -> u64 {
        self.node_index
            .get(&key(name))
            .copied()
            .unwrap_or(self.index)
    }

    /// Index for reads about one service name.
    pub fn service_index(&self, name: &str) -> u64 {
        self.service_index
            .get(&key(name))
            .copied()
            .unwrap_or(self.index)
    }

    /// Records a change on `node` at `idx`; a node-level change touches every service on it,
    /// because node checks take part in each instance's health.
    fn touch_node(&mut self, node: &str, idx: u64) {
        self.index = idx;
        let k = key(node);
        self.node_index.insert(k.clone(), idx);
        let names: Vec<String> = self
            .nodes
            .get(&k)
            .map(|e| e.services.values().map(|s| key(&s.service)).collect())
            .unwrap_or_default();
        for name in names {
            self.service_index.insert(name, idx);
        }
    }

    fn touch_service(&mut self, node: &str, service_name: &str, idx: u64) {
        self.index = idx;
        self.node_index.insert(key(node), idx);
        self.service_index.insert(key(service_name), idx);
    }

    /// Checks a registration against Consul's rules without changing anything.
    pub fn validate(&self, reg: &Registration) -> Result<(), CatalogError> {
        if reg.node.name.is_empty() {
            return Err(CatalogError::MissingNode);
        }
        if reg.node.address.is_empty() && !reg.skip_node_update {
            return Err(CatalogError::MissingAddress);
        }
        if !reg.node.id.is_empty() && !valid_node_id(&reg.node.id) {
            return Err(CatalogError::BadNodeId(reg.node.id.clone()));
        }
        if let Some(svc) = &reg.service {
            if svc.service.is_empty() && !svc.id.is_empty() {
                return Err(CatalogError::MissingServiceName);
            }
            if svc.address == "0.0.0.0" || svc.address == "::" || svc.address == "[::]" {
                return Err(CatalogError::InvalidServiceAddress);
            }
        }
        let existing = self.node(&reg.node.name);
        for check in &reg.checks {
            if !check.node.eq_ignore_ascii_case(&reg.node.name) {
                return Err(CatalogError::CheckNodeMismatch {
                    check_node: check.node.clone(),
                    node: reg.node.name.clone(),
                });
            }
            if check.service_id.is_empty() {
                continue;
            }
            let in_request = reg
                .service
                .as_ref()
                .is_some_and(|s| s.id == check.service_id);
            let registered = existing.is_some_and(|e| e.services.contains_key(&check.service_id));
            if !in_request && !registered {
                return Err(CatalogError::MissingService);
            }
        }
        Ok(())
    }

    /// Applies a validated registration at index `idx`.
    pub fn register(&mut self, reg: Registration, idx: u64) -> Result<(), CatalogError> {
        self.validate(&reg)?;
        let node_name = reg.node.name.clone();
        if !(reg.skip_node_update && self.node(&node_name).is_some()) {
            self.ensure_node(reg.node, idx);
        }
        if let Some(svc) = reg.service {
            self.ensure_service(&node_name, svc, idx)?;
        }
        for check in reg.checks {
            self.ensure_check(check, idx)?;
        }
        Ok(())
    }

    /// Creates or updates a node record (its services and checks stay).
    pub fn ensure_node(&mut self, mut node: Node, idx: u64) {
        let k = key(&node.name);
        match self.nodes.get_mut(&k) {
            Some(entry) => {
                node.create_index = entry.node.create_index;
                node.modify_index = entry.node.modify_index;
                if entry.node == node {
                    return;
                }
                node.modify_index = idx;
                entry.node = node;
            }
            None => {
                node.create_index = idx;
                node.modify_index = idx;
                let name = node.name.clone();
                self.nodes.insert(
                    k,
                    NodeEntry {
                        node,
                        services: BTreeMap::new(),
                        checks: BTreeMap::new(),
                    },
                );
                self.touch_node(&name, idx);
                return;
            }
        }
        let name = self
            .nodes
            .get(&k)
            .map(|e| e.node.name.clone())
            .unwrap_or_default();
        self.touch_node(&name, idx);
    }

    /// Replaces a service instance wholesale; only CreateIndex survives.
    pub fn ensure_service(
        &mut self,
        node: &str,
        mut svc: Service,
        idx: u64,
    ) -> Result<(), CatalogError> {
        if svc.id.is_empty() {
            svc.id = svc.service.clone();
        }
        let entry = self
            .nodes
            .get_mut(&key(node))
            .ok_or(CatalogError::MissingNodeRegistration)?;
        let mut old_name = None;
        match entry.services.get(&svc.id) {
            Some(existing) if existing.same(&svc) => return Ok(()),
            Some(existing) => {
                svc.create_index = existing.create_index;
                old_name = Some(existing.service.clone());
            }
            None => svc.create_index = idx,
        }
        svc.modify_index = idx;
        let name = svc.service.clone();
        // Checks of this instance carry a copy of its name and tags.
        for check in entry.checks.values_mut().filter(|c| c.service_id == svc.id) {
            if check.service_name != svc.service || check.service_tags != svc.tags {
                check.service_name = svc.service.clone();
                check.service_tags = svc.tags.clone();
                check.modify_index = idx;
            }
        }
        entry.services.insert(svc.id.clone(), svc);
        if let Some(old) = old_name.filter(|o| key(o) != key(&name)) {
            self.service_index.insert(key(&old), idx);
        }
        self.touch_service(node, &name, idx);
        Ok(())
    }

    /// Creates or updates a check; an empty status becomes critical.
    pub fn ensure_check(&mut self, mut check: Check, idx: u64) -> Result<(), CatalogError> {
        if check.status.is_empty() {
            check.status = CRITICAL.to_string();
        }
        let node = check.node.clone();
        let entry = self
            .nodes
            .get_mut(&key(&node))
            .ok_or(CatalogError::MissingNodeRegistration)?;
        // The check names the node the way the node record spells it.
        check.node = entry.node.name.clone();
        if !check.service_id.is_empty() {
            let svc = entry
                .services
                .get(&check.service_id)
                .ok_or(CatalogError::MissingService)?;
            check.service_name = svc.service.clone();
            check.service_tags = svc.tags.clone();
        } else {
            check.service_name.clear();
            check.service_tags.clear();
        }
        match entry.checks.get(&check.check_id) {
            Some(existing) if existing.same(&check) => return Ok(()),
            Some(existing) => check.create_index = existing.create_index,
            None => check.create_index = idx,
        }
        check.modify_index = idx;
        let service_name = check.service_name.clone();
        let node_level = check.service_id.is_empty();
        entry.checks.insert(check.check_id.clone(), check);
        if node_level {
            self.touch_node(&node, idx);
        } else {
            self.touch_service(&node, &service_name, idx);
        }
        Ok(())
    }

    /// Removes a node with all its services and checks. Returns whether anything changed.
    pub fn delete_node(&mut self, node: &str, idx: u64) -> bool {
        if self.node(node).is_none() {
            return false;
        }
        self.touch_node(node, idx);
        self.nodes.remove(&key(node));
        true
    }

    /// Removes one service instance and the checks bound to it.
    pub fn delete_service(&mut self, node: &str, service_id: &str, idx: u64) -> bool {
        let Some(entry) = self.nodes.get_mut(&key(node)) else {
            return false;
        };
        let Some(svc) = entry.services.remove(service_id) else {
            return false;
        };
        entry.checks.retain(|_, c| c.service_id != service_id);
        self.touch_service(node, &svc.service, idx);
        true
    }

    /// Removes one check.
    pub fn delete_check(&mut self, node: &str, check_id: &str, idx: u64) -> bool {
        let Some(entry) = self.nodes.get_mut(&key(node)) else {
            return false;
        };
        let Some(check) = entry.checks.remove(check_id) else {
            return false;
        };
        if check.service_id.is_empty() {
            self.touch_node(node, idx);
        } else {
            self.touch_service(node, &check.service_name, idx);
        }
        true
    }

    /// `PUT /v1/catalog/deregister`: ServiceID wins over CheckID, which wins over the node.
    pub fn deregister(&mut self, node: &str, service_id: &str, check_id: &str, idx: u64) -> bool {
        if !service_id.is_empty() {
            self.delete_service(node, service_id, idx)
        } else if !check_id.is_empty() {
            self.delete_check(node, check_id, idx)
        } else {
            self.delete_node(node, idx)
        }
    }

    /// Instances of a service (name and tags matched case-insensitively, every tag required),
    /// ordered by node name then service ID, health ignored.
    pub fn instances(&self, service: &str, tags: &[String]) -> Vec<(&NodeEntry, &Service)> {
        let mut out = Vec::new();
        for entry in self.nodes.values() {
            for svc in entry.services.values() {
                if svc.service.eq_ignore_ascii_case(service) && has_tags(svc, tags) {
                    out.push((entry, svc));
                }
            }
        }
        out
    }

    /// Every service name with the de-duplicated union of its tags.
    pub fn service_tags(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in self.nodes.values() {
            for svc in entry.services.values() {
                out.entry(svc.service.clone())
                    .or_default()
                    .extend(svc.tags.iter().cloned());
            }
        }
        out
    }

    pub fn all_checks(&self) -> impl Iterator<Item = &Check> {
        self.nodes.values().flat_map(|e| e.checks.values())
    }
}

/// True if the service carries every tag in `tags` (case-insensitive).
pub fn has_tags(svc: &Service, tags: &[String]) -> bool {
    tags.iter()
        .all(|t| svc.tags.iter().any(|have| have.eq_ignore_ascii_case(t)))
}

/// The aggregated status of a set of checks: maintenance/critical > warning > passing;
/// no checks at all counts as passing.
pub fn aggregate<'a>(checks: impl IntoIterator<Item = &'a Check>) -> &'static str {
    let mut worst = PASSING;
    for c in checks {
        match c.status.as_str() {
            CRITICAL => return CRITICAL,
            WARNING => worst = WARNING,
            _ => {}
        }
    }
    worst
}

fn map_or_null(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        json!(map)
    }
}

/// The node object of `/v1/catalog/nodes` and of health entries.
pub fn node_json(n: &Node) -> Value {
    json!({
        "ID": n.id,
        "Node": n.name,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": map_or_null(&n.tagged_addresses),
        "Meta": map_or_null(&n.meta),
        "CreateIndex": n.create_index,
        "ModifyIndex": n.modify_index,
    })
}

fn proxy_json() -> Value {
    json!({"Mode": "", "MeshGateway": {}, "Expose": {}})
}

/// The service object of `/v1/catalog/node/:node` and health entries (Consul's NodeService).
pub fn service_json(s: &Service) -> Value {
    let out = json!({
        "ID": s.id,
        "Service": s.service,
        "Tags": s.tags,
        "Address": s.address,
        "Meta": s.meta,
        "Port": s.port,
        "Weights": {"Passing": s.weights.passing, "Warning": s.weights.warning},
        "EnableTagOverride": s.enable_tag_override,
        "Proxy": proxy_json(),
        "Connect": {},
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    });
    with_omitempty_fields(out, s)
}

/// `out` plus the service fields Consul leaves out when empty (`TaggedAddresses`, `Kind`):
/// shared by the catalog's NodeService and the agent's local service object.
pub fn with_omitempty_fields(mut out: Value, s: &Service) -> Value {
    if let Some(obj) = out.as_object_mut() {
        if !s.tagged_addresses.is_empty() {
            obj.insert(
                "TaggedAddresses".into(),
                Value::Object(s.tagged_addresses.clone()),
            );
        }
        if !s.kind.is_empty() {
            obj.insert("Kind".into(), json!(s.kind));
        }
    }
    out
}

/// One row of `/v1/catalog/service/:service` (Consul's ServiceNode).
pub fn service_node_json(n: &Node, s: &Service) -> Value {
    let mut out = json!({
        "ID": n.id,
        "Node": n.name,
        "Address": n.address,
        "Datacenter": n.datacenter,
        "TaggedAddresses": map_or_null(&n.tagged_addresses),
        "NodeMeta": map_or_null(&n.meta),
        "ServiceKind": s.kind,
        "ServiceID": s.id,
        "ServiceName": s.service,
        "ServiceTags": s.tags,
        "ServiceAddress": s.address,
        "ServiceWeights": {"Passing": s.weights.passing, "Warning": s.weights.warning},
        "ServiceMeta": s.meta,
        "ServicePort": s.port,
        "ServiceEnableTagOverride": s.enable_tag_override,
        "ServiceProxy": proxy_json(),
        "ServiceConnect": {},
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    });
    if !s.tagged_addresses.is_empty()
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert(
            "ServiceTaggedAddresses".into(),
            Value::Object(s.tagged_addresses.clone()),
        );
    }
    out
}

/// A HealthCheck object as every health and agent endpoint returns it.
pub fn check_json(c: &Check) -> Value {
    json!({
        "Node": c.node,
        "CheckID": c.check_id,
        "Name": c.name,
        "Status": c.status,
        "Notes": c.notes,
        "Output": c.output,
        "ServiceID": c.service_id,
        "ServiceName": c.service_name,
        "ServiceTags": c.service_tags,
        "Type": c.kind,
        "Interval": c.interval,
        "Timeout": c.timeout,
        "ExposedPort": 0,
        "Definition": c.definition,
        "CreateIndex": c.create_index,
        "ModifyIndex": c.modify_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Node {
        Node {
            id: String::new(),
            name: name.into(),
            address: "10.0.0.1".into(),
            datacenter: "dc1".into(),
            tagged_addresses: BTreeMap::new(),
            meta: BTreeMap::new(),
            create_index: 0,
            modify_index: 0,
        }
    }

    fn svc(id: &str, name: &str) -> Service {
        Service {
            id: id.into(),
            service: name.into(),
            tags: vec![],
            address: String::new(),
            tagged_addresses: Map::new(),
            meta: BTreeMap::new(),
            port: 1,
            weights: Weights::default(),
            enable_tag_override: false,
            kind: String::new(),
            create_index: 0,
            modify_index: 0,
        }
    }

    #[test]
    fn unchanged_writes_keep_indexes() {
        let mut c = Catalog::default();
        c.ensure_node(node("a"), 5);
        c.ensure_service("a", svc("r1", "redis"), 6).unwrap();
        c.ensure_node(node("a"), 7);
        c.ensure_service("a", svc("r1", "redis"), 8).unwrap();
        assert_eq!(c.index, 6);
        assert_eq!(c.node("a").unwrap().services["r1"].modify_index, 6);
        assert_eq!(c.service_index("redis"), 6);
    }

    #[test]
    fn node_check_change_touches_services_on_the_node() {
        let mut c = Catalog::default();
        c.ensure_node(node("a"), 1);
        c.ensure_service("a", svc("r1", "redis"), 2).unwrap();
        let check = Check {
            node: "a".into(),
            check_id: "serfHealth".into(),
            name: "x".into(),
            status: "passing".into(),
            notes: String::new(),
            output: String::new(),
            service_id: String::new(),
            service_name: String::new(),
            service_tags: vec![],
            kind: String::new(),
            interval: String::new(),
            timeout: String::new(),
            definition: Map::new(),
            create_index: 0,
            modify_index: 0,
        };
        c.ensure_check(check, 3).unwrap();
        assert_eq!(c.service_index("REDIS"), 3);
    }
}
