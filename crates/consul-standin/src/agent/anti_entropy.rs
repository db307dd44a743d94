//! Anti-entropy (§7 of the reference): on every interval an agent makes the catalog's view of
//! its node match its own, adopting catalog tags for services with `EnableTagOverride`. The same
//! loop flushes deferred check output and reaps services whose check stayed critical past
//! `deregister_critical_service_after`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agent::{CONSUL_SERVICE_ID, register_node, remove_service, sync_check};
use crate::catalog::{Check, SERF_CHECK_ID};
use crate::state::{Datacenter, State};

/// The catalog copy of a check matches the agent's (ServiceName and ServiceTags aside: the
/// catalog derives those from its own copy of the service).
fn check_in_sync(local: &Check, remote: &Check) -> bool {
    local.name == remote.name
        && local.status == remote.status
        && local.output == remote.output
        && local.notes == remote.notes
        && local.service_id == remote.service_id
        && local.kind == remote.kind
        && local.interval == remote.interval
        && local.timeout == remote.timeout
        && local.definition == remote.definition
}

/// One full sync of `agent_i`'s node.
pub fn full_sync(dc: &Datacenter, st: &mut State, agent_i: usize, idx: u64) {
    let Some(agent) = dc.agents.get(agent_i) else {
        return;
    };
    let name = agent.name.clone();
    // Node record, serfHealth and the server's own service: no-ops when already right.
    register_node(dc, st, agent_i, idx);

    let (remote_services, remote_checks) = match st.catalog.node(&name) {
        Some(e) => (e.services.clone(), e.checks.clone()),
        None => return,
    };
    let local = &mut st.locals[agent_i];
    let mut out_of_sync = Vec::new();
    for (id, svc) in local.services.iter_mut() {
        match remote_services.get(id) {
            Some(remote) => {
                if svc.enable_tag_override {
                    svc.tags = remote.tags.clone();
                }
                if !svc.same(remote) {
                    out_of_sync.push(id.clone());
                }
            }
            None => out_of_sync.push(id.clone()),
        }
    }
    let stale_services: Vec<String> = remote_services
        .keys()
        .filter(|id| id.as_str() != CONSUL_SERVICE_ID && !local.services.contains_key(*id))
        .cloned()
        .collect();
    let mut checks_out_of_sync = Vec::new();
    for (id, lc) in &local.checks {
        // A deferred output change reaches the catalog when its timer says so.
        if lc.output_sync_due.is_some() {
            continue;
        }
        if !remote_checks
            .get(id)
            .is_some_and(|r| check_in_sync(&lc.check, r))
        {
            checks_out_of_sync.push(id.clone());
        }
    }
    let stale_checks: Vec<String> = remote_checks
        .keys()
        .filter(|id| id.as_str() != SERF_CHECK_ID && !local.checks.contains_key(*id))
        .cloned()
        .collect();

    for id in stale_services {
        st.catalog.delete_service(&name, &id, idx);
    }
    for id in stale_checks {
        st.catalog.delete_check(&name, &id, idx);
    }
    for id in out_of_sync {
        if let Some(svc) = st.locals[agent_i].services.get(&id).cloned() {
            let _ = st.catalog.ensure_service(&name, svc, idx);
        }
    }
    for id in checks_out_of_sync {
        sync_check(dc, st, agent_i, &id, idx);
    }
}

/// Flushes output changes whose deferral ran out and reaps long-critical services.
pub fn housekeeping(dc: &Datacenter, st: &mut State, agent_i: usize, idx: u64) {
    let now = Instant::now();
    let Some(local) = st.locals.get(agent_i) else {
        return;
    };
    let due: Vec<String> = local
        .checks
        .values()
        .filter(|c| c.output_sync_due.is_some_and(|due| now >= due))
        .map(|c| c.check.check_id.clone())
        .collect();
    // Consul's minimum for deregister_critical_service_after is one minute.
    let reap: Vec<String> = local
        .checks
        .values()
        .filter_map(|c| {
            let after = c
                .def
                .as_ref()?
                .deregister_critical_service_after?
                .max(Duration::from_secs(60));
            let since = c.critical_since?;
            (!c.check.service_id.is_empty() && now.duration_since(since) >= after)
                .then(|| c.check.service_id.clone())
        })
        .collect();
    for id in due {
        sync_check(dc, st, agent_i, &id, idx);
    }
    for id in reap {
        let _ = remove_service(dc, st, agent_i, &id, idx);
    }
}

/// The agent's background loop; ends when the runtime does.
pub async fn run(dc: Arc<Datacenter>, agent_i: usize) {
    let interval = dc.config.anti_entropy_interval;
    let tick = Duration::from_millis(250);
    let mut next_full = Instant::now() + interval;
    loop {
        tokio::time::sleep(tick).await;
        dc.write(|st, idx| housekeeping(&dc, st, agent_i, idx));
        if !interval.is_zero() && Instant::now() >= next_full {
            dc.write(|st, idx| full_sync(&dc, st, agent_i, idx));
            next_full = Instant::now() + interval;
        }
    }
}
