//! One Consul HTTP call: the URL (escaped path, query), the token and auth headers, the timeout,
//! bounded retries with backoff on connection errors and 5xx only, and the mapping of answers
//! to [`Error`]s. The surfaces (`kv`, `catalog`, …) build [`Call`]s and read [`Reply`]s.
//!
//! Timeouts are not retried: a request that used its whole budget would only use it again.
//! Reads are retried on connection errors and 5xx answers. Writes are retried only when the
//! request cannot have reached Consul (refused, no route, name not found): a write whose
//! connection broke after sending, or that got a 5xx, may have been applied, and a retry would
//! hide that behind a compare-and-set conflict. It fails with [`Error::ReplyLost`] (or the
//! 5xx), so the caller re-reads and reports what Consul really holds.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use ureq::RequestBuilder;

use super::{Client, Error};

/// Characters left alone in a path segment: RFC 3986 unreserved, sub-delims, `:` and `@`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-').remove(b'.').remove(b'_').remove(b'~')
    .remove(b'!').remove(b'$').remove(b'&').remove(b'\'').remove(b'(').remove(b')')
    .remove(b'*').remove(b'+').remove(b',').remove(b';').remove(b'=').remove(b':').remove(b'@');
/// A KV key keeps its `/` separators: `svc/redis/master` is one key, not one segment.
const KEY: &AsciiSet = &SEGMENT.remove(b'/');
/// Query values: everything but unreserved characters is escaped.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Escapes one path segment (a node, service or check name): `/` is escaped too.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Escapes a KV key, keeping `/`. A leading `/` is dropped, as the Go client does.
pub(crate) fn key(text: &str) -> String {
    utf8_percent_encode(text.trim_start_matches('/'), KEY).to_string()
}

/// Smallest remaining time worth starting another attempt in.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);
/// How much of an unexpected body goes into an error message.
const SNIPPET_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        })
    }
}

/// A request to make: method, escaped path (`/v1/…`), query parameters and optional body.
#[derive(Debug)]
pub(crate) struct Call {
    method: Method,
    path: String,
    /// `(name, None)` is a bare flag such as `?recurse`.
    query: Vec<(&'static str, Option<String>)>,
    body: Option<(Vec<u8>, bool)>,
}

impl Call {
    pub(crate) fn get(path: String) -> Call {
        Call { method: Method::Get, path, query: Vec::new(), body: None }
    }

    pub(crate) fn put(path: String) -> Call {
        Call { method: Method::Put, path, query: Vec::new(), body: None }
    }

    pub(crate) fn delete(path: String) -> Call {
        Call { method: Method::Delete, path, query: Vec::new(), body: None }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Call {
        self.query.push((name, Some(value.to_string())));
        self
    }

    pub(crate) fn flag(mut self, name: &'static str) -> Call {
        self.query.push((name, None));
        self
    }

    /// A raw body (a KV value), sent as is.
    pub(crate) fn bytes(mut self, body: &[u8]) -> Call {
        self.body = Some((body.to_vec(), false));
        self
    }

    /// A JSON body.
    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Result<Call, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Config(format!("cannot encode request for {}: {e}", self.path)))?;
        self.body = Some((bytes, true));
        Ok(self)
    }

    /// `METHOD /path` for messages (the query is left out: it never holds what went wrong).
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Joins base URL, escaped path and query. Query values are escaped here.
pub(crate) fn url(base: &str, path: &str, query: &[(&str, Option<String>)]) -> String {
    let mut url = format!("{base}{path}");
    for (i, (name, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(name);
        if let Some(value) = value {
            url.push('=');
            url.extend(utf8_percent_encode(value, QUERY));
        }
    }
    url
}

/// An answer Consul gave: 2xx, 404 or 409 (every other status is already an [`Error`]).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    addr: String,
    request: String,
    token: Option<String>,
}

impl Reply {
    /// Catalog and KV writes answer `true`; a `false` without `?cas` is not something they do.
    pub(crate) fn expect_true(&self) -> Result<(), Error> {
        match self.status {
            200 if self.boolean()? => Ok(()),
            _ => Err(self.bad()),
        }
    }

    /// A 200 with a JSON body; 404 or 409 are unexpected for this endpoint.
    pub(crate) fn ok_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match self.status {
            200 => self.json(),
            _ => Err(self.bad()),
        }
    }

    /// The body as JSON of type `T`; anything else is a [`Error::BadResponse`].
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| self.bad_because(&format!("invalid json ({e}): {}", self.snippet())))
    }

    /// The `true`/`false` body of catalog and KV writes.
    pub(crate) fn boolean(&self) -> Result<bool, Error> {
        self.json::<bool>()
    }

    /// This answer, as an unexpected one.
    pub(crate) fn bad(&self) -> Error {
        self.bad_because(&self.snippet())
    }

    /// This answer, as Consul refusing an invalid request.
    fn rejected(&self) -> Error {
        Error::Rejected { addr: self.addr.clone(), request: self.request.clone(), status: self.status, reason: self.snippet() }
    }

    fn bad_because(&self, why: &str) -> Error {
        Error::BadResponse { addr: self.addr.clone(), request: self.request.clone(), status: self.status, snippet: why.to_string() }
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    fn snippet(&self) -> String {
        snippet(&self.body, self.token.as_deref())
    }
}

/// Consul answers some invalid requests with 500 rather than 400 (errors from its RPC layer);
/// these texts mark such answers, which no retry can fix. Any other 5xx is retried.
const VALIDATION_500: &[&str] = &[
    "Must provide node",
    "Must provide address",
    "Must provide service name",
    "Bad node ID",
    "Invalid service address",
    "Missing service registration",
    "does not have associated TTL",
    "Scripts are disabled",
    "invalid key name",
];

fn is_validation_error(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    VALIDATION_500.iter().any(|marker| text.contains(marker))
}

/// The start of a body, on one line, for a message. Consul's texts never contain the token,
/// but a misbehaving proxy could echo a request, so it is masked all the same.
fn snippet(body: &[u8], token: Option<&str>) -> String {
    let text = String::from_utf8_lossy(body);
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        text = text.replace(token, "***");
    }
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

impl Client {
    /// Sends `call`, retrying on connection errors and 5xx answers as configured, never past
    /// the deadline. Returns 2xx, 404 and 409 answers; turns every other outcome into an error.
    pub(crate) fn send(&self, call: Call) -> Result<Reply, Error> {
        let url = url(&self.wire.base_url, &call.path, &call.query);
        let request = call.describe();
        let mut backoff = self.retry.first_backoff;
        let mut retries_left = self.retry.retries;
        loop {
            let budget = self.budget();
            if budget.is_zero() {
                return Err(Error::Timeout { addr: self.addr.clone(), request, after: budget });
            }
            let error = match self.attempt(&call, &url, budget) {
                Ok((status, body)) => {
                    let reply = Reply {
                        status,
                        body,
                        addr: self.addr.clone(),
                        request: request.clone(),
                        token: self.token.as_ref().map(|t| t.expose().to_string()),
                    };
                    match status {
                        200..=299 | 404 | 409 => return Ok(reply),
                        403 => {
                            return Err(Error::AclDenied { addr: self.addr.clone(), request, body: reply.snippet() });
                        }
                        400 => return Err(reply.rejected()),
                        500..=599 if is_validation_error(&reply.body) => return Err(reply.rejected()),
                        500..=599 if call.method != Method::Get => return Err(reply.bad()),
                        500..=599 => reply.bad(),
                        _ => return Err(reply.bad()),
                    }
                }
                Err(e) => {
                    let (error, retryable) = self.transport_error(e, &request, budget, call.method != Method::Get);
                    if !retryable {
                        return Err(error);
                    }
                    error
                }
            };
            if retries_left == 0 || !self.time_left_for(backoff) {
                return Err(error);
            }
            thread::sleep(backoff);
            backoff = backoff.saturating_mul(2);
            retries_left -= 1;
        }
    }

    /// The time one attempt may take: the timeout, shortened to what is left of the deadline.
    fn budget(&self) -> Duration {
        match self.deadline {
            Some(deadline) => self.timeout.min(deadline.saturating_duration_since(Instant::now())),
            None => self.timeout,
        }
    }

    fn time_left_for(&self, backoff: Duration) -> bool {
        self.deadline.is_none_or(|deadline| Instant::now() + backoff + MIN_ATTEMPT <= deadline)
    }

    /// One HTTP exchange; returns the status and the whole body.
    fn attempt(&self, call: &Call, url: &str, budget: Duration) -> Result<(u16, Vec<u8>), ureq::Error> {
        let agent = &self.wire.agent;
        let mut response = match (call.method, &call.body) {
            (Method::Get, _) => self.prepare(agent.get(url), budget).call(),
            (Method::Delete, _) => self.prepare(agent.delete(url), budget).call(),
            (Method::Put, None) => self.prepare(agent.put(url), budget).send_empty(),
            (Method::Put, Some((body, is_json))) => {
                let request = self.prepare(agent.put(url), budget);
                let request = if *is_json { request.content_type("application/json") } else { request };
                request.send(&body[..])
            }
        }?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_vec()?;
        Ok((status, body))
    }

    /// Adds the credentials and, when the deadline is nearer than the timeout, the shorter
    /// timeout (a request-level setting, so only then).
    fn prepare<B>(&self, mut request: RequestBuilder<B>, budget: Duration) -> RequestBuilder<B> {
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token.expose());
        }
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization.expose());
        }
        if budget < self.timeout {
            request = request.config().timeout_global(Some(budget)).build();
        }
        request
    }

    /// Maps a ureq failure to our error, and says whether another attempt could help. For a
    /// `write`, a connection that broke after it may have been sent is a lost reply, never
    /// retried.
    fn transport_error(&self, error: ureq::Error, request: &str, budget: Duration, write: bool) -> (Error, bool) {
        let addr = self.addr.clone();
        let unreachable = |reason: String| Error::Unreachable { addr: self.addr.clone(), reason };
        let lost = |reason: String| Error::ReplyLost { addr: self.addr.clone(), request: request.to_string(), reason };
        match error {
            ureq::Error::Timeout(_) => (Error::Timeout { addr, request: request.to_string(), after: budget }, false),
            ureq::Error::Io(io) => {
                if let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                    return (Error::Tls { addr, reason: tls.to_string() }, false);
                }
                use std::io::ErrorKind::*;
                match io.kind() {
                    TimedOut | WouldBlock => (Error::Timeout { addr, request: request.to_string(), after: budget }, false),
                    ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe | UnexpectedEof | Interrupted if write => {
                        (lost(io.to_string()), false)
                    }
                    ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe | UnexpectedEof
                    | NotFound | HostUnreachable | NetworkUnreachable | NetworkDown | AddrNotAvailable | Interrupted => {
                        (unreachable(io.to_string()), true)
                    }
                    _ => (unreachable(io.to_string()), false),
                }
            }
            ureq::Error::HostNotFound => (unreachable("host not found".to_string()), true),
            ureq::Error::ConnectionFailed => (unreachable("connection failed".to_string()), true),
            ureq::Error::Tls(reason) => (Error::Tls { addr, reason: reason.to_string() }, false),
            ureq::Error::Rustls(e) => (Error::Tls { addr, reason: e.to_string() }, false),
            other => (unreachable(other.to_string()), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_base_prefix_path_and_query() {
        assert_eq!(url("http://127.0.0.1:8500", "/v1/agent/self", &[]), "http://127.0.0.1:8500/v1/agent/self");
        assert_eq!(url("https://proxy:443/consul", "/v1/kv/a", &[]), "https://proxy:443/consul/v1/kv/a");
        assert_eq!(
            url("http://h:1", "/v1/kv/a", &[("cas", Some("0".into())), ("flags", Some("42".into()))]),
            "http://h:1/v1/kv/a?cas=0&flags=42"
        );
        assert_eq!(url("http://h:1", "/v1/kv/a", &[("recurse", None)]), "http://h:1/v1/kv/a?recurse");
        assert_eq!(
            url("http://h:1", "/v1/health/service/redis", &[("passing", None), ("tag", Some("a b&c=d/é".into()))]),
            "http://h:1/v1/health/service/redis?passing&tag=a%20b%26c%3Dd%2F%C3%A9"
        );
    }

    #[test]
    fn keys_keep_slashes_and_escape_the_rest() {
        assert_eq!(key("svc/redis/master"), "svc/redis/master");
        assert_eq!(key("/svc/redis"), "svc/redis");
        assert_eq!(key("a b/c?d#e%f"), "a%20b/c%3Fd%23e%25f");
        assert_eq!(key("x,y.z_-~"), "x,y.z_-~");
        assert_eq!(key("ключ"), "%D0%BA%D0%BB%D1%8E%D1%87");
    }

    #[test]
    fn segments_escape_slashes() {
        assert_eq!(segment("redis"), "redis");
        assert_eq!(segment("service:redis1"), "service:redis1");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("../x"), "..%2Fx");
    }

    #[test]
    fn snippets_are_short_single_line_and_masked() {
        assert_eq!(snippet(b"", None), "(empty body)");
        assert_eq!(snippet(b"Missing node\nname\r\n", None), "Missing node name");
        assert_eq!(snippet(b"echo tok-123 here", Some("tok-123")), "echo *** here");
        let long = "x".repeat(500);
        let s = snippet(long.as_bytes(), None);
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
