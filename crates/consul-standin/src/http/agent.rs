//! `/v1/agent/*`: the endpoints an agent answers for itself — its identity, its local services
//! and checks, registration, TTL updates and maintenance (§4 of the reference).

use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, App, Req, body_json, empty, json};
use crate::acl::{Access, Resource};
use crate::agent::definition::{DefError, parse_service, parse_standalone_check};
use crate::agent::{self as local_agent, AgentError, Source};
use crate::catalog::{self, Service, valid_status};
use crate::json::{Keys, Obj};

/// The version the stand-in claims; its DNS answers follow the ≤1.18 server.
pub const VERSION: &str = "1.18.2";

fn agent_error(e: AgentError) -> ApiError {
    match e {
        AgentError::Definition(DefError::Decode(d)) => ApiError::decode(d),
        AgentError::Definition(d) => ApiError::bad_request(d.to_string()),
        e @ (AgentError::UnknownService(_) | AgentError::UnknownCheck(_)) => {
            ApiError::not_found(e.to_string())
        }
        e => ApiError::internal(e.to_string()),
    }
}

fn member_json(app: &App, i: usize, failed: bool) -> Value {
    let a = &app.dc.agents[i];
    json!({
        "Name": a.name,
        "Addr": a.ip.to_string(),
        "Port": 8301,
        "Tags": {
            "dc": app.dc.name(),
            "id": a.node_id,
            "role": if a.server { "consul" } else { "node" },
            "segment": "",
            "build": format!("{VERSION}:standin"),
            "vsn": "2", "vsn_min": "2", "vsn_max": "3",
        },
        "Status": if failed { 4 } else { 1 },
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    })
}

pub fn self_(app: &App, req: &Req) -> ApiResult {
    let a = &app.dc.agents[app.agent];
    req.authz.require(Resource::Agent, Access::Read, &a.name)?;
    let failed = app.dc.read(|st| st.locals[app.agent].serf_failed);
    let body = json!({
        "Config": {
            "Datacenter": app.dc.name(),
            "PrimaryDatacenter": app.dc.name(),
            "NodeName": a.name,
            "NodeID": a.node_id,
            "Server": a.server,
            "Revision": "standin",
            "Version": VERSION,
            "BuildDate": "2024-01-01T00:00:00Z",
        },
        "DebugConfig": {
            "Datacenter": app.dc.name(),
            "NodeName": a.name,
            "EnableScriptChecks": a.script_checks == crate::state::ScriptChecks::Enabled,
            "EnableLocalScriptChecks": a.script_checks != crate::state::ScriptChecks::Disabled,
            "ACLsEnabled": app.dc.config.acl_token.is_some(),
        },
        "Coord": {"Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05},
        "Member": member_json(app, app.agent, failed),
        "Meta": {"consul-network-segment": ""},
    });
    Ok(json(req, &body))
}

pub fn members(app: &App, req: &Req) -> ApiResult {
    let visible = req.authz.sees_all();
    let failed: Vec<bool> = app
        .dc
        .read(|st| st.locals.iter().map(|l| l.serf_failed).collect());
    let body: Vec<Value> = (0..app.dc.agents.len())
        .filter(|_| visible)
        .map(|i| member_json(app, i, failed[i]))
        .collect();
    Ok(json(req, &body))
}

/// The local service object of `/v1/agent/services`.
fn local_service_json(app: &App, s: &Service) -> Value {
    let out = json!({
        "ID": s.id,
        "Service": s.service,
        "Tags": s.tags,
        "Meta": s.meta,
        "Port": s.port,
        "Address": s.address,
        "Weights": {"Passing": s.weights.passing, "Warning": s.weights.warning},
        "EnableTagOverride": s.enable_tag_override,
        "Datacenter": app.dc.name(),
    });
    catalog::with_omitempty_fields(out, s)
}

pub fn services(app: &App, req: &Req) -> ApiResult {
    let visible = req.authz.sees_all();
    let body: Map<String, Value> = app.dc.read(|st| {
        st.locals[app.agent]
            .services
            .iter()
            .filter(|_| visible)
            .map(|(id, s)| (id.clone(), local_service_json(app, s)))
            .collect()
    });
    Ok(json(req, &body))
}

pub fn service(app: &App, req: &Req) -> ApiResult {
    let id = req.rest.as_str();
    let found = app
        .dc
        .read(|st| st.locals[app.agent].services.get(id).cloned());
    let Some(svc) = found else {
        return Err(ApiError::not_found(format!("unknown service ID: {id}")));
    };
    req.authz
        .require(Resource::Service, Access::Read, &svc.service)?;
    Ok(json(req, &local_service_json(app, &svc)))
}

pub fn checks(app: &App, req: &Req) -> ApiResult {
    let visible = req.authz.sees_all();
    let body: Map<String, Value> = app.dc.read(|st| {
        st.locals[app.agent]
            .checks
            .iter()
            .filter(|_| visible)
            .map(|(id, c)| (id.clone(), catalog::check_json(&c.check)))
            .collect()
    });
    Ok(json(req, &body))
}

fn body_obj(v: &Value, keys: Keys) -> Result<Obj<'_>, ApiError> {
    Obj::from_value(v, keys, "")
        .map_err(ApiError::decode)?
        .ok_or_else(|| ApiError::decode("unexpected null"))
}

pub fn service_register(app: &App, req: &Req) -> ApiResult {
    let v = body_json(req)?;
    let o = body_obj(&v, Keys::SnakeOrPascal)?;
    let def = parse_service(&o).map_err(|e| agent_error(e.into()))?;
    req.authz
        .require(Resource::Service, Access::Write, &def.name)?;
    let replace = req.query.bool("replace-existing-checks")?;
    let dc = &app.dc;
    dc.write(|st, idx| {
        local_agent::add_service(dc, st, app.agent, def, Source::Remote, replace, idx)
    })
    .map_err(agent_error)?;
    Ok(empty())
}

/// The service's name for ACL purposes, or the ID when the service is unknown.
fn service_name(app: &App, id: &str) -> String {
    app.dc
        .read(|st| {
            st.locals[app.agent]
                .services
                .get(id)
                .map(|s| s.service.clone())
        })
        .unwrap_or_else(|| id.to_string())
}

pub fn service_deregister(app: &App, req: &Req) -> ApiResult {
    let id = req.rest.as_str();
    req.authz
        .require(Resource::Service, Access::Write, &service_name(app, id))?;
    app.dc
        .write(|st, idx| local_agent::remove_service(&app.dc, st, app.agent, id, idx))
        .map_err(agent_error)?;
    Ok(empty())
}

/// `?enable=` of the maintenance endpoints: required, Go ParseBool.
fn enable_param(req: &Req) -> Result<bool, ApiError> {
    match req.query.get("enable") {
        None | Some("") => Err(ApiError::bad_request("Missing value for enable")),
        Some(v) => match v {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "Invalid value for enable: {v:?}"
            ))),
        },
    }
}

pub fn service_maintenance(app: &App, req: &Req) -> ApiResult {
    let id = req.rest.as_str();
    if id.is_empty() {
        return Err(ApiError::bad_request("Missing service ID"));
    }
    let enable = enable_param(req)?;
    let reason = req.query.get("reason").unwrap_or("").to_string();
    req.authz
        .require(Resource::Service, Access::Write, &service_name(app, id))?;
    app.dc
        .write(|st, idx| {
            local_agent::maintenance(&app.dc, st, app.agent, Some(id), enable, &reason, idx)
        })
        .map_err(agent_error)?;
    Ok(empty())
}

pub fn node_maintenance(app: &App, req: &Req) -> ApiResult {
    let enable = enable_param(req)?;
    let reason = req.query.get("reason").unwrap_or("").to_string();
    req.authz
        .require(Resource::Node, Access::Write, app.agent_name())?;
    app.dc
        .write(|st, idx| {
            local_agent::maintenance(&app.dc, st, app.agent, None, enable, &reason, idx)
        })
        .map_err(agent_error)?;
    Ok(empty())
}

pub fn check_register(app: &App, req: &Req) -> ApiResult {
    let v = body_json(req)?;
    let o = body_obj(&v, Keys::SnakeOrPascal)?;
    let def = parse_standalone_check(&o).map_err(|e| agent_error(e.into()))?;
    if def.service_id.is_empty() {
        req.authz
            .require(Resource::Node, Access::Write, app.agent_name())?;
    } else {
        req.authz.require(
            Resource::Service,
            Access::Write,
            &service_name(app, &def.service_id),
        )?;
    }
    let dc = &app.dc;
    dc.write(|st, idx| local_agent::add_check(dc, st, app.agent, def, Source::Remote, idx))
        .map_err(agent_error)?;
    Ok(empty())
}

/// ACL for changing a check: service:write for a service check, node:write otherwise.
fn require_check_write(app: &App, req: &Req, check_id: &str) -> Result<(), ApiError> {
    let service_id = app.dc.read(|st| {
        st.locals[app.agent]
            .checks
            .get(check_id)
            .map(|c| c.check.service_id.clone())
    });
    match service_id.filter(|s| !s.is_empty()) {
        Some(sid) => {
            req.authz
                .require(Resource::Service, Access::Write, &service_name(app, &sid))?
        }
        None => req
            .authz
            .require(Resource::Node, Access::Write, app.agent_name())?,
    }
    Ok(())
}

pub fn check_deregister(app: &App, req: &Req) -> ApiResult {
    let id = req.rest.as_str();
    require_check_write(app, req, id)?;
    app.dc
        .write(|st, idx| local_agent::remove_check(&app.dc, st, app.agent, id, idx))
        .map_err(agent_error)?;
    Ok(empty())
}

/// pass/warn/fail (`status` given, output from `?note=`) and update (status and output from
/// the body).
pub fn check_ttl(app: &App, req: &Req, status: Option<&'static str>) -> ApiResult {
    let id = req.rest.as_str();
    let (status, output) = match status {
        Some(s) => (
            s.to_string(),
            req.query.get("note").unwrap_or("").to_string(),
        ),
        None => {
            let v = body_json(req)?;
            let o = body_obj(&v, Keys::CaseInsensitive)?;
            let status = o.string("Status").map_err(ApiError::decode)?;
            let output = o.string("Output").map_err(ApiError::decode)?;
            if !valid_status(&status) {
                return Err(ApiError::bad_request(format!(
                    "Invalid check status: '{status}'"
                )));
            }
            (status, output)
        }
    };
    require_check_write(app, req, id)?;
    let dc = &app.dc;
    dc.write(|st, idx| local_agent::ttl_update(dc, st, app.agent, id, &status, &output, idx))
        .map_err(agent_error)?;
    Ok(empty())
}
