//! The catalog (`/v1/catalog/…`): registering and removing nodes and service instances
//! directly, as failover hooks do for hosts no agent owns, and reading them back. The catalog
//! ignores health; use [`health`](super::health) for "which instances pass".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::checks::HealthCheck;
use super::http::{Call, segment};
use super::wire::{is_false, is_zero, nullable};
use super::{Client, Error};

/// A node: what `/v1/catalog/node/:node` and `/v1/health/service/:s` return under `Node`, and
/// what a `/v1/txn` `Node` operation carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    /// The node's UUID; empty for catalog-only nodes registered without one.
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub node: String,
    pub address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub create_index: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub modify_index: u64,
}

/// DNS SRV weights of a service instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Weights {
    pub passing: u32,
    pub warning: u32,
}

/// A service instance as the agent, the catalog and health endpoints describe it, and as
/// catalog registration and `/v1/txn` `Service` operations send it.
///
/// A catalog registration replaces the instance wholesale, so `tags` is always sent (an empty
/// list clears the tags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Service {
    /// Instance ID, unique per node; Consul defaults it to the service name.
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The service name (`redis`).
    pub service: String,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    /// Empty means "use the node's address".
    pub address: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    pub port: u16,
    pub enable_tag_override: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// Present in `/v1/agent/services`; not sent.
    #[serde(skip_serializing)]
    pub datacenter: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub create_index: u64,
    /// Sent only when set: a `/v1/txn` `cas` operation compares it.
    #[serde(skip_serializing_if = "is_zero")]
    pub modify_index: u64,
}

/// Body of `PUT /v1/catalog/register`: a node, optionally one service instance on it and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogRegistration {
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub node: String,
    /// Required unless `skip_node_update`.
    pub address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "BTreeMap::is_empty")]
    pub node_meta: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<HealthCheck>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthCheck>,
    /// Leave an existing node's address and metadata alone (a missing node is still created).
    #[serde(skip_serializing_if = "is_false")]
    pub skip_node_update: bool,
}

/// Body of `PUT /v1/catalog/deregister`: the node; or, with `service_id`, that instance and its
/// checks; or, with only `check_id`, that one check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogDeregistration {
    pub node: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
}

/// `GET /v1/catalog/node/:node`: the node and its service instances keyed by instance ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogNode {
    pub node: Node,
    #[serde(deserialize_with = "nullable")]
    pub services: BTreeMap<String, Service>,
}

/// One entry of `GET /v1/catalog/service/:service`: an instance flattened with its node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CatalogService {
    /// The node's UUID.
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    /// The node's address.
    pub address: String,
    pub datacenter: String,
    #[serde(deserialize_with = "nullable")]
    pub tagged_addresses: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub node_meta: BTreeMap<String, String>,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub service_name: String,
    #[serde(deserialize_with = "nullable")]
    pub service_tags: Vec<String>,
    /// Empty when the instance has no address of its own.
    pub service_address: String,
    pub service_port: u16,
    #[serde(deserialize_with = "nullable")]
    pub service_meta: BTreeMap<String, String>,
    pub service_enable_tag_override: bool,
    pub service_weights: Option<Weights>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl CatalogService {
    /// Where clients connect: the service address, or the node address when it has none.
    pub fn address(&self) -> &str {
        if self.service_address.is_empty() { &self.address } else { &self.service_address }
    }
}

impl Client {
    /// `PUT /v1/catalog/register`. The service instance, if any, is replaced wholesale.
    pub fn catalog_register(&self, registration: &CatalogRegistration) -> Result<(), Error> {
        let reply = self.send(Call::put("/v1/catalog/register".into()).json(registration)?)?;
        reply.expect_true()
    }

    /// `PUT /v1/catalog/deregister`. Removing something absent succeeds.
    pub fn catalog_deregister(&self, deregistration: &CatalogDeregistration) -> Result<(), Error> {
        let reply = self.send(Call::put("/v1/catalog/deregister".into()).json(deregistration)?)?;
        reply.expect_true()
    }

    /// `GET /v1/catalog/node/:node`; `None` for an unknown node.
    pub fn catalog_node(&self, node: &str) -> Result<Option<CatalogNode>, Error> {
        let reply = self.send(Call::get(format!("/v1/catalog/node/{}", segment(node))))?;
        match reply.status {
            404 => Ok(None),
            200 => reply.json(),
            _ => Err(reply.bad()),
        }
    }

    /// `GET /v1/catalog/service/:service[?tag=]`: every instance, healthy or not; empty for an
    /// unknown service. Tag matching is case-insensitive on Consul's side.
    pub fn catalog_service(&self, service: &str, tag: Option<&str>) -> Result<Vec<CatalogService>, Error> {
        let mut call = Call::get(format!("/v1/catalog/service/{}", segment(service)));
        if let Some(tag) = tag {
            call = call.query("tag", tag);
        }
        let reply = self.send(call)?;
        reply.ok_json()
    }

    /// `GET /v1/catalog/services`: every service name with the union of its instances' tags.
    pub fn catalog_services(&self) -> Result<BTreeMap<String, Vec<String>>, Error> {
        let reply = self.send(Call::get("/v1/catalog/services".into()))?;
        let services: BTreeMap<String, Option<Vec<String>>> = reply.ok_json()?;
        Ok(services.into_iter().map(|(name, tags)| (name, tags.unwrap_or_default())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::checks::CheckStatus;
    use serde_json::json;

    #[test]
    fn registration_serialises_with_consul_names() {
        let registration = CatalogRegistration {
            node: "db1".into(),
            address: "10.0.0.5".into(),
            node_meta: [("rack".to_string(), "r1".to_string())].into(),
            service: Some(Service {
                id: "redis1".into(),
                service: "redis".into(),
                tags: vec!["master".into()],
                port: 6379,
                enable_tag_override: true,
                ..Service::default()
            }),
            check: Some(HealthCheck {
                check_id: "service:redis1".into(),
                name: "redis".into(),
                status: CheckStatus::Passing,
                service_id: "redis1".into(),
                ..HealthCheck::default()
            }),
            ..CatalogRegistration::default()
        };
        assert_eq!(
            serde_json::to_value(&registration).unwrap(),
            json!({
                "Node": "db1", "Address": "10.0.0.5", "NodeMeta": {"rack": "r1"},
                "Service": {"ID": "redis1", "Service": "redis", "Tags": ["master"], "Address": "", "Port": 6379,
                            "EnableTagOverride": true},
                "Check": {"CheckID": "service:redis1", "Name": "redis", "Status": "passing", "ServiceID": "redis1"}
            })
        );
    }

    #[test]
    fn empty_tags_are_sent_so_registration_clears_them() {
        let service = Service { service: "redis".into(), ..Service::default() };
        assert_eq!(serde_json::to_value(&service).unwrap()["Tags"], json!([]));
    }

    #[test]
    fn deregistration_sends_only_what_is_set() {
        let d = CatalogDeregistration { node: "db1".into(), service_id: "redis1".into(), ..Default::default() };
        assert_eq!(serde_json::to_value(&d).unwrap(), json!({"Node": "db1", "ServiceID": "redis1"}));
    }

    #[test]
    fn catalog_node_tolerates_nulls_and_extra_fields() {
        let node: CatalogNode = serde_json::from_value(json!({
            "Node": {"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": "db1", "Address": "10.0.0.5",
                     "Datacenter": "dc1", "TaggedAddresses": null, "Meta": {"rack": "r1"}, "Partition": "",
                     "CreateIndex": 5, "ModifyIndex": 9},
            "Services": {"redis1": {"ID": "redis1", "Service": "redis", "Tags": null, "Address": "", "Meta": null,
                                    "Port": 6379, "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": false,
                                    "Proxy": {"Mode": ""}, "CreateIndex": 7, "ModifyIndex": 7}}
        }))
        .unwrap();
        assert_eq!(node.node.node, "db1");
        assert_eq!(node.node.meta["rack"], "r1");
        assert!(node.node.tagged_addresses.is_empty());
        let redis = &node.services["redis1"];
        assert_eq!(redis.port, 6379);
        assert!(redis.tags.is_empty());
        assert_eq!(redis.weights, Some(Weights { passing: 1, warning: 1 }));
        assert_eq!(redis.modify_index, 7);
    }

    #[test]
    fn catalog_service_entry_and_its_address() {
        let entries: Vec<CatalogService> = serde_json::from_value(json!([
            {"ID": "u1", "Node": "db1", "Address": "10.0.0.5", "Datacenter": "dc1", "TaggedAddresses": {"lan": "10.0.0.5"},
             "NodeMeta": null, "ServiceID": "redis1", "ServiceName": "redis", "ServiceTags": ["master"],
             "ServiceAddress": "", "ServicePort": 6379, "ServiceMeta": {}, "ServiceEnableTagOverride": true,
             "ServiceWeights": {"Passing": 1, "Warning": 1}, "ServiceKind": "", "ServiceProxy": {},
             "CreateIndex": 10, "ModifyIndex": 11},
            {"Node": "db2", "Address": "10.0.0.6", "ServiceID": "redis2", "ServiceAddress": "10.0.1.6", "ServicePort": 6380}
        ]))
        .unwrap();
        assert_eq!(entries[0].address(), "10.0.0.5");
        assert_eq!(entries[0].service_tags, vec!["master".to_string()]);
        assert!(entries[0].service_enable_tag_override);
        assert_eq!(entries[1].address(), "10.0.1.6");
        assert_eq!(entries[1].service_port, 6380);
    }
}
