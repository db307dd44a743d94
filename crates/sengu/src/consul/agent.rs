//! The local agent (`/v1/agent/…`): who it is (node name, datacenter, address), the services and
//! checks it owns, registering a service, and pushing a TTL check's status.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use super::catalog::{Service, Weights};
use super::checks::{CheckStatus, HealthCheck};
use super::http::{Call, segment};
use super::wire::is_false;
use super::{Client, Error};

/// What `GET /v1/agent/self` says about the agent's node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSelf {
    /// `Config.NodeName`.
    pub node_name: String,
    /// `Config.Datacenter`.
    pub datacenter: String,
    /// `Member.Addr`: the node's address as the cluster sees it.
    pub node_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SelfWire {
    config: SelfConfig,
    #[serde(default)]
    member: SelfMember,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SelfConfig {
    node_name: String,
    datacenter: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SelfMember {
    addr: String,
}

/// Body of `PUT /v1/agent/service/register`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceRegistration {
    /// Defaults to `name`.
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    /// Empty: DNS answers with the node's address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    pub port: u16,
    /// Let tags written through the catalog (by a failover hook) survive anti-entropy.
    #[serde(skip_serializing_if = "is_false")]
    pub enable_tag_override: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<AgentCheck>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<AgentCheck>,
}

/// A check definition inside a [`ServiceRegistration`]; set the fields of one check type
/// (`ttl`, `args` + `interval`, `http` + `interval`, `tcp` + `interval`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentCheck {
    /// Defaults to `service:<service id>`.
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Script check argv (needs `enable_script_checks` on the agent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(serialize_with = "go_duration", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(serialize_with = "go_duration", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(rename = "TTL", serialize_with = "go_duration", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// Initial status; Consul starts checks `critical` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CheckStatus>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(serialize_with = "go_duration", skip_serializing_if = "Option::is_none")]
    pub deregister_critical_service_after: Option<Duration>,
}

/// A duration as a Go duration string Consul parses: `10s`, or `1500ms` when not whole seconds.
fn go_duration<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) if d.subsec_nanos() == 0 => s.serialize_str(&format!("{}s", d.as_secs())),
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 => s.serialize_str(&format!("{}ms", d.as_millis())),
        Some(d) => s.serialize_str(&format!("{}ns", d.as_nanos())),
        None => s.serialize_none(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CheckUpdate<'a> {
    status: CheckStatus,
    output: &'a str,
}

impl Client {
    /// `GET /v1/agent/self`: the agent's node name, datacenter and address.
    pub fn agent_self(&self) -> Result<AgentSelf, Error> {
        let wire: SelfWire = self.send(Call::get("/v1/agent/self".into()))?.ok_json()?;
        Ok(AgentSelf { node_name: wire.config.node_name, datacenter: wire.config.datacenter, node_address: wire.member.addr })
    }

    /// `GET /v1/agent/services`: the services this agent owns, keyed by service ID.
    pub fn agent_services(&self) -> Result<BTreeMap<String, Service>, Error> {
        self.send(Call::get("/v1/agent/services".into()))?.ok_json()
    }

    /// `GET /v1/agent/checks`: the checks this agent runs, keyed by check ID.
    pub fn agent_checks(&self) -> Result<BTreeMap<String, HealthCheck>, Error> {
        self.send(Call::get("/v1/agent/checks".into()))?.ok_json()
    }

    /// `PUT /v1/agent/service/register`. Re-registering an ID replaces its definition; checks
    /// that keep their ID keep their status.
    pub fn agent_service_register(&self, registration: &ServiceRegistration) -> Result<(), Error> {
        let reply = self.send(Call::put("/v1/agent/service/register".into()).json(registration)?)?;
        expect_empty_ok(&reply, || format!("service {:?}", registration.name))
    }

    /// `PUT /v1/agent/service/deregister/:id`; an unknown ID is [`Error::NotFound`].
    pub fn agent_service_deregister(&self, service_id: &str) -> Result<(), Error> {
        let reply = self.send(Call::put(format!("/v1/agent/service/deregister/{}", segment(service_id))))?;
        expect_empty_ok(&reply, || format!("service id {service_id:?}"))
    }

    /// `PUT /v1/agent/check/update/:id`: sets a TTL check's status and output (and resets its
    /// timer). An unknown check ID is [`Error::NotFound`].
    pub fn agent_check_update(&self, check_id: &str, status: CheckStatus, output: &str) -> Result<(), Error> {
        let call = Call::put(format!("/v1/agent/check/update/{}", segment(check_id))).json(&CheckUpdate { status, output })?;
        expect_empty_ok(&self.send(call)?, || format!("check id {check_id:?}"))
    }
}

/// Agent writes answer an empty 200; 404 means the addressed service or check does not exist.
fn expect_empty_ok(reply: &super::http::Reply, what: impl FnOnce() -> String) -> Result<(), Error> {
    match reply.status {
        200 => Ok(()),
        404 => Err(Error::NotFound { addr: reply.addr().to_string(), what: what() }),
        _ => Err(reply.bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agent_self_takes_node_datacenter_and_member_address() {
        let wire: SelfWire = serde_json::from_value(json!({
            "Config": {"Datacenter": "dc1", "NodeName": "db1", "NodeID": "u1", "Server": false, "Version": "1.21.0"},
            "DebugConfig": {"Anything": [1, 2]},
            "Coord": null,
            "Member": {"Name": "db1", "Addr": "10.0.0.5", "Port": 8301, "Tags": {"role": "node"}, "Status": 1},
            "Meta": {"rack": "r1"}
        }))
        .unwrap();
        assert_eq!((wire.config.node_name.as_str(), wire.config.datacenter.as_str(), wire.member.addr.as_str()), ("db1", "dc1", "10.0.0.5"));
    }

    #[test]
    fn service_registration_with_ttl_check() {
        let registration = ServiceRegistration {
            id: "redis1".into(),
            name: "redis".into(),
            tags: vec!["replica".into()],
            port: 6379,
            enable_tag_override: true,
            check: Some(AgentCheck {
                ttl: Some(Duration::from_secs(30)),
                deregister_critical_service_after: Some(Duration::from_secs(5400)),
                ..AgentCheck::default()
            }),
            checks: vec![AgentCheck {
                check_id: "redis-role".into(),
                args: vec!["/usr/bin/redis-master-check".into(), "6379".into()],
                interval: Some(Duration::from_secs(10)),
                timeout: Some(Duration::from_millis(1500)),
                status: Some(CheckStatus::Critical),
                ..AgentCheck::default()
            }],
            ..ServiceRegistration::default()
        };
        assert_eq!(
            serde_json::to_value(&registration).unwrap(),
            json!({
                "ID": "redis1", "Name": "redis", "Tags": ["replica"], "Port": 6379, "EnableTagOverride": true,
                "Check": {"TTL": "30s", "DeregisterCriticalServiceAfter": "5400s"},
                "Checks": [{"CheckID": "redis-role", "Args": ["/usr/bin/redis-master-check", "6379"],
                            "Interval": "10s", "Timeout": "1500ms", "Status": "critical"}]
            })
        );
    }

    #[test]
    fn check_update_body() {
        let body = CheckUpdate { status: CheckStatus::Passing, output: "master ok" };
        assert_eq!(serde_json::to_value(&body).unwrap(), json!({"Status": "passing", "Output": "master ok"}));
    }

    #[test]
    fn agent_maps_parse() {
        let services: BTreeMap<String, Service> = serde_json::from_value(json!({
            "redis1": {"ID": "redis1", "Service": "redis", "Tags": ["master"], "Meta": {}, "Port": 6379, "Address": "",
                       "TaggedAddresses": {}, "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": true,
                       "Datacenter": "dc1", "ContentHash": "abc"}
        }))
        .unwrap();
        assert_eq!(services["redis1"].datacenter, "dc1");
        let checks: BTreeMap<String, HealthCheck> = serde_json::from_value(json!({
            "service:redis1": {"Node": "db1", "CheckID": "service:redis1", "Name": "redis", "Status": "passing",
                               "Notes": "", "Output": "ok", "ServiceID": "redis1", "ServiceName": "redis",
                               "ServiceTags": ["master"], "Type": "ttl", "Interval": "", "Timeout": "",
                               "Definition": {}, "CreateIndex": 0, "ModifyIndex": 0}
        }))
        .unwrap();
        assert_eq!(checks["service:redis1"].status, CheckStatus::Passing);
        assert_eq!(checks["service:redis1"].check_type, "ttl");
    }
}
