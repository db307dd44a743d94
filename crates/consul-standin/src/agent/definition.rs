//! Service and check definitions as an agent receives them, from the HTTP API (PascalCase) or
//! from a config file (snake_case), validated by Consul's rules (§4.1 and §6 of the reference).
//! Services embed checks, so both definitions are read here; a third of the file is tests.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::catalog::{Weights, valid_status};
use crate::json::{DecodeError, Obj};

/// Why a definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefError {
    /// The body did not have the expected types (400 `Request decode failed: ...`).
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("Missing service name")]
    MissingServiceName,
    #[error("Missing check name")]
    MissingCheckName,
    /// A check that Consul's `CheckType.Validate` rejects (400 `Invalid check: ...`).
    #[error("Invalid check: {0}")]
    InvalidCheck(String),
    #[error("Status for checks must 'passing', 'warning', 'critical'")]
    InvalidStatus,
    #[error("Invalid Weights: {0}")]
    InvalidWeights(String),
}

/// How a check gets its result.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Script {
        args: Vec<String>,
    },
    Http {
        url: String,
        method: String,
        header: BTreeMap<String, Vec<String>>,
        body: String,
        tls_skip_verify: bool,
    },
    Tcp {
        addr: String,
    },
    Ttl {
        ttl: Duration,
    },
}

impl CheckKind {
    /// The `Type` field Consul reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Script { .. } => "script",
            CheckKind::Http { .. } => "http",
            CheckKind::Tcp { .. } => "tcp",
            CheckKind::Ttl { .. } => "ttl",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    /// Empty until defaults are applied (embedded checks get `service:<id>`).
    pub id: String,
    pub name: String,
    pub notes: String,
    pub service_id: String,
    pub kind: CheckKind,
    pub interval: Duration,
    pub timeout: Option<Duration>,
    /// Initial status; Consul's default is critical.
    pub status: Option<String>,
    pub success_before_passing: u32,
    pub failures_before_warning: u32,
    pub failures_before_critical: u32,
    pub output_max_size: Option<usize>,
    pub deregister_critical_service_after: Option<Duration>,
}

impl CheckDef {
    pub fn is_script(&self) -> bool {
        matches!(self.kind, CheckKind::Script { .. })
    }

    /// The timeout a run actually gets: the configured one, else 30 s for scripts and 10 s
    /// for HTTP and TCP.
    pub fn effective_timeout(&self) -> Duration {
        match (self.timeout, &self.kind) {
            (Some(t), _) if !t.is_zero() => t,
            (_, CheckKind::Script { .. }) => Duration::from_secs(30),
            _ => Duration::from_secs(10),
        }
    }

    /// The `Definition` object stored with the check in the catalog.
    pub fn definition_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let fmt = crate::duration::format;
        m.insert("Interval".into(), Value::String(fmt(self.interval)));
        m.insert(
            "Timeout".into(),
            Value::String(fmt(self.timeout.unwrap_or_default())),
        );
        m.insert(
            "DeregisterCriticalServiceAfter".into(),
            Value::String(fmt(self
                .deregister_critical_service_after
                .unwrap_or_default())),
        );
        let (http, method, header, body, tls_skip_verify, tcp) = match &self.kind {
            CheckKind::Http {
                url,
                method,
                header,
                body,
                tls_skip_verify,
            } => (
                url.clone(),
                method.clone(),
                serde_json::json!(header),
                body.clone(),
                *tls_skip_verify,
                String::new(),
            ),
            CheckKind::Tcp { addr } => (
                String::new(),
                String::new(),
                Value::Null,
                String::new(),
                false,
                addr.clone(),
            ),
            _ => (
                String::new(),
                String::new(),
                Value::Null,
                String::new(),
                false,
                String::new(),
            ),
        };
        m.insert("HTTP".into(), Value::String(http));
        m.insert(
            "Header".into(),
            if header == serde_json::json!({}) {
                Value::Null
            } else {
                header
            },
        );
        m.insert("Method".into(), Value::String(method));
        m.insert("Body".into(), Value::String(body));
        m.insert("TLSSkipVerify".into(), Value::Bool(tls_skip_verify));
        m.insert("TCP".into(), Value::String(tcp));
        m
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDef {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub address: String,
    pub tagged_addresses: Map<String, Value>,
    pub meta: BTreeMap<String, String>,
    pub port: i64,
    pub kind: String,
    pub enable_tag_override: bool,
    pub weights: Weights,
    pub checks: Vec<CheckDef>,
}

fn count(o: &Obj<'_>, name: &str) -> Result<u32, DecodeError> {
    Ok(u32::try_from(o.u64(name)?).unwrap_or(u32::MAX))
}

fn duration(o: &Obj<'_>, name: &str) -> Result<Option<Duration>, DefError> {
    o.duration(name).map_err(DefError::InvalidCheck)
}

/// Fields of check types Consul has but the stand-in does not run.
const UNSUPPORTED_CHECK_FIELDS: &[&str] = &[
    "GRPC",
    "UDP",
    "H2PING",
    "DockerContainerID",
    "OSService",
    "AliasService",
    "AliasNode",
];

/// Reads one check; `None` for an empty object (Consul ignores an empty `Check`).
pub fn parse_check(o: &Obj<'_>) -> Result<Option<CheckDef>, DefError> {
    if o.raw().values().all(Value::is_null) {
        return Ok(None);
    }
    if o.has("Script") {
        return Err(DefError::InvalidCheck(
            "'script' is no longer supported; use 'args'".into(),
        ));
    }
    for field in UNSUPPORTED_CHECK_FIELDS {
        if o.has(field) {
            return Err(DefError::InvalidCheck(format!(
                "{field} checks are not supported by the stand-in"
            )));
        }
    }
    let mut args = o.strings("Args")?;
    if args.is_empty() {
        args = o.strings("ScriptArgs")?;
    }
    let interval = duration(o, "Interval")?.unwrap_or_default();
    let ttl = duration(o, "TTL")?.unwrap_or_default();
    let http = o.string("HTTP")?;
    let tcp = o.string("TCP")?;
    let interval_check = !args.is_empty() || !http.is_empty() || !tcp.is_empty();
    if !interval.is_zero() && !ttl.is_zero() {
        return Err(DefError::InvalidCheck(
            "Interval and TTL cannot both be specified".into(),
        ));
    }
    if interval_check && interval.is_zero() {
        return Err(DefError::InvalidCheck(
            "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks".into(),
        ));
    }
    if !interval_check && ttl.is_zero() {
        return Err(DefError::InvalidCheck(
            "TTL must be > 0 for TTL checks".into(),
        ));
    }
    let kind = if !args.is_empty() {
        CheckKind::Script { args }
    } else if !http.is_empty() {
        let mut header = BTreeMap::new();
        if let Some(h) = o.obj("Header")? {
            for (k, v) in h.raw() {
                let values = match v {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect(),
                    Value::String(s) => vec![s.clone()],
                    _ => Vec::new(),
                };
                header.insert(k.clone(), values);
            }
        }
        CheckKind::Http {
            url: http,
            method: o.string("Method")?,
            header,
            body: o.string("Body")?,
            tls_skip_verify: o.bool("TLSSkipVerify")?,
        }
    } else if !tcp.is_empty() {
        CheckKind::Tcp { addr: tcp }
    } else {
        CheckKind::Ttl { ttl }
    };
    let status = o.string("Status")?;
    if !status.is_empty() && !valid_status(&status) {
        return Err(DefError::InvalidStatus);
    }
    let failures_before_critical = count(o, "FailuresBeforeCritical")?;
    let failures_before_warning = if o.has("FailuresBeforeWarning") {
        count(o, "FailuresBeforeWarning")?
    } else {
        failures_before_critical
    };
    if failures_before_warning > failures_before_critical {
        return Err(DefError::InvalidCheck(
            "FailuresBeforeWarning must be less than or equal to FailuresBeforeCritical".into(),
        ));
    }
    let mut id = o.string("CheckID")?;
    if id.is_empty() {
        id = o.string("ID")?;
    }
    let output_max_size = match o.opt_i64("OutputMaxSize")? {
        Some(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => None,
    };
    Ok(Some(CheckDef {
        id,
        name: o.string("Name")?,
        notes: o.string("Notes")?,
        service_id: o.string("ServiceID")?,
        kind,
        interval,
        timeout: duration(o, "Timeout")?,
        status: (!status.is_empty()).then_some(status),
        success_before_passing: count(o, "SuccessBeforePassing")?,
        failures_before_warning,
        failures_before_critical,
        output_max_size,
        deregister_critical_service_after: duration(o, "DeregisterCriticalServiceAfter")?,
    }))
}

/// Reads a standalone check (`/v1/agent/check/register`, config `check`/`checks`): a name is
/// required and the ID defaults to it.
pub fn parse_standalone_check(o: &Obj<'_>) -> Result<CheckDef, DefError> {
    let mut def = parse_check(o)?.ok_or(DefError::MissingCheckName)?;
    if def.name.is_empty() {
        return Err(DefError::MissingCheckName);
    }
    if def.id.is_empty() {
        def.id = def.name.clone();
    }
    Ok(def)
}

/// Reads a service with its embedded checks and applies Consul's defaults: ID = name, check
/// IDs `service:<id>` (`service:<id>:<n>` when several), check names `Service '<name>' check`.
pub fn parse_service(o: &Obj<'_>) -> Result<ServiceDef, DefError> {
    let name = o.string("Name")?;
    if name.is_empty() {
        return Err(DefError::MissingServiceName);
    }
    let mut id = o.string("ID")?;
    if id.is_empty() {
        id = name.clone();
    }
    let weights = match o.obj("Weights")? {
        None => Weights::default(),
        Some(w) => {
            let passing = w.i64("Passing")?;
            if passing <= 0 {
                return Err(DefError::InvalidWeights(
                    "Passing must be greater than 0".into(),
                ));
            }
            Weights {
                passing,
                warning: w.i64("Warning")?,
            }
        }
    };
    let mut checks = Vec::new();
    if let Some(c) = o.obj("Check")?
        && let Some(def) = parse_check(&c)?
    {
        checks.push(def);
    }
    for c in o.objs("Checks")? {
        if let Some(def) = parse_check(&c)? {
            checks.push(def);
        }
    }
    let several = checks.len() > 1;
    for (n, check) in checks.iter_mut().enumerate() {
        check.service_id = id.clone();
        if check.id.is_empty() {
            check.id = if several {
                format!("service:{id}:{}", n + 1)
            } else {
                format!("service:{id}")
            };
        }
        if check.name.is_empty() {
            check.name = format!("Service '{name}' check");
        }
    }
    let tagged_addresses = match o.obj("TaggedAddresses")? {
        Some(t) => t.raw().clone(),
        None => Map::new(),
    };
    Ok(ServiceDef {
        id,
        name,
        tags: o.strings("Tags")?,
        address: o.string("Address")?,
        tagged_addresses,
        meta: o.string_map("Meta")?,
        port: o.i64("Port")?,
        kind: o.string("Kind")?,
        enable_tag_override: o.bool("EnableTagOverride")?,
        weights,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Keys;
    use serde_json::json;

    fn obj(v: &Value) -> Obj<'_> {
        Obj::new(v.as_object().unwrap(), Keys::SnakeOrPascal)
    }

    #[test]
    fn embedded_check_defaults() {
        let v = json!({"Name": "redis", "Checks": [{"TTL": "10s"}, {"TTL": "10s"}]});
        let s = parse_service(&obj(&v)).unwrap();
        assert_eq!(s.id, "redis");
        assert_eq!(s.checks[0].id, "service:redis:1");
        assert_eq!(s.checks[1].id, "service:redis:2");
        assert_eq!(s.checks[0].name, "Service 'redis' check");
        let v = json!({"name": "redis", "id": "r1", "check": {"ttl": "10s"}});
        assert_eq!(parse_service(&obj(&v)).unwrap().checks[0].id, "service:r1");
    }

    #[test]
    fn validation_follows_consul() {
        let v = json!({"Name": "x", "Check": {"Args": ["true"]}});
        assert!(matches!(
            parse_service(&obj(&v)),
            Err(DefError::InvalidCheck(_))
        ));
        let v = json!({"Name": "x", "Check": {"HTTP": "http://x"}});
        assert!(matches!(
            parse_service(&obj(&v)),
            Err(DefError::InvalidCheck(_))
        ));
        let v = json!({"Port": 1});
        assert_eq!(parse_service(&obj(&v)), Err(DefError::MissingServiceName));
        let v = json!({"Name": "x", "Check": {"TTL": "1s", "Status": "bogus"}});
        assert_eq!(parse_service(&obj(&v)), Err(DefError::InvalidStatus));
    }

    #[test]
    fn failures_before_warning_defaults_to_critical() {
        let v = json!({"name": "c", "args": ["true"], "interval": "10s", "failures_before_critical": 3});
        let c = parse_standalone_check(&obj(&v)).unwrap();
        assert_eq!(
            (c.failures_before_warning, c.failures_before_critical),
            (3, 3)
        );
        assert_eq!(c.id, "c");
    }
}
