//! Step 1 of a run: asking the local Redis, the sentinels and the local Consul agent at once
//! (the agent in a thread of its own, the Redis servers together from the calling thread with
//! [`Batch`]), and DNS when the sentinels cannot decide, with timeouts that fit the window, and
//! turning whatever has not answered when the window closes into a timeout, so a frozen server
//! or a black-holed DNS query can never push the run past its budget. Only when the local Redis
//! is a master and a sentinel majority names another node is that node asked its `ROLE` (and
//! DNS with it), to tell a stale master from one the sentinels have not caught up with yet.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Arbitration, DnsAnswer, Identity, IdentitySource, Mode, NamedMaster, Observations, Settings, arbitrate, same_endpoint};
use crate::addr::HostPort;
use crate::consul::{self, AgentSelf};
use crate::dns::{self, DnsError, Family, Source, Transport};
use crate::redis::batch::{Batch, Exchange};
use crate::redis::sentinel::MasterQuery;
use crate::redis::{self, ConnectOptions, InfoRole, LinkStatus, RedisConn, ReplicationInfo, Role, ServerKind};
use crate::roles;

/// What was read from Consul, kept for publishing.
pub(crate) struct ConsulSide {
    pub client: Result<consul::Client, consul::Error>,
    /// The service's instances, when publishing.
    pub instances: Option<Result<Vec<roles::Instance>, consul::Error>>,
}

/// The observations plus the Consul side for step 3.
pub(crate) struct Seen {
    pub observations: Observations,
    pub consul: ConsulSide,
}

enum Msg {
    Dns(Result<Vec<IpAddr>, DnsError>),
    Consul(Option<Result<AgentSelf, consul::Error>>, Box<ConsulSide>),
    NamedMaster(Result<Role, redis::Error>),
}

fn spawn(tx: &mpsc::Sender<Msg>, job: Box<dyn FnOnce() -> Msg + Send>) {
    let tx = tx.clone();
    // A thread that cannot start leaves its observation to the timeout below.
    let _ = std::thread::Builder::new().spawn(move || {
        let _ = tx.send(job());
    });
}

/// How long after the window a thread's answer is still taken: every thread's own timeouts end
/// within the window, this only absorbs scheduling.
const GRACE: Duration = Duration::from_millis(25);

/// `d` cut to whole milliseconds (at least 1 ms). Timeouts are named in messages, and line 1 of
/// the output must not change from run to run while the state does not.
pub(crate) fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1))
}

/// A Consul timeout names the time left of the deadline, which differs from run to run; name
/// the window it had instead.
pub(crate) fn steady(e: consul::Error, window: Duration) -> consul::Error {
    match e {
        consul::Error::Timeout { addr, request, .. } => consul::Error::Timeout { addr, request, after: window },
        other => other,
    }
}

/// Asks everything that `settings` calls for and returns `window` after `start` (plus
/// [`GRACE`]).
pub(crate) fn observe(settings: &Settings, start: Instant, window: Duration) -> Seen {
    let deadline = start + window;
    // Connecting (with its handshake and login) and the command each get 40 % of the window: a
    // frozen server accepts the TCP connection from the kernel's backlog and then never
    // answers, so only these timeouts catch it, and both together must end inside the window.
    let step = whole_ms(window.mul_f64(0.4));
    let redis_opts = ConnectOptions { connect_timeout: step, io_timeout: step, auth: settings.auth.clone(), ..Default::default() };
    // Sentinels get 20 % each for connecting and asking, so that DNS, which is asked only when
    // they cannot arbitrate, still has its own share of the window after them. They have no ACL
    // users of their own in the layouts we support: send only the password, which a sentinel
    // without `requirepass` accepts.
    let sentinel_step = whole_ms(window.mul_f64(0.2));
    let mut sentinel_opts = ConnectOptions { connect_timeout: sentinel_step, io_timeout: sentinel_step, ..redis_opts.clone() };
    sentinel_opts.auth.user = None;
    let with_sentinels = !settings.sentinels.is_empty();
    let dns_source = settings.dns_server.map_or(Source::System, Source::Server);
    let dns_name = settings.dns_name();
    let family = if settings.advertise_ip.is_some_and(|ip| ip.is_ipv6()) || settings.redis.ip().is_some_and(|ip| ip.is_ipv6()) {
        Family::V6
    } else {
        Family::V4
    };
    let need_identity = settings.advertise_ip.is_none();
    let need_consul = need_identity || settings.publish_tags;
    let need_dns = settings.mode != Mode::Replica;

    let (tx, rx) = mpsc::channel();
    // One attempt: a retry would not fit, and a lookup that fails is a warning, not a pass. The
    // lookup adds up to 100 ms of its own around the attempt.
    let lookup = |share: f64| -> Box<dyn FnOnce() -> Msg + Send> {
        let (name, source) = (dns_name.clone(), dns_source.clone());
        let options = dns::Options { timeout: whole_ms(window.mul_f64(share)), attempts: 1, transport: Transport::Tcp };
        Box::new(move || Msg::Dns(dns::lookup(&name, family, &source, &options)))
    };
    if need_dns && !with_sentinels {
        spawn(&tx, lookup(0.75));
    }
    if need_consul {
        let config = settings.consul.clone().with_timeout(step).with_deadline(deadline);
        let (service, publish) = (settings.service.clone(), settings.publish_tags);
        spawn(&tx, Box::new(move || {
            let client = consul::Client::new(&config);
            let (agent, instances) = match &client {
                // Two requests on two connections at once: one round trip instead of two
                // (a real agent's /v1/agent/self is slow to build).
                Ok(c) => std::thread::scope(|scope| {
                    let instances = publish.then(|| scope.spawn(|| roles::read_instances(c, &service)));
                    let agent = need_identity.then(|| c.agent_self());
                    let instances = instances.map(|h| h.join().unwrap_or_else(|_| Err(consul::Error::Config("the catalog reader panicked".into()))));
                    (agent, instances)
                }),
                Err(e) => (need_identity.then(|| Err(e.clone())), publish.then(|| Err(e.clone()))),
            };
            Msg::Consul(agent, Box::new(ConsulSide { client, instances }))
        }));
    }
    // The local Redis and the sentinels are asked from this thread, all at once, while the
    // other threads run. When a majority decides, DNS would only be a note: it is not asked at
    // all then, which spares every host a lookup per interval. Otherwise it is asked as soon as
    // the sentinels have answered, with the local Redis still under way.
    //
    // INFO cannot tell a replica that is starting a sync (handshake, or waiting for the
    // master's BGSAVE) from one whose master is gone; ROLE's state can. It goes in the same
    // write and costs no round trip of its own.
    let local_exchange = Exchange {
        kind: ServerKind::Redis,
        addr: &settings.redis,
        opts: &redis_opts,
        commands: vec![(redis::INFO_REPLICATION, redis::info_replication_cmd()), (redis::ROLE, redis::role_cmd())],
    };
    let query = with_sentinels.then(|| MasterQuery::new(&settings.sentinels, &settings.sentinel_master));
    let mut exchanges = vec![local_exchange];
    exchanges.extend(query.iter().flat_map(|q| q.exchanges(&sentinel_opts)));
    let mut batch = Batch::start(&exchanges);
    let sentinels = query.map(|q| q.votes((1..exchanges.len()).map(|i| batch.take(i))));
    let arbitration = sentinels.as_ref().map(|v| arbitrate(Some(v), settings.sentinel_count));
    let undecided = matches!(arbitration, Some(Arbitration::Unknown { .. }));
    let mut dns_asked = need_dns && (!with_sentinels || undecided);
    if need_dns && undecided {
        spawn(&tx, lookup(0.45));
    }
    let (local, replica_state) = match batch.take(0) {
        Ok(mut replies) => {
            let info = redis::info_replication_from(ServerKind::Redis, &settings.redis, replies.take(0));
            let unclear = info.as_ref().is_ok_and(|i| i.master.as_ref().is_some_and(|m| m.link_status == LinkStatus::Down && !m.sync_in_progress));
            let state = match redis::role_from(ServerKind::Redis, &settings.redis, replies.take(1)) {
                Ok(Role::Replica { state, .. }) if unclear => Some(state),
                _ => None,
            };
            (info, state)
        }
        Err(e) => (Err(e), None),
    };
    let named = match arbitration {
        Some(Arbitration::Agreed { master, .. }) => Some(master),
        _ => None,
    };
    // The sender is kept while the named master may still have to be asked, which is known once
    // the local role (and, without --advertise-ip, the agent's answer) is in. The receiver ends
    // once every thread has answered and dropped its sender.
    let mut tx = named.is_some().then_some(tx);
    // Same steps as the sentinels' (which ended before), so its messages do not vary by run.
    let named_step = sentinel_step;

    let mut dns_result = None;
    let mut consul_msg = None;
    let mut named_role = None;
    let mut named_asked = false;
    loop {
        if let (Some(sender), Some(master)) = (&tx, &named) {
            match named_master_to_ask(settings, master, &local, consul_msg.as_ref().map(|(agent, _)| agent)) {
                Some(true) => {
                    let (addr, opts) = (master.clone(), ConnectOptions { connect_timeout: named_step, io_timeout: named_step, ..redis_opts.clone() });
                    spawn(sender, Box::new(move || Msg::NamedMaster(RedisConn::connect(&addr, &opts).and_then(|mut c| c.role()))));
                    // Should it deny, DNS decides as without a majority: ask it alongside.
                    if need_dns {
                        spawn(sender, lookup(0.45));
                        dns_asked = true;
                    }
                    named_asked = true;
                    tx = None;
                }
                Some(false) => tx = None,
                None => {}
            }
        }
        let left = (deadline + GRACE).saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Msg::Dns(r)) => dns_result = Some(r),
            Ok(Msg::Consul(agent, side)) => consul_msg = Some((agent, *side)),
            Ok(Msg::NamedMaster(r)) => named_role = Some(r),
            // Every thread has answered (all senders gone) or the window closed.
            Err(_) => break,
        }
    }

    let dns = dns_asked.then(|| DnsAnswer {
        name: dns_name.trim_end_matches('.').to_string(),
        result: dns_result.unwrap_or_else(|| Err(DnsError::Timeout { name: dns_name.clone(), server: dns_source.clone(), after: window })),
    });
    let consul_timeout = |request: &str| consul::Error::Timeout {
        addr: settings.consul.address.to_string(),
        request: request.to_string(),
        after: window,
    };
    let (agent, consul) = match consul_msg {
        Some((agent, side)) => (
            agent.map(|r| r.map_err(|e| steady(e, window))),
            ConsulSide { client: side.client, instances: side.instances.map(|r| r.map_err(|e| steady(e, window))) },
        ),
        None => (
            need_identity.then(|| Err(consul_timeout("GET /v1/agent/self"))),
            ConsulSide {
                client: Err(consul_timeout("GET /v1/agent/self")),
                instances: settings.publish_tags.then(|| Err(consul_timeout(&format!("GET /v1/health/service/{}", settings.service)))),
            },
        ),
    };
    let identity = identity(settings, agent.as_ref());
    let named_master = named.filter(|_| named_asked).map(|addr| NamedMaster {
        role: named_role.unwrap_or_else(|| Err(redis::Error::Timeout { kind: ServerKind::Redis, addr: addr.clone(), after: named_step })),
        addr,
    });
    Seen { observations: Observations { local, replica_state, identity, sentinels, dns, named_master }, consul }
}

/// Whether the sentinels' `master` must be asked its role: only when the local Redis says
/// master and this node is not `master`. `None` while the agent's answer, which names this
/// node, is not in yet.
fn named_master_to_ask(
    settings: &Settings,
    master: &HostPort,
    local: &Result<ReplicationInfo, redis::Error>,
    agent: Option<&Option<Result<AgentSelf, consul::Error>>>,
) -> Option<bool> {
    match local {
        Ok(info) if info.role == InfoRole::Master => {}
        _ => return Some(false),
    }
    let identity = match settings.advertise_ip {
        Some(_) => identity(settings, None),
        None => identity(settings, agent?.as_ref()),
    };
    Some(identity.ip().is_some_and(|ip| !same_endpoint(master, &HostPort { host: ip.to_string(), port: settings.redis.port })))
}

/// `--advertise-ip`, else the agent's node address, else the `--redis` host unless loopback.
fn identity(settings: &Settings, agent: Option<&Result<AgentSelf, consul::Error>>) -> Identity {
    if let Some(ip) = settings.advertise_ip {
        return Identity::Known { ip, source: IdentitySource::Flag };
    }
    let agent_problem = match agent {
        Some(Ok(a)) => match a.node_address.parse::<IpAddr>() {
            Ok(ip) => return Identity::Known { ip, source: IdentitySource::Agent },
            Err(_) => format!("the consul agent's node address {:?} is not an IP address", a.node_address),
        },
        Some(Err(e)) => e.to_string(),
        None => "the consul agent was not asked".to_string(),
    };
    match settings.redis.ip() {
        Some(ip) if !ip.is_loopback() => Identity::Known { ip, source: IdentitySource::RedisHost },
        _ => Identity::Unknown { reason: format!("{agent_problem}, and --redis is not a routable address") },
    }
}
