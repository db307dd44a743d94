//! A master, its replicas and the sentinels watching them, each on the loopback address of its
//! "host", handed out only once `ROLE` and every sentinel confirm the topology; plus whole-host
//! faults and waits on what the sentinels agree on. Still one piece past 400 lines: every wait
//! and fault here is about the topology as a whole; most of the length is builder setters.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::sentinel::{Sentinel, SentinelBuilder, DEFAULT_DOWN_AFTER, DEFAULT_FAILOVER_TIMEOUT};
use super::server::{RedisServer, RedisServerBuilder, Role};
use super::{PROBE_TIMEOUT, START_TIMEOUT};
use crate::ports::host;
use crate::process::wait_until;

/// How long a set gets to form: sentinels find each other through hellos sent every 2 s.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// The shape and settings of a [`RedisSet`].
#[derive(Debug, Clone)]
pub struct RedisSetBuilder {
    replicas: usize,
    sentinels: usize,
    first_host: u8,
    sentinel_hosts: Option<Vec<IpAddr>>,
    master_name: String,
    quorum: u32,
    down_after: Duration,
    failover_timeout: Duration,
    myids: Vec<String>,
    client_reconfig_script: Option<PathBuf>,
    sentinel_env: Vec<(OsString, OsString)>,
    requirepass: Option<String>,
    acl_user: Option<(String, String)>,
    server_config: Vec<String>,
    sentinel_config: Vec<String>,
}

impl RedisSetBuilder {
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// Number of sentinels, placed by the default layout (see [`sentinel_hosts`](Self::sentinel_hosts)).
    pub fn sentinels(mut self, n: usize) -> Self {
        self.sentinels = n;
        self.sentinel_hosts = None;
        self
    }

    /// One sentinel per entry, on that host, in this order (sentinel `i` gets `myids[i]`).
    /// Without it, sentinels go round-robin over the replicas' hosts and then the master's, sorted
    /// by host: with 1 replica and 3 sentinels that is one on the master's host and two on the
    /// replica's (the 2-host layout of reference A5).
    pub fn sentinel_hosts(mut self, hosts: Vec<IpAddr>) -> Self {
        self.sentinels = hosts.len();
        self.sentinel_hosts = Some(hosts);
        self
    }

    /// Host number of the master (default 11, i.e. 127.0.0.11); replica `i` is on the next ones.
    pub fn first_host(mut self, n: u8) -> Self {
        self.first_host = n;
        self
    }

    /// Sentinels' name for the master (default `mymaster`).
    pub fn master_name(mut self, name: impl Into<String>) -> Self {
        self.master_name = name.into();
        self
    }

    /// Default 2.
    pub fn quorum(mut self, quorum: u32) -> Self {
        self.quorum = quorum;
        self
    }

    pub fn down_after(mut self, d: Duration) -> Self {
        self.down_after = d;
        self
    }

    pub fn failover_timeout(mut self, d: Duration) -> Self {
        self.failover_timeout = d;
        self
    }

    /// Fixed myids for the first `ids.len()` sentinels (see [`Sentinel::numbered_myid`]).
    pub fn myids(mut self, ids: Vec<String>) -> Self {
        self.myids = ids;
        self
    }

    /// `client-reconfig-script` for every sentinel.
    pub fn client_reconfig_script(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_reconfig_script = Some(path.into());
        self
    }

    /// An environment variable for every sentinel (and so for its scripts).
    pub fn sentinel_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.sentinel_env.push((key.into(), value.into()));
        self
    }

    /// `requirepass` on every server, used as `masterauth` and as the sentinels' `auth-pass`.
    pub fn requirepass(mut self, password: impl Into<String>) -> Self {
        self.requirepass = Some(password.into());
        self
    }

    /// An ACL user on every server, used for replication and by the sentinels (`auth-user`).
    pub fn acl_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.acl_user = Some((name.into(), password.into()));
        self
    }

    /// A config line for every server.
    pub fn server_config_line(mut self, line: impl Into<String>) -> Self {
        self.server_config.push(line.into());
        self
    }

    /// A config line for every sentinel.
    pub fn sentinel_config_line(mut self, line: impl Into<String>) -> Self {
        self.sentinel_config.push(line.into());
        self
    }

    fn server_builder(&self, ip: IpAddr) -> RedisServerBuilder {
        let mut b = RedisServer::builder(ip);
        if let Some(pw) = &self.requirepass {
            b = b.requirepass(pw.clone());
        }
        if let Some((user, pw)) = &self.acl_user {
            b = b.acl_user(user.clone(), pw.clone());
        }
        for line in &self.server_config {
            b = b.config_line(line.clone());
        }
        b
    }

    fn default_sentinel_hosts(&self) -> Vec<IpAddr> {
        let order: Vec<u8> = (1..=self.replicas as u8).chain([0]).map(|i| self.first_host + i).collect();
        let mut hosts: Vec<u8> = (0..self.sentinels).map(|i| order[i % order.len()]).collect();
        hosts.sort_unstable();
        hosts.into_iter().map(host).collect()
    }

    /// Starts the master, then the replicas, then the sentinels, and returns once `ROLE` shows
    /// every replica connected and every sentinel reports `num-slaves == replicas` and
    /// `num-other-sentinels == sentinels - 1`. Panics with all logs and the sentinels' view on timeout.
    pub fn start(self) -> RedisSet {
        let master = self.server_builder(host(self.first_host)).start();
        let mut servers = vec![master];
        for i in 1..=self.replicas {
            let replica = self.server_builder(host(self.first_host + i as u8)).replica_of(servers[0].addr()).start();
            servers.push(replica);
        }
        let mut template = Sentinel::builder(host(self.first_host), self.master_name.clone(), servers[0].addr())
            .quorum(self.quorum)
            .down_after(self.down_after)
            .failover_timeout(self.failover_timeout);
        if let Some(script) = &self.client_reconfig_script {
            template = template.client_reconfig_script(script.clone());
        }
        for (k, v) in &self.sentinel_env {
            template = template.env(k.clone(), v.clone());
        }
        match (&self.acl_user, &self.requirepass) {
            (Some((user, pw)), _) => template = template.master_auth(Some(user), pw.clone()),
            (None, Some(pw)) => template = template.master_auth(None, pw.clone()),
            (None, None) => {}
        }
        for line in &self.sentinel_config {
            template = template.config_line(line.clone());
        }
        let mut set = RedisSet { sentinels: Vec::new(), servers, template, down_after: self.down_after };
        let master_addr = set.servers[0].addr();
        let replicas: Vec<SocketAddr> = set.servers[1..].iter().map(RedisServer::addr).collect();
        wait_until(
            START_TIMEOUT,
            &format!("master {master_addr} to list replicas {replicas:?} in ROLE"),
            || set.servers[0].role().ok().filter(|r| replicas.iter().all(|a| r.lists_replica(*a))).map(|_| ()),
            || set.report(),
        );
        let hosts = self.sentinel_hosts.clone().unwrap_or_else(|| self.default_sentinel_hosts());
        for (i, ip) in hosts.into_iter().enumerate() {
            let mut b = set.template.clone().ip(ip);
            if let Some(id) = self.myids.get(i) {
                b = b.myid(id.clone());
            }
            set.sentinels.push(b.start());
        }
        set.wait_sentinel_counts(self.sentinels.saturating_sub(1), self.replicas, FORM_TIMEOUT);
        set
    }
}

/// A running master + replicas + sentinels. Dropping it kills every process.
#[derive(Debug)]
pub struct RedisSet {
    // Sentinels are dropped first, so none of them reacts to the servers going away.
    sentinels: Vec<Sentinel>,
    servers: Vec<RedisServer>,
    template: SentinelBuilder,
    down_after: Duration,
}

impl RedisSet {
    /// A master on host(11), `replicas` replicas on host(12), host(13), …, and `sentinels`
    /// sentinels in the default layout, quorum 2, fast timings.
    pub fn new(replicas: usize, sentinels: usize) -> RedisSet {
        Self::builder().replicas(replicas).sentinels(sentinels).start()
    }

    pub fn builder() -> RedisSetBuilder {
        RedisSetBuilder {
            replicas: 1,
            sentinels: 3,
            first_host: 11,
            sentinel_hosts: None,
            master_name: "mymaster".into(),
            quorum: 2,
            down_after: DEFAULT_DOWN_AFTER,
            failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            myids: Vec::new(),
            client_reconfig_script: None,
            sentinel_env: Vec::new(),
            requirepass: None,
            acl_user: None,
            server_config: Vec::new(),
            sentinel_config: Vec::new(),
        }
    }

    pub fn master_name(&self) -> &str {
        self.sentinels.first().map_or("mymaster", Sentinel::master_name)
    }

    /// The sentinels' `down-after-milliseconds`, to size test deadlines.
    pub fn down_after(&self) -> Duration {
        self.down_after
    }

    /// All servers; index 0 is the master the set started with, then the replicas in host order.
    pub fn servers(&self) -> &[RedisServer] {
        &self.servers
    }

    pub fn server(&self, i: usize) -> &RedisServer {
        &self.servers[i]
    }

    pub fn server_mut(&mut self, i: usize) -> &mut RedisServer {
        &mut self.servers[i]
    }

    /// The server listening on `addr`.
    pub fn server_at(&self, addr: SocketAddr) -> Option<&RedisServer> {
        self.servers.iter().find(|s| s.addr() == addr)
    }

    pub fn server_at_mut(&mut self, addr: SocketAddr) -> Option<&mut RedisServer> {
        self.servers.iter_mut().find(|s| s.addr() == addr)
    }

    pub fn sentinels(&self) -> &[Sentinel] {
        &self.sentinels
    }

    pub fn sentinel(&self, i: usize) -> &Sentinel {
        &self.sentinels[i]
    }

    pub fn sentinel_mut(&mut self, i: usize) -> &mut Sentinel {
        &mut self.sentinels[i]
    }

    /// A builder for one more sentinel on `ip` with this set's settings (name, quorum, timings,
    /// auth, script, env), monitoring the current master (or the initial one if the sentinels
    /// disagree). Add `.myid(…)` to move an existing identity there.
    pub fn sentinel_builder(&self, ip: IpAddr) -> SentinelBuilder {
        let master = self.current_master().unwrap_or_else(|| self.servers[0].addr());
        self.template.clone().ip(ip).master(master)
    }

    /// Adopts a sentinel (so views, waits and drop include it); returns its index.
    pub fn add_sentinel(&mut self, sentinel: Sentinel) -> usize {
        self.sentinels.push(sentinel);
        self.sentinels.len() - 1
    }

    /// Hands sentinel `i` to the caller (dropping it kills it); later indices shift down.
    pub fn remove_sentinel(&mut self, i: usize) -> Sentinel {
        self.sentinels.remove(i)
    }

    /// The master address every live sentinel that answers agrees on; `None` if they disagree
    /// or none answers. Killed and frozen sentinels are not asked.
    pub fn current_master(&self) -> Option<SocketAddr> {
        let answers: Vec<Option<SocketAddr>> = self
            .sentinels
            .iter()
            .filter(|s| s.is_live())
            .filter_map(|s| s.master_addr_within(PROBE_TIMEOUT).ok())
            .collect();
        let first = (*answers.first()?)?;
        answers.iter().all(|a| *a == Some(first)).then_some(first)
    }

    /// The server that [`current_master`](Self::current_master) names.
    pub fn master_server(&self) -> Option<&RedisServer> {
        self.server_at(self.current_master()?)
    }

    /// Waits until every live sentinel answers `GET-MASTER-ADDR-BY-NAME` with `addr`.
    pub fn wait_master_agreed(&self, addr: SocketAddr, timeout: Duration) {
        wait_until(
            timeout,
            &format!("every live sentinel to name {addr} as master"),
            || self.all_live_sentinels_name(addr).then_some(()),
            || self.report(),
        );
    }

    /// Waits until every live sentinel names the same master and it is not `old`; returns it.
    pub fn wait_new_master(&self, old: SocketAddr, timeout: Duration) -> SocketAddr {
        wait_until(
            timeout,
            &format!("the sentinels to agree on a master other than {old}"),
            || self.current_master().filter(|m| *m != old && self.all_live_sentinels_name(*m)),
            || self.report(),
        )
    }

    fn all_live_sentinels_name(&self, addr: SocketAddr) -> bool {
        self.sentinels
            .iter()
            .filter(|s| s.is_live())
            .all(|s| matches!(s.master_addr_within(PROBE_TIMEOUT), Ok(Some(a)) if a == addr))
    }

    /// Waits until every live sentinel reports `num-other-sentinels == other_sentinels` and
    /// `num-slaves == replicas` (remember: sentinels never forget peers or replicas, even dead ones).
    pub fn wait_sentinel_counts(&self, other_sentinels: usize, replicas: usize, timeout: Duration) {
        let (others, slaves) = (other_sentinels.to_string(), replicas.to_string());
        wait_until(
            timeout,
            &format!("every live sentinel to see {other_sentinels} other sentinels and {replicas} replicas"),
            || {
                self.sentinels
                    .iter()
                    .filter(|s| s.is_live())
                    .all(|s| {
                        s.master_info().is_ok_and(|m| {
                            m.get("num-other-sentinels") == Some(&others) && m.get("num-slaves") == Some(&slaves)
                        })
                    })
                    .then_some(())
            },
            || self.report(),
        );
    }

    /// Waits until `ROLE` on the server at `master` says master and lists every other live
    /// server as a replica, and each of those reports its link `connected`.
    pub fn wait_replicas_connected(&self, master: SocketAddr, timeout: Duration) {
        wait_until(
            timeout,
            &format!("every live server to be a connected replica of {master}"),
            || {
                let m = self.server_at(master)?;
                let role = m.role().ok()?;
                let others = self.servers.iter().filter(|s| s.addr() != master && s.is_live());
                let ok = matches!(role, Role::Master { .. })
                    && others.into_iter().all(|s| {
                        role.lists_replica(s.addr()) && s.role().is_ok_and(|r| r.is_connected_replica_of(master))
                    });
                ok.then_some(())
            },
            || self.report(),
        );
    }

    /// Every sentinel's view (master entry, replicas, peers) as text.
    pub fn sentinel_view(&self) -> String {
        self.sentinels.iter().map(Sentinel::view).collect()
    }

    /// Each server's `ROLE`, every process's log tail and the sentinels' view: what a failed
    /// wait prints.
    pub fn report(&self) -> String {
        let mut out = String::from("=== servers ===\n");
        for s in &self.servers {
            let role = if s.is_live() { format!("{:?}", s.role()) } else { "(killed or frozen)".into() };
            out.push_str(&format!("redis {}: {role}\n", s.addr()));
        }
        out.push_str("=== sentinel view ===\n");
        out.push_str(&self.sentinel_view());
        out.push_str("=== logs ===\n");
        for s in &self.servers {
            out.push_str(&s.log_tail());
            out.push('\n');
        }
        for s in &self.sentinels {
            out.push_str(&s.log_tail());
            out.push('\n');
        }
        out
    }

    /// `kill -9` of every server and sentinel on `ip`: the host dies.
    pub fn kill_host(&mut self, ip: IpAddr) {
        self.sentinels.iter_mut().filter(|s| s.ip() == ip).for_each(Sentinel::kill9);
        self.servers.iter_mut().filter(|s| s.ip() == ip).for_each(RedisServer::kill9);
    }

    /// SIGSTOP of every server and sentinel on `ip`: the host hangs.
    pub fn freeze_host(&self, ip: IpAddr) {
        self.sentinels.iter().filter(|s| s.ip() == ip).for_each(Sentinel::freeze);
        self.servers.iter().filter(|s| s.ip() == ip).for_each(RedisServer::freeze);
    }

    /// SIGCONT after [`freeze_host`](Self::freeze_host).
    pub fn thaw_host(&self, ip: IpAddr) {
        self.servers.iter().filter(|s| s.ip() == ip).for_each(RedisServer::thaw);
        self.sentinels.iter().filter(|s| s.ip() == ip).for_each(Sentinel::thaw);
    }

    /// Starts every server, then every sentinel, on `ip` again from its config (killing any that
    /// still run): the host reboots.
    pub fn restart_host(&mut self, ip: IpAddr) {
        self.servers.iter_mut().filter(|s| s.ip() == ip).for_each(RedisServer::restart);
        self.sentinels.iter_mut().filter(|s| s.ip() == ip).for_each(Sentinel::restart);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_puts_the_spare_sentinel_on_the_replica_host() {
        let b = RedisSet::builder().replicas(1).sentinels(3);
        assert_eq!(b.default_sentinel_hosts(), vec![host(11), host(12), host(12)]);
        let b = RedisSet::builder().replicas(2).sentinels(3);
        assert_eq!(b.default_sentinel_hosts(), vec![host(11), host(12), host(13)]);
        let b = RedisSet::builder().replicas(0).sentinels(2);
        assert_eq!(b.default_sentinel_hosts(), vec![host(11), host(11)]);
    }
}
