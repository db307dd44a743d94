//! Health (`/v1/health/…`): which instances of a service pass their checks, and the checks of
//! a node.

use serde::{Deserialize, Serialize};

use super::catalog::{Node, Service};
use super::checks::{CheckStatus, HealthCheck};
use super::http::{Call, segment};
use super::wire::nullable;
use super::{Client, Error};

/// One entry of `GET /v1/health/service/:service`: an instance, its node and the checks that
/// decide its health (the node's own checks plus the instance's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceEntry {
    pub node: Node,
    pub service: Service,
    #[serde(deserialize_with = "nullable")]
    pub checks: Vec<HealthCheck>,
}

impl ServiceEntry {
    /// Consul's aggregate: maintenance > critical > warning > passing; no checks is passing.
    pub fn status(&self) -> CheckStatus {
        self.checks
            .iter()
            .map(|check| {
                let id = check.check_id.as_str();
                if id == "_node_maintenance" || id.starts_with("_service_maintenance:") {
                    CheckStatus::Maintenance
                } else {
                    check.status
                }
            })
            .max()
            .unwrap_or(CheckStatus::Passing)
    }

    /// Where clients connect: the service address, or the node address when it has none.
    pub fn address(&self) -> &str {
        if self.service.address.is_empty() { &self.node.address } else { &self.service.address }
    }
}

impl Client {
    /// `GET /v1/health/service/:service[?passing][&tag=]`. With `passing_only`, instances with
    /// any warning or critical check are left out (Consul filters). Empty for an unknown service.
    pub fn health_service(&self, service: &str, tag: Option<&str>, passing_only: bool) -> Result<Vec<ServiceEntry>, Error> {
        let mut call = Call::get(format!("/v1/health/service/{}", segment(service)));
        if passing_only {
            call = call.flag("passing");
        }
        if let Some(tag) = tag {
            call = call.query("tag", tag);
        }
        self.send(call)?.ok_json()
    }

    /// `GET /v1/health/node/:node`: every check on the node, node-level and service-level.
    /// Empty for an unknown node.
    pub fn health_node(&self, node: &str) -> Result<Vec<HealthCheck>, Error> {
        self.send(Call::get(format!("/v1/health/node/{}", segment(node))))?.ok_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(id: &str, status: CheckStatus) -> HealthCheck {
        HealthCheck { check_id: id.into(), status, ..HealthCheck::default() }
    }

    #[test]
    fn status_serialises_lower_case() {
        assert_eq!(serde_json::to_value(CheckStatus::Warning).unwrap(), json!("warning"));
        assert_eq!(serde_json::from_value::<CheckStatus>(json!("critical")).unwrap(), CheckStatus::Critical);
        assert!(serde_json::from_value::<CheckStatus>(json!("bogus")).is_err());
    }

    #[test]
    fn aggregate_status_is_the_worst_check() {
        let mut entry = ServiceEntry::default();
        assert_eq!(entry.status(), CheckStatus::Passing, "no checks counts as passing");
        entry.checks = vec![check("serfHealth", CheckStatus::Passing), check("service:r", CheckStatus::Warning)];
        assert_eq!(entry.status(), CheckStatus::Warning);
        entry.checks.push(check("x", CheckStatus::Critical));
        assert_eq!(entry.status(), CheckStatus::Critical);
        entry.checks.push(check("_service_maintenance:r", CheckStatus::Critical));
        assert_eq!(entry.status(), CheckStatus::Maintenance);
    }

    #[test]
    fn health_service_entry_parses() {
        let entries: Vec<ServiceEntry> = serde_json::from_value(json!([{
            "Node": {"ID": "u1", "Node": "db1", "Address": "10.0.0.5", "Datacenter": "dc1",
                     "TaggedAddresses": {"lan": "10.0.0.5"}, "Meta": {}, "CreateIndex": 1, "ModifyIndex": 2},
            "Service": {"ID": "redis1", "Service": "redis", "Tags": ["master"], "Address": "", "Meta": null,
                        "Port": 6379, "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": true,
                        "Connect": {}, "CreateIndex": 3, "ModifyIndex": 4},
            "Checks": [
                {"Node": "db1", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
                 "Notes": "", "Output": "Agent alive and reachable", "ServiceID": "", "ServiceName": "",
                 "ServiceTags": [], "Type": "", "Interval": "", "Timeout": "", "ExposedPort": 0,
                 "Definition": {}, "CreateIndex": 1, "ModifyIndex": 1},
                {"Node": "db1", "CheckID": "service:redis1", "Name": "redis", "Status": "warning",
                 "ServiceID": "redis1", "ServiceName": "redis", "ServiceTags": ["master"], "Type": "script",
                 "Definition": {"Interval": "10s"}}
            ]
        }]))
        .unwrap();
        let entry = &entries[0];
        assert_eq!(entry.address(), "10.0.0.5");
        assert_eq!(entry.service.tags, vec!["master".to_string()]);
        assert_eq!(entry.checks.len(), 2);
        assert_eq!(entry.checks[1].check_type, "script");
        assert_eq!(entry.status(), CheckStatus::Warning);
    }

    #[test]
    fn health_check_serialises_only_what_is_set() {
        let c = HealthCheck { node: "db1".into(), check_id: "c1".into(), name: "c".into(), ..HealthCheck::default() };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"Node": "db1", "CheckID": "c1", "Name": "c", "Status": "critical"})
        );
    }
}
