//! redis-master-check: the Consul check that passes only on the one true Redis master (or, in
//! role mode, on a healthy replica too) and keeps the service's `master`/`replica` tags true.
//!
//! One run is three steps inside one time budget (`--timeout`, below Consul's check timeout):
//!
//! 1. `observe`: ask the local Redis (`INFO replication`), the sentinels and the local Consul
//!    agent at once, each with its own timeout, all within the first half of the budget; DNS
//!    only when no sentinel majority decides (otherwise it would only be a note); on a local
//!    master that the majority does not name, that node's `ROLE` (and DNS) too; whatever has
//!    not answered by then counts as a timeout.
//! 2. [`decide`]: the pure decision table (its module doc lists every row).
//! 3. Act on the decision in the rest of the budget: fence a stale master (`fence`), publish
//!    the role tags ([`crate::roles`]), then [`finish`] folds the results into one [`Outcome`].
//!
//! Why fencing demotes rather than only pausing: `CLIENT PAUSE … WRITE` also blocks `PUBLISH`,
//! and Sentinel publishes its hellos on the same connection it later sends the demotion on.
//! Measured with Redis 7.0.15: under a pause renewed every run, Sentinel logs
//! `+convert-to-slave` but its `SLAVEOF` never runs, so the stale master would stay fenced and
//! orphaned for good. The fence therefore pauses writes at once and, when it is safe (a strict
//! majority of the configured sentinels names the new master, lists this node among its
//! replicas, and the new master says `role:master`), sends Sentinel's own demotion transaction
//! and lifts the pause; when it is not safe the pause stays, renewed every run.

mod decide;
mod fence;
mod observe;
mod settings;

pub use settings::Args;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

pub use decide::{
    Arbitration, Decision, DnsAnswer, FencePlan, FenceResult, Identity, IdentitySource, Mode, NamedMaster, Observations, Policy,
    arbitrate, decide, finish, same_endpoint,
};

use crate::addr::HostPort;
use crate::check::Outcome;
use crate::consul;
use crate::redis::RedisAuth;
use crate::roles::{self, RoleTags};

/// `--timeout` when nothing sets it; the shipped definitions give Consul's check 3 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// `--max-lag` when nothing sets it: three times Redis's default `repl-ping-replica-period`
/// (10 s), so the master's ping rhythm on an idle link never looks like lag.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(30);
/// `--fence-duration` when nothing sets it: outlasts check intervals up to 10 s, so a pause
/// renewed every run never lapses between runs, and ends on its own soon after the checks stop.
pub const DEFAULT_FENCE_DURATION: Duration = Duration::from_secs(10);
/// `--domain` when nothing sets it.
pub const DEFAULT_DOMAIN: &str = "consul";

/// Everything one run needs, merged from flags, environment, the config file and defaults;
/// `--print-config` shows it as it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// The local Redis.
    pub redis: HostPort,
    pub service: String,
    pub datacenter: Option<String>,
    pub domain: String,
    /// `None`: the system resolver (glibc in nsswitch.conf's order, what applications on this host use).
    pub dns_server: Option<SocketAddr>,
    pub advertise_ip: Option<IpAddr>,
    pub mode: Mode,
    pub sentinels: Vec<HostPort>,
    /// How many sentinels exist when `sentinels` lists more places (a floating sentinel).
    pub sentinel_count: Option<usize>,
    pub sentinel_master: String,
    #[serde(serialize_with = "crate::human::exact")]
    pub max_lag: Duration,
    pub publish_tags: bool,
    pub fence_stale_master: bool,
    #[serde(serialize_with = "crate::human::exact")]
    pub fence_duration: Duration,
    pub tags: RoleTags,
    /// The whole run's budget.
    #[serde(serialize_with = "crate::human::exact")]
    pub timeout: Duration,
    /// For the local Redis and the sentinels (a sentinel without a password accepts it).
    pub auth: RedisAuth,
    pub consul: consul::ClientConfig,
}

impl Settings {
    /// The master's DNS name with a trailing dot (absolute, never run through a search list):
    /// `<master-tag>.<service>.service[.<dc>].<domain>.`.
    pub fn dns_name(&self) -> String {
        let dc = self.datacenter.as_deref().map(|dc| format!("{dc}.")).unwrap_or_default();
        format!("{}.{}.service.{dc}{}.", self.tags.master, self.service, self.domain.trim_end_matches('.'))
    }

    fn policy(&self) -> Policy {
        Policy {
            mode: self.mode,
            service: self.service.clone(),
            redis: self.redis.clone(),
            max_lag: self.max_lag,
            fence: self.fence_stale_master,
            sentinel_count: self.sentinel_count,
        }
    }
}

/// Share of the budget for asking everything (step 1); the rest is for acting.
const OBSERVE_SHARE: f64 = 0.5;
/// Share of the budget by which fencing must be done; publishing gets the time up to
/// [`PUBLISH_SHARE`].
const FENCE_SHARE: f64 = 0.75;
const PUBLISH_SHARE: f64 = 0.95;

/// Runs the check once and returns its outcome; never takes much longer than the budget.
pub fn run(settings: &Settings) -> Outcome {
    let start = Instant::now();
    let share = |f: f64| observe::whole_ms(settings.timeout.mul_f64(f));
    let at = |f: f64| start + share(f);
    let seen = observe::observe(settings, start, share(OBSERVE_SHARE));
    let decision = decide(&settings.policy(), &seen.observations);
    let fence = decision.fence.as_ref().map(|plan| fence::fence(settings, plan, share(FENCE_SHARE - OBSERVE_SHARE)));
    let publish = match (&decision.claim, settings.publish_tags) {
        (Some(claim), true) => Some(publish(settings, seen.consul, claim, at(PUBLISH_SHARE))),
        _ => None,
    };
    finish(decision, fence, publish)
}

/// How often a publish whose transaction lost a race (another host retagged an instance between
/// our read and our write) reads and plans again within the budget.
const PUBLISH_ATTEMPTS: usize = 3;

fn publish(settings: &Settings, consul: observe::ConsulSide, claim: &roles::Claim, deadline: Instant) -> Result<roles::PublishReport, roles::Error> {
    let mut client = consul.client?;
    let mut instances = consul.instances.unwrap_or_else(|| Err(consul::Error::Config("the catalog was not read".into())))?;
    let window = deadline.saturating_duration_since(Instant::now());
    client.set_deadline(Some(deadline));
    let steady = |e: consul::Error| roles::Error::Consul(observe::steady(e, window));
    let mut attempt = 1;
    loop {
        let plan = roles::plan(&settings.service, &instances, claim, &settings.tags)?;
        match roles::apply(&client, &plan) {
            Err(e) if e.class() == consul::ErrorClass::Conflict && attempt < PUBLISH_ATTEMPTS => {
                attempt += 1;
                instances = roles::read_instances(&client, &settings.service).map_err(steady)?;
            }
            other => return other.map_err(steady),
        }
    }
}
