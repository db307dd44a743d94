//! The check record shared by the catalog, the agent, health and transactions: a check's
//! [`CheckStatus`] and the [`HealthCheck`] as every endpoint returns and registration sends it.
//! A module of its own so that `catalog` and `health` both use it without using each other.

use serde::{Deserialize, Serialize};

use super::wire::{is_zero, nullable};

/// A check's state. Ordered from best to worst, so the worst of several is their `max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passing,
    Warning,
    /// Consul's default for a check registered without a status.
    #[default]
    Critical,
    /// Only as an aggregate: an instance with a `_node_maintenance` or
    /// `_service_maintenance:…` check.
    Maintenance,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Maintenance => "maintenance",
        }
    }
}

/// A check as the catalog, agent and health endpoints return it, and as catalog registration
/// and `/v1/txn` `Check` operations send it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthCheck {
    /// Defaults to the registration's node when sent empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Empty for node-level checks such as `serfHealth`.
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub service_tags: Vec<String>,
    /// `ttl`, `script`, `http`, `tcp`, … (empty for catalog-only checks).
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub check_type: String,
    /// What the check runs (`{"TCP": "10.0.0.5:6379", "Interval": "5s"}`); the catalog only
    /// stores it, so it stays untyped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "is_zero")]
    pub create_index: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub modify_index: u64,
}
