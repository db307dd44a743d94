//! `/v1/health/*`: service instances with their checks (node-level plus their own), the
//! `?passing` filter that drops warning and critical alike, and check listings (§5).

use serde_json::{Value, json};

use super::catalog::{node_meta_matches, refuse_filter};
use super::{ApiError, ApiResult, App, Req, block_json, path_name};
use crate::catalog::{self, PASSING, valid_status};

pub async fn service(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let name = path_name(req, "service")?;
    let passing = req.query.bool("passing")?;
    let tags = req.query.all("tag");
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let mut rows = Vec::new();
        for (entry, svc) in st.catalog.instances(name, &tags) {
            if !visible || !node_meta_matches(req, &entry.node) {
                continue;
            }
            let checks = entry.instance_checks(&svc.id);
            if passing && checks.iter().any(|c| c.status != PASSING) {
                continue;
            }
            rows.push(json!({
                "Node": catalog::node_json(&entry.node),
                "Service": catalog::service_json(svc),
                "Checks": checks.iter().map(|c| catalog::check_json(c)).collect::<Vec<_>>(),
            }));
        }
        (rows, st.catalog.service_index(name))
    })
    .await
}

pub async fn checks(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let name = path_name(req, "service")?;
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let rows: Vec<Value> = st
            .catalog
            .all_checks()
            .filter(|c| {
                visible && !c.service_id.is_empty() && c.service_name.eq_ignore_ascii_case(name)
            })
            .map(catalog::check_json)
            .collect();
        (rows, st.catalog.service_index(name))
    })
    .await
}

pub async fn node(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let name = path_name(req, "node")?;
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let rows: Vec<Value> = st
            .catalog
            .node(name)
            .filter(|_| visible)
            .map(|e| e.checks.values().map(catalog::check_json).collect())
            .unwrap_or_default();
        (rows, st.catalog.node_index(name))
    })
    .await
}

pub async fn state(app: &App, req: &Req) -> ApiResult {
    refuse_filter(req)?;
    let wanted = req.rest.as_str();
    if wanted != "any" && !valid_status(wanted) {
        return Err(ApiError::bad_request("Bad check state"));
    }
    let visible = req.authz.sees_all();
    block_json(app, req, |st| {
        let rows: Vec<Value> = st
            .catalog
            .all_checks()
            .filter(|c| visible && (wanted == "any" || c.status == wanted))
            .map(catalog::check_json)
            .collect();
        (rows, st.catalog.index)
    })
    .await
}
