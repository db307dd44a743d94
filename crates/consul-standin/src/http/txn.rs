//! `PUT /v1/txn`: KV, Node, Service and Check operations applied all-or-nothing (§9a of the
//! reference). The operations run against copies of the KV store and catalog, which replace
//! the real ones only if every operation succeeded; otherwise the answer is 409 with one
//! `Errors` entry per failed operation, as Consul's dispatcher (which keeps going) reports.
//! Parsing, permissions and the four operation kinds are one module because they are one
//! endpoint; its length is mostly Consul's per-verb error texts.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

use super::catalog::{parse_check, parse_node, parse_service};
use super::{ApiError, ApiResult, App, Req, json};
use crate::acl::{Access, AclError, Authz, Resource};
use crate::catalog::{self, Catalog};
use crate::json::{DecodeError, Keys, Obj};
use crate::kv::{Entry, Kv, MAX_VALUE_SIZE};

const MAX_OPS: usize = 128;

/// One parsed operation.
#[derive(Debug, Clone)]
enum Op {
    Kv {
        verb: String,
        key: String,
        value: Vec<u8>,
        flags: u64,
        index: u64,
        session: String,
    },
    Node {
        verb: String,
        node: catalog::Node,
        modify_index: u64,
    },
    Service {
        verb: String,
        node: String,
        service: catalog::Service,
        modify_index: u64,
    },
    Check {
        verb: String,
        check: catalog::Check,
        modify_index: u64,
    },
}

fn parse_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Failed to parse body: {e}"))
}

fn parse_op(v: &Value, dc: &str) -> Result<Op, ApiError> {
    let o = Obj::from_value(v, Keys::CaseInsensitive, "TxnOp")
        .map_err(parse_err)?
        .ok_or_else(|| parse_err("null operation"))?;
    let d = |e: DecodeError| parse_err(e);
    if let Some(k) = o.obj("KV").map_err(d)? {
        let value = match k.get("Value") {
            None => Vec::new(),
            Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| parse_err(format!("failed to decode value: {e}")))?,
            Some(other) => return Err(parse_err(format!("unexpected value type: {other}"))),
        };
        return Ok(Op::Kv {
            verb: k.string("Verb").map_err(d)?,
            key: k.string("Key").map_err(d)?,
            value,
            flags: k.u64("Flags").map_err(d)?,
            index: k.u64("Index").map_err(d)?,
            session: k.string("Session").map_err(d)?,
        });
    }
    if let Some(n) = o.obj("Node").map_err(d)? {
        let inner = n
            .obj("Node")
            .map_err(d)?
            .ok_or_else(|| parse_err("Node operation without Node"))?;
        return Ok(Op::Node {
            verb: n.string("Verb").map_err(d)?,
            node: parse_node(&inner, dc).map_err(d)?,
            modify_index: inner.u64("ModifyIndex").map_err(d)?,
        });
    }
    if let Some(s) = o.obj("Service").map_err(d)? {
        let inner = s
            .obj("Service")
            .map_err(d)?
            .ok_or_else(|| parse_err("Service operation without Service"))?;
        return Ok(Op::Service {
            verb: s.string("Verb").map_err(d)?,
            node: s.string("Node").map_err(d)?,
            service: parse_service(&inner).map_err(d)?,
            modify_index: inner.u64("ModifyIndex").map_err(d)?,
        });
    }
    if let Some(c) = o.obj("Check").map_err(d)? {
        let inner = c
            .obj("Check")
            .map_err(d)?
            .ok_or_else(|| parse_err("Check operation without Check"))?;
        return Ok(Op::Check {
            verb: c.string("Verb").map_err(d)?,
            check: parse_check(&inner, "").map_err(d)?,
            modify_index: inner.u64("ModifyIndex").map_err(d)?,
        });
    }
    Err(parse_err("operation has none of KV, Node, Service, Check"))
}

fn is_write(op: &Op) -> bool {
    match op {
        Op::Kv { verb, .. } => matches!(
            verb.as_str(),
            "set" | "cas" | "lock" | "unlock" | "delete" | "delete-cas" | "delete-tree"
        ),
        Op::Node { verb, .. } | Op::Service { verb, .. } | Op::Check { verb, .. } => verb != "get",
    }
}

/// The permission an operation needs (Consul's pre-apply ACL checks).
fn authorize(authz: Authz, op: &Op) -> Result<(), AclError> {
    let access = if is_write(op) {
        Access::Write
    } else {
        Access::Read
    };
    match op {
        Op::Kv { key, .. } => authz.require(Resource::Key, access, key),
        Op::Node { node, .. } => authz.require(Resource::Node, access, &node.name),
        Op::Service { service, .. } => authz.require(Resource::Service, access, &service.service),
        Op::Check { check, .. } => authz.require(Resource::Node, access, &check.node),
    }
}

/// Runs one operation on the copies; `Ok` carries the result entries.
fn apply(kv: &mut Kv, cat: &mut Catalog, op: &Op, idx: u64) -> Result<Vec<Value>, String> {
    match op {
        Op::Kv {
            verb,
            key,
            value,
            flags,
            index,
            session,
        } => apply_kv(kv, verb, key, value, *flags, *index, session, idx),
        Op::Node {
            verb,
            node,
            modify_index,
        } => {
            let existing = cat.node(&node.name).map(|e| e.node.clone());
            match verb.as_str() {
                "get" => existing
                    .map(|n| vec![json!({"Node": catalog::node_json(&n)})])
                    .ok_or_else(|| format!("node {:?} doesn't exist", node.name)),
                "set" | "cas" => {
                    if verb == "cas"
                        && existing
                            .as_ref()
                            .map_or(*modify_index != 0, |n| n.modify_index != *modify_index)
                    {
                        return Err(format!(
                            "failed to set node {:?}, index is stale",
                            node.name
                        ));
                    }
                    cat.ensure_node(node.clone(), idx);
                    let n = cat
                        .node(&node.name)
                        .map(|e| catalog::node_json(&e.node))
                        .unwrap_or(Value::Null);
                    Ok(vec![json!({"Node": n})])
                }
                "delete" => {
                    cat.delete_node(&node.name, idx);
                    Ok(vec![])
                }
                "delete-cas" => {
                    if existing
                        .as_ref()
                        .is_some_and(|n| n.modify_index != *modify_index)
                    {
                        return Err(format!(
                            "failed to delete node {:?}, index is stale",
                            node.name
                        ));
                    }
                    cat.delete_node(&node.name, idx);
                    Ok(vec![])
                }
                _ => Err(format!("unknown Node verb {verb:?}")),
            }
        }
        Op::Service {
            verb,
            node,
            service,
            modify_index,
        } => {
            let existing = cat
                .node(node)
                .and_then(|e| e.services.get(&service.id).cloned());
            let result = |cat: &Catalog| {
                cat.node(node)
                    .and_then(|e| e.services.get(&service.id))
                    .map(|s| vec![json!({"Service": catalog::service_json(s)})])
                    .unwrap_or_default()
            };
            match verb.as_str() {
                "get" => existing
                    .map(|s| vec![json!({"Service": catalog::service_json(&s)})])
                    .ok_or_else(|| {
                        format!("service {:?} on node {node:?} doesn't exist", service.id)
                    }),
                "set" | "cas" => {
                    if verb == "cas"
                        && existing
                            .as_ref()
                            .map_or(*modify_index != 0, |s| s.modify_index != *modify_index)
                    {
                        return Err(format!(
                            "failed to set service {:?} on node {node:?}, index is stale",
                            service.id
                        ));
                    }
                    cat.ensure_service(node, service.clone(), idx)
                        .map_err(|e| e.to_string())?;
                    Ok(result(cat))
                }
                "delete" => {
                    cat.delete_service(node, &service.id, idx);
                    Ok(vec![])
                }
                "delete-cas" => {
                    if existing
                        .as_ref()
                        .is_some_and(|s| s.modify_index != *modify_index)
                    {
                        return Err(format!(
                            "failed to delete service {:?} on node {node:?}, index is stale",
                            service.id
                        ));
                    }
                    cat.delete_service(node, &service.id, idx);
                    Ok(vec![])
                }
                _ => Err(format!("unknown Service verb {verb:?}")),
            }
        }
        Op::Check {
            verb,
            check,
            modify_index,
        } => {
            let existing = cat
                .node(&check.node)
                .and_then(|e| e.checks.get(&check.check_id).cloned());
            match verb.as_str() {
                "get" => existing
                    .map(|c| vec![json!({"Check": catalog::check_json(&c)})])
                    .ok_or_else(|| {
                        format!(
                            "check {:?} on node {:?} doesn't exist",
                            check.check_id, check.node
                        )
                    }),
                "set" | "cas" => {
                    if verb == "cas"
                        && existing
                            .as_ref()
                            .map_or(*modify_index != 0, |c| c.modify_index != *modify_index)
                    {
                        return Err(format!(
                            "failed to set check {:?} on node {:?}, index is stale",
                            check.check_id, check.node
                        ));
                    }
                    cat.ensure_check(check.clone(), idx)
                        .map_err(|e| e.to_string())?;
                    Ok(cat
                        .node(&check.node)
                        .and_then(|e| e.checks.get(&check.check_id))
                        .map(|c| vec![json!({"Check": catalog::check_json(c)})])
                        .unwrap_or_default())
                }
                "delete" => {
                    cat.delete_check(&check.node, &check.check_id, idx);
                    Ok(vec![])
                }
                "delete-cas" => {
                    if existing
                        .as_ref()
                        .is_some_and(|c| c.modify_index != *modify_index)
                    {
                        return Err(format!(
                            "failed to delete check {:?} on node {:?}, index is stale",
                            check.check_id, check.node
                        ));
                    }
                    cat.delete_check(&check.node, &check.check_id, idx);
                    Ok(vec![])
                }
                _ => Err(format!("unknown Check verb {verb:?}")),
            }
        }
    }
}

fn kv_result(e: &Entry, with_value: bool) -> Value {
    json!({"KV": e.to_json(with_value)})
}

#[allow(clippy::too_many_arguments)]
fn apply_kv(
    kv: &mut Kv,
    verb: &str,
    key: &str,
    value: &[u8],
    flags: u64,
    index: u64,
    session: &str,
    idx: u64,
) -> Result<Vec<Value>, String> {
    match verb {
        "set" => Ok(vec![kv_result(
            kv.set(key, value.to_vec(), flags, idx),
            false,
        )]),
        "cas" => {
            if !kv.cas(key, value.to_vec(), flags, index, idx) {
                return Err(format!("failed to set key {key:?}, index is stale"));
            }
            Ok(kv
                .get(key)
                .map(|e| vec![kv_result(e, false)])
                .unwrap_or_default())
        }
        // The stand-in has no sessions, so every session is invalid.
        "lock" | "unlock" => Err(format!("invalid session {session:?}")),
        "get" => kv
            .get(key)
            .map(|e| vec![kv_result(e, true)])
            .ok_or_else(|| format!("key {key:?} doesn't exist")),
        "get-or-empty" => Ok(vec![match kv.get(key) {
            Some(e) => kv_result(e, true),
            None => {
                json!({"KV": {"LockIndex": 0, "Key": key, "Flags": flags, "Value": null, "CreateIndex": 0, "ModifyIndex": 0}})
            }
        }]),
        "get-tree" => Ok(kv
            .list(key)
            .into_iter()
            .map(|e| kv_result(e, true))
            .collect()),
        "check-index" => match kv.get(key) {
            None => Err(format!("failed to check index, key {key:?} doesn't exist")),
            Some(e) if e.modify_index != index => Err(format!(
                "failed index check for key {key:?}, current modify index {} != {index}",
                e.modify_index
            )),
            Some(e) => Ok(vec![kv_result(e, false)]),
        },
        "check-session" => match kv.get(key) {
            None => Err(format!(
                "failed to check session, key {key:?} doesn't exist"
            )),
            Some(e) if e.session.as_deref().unwrap_or("") != session => Err(format!(
                "failed session check for key {key:?}, current session {:?} != {session:?}",
                e.session.as_deref().unwrap_or("")
            )),
            Some(e) => Ok(vec![kv_result(e, false)]),
        },
        "check-not-exists" => match kv.get(key) {
            Some(_) => Err(format!("key {key:?} exists")),
            None => Ok(vec![]),
        },
        "delete" => {
            kv.delete(key, idx);
            Ok(vec![])
        }
        "delete-tree" => {
            kv.delete_tree(key, idx);
            Ok(vec![])
        }
        "delete-cas" => {
            if !kv.delete_cas(key, index, idx) {
                return Err(format!("failed to delete key {key:?}, index is stale"));
            }
            Ok(vec![])
        }
        _ => Err(format!("unknown KV verb {verb:?}")),
    }
}

pub fn endpoint(app: &App, req: &Req) -> ApiResult {
    if req.body.len() > MAX_VALUE_SIZE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body too large, max size: {MAX_VALUE_SIZE} bytes"),
        ));
    }
    let body: Value = serde_json::from_slice(&req.body).map_err(parse_err)?;
    let Value::Array(items) = &body else {
        return Err(parse_err(format!(
            "json: cannot unmarshal {} into Go value of type api.TxnOps",
            kind(&body)
        )));
    };
    if items.len() > MAX_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Transaction contains too many operations ({} > {MAX_OPS})",
                items.len()
            ),
        ));
    }
    let ops = items
        .iter()
        .map(|v| parse_op(v, app.dc.name()))
        .collect::<Result<Vec<_>, _>>()?;
    for op in &ops {
        if let Op::Kv { key, value, .. } = op
            && value.len() > MAX_VALUE_SIZE
        {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Value for key {key:?} is too large ({} > {MAX_VALUE_SIZE} bytes)",
                    value.len()
                ),
            ));
        }
    }
    let (results, errors) = app.dc.write(|st, idx| {
        let mut kv = st.kv.clone();
        let mut cat = st.catalog.clone();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let outcome = authorize(req.authz, op)
                .map_err(|e| e.to_string())
                .and_then(|()| apply(&mut kv, &mut cat, op, idx));
            match outcome {
                Ok(r) => results.extend(r),
                Err(what) => errors.push(json!({"OpIndex": i, "What": what})),
            }
        }
        if errors.is_empty() {
            st.kv = kv;
            st.catalog = cat;
        }
        (results, errors)
    });
    if errors.is_empty() {
        Ok(json(req, &json!({"Results": results, "Errors": null})))
    } else {
        let mut resp = json(req, &json!({"Results": null, "Errors": errors}));
        *resp.status_mut() = StatusCode::CONFLICT;
        Ok(resp)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "null",
    }
}
