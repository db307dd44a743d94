//! Test support for the MySQL hooks: a Consul stand-in datacenter with the records the hooks
//! manage ([`Dc`]), running a hook the way mysqlfailover does (bare path, positional arguments,
//! settings from the environment: [`run_hook`]), and the MariaDB servers the hook scenarios
//! start. The hook's path comes from the caller: `CARGO_BIN_EXE_…` in the hook's own package,
//! `sengu_e2e::lab::bin` in the scenarios that run both hooks (see the crate doc).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use consul_standin::Standin;
use sengu::consul::{CatalogRegistration, Client, ClientConfig, KvWrite, Service};
use sengu::settings::Secret;
use sengu::dns::{self, DnsError};

use testbed::mariadb::{Mariadb, MariadbOpts};
use testbed::{host, reserve};

use crate::{run_env, Run};

pub const MASTER_NODE: &str = "foo-db-master";
pub const REPLICA_NODE: &str = "foo-db-slave";
pub const KV_KEY: &str = "foo-db-master";
pub const MOVE_KEY: &str = "sengu/mysql/foo-db-master/move";
pub const AGENT: &str = "consul1";

/// A stand-in datacenter (HTTP + DNS) with a client for seeding and asserting, and a temp dir
/// holding the hooks' MySQL option file and action log.
pub struct Dc {
    pub standin: Standin,
    pub client: Client,
    token: Option<String>,
    dir: tempfile::TempDir,
}

impl Dc {
    /// Starts a datacenter without ACLs. No `Default`: this starts a process.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Dc {
        Dc::start(None)
    }

    /// ACLs on, default deny; `token` may do everything.
    pub fn with_acl(token: &str) -> Dc {
        Dc::start(Some(token))
    }

    fn start(token: Option<&str>) -> Dc {
        let mut builder = Standin::builder().agent(AGENT, IpAddr::V4(Ipv4Addr::LOCALHOST)).dns(true);
        if let Some(token) = token {
            builder = builder.acl_token(token);
        }
        let standin = builder.start().expect("start consul stand-in");
        let mut config = ClientConfig::default().with_address(&standin.http_url(AGENT).unwrap()).unwrap();
        config.token = token.map(Secret::new);
        let client = Client::new(&config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // The least-privileged testbed user: status reads and read_only flips only.
        let cnf = format!("[client]\nuser = {}\npassword = {}\n", testbed::mariadb::MONITOR_USER, testbed::mariadb::MONITOR_PASSWORD);
        std::fs::write(dir.path().join("sengu.cnf"), cnf).unwrap();
        Dc { standin, client, token: token.map(str::to_owned), dir }
    }

    pub fn url(&self) -> String {
        self.standin.http_url(AGENT).unwrap()
    }

    pub fn dns_addr(&self) -> SocketAddr {
        self.standin.dns_addr().unwrap()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("actions.log")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What a hook needs: the agent, the option file, the action log. No token.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CONSUL_HTTP_ADDR".into(), self.url()),
            ("SENGU_MYSQL_DEFAULTS_FILE".into(), self.dir.path().join("sengu.cnf").display().to_string()),
            ("SENGU_LOG_FILE".into(), self.log_path().display().to_string()),
        ]
    }

    /// Publishes `master` as the old shell hooks did (node + bare host in KV) and, if given,
    /// `replica` as the replica node.
    pub fn seed(&self, master: IpAddr, replica: Option<IpAddr>) {
        self.register(MASTER_NODE, &master.to_string(), None);
        self.client.kv_put(KV_KEY, master.to_string().as_bytes(), KvWrite::default()).unwrap();
        if let Some(replica) = replica {
            self.register(REPLICA_NODE, &replica.to_string(), None);
        }
    }

    pub fn register(&self, node: &str, address: &str, service: Option<Service>) {
        let registration = CatalogRegistration { node: node.into(), address: address.into(), service, ..Default::default() };
        self.client.catalog_register(&registration).unwrap();
    }

    pub fn node_address(&self, node: &str) -> Option<String> {
        self.client.catalog_node(node).unwrap().map(|n| n.node.address)
    }

    pub fn master_node(&self) -> Option<String> {
        self.node_address(MASTER_NODE)
    }

    pub fn replica_node(&self) -> Option<String> {
        self.node_address(REPLICA_NODE)
    }

    pub fn kv(&self, key: &str) -> Option<String> {
        self.client.kv_get(key).unwrap().map(|p| String::from_utf8(p.value).unwrap())
    }

    pub fn master_kv(&self) -> Option<String> {
        self.kv(KV_KEY)
    }

    pub fn kv_index(&self, key: &str) -> Option<u64> {
        self.client.kv_get(key).unwrap().map(|p| p.modify_index)
    }

    /// Everything the hooks manage plus the datacenter's index: equal snapshots mean nothing
    /// was written.
    pub fn snapshot(&self) -> (Option<String>, Option<String>, Option<String>, Option<String>, u64) {
        (self.master_node(), self.master_kv(), self.replica_node(), self.kv(MOVE_KEY), self.standin.index())
    }

    /// A records for `name` from the stand-in's DNS server.
    pub fn dns(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let options = dns::Options { timeout: Duration::from_secs(2), attempts: 1, transport: dns::Transport::Tcp };
        dns::lookup(name, dns::Family::V4, &dns::Source::Server(self.dns_addr()), &options)
    }

    /// `foo-db-master.node.consul` answers exactly `ip`.
    #[track_caller]
    pub fn assert_dns_master(&self, ip: IpAddr) {
        assert_eq!(self.dns("foo-db-master.node.consul.").unwrap(), vec![ip]);
    }

    #[track_caller]
    pub fn assert_dns_no_master(&self) {
        let answer = self.dns("foo-db-master.node.consul.");
        assert!(matches!(answer, Err(DnsError::NxDomain { .. })), "{answer:?}");
    }

    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log_path()).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// A file holding the ACL token, for `CONSUL_HTTP_TOKEN_FILE`.
    pub fn token_file(&self) -> String {
        let path = self.dir.path().join("consul.token");
        std::fs::write(&path, format!("{}\n", self.token.as_deref().unwrap_or_default())).unwrap();
        path.display().to_string()
    }
}

/// Runs the hook at `bin` with `args` as mysqlfailover would, with `dc`'s environment plus
/// `extra`.
pub fn run_hook(bin: &str, dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let env = dc.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    run_env(bin, args, &all)
}

/// A hook runner: a test's `before` or `after`, which calls [`run_hook`] with its binary.
pub type Hook = fn(&Dc, &[&str], &[(&str, &str)]) -> Run;

/// Runs `hook` with bad input against a seeded `dc` and checks that it exits 2 with `message`
/// (on stderr or stdout) and that neither Consul nor the action log changed.
#[track_caller]
pub fn assert_refused(hook: Hook, dc: &Dc, args: &[&str], extra: &[(&str, &str)], message: &str) {
    let snapshot = dc.snapshot();
    let run = hook(dc, args, extra);
    run.exits(2);
    assert!(run.stderr().contains(message) || run.stdout().contains(message), "no {message:?}\n{run}");
    assert_eq!(dc.snapshot(), snapshot, "bad input changed consul\n{run}");
    assert!(dc.log_lines().is_empty(), "bad input reached the action log\n{run}");
}

/// `[host, port]` of a testbed server as hook arguments.
pub fn hook_args(db: &testbed::mariadb::Mariadb) -> [String; 2] {
    [db.host().to_string(), db.port().to_string()]
}

/// A writable MariaDB on host `n`: a new master that is ready to publish.
pub fn writable_master(n: u8) -> Mariadb {
    Mariadb::start(MariadbOpts::new(host(n)).read_only(false))
}

/// An old master that is gone: nothing listens on its port.
pub fn dead_old_master() -> (testbed::PortLease, [String; 2]) {
    let lease = reserve(host(11));
    let port = lease.port().to_string();
    (lease, [host(11).to_string(), port])
}
