//! A small blocking Consul HTTP client for what the sengu executables do: catalog, KV,
//! transactions, the local agent and health. Configured like the official client from the
//! standard `CONSUL_*` environment variables ([`ClientConfig::from_env`]).
//!
//! Every request carries the token (as `X-Consul-Token`), has a timeout (2 s unless set), and is
//! retried a bounded number of times with doubling backoff on connection errors and 5xx answers,
//! never on 4xx and never past the caller's deadline. Errors ([`Error`]) tell apart what an
//! operator acts on; [`Error::class`] and [`Error::is_transient`] feed the exit codes.
//!
//! ```no_run
//! # fn main() -> Result<(), sengu::consul::Error> {
//! use sengu::consul::{Client, ClientConfig, KvWrite};
//! let client = Client::new(&ClientConfig::from_env()?)?;
//! let me = client.agent_self()?;
//! match client.kv_get("svc/redis/master")? {
//!     Some(pair) => client.kv_put("svc/redis/master", b"10.0.0.6:6379", KvWrite::cas(pair.modify_index))?,
//!     None => client.kv_put("svc/redis/master", b"10.0.0.6:6379", KvWrite::cas(0))?,
//! }
//! # let _ = me; Ok(()) }
//! ```
//!
//! Building a [`Client`] does no I/O beyond reading configured certificate files (and the system
//! trust store for HTTPS without `CONSUL_CACERT`), so a check can build one per run.

mod agent;
mod catalog;
mod checks;
mod config;
mod error;
mod health;
mod http;
mod kv;
mod transport;
mod txn;
mod wire;

use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::secret::Secret;

pub use agent::{AgentCheck, AgentSelf, ServiceRegistration};
pub use catalog::{CatalogDeregistration, CatalogNode, CatalogRegistration, CatalogService, Node, Service, Weights};
pub use config::{Address, BasicAuth, ClientConfig, DEFAULT_ADDR, DEFAULT_TIMEOUT, Endpoint, Retry, Scheme, TlsSettings, parse_bool};
pub use error::{Error, ErrorClass, TxnOpError};
pub use checks::{CheckStatus, HealthCheck};
pub use health::ServiceEntry;
pub use kv::{KvPair, KvWrite};
pub use txn::{CheckOp, KvOp, KvVerb, NodeOp, ServiceOp, TxnOp, TxnResult, Verb};

/// A connection to one Consul agent. Methods are grouped by API surface: `catalog_*`, `kv_*`,
/// `txn`, `agent_*`, `health_*`. Each method is one HTTP request (plus retries).
#[derive(Debug)]
pub struct Client {
    wire: transport::Wire,
    /// The agent's address for messages (`host:port` or `unix:///path`).
    addr: String,
    token: Option<Secret>,
    /// `Basic …` from `CONSUL_HTTP_AUTH`.
    authorization: Option<Secret>,
    timeout: Duration,
    retry: Retry,
    deadline: Option<Instant>,
}

/// What `--print-config` shows of a built client: the agent it talks to.
impl serde::Serialize for Client {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.addr)
    }
}

impl Client {
    /// Builds a client; fails only on unusable TLS material (certificate files, trust store).
    pub fn new(config: &ClientConfig) -> Result<Client, Error> {
        let wire = transport::build(config)?;
        let authorization = config.basic_auth.as_ref().map(|auth| {
            let pair = format!("{}:{}", auth.user, auth.password.expose());
            Secret::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
        });
        Ok(Client {
            wire,
            addr: config.address.to_string(),
            token: config.token.clone(),
            authorization,
            timeout: config.timeout,
            retry: config.retry,
            deadline: config.deadline,
        })
    }

    /// A client configured from the process environment ([`ClientConfig::from_env`]).
    pub fn from_env() -> Result<Client, Error> {
        Client::new(&ClientConfig::from_env()?)
    }

    /// The agent's address as messages show it: `host:port` or `unix:///path`.
    pub fn address(&self) -> &str {
        &self.addr
    }

    /// Sets (or clears) the instant no request or retry may run past, e.g. when a check's
    /// time budget is known only after the client was built.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }
}
