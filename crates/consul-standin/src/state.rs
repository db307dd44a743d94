//! The one shared datacenter: catalog, KV store, index counter and every agent's local state,
//! behind one lock so that an agent's change and its catalog sync happen atomically.
//!
//! Readers that block (`?index=`) subscribe to [`Datacenter::subscribe`], which announces the
//! index after every write that changed something.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::agent::Local;
use crate::catalog::Catalog;
use crate::kv::Kv;

/// Which script checks an agent accepts (Consul's `enable_local_script_checks` and
/// `enable_script_checks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptChecks {
    /// Neither switch: every definition with `args` is refused.
    Disabled,
    /// `enable_local_script_checks`: config-dir checks run, API registrations are refused.
    LocalOnly,
    /// `enable_script_checks`: both run. The stand-in's default.
    Enabled,
}

/// How a paused agent's HTTP listener behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseMode {
    /// Answering normally.
    Running,
    /// Connections are accepted and requests read, but never answered: a black-holed host.
    Hang,
    /// The listening socket is closed, so connections are refused; requests on connections
    /// that were already open hang.
    Refuse,
}

/// How the reply to an agent's next write is lost, after the write was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReply {
    /// The connection breaks while the answer is sent: the client sees it cut.
    Reset,
    /// The answer never comes: the client's own timeout ends the request.
    Hang,
}

/// Datacenter-wide settings.
#[derive(Debug, Clone)]
pub struct DcConfig {
    pub name: String,
    pub anti_entropy_interval: Duration,
    /// Output-only check changes reach the catalog after between half and one and a half of
    /// this (Consul's `check_update_interval`, 5 minutes by default); status changes go at once.
    pub check_update_interval: Duration,
    /// Intervals below this are raised to it (Consul: 1 s).
    pub min_check_interval: Duration,
    /// Run each interval check at once instead of after a random delay within one interval.
    pub first_check_immediately: bool,
    /// With a token, ACLs are on with default policy deny.
    pub acl_token: Option<String>,
    pub output_max_size: usize,
}

/// What every part of the stand-in knows about one agent.
#[derive(Debug)]
pub struct AgentInfo {
    pub name: String,
    pub ip: IpAddr,
    pub node_id: String,
    /// The first agent plays the server and carries the `consul` service.
    pub server: bool,
    pub script_checks: ScriptChecks,
    pub config_dir: Option<PathBuf>,
    pub http_addr: OnceLock<SocketAddr>,
    pub pause: watch::Sender<PauseMode>,
    /// Set by a test: the next write's reply is lost (one-shot).
    pub lose_reply: std::sync::Mutex<Option<LostReply>>,
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub struct State {
    pub catalog: Catalog,
    pub kv: Kv,
    /// The last index handed out; `X-Consul-Index` values never exceed it.
    pub index: u64,
    /// Local state of each agent, in the order of [`Datacenter::agents`].
    pub locals: Vec<Local>,
}

impl State {
    /// The index the next write will use.
    pub fn next_index(&self) -> u64 {
        self.index + 1
    }
}

#[derive(Debug)]
pub struct Datacenter {
    pub config: DcConfig,
    pub agents: Vec<Arc<AgentInfo>>,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Datacenter {
    pub fn new(config: DcConfig, agents: Vec<Arc<AgentInfo>>) -> Self {
        let locals = agents.iter().map(|_| Local::default()).collect();
        let state = State {
            locals,
            ..State::default()
        };
        let (changed, _) = watch::channel(0);
        Datacenter {
            config,
            agents,
            state: Mutex::new(state),
            changed,
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Position of an agent by name (case-insensitive, like node names).
    pub fn agent_index(&self, name: &str) -> Option<usize> {
        self.agents
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough data for a test double;
        // carrying on beats poisoning every later request.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Runs a write with the next index. If the write changed anything (the catalog or KV
    /// index reached it), the index is taken and blocking readers are woken.
    pub fn write<T>(&self, f: impl FnOnce(&mut State, u64) -> T) -> T {
        let mut st = self.lock();
        let idx = st.next_index();
        let out = f(&mut st, idx);
        let reached = st.catalog.index.max(st.kv.index);
        if reached > st.index {
            st.index = reached;
            self.changed.send_replace(reached);
        }
        out
    }

    /// A receiver that changes after every write that changed something.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
