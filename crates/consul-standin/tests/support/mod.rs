//! Harness of the contract tests: one [`Target`] per test, which is a fresh in-process stand-in
//! unless `CONSUL_HTTP_ADDR` points at a real agent (then `CONSUL_DNS_ADDR` gives its DNS
//! address and `CONSUL_HTTP_TOKEN` its token). Against a real agent every name and key is
//! prefixed per test so tests can run in parallel, and what a test created is removed again.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use consul_standin::{Builder, Standin};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use serde_json::{Value, json};

pub const HOST_A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 21));
pub const HOST_B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 22));

/// A response, kept whole so assertions can look at status, headers and body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?} (status {})", self.text(), self.status)
        })
    }

    pub fn index(&self) -> u64 {
        self.header("X-Consul-Index")
            .expect("X-Consul-Index")
            .parse()
            .unwrap()
    }
}

/// What a test talks to.
pub struct Target {
    standin: Option<Standin>,
    base: String,
    dns: Option<SocketAddr>,
    token: Option<String>,
    prefix: String,
    agent: ureq::Agent,
    cleanup: Mutex<Vec<Cleanup>>,
}

enum Cleanup {
    Node(String),
    AgentService(String),
    AgentCheck(String),
    KvTree(String),
}

/// The stand-in every contract test starts from: two agents, DNS, checks run at once.
pub fn default_builder() -> Builder {
    Standin::builder()
        .datacenter("dc1")
        .agent("host-a", HOST_A)
        .agent("host-b", HOST_B)
        .dns(true)
        .first_check_immediately(true)
        .min_check_interval(Duration::from_millis(100))
}

fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

impl Target {
    /// A target for `test` with the default stand-in.
    pub fn new(test: &str) -> Target {
        Target::with(test, |b| b)
    }

    /// A target whose stand-in is configured by `f` (ignored against a real agent).
    pub fn with(test: &str, f: impl FnOnce(Builder) -> Builder) -> Target {
        let agent = http_agent(Duration::from_secs(30));
        match std::env::var("CONSUL_HTTP_ADDR")
            .ok()
            .filter(|a| !a.is_empty())
        {
            Some(addr) => {
                let base = if addr.contains("://") {
                    addr
                } else {
                    format!("http://{addr}")
                };
                let dns = std::env::var("CONSUL_DNS_ADDR")
                    .ok()
                    .and_then(|a| a.parse().ok());
                let token = std::env::var("CONSUL_HTTP_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty());
                let prefix = format!(
                    "{}-{}-",
                    test.split('_').next().unwrap_or(test),
                    std::process::id()
                );
                Target {
                    standin: None,
                    base,
                    dns,
                    token,
                    prefix,
                    agent,
                    cleanup: Mutex::new(Vec::new()),
                }
            }
            None => {
                let standin = f(default_builder())
                    .start()
                    .unwrap_or_else(|e| panic!("stand-in did not start: {e}"));
                let base = standin.http_url("host-a").unwrap();
                let dns = standin.dns_addr();
                Target {
                    standin: Some(standin),
                    base,
                    dns,
                    token: None,
                    prefix: String::new(),
                    agent,
                    cleanup: Mutex::new(Vec::new()),
                }
            }
        }
    }

    pub fn is_real(&self) -> bool {
        self.standin.is_none()
    }

    /// The stand-in, or `None` after printing why the test is skipped against a real agent.
    pub fn standin_or_skip(&self, test: &str, why: &str) -> Option<&Standin> {
        if self.standin.is_none() {
            println!("SKIP {test}: needs the stand-in ({why}); running against a real agent");
        }
        self.standin.as_ref()
    }

    pub fn standin(&self) -> &Standin {
        self.standin.as_ref().expect("stand-in")
    }

    /// A name unique to this test (the name itself on a fresh stand-in).
    pub fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The node name of the agent we talk to.
    pub fn agent_node(&self) -> String {
        self.get("/v1/agent/self").json()["Config"]["NodeName"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn request_to(
        &self,
        base: &str,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        token: Option<&str>,
    ) -> Resp {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"));
        if let Some(t) = token.or(self.token.as_deref()) {
            builder = builder.header("X-Consul-Token", t);
        }
        let result = match body {
            Some(b) => self.agent.run(builder.body(b.to_vec()).unwrap()),
            None => self.agent.run(builder.body(()).unwrap()),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Resp {
        self.request_to(&self.base, method, path, body, None)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None)
    }

    pub fn put(&self, path: &str, body: &[u8]) -> Resp {
        self.request("PUT", path, Some(body))
    }

    pub fn put_json(&self, path: &str, body: &Value) -> Resp {
        self.put(path, body.to_string().as_bytes())
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, None)
    }

    /// Registers a catalog-only node (and whatever else `body` carries); removed at the end.
    pub fn register(&self, body: &Value) -> Resp {
        if let Some(node) = body["Node"].as_str() {
            self.cleanup
                .lock()
                .unwrap()
                .push(Cleanup::Node(node.to_string()));
        }
        self.put_json("/v1/catalog/register", body)
    }

    /// Registers a service on the agent; removed at the end.
    pub fn agent_register(&self, body: &Value) -> Resp {
        let id = body["ID"]
            .as_str()
            .or(body["Name"].as_str())
            .unwrap_or_default()
            .to_string();
        self.cleanup.lock().unwrap().push(Cleanup::AgentService(id));
        self.put_json("/v1/agent/service/register", body)
    }

    /// Registers a check on the agent; removed at the end. Against a real agent shared by
    /// parallel tests a node-level check (critical until it first runs) would take every
    /// service on the node out of health and DNS, so there the check is attached to a
    /// service of this test's own.
    pub fn agent_check_register(&self, body: &Value) -> Resp {
        let id = body["ID"]
            .as_str()
            .or(body["CheckID"].as_str())
            .or(body["Name"].as_str())
            .unwrap_or_default()
            .to_string();
        self.cleanup.lock().unwrap().push(Cleanup::AgentCheck(id));
        let mut body = body.clone();
        if self.is_real() && body.get("ServiceID").is_none() {
            let owner = self.name("check-owner");
            self.agent_register(&json!({"ID": owner, "Name": owner, "Port": 1}));
            body["ServiceID"] = json!(owner);
        }
        self.put_json("/v1/agent/check/register", &body)
    }

    /// Marks a KV prefix for removal at the end.
    pub fn kv_prefix(&self, prefix: &str) -> String {
        let p = self.name(prefix);
        self.cleanup
            .lock()
            .unwrap()
            .push(Cleanup::KvTree(p.clone()));
        p
    }

    /// Polls `f` until it returns `Some`, or panics after `timeout` naming `what`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// A check's status and output as the agent reports it.
    pub fn agent_check(&self, id: &str) -> Option<(String, String)> {
        let checks = self.get("/v1/agent/checks").json();
        let c = checks.get(id)?;
        Some((
            c["Status"].as_str()?.to_string(),
            c["Output"].as_str()?.to_string(),
        ))
    }

    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.dns
    }

    /// The DNS address, or `None` after printing why the test is skipped.
    pub fn dns_or_skip(&self, test: &str) -> Option<SocketAddr> {
        if self.dns.is_none() {
            println!("SKIP {test}: no DNS address (set CONSUL_DNS_ADDR for a real agent)");
        }
        self.dns
    }

    /// A DNS query over UDP (`edns`: advertise that buffer size).
    pub fn dns_udp(&self, name: &str, rtype: RecordType, edns: Option<u16>) -> Message {
        let addr = self.dns.expect("DNS address");
        let sock = UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let query = dns_query(name, rtype, edns);
        sock.send_to(&query.to_vec().unwrap(), addr).unwrap();
        let mut buf = vec![0u8; 65535];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    }

    /// A DNS query over TCP.
    pub fn dns_tcp(&self, name: &str, rtype: RecordType) -> Message {
        use std::io::{Read, Write};
        let addr = self.dns.expect("DNS address");
        let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let bytes = dns_query(name, rtype, None).to_vec().unwrap();
        let mut framed = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        conn.write_all(&framed).unwrap();
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        conn.read_exact(&mut buf).unwrap();
        Message::from_vec(&buf).unwrap()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.standin.is_some() {
            return;
        }
        // A real agent keeps what a test created; remove it, ignoring failures.
        let items: Vec<Cleanup> = self
            .cleanup
            .lock()
            .map(|mut c| c.drain(..).collect())
            .unwrap_or_default();
        for item in items.into_iter().rev() {
            let (method, path, body) = match item {
                Cleanup::Node(n) => (
                    "PUT",
                    "/v1/catalog/deregister".to_string(),
                    Some(json!({"Node": n}).to_string()),
                ),
                Cleanup::AgentService(id) => {
                    ("PUT", format!("/v1/agent/service/deregister/{id}"), None)
                }
                Cleanup::AgentCheck(id) => {
                    ("PUT", format!("/v1/agent/check/deregister/{id}"), None)
                }
                Cleanup::KvTree(p) => ("DELETE", format!("/v1/kv/{p}?recurse"), None),
            };
            let mut builder = ureq::http::Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.base));
            if let Some(t) = &self.token {
                builder = builder.header("X-Consul-Token", t);
            }
            let _ = match body {
                Some(b) => self.agent.run(builder.body(b).unwrap()),
                None => self.agent.run(builder.body(()).unwrap()),
            };
        }
    }
}

pub fn dns_query(name: &str, rtype: RecordType, edns: Option<u16>) -> Message {
    let mut msg = Message::new();
    msg.set_id(rand_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The IPv4 addresses in a message's answer section, sorted.
pub fn a_records(msg: &Message) -> Vec<String> {
    let mut out: Vec<String> = msg
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            hickory_proto::rr::RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// A catalog registration body for a catalog-only node with one service.
pub fn node_with_service(
    node: &str,
    addr: &str,
    service: &str,
    id: &str,
    tags: &[&str],
    port: u16,
) -> Value {
    json!({
        "Node": node,
        "Address": addr,
        "Service": {"ID": id, "Service": service, "Tags": tags, "Port": port},
    })
}
