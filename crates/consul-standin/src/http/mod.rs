//! The HTTP API of one agent: Consul's routing (prefix patterns, 404 with an empty body for
//! unknown paths, 405 with `Allow`), request parsing, blocking queries and response headers.
//! The endpoints themselves live in one module per surface; what stays here is the
//! request life cycle every surface shares, which is why it is longer than 400 lines.

pub mod agent;
pub mod catalog;
pub mod control;
pub mod health;
pub mod kv;
pub mod listener;
pub mod txn;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::time::Instant;

use crate::acl::{AclError, Authz};
use crate::state::{Datacenter, LostReply, PauseMode, State};

/// Largest request body read for any endpoint; bigger ones get 413.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Which agent a listener belongs to.
#[derive(Debug, Clone)]
pub struct App {
    pub dc: Arc<Datacenter>,
    pub agent: usize,
}

impl App {
    pub fn agent_name(&self) -> &str {
        &self.dc.agents[self.agent].name
    }
}

/// The query string, parsed the way Go's `url.Values` sees it (repeats kept, bare keys present).
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Self {
        Query(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// The first value, like Go's `Values.Get` (empty string for a bare key).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Consul's `getBoolQueryParam`: bare or empty means true; otherwise Go's ParseBool.
    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("") => Ok(true),
            Some(v) => match v {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(ApiError::bad_request(format!("Invalid value for ?{key}"))),
            },
        }
    }

    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.0.iter())
            .finish()
    }
}

/// One request, read and parsed.
#[derive(Debug)]
pub struct Req {
    pub method: Method,
    /// The percent-decoded path, as Go's `URL.Path`.
    pub path: String,
    pub raw_path: String,
    /// The path after the route's pattern (`/v1/kv/` → the key).
    pub rest: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub authz: Authz,
}

/// An error response: plain-text body, Consul's status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: String,
    pub allow: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, body: impl Into<String>) -> Self {
        ApiError {
            status,
            body: body.into(),
            allow: None,
        }
    }
    pub fn bad_request(body: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, body)
    }
    pub fn internal(body: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, body)
    }
    pub fn not_found(body: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, body)
    }
    /// `Request decode failed: <err>` (400).
    pub fn decode(err: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("Request decode failed: {err}"))
    }
}

impl From<AclError> for ApiError {
    fn from(e: AclError) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            resp.headers_mut().insert(header::ALLOW, allow);
        }
        resp
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// JSON body, compact or (with `?pretty`) indented by four spaces plus a newline, as Go does.
pub fn json(req: &Req, value: &impl Serialize) -> Response {
    let body = if req.query.has("pretty") {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        match value.serialize(&mut ser) {
            Ok(()) => {
                buf.push(b'\n');
                buf
            }
            Err(e) => return ApiError::internal(e.to_string()).into_response(),
        }
    } else {
        match serde_json::to_vec(value) {
            Ok(b) => b,
            Err(e) => return ApiError::internal(e.to_string()).into_response(),
        }
    };
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Adds the headers of a blocking-capable read; an index of 0 is sent as 1 as Consul does.
pub fn with_index(mut resp: Response, index: u64) -> Response {
    let h = resp.headers_mut();
    h.insert("X-Consul-Index", HeaderValue::from(index.max(1)));
    h.insert("X-Consul-KnownLeader", HeaderValue::from_static("true"));
    h.insert("X-Consul-LastContact", HeaderValue::from_static("0"));
    resp
}

/// An empty 200, what agent writes return.
pub fn empty() -> Response {
    StatusCode::OK.into_response()
}

/// `?index=` and `?wait=` of a blocking query.
#[derive(Debug, Clone, Copy)]
pub struct Blocking {
    pub index: u64,
    pub wait: Duration,
}

/// Consul's `parseWait` and `parseConsistency`; defaults 5 min, capped at 10 min.
pub fn blocking_opts(req: &Req) -> Result<Blocking, ApiError> {
    let q = &req.query;
    if q.has("stale") && q.has("consistent") {
        return Err(ApiError::bad_request(
            "Cannot specify ?stale with ?consistent, conflicting semantics.",
        ));
    }
    let mut wait = Duration::ZERO;
    if let Some(w) = q.get("wait").filter(|w| !w.is_empty()) {
        wait =
            crate::duration::parse(w).ok_or_else(|| ApiError::bad_request("Invalid wait time"))?;
    }
    let mut index = 0;
    if let Some(i) = q.get("index").filter(|i| !i.is_empty()) {
        index = i
            .parse()
            .map_err(|_| ApiError::bad_request("Invalid index"))?;
    }
    if wait.is_zero() {
        wait = Duration::from_secs(300);
    }
    wait = wait.min(Duration::from_secs(600));
    Ok(Blocking { index, wait })
}

/// Runs a read, and if `?index=` asks for it, waits until its index passes the given one or
/// the wait (plus Consul's jitter of up to wait/16) runs out.
pub async fn block<T>(
    app: &App,
    req: &Req,
    f: impl Fn(&State) -> (T, u64),
) -> Result<(T, u64), ApiError> {
    let opts = blocking_opts(req)?;
    let mut rx = app.dc.subscribe();
    let (mut value, mut index) = app.dc.read(&f);
    if opts.index == 0 || index > opts.index {
        return Ok((value, index));
    }
    let jitter_ms = u64::try_from(opts.wait.as_millis() / 16).unwrap_or(0);
    let jitter = if jitter_ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::random_range(0..jitter_ms))
    };
    let deadline = Instant::now() + opts.wait + jitter;
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
        (value, index) = app.dc.read(&f);
        if index > opts.index {
            return Ok((value, index));
        }
    }
    Ok(app.dc.read(&f))
}

/// [`block`], answered as JSON with the index headers: the whole tail of every catalog and
/// health read.
pub async fn block_json<T: Serialize>(
    app: &App,
    req: &Req,
    f: impl Fn(&State) -> (T, u64),
) -> ApiResult {
    let (body, index) = block(app, req, f).await?;
    Ok(with_index(json(req, &body), index))
}

/// The service or node name a `/v1/…/:name` endpoint takes from the path; Consul refuses an
/// empty one with `Missing <what> name`.
pub fn path_name<'a>(req: &'a Req, what: &str) -> Result<&'a str, ApiError> {
    let name = req.rest.as_str();
    if name.is_empty() {
        return Err(ApiError::bad_request(format!("Missing {what} name")));
    }
    Ok(name)
}

/// Endpoints, by Consul's mux pattern; a pattern ending in `/` matches every path below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    AgentSelf,
    AgentMembers,
    AgentServices,
    AgentChecks,
    AgentService,
    AgentServiceRegister,
    AgentServiceDeregister,
    AgentServiceMaintenance,
    AgentMaintenance,
    AgentCheckRegister,
    AgentCheckDeregister,
    AgentCheckPass,
    AgentCheckWarn,
    AgentCheckFail,
    AgentCheckUpdate,
    CatalogRegister,
    CatalogDeregister,
    CatalogDatacenters,
    CatalogNodes,
    CatalogServices,
    CatalogService,
    CatalogNode,
    HealthNode,
    HealthChecks,
    HealthState,
    HealthService,
    Kv,
    Txn,
    StatusLeader,
    StatusPeers,
    Control,
}

const GET: &[&str] = &["GET"];
const PUT: &[&str] = &["PUT"];

const ROUTES: &[(&str, &[&str], Route)] = &[
    ("/v1/agent/self", GET, Route::AgentSelf),
    ("/v1/agent/members", GET, Route::AgentMembers),
    ("/v1/agent/services", GET, Route::AgentServices),
    ("/v1/agent/checks", GET, Route::AgentChecks),
    ("/v1/agent/service/", GET, Route::AgentService),
    (
        "/v1/agent/service/register",
        PUT,
        Route::AgentServiceRegister,
    ),
    (
        "/v1/agent/service/deregister/",
        PUT,
        Route::AgentServiceDeregister,
    ),
    (
        "/v1/agent/service/maintenance/",
        PUT,
        Route::AgentServiceMaintenance,
    ),
    ("/v1/agent/maintenance", PUT, Route::AgentMaintenance),
    ("/v1/agent/check/register", PUT, Route::AgentCheckRegister),
    (
        "/v1/agent/check/deregister/",
        PUT,
        Route::AgentCheckDeregister,
    ),
    ("/v1/agent/check/pass/", PUT, Route::AgentCheckPass),
    ("/v1/agent/check/warn/", PUT, Route::AgentCheckWarn),
    ("/v1/agent/check/fail/", PUT, Route::AgentCheckFail),
    ("/v1/agent/check/update/", PUT, Route::AgentCheckUpdate),
    ("/v1/catalog/register", PUT, Route::CatalogRegister),
    ("/v1/catalog/deregister", PUT, Route::CatalogDeregister),
    ("/v1/catalog/datacenters", GET, Route::CatalogDatacenters),
    ("/v1/catalog/nodes", GET, Route::CatalogNodes),
    ("/v1/catalog/services", GET, Route::CatalogServices),
    ("/v1/catalog/service/", GET, Route::CatalogService),
    ("/v1/catalog/node/", GET, Route::CatalogNode),
    ("/v1/health/node/", GET, Route::HealthNode),
    ("/v1/health/checks/", GET, Route::HealthChecks),
    ("/v1/health/state/", GET, Route::HealthState),
    ("/v1/health/service/", GET, Route::HealthService),
    ("/v1/kv/", &["GET", "PUT", "DELETE"], Route::Kv),
    ("/v1/txn", PUT, Route::Txn),
    ("/v1/status/leader", GET, Route::StatusLeader),
    ("/v1/status/peers", GET, Route::StatusPeers),
    ("/_standin/", &["GET", "PUT", "POST"], Route::Control),
];

/// Go's ServeMux rule: an exact pattern, else the longest `/`-terminated prefix.
fn route(path: &str) -> Option<(&'static str, &'static [&'static str], Route)> {
    if let Some(&(p, m, r)) = ROUTES.iter().find(|(p, _, _)| *p == path) {
        return Some((p, m, r));
    }
    ROUTES
        .iter()
        .filter(|(p, _, _)| p.ends_with('/') && path.starts_with(p))
        .max_by_key(|(p, _, _)| p.len())
        .map(|&(p, m, r)| (p, m, r))
}

/// Extracts the ACL token: `?token=`, then `X-Consul-Token`, then `Authorization: Bearer`.
fn token(query: &Query, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = query.get("token").filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    if let Some(t) = headers
        .get("X-Consul-Token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_string());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The axum handler behind every listener.
pub async fn handle(AxState(app): AxState<App>, request: axum::extract::Request) -> Response {
    let raw_path = request.uri().path().to_string();
    if !raw_path.starts_with("/_standin/") {
        let pause = *app.dc.agents[app.agent].pause.borrow();
        if pause != PauseMode::Running {
            // A black-holed host never answers; the client's own timeout ends the request.
            std::future::pending::<()>().await;
        }
    }
    let write = raw_path.starts_with("/v1/") && matches!(*request.method(), Method::PUT | Method::DELETE | Method::POST);
    let mut resp = match dispatch(&app, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let lost = if write { app.dc.agents[app.agent].lose_reply.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() } else { None };
    match lost {
        // The write is applied; the answer never arrives.
        Some(LostReply::Hang) => std::future::pending::<()>().await,
        // The write is applied; the answer's body fails, so hyper cuts the connection.
        Some(LostReply::Reset) => {
            let cut = futures_util::stream::once(async { Err::<Bytes, _>(std::io::Error::other("reply lost (test fault)")) });
            return Response::new(Body::from_stream(cut));
        }
        None => {}
    }
    let policy = if app.dc.config.acl_token.is_some() {
        "deny"
    } else {
        "allow"
    };
    resp.headers_mut().insert(
        "X-Consul-Default-ACL-Policy",
        HeaderValue::from_static(policy),
    );
    resp
}

async fn dispatch(app: &App, request: axum::extract::Request) -> ApiResult {
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_string();
    let path = percent_encoding::percent_decode_str(&raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let Some((pattern, methods, route)) = route(&path) else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let mut allow = vec!["OPTIONS"];
    allow.extend_from_slice(methods);
    if parts.method == Method::OPTIONS {
        let mut resp = empty();
        resp.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_str(&allow.join(",")).unwrap_or(HeaderValue::from_static("OPTIONS")),
        );
        return Ok(resp);
    }
    if !methods.contains(&parts.method.as_str()) {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {} not allowed", parts.method),
        );
        e.allow = Some(allow.join(","));
        return Err(e);
    }
    let query = Query::parse(parts.uri.query());
    if route != Route::Control
        && let Some(dc) = query.get("dc").filter(|d| !d.is_empty())
        && dc != app.dc.name()
    {
        return Err(ApiError::internal("No path to datacenter"));
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body too large, max size: {MAX_BODY} bytes"),
            ));
        }
    };
    let authz =
        if route == Route::Control || route == Route::StatusLeader || route == Route::StatusPeers {
            Authz::All
        } else {
            Authz::resolve(
                app.dc.config.acl_token.as_deref(),
                token(&query, &parts.headers).as_deref(),
            )?
        };
    let rest = path.get(pattern.len()..).unwrap_or_default().to_string();
    let req = Req {
        method: parts.method,
        path,
        raw_path,
        rest,
        query,
        headers: parts.headers,
        body,
        authz,
    };
    match route {
        Route::AgentSelf => agent::self_(app, &req),
        Route::AgentMembers => agent::members(app, &req),
        Route::AgentServices => agent::services(app, &req),
        Route::AgentChecks => agent::checks(app, &req),
        Route::AgentService => agent::service(app, &req),
        Route::AgentServiceRegister => agent::service_register(app, &req),
        Route::AgentServiceDeregister => agent::service_deregister(app, &req),
        Route::AgentServiceMaintenance => agent::service_maintenance(app, &req),
        Route::AgentMaintenance => agent::node_maintenance(app, &req),
        Route::AgentCheckRegister => agent::check_register(app, &req),
        Route::AgentCheckDeregister => agent::check_deregister(app, &req),
        Route::AgentCheckPass => agent::check_ttl(app, &req, Some(crate::catalog::PASSING)),
        Route::AgentCheckWarn => agent::check_ttl(app, &req, Some(crate::catalog::WARNING)),
        Route::AgentCheckFail => agent::check_ttl(app, &req, Some(crate::catalog::CRITICAL)),
        Route::AgentCheckUpdate => agent::check_ttl(app, &req, None),
        Route::CatalogRegister => catalog::register(app, &req),
        Route::CatalogDeregister => catalog::deregister(app, &req),
        Route::CatalogDatacenters => Ok(json(&req, &[app.dc.name()])),
        Route::CatalogNodes => catalog::nodes(app, &req).await,
        Route::CatalogServices => catalog::services(app, &req).await,
        Route::CatalogService => catalog::service(app, &req).await,
        Route::CatalogNode => catalog::node(app, &req).await,
        Route::HealthNode => health::node(app, &req).await,
        Route::HealthChecks => health::checks(app, &req).await,
        Route::HealthState => health::state(app, &req).await,
        Route::HealthService => health::service(app, &req).await,
        Route::Kv => kv::endpoint(app, &req).await,
        Route::Txn => txn::endpoint(app, &req),
        Route::StatusLeader => Ok(json(&req, &server_rpc_addr(app))),
        Route::StatusPeers => Ok(json(&req, &[server_rpc_addr(app)])),
        Route::Control => control::endpoint(app, &req),
    }
}

/// The server's RPC address as `/v1/status/leader` reports it.
fn server_rpc_addr(app: &App) -> String {
    let ip = app
        .dc
        .agents
        .iter()
        .find(|a| a.server)
        .map(|a| a.ip)
        .unwrap_or(app.dc.agents[app.agent].ip);
    std::net::SocketAddr::new(ip, 8300).to_string()
}

/// Decodes a JSON body; any failure is `Request decode failed: ...` (400).
pub fn body_json(req: &Req) -> Result<serde_json::Value, ApiError> {
    if req.body.is_empty() {
        return Err(ApiError::decode("EOF"));
    }
    serde_json::from_slice(&req.body).map_err(ApiError::decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_follows_go_mux() {
        assert_eq!(
            route("/v1/agent/service/register").map(|r| r.2),
            Some(Route::AgentServiceRegister)
        );
        assert_eq!(
            route("/v1/agent/service/redis1").map(|r| r.2),
            Some(Route::AgentService)
        );
        assert_eq!(route("/v1/kv/a/b").map(|r| r.2), Some(Route::Kv));
        assert_eq!(route("/v1/kv").map(|r| r.2), None);
        assert_eq!(route("/v1/nope").map(|r| r.2), None);
        assert_eq!(
            route("/v1/catalog/service/redis").map(|r| r.0),
            Some("/v1/catalog/service/")
        );
    }
}
