//! Where the Consul agent is and how to talk to it, read from the standard `CONSUL_*` variables
//! with the official Go client's precedence and parsing, so an operator's existing Consul
//! environment (the one the `consul` CLI uses) works unchanged.
//!
//! Deliberate differences from the Go client, all on the safe side: an unparseable
//! `CONSUL_HTTP_SSL_VERIFY` keeps verification on; a trailing `/` of an address prefix is
//! dropped; HTTP proxy variables are never used (the agent is local, and the token must not
//! travel through a proxy someone left in a hook's environment).

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Error;
use crate::secret::Secret;

/// The agent address used when neither a flag nor `CONSUL_HTTP_ADDR` gives one.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8500";
/// How long one HTTP request may take, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// How to reach the agent: a TCP `host[:port]` or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `host:port` (the port may be left out, meaning 80 or 443). IPv6 hosts are bracketed.
    Tcp(String),
    /// An absolute socket path, from `unix:///path`.
    Unix(PathBuf),
}

/// A parsed agent address: endpoint, scheme and the path prefix put before every `/v1/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub endpoint: Endpoint,
    pub scheme: Scheme,
    /// Empty, or `/prefix` without a trailing slash (a reverse proxy's mount point).
    pub prefix: String,
}

impl Address {
    /// Parses an address the way `CONSUL_HTTP_ADDR` is parsed: `host:port`, `http://host:port`,
    /// `https://host:port` (forces TLS), `unix:///abs/path.sock`, each `http(s)://` form with an
    /// optional `/prefix`. `force_https` (from `CONSUL_HTTP_SSL`) wins over an `http://`.
    pub fn parse(raw: &str, force_https: bool) -> Result<Address, Error> {
        let default_scheme = if force_https { Scheme::Https } else { Scheme::Http };
        let Some((scheme, rest)) = raw.split_once("://") else {
            // Without a scheme the Go client takes the whole string as host:port (no prefix).
            return Ok(Address { endpoint: Endpoint::Tcp(parse_authority(raw, raw)?), scheme: default_scheme, prefix: String::new() });
        };
        let scheme = match scheme {
            "http" => default_scheme,
            "https" => Scheme::Https,
            "unix" => {
                if !rest.starts_with('/') {
                    return Err(Error::Config(format!("unix socket path in {:?} must be absolute (unix:///path)", redact(raw))));
                }
                return Ok(Address { endpoint: Endpoint::Unix(PathBuf::from(rest)), scheme: default_scheme, prefix: String::new() });
            }
            // A scheme holding `@` is really `user:password@host` without one: never echo it.
            other if other.contains('@') => return Err(Error::Config(format!("invalid consul address {:?}", redact(raw)))),
            other => return Err(Error::Config(format!("unknown protocol scheme: {other}"))),
        };
        let (authority, prefix) = match rest.split_once('/') {
            Some((authority, prefix)) => (authority, prefix.trim_end_matches('/')),
            None => (rest, ""),
        };
        let prefix = if prefix.is_empty() { String::new() } else { format!("/{prefix}") };
        Ok(Address { endpoint: Endpoint::Tcp(parse_authority(authority, raw)?), scheme, prefix })
    }
}

/// Checks `host[:port]`: not empty, no user info, a valid URI authority.
fn parse_authority(authority: &str, raw: &str) -> Result<String, Error> {
    if authority.contains('@') {
        // `user:password@` would be a credential in every message that names the address.
        return Err(Error::Config(format!(
            "invalid consul address {:?}: user info is not allowed in the address (set CONSUL_HTTP_AUTH for basic auth)",
            redact(raw)
        )));
    }
    let parsed = if authority.contains(['@', '/', '?', '#']) { None } else { authority.parse::<ureq::http::uri::Authority>().ok() };
    let valid = parsed.is_some_and(|a| {
        // http's Authority accepts any digits after the colon; the port must fit 1..=65535.
        let has_port = authority.rfind(':').is_some_and(|i| !authority[i..].contains(']'));
        let port_ok = !has_port || a.port_u16().is_some_and(|p| p != 0);
        !a.host().is_empty() && port_ok
    });
    if valid {
        Ok(authority.to_string())
    } else {
        Err(Error::Config(format!("invalid consul address {:?} (expected host:port, http(s)://host:port[/prefix] or unix:///path)", redact(raw))))
    }
}

/// `raw` for a message, with any user info (`user:password@`) before the host replaced by
/// `***@`: an address is echoed in errors, and errors reach Consul's check output and logs.
pub fn redact(raw: &str) -> String {
    let is_scheme = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (Some(scheme), rest),
        _ => (None, raw),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => format!("***{}", &rest[at..]),
        None => rest.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest,
    }
}

/// For messages: `host:port`, or `unix:///path` for a socket.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint {
            Endpoint::Tcp(authority) => f.write_str(authority),
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// HTTP Basic credentials from `CONSUL_HTTP_AUTH` (`user[:password]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub user: String,
    pub password: Secret,
}

/// TLS settings from `CONSUL_CACERT`, `CONSUL_CAPATH`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`,
/// `CONSUL_TLS_SERVER_NAME` and `CONSUL_HTTP_SSL_VERIFY`. Files are read when the client is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// A PEM bundle of CA certificates; when set, `ca_path` is ignored.
    pub ca_file: Option<PathBuf>,
    /// A directory of PEM CA certificates (walked recursively, every file must parse).
    pub ca_path: Option<PathBuf>,
    /// Client certificate and key for mutual TLS; both or neither.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name to verify the server certificate against (and to send as SNI), port stripped.
    pub server_name: Option<String>,
    /// False only when `CONSUL_HTTP_SSL_VERIFY` parses as false.
    pub verify: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings { ca_file: None, ca_path: None, client_cert: None, server_name: None, verify: true }
    }
}

/// Bounded retries with doubling backoff, used on connection errors and 5xx answers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Extra attempts after the first one.
    pub retries: u32,
    /// Pause before the first retry; each later pause doubles.
    pub first_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { retries: 2, first_backoff: Duration::from_millis(50) }
    }
}

/// Everything needed to build a [`Client`](super::Client).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub address: Address,
    /// Sent as `X-Consul-Token` on every request.
    pub token: Option<Secret>,
    pub basic_auth: Option<BasicAuth>,
    pub tls: TlsSettings,
    /// The longest one HTTP request (connect, send, receive) may take.
    pub timeout: Duration,
    pub retry: Retry,
    /// No request or retry runs past this instant: the caller's whole time budget.
    pub deadline: Option<Instant>,
    /// `CONSUL_HTTP_SSL` was true: kept so that [`ClientConfig::with_address`] honours it too.
    force_https: bool,
}

/// What `--print-config` shows: where the agent is and how it is reached; secrets as `<set>`.
impl serde::Serialize for ClientConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("address", &format!("{}://{}{}", self.address.scheme.as_str(), self.address, self.address.prefix))?;
        if let Some(token) = &self.token {
            map.serialize_entry("token", token)?;
        }
        if let Some(auth) = &self.basic_auth {
            map.serialize_entry("basic_auth", &format!("{}:<set>", auth.user))?;
        }
        if let Some(ca) = &self.tls.ca_file {
            map.serialize_entry("ca_file", ca)?;
        }
        if let Some(ca) = &self.tls.ca_path {
            map.serialize_entry("ca_path", ca)?;
        }
        if let Some((cert, _)) = &self.tls.client_cert {
            map.serialize_entry("client_cert", cert)?;
        }
        if let Some(name) = &self.tls.server_name {
            map.serialize_entry("tls_server_name", name)?;
        }
        if !self.tls.verify {
            map.serialize_entry("tls_verify", &false)?;
        }
        map.serialize_entry("request_timeout", &humantime::format_duration(self.timeout).to_string())?;
        map.end()
    }
}

impl Default for ClientConfig {
    /// The agent at `127.0.0.1:8500` over plain HTTP, no token, default timeout and retries.
    fn default() -> Self {
        ClientConfig {
            address: Address { endpoint: Endpoint::Tcp(DEFAULT_ADDR.to_string()), scheme: Scheme::Http, prefix: String::new() },
            token: None,
            basic_auth: None,
            tls: TlsSettings::default(),
            timeout: DEFAULT_TIMEOUT,
            retry: Retry::default(),
            deadline: None,
            force_https: false,
        }
    }
}

impl ClientConfig {
    /// Reads the standard `CONSUL_*` variables from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the standard `CONSUL_*` variables through `lookup` (tests pass a map, so they never
    /// touch the process environment). Empty values count as unset, as in the Go client.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());

        // CONSUL_HTTP_SSL: unparseable values are ignored, as the Go client does (it logs them).
        let force_https = get("CONSUL_HTTP_SSL").and_then(|v| parse_bool(&v)).unwrap_or(false);
        let address = Address::parse(&get("CONSUL_HTTP_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_string()), force_https)?;
        let token = read_token(get("CONSUL_HTTP_TOKEN"), get("CONSUL_HTTP_TOKEN_FILE"))?;
        let basic_auth = get("CONSUL_HTTP_AUTH").map(|auth| match auth.split_once(':') {
            Some((user, password)) => BasicAuth { user: user.to_string(), password: Secret::new(password) },
            None => BasicAuth { user: auth, password: Secret::new("") },
        });
        if basic_auth.as_ref().is_some_and(|auth| !is_header_safe(&auth.user) || !is_header_safe(auth.password.expose())) {
            return Err(Error::Config("CONSUL_HTTP_AUTH contains control characters".to_string()));
        }
        let client_cert = match (get("CONSUL_CLIENT_CERT"), get("CONSUL_CLIENT_KEY")) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            _ => {
                return Err(Error::Config(
                    "both client cert and client key must be provided (CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)".to_string(),
                ));
            }
        };
        let tls = TlsSettings {
            ca_file: get("CONSUL_CACERT").map(PathBuf::from),
            ca_path: get("CONSUL_CAPATH").map(PathBuf::from),
            client_cert,
            server_name: get("CONSUL_TLS_SERVER_NAME").map(|name| strip_port(&name)),
            // Unlike the Go client, a value that does not parse leaves verification on.
            verify: get("CONSUL_HTTP_SSL_VERIFY").and_then(|v| parse_bool(&v)).unwrap_or(true),
        };
        Ok(ClientConfig { address, token, basic_auth, tls, force_https, ..ClientConfig::default() })
    }

    /// Replaces the address, e.g. with one given as a flag (which beats `CONSUL_HTTP_ADDR`).
    /// Same syntax as `CONSUL_HTTP_ADDR`; `CONSUL_HTTP_SSL=true` still forces HTTPS.
    pub fn with_address(mut self, addr: &str) -> Result<Self, Error> {
        self.address = Address::parse(addr, self.force_https)?;
        Ok(self)
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the instant no request or retry may run past.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }
}

/// Go's `strconv.ParseBool`: `1 t T true TRUE True` and `0 f F false FALSE False`, nothing else.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The token: a non-empty (whitespace-trimmed) token file wins over `CONSUL_HTTP_TOKEN`; an
/// unreadable file is an error. The message names the file, never its content.
fn read_token(env_token: Option<String>, token_file: Option<String>) -> Result<Option<Secret>, Error> {
    let mut token = env_token;
    if let Some(path) = token_file {
        let content = crate::files::read_to_string(std::path::Path::new(&path), crate::files::SECRET_LIMIT)
            .map_err(|e| Error::Config(format!("cannot read token file {path:?}: {e}")))?;
        let trimmed = content.trim();
        if !trimmed.is_empty() {
            token = Some(trimmed.to_string());
        }
    }
    match token {
        Some(token) if !is_header_safe(&token) => {
            Err(Error::Config("the consul token contains characters not allowed in an http header".to_string()))
        }
        token => Ok(token.map(Secret::new)),
    }
}

/// Visible ASCII and spaces/tabs only, so the value can go into a header unchanged.
fn is_header_safe(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// `CONSUL_TLS_SERVER_NAME` may carry a `:port`, which the Go client strips (`host:8501`,
/// `[::1]:8501`); a bare IPv6 address is kept whole.
fn strip_port(name: &str) -> String {
    if name.parse::<std::net::Ipv6Addr>().is_ok() {
        return name.to_string();
    }
    let has_port = match (name.rfind(':'), name.rfind(']')) {
        (Some(colon), Some(bracket)) => colon > bracket,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let host = if has_port { name.rsplit_once(':').map_or(name, |(host, _)| host) } else { name };
    host.trim_start_matches('[').trim_end_matches(']').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<ClientConfig, Error> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ClientConfig::from_lookup(|name| map.get(name).cloned())
    }

    fn tcp(authority: &str, scheme: Scheme, prefix: &str) -> Address {
        Address { endpoint: Endpoint::Tcp(authority.to_string()), scheme, prefix: prefix.to_string() }
    }

    #[test]
    fn empty_environment_means_local_agent_over_http() {
        let c = from(&[]).unwrap();
        assert_eq!(c.address, tcp("127.0.0.1:8500", Scheme::Http, ""));
        assert_eq!(c.token, None);
        assert_eq!(c.basic_auth, None);
        assert_eq!(c.tls, TlsSettings::default());
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(c.retry, Retry { retries: 2, first_backoff: Duration::from_millis(50) });
        assert_eq!(c.deadline, None);
    }

    #[test]
    fn address_forms() {
        let cases = [
            ("10.0.0.5:8500", tcp("10.0.0.5:8500", Scheme::Http, "")),
            ("consul.local", tcp("consul.local", Scheme::Http, "")),
            ("http://10.0.0.5:8500", tcp("10.0.0.5:8500", Scheme::Http, "")),
            ("https://10.0.0.5:8501", tcp("10.0.0.5:8501", Scheme::Https, "")),
            ("http://[::1]:8500", tcp("[::1]:8500", Scheme::Http, "")),
            ("https://proxy:443/consul", tcp("proxy:443", Scheme::Https, "/consul")),
            ("http://proxy:80/a/b/", tcp("proxy:80", Scheme::Http, "/a/b")),
            ("http://proxy:80/", tcp("proxy:80", Scheme::Http, "")),
        ];
        for (raw, want) in cases {
            assert_eq!(Address::parse(raw, false).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn unix_address_keeps_the_path() {
        let a = Address::parse("unix:///run/consul/http.sock", false).unwrap();
        assert_eq!(a.endpoint, Endpoint::Unix(PathBuf::from("/run/consul/http.sock")));
        assert_eq!(a.to_string(), "unix:///run/consul/http.sock");
        assert!(matches!(Address::parse("unix://relative.sock", false), Err(Error::Config(_))));
    }

    #[test]
    fn unknown_scheme_is_an_error() {
        let e = from(&[("CONSUL_HTTP_ADDR", "xyz://10.0.0.5:8500")]).unwrap_err();
        assert_eq!(e, Error::Config("unknown protocol scheme: xyz".to_string()));
    }

    #[test]
    fn malformed_addresses_are_errors() {
        for raw in ["", "http://", "user:pw@host:8500", "http://user@host:8500", "host:port:x", "host:8500/prefix", "host:99999", "host:0", ":8500", "http://:8500"] {
            assert!(matches!(Address::parse(raw, false), Err(Error::Config(_))), "{raw:?} should fail");
        }
    }

    #[test]
    fn user_info_in_the_address_is_refused_without_echoing_it() {
        for raw in ["http://user:s3cret@127.0.0.1:8500", "user:s3cret@127.0.0.1:8500", "https://s3cret@h:8501/p", "unix://u:s3cret@/x.sock", "http://a@b:s3cret@h/x", "u:s3cret@h://x"] {
            let e = from(&[("CONSUL_HTTP_ADDR", raw)]).unwrap_err();
            let text = e.to_string();
            assert!(!text.contains("s3cret"), "{raw}: {text}");
            assert!(text.contains("***@"), "{raw}: {text}");
        }
        let e = Address::parse("http://user:s3cret@127.0.0.1:8500", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "consul client configuration: invalid consul address \"http://***@127.0.0.1:8500\": user info is not allowed in the address (set CONSUL_HTTP_AUTH for basic auth)"
        );
    }

    #[test]
    fn redact_keeps_everything_but_the_user_info() {
        assert_eq!(redact("http://u:p@h:1/a@b"), "http://***@h:1/a@b");
        assert_eq!(redact("u:p@h:1"), "***@h:1");
        assert_eq!(redact("https://h:1/prefix"), "https://h:1/prefix");
        assert_eq!(redact("h:1"), "h:1");
        assert_eq!(redact("u:p@h://x"), "***@h://x");
    }

    #[test]
    fn a_token_file_that_is_a_fifo_or_a_device_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("token");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        for path in [fifo.to_str().unwrap(), "/dev/zero"] {
            let e = from(&[("CONSUL_HTTP_TOKEN_FILE", path)]).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }

    #[test]
    fn consul_http_ssl_forces_https_and_http_scheme_does_not_downgrade() {
        let c = from(&[("CONSUL_HTTP_SSL", "true"), ("CONSUL_HTTP_ADDR", "http://h:8501")]).unwrap();
        assert_eq!(c.address.scheme, Scheme::Https);
        let c = from(&[("CONSUL_HTTP_SSL", "1"), ("CONSUL_HTTP_ADDR", "h:8501")]).unwrap();
        assert_eq!(c.address.scheme, Scheme::Https);
        let c = from(&[("CONSUL_HTTP_SSL", "false"), ("CONSUL_HTTP_ADDR", "https://h:8501")]).unwrap();
        assert_eq!(c.address.scheme, Scheme::Https);
        let c = from(&[("CONSUL_HTTP_SSL", "yes")]).unwrap();
        assert_eq!(c.address.scheme, Scheme::Http, "unparseable CONSUL_HTTP_SSL is ignored");
    }

    #[test]
    fn explicit_address_beats_environment_but_keeps_forced_tls() {
        let c = from(&[("CONSUL_HTTP_ADDR", "env:8500"), ("CONSUL_HTTP_SSL", "T")]).unwrap();
        let c = c.with_address("flag:8501").unwrap();
        assert_eq!(c.address, tcp("flag:8501", Scheme::Https, ""));
        let c = from(&[("CONSUL_HTTP_ADDR", "env:8500")]).unwrap().with_address("http://flag:8500/p").unwrap();
        assert_eq!(c.address, tcp("flag:8500", Scheme::Http, "/p"));
    }

    #[test]
    fn go_parse_bool_values() {
        for v in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(v), Some(true), "{v}");
        }
        for v in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(v), Some(false), "{v}");
        }
        for v in ["", "yes", "no", "tRuE", " true", "2", "on"] {
            assert_eq!(parse_bool(v), None, "{v}");
        }
    }

    #[test]
    fn ssl_verify_is_on_unless_parsed_false() {
        assert!(from(&[]).unwrap().tls.verify);
        assert!(!from(&[("CONSUL_HTTP_SSL_VERIFY", "false")]).unwrap().tls.verify);
        assert!(!from(&[("CONSUL_HTTP_SSL_VERIFY", "0")]).unwrap().tls.verify);
        assert!(from(&[("CONSUL_HTTP_SSL_VERIFY", "true")]).unwrap().tls.verify);
        assert!(from(&[("CONSUL_HTTP_SSL_VERIFY", "nope")]).unwrap().tls.verify);
    }

    #[test]
    fn token_from_environment() {
        let c = from(&[("CONSUL_HTTP_TOKEN", "abc-123")]).unwrap();
        assert_eq!(c.token, Some(Secret::new("abc-123")));
    }

    #[test]
    fn non_empty_token_file_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  from-file\n").unwrap();
        let path = file.to_str().unwrap();
        let c = from(&[("CONSUL_HTTP_TOKEN", "from-env"), ("CONSUL_HTTP_TOKEN_FILE", path)]).unwrap();
        assert_eq!(c.token, Some(Secret::new("from-file")));
        let c = from(&[("CONSUL_HTTP_TOKEN_FILE", path)]).unwrap();
        assert_eq!(c.token, Some(Secret::new("from-file")));
    }

    #[test]
    fn empty_token_file_falls_back_to_environment_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, " \n").unwrap();
        let path = file.to_str().unwrap();
        let c = from(&[("CONSUL_HTTP_TOKEN", "from-env"), ("CONSUL_HTTP_TOKEN_FILE", path)]).unwrap();
        assert_eq!(c.token, Some(Secret::new("from-env")));
        let c = from(&[("CONSUL_HTTP_TOKEN_FILE", path)]).unwrap();
        assert_eq!(c.token, None);
    }

    #[test]
    fn unreadable_token_file_is_an_error_naming_the_file() {
        let e = from(&[("CONSUL_HTTP_TOKEN", "secret-env-token"), ("CONSUL_HTTP_TOKEN_FILE", "/nonexistent/token")]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/nonexistent/token"), "{text}");
        assert!(!text.contains("secret-env-token"), "{text}");
    }

    #[test]
    fn token_with_a_newline_is_rejected_without_echoing_it() {
        let e = from(&[("CONSUL_HTTP_TOKEN", "abc\ndef")]).unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert!(!e.to_string().contains("abc"));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = from(&[("CONSUL_HTTP_TOKEN", "tok-s3cret"), ("CONSUL_HTTP_AUTH", "admin:pw-s3cret")]).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("tok-s3cret") && !debug.contains("pw-s3cret"), "{debug}");
        assert!(debug.contains("***"));
        assert!(debug.contains("admin"));
    }

    #[test]
    fn basic_auth_user_and_optional_password() {
        let c = from(&[("CONSUL_HTTP_AUTH", "admin:pa:ss")]).unwrap();
        assert_eq!(c.basic_auth, Some(BasicAuth { user: "admin".into(), password: Secret::new("pa:ss") }));
        let c = from(&[("CONSUL_HTTP_AUTH", "admin")]).unwrap();
        assert_eq!(c.basic_auth, Some(BasicAuth { user: "admin".into(), password: Secret::new("") }));
    }

    #[test]
    fn tls_variables() {
        let c = from(&[
            ("CONSUL_CACERT", "/etc/consul/ca.pem"),
            ("CONSUL_CAPATH", "/etc/consul/cas"),
            ("CONSUL_CLIENT_CERT", "/etc/consul/cli.pem"),
            ("CONSUL_CLIENT_KEY", "/etc/consul/cli-key.pem"),
            ("CONSUL_TLS_SERVER_NAME", "consul.example:8501"),
        ])
        .unwrap();
        assert_eq!(
            c.tls,
            TlsSettings {
                ca_file: Some("/etc/consul/ca.pem".into()),
                ca_path: Some("/etc/consul/cas".into()),
                client_cert: Some(("/etc/consul/cli.pem".into(), "/etc/consul/cli-key.pem".into())),
                server_name: Some("consul.example".into()),
                verify: true,
            }
        );
    }

    #[test]
    fn client_cert_without_key_is_an_error() {
        for vars in [[("CONSUL_CLIENT_CERT", "/c.pem")], [("CONSUL_CLIENT_KEY", "/k.pem")]] {
            let e = from(&vars).unwrap_err();
            assert!(e.to_string().contains("both client cert and client key must be provided"), "{e}");
        }
    }

    #[test]
    fn server_name_port_is_stripped() {
        assert_eq!(strip_port("consul.example:8501"), "consul.example");
        assert_eq!(strip_port("consul.example"), "consul.example");
        assert_eq!(strip_port("[::1]:8501"), "::1");
        assert_eq!(strip_port("[::1]"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("10.0.0.5:8501"), "10.0.0.5");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = from(&[("CONSUL_HTTP_ADDR", ""), ("CONSUL_HTTP_TOKEN", ""), ("CONSUL_CLIENT_CERT", ""), ("CONSUL_CLIENT_KEY", "/k")]);
        // An empty CONSUL_CLIENT_CERT is unset, so the key alone is still an error.
        assert!(c.is_err());
        let c = from(&[("CONSUL_HTTP_ADDR", ""), ("CONSUL_HTTP_TOKEN", "")]).unwrap();
        assert_eq!(c.address, tcp("127.0.0.1:8500", Scheme::Http, ""));
        assert_eq!(c.token, None);
    }
}
