//! mysql-master-check's last step: carry out the decision (fence a stale master, finish a
//! recorded move, point or remove the replica node, publish the role tags), write each change
//! to the action log, and fold everything into the run's [`Outcome`].

use std::time::Instant;

use super::decide::{Action, Decision, ReplicaNode};
use super::Settings;
use crate::actionlog::{ActionLog, Target};
use crate::addr::HostPort;
use crate::check::{Outcome, SubResult};
use crate::consul::{self, Client, Node, TxnOp};
use crate::mysql::Server;
use crate::mysql_hooks::{self, HookExit, HookSettings, Masters};
use crate::roles;

const PROGRAM: &str = "mysql-master-check";

/// Acts on `decision` and returns the outcome. The action log is opened only when something
/// changes.
pub fn act(settings: &Settings, client: Option<Client>, decision: Decision, log_target: &Target, deadline: Instant) -> Outcome {
    let mut log = LazyLog { target: log_target, log: None };
    let mut results = decision.results;
    match &decision.action {
        Some(Action::Fence { named }) => results.push(fence(settings, &decision.me, named, &mut log)),
        Some(Action::Reconcile(masters)) => results.extend(reconcile(settings, masters, deadline)),
        None => {}
    }
    if let (Some(client), Some(change), Some(view)) = (&client, &decision.replica_node, &decision.view) {
        results.push(replica_node(settings, &decision.me, client, view, change, &mut log));
    }
    if let (Some(client), Some(claim), Some(service)) = (&client, &decision.claim, &settings.role_service) {
        match roles::publish_roles(client, service, claim, &settings.tags) {
            Ok(report) if report.changes.is_empty() => {}
            Ok(report) => {
                let changes: Vec<String> = report.changes.iter().map(|c| format!("{} on {}: {:?} -> {:?}", c.service_id, c.node, c.from, c.to)).collect();
                log.record("retag", &[("service", service), ("changes", &changes.join("; "))]);
                results.push(SubResult::passing("tags", format!("service {service}: role tags updated")).with_details(changes.join("\n")));
            }
            Err(e) => results.push(SubResult::warning("tags", format!("service {service}: role tags not published")).with_details(e.to_string())),
        }
    }
    let mut outcome = Outcome::new();
    for result in results {
        outcome.push(result);
    }
    outcome
}

/// The action log, opened at its first line: most runs change nothing.
struct LazyLog<'a> {
    target: &'a Target,
    log: Option<ActionLog>,
}

impl LazyLog<'_> {
    fn record(&mut self, action: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
        self.log.get_or_insert_with(|| ActionLog::open(PROGRAM, self.target)).record(action, fields);
    }
}

/// Sets `read_only` (and `super_read_only`) on the local server and kills its client
/// connections. The check stays critical: a fenced master is still not the master.
fn fence(settings: &Settings, me: &HostPort, named: &HostPort, log: &mut LazyLog<'_>) -> SubResult {
    let done = Server::connect(&settings.mysql, &settings.credentials, settings.mysql_timeouts).and_then(|mut server| server.fence());
    match done {
        Ok(killed) => {
            log.record("fence", &[("mysql", me), ("named", named), ("killed", &killed)]);
            SubResult::critical("fence", format!("fenced mysql {me}: read_only is ON and its client connections were killed"))
                .with_details(format!("{killed} client connections killed; consul names {named}"))
        }
        Err(e) => {
            log.record("fence-failed", &[("mysql", me), ("named", named), ("error", &e)]);
            SubResult::critical("fence", format!("mysql {me} could not be fenced")).with_details(e.to_string())
        }
    }
}

/// Publishes the local server as `mysql-after-exec` would (no `--make-writable`: the server is
/// writable already), finishing the move the record names.
fn reconcile(settings: &Settings, masters: &Masters, deadline: Instant) -> Vec<SubResult> {
    let me = &masters.new;
    let client = match Client::new(&settings.consul.clone().with_deadline(deadline)) {
        Ok(client) => client,
        Err(e) => return vec![SubResult::critical("move", format!("the move to mysql {me} could not be finished")).with_details(e.to_string())],
    };
    let hook = HookSettings {
        names: settings.names.clone(),
        kv_format: settings.kv_format,
        make_writable: false,
        fence_old_master: false,
        wait_dns: None,
        credentials: settings.credentials.clone(),
        mysql_timeouts: settings.mysql_timeouts,
        fence_timeouts: settings.mysql_timeouts,
        consul: client,
        timeout: deadline.saturating_duration_since(Instant::now()),
        // The record does not say whether the move was a failover; the hook that failed
        // would have written the block, and a person can still set one.
        block_after_failover: std::time::Duration::ZERO,
    };
    let mut log = ActionLog::disabled(PROGRAM);
    let report = mysql_hooks::after(&hook, masters, &mut log);
    let details = std::iter::once(report.summary.clone()).chain(report.details.iter().cloned()).collect::<Vec<_>>().join("\n");
    match report.exit {
        HookExit::Done => vec![
            SubResult::passing("role", format!("mysql {me} is the master consul names")),
            SubResult::passing("move", format!("finished the recorded move to mysql {me}")).with_details(details),
        ],
        _ => vec![SubResult::critical("move", format!("a move to mysql {me} is recorded but could not be finished")).with_details(details)],
    }
}

/// Points the replica node at the local server, or removes it, guarded by the master KV key as
/// read: a concurrent move makes the transaction fail whole, and the next run decides again.
fn replica_node(
    settings: &Settings,
    me: &HostPort,
    client: &Client,
    view: &mysql_hooks::records::View,
    change: &ReplicaNode,
    log: &mut LazyLog<'_>,
) -> SubResult {
    let names = &settings.names;
    let guard = match &view.kv {
        Some(kv) => TxnOp::kv_check_index(&names.kv_key, kv.modify_index),
        None => TxnOp::kv_check_not_exists(&names.kv_key),
    };
    let (op, text) = match change {
        ReplicaNode::Point => (
            TxnOp::node_set(Node { node: names.replica_node.clone(), address: me.host.clone(), ..Node::default() }),
            format!("node {} -> {}", names.replica_node, me.host),
        ),
        ReplicaNode::Remove => (TxnOp::node_delete(&names.replica_node), format!("removed node {} ({})", names.replica_node, me.host)),
    };
    match client.txn(&[guard, op]) {
        Ok(_) => {
            log.record("replica-node", &[("mysql", me), ("changed", &text)]);
            SubResult::passing("replica-node", format!("replica node {} updated", names.replica_node)).with_details(text)
        }
        Err(e) if e.class() == consul::ErrorClass::Conflict => {
            SubResult::passing("replica-node", format!("replica node {} not updated: the master record changed meanwhile", names.replica_node))
        }
        Err(e) => SubResult::warning("replica-node", format!("replica node {} not updated", names.replica_node)).with_details(e.to_string()),
    }
}
