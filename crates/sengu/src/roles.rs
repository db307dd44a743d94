//! The `master` / `replica` role tags on the Consul instances of one service: reading them,
//! deciding which instance carries which tag ([`plan`], pure), and writing the change as one
//! `/v1/txn` ([`apply`]) so that no reader ever sees two instances tagged master. Shared by
//! redis-master-check (a node tags itself) and sentinel-rebalance (tags the sentinels' new master
//! after a move); both call [`publish_roles`].
//!
//! Rules, in the order they matter:
//!
//! - **Demote before promote, atomically.** A [`Claim::Master`] puts the master tag on one
//!   instance and, with [`Others::Demote`], the replica tag on every other instance, in one
//!   transaction. Every other instance is part of that transaction as a `cas` operation on the
//!   `ModifyIndex` it was read at (unchanged instances are rewritten as they are), so two
//!   claims racing from two hosts cannot both commit: the second one fails on the instance the
//!   first one changed, and nothing of it is applied.
//! - **Only the role tags change.** Other tags keep their place; a role tag that is already
//!   right is not rewritten, and nothing at all is written when every tag is already right,
//!   because Consul stores (and replicates) every write.
//! - **Only instances that keep external tags.** A catalog write to an agent-owned instance
//!   survives anti-entropy only when the instance was registered with `enable_tag_override`
//!   (reference §7); [`plan`] refuses to retag an instance without it rather than write tags
//!   its agent will silently revert.
//!
//! A catalog write replaces an instance wholesale (reference §2.1), so each write resends the
//! instance as `/v1/health/service` returned it (ID, name, tags, address, port, meta, weights,
//! `EnableTagOverride`). Fields the health endpoint returns but [`consul::Service`] does not
//! model (tagged addresses, kind) are dropped by that write and restored by the owning agent at
//! its next anti-entropy sync.

use std::fmt;
use std::net::IpAddr;

use crate::addr::HostPort;
use crate::consul::{self, CheckStatus, ServiceEntry, ServiceOp, TxnOp, Verb};

/// The tag names that mark the two roles; case-insensitive when read, as Consul compares tags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleTags {
    pub master: String,
    pub replica: String,
}

impl Default for RoleTags {
    fn default() -> Self {
        RoleTags { master: "master".to_string(), replica: "replica".to_string() }
    }
}

impl RoleTags {
    fn name(&self, role: Role) -> &str {
        match role {
            Role::Master => &self.master,
            Role::Replica => &self.replica,
        }
    }

    fn is_role_tag(&self, tag: &str) -> bool {
        tag.eq_ignore_ascii_case(&self.master) || tag.eq_ignore_ascii_case(&self.replica)
    }
}

/// A role an instance is tagged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Master,
    Replica,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Master => "master",
            Role::Replica => "replica",
        })
    }
}

/// One instance of the service as Consul has it: where it runs, its registration and the
/// aggregate health of its checks (node checks included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub node: String,
    pub service: consul::Service,
    /// Where clients connect: the service address, else the node address (what DNS answers).
    pub address: String,
    pub health: CheckStatus,
}

impl Instance {
    pub fn from_entry(entry: ServiceEntry) -> Instance {
        let health = entry.status();
        let address = entry.address().to_string();
        Instance { node: entry.node.node, service: entry.service, address, health }
    }

    /// `address:port`.
    pub fn endpoint(&self) -> HostPort {
        HostPort { host: self.address.clone(), port: self.service.port }
    }

    /// The role its tags say; master wins if (wrongly) both are present.
    pub fn role(&self, tags: &RoleTags) -> Option<Role> {
        let has = |name: &str| self.service.tags.iter().any(|t| t.eq_ignore_ascii_case(name));
        if has(&tags.master) {
            Some(Role::Master)
        } else if has(&tags.replica) {
            Some(Role::Replica)
        } else {
            None
        }
    }

    /// True when this instance is the endpoint `at` (IP addresses compared as addresses, host
    /// names case-insensitively).
    pub fn is_at(&self, at: &HostPort) -> bool {
        self.service.port == at.port && same_host(&self.address, &at.host)
    }

    /// Critical or in maintenance: out of DNS whatever its tags say.
    fn is_down(&self) -> bool {
        self.health >= CheckStatus::Critical
    }
}

/// True when two host strings name the same host: equal IP addresses (so `::1` and
/// `0:0:0:0:0:0:0:1` match), or equal names ignoring case.
pub fn same_host(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// What a master claim does to the other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Others {
    /// Every other instance gets the replica tag: an authority (a majority of sentinels) has
    /// named the master, so everything else is a replica as far as clients are concerned.
    Demote,
    /// No authority: leave the others alone, and do not take the master tag while another
    /// instance that is not critical holds it (it is in DNS; taking the tag would list two).
    /// Instances tagged master that are critical (out of DNS anyway) are demoted.
    Respect,
}

/// Which tag goes where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The instance at `at` is the master.
    Master { at: HostPort, others: Others },
    /// The instance at `at` is a replica; no other instance is touched.
    Replica { at: HostPort },
    /// The instance at `at` is fit for neither role (a replica too far behind, a stale
    /// master): its role tags go; no other instance is touched.
    Untagged { at: HostPort },
}

impl Claim {
    fn at(&self) -> &HostPort {
        match self {
            Claim::Master { at, .. } | Claim::Replica { at } | Claim::Untagged { at } => at,
        }
    }
}

/// One instance whose tags a plan changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TagChange {
    pub node: String,
    pub service_id: String,
    #[serde(serialize_with = "serialize_hostport")]
    pub endpoint: HostPort,
    pub from: Vec<String>,
    pub to: Vec<String>,
}

impl fmt::Display for TagChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (node {}): [{}] -> [{}]", self.endpoint, self.node, self.from.join(","), self.to.join(","))
    }
}

/// Why no plan could be made. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Also what an ACL token without `service:read` sees: Consul filters reads instead of
    /// refusing them.
    #[error("no instance of service {service:?} at {at} in the catalog (or the ACL token may not read it)")]
    NotFound { service: String, at: HostPort },
    #[error("{count} instances of service {service:?} at {at} in the catalog; cannot tell which to tag")]
    Ambiguous { service: String, at: HostPort, count: usize },
    #[error("instance {service_id:?} on node {node} was registered without enable_tag_override, so its agent would revert any tag written to the catalog")]
    NoTagOverride { node: String, service_id: String },
}

/// Why publishing failed: Consul (unreachable, ACL denied, a concurrent change rolled the
/// transaction back) or the plan. Nothing was written in either case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Consul(#[from] consul::Error),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The writes a claim needs, ready for [`apply`]. Empty when every tag is already right.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Instances to rewrite with new tags, demotions first.
    writes: Vec<(Instance, Vec<String>)>,
    /// Instances rewritten unchanged so the transaction fails if they changed since read.
    guards: Vec<Instance>,
    /// Set when a [`Others::Respect`] claim was not made: the instance that keeps the master tag.
    held_by: Option<HostPort>,
}

impl Plan {
    /// True when nothing has to be written.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The tag changes this plan makes, demotions first.
    pub fn changes(&self) -> Vec<TagChange> {
        self.writes
            .iter()
            .map(|(i, to)| TagChange {
                node: i.node.clone(),
                service_id: i.service.id.clone(),
                endpoint: i.endpoint(),
                from: i.service.tags.clone(),
                to: to.clone(),
            })
            .collect()
    }

    /// The instance that keeps the master tag when a [`Others::Respect`] claim gave way.
    pub fn held_by(&self) -> Option<&HostPort> {
        self.held_by.as_ref()
    }

    /// The `/v1/txn` operations: every write and guard as a `cas` on the index it was read at.
    pub fn txn_ops(&self) -> Vec<TxnOp> {
        let cas = |i: &Instance, tags: &[String]| {
            let service = consul::Service { tags: tags.to_vec(), create_index: 0, ..i.service.clone() };
            TxnOp::Service(ServiceOp { verb: Verb::Cas, node: i.node.clone(), service })
        };
        self.writes.iter().map(|(i, tags)| cas(i, tags)).chain(self.guards.iter().map(|i| cas(i, &i.service.tags))).collect()
    }
}

/// What [`apply`] or [`publish_roles`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PublishReport {
    /// The tag changes written (empty: every tag was already right).
    pub changes: Vec<TagChange>,
    /// The instance that kept the master tag when a [`Others::Respect`] claim gave way.
    #[serde(serialize_with = "serialize_opt")]
    pub held_by: Option<HostPort>,
}

fn serialize_hostport<S: serde::Serializer>(v: &HostPort, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn serialize_opt<S: serde::Serializer>(v: &Option<HostPort>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(hp) => s.serialize_some(&hp.to_string()),
        None => s.serialize_none(),
    }
}

/// `tags` with the role tags replaced by the one for `role`, in the place of the first role tag
/// (appended when there was none), every other tag untouched.
pub fn retag(tags: &[String], role: Role, names: &RoleTags) -> Vec<String> {
    let want = names.name(role);
    let mut out = Vec::with_capacity(tags.len() + 1);
    let mut placed = false;
    for tag in tags {
        if names.is_role_tag(tag) {
            if !placed {
                out.push(want.to_string());
                placed = true;
            }
        } else {
            out.push(tag.clone());
        }
    }
    if !placed {
        out.push(want.to_string());
    }
    out
}

/// Decides the writes for `claim` on `instances` (every instance of `service`, which errors
/// name). Pure.
pub fn plan(service: &str, instances: &[Instance], claim: &Claim, names: &RoleTags) -> Result<Plan, PlanError> {
    let at = claim.at();
    let mine: Vec<&Instance> = instances.iter().filter(|i| i.is_at(at)).collect();
    let me = match mine.as_slice() {
        [me] => *me,
        [] => return Err(PlanError::NotFound { service: service.to_string(), at: at.clone() }),
        many => return Err(PlanError::Ambiguous { service: service.to_string(), at: at.clone(), count: many.len() }),
    };
    if let Claim::Untagged { .. } = claim {
        let to: Vec<String> = me.service.tags.iter().filter(|t| !names.is_role_tag(t)).cloned().collect();
        if to == me.service.tags {
            return Ok(Plan { writes: Vec::new(), guards: Vec::new(), held_by: None });
        }
        if !me.service.enable_tag_override {
            return Err(PlanError::NoTagOverride { node: me.node.clone(), service_id: me.service.id.clone() });
        }
        return Ok(Plan { writes: vec![(me.clone(), to)], guards: Vec::new(), held_by: None });
    }
    let others: Vec<&Instance> = instances.iter().filter(|i| !i.is_at(at)).collect();
    let mut writes: Vec<(Instance, Vec<String>)> = Vec::new();
    let mut held_by = None;

    let (my_role, demote_all) = match claim {
        Claim::Replica { .. } => (Some(Role::Replica), false),
        Claim::Untagged { .. } => (None, false),
        Claim::Master { others: Others::Demote, .. } => (Some(Role::Master), true),
        Claim::Master { others: Others::Respect, .. } => {
            let holder = others.iter().find(|o| o.role(names) == Some(Role::Master) && !o.is_down());
            match holder {
                Some(holder) => {
                    held_by = Some(holder.endpoint());
                    // Two instances tagged master must not stay so: give way.
                    let role = (me.role(names) == Some(Role::Master)).then_some(Role::Replica);
                    (role, false)
                }
                None => (Some(Role::Master), false),
            }
        }
    };
    let promoting = my_role == Some(Role::Master);
    if promoting {
        for other in &others {
            let demote = demote_all || other.role(names) == Some(Role::Master);
            if demote {
                let to = retag(&other.service.tags, Role::Replica, names);
                if to != other.service.tags {
                    writes.push(((*other).clone(), to));
                }
            }
        }
    }
    if let Some(role) = my_role {
        let to = retag(&me.service.tags, role, names);
        if to != me.service.tags {
            writes.push((me.clone(), to));
        }
    }
    for (instance, _) in &writes {
        if !instance.service.enable_tag_override {
            return Err(PlanError::NoTagOverride { node: instance.node.clone(), service_id: instance.service.id.clone() });
        }
    }
    // A promotion guards every instance it does not rewrite, so a concurrent promotion
    // elsewhere makes one of the two transactions fail whole.
    let guards = if promoting && !writes.is_empty() {
        instances
            .iter()
            .filter(|i| !writes.iter().any(|(w, _)| w.node == i.node && w.service.id == i.service.id))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    Ok(Plan { writes, guards, held_by })
}

/// Every instance of `service` with its health, from `/v1/health/service/<service>`.
pub fn read_instances(client: &consul::Client, service: &str) -> Result<Vec<Instance>, consul::Error> {
    Ok(client.health_service(service, None, false)?.into_iter().map(Instance::from_entry).collect())
}

/// Writes `plan` in one transaction (nothing when it is empty).
pub fn apply(client: &consul::Client, plan: &Plan) -> Result<PublishReport, consul::Error> {
    if !plan.is_empty() {
        client.txn(&plan.txn_ops())?;
    }
    Ok(PublishReport { changes: plan.changes(), held_by: plan.held_by.clone() })
}

/// Reads the instances of `service`, plans `claim` and applies it: the whole job for a caller
/// that has nothing else to read from Consul.
pub fn publish_roles(client: &consul::Client, service: &str, claim: &Claim, names: &RoleTags) -> Result<PublishReport, Error> {
    let instances = read_instances(client, service)?;
    let plan = plan(service, &instances, claim, names)?;
    Ok(apply(client, &plan)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    fn inst(node: &str, addr: &str, tags: &[&str], health: CheckStatus) -> Instance {
        Instance {
            node: node.to_string(),
            service: consul::Service {
                id: "redis".into(),
                service: "redis".into(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                port: 6379,
                enable_tag_override: true,
                modify_index: 10,
                ..Default::default()
            },
            address: addr.to_string(),
            health,
        }
    }

    fn names() -> RoleTags {
        RoleTags::default()
    }

    fn tags_after(plan: &Plan, node: &str) -> Option<Vec<String>> {
        plan.changes().into_iter().find(|c| c.node == node).map(|c| c.to)
    }

    #[test]
    fn retag_replaces_in_place_and_keeps_other_tags() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(retag(&t(&["v7", "master", "eu"]), Role::Replica, &names()), t(&["v7", "replica", "eu"]));
        assert_eq!(retag(&t(&["v7"]), Role::Master, &names()), t(&["v7", "master"]));
        assert_eq!(retag(&t(&["Master", "replica"]), Role::Master, &names()), t(&["master"]));
        assert_eq!(retag(&t(&[]), Role::Replica, &names()), t(&["replica"]));
    }

    #[test]
    fn an_untagged_claim_drops_only_its_own_role_tag() {
        let all = [inst("a", "10.0.0.11", &["master"], CheckStatus::Passing), inst("b", "10.0.0.12", &["v7", "replica"], CheckStatus::Critical)];
        let p = plan("mysql", &all, &Claim::Untagged { at: hp("10.0.0.12:6379") }, &names()).unwrap();
        assert_eq!(tags_after(&p, "b"), Some(vec!["v7".to_string()]));
        assert_eq!(p.changes().len(), 1, "no other instance is touched");
        let again = [inst("b", "10.0.0.12", &["v7"], CheckStatus::Critical)];
        assert!(plan("mysql", &again, &Claim::Untagged { at: hp("10.0.0.12:6379") }, &names()).unwrap().is_empty());
    }

    #[test]
    fn master_claim_with_demote_retags_everyone_else_first_and_guards_nothing_else() {
        let all = [inst("a", "10.0.0.11", &["master"], CheckStatus::Passing), inst("b", "10.0.0.12", &["replica"], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Demote }, &names()).unwrap();
        let changes = p.changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].node, "a", "demotion comes first");
        assert_eq!(changes[0].to, ["replica"]);
        assert_eq!(changes[1].to, ["master"]);
        assert_eq!(p.txn_ops().len(), 2);
    }

    #[test]
    fn master_claim_guards_unchanged_instances() {
        let all = [
            inst("a", "10.0.0.11", &["replica"], CheckStatus::Passing),
            inst("b", "10.0.0.12", &[], CheckStatus::Passing),
            inst("c", "10.0.0.13", &["replica"], CheckStatus::Critical),
        ];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Demote }, &names()).unwrap();
        assert_eq!(tags_after(&p, "b").unwrap(), ["master"]);
        assert_eq!(p.changes().len(), 1);
        let ops = p.txn_ops();
        assert_eq!(ops.len(), 3, "a and c ride along as cas guards");
        for op in ops {
            let TxnOp::Service(op) = op else { panic!() };
            assert_eq!(op.verb, Verb::Cas);
            assert_eq!(op.service.modify_index, 10);
        }
    }

    #[test]
    fn nothing_is_written_when_tags_are_right() {
        let all = [inst("a", "10.0.0.11", &["v7", "master"], CheckStatus::Passing), inst("b", "10.0.0.12", &["replica"], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.11:6379"), others: Others::Demote }, &names()).unwrap();
        assert!(p.is_empty() && p.txn_ops().is_empty());
        let p = plan("redis", &all, &Claim::Replica { at: hp("10.0.0.12:6379") }, &names()).unwrap();
        assert!(p.is_empty());
    }

    #[test]
    fn replica_claim_touches_only_the_claimant() {
        let all = [inst("a", "10.0.0.11", &["master"], CheckStatus::Passing), inst("b", "10.0.0.12", &["master"], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Replica { at: hp("10.0.0.12:6379") }, &names()).unwrap();
        assert_eq!(p.changes().len(), 1);
        assert_eq!(tags_after(&p, "b").unwrap(), ["replica"]);
        assert_eq!(p.txn_ops().len(), 1, "a demotion needs no guards");
    }

    #[test]
    fn respect_gives_way_to_a_healthy_holder_and_drops_a_duplicate_master_tag() {
        let all = [inst("a", "10.0.0.11", &["master"], CheckStatus::Warning), inst("b", "10.0.0.12", &["replica"], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Respect }, &names()).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.held_by(), Some(&hp("10.0.0.11:6379")));
        let all = [inst("a", "10.0.0.11", &["master"], CheckStatus::Passing), inst("b", "10.0.0.12", &["master"], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Respect }, &names()).unwrap();
        assert_eq!(tags_after(&p, "b").unwrap(), ["replica"]);
        assert!(tags_after(&p, "a").is_none());
    }

    #[test]
    fn respect_takes_the_tag_from_a_critical_holder() {
        let all = [inst("a", "10.0.0.11", &["master"], CheckStatus::Critical), inst("b", "10.0.0.12", &["replica"], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Respect }, &names()).unwrap();
        assert_eq!(tags_after(&p, "a").unwrap(), ["replica"]);
        assert_eq!(tags_after(&p, "b").unwrap(), ["master"]);
        assert!(p.held_by().is_none());
    }

    #[test]
    fn the_claimant_must_exist_once() {
        let e = plan("redis", &[], &Claim::Replica { at: hp("10.0.0.12:6379") }, &names()).unwrap_err();
        assert_eq!(e.to_string(), "no instance of service \"redis\" at 10.0.0.12:6379 in the catalog (or the ACL token may not read it)");
        let all = [inst("a", "10.0.0.11", &[], CheckStatus::Passing), inst("b", "10.0.0.11", &[], CheckStatus::Passing)];
        assert!(matches!(plan("redis", &all, &Claim::Replica { at: hp("10.0.0.11:6379") }, &names()), Err(PlanError::Ambiguous { count: 2, .. })));
    }

    #[test]
    fn instances_without_tag_override_are_refused() {
        let mut a = inst("a", "10.0.0.11", &["master"], CheckStatus::Passing);
        a.service.enable_tag_override = false;
        let all = [a, inst("b", "10.0.0.12", &[], CheckStatus::Passing)];
        let e = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Demote }, &names()).unwrap_err();
        assert!(matches!(e, PlanError::NoTagOverride { ref node, .. } if node == "a"), "{e}");
    }

    #[test]
    fn addresses_match_as_ip_addresses() {
        let a = inst("a", "::1", &[], CheckStatus::Passing);
        assert!(a.is_at(&hp("[0:0:0:0:0:0:0:1]:6379")));
        assert!(!a.is_at(&hp("[::1]:6380")));
        assert!(same_host("Redis-A", "redis-a"));
    }

    #[test]
    fn custom_tag_names_are_used() {
        let names = RoleTags { master: "primary".into(), replica: "standby".into() };
        let all = [inst("a", "10.0.0.11", &["primary"], CheckStatus::Passing), inst("b", "10.0.0.12", &[], CheckStatus::Passing)];
        let p = plan("redis", &all, &Claim::Master { at: hp("10.0.0.12:6379"), others: Others::Demote }, &names).unwrap();
        assert_eq!(tags_after(&p, "a").unwrap(), ["standby"]);
        assert_eq!(tags_after(&p, "b").unwrap(), ["primary"]);
    }
}
