//! Starting a datacenter: the [`Builder`], the in-process [`Standin`] handle that tests use
//! (its runtime runs in a thread of its own and stops on drop), and the blocking entry point
//! the binary uses.
//!
//! In-process stand-ins may bind port 0: the listener is bound and kept by the same process,
//! so there is no window in which another process could take the port.
//! Builder, launch and handle stay together: the handle's accessors are thin views of what
//! launch built.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{oneshot, watch};

use crate::agent::{self, AgentError, CheckRun, Source, anti_entropy};
use crate::catalog::Check;
use crate::config_dir::{self, ConfigError, Definition};
use crate::control::{self, ControlError};
use crate::http::{self, App, listener::PausableListener};
use crate::state::{AgentInfo, Datacenter, DcConfig, LostReply, PauseMode, ScriptChecks};

/// Why a stand-in did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no agents given")]
    NoAgents,
    #[error("agent {0:?} given twice")]
    DuplicateAgent(String),
    #[error("a setting names agent {0:?}, which is not one of the agents")]
    UnknownAgent(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("agent {agent:?}: {source}")]
    Config { agent: String, source: ConfigError },
    #[error("agent {agent:?}: cannot load definition: {source}")]
    Definition { agent: String, source: AgentError },
    #[error("cannot start the runtime: {0}")]
    Runtime(io::Error),
}

#[derive(Debug, Clone)]
struct AgentSpec {
    name: String,
    addr: SocketAddr,
    /// The node address when it is not the listener's IP.
    node_ip: Option<IpAddr>,
    config_dir: Option<PathBuf>,
    script_checks: Option<ScriptChecks>,
}

/// Settings for a stand-in datacenter.
#[derive(Debug, Clone)]
pub struct Builder {
    datacenter: String,
    agents: Vec<AgentSpec>,
    dns: Option<SocketAddr>,
    acl_token: Option<String>,
    anti_entropy: Duration,
    check_update_interval: Duration,
    min_check_interval: Duration,
    first_check_immediately: bool,
    script_checks: ScriptChecks,
    /// Settings naming agents that were never added; reported by `start`.
    unknown: Vec<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            datacenter: "dc1".into(),
            agents: Vec::new(),
            dns: None,
            acl_token: None,
            anti_entropy: Duration::from_secs(60),
            check_update_interval: Duration::from_secs(300),
            min_check_interval: Duration::from_secs(1),
            first_check_immediately: false,
            script_checks: ScriptChecks::Enabled,
            unknown: Vec::new(),
        }
    }
}

/// Where a started stand-in listens.
#[derive(Debug, Clone)]
pub struct Listening {
    /// Each agent's name and HTTP address, in the order given.
    pub http: Vec<(String, SocketAddr)>,
    /// The DNS address (UDP and TCP), if DNS is on.
    pub dns: Option<SocketAddr>,
}

impl Builder {
    pub fn datacenter(mut self, name: &str) -> Self {
        self.datacenter = name.to_string();
        self
    }

    /// Adds an agent whose node address is `ip`, its HTTP listener on an ephemeral port of it.
    pub fn agent(self, name: &str, ip: IpAddr) -> Self {
        self.agent_at(name, SocketAddr::new(ip, 0))
    }

    /// Adds an agent listening on `addr`; its IP is the node address.
    pub fn agent_at(mut self, name: &str, addr: SocketAddr) -> Self {
        self.agents.push(AgentSpec {
            name: name.to_string(),
            addr,
            node_ip: None,
            config_dir: None,
            script_checks: None,
        });
        self
    }

    fn with_agent(mut self, name: &str, f: impl FnOnce(&mut AgentSpec)) -> Self {
        match self.agents.iter_mut().find(|a| a.name == name) {
            Some(a) => f(a),
            None => self.unknown.push(name.to_string()),
        }
        self
    }

    /// Gives the agent node address `ip` while its HTTP listener stays where
    /// [`Builder::agent_at`] put it: the partition lab's hosts live in network namespaces of
    /// their own, which an in-process listener cannot bind in.
    pub fn node_address(self, agent: &str, ip: IpAddr) -> Self {
        self.with_agent(agent, |a| a.node_ip = Some(ip))
    }

    /// Loads this agent's service and check definitions from `dir` at start.
    pub fn config_dir(self, agent: &str, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        self.with_agent(agent, |a| a.config_dir = Some(dir))
    }

    /// Which script checks one agent accepts (default: all, see [`Builder::script_checks`]).
    pub fn agent_script_checks(self, agent: &str, mode: ScriptChecks) -> Self {
        self.with_agent(agent, |a| a.script_checks = Some(mode))
    }

    /// Which script checks agents accept unless set per agent (default: `Enabled`).
    pub fn script_checks(mut self, mode: ScriptChecks) -> Self {
        self.script_checks = mode;
        self
    }

    /// Serves DNS on an ephemeral port of 127.0.0.1 (or not).
    pub fn dns(mut self, enabled: bool) -> Self {
        self.dns = enabled.then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        self
    }

    /// Serves DNS on `addr` (UDP and TCP).
    pub fn dns_at(mut self, addr: SocketAddr) -> Self {
        self.dns = Some(addr);
        self
    }

    /// Turns ACLs on (default policy deny) with this as the one token that may do everything.
    pub fn acl_token(mut self, token: &str) -> Self {
        self.acl_token = Some(token.to_string());
        self
    }

    /// How often each agent restores its node in the catalog (default 60 s, roughly Consul's
    /// for small clusters; zero turns it off).
    pub fn anti_entropy(mut self, interval: Duration) -> Self {
        self.anti_entropy = interval;
        self
    }

    /// How long an output-only check change waits before reaching the catalog (Consul's
    /// `check_update_interval`, default 5 min; zero syncs at once).
    pub fn check_update_interval(mut self, interval: Duration) -> Self {
        self.check_update_interval = interval;
        self
    }

    /// Check intervals below this are raised to it (Consul: 1 s, the default).
    pub fn min_check_interval(mut self, interval: Duration) -> Self {
        self.min_check_interval = interval;
        self
    }

    /// Runs each interval check once right away instead of after a random delay within its
    /// interval (Consul's behaviour, the default).
    pub fn first_check_immediately(mut self, yes: bool) -> Self {
        self.first_check_immediately = yes;
        self
    }

    fn validate(&self) -> Result<(), StartError> {
        if self.agents.is_empty() {
            return Err(StartError::NoAgents);
        }
        if let Some(name) = self.unknown.first() {
            return Err(StartError::UnknownAgent(name.clone()));
        }
        for (i, a) in self.agents.iter().enumerate() {
            if self.agents[..i]
                .iter()
                .any(|b| b.name.eq_ignore_ascii_case(&a.name))
            {
                return Err(StartError::DuplicateAgent(a.name.clone()));
            }
        }
        Ok(())
    }

    /// Starts the datacenter on a runtime thread of its own and returns once every listener
    /// is bound and every config dir is loaded.
    pub fn start(self) -> Result<Standin, StartError> {
        self.validate()?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("consul-standin".into())
            .spawn(move || {
                let rt = match runtime() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match launch(self).await {
                        Ok(started) => {
                            let _ = ready_tx.send(Ok(started));
                            let _ = stop_rx.await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                // Dropping the tasks kills running script checks' process groups.
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(StartError::Runtime)?;
        match ready_rx.recv() {
            Ok(Ok((dc, listening))) => Ok(Standin {
                dc,
                listening,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(StartError::Runtime(io::Error::other(
                    "runtime thread ended before starting",
                )))
            }
        }
    }

    /// Runs the datacenter on the current thread until SIGINT or SIGTERM; `ready` is called
    /// once everything listens. This is the binary's entry point.
    pub fn run_until_signal(self, ready: impl FnOnce(&Listening)) -> Result<(), StartError> {
        self.validate()?;
        let rt = runtime()?;
        rt.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).map_err(StartError::Runtime)?;
            let (_dc, listening) = launch(self).await?;
            ready(&listening);
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            Ok(())
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(StartError::Runtime)
}

/// A random node ID in UUID form, as agents generate them.
fn node_id() -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

async fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Binds UDP and TCP on the same port; for port 0 it retries until both get one.
async fn bind_dns(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), StartError> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let bound = udp
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) if addr.port() == 0 => last = Some(source),
            Err(source) => {
                return Err(StartError::Bind {
                    addr: bound,
                    source,
                });
            }
        }
    }
    Err(StartError::Bind {
        addr,
        source: last.unwrap_or_else(|| io::Error::other("no free port")),
    })
}

/// Binds everything, loads config dirs and spawns the servers and loops.
async fn launch(b: Builder) -> Result<(Arc<Datacenter>, Listening), StartError> {
    let mut listeners = Vec::new();
    let mut infos = Vec::new();
    for (i, spec) in b.agents.iter().enumerate() {
        let listener = bind_tcp(spec.addr).await?;
        let bound = listener.local_addr().map_err(|source| StartError::Bind {
            addr: spec.addr,
            source,
        })?;
        let (pause, _) = watch::channel(PauseMode::Running);
        let info = AgentInfo {
            name: spec.name.clone(),
            ip: spec.node_ip.unwrap_or(spec.addr.ip()),
            node_id: node_id(),
            server: i == 0,
            script_checks: spec.script_checks.unwrap_or(b.script_checks),
            config_dir: spec.config_dir.clone(),
            http_addr: OnceLock::new(),
            pause,
            lose_reply: std::sync::Mutex::new(None),
        };
        let _ = info.http_addr.set(bound);
        infos.push(Arc::new(info));
        listeners.push(listener);
    }
    let dns = match b.dns {
        Some(addr) => Some(bind_dns(addr).await?),
        None => None,
    };
    let config = DcConfig {
        name: b.datacenter.clone(),
        anti_entropy_interval: b.anti_entropy,
        check_update_interval: b.check_update_interval,
        min_check_interval: b.min_check_interval,
        first_check_immediately: b.first_check_immediately,
        acl_token: b.acl_token.clone(),
        output_max_size: 4096,
    };
    let dc = Arc::new(Datacenter::new(config, infos));
    for i in 0..dc.agents.len() {
        dc.write(|st, idx| agent::register_node(&dc, st, i, idx));
    }
    for (i, a) in dc.agents.iter().enumerate() {
        let Some(dir) = &a.config_dir else { continue };
        let defs = config_dir::load(dir).map_err(|source| StartError::Config {
            agent: a.name.clone(),
            source,
        })?;
        // Consul loads every service before any check, so a check may name a service defined
        // in a later file.
        let (services, checks): (Vec<_>, Vec<_>) = defs
            .into_iter()
            .partition(|d| matches!(d, Definition::Service(_)));
        for def in services.into_iter().chain(checks) {
            dc.write(|st, idx| match def {
                Definition::Service(s) => {
                    agent::add_service(&dc, st, i, s, Source::Local, false, idx)
                }
                Definition::Check(c) => agent::add_check(&dc, st, i, c, Source::Local, idx),
            })
            .map_err(|source| StartError::Definition {
                agent: a.name.clone(),
                source,
            })?;
        }
    }
    let mut http = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let info = &dc.agents[i];
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: SocketAddr::new(info.ip, 0),
            source,
        })?;
        let pausable = PausableListener::new(listener, info.pause.subscribe())
            .map_err(|source| StartError::Bind { addr, source })?;
        let router = axum::Router::new().fallback(http::handle).with_state(App {
            dc: Arc::clone(&dc),
            agent: i,
        });
        tokio::spawn(async move {
            let _ = axum::serve(pausable, router).await;
        });
        tokio::spawn(anti_entropy::run(Arc::clone(&dc), i));
        http.push((info.name.clone(), addr));
    }
    let dns_addr = match dns {
        Some((udp, tcp)) => {
            let addr = udp.local_addr().map_err(|source| StartError::Bind {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
                source,
            })?;
            tokio::spawn(crate::dns::serve_udp(Arc::clone(&dc), udp));
            tokio::spawn(crate::dns::serve_tcp(Arc::clone(&dc), tcp));
            Some(addr)
        }
        None => None,
    };
    Ok((
        dc,
        Listening {
            http,
            dns: dns_addr,
        },
    ))
}

/// A running in-process stand-in. Dropping it stops every listener, loop and check process.
#[derive(Debug)]
pub struct Standin {
    dc: Arc<Datacenter>,
    listening: Listening,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Standin {
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn datacenter(&self) -> &str {
        self.dc.name()
    }

    /// Agent names in the order given.
    pub fn agents(&self) -> Vec<String> {
        self.listening.http.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn listening(&self) -> &Listening {
        &self.listening
    }

    /// The agent's HTTP address.
    pub fn http_addr(&self, agent: &str) -> Option<SocketAddr> {
        self.listening
            .http
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(agent))
            .map(|(_, a)| *a)
    }

    /// `http://ip:port` of the agent, the form `CONSUL_HTTP_ADDR` takes.
    pub fn http_url(&self, agent: &str) -> Option<String> {
        self.http_addr(agent).map(|a| format!("http://{a}"))
    }

    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.listening.dns
    }

    /// Marks a node's `serfHealth` passing (host back) or critical (host dead).
    pub fn set_serf_health(&self, node: &str, passing: bool) -> Result<(), ControlError> {
        control::set_serf_health(&self.dc, node, passing)
    }

    /// Makes an agent's HTTP listener accept connections but never answer.
    pub fn pause_agent(&self, name: &str) -> Result<(), ControlError> {
        control::set_pause(&self.dc, name, PauseMode::Hang)
    }

    /// Applies the agent's next write (`PUT`/`DELETE` under `/v1/`) and then loses its reply
    /// as `mode` says: the case where a client must re-read to learn what Consul holds.
    pub fn lose_next_reply(&self, name: &str, mode: LostReply) -> Result<(), ControlError> {
        control::lose_next_reply(&self.dc, name, mode)
    }

    /// Closes an agent's HTTP listener so connections are refused.
    pub fn refuse_agent(&self, name: &str) -> Result<(), ControlError> {
        control::set_pause(&self.dc, name, PauseMode::Refuse)
    }

    pub fn resume_agent(&self, name: &str) -> Result<(), ControlError> {
        control::set_pause(&self.dc, name, PauseMode::Running)
    }

    /// Every recorded run of a check, oldest first.
    pub fn check_history(&self, node: &str, check_id: &str) -> Result<Vec<CheckRun>, ControlError> {
        control::check_history(&self.dc, node, check_id)
    }

    /// A check as the catalog has it.
    pub fn catalog_check(&self, node: &str, check_id: &str) -> Option<Check> {
        self.dc.read(|st| {
            st.catalog
                .node(node)
                .and_then(|e| e.checks.get(check_id).cloned())
        })
    }

    /// A check as its agent has it (status and output may be ahead of the catalog).
    pub fn agent_check(&self, agent: &str, check_id: &str) -> Option<Check> {
        let i = self.dc.agent_index(agent)?;
        self.dc
            .read(|st| st.locals[i].checks.get(check_id).map(|c| c.check.clone()))
    }

    /// A KV value.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.dc.read(|st| st.kv.get(key).map(|e| e.value.clone()))
    }

    /// The datacenter's current index.
    pub fn index(&self) -> u64 {
        self.dc.read(|st| st.index)
    }

    /// Runs every agent's anti-entropy sync now instead of waiting for the interval, and
    /// returns once every sync has been applied.
    pub fn anti_entropy_now(&self) {
        control::anti_entropy_now(&self.dc);
    }

    /// Stops everything now (what dropping does).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Standin>();
    }

    #[test]
    fn settings_for_unknown_agents_are_refused() {
        let err = Standin::builder()
            .agent("a", IpAddr::V4(Ipv4Addr::LOCALHOST))
            .config_dir("b", "/tmp")
            .start()
            .unwrap_err();
        assert!(
            matches!(err, StartError::UnknownAgent(ref n) if n == "b"),
            "{err}"
        );
        assert!(matches!(
            Standin::builder().start().unwrap_err(),
            StartError::NoAgents
        ));
        let dup = Standin::builder()
            .agent("a", IpAddr::V4(Ipv4Addr::LOCALHOST))
            .agent("A", IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(matches!(
            dup.start().unwrap_err(),
            StartError::DuplicateAgent(_)
        ));
    }
}
