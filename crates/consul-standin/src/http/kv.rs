//! `/v1/kv/`: get (`?recurse`, `?raw`, `?keys`), put (`?cas`, `?flags`) and delete, with
//! Consul's status codes: 404 with an empty body for a missing key, 413 past the value limit,
//! 400 for conflicting flags (§3 of the reference).

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{ApiError, ApiResult, App, Req, block, json, with_index};
use crate::acl::{Access, Resource};
use crate::kv::MAX_VALUE_SIZE;

pub async fn endpoint(app: &App, req: &Req) -> ApiResult {
    // Consul 1.21.6+ refuses path traversal in KV paths outright.
    let raw = &req.raw_path;
    if raw.contains("../") || raw.contains("..\\") {
        return Err(ApiError::bad_request(
            "URL path contains invalid traversal sequence",
        ));
    }
    let lower = raw.to_ascii_lowercase();
    if [
        "%2e%2e%2f",
        "%2e%2e/",
        "..%2f",
        "%2e%2e%5c",
        "%252e%252e%252f",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return Err(ApiError::bad_request(
            "URL path contains encoded traversal sequence",
        ));
    }
    if req.rest.starts_with('/') {
        return Err(ApiError::bad_request("key must not begin with a '/'"));
    }
    match req.method {
        Method::GET if req.query.has("keys") => keys(app, req).await,
        Method::GET => get(app, req).await,
        Method::PUT => put(app, req),
        _ => delete(app, req),
    }
}

fn not_found(index: u64) -> Response {
    with_index(StatusCode::NOT_FOUND.into_response(), index)
}

fn filtered(mut resp: Response, filtered: bool) -> Response {
    if filtered {
        resp.headers_mut().insert(
            "X-Consul-Results-Filtered-By-ACLs",
            HeaderValue::from_static("true"),
        );
    }
    resp
}

async fn get(app: &App, req: &Req) -> ApiResult {
    let key = req.rest.as_str();
    let recurse = req.query.has("recurse");
    if !recurse && key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    let hidden = !req.authz.sees_all();
    if !recurse {
        req.authz.require(Resource::Key, Access::Read, key)?;
    }
    let (entries, index) = block(app, req, |st| {
        if recurse {
            let entries = if hidden {
                Vec::new()
            } else {
                st.kv.list(key).into_iter().cloned().collect()
            };
            (entries, st.kv.prefix_index(key))
        } else {
            (
                st.kv.get(key).into_iter().cloned().collect::<Vec<_>>(),
                st.kv.key_index(key),
            )
        }
    })
    .await?;
    if entries.is_empty() {
        return Ok(filtered(not_found(index), recurse && hidden));
    }
    if req.query.has("raw") && !recurse {
        let mut resp = Response::new(Body::from(entries[0].value.clone()));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(
            "X-Content-Type-Options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            "Content-Security-Policy",
            HeaderValue::from_static("sandbox"),
        );
        return Ok(with_index(resp, index));
    }
    let body: Vec<Value> = entries.iter().map(|e| e.to_json(true)).collect();
    Ok(with_index(json(req, &body), index))
}

async fn keys(app: &App, req: &Req) -> ApiResult {
    let prefix = req.rest.as_str();
    // The old misspelling is still accepted; the right one wins.
    let sep = req
        .query
        .get("separator")
        .or_else(|| req.query.get("seperator"))
        .unwrap_or("")
        .to_string();
    let hidden = !req.authz.sees_all();
    let (keys, index) = block(app, req, |st| {
        let keys = if hidden {
            Vec::new()
        } else {
            st.kv.keys(prefix, &sep)
        };
        (keys, st.kv.prefix_index(prefix))
    })
    .await?;
    if keys.is_empty() && !prefix.is_empty() {
        return Ok(filtered(not_found(index), hidden));
    }
    Ok(filtered(with_index(json(req, &keys), index), hidden))
}

/// Consul's `conflictingFlags`: a 400 whose body echoes the query.
fn conflicting(req: &Req, flags: &[&str]) -> Result<(), ApiError> {
    if flags.iter().filter(|f| req.query.has(f)).count() > 1 {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: {}\n",
            req.query.encode()
        )));
    }
    Ok(())
}

/// Go's `strconv.ParseUint` on a query value; its error is returned as a plain 500.
fn parse_u64(req: &Req, name: &str) -> Result<Option<u64>, ApiError> {
    match req.query.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::internal(format!("strconv.ParseUint: parsing {v:?}: invalid syntax"))
        }),
    }
}

fn put(app: &App, req: &Req) -> ApiResult {
    let key = req.rest.as_str();
    if key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    req.authz.require(Resource::Key, Access::Write, key)?;
    conflicting(req, &["cas", "acquire", "release"])?;
    let flags = parse_u64(req, "flags")?.unwrap_or(0);
    let cas = parse_u64(req, "cas")?;
    let session = req
        .query
        .get("acquire")
        .or_else(|| req.query.get("release"));
    let length = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(req.body.len());
    if length > MAX_VALUE_SIZE || req.body.len() > MAX_VALUE_SIZE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body({length} bytes) too large, max size: {MAX_VALUE_SIZE} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
            ),
        ));
    }
    if let Some(session) = session {
        // The stand-in has no sessions, so every session is unknown, as Consul reports one.
        return Err(ApiError::internal(format!("invalid session {session:?}")));
    }
    let value = req.body.to_vec();
    let ok = app.dc.write(|st, idx| match cas {
        Some(cas) => st.kv.cas(key, value, flags, cas, idx),
        None => {
            st.kv.set(key, value, flags, idx);
            true
        }
    });
    Ok(json(req, &ok))
}

fn delete(app: &App, req: &Req) -> ApiResult {
    let key = req.rest.as_str();
    conflicting(req, &["recurse", "cas"])?;
    let recurse = req.query.has("recurse");
    if !recurse && key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    req.authz.require(Resource::Key, Access::Write, key)?;
    let cas = parse_u64(req, "cas")?;
    let ok = app.dc.write(|st, idx| {
        if recurse {
            st.kv.delete_tree(key, idx);
            true
        } else if let Some(cas) = cas {
            st.kv.delete_cas(key, cas, idx)
        } else {
            st.kv.delete(key, idx);
            true
        }
    });
    Ok(json(req, &ok))
}
