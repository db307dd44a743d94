//! One agent's local state (its services and checks) and the rules by which it changes and
//! reaches the catalog (§4, §6, §7 of the reference).
//!
//! The agent is authoritative for its own node: every local change is written to the catalog at
//! once, except output-only check changes, which wait for `check_update_interval` as Consul's
//! do. Running checks lives in [`runner`], periodic restoring in [`anti_entropy`].
//! It is one module because every operation here is a change of the same local state plus
//! its catalog sync; splitting them would scatter that one rule.

pub mod anti_entropy;
pub mod definition;
pub mod runner;
pub mod script;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Map;
use tokio::task::AbortHandle;

use crate::catalog::{self, CRITICAL, Check, PASSING, Service};
use crate::state::{AgentInfo, Datacenter, DcConfig, ScriptChecks, State};
use definition::{CheckDef, DefError, ServiceDef};

/// Where a definition came from; script checks are allowed per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A file in the agent's config dir.
    Local,
    /// The HTTP API.
    Remote,
}

/// Why an agent operation was refused. The text is Consul's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Definition(#[from] DefError),
    #[error(
        "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"
    )]
    ScriptsDisabledLocal,
    #[error(
        "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
    )]
    ScriptsDisabledRemote,
    #[error(
        "Unknown service ID {0:?}. Ensure that the service ID is passed, not the service name."
    )]
    UnknownService(String),
    #[error("Unknown check ID {0:?}. Ensure that the check ID is passed, not the check name.")]
    UnknownCheck(String),
    #[error("CheckID {0:?} does not have associated TTL")]
    NotTtl(String),
    #[error("ServiceID {0:?} does not exist")]
    CheckServiceMissing(String),
}

/// One finished run of a check, kept for the `/_standin/` history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckRun {
    /// Unix time in milliseconds.
    pub started_ms: u64,
    pub finished_ms: u64,
    /// Exit code of a script; `None` when killed by a signal, timed out or not a script.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// The status this run produced, before `success_before_passing` and
    /// `failures_before_critical` are applied.
    pub status: String,
    /// The status the check took because of this run; `None` while `success_before_passing`
    /// or `failures_before_critical` held the change back.
    pub applied: Option<String>,
    pub output: String,
}

/// How many runs each check remembers.
const HISTORY_LEN: usize = 200;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A check as the agent holds it.
#[derive(Debug)]
pub struct LocalCheck {
    /// How to run it; `None` for maintenance checks, which only exist.
    pub def: Option<CheckDef>,
    /// The agent's view: status and output are current here before they reach the catalog.
    pub check: Check,
    /// Identifies the runner that may update this check; a replaced check gets a new one.
    pub generation: u64,
    pub runner: Option<AbortHandle>,
    pub ttl_timer: Option<AbortHandle>,
    /// When the TTL runs out; an update moves it.
    pub ttl_deadline: Option<Instant>,
    pub ttl_last_output: String,
    pub successes: u32,
    pub failures: u32,
    pub history: VecDeque<CheckRun>,
    /// When a deferred output-only change is due to reach the catalog.
    pub output_sync_due: Option<Instant>,
    pub critical_since: Option<Instant>,
}

impl Drop for LocalCheck {
    fn drop(&mut self) {
        if let Some(h) = &self.runner {
            h.abort();
        }
        if let Some(h) = &self.ttl_timer {
            h.abort();
        }
    }
}

impl LocalCheck {
    fn new(def: Option<CheckDef>, check: Check) -> Self {
        let critical_since = (check.status == CRITICAL).then(Instant::now);
        LocalCheck {
            def,
            check,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            runner: None,
            ttl_timer: None,
            ttl_deadline: None,
            ttl_last_output: String::new(),
            successes: 0,
            failures: 0,
            history: VecDeque::new(),
            output_sync_due: None,
            critical_since,
        }
    }

    pub fn push_history(&mut self, run: CheckRun) {
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(run);
    }
}

/// Everything one agent owns.
#[derive(Debug, Default)]
pub struct Local {
    pub services: BTreeMap<String, Service>,
    pub checks: BTreeMap<String, LocalCheck>,
    /// Set by the `/_standin/` control: the host is "down" as far as gossip is concerned.
    pub serf_failed: bool,
}

/// Service ID of the server's own service, never touched by anti-entropy.
pub const CONSUL_SERVICE_ID: &str = "consul";

/// The agent's node record.
pub fn node_record(dc: &DcConfig, agent: &AgentInfo) -> catalog::Node {
    let ip = agent.ip.to_string();
    let mut tagged = BTreeMap::new();
    let family = if agent.ip.is_ipv4() { "ipv4" } else { "ipv6" };
    for kind in ["lan", "wan"] {
        tagged.insert(kind.to_string(), ip.clone());
        tagged.insert(format!("{kind}_{family}"), ip.clone());
    }
    let mut meta = BTreeMap::new();
    meta.insert("consul-network-segment".to_string(), String::new());
    catalog::Node {
        id: agent.node_id.clone(),
        name: agent.name.clone(),
        address: ip,
        datacenter: dc.name.clone(),
        tagged_addresses: tagged,
        meta,
        create_index: 0,
        modify_index: 0,
    }
}

/// The `serfHealth` check as the leader writes it.
pub fn serf_check(agent: &AgentInfo, passing: bool) -> Check {
    Check {
        node: agent.name.clone(),
        check_id: catalog::SERF_CHECK_ID.into(),
        name: catalog::SERF_CHECK_NAME.into(),
        status: if passing { PASSING } else { CRITICAL }.into(),
        notes: String::new(),
        output: if passing {
            catalog::SERF_ALIVE_OUTPUT
        } else {
            catalog::SERF_DEAD_OUTPUT
        }
        .into(),
        service_id: String::new(),
        service_name: String::new(),
        service_tags: Vec::new(),
        kind: String::new(),
        interval: String::new(),
        timeout: String::new(),
        definition: Map::new(),
        create_index: 0,
        modify_index: 0,
    }
}

/// The `consul` service a server registers for itself.
fn consul_service() -> Service {
    Service {
        id: CONSUL_SERVICE_ID.into(),
        service: CONSUL_SERVICE_ID.into(),
        tags: Vec::new(),
        address: String::new(),
        tagged_addresses: Map::new(),
        meta: BTreeMap::new(),
        port: 8300,
        weights: catalog::Weights::default(),
        enable_tag_override: false,
        kind: String::new(),
        create_index: 0,
        modify_index: 0,
    }
}

/// Writes the agent's node, its `serfHealth` check (and for the server the `consul` service)
/// into the catalog, as joining the cluster does. Unchanged records are left alone.
pub fn register_node(dc: &Datacenter, st: &mut State, agent_i: usize, idx: u64) {
    let Some(agent) = dc.agents.get(agent_i) else {
        return;
    };
    st.catalog.ensure_node(node_record(&dc.config, agent), idx);
    let passing = !st.locals.get(agent_i).is_some_and(|l| l.serf_failed);
    // The node was just ensured, so these cannot fail.
    let _ = st.catalog.ensure_check(serf_check(agent, passing), idx);
    if agent.server {
        let _ = st
            .catalog
            .ensure_service(&agent.name, consul_service(), idx);
    }
}

/// Marks the agent's host alive or failed, as gossip would.
pub fn set_serf(dc: &Datacenter, st: &mut State, agent_i: usize, passing: bool, idx: u64) {
    if let Some(local) = st.locals.get_mut(agent_i) {
        local.serf_failed = !passing;
    }
    register_node(dc, st, agent_i, idx);
}

fn ensure_node_present(dc: &Datacenter, st: &mut State, agent_i: usize, idx: u64) {
    let name = &dc.agents[agent_i].name;
    if st.catalog.node(name).is_none() {
        register_node(dc, st, agent_i, idx);
    }
}

/// Agent `agent_i`'s local check `check_id`; `None` once either is gone, since timers and
/// check runs can outlive both.
fn local_check<'a>(st: &'a mut State, agent_i: usize, check_id: &str) -> Option<&'a mut LocalCheck> {
    st.locals.get_mut(agent_i)?.checks.get_mut(check_id)
}

/// Copies one local check to the catalog.
pub fn sync_check(dc: &Datacenter, st: &mut State, agent_i: usize, check_id: &str, idx: u64) {
    ensure_node_present(dc, st, agent_i, idx);
    let Some(lc) = local_check(st, agent_i, check_id) else {
        return;
    };
    lc.output_sync_due = None;
    let check = lc.check.clone();
    // A service check can only exist while its service does; `add_check` ensured that.
    let _ = st.catalog.ensure_check(check, idx);
}

/// Copies one local service and its checks to the catalog.
pub fn sync_service(dc: &Datacenter, st: &mut State, agent_i: usize, service_id: &str, idx: u64) {
    ensure_node_present(dc, st, agent_i, idx);
    let name = dc.agents[agent_i].name.clone();
    let Some(svc) = st.locals[agent_i].services.get(service_id).cloned() else {
        return;
    };
    let _ = st.catalog.ensure_service(&name, svc, idx);
    let ids: Vec<String> = st.locals[agent_i]
        .checks
        .values()
        .filter(|c| c.check.service_id == service_id)
        .map(|c| c.check.check_id.clone())
        .collect();
    for id in ids {
        sync_check(dc, st, agent_i, &id, idx);
    }
}

fn allow_script(agent: &AgentInfo, source: Source) -> Result<(), AgentError> {
    match (agent.script_checks, source) {
        (ScriptChecks::Enabled, _) | (ScriptChecks::LocalOnly, Source::Local) => Ok(()),
        (ScriptChecks::LocalOnly, Source::Remote) | (ScriptChecks::Disabled, Source::Remote) => {
            Err(AgentError::ScriptsDisabledRemote)
        }
        (ScriptChecks::Disabled, Source::Local) => Err(AgentError::ScriptsDisabledLocal),
    }
}

fn check_record(agent: &AgentInfo, def: &CheckDef, service: Option<&Service>) -> Check {
    Check {
        node: agent.name.clone(),
        check_id: def.id.clone(),
        name: def.name.clone(),
        status: def.status.clone().unwrap_or_else(|| CRITICAL.to_string()),
        notes: def.notes.clone(),
        output: String::new(),
        service_id: def.service_id.clone(),
        service_name: service.map(|s| s.service.clone()).unwrap_or_default(),
        service_tags: service.map(|s| s.tags.clone()).unwrap_or_default(),
        kind: def.kind.type_name().into(),
        interval: if def.interval.is_zero() {
            String::new()
        } else {
            crate::duration::format(def.interval)
        },
        timeout: def.timeout.map(crate::duration::format).unwrap_or_default(),
        definition: def.definition_json(),
        create_index: 0,
        modify_index: 0,
    }
}

/// Installs a check locally (keeping status and output of a check with the same ID) and
/// starts whatever runs it. Does not sync.
fn install_check(dc: &Arc<Datacenter>, st: &mut State, agent_i: usize, def: CheckDef) {
    let agent = &dc.agents[agent_i];
    let local = &mut st.locals[agent_i];
    let service = local.services.get(&def.service_id);
    let mut record = check_record(agent, &def, service);
    let previous = local.checks.remove(&def.id);
    let mut lc = LocalCheck::new(Some(def.clone()), record.clone());
    if let Some(prev) = &previous {
        record.status = prev.check.status.clone();
        record.output = prev.check.output.clone();
        lc.check = record;
        lc.critical_since = prev.critical_since;
        lc.history = prev.history.clone();
    }
    drop(previous);
    runner::start(dc, agent_i, &mut lc);
    local.checks.insert(def.id.clone(), lc);
}

/// `PUT /v1/agent/service/register` and config-dir services.
pub fn add_service(
    dc: &Arc<Datacenter>,
    st: &mut State,
    agent_i: usize,
    def: ServiceDef,
    source: Source,
    replace_existing_checks: bool,
    idx: u64,
) -> Result<(), AgentError> {
    let agent = &dc.agents[agent_i];
    if def.checks.iter().any(CheckDef::is_script) {
        allow_script(agent, source)?;
    }
    let svc = Service {
        id: def.id.clone(),
        service: def.name.clone(),
        tags: def.tags.clone(),
        address: def.address.clone(),
        tagged_addresses: def.tagged_addresses.clone(),
        meta: def.meta.clone(),
        port: def.port,
        weights: def.weights,
        enable_tag_override: def.enable_tag_override,
        kind: def.kind.clone(),
        create_index: 0,
        modify_index: 0,
    };
    let local = &mut st.locals[agent_i];
    local.services.insert(svc.id.clone(), svc);
    if replace_existing_checks {
        let keep: Vec<&str> = def.checks.iter().map(|c| c.id.as_str()).collect();
        let stale: Vec<String> = local
            .checks
            .values()
            .filter(|c| c.check.service_id == def.id && !keep.contains(&c.check.check_id.as_str()))
            .map(|c| c.check.check_id.clone())
            .collect();
        let node = agent.name.clone();
        for id in stale {
            st.locals[agent_i].checks.remove(&id);
            st.catalog.delete_check(&node, &id, idx);
        }
    }
    for check in def.checks {
        install_check(dc, st, agent_i, check);
    }
    sync_service(dc, st, agent_i, &def.id, idx);
    Ok(())
}

/// `PUT /v1/agent/service/deregister/:id`: the service and its checks, locally and in the catalog.
pub fn remove_service(
    dc: &Datacenter,
    st: &mut State,
    agent_i: usize,
    service_id: &str,
    idx: u64,
) -> Result<(), AgentError> {
    let local = &mut st.locals[agent_i];
    if local.services.remove(service_id).is_none() {
        return Err(AgentError::UnknownService(service_id.to_string()));
    }
    local.checks.retain(|_, c| c.check.service_id != service_id);
    st.catalog
        .delete_service(&dc.agents[agent_i].name, service_id, idx);
    Ok(())
}

/// `PUT /v1/agent/check/register` and config-dir checks.
pub fn add_check(
    dc: &Arc<Datacenter>,
    st: &mut State,
    agent_i: usize,
    def: CheckDef,
    source: Source,
    idx: u64,
) -> Result<(), AgentError> {
    if def.is_script() {
        allow_script(&dc.agents[agent_i], source)?;
    }
    if !def.service_id.is_empty() && !st.locals[agent_i].services.contains_key(&def.service_id) {
        return Err(AgentError::CheckServiceMissing(def.service_id.clone()));
    }
    let id = def.id.clone();
    install_check(dc, st, agent_i, def);
    sync_check(dc, st, agent_i, &id, idx);
    Ok(())
}

/// `PUT /v1/agent/check/deregister/:id`.
pub fn remove_check(
    dc: &Datacenter,
    st: &mut State,
    agent_i: usize,
    check_id: &str,
    idx: u64,
) -> Result<(), AgentError> {
    if st.locals[agent_i].checks.remove(check_id).is_none() {
        return Err(AgentError::UnknownCheck(check_id.to_string()));
    }
    st.catalog
        .delete_check(&dc.agents[agent_i].name, check_id, idx);
    Ok(())
}

/// Sets a check's status and output as the agent's `UpdateCheck` does: a status change goes to
/// the catalog at once, an output-only change after `check_update_interval`.
pub fn update_check(
    dc: &Datacenter,
    st: &mut State,
    agent_i: usize,
    check_id: &str,
    status: &str,
    output: &str,
    idx: u64,
) {
    let interval = dc.config.check_update_interval;
    let Some(lc) = local_check(st, agent_i, check_id) else {
        return;
    };
    if lc.check.status == status && lc.check.output == output {
        return;
    }
    let status_changed = lc.check.status != status;
    if status == CRITICAL {
        lc.critical_since.get_or_insert_with(Instant::now);
    } else {
        lc.critical_since = None;
    }
    lc.check.status = status.to_string();
    lc.check.output = output.to_string();
    if status_changed || interval.is_zero() {
        sync_check(dc, st, agent_i, check_id, idx);
    } else if lc.output_sync_due.is_none() {
        // Consul's deferral: half the interval plus a random stagger of up to one interval.
        let ms = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let delay = interval / 2 + std::time::Duration::from_millis(rand::random_range(0..ms));
        lc.output_sync_due = Some(Instant::now() + delay);
    }
}

/// Cuts TTL output as `CheckTTL.SetStatus` does: first bytes plus ` ... (captured N of M bytes)`.
fn truncate_ttl_output(output: &str, max: usize) -> String {
    if output.len() <= max {
        return output.to_string();
    }
    let mut cut = max;
    while !output.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{} ... (captured {max} of {} bytes)",
        &output[..cut],
        output.len()
    )
}

/// `/v1/agent/check/pass|warn|fail|update/:id`.
pub fn ttl_update(
    dc: &Arc<Datacenter>,
    st: &mut State,
    agent_i: usize,
    check_id: &str,
    status: &str,
    output: &str,
    idx: u64,
) -> Result<(), AgentError> {
    let max = dc.config.output_max_size;
    let lc = st.locals[agent_i]
        .checks
        .get_mut(check_id)
        .ok_or_else(|| AgentError::UnknownCheck(check_id.to_string()))?;
    let Some(def) = lc
        .def
        .clone()
        .filter(|d| matches!(d.kind, definition::CheckKind::Ttl { .. }))
    else {
        return Err(AgentError::NotTtl(check_id.to_string()));
    };
    let max = def.output_max_size.map_or(max, |m| m.min(max));
    let output = truncate_ttl_output(output, max);
    lc.ttl_last_output = output.clone();
    runner::restart_ttl(dc, agent_i, lc);
    update_check(dc, st, agent_i, check_id, status, &output, idx);
    Ok(())
}

/// Node or service maintenance: adds or removes the critical `_node_maintenance` /
/// `_service_maintenance:<id>` check.
pub fn maintenance(
    dc: &Datacenter,
    st: &mut State,
    agent_i: usize,
    service_id: Option<&str>,
    enable: bool,
    reason: &str,
    idx: u64,
) -> Result<(), AgentError> {
    let agent = &dc.agents[agent_i];
    let (check_id, name, default_reason) = match service_id {
        None => (
            "_node_maintenance".to_string(),
            "Node Maintenance Mode",
            "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.",
        ),
        Some(id) => {
            if !st.locals[agent_i].services.contains_key(id) {
                return Err(AgentError::UnknownService(id.to_string()));
            }
            (
                format!("_service_maintenance:{id}"),
                "Service Maintenance Mode",
                "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.",
            )
        }
    };
    if !enable {
        if st.locals[agent_i].checks.remove(&check_id).is_some() {
            st.catalog.delete_check(&agent.name, &check_id, idx);
        }
        return Ok(());
    }
    let service = service_id.and_then(|id| st.locals[agent_i].services.get(id));
    let check = Check {
        node: agent.name.clone(),
        check_id: check_id.clone(),
        name: name.into(),
        status: CRITICAL.into(),
        notes: if reason.is_empty() {
            default_reason.into()
        } else {
            reason.into()
        },
        output: String::new(),
        service_id: service_id.unwrap_or_default().into(),
        service_name: service.map(|s| s.service.clone()).unwrap_or_default(),
        service_tags: service.map(|s| s.tags.clone()).unwrap_or_default(),
        kind: "maintenance".into(),
        interval: String::new(),
        timeout: String::new(),
        definition: Map::new(),
        create_index: 0,
        modify_index: 0,
    };
    st.locals[agent_i]
        .checks
        .insert(check_id.clone(), LocalCheck::new(None, check));
    sync_check(dc, st, agent_i, &check_id, idx);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_output_is_cut_like_consul() {
        let long = "x".repeat(5000);
        let cut = truncate_ttl_output(&long, 4096);
        assert!(cut.starts_with(&"x".repeat(4096)));
        assert!(cut.ends_with(" ... (captured 4096 of 5000 bytes)"));
        assert_eq!(truncate_ttl_output("short", 4096), "short");
    }
}
