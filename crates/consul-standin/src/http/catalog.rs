//! `/v1/catalog/*`: register and deregister (node, service and check forms) and the reads,
//! which ignore health (§2 of the reference).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, App, Req, block_json, body_json, json, path_name};
use crate::acl::{Access, Resource};
use crate::catalog::{self, Check, Node, Registration, Service, Weights};
use crate::json::{DecodeError, Keys, Obj};

/// `?filter=` needs Consul's expression language, which the stand-in does not implement; a
/// filter silently ignored would make a test pass for the wrong reason.
pub fn refuse_filter(req: &Req) -> Result<(), ApiError> {
    if req.query.get("filter").is_some_and(|f| !f.is_empty()) {
        return Err(ApiError::bad_request(
            "Failed to create boolean expression evaluator: ?filter is not supported by the consul stand-in",
        ));
    }
    Ok(())
}

/// `?node-meta=key:value` filters (all must match).
pub fn node_meta_matches(req: &Req, node: &Node) -> bool {
    req.query.all("node-meta").iter().all(|kv| {
        let (k, v) = kv.split_once(':').unwrap_or((kv.as_str(), ""));
        node.meta.get(k).is_some_and(|have| have == v)
    })
}

pub fn parse_service(o: &Obj<'_>) -> Result<Service, DecodeError> {
    let weights = match o.obj("Weights")? {
        Some(w) => Weights {
            passing: w.i64("Passing")?,
            warning: w.i64("Warning")?,
        },
        None => Weights::default(),
    };
    let mut id = o.string("ID")?;
    let service = o.string("Service")?;
    if id.is_empty() {
        id = service.clone();
    }
    Ok(Service {
        id,
        service,
        tags: o.strings("Tags")?,
        address: o.string("Address")?,
        tagged_addresses: o
            .obj("TaggedAddresses")?
            .map(|t| t.raw().clone())
            .unwrap_or_default(),
        meta: o.string_map("Meta")?,
        port: o.i64("Port")?,
        weights,
        enable_tag_override: o.bool("EnableTagOverride")?,
        kind: o.string("Kind")?,
        create_index: 0,
        modify_index: 0,
    })
}

pub fn parse_check(o: &Obj<'_>, default_node: &str) -> Result<Check, DecodeError> {
    let mut node = o.string("Node")?;
    if node.is_empty() {
        node = default_node.to_string();
    }
    let name = o.string("Name")?;
    let mut check_id = o.string("CheckID")?;
    if check_id.is_empty() {
        check_id = name.clone();
    }
    Ok(Check {
        node,
        check_id,
        name,
        status: o.string("Status")?,
        notes: o.string("Notes")?,
        output: o.string("Output")?,
        service_id: o.string("ServiceID")?,
        service_name: String::new(),
        service_tags: Vec::new(),
        kind: o.string("Type")?,
        interval: o.string("Interval")?,
        timeout: o.string("Timeout")?,
        definition: o
            .obj("Definition")?
            .map(|d| d.raw().clone())
            .unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    })
}

/// Parses a catalog node object (register body, txn `Node`).
pub fn parse_node(o: &Obj<'_>, dc: &str) -> Result<Node, DecodeError> {
    let mut datacenter = o.string("Datacenter")?;
    if datacenter.is_empty() {
        datacenter = dc.to_string();
    }
    Ok(Node {
        id: o.string("ID")?,
        name: o.string("Node")?,
        address: o.string("Address")?,
        datacenter,
        tagged_addresses: o.string_map("TaggedAddresses")?,
        meta: if o.has("NodeMeta") {
            o.string_map("NodeMeta")?
        } else {
            o.string_map("Meta")?
        },
        create_index: 0,
        modify_index: 0,
    })
}

fn parse_registration(v: &Value, dc: &str) -> Result<Registration, DecodeError> {
    let o = Obj::from_value(v, Keys::CaseInsensitive, "")?.ok_or(DecodeError {
        field: String::new(),
        got: "null",
        want: "object",
    })?;
    let node = parse_node(&o, dc)?;
    let service = match o.obj("Service")? {
        Some(s) => {
            let svc = parse_service(&s)?;
            // An empty Service object registers nothing.
            (!(svc.id.is_empty() && svc.service.is_empty())).then_some(svc)
        }
        None => None,
    };
    let mut checks = Vec::new();
    if let Some(c) = o.obj("Check")? {
        checks.push(parse_check(&c, &node.name)?);
    }
    for c in o.objs("Checks")? {
        checks.push(parse_check(&c, &node.name)?);
    }
    Ok(Registration {
        node,
        skip_node_update: o.bool("SkipNodeUpdate")?,
        service,
        checks,
    })
}

pub fn register(app: &App, req: &Req) -> ApiResult {
    let v = body_json(req)?;
    let reg = parse_registration(&v, app.dc.name()).map_err(ApiError::decode)?;
    if reg.node.datacenter != app.dc.name() {
        return Err(ApiError::internal("No path to datacenter"));
    }
    if !reg.node.name.is_empty() {
        req.authz
            .require(Resource::Node, Access::Write, &reg.node.name)?;
    }
    if let Some(svc) = &reg.service {
        req.authz
            .require(Resource::Service, Access::Write, &svc.service)?;
    }
    app.dc
        .write(|st, idx| st.catalog.register(reg, idx))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json(req, &true))
}

pub fn deregister(app: &App, req: &Req) -> ApiResult {
    let v = body_json(req)?;
    let o = Obj::from_value(&v, Keys::CaseInsensitive, "")
        .map_err(ApiError::decode)?
        .ok_or_else(|| ApiError::decode("unexpected null"))?;
    let node = o.string("Node").map_err(ApiError::decode)?;
    let service_id = o.string("ServiceID").map_err(ApiError::decode)?;
    let check_id = o.string("CheckID").map_err(ApiError::decode)?;
    let dc = o.string("Datacenter").map_err(ApiError::decode)?;
    if !dc.is_empty() && dc != app.dc.name() {
        return Err(ApiError::internal("No path to datacenter"));
    }
    if node.is_empty() {
        return Err(ApiError::internal("Must provide node"));
    }
    req.authz.require(Resource::Node, Access::Write, &node)?;
    app.dc
        .write(|st, idx| st.catalog.deregister(&node, &service_id, &check_id, idx));
    Ok(json(req, &true))
}

pub async fn nodes(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let nodes: Vec<Value> = st
            .catalog
            .nodes()
            .filter(|e| visible && node_meta_matches(req, &e.node))
            .map(|e| catalog::node_json(&e.node))
            .collect();
        (nodes, st.catalog.index)
    })
    .await
}

pub async fn services(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if visible {
            for (name, tags) in st.catalog.service_tags() {
                out.insert(name, tags.into_iter().collect());
            }
        }
        (out, st.catalog.index)
    })
    .await
}

pub async fn service(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let name = path_name(req, "service")?;
    let tags = req.query.all("tag");
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let rows: Vec<Value> = st
            .catalog
            .instances(name, &tags)
            .into_iter()
            .filter(|(e, _)| visible && node_meta_matches(req, &e.node))
            .map(|(e, s)| catalog::service_node_json(&e.node, s))
            .collect();
        (rows, st.catalog.service_index(name))
    })
    .await
}

pub async fn node(app: &App, req: &Req) -> ApiResult {
    let name = path_name(req, "node")?;
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let body = match st.catalog.node(name).filter(|_| visible) {
            None => Value::Null,
            Some(e) => {
                let services: Map<String, Value> = e
                    .services
                    .iter()
                    .map(|(id, s)| (id.clone(), catalog::service_json(s)))
                    .collect();
                json!({"Node": catalog::node_json(&e.node), "Services": services})
            }
        };
        (body, st.catalog.node_index(name))
    })
    .await
}
