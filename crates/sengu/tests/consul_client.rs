//! The Consul client against small HTTP servers started inside each test (TCP, Unix socket and
//! HTTPS with a throw-away CA), answering canned responses and recording what they received:
//! headers, retries, error mapping, timeouts and deadlines, TLS settings.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sengu::consul::{
    CatalogRegistration, CheckStatus, Client, ClientConfig, Error, ErrorClass, KvWrite, Retry, Service, TxnOp,
};

// ---------------------------------------------------------------------------------------------
// A tiny recording HTTP server.

/// One request as the server saw it. Header names are lower-cased.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the server does with a request.
enum Answer {
    Reply(u16, &'static str, String),
    /// Keep the connection open and never answer.
    Hang,
}

fn json(status: u16, body: &str) -> Answer {
    Answer::Reply(status, "application/json", body.to_string())
}

fn text(status: u16, body: &str) -> Answer {
    Answer::Reply(status, "text/plain", body.to_string())
}

trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

type Accept = Box<dyn FnMut() -> io::Result<Option<Box<dyn Conn>>> + Send>;
type Handler = Arc<dyn Fn(usize, &Seen) -> Answer + Send + Sync>;

/// Serves one connection per request (`Connection: close`) on a thread until dropped.
struct Server {
    /// What to put in CONSUL_HTTP_ADDR.
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn tcp(handler: impl Fn(usize, &Seen) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        Server::start(addr, tcp_accept(listener, |s| Ok(Box::new(s) as Box<dyn Conn>)), Arc::new(handler))
    }

    fn unix(path: &Path, handler: impl Fn(usize, &Seen) -> Answer + Send + Sync + 'static) -> Server {
        let listener = UnixListener::bind(path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let accept: Accept = Box::new(move || match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                Ok(Some(Box::new(stream) as Box<dyn Conn>))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        });
        Server::start(format!("unix://{}", path.display()), accept, Arc::new(handler))
    }

    fn tls(config: Arc<rustls::ServerConfig>, handler: impl Fn(usize, &Seen) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("https://{}", listener.local_addr().unwrap());
        let wrap = move |stream: TcpStream| -> io::Result<Box<dyn Conn>> {
            let conn = rustls::ServerConnection::new(config.clone()).map_err(io::Error::other)?;
            Ok(Box::new(rustls::StreamOwned::new(conn, stream)))
        };
        Server::start(addr, tcp_accept(listener, wrap), Arc::new(handler))
    }

    fn start(addr: String, mut accept: Accept, handler: Handler) -> Server {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            thread::spawn(move || {
                let mut hanging = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut conn = match accept() {
                        Ok(Some(conn)) => conn,
                        // Polling the non-blocking listener lets drop() stop the thread.
                        Ok(None) => {
                            thread::sleep(Duration::from_millis(2));
                            continue;
                        }
                        Err(_) => continue,
                    };
                    let Ok(Some(request)) = read_request(&mut conn) else { continue };
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(request.clone());
                        seen.len() - 1
                    };
                    match handler(n, &request) {
                        Answer::Reply(status, content_type, body) => {
                            let head = format!(
                                "HTTP/1.1 {status} Canned\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(body.as_bytes())).and_then(|_| conn.flush());
                        }
                        Answer::Hang => hanging.push(conn),
                    }
                }
            })
        };
        Server { addr, seen, stop, thread: Some(thread) }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn tcp_accept(listener: TcpListener, wrap: impl Fn(TcpStream) -> io::Result<Box<dyn Conn>> + Send + 'static) -> Accept {
    listener.set_nonblocking(true).unwrap();
    Box::new(move || match listener.accept() {
        Ok((stream, _)) => {
            stream.set_nonblocking(false)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            wrap(stream).map(Some)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    })
}

fn read_request(conn: &mut Box<dyn Conn>) -> io::Result<Option<Seen>> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Seen { method, target, headers, body }))
}

// ---------------------------------------------------------------------------------------------
// Clients.

const AGENT_SELF: &str = r#"{"Config":{"Datacenter":"dc1","NodeName":"db1","NodeID":"u1"},"Member":{"Name":"db1","Addr":"10.0.0.5","Port":8301},"Meta":{}}"#;

fn config(addr: &str, vars: &[(&str, &str)]) -> ClientConfig {
    let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.insert("CONSUL_HTTP_ADDR".into(), addr.to_string());
    ClientConfig::from_lookup(|name| map.get(name).cloned()).unwrap()
}

/// A client with short, test-friendly retry pauses.
fn client(server: &Server, vars: &[(&str, &str)]) -> Client {
    let config = config(&server.addr, vars).with_retry(Retry { retries: 2, first_backoff: Duration::from_millis(10) });
    Client::new(&config).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Headers.

#[test]
fn token_header_is_sent_on_every_request() {
    let server = Server::tcp(|_, seen| if seen.target.starts_with("/v1/agent/self") { json(200, AGENT_SELF) } else { text(404, "") });
    let client = client(&server, &[("CONSUL_HTTP_TOKEN", "tok-8f2e")]);
    client.agent_self().unwrap();
    assert_eq!(client.kv_get("k").unwrap(), None);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.headers.get("x-consul-token").map(String::as_str), Some("tok-8f2e"), "{request:?}");
        assert!(!request.target.contains("tok-8f2e"), "the token never goes into the URL");
    }
    assert!(!format!("{client:?}").contains("tok-8f2e"));
}

#[test]
fn no_token_header_without_a_token() {
    let server = Server::tcp(|_, _| json(200, AGENT_SELF));
    client(&server, &[]).agent_self().unwrap();
    assert!(!server.requests()[0].headers.contains_key("x-consul-token"));
    assert!(!server.requests()[0].headers.contains_key("authorization"));
}

#[test]
fn basic_auth_header_comes_from_consul_http_auth() {
    let server = Server::tcp(|_, _| json(200, AGENT_SELF));
    client(&server, &[("CONSUL_HTTP_AUTH", "admin:pw")]).agent_self().unwrap();
    // base64("admin:pw")
    assert_eq!(server.requests()[0].headers["authorization"], "Basic YWRtaW46cHc=");
}

#[test]
fn address_prefix_goes_before_every_path() {
    let server = Server::tcp(|_, _| json(200, AGENT_SELF));
    let config = config(&format!("http://{}/consul-proxy/", server.addr), &[]);
    Client::new(&config).unwrap().agent_self().unwrap();
    assert_eq!(server.requests()[0].target, "/consul-proxy/v1/agent/self");
}

// ---------------------------------------------------------------------------------------------
// Retries.

#[test]
fn retries_500_and_502_then_succeeds() {
    let server = Server::tcp(|n, _| match n {
        0 => text(500, "rpc error: No cluster leader"),
        1 => text(502, "bad gateway"),
        _ => json(200, AGENT_SELF),
    });
    let me = client(&server, &[]).agent_self().unwrap();
    assert_eq!(me.node_name, "db1");
    assert_eq!(server.count(), 3);
}

#[test]
fn gives_up_after_the_configured_retries_on_5xx() {
    let server = Server::tcp(|_, _| text(500, "rpc error: No cluster leader"));
    let error = client(&server, &[]).agent_self().unwrap_err();
    assert_eq!(server.count(), 3, "one attempt plus two retries");
    match &error {
        Error::BadResponse { status: 500, snippet, .. } => assert!(snippet.contains("No cluster leader"), "{snippet}"),
        other => panic!("expected BadResponse 500, got {other:?}"),
    }
    assert_eq!(error.class(), ErrorClass::Unavailable);
    assert!(error.is_transient());
}

#[test]
fn never_retries_4xx() {
    for status in [400, 403, 404, 429] {
        let server = Server::tcp(move |_, _| text(status, "no"));
        let client = client(&server, &[]);
        let error = client.agent_check_update("ttl-check", CheckStatus::Passing, "ok").unwrap_err();
        assert_eq!(server.count(), 1, "status {status} must not be retried");
        let expected = match status {
            403 => ErrorClass::Denied,
            404 => ErrorClass::NotFound,
            429 => ErrorClass::Unavailable,
            _ => ErrorClass::Protocol,
        };
        assert_eq!(error.class(), expected, "{error}");
    }
}

#[test]
fn validation_500_is_rejected_without_retry() {
    let server = Server::tcp(|_, _| text(500, "Missing service registration"));
    let registration = CatalogRegistration { node: "db1".into(), address: "10.0.0.5".into(), ..CatalogRegistration::default() };
    let error = client(&server, &[]).catalog_register(&registration).unwrap_err();
    assert!(matches!(&error, Error::Rejected { status: 500, reason, .. } if reason == "Missing service registration"), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(server.count(), 1);
}

#[test]
fn connection_refused_is_unreachable_after_retries() {
    // A reserved port nobody listens on: every connect is refused at once.
    let lease = testbed::ports::reserve(testbed::host(1));
    let addr = format!("127.0.0.1:{}", lease.port());
    let backoff = Duration::from_millis(150);
    let config = config(&addr, &[]).with_retry(Retry { retries: 2, first_backoff: backoff });
    let started = Instant::now();
    let error = Client::new(&config).unwrap().kv_get("k").unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(&error, Error::Unreachable { addr: a, .. } if *a == addr), "{error:?}");
    assert!(error.to_string().contains(&addr));
    // Two retries mean two pauses of 150 ms and 300 ms: only retrying can take that long.
    assert!(elapsed >= backoff * 3, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");

    let config = config.with_retry(Retry { retries: 0, first_backoff: backoff });
    let started = Instant::now();
    Client::new(&config).unwrap().kv_get("k").unwrap_err();
    assert!(started.elapsed() < backoff, "without retries there is no pause");
}

// ---------------------------------------------------------------------------------------------
// Error mapping.

#[test]
fn acl_denied_carries_consul_text_and_never_the_token() {
    let body = r#"Permission denied: token with AccessorID 'a1b2' lacks permission 'key:write' on "svc/redis""#;
    let server = Server::tcp(move |_, _| text(403, body));
    let error = client(&server, &[("CONSUL_HTTP_TOKEN", "tok-secret-77")]).kv_put("svc/redis/master", b"x", KvWrite::default()).unwrap_err();
    match &error {
        Error::AclDenied { body: text, request, .. } => {
            assert_eq!(text, body);
            assert_eq!(request, "PUT /v1/kv/svc/redis/master");
        }
        other => panic!("expected AclDenied, got {other:?}"),
    }
    assert!(!error.to_string().contains("tok-secret-77"));
    assert!(!format!("{error:?}").contains("tok-secret-77"));
    assert!(!error.is_transient());
}

#[test]
fn missing_kv_key_is_none_and_missing_prefix_is_empty() {
    let server = Server::tcp(|_, _| text(404, ""));
    let client = client(&server, &[]);
    assert_eq!(client.kv_get("svc/redis/master").unwrap(), None);
    assert!(client.kv_list("svc/").unwrap().is_empty());
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/v1/kv/svc/redis/master", "/v1/kv/svc/?recurse"]);
}

#[test]
fn kv_get_returns_bytes_and_indexes() {
    let server = Server::tcp(|_, _| {
        json(200, r#"[{"LockIndex":0,"Key":"svc/redis/master","Flags":7,"Value":"MTAuMC4wLjU6NjM3OQ==","CreateIndex":41,"ModifyIndex":57}]"#)
    });
    let pair = client(&server, &[]).kv_get("svc/redis/master").unwrap().unwrap();
    assert_eq!(pair.value, b"10.0.0.5:6379");
    assert_eq!((pair.flags, pair.modify_index), (7, 57));
}

#[test]
fn kv_put_sends_raw_bytes_with_cas_and_flags() {
    let server = Server::tcp(|_, _| json(200, "true"));
    client(&server, &[]).kv_put("svc/redis/master", b"10.0.0.6:6379", KvWrite { flags: 3, cas: Some(57) }).unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.target, "/v1/kv/svc/redis/master?flags=3&cas=57");
    assert_eq!(request.body, b"10.0.0.6:6379");
}

#[test]
fn refused_cas_write_is_cas_conflict() {
    let server = Server::tcp(|_, _| json(200, "false"));
    let client = client(&server, &[]);
    let error = client.kv_put("svc/redis/master", b"x", KvWrite::cas(0)).unwrap_err();
    assert_eq!(error, Error::CasConflict { addr: server.addr.clone(), key: "svc/redis/master".into(), index: 0 });
    assert_eq!(error.class(), ErrorClass::Conflict);
    let error = client.kv_delete("svc/redis/master", Some(12)).unwrap_err();
    assert!(matches!(error, Error::CasConflict { index: 12, .. }), "{error:?}");
    assert_eq!(server.requests()[1].target, "/v1/kv/svc/redis/master?cas=12");
    assert_eq!(server.count(), 2, "a refused compare-and-set is not retried");
}

#[test]
fn txn_rollback_names_the_failing_operation() {
    let server = Server::tcp(|_, _| {
        json(409, r#"{"Results":null,"Errors":[{"OpIndex":1,"What":"failed to check index of key \"svc/redis/master\": current modify index 58 != 57"}]}"#)
    });
    let ops = [TxnOp::kv_set("svc/redis/old", b"x"), TxnOp::kv_check_index("svc/redis/master", 57)];
    let error = client(&server, &[]).txn(&ops).unwrap_err();
    match &error {
        Error::TxnRolledBack { errors, .. } => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].op_index, 1);
            assert!(errors[0].what.contains("58 != 57"));
        }
        other => panic!("expected TxnRolledBack, got {other:?}"),
    }
    assert!(error.to_string().contains("op 1: failed to check index"), "{error}");
    assert_eq!(server.count(), 1);
}

#[test]
fn txn_success_returns_results_and_sends_json_ops() {
    let server = Server::tcp(|_, _| {
        json(200, r#"{"Results":[{"KV":{"Key":"k","Value":null,"Flags":0,"CreateIndex":9,"ModifyIndex":9,"LockIndex":0}}],"Errors":null}"#)
    });
    let results = client(&server, &[]).txn(&[TxnOp::kv_set("k", b"v")]).unwrap();
    assert_eq!(results[0].kv.as_ref().unwrap().modify_index, 9);
    let request = &server.requests()[0];
    assert_eq!((request.method.as_str(), request.target.as_str()), ("PUT", "/v1/txn"));
    assert_eq!(request.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, serde_json::json!([{"KV": {"Verb": "set", "Key": "k", "Value": "dg=="}}]));
}

#[test]
fn catalog_register_and_reads() {
    let server = Server::tcp(|_, seen| match (seen.method.as_str(), seen.target.as_str()) {
        ("PUT", "/v1/catalog/register") => json(200, "true"),
        ("GET", "/v1/catalog/node/ghost") => json(200, "null"),
        ("GET", t) if t.starts_with("/v1/health/service/redis") => json(
            200,
            r#"[{"Node":{"Node":"db1","Address":"10.0.0.5"},"Service":{"ID":"redis","Service":"redis","Tags":["master"],"Port":6379},"Checks":[]}]"#,
        ),
        ("GET", "/v1/catalog/services") => json(200, r#"{"consul":[],"redis":["master","replica"],"x":null}"#),
        _ => text(400, "unexpected"),
    });
    let client = client(&server, &[]);
    let registration = CatalogRegistration {
        node: "db1".into(),
        address: "10.0.0.5".into(),
        service: Some(Service { id: "redis".into(), service: "redis".into(), tags: vec!["master".into()], port: 6379, ..Service::default() }),
        ..CatalogRegistration::default()
    };
    client.catalog_register(&registration).unwrap();
    assert_eq!(client.catalog_node("ghost").unwrap(), None);
    let entries = client.health_service("redis", Some("master"), true).unwrap();
    assert_eq!(entries[0].address(), "10.0.0.5");
    assert_eq!(entries[0].status(), CheckStatus::Passing);
    let services = client.catalog_services().unwrap();
    assert_eq!(services["redis"], ["master", "replica"]);
    assert!(services["x"].is_empty());

    let requests = server.requests();
    let sent: CatalogRegistration = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent, registration);
    assert_eq!(requests[2].target, "/v1/health/service/redis?passing&tag=master");
}

#[test]
fn unexpected_body_is_bad_response_with_a_snippet() {
    let server = Server::tcp(|_, _| text(200, "<html>not consul</html>"));
    let error = client(&server, &[]).agent_self().unwrap_err();
    match &error {
        Error::BadResponse { status: 200, snippet, .. } => assert!(snippet.contains("<html>not consul</html>"), "{snippet}"),
        other => panic!("expected BadResponse, got {other:?}"),
    }
    assert_eq!(error.class(), ErrorClass::Protocol);
}

#[test]
fn redirect_is_reported_not_followed() {
    let server = Server::tcp(|_, _| text(301, "moved"));
    let error = client(&server, &[]).agent_self().unwrap_err();
    assert!(matches!(error, Error::BadResponse { status: 301, .. }), "{error:?}");
    assert_eq!(server.count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Time.

#[test]
fn silent_server_times_out_within_the_timeout() {
    let server = Server::tcp(|_, _| Answer::Hang);
    let timeout = Duration::from_millis(300);
    let config = config(&server.addr, &[]).with_timeout(timeout);
    let started = Instant::now();
    let error = Client::new(&config).unwrap().agent_self().unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(&error, Error::Timeout { after, .. } if *after == timeout), "{error:?}");
    assert!(elapsed >= timeout && elapsed < timeout + Duration::from_millis(700), "{elapsed:?}");
    assert_eq!(server.count(), 1, "a timeout is not retried");
    assert_eq!(error.class(), ErrorClass::Unavailable);
}

#[test]
fn deadline_shortens_the_timeout() {
    let server = Server::tcp(|_, _| Answer::Hang);
    let config = config(&server.addr, &[]).with_timeout(Duration::from_secs(10)).with_deadline(Instant::now() + Duration::from_millis(300));
    let started = Instant::now();
    let error = Client::new(&config).unwrap().agent_self().unwrap_err();
    assert!(matches!(&error, Error::Timeout { after, .. } if *after <= Duration::from_millis(300)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn deadline_caps_retries() {
    let server = Server::tcp(|_, _| text(503, "overloaded"));
    // Unbounded by the deadline these retries would pause 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s.
    let deadline = Instant::now() + Duration::from_millis(350);
    let config = config(&server.addr, &[])
        .with_retry(Retry { retries: 5, first_backoff: Duration::from_millis(100) })
        .with_deadline(deadline);
    let error = Client::new(&config).unwrap().agent_self().unwrap_err();
    assert!(matches!(error, Error::BadResponse { status: 503, .. }), "{error:?}");
    assert!(Instant::now() < deadline + Duration::from_millis(100), "ran past the deadline");
    // Attempts at about 0, 100 and 300 ms; the next pause would end past the deadline.
    let attempts = server.count();
    assert!((1..=3).contains(&attempts), "{attempts} attempts");
}

#[test]
fn passed_deadline_makes_no_request() {
    let server = Server::tcp(|_, _| json(200, AGENT_SELF));
    let mut client = client(&server, &[]);
    client.set_deadline(Some(Instant::now()));
    assert!(matches!(client.agent_self(), Err(Error::Timeout { .. })));
    assert_eq!(server.count(), 0);
    client.set_deadline(None);
    client.agent_self().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Unix socket.

#[test]
fn unix_socket_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("consul.sock");
    let server = Server::unix(&socket, |_, _| json(200, AGENT_SELF));
    let client = client(&server, &[("CONSUL_HTTP_TOKEN", "t")]);
    assert_eq!(client.address(), format!("unix://{}", socket.display()));
    let me = client.agent_self().unwrap();
    assert_eq!((me.node_name.as_str(), me.datacenter.as_str(), me.node_address.as_str()), ("db1", "dc1", "10.0.0.5"));
    let request = &server.requests()[0];
    assert_eq!(request.headers["host"], "localhost");
    assert_eq!(request.headers["x-consul-token"], "t");
}

#[test]
fn missing_unix_socket_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("unix://{}", dir.path().join("absent.sock").display());
    let config = config(&addr, &[]).with_retry(Retry { retries: 1, first_backoff: Duration::from_millis(1) });
    let error = Client::new(&config).unwrap().agent_self().unwrap_err();
    assert!(matches!(&error, Error::Unreachable { addr: a, .. } if *a == addr), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// TLS.

/// A throw-away CA with a server certificate for `names` and a client certificate.
struct Pki {
    dir: tempfile::TempDir,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: rustls::pki_types::PrivateKeyDer<'static>,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

impl Pki {
    fn new(names: &[&str]) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let server = CertificateParams::new(names).unwrap().signed_by(&server_key, &issuer).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client = CertificateParams::new(vec!["client".to_string()]).unwrap().signed_by(&client_key, &issuer).unwrap();
        let other_key = KeyPair::generate().unwrap();

        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("client.pem"), client.pem()).unwrap();
        std::fs::write(dir.path().join("client-key.pem"), client_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("other-key.pem"), other_key.serialize_pem()).unwrap();
        std::fs::create_dir(dir.path().join("cas")).unwrap();
        std::fs::write(dir.path().join("cas").join("ca.crt"), ca.pem()).unwrap();
        Pki {
            server_chain: vec![server.der().clone()],
            server_key: rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
            ca_der: ca.der().clone(),
            dir,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(builder.with_single_cert(self.server_chain.clone(), self.server_key.clone_key()).unwrap())
    }
}

#[test]
fn https_round_trip_trusting_ca_file_or_ca_dir() {
    let pki = Pki::new(&["127.0.0.1", "localhost"]);
    let server = Server::tls(pki.server_config(false), |_, _| json(200, AGENT_SELF));
    let me = client(&server, &[("CONSUL_CACERT", &pki.path("ca.pem"))]).agent_self().unwrap();
    assert_eq!(me.node_name, "db1");
    client(&server, &[("CONSUL_CAPATH", &pki.path("cas"))]).agent_self().unwrap();
    assert_eq!(server.count(), 2);
}

#[test]
fn untrusted_server_certificate_is_a_tls_error_and_not_retried() {
    let pki = Pki::new(&["127.0.0.1"]);
    let other = Pki::new(&["127.0.0.1"]);
    let server = Server::tls(pki.server_config(false), |_, _| json(200, AGENT_SELF));
    let error = client(&server, &[("CONSUL_CACERT", &other.path("ca.pem"))]).agent_self().unwrap_err();
    assert!(matches!(&error, Error::Tls { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Config);
    assert_eq!(server.count(), 0, "no request got through the handshake");
}

#[test]
fn ssl_verify_false_accepts_any_certificate() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = Server::tls(pki.server_config(false), |_, _| json(200, AGENT_SELF));
    client(&server, &[("CONSUL_HTTP_SSL_VERIFY", "false")]).agent_self().unwrap();
    assert_eq!(server.count(), 1);
}

#[test]
fn tls_server_name_is_verified_instead_of_the_address() {
    let pki = Pki::new(&["consul.example"]);
    let server = Server::tls(pki.server_config(false), |_, _| json(200, AGENT_SELF));
    let ca = pki.path("ca.pem");
    let error = client(&server, &[("CONSUL_CACERT", &ca)]).agent_self().unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    client(&server, &[("CONSUL_CACERT", &ca), ("CONSUL_TLS_SERVER_NAME", "consul.example:8501")]).agent_self().unwrap();
    assert_eq!(server.count(), 1);
}

#[test]
fn consul_http_ssl_switches_a_bare_address_to_https() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = Server::tls(pki.server_config(false), |_, _| json(200, AGENT_SELF));
    let bare = server.addr.trim_start_matches("https://").to_string();
    let config = config(&format!("http://{bare}"), &[("CONSUL_HTTP_SSL", "true"), ("CONSUL_CACERT", &pki.path("ca.pem"))]);
    Client::new(&config).unwrap().agent_self().unwrap();
    assert_eq!(server.count(), 1);
}

#[test]
fn mutual_tls_sends_the_client_certificate() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = Server::tls(pki.server_config(true), |_, _| json(200, AGENT_SELF));
    let ca = pki.path("ca.pem");
    let with_cert = [("CONSUL_CACERT", ca.as_str()), ("CONSUL_CLIENT_CERT", &pki.path("client.pem")), ("CONSUL_CLIENT_KEY", &pki.path("client-key.pem"))];
    client(&server, &with_cert).agent_self().unwrap();
    assert_eq!(server.count(), 1);
    let error = client(&server, &[("CONSUL_CACERT", &ca)]).agent_self().unwrap_err();
    assert_ne!(error.class(), ErrorClass::Protocol, "{error:?}");
    assert_eq!(server.count(), 1, "the server refused the handshake without a client certificate");
}

#[test]
fn client_key_of_another_certificate_is_a_config_error() {
    let pki = Pki::new(&["127.0.0.1"]);
    let config = config(
        "https://127.0.0.1:8501",
        &[("CONSUL_CACERT", &pki.path("ca.pem")), ("CONSUL_CLIENT_CERT", &pki.path("client.pem")), ("CONSUL_CLIENT_KEY", &pki.path("other-key.pem"))],
    );
    let error = Client::new(&config).unwrap_err();
    assert!(matches!(&error, Error::Config(m) if m.contains("client.pem")), "{error:?}");
}
