//! Test support for the MySQL hooks: a Consul stand-in datacenter with the records the hooks
//! manage ([`Dc`]), and running `mysql-before-exec` / `mysql-after-exec` the way mysqlfailover
//! does (bare path, positional arguments, settings from the environment). Included by the tests
//! of both hook crates with `#[path]`, next to the generic `support` module of
//! `redis-master-check/tests`, which must be declared as `mod support` in the including file.
//!
//! A package's own hook comes from `CARGO_BIN_EXE_…`; the other hook is found next to the test
//! executable (`target/<profile>/mysql-before-exec`), as ripgrep's tests find `rg`, unless
//! `SENGU_MYSQL_BEFORE_EXEC` / `SENGU_MYSQL_AFTER_EXEC` names it. `cargo test --workspace`
//! builds both; under `cargo test -p <one hook>` the other is built only if missing (see
//! [`hook_bin`]).

#![allow(dead_code)] // each test file uses a different subset

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use consul_standin::Standin;
use sengu::consul::{CatalogRegistration, Client, ClientConfig, KvWrite, Service};
use sengu::settings::Secret;
use sengu::dns::{self, DnsError};

use crate::support::{run_env, Run};

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

/// `mysql-after-exec`: see [`hook_bin`].
pub fn after_bin() -> String {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| hook_bin("mysql-after-exec", option_env!("CARGO_BIN_EXE_mysql-after-exec"), "SENGU_MYSQL_AFTER_EXEC")).clone()
}

/// `mysql-before-exec`: see [`hook_bin`].
pub fn before_bin() -> String {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| hook_bin("mysql-before-exec", option_env!("CARGO_BIN_EXE_mysql-before-exec"), "SENGU_MYSQL_BEFORE_EXEC")).clone()
}

/// A hook binary: the path in `override_var`, else the package's own binary (`own`, from
/// `CARGO_BIN_EXE_…`), else the copy next to this test executable. `cargo test --workspace`
/// builds that copy fresh; when it is missing (`cargo test -p <one hook>` on a fresh tree) it is
/// built here first. It is not rebuilt when present: `cargo build -p` resolves features apart
/// from the test run and would recompile dependencies, so after changing the other hook alone,
/// run `cargo test --workspace` (or build it) to test the new copy.
fn hook_bin(name: &str, own: Option<&str>, override_var: &str) -> String {
    if let Ok(path) = std::env::var(override_var) {
        return path;
    }
    if let Some(path) = own {
        return path.to_string();
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--quiet", "--bin", name, "-p", name]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if path.parent().and_then(Path::file_name).is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().unwrap_or_else(|e| panic!("run cargo build -p {name}: {e}"));
        assert!(status.success(), "cargo build -p {name} failed; build it or set {override_var}");
    }
    path.display().to_string()
}

fn run_hook(bin: &str, dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let env = dc.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    run_env(bin, args, &all)
}

/// Runs `mysql-before-exec args…` as mysqlfailover would, with `dc`'s environment plus `extra`.
pub fn before(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    run_hook(&before_bin(), dc, args, extra)
}

/// Runs `mysql-after-exec args…` as mysqlfailover would, with `dc`'s environment plus `extra`.
pub fn after(dc: &Dc, args: &[&str], extra: &[(&str, &str)]) -> Run {
    run_hook(&after_bin(), dc, args, extra)
}

/// A hook runner: [`before`] or [`after`].
pub type Hook = fn(&Dc, &[&str], &[(&str, &str)]) -> Run;

/// Runs `hook` ([`before`] or [`after`]) with bad input against a seeded `dc` and checks that
/// it exits 2 with `message` (on stderr or stdout) and that neither Consul nor the action log
/// changed.
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
