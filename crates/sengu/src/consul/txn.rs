//! Transactions (`PUT /v1/txn`): several KV, node, service and check operations applied all
//! together or not at all, so a hook can move a master with no half-done state in between.
//! A rollback (409) is [`Error::TxnRolledBack`] naming each failing operation's index.

use serde::{Deserialize, Serialize};

use super::catalog::{Node, Service};
use super::checks::HealthCheck;
use super::http::Call;
use super::kv::KvPair;
use super::wire::{base64_opt, is_zero};
use super::{Client, Error};

/// One operation; serialises as `{"KV": {…}}`, `{"Node": {…}}`, `{"Service": {…}}` or
/// `{"Check": {…}}`. The constructors cover what the hooks need; build the structs directly for
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TxnOp {
    #[serde(rename = "KV")]
    Kv(KvOp),
    Node(NodeOp),
    Service(ServiceOp),
    Check(CheckOp),
}

/// Verbs of a KV operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvVerb {
    Set,
    /// Set only if the key's ModifyIndex equals `index` (0: only if absent).
    Cas,
    Lock,
    Unlock,
    /// Fails (rolling back) if the key is absent.
    Get,
    GetOrEmpty,
    GetTree,
    /// Fails unless the key's ModifyIndex equals `index`.
    CheckIndex,
    CheckSession,
    CheckNotExists,
    Delete,
    DeleteTree,
    DeleteCas,
}

/// Verbs of node, service and check operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    Set,
    /// Set only if the object's ModifyIndex is unchanged.
    Cas,
    Get,
    Delete,
    DeleteCas,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvOp {
    pub verb: KvVerb,
    pub key: String,
    #[serde(with = "base64_opt", skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub flags: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// A node operation touches the node only; its services and checks need their own operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeOp {
    pub verb: Verb,
    pub node: Node,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceOp {
    pub verb: Verb,
    /// The name of the node the instance lives on.
    pub node: String,
    pub service: Service,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckOp {
    pub verb: Verb,
    pub check: HealthCheck,
}

impl TxnOp {
    fn kv(verb: KvVerb, key: &str, value: Option<&[u8]>, index: u64) -> TxnOp {
        TxnOp::Kv(KvOp { verb, key: key.to_string(), value: value.map(<[u8]>::to_vec), flags: 0, index, session: None })
    }

    /// Writes `value` to `key`.
    pub fn kv_set(key: &str, value: &[u8]) -> TxnOp {
        Self::kv(KvVerb::Set, key, Some(value), 0)
    }

    /// Writes `value` to `key` only if its ModifyIndex is `index` (0: only if absent).
    pub fn kv_cas(key: &str, value: &[u8], index: u64) -> TxnOp {
        Self::kv(KvVerb::Cas, key, Some(value), index)
    }

    /// Rolls the transaction back unless `key`'s ModifyIndex is `index`.
    pub fn kv_check_index(key: &str, index: u64) -> TxnOp {
        Self::kv(KvVerb::CheckIndex, key, None, index)
    }

    /// Rolls the transaction back if `key` exists.
    pub fn kv_check_not_exists(key: &str) -> TxnOp {
        Self::kv(KvVerb::CheckNotExists, key, None, 0)
    }

    /// Deletes `key` (absent keys are fine).
    pub fn kv_delete(key: &str) -> TxnOp {
        Self::kv(KvVerb::Delete, key, None, 0)
    }

    /// Reads `key` into the results; rolls back if it is absent.
    pub fn kv_get(key: &str) -> TxnOp {
        Self::kv(KvVerb::Get, key, None, 0)
    }

    /// Creates or updates a catalog node (the node only).
    pub fn node_set(node: Node) -> TxnOp {
        TxnOp::Node(NodeOp { verb: Verb::Set, node })
    }

    /// Deletes a catalog node.
    pub fn node_delete(node: &str) -> TxnOp {
        TxnOp::Node(NodeOp { verb: Verb::Delete, node: Node { node: node.to_string(), ..Node::default() } })
    }

    /// Registers (replaces wholesale) a service instance on `node`.
    pub fn service_set(node: &str, service: Service) -> TxnOp {
        TxnOp::Service(ServiceOp { verb: Verb::Set, node: node.to_string(), service })
    }

    /// Removes the service instance `service_id` from `node`.
    pub fn service_delete(node: &str, service_id: &str) -> TxnOp {
        let service = Service { id: service_id.to_string(), ..Service::default() };
        TxnOp::Service(ServiceOp { verb: Verb::Delete, node: node.to_string(), service })
    }

    /// Registers or updates a catalog check.
    pub fn check_set(check: HealthCheck) -> TxnOp {
        TxnOp::Check(CheckOp { verb: Verb::Set, check })
    }

    /// Removes check `check_id` from `node`.
    pub fn check_delete(node: &str, check_id: &str) -> TxnOp {
        let check = HealthCheck { node: node.to_string(), check_id: check_id.to_string(), ..HealthCheck::default() };
        TxnOp::Check(CheckOp { verb: Verb::Delete, check })
    }
}

/// One result of an applied transaction; exactly one field is set. Deletes have no result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TxnResult {
    #[serde(rename = "KV")]
    pub kv: Option<KvPair>,
    #[serde(rename = "Node")]
    pub node: Option<Node>,
    #[serde(rename = "Service")]
    pub service: Option<Service>,
    #[serde(rename = "Check")]
    pub check: Option<HealthCheck>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TxnResponse {
    results: Option<Vec<TxnResult>>,
    errors: Option<Vec<super::TxnOpError>>,
}

impl Client {
    /// `PUT /v1/txn`: applies `ops` (at most 128) atomically and returns their results (KV
    /// values only for `get` verbs). A rollback is [`Error::TxnRolledBack`]; nothing changed then.
    pub fn txn(&self, ops: &[TxnOp]) -> Result<Vec<TxnResult>, Error> {
        let reply = self.send(Call::put("/v1/txn".into()).json(&ops)?)?;
        match reply.status {
            200 => Ok(reply.json::<TxnResponse>()?.results.unwrap_or_default()),
            409 => {
                let response: TxnResponse = reply.json()?;
                Err(Error::TxnRolledBack { addr: reply.addr().to_string(), errors: response.errors.unwrap_or_default() })
            }
            _ => Err(reply.bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_serialise_as_consul_expects() {
        let ops = vec![
            TxnOp::kv_check_index("svc/redis/master", 57),
            TxnOp::kv_set("svc/redis/master", b"10.0.0.6:6379"),
            TxnOp::node_set(Node { node: "db2".into(), address: "10.0.0.6".into(), ..Node::default() }),
            TxnOp::service_set("db2", Service { id: "redis".into(), service: "redis".into(), tags: vec!["master".into()], port: 6379, ..Service::default() }),
            TxnOp::service_delete("db1", "redis"),
            TxnOp::check_delete("db1", "service:redis"),
            TxnOp::kv_delete("svc/redis/old"),
        ];
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([
                {"KV": {"Verb": "check-index", "Key": "svc/redis/master", "Index": 57}},
                {"KV": {"Verb": "set", "Key": "svc/redis/master", "Value": "MTAuMC4wLjY6NjM3OQ=="}},
                {"Node": {"Verb": "set", "Node": {"Node": "db2", "Address": "10.0.0.6"}}},
                {"Service": {"Verb": "set", "Node": "db2", "Service": {"ID": "redis", "Service": "redis", "Tags": ["master"],
                             "Address": "", "Port": 6379, "EnableTagOverride": false}}},
                {"Service": {"Verb": "delete", "Node": "db1", "Service": {"ID": "redis", "Service": "", "Tags": [],
                             "Address": "", "Port": 0, "EnableTagOverride": false}}},
                {"Check": {"Verb": "delete", "Check": {"Node": "db1", "CheckID": "service:redis", "Name": "", "Status": "critical"}}},
                {"KV": {"Verb": "delete", "Key": "svc/redis/old"}},
            ])
        );
    }

    #[test]
    fn other_kv_verbs_use_kebab_case() {
        let op = TxnOp::Kv(KvOp { verb: KvVerb::GetOrEmpty, key: "k".into(), value: None, flags: 0, index: 0, session: None });
        assert_eq!(serde_json::to_value(&op).unwrap(), json!({"KV": {"Verb": "get-or-empty", "Key": "k"}}));
        assert_eq!(serde_json::to_value(TxnOp::kv_cas("k", b"", 0)).unwrap(), json!({"KV": {"Verb": "cas", "Key": "k", "Value": ""}}));
        assert_eq!(serde_json::to_value(TxnOp::kv_check_not_exists("k")).unwrap(), json!({"KV": {"Verb": "check-not-exists", "Key": "k"}}));
    }

    #[test]
    fn responses_parse_results_and_errors() {
        let ok: TxnResponse = serde_json::from_value(json!({
            "Results": [{"KV": {"Key": "k", "Value": null, "Flags": 0, "CreateIndex": 5, "ModifyIndex": 5, "LockIndex": 0}},
                        {"Node": {"Node": "db2", "Address": "10.0.0.6"}}],
            "Errors": null
        }))
        .unwrap();
        let results = ok.results.unwrap();
        assert_eq!(results[0].kv.as_ref().unwrap().modify_index, 5);
        assert_eq!(results[1].node.as_ref().unwrap().address, "10.0.0.6");
        assert!(ok.errors.is_none());

        let rolled_back: TxnResponse = serde_json::from_value(json!({
            "Results": null,
            "Errors": [{"OpIndex": 0, "What": "failed to check index of key \"k\": current modify index 58 != 57"}]
        }))
        .unwrap();
        let errors = rolled_back.errors.unwrap();
        assert_eq!(errors[0].op_index, 0);
        assert!(errors[0].what.contains("58 != 57"));
    }
}
