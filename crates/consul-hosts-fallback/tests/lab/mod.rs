//! A client host in a private mount, network, UTS and PID namespace, where glibc itself
//! (`getent ahosts`) resolves through the shipped layout: `/etc/nsswitch.conf` and the dnsmasq
//! config from `examples/consul-hosts-fallback/`, a consul-standin agent on the usual
//! `127.0.0.1:8500` (HTTP) and `:8600` (DNS), dnsmasq on `127.0.0.1:53`, and the
//! `consul-hosts-fallback` executable under test. Only loopback exists in the namespace, so
//! the standard ports cannot meet anything else, and nothing reaches the machine's resolver.
//!
//! [`netns_test!`] re-runs the test binary for exactly one test inside
//! `unshare --mount --net --uts --pid --fork --kill-child --mount-proc`; the test body then runs
//! there as the namespace's first process. When it ends (or the parent kills it at the
//! deadline), the kernel kills everything left in the namespace, and the namespace goes with
//! it; on the way out, [`Lab`]'s `Drop` stops the processes and removes its files, on a panic
//! too.
//!
//! `/etc` inside is a bind mount of a copy of the machine's `/etc` whose `hosts`, `resolv.conf`
//! and `nsswitch.conf` are the test's own: bind-mounting single files would make `/etc/hosts`
//! a mount point, which a rename cannot replace (EBUSY), and the program replaces it by rename.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use consul_standin::Standin;
use sengu::consul::{CatalogDeregistration, CatalogRegistration, Client, ClientConfig, Service};
use testbed::Proc;

/// The longest one namespace test may take before the parent kills it.
const TEST_DEADLINE: Duration = Duration::from_secs(120);
/// The host name inside the namespace, listed in its /etc/hosts as Debian does.
pub const HOSTNAME: &str = "sengu-client";
/// The Consul service the tests publish and its master's name.
pub const SERVICE: &str = "redis";
pub const MASTER: &str = "master.redis.service.consul";
pub const AGENT_HTTP: &str = "127.0.0.1:8500";
pub const AGENT_DNS: &str = "127.0.0.1:8600";
pub const LOCAL_DNS: &str = "127.0.0.1:53";

/// The host's own /etc/hosts: only its names, as a Debian install writes it.
pub const OWN_HOSTS: &str = "127.0.0.1\tlocalhost\n127.0.1.1\tsengu-client\n\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// A `#[test]` whose body runs inside a fresh namespace with a [`Lab`].
macro_rules! netns_test {
    ($(#[$meta:meta])* fn $name:ident($lab:ident) $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            let path = concat!(module_path!(), "::", stringify!($name));
            // The test binary's own crate name comes first; libtest's names start after it.
            let test = path.split_once("::").map_or(path, |(_, rest)| rest);
            crate::lab::in_namespace(test, |$lab: &mut crate::lab::Lab| $body);
        }
    };
}
pub(crate) use netns_test;

/// The repository's `examples/consul-hosts-fallback/<file>`.
pub fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/consul-hosts-fallback").join(file)
}

/// In the parent: re-runs this binary for `test` in new private namespaces
/// ([`testbed::netlab::in_private_net`]) and fails with its output unless that run passed
/// exactly one test. In the child: builds the [`Lab`] and runs `body`.
pub fn in_namespace(test: &str, body: impl FnOnce(&mut Lab)) {
    testbed::netlab::in_private_net(test, TEST_DEADLINE, || {
        let mut lab = Lab::start();
        body(&mut lab);
    });
}

/// One run of the executable.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    fn from(output: Output, took: Duration) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took,
        }
    }

    /// Asserts the exit code, showing everything when it differs.
    pub fn exits(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }
}

/// The client host: its files, its Consul agent, its dnsmasq. See the module doc.
pub struct Lab {
    // Dropped first (field order): the processes, then the mount, then the files.
    consul: Option<Standin>,
    dnsmasq: Option<Proc>,
    watcher: Option<Proc>,
    etc_mounted: bool,
    dir: tempfile::TempDir,
}

impl Lab {
    fn start() -> Lab {
        let dir = tempfile::Builder::new().prefix("sengu-hosts-fallback-").tempdir().unwrap();
        run_ok(Command::new("ip").args(["link", "set", "lo", "up"]));
        run_ok(Command::new("hostname").arg(HOSTNAME));
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        run_ok(Command::new("cp").arg("-a").arg("/etc/.").arg(&etc));
        std::fs::write(etc.join("hosts"), OWN_HOSTS).unwrap();
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n").unwrap();
        std::fs::copy(example("nsswitch.conf"), etc.join("nsswitch.conf")).unwrap();
        run_ok(Command::new("mount").arg("--bind").arg(&etc).arg("/etc"));
        std::fs::create_dir(dir.path().join("state")).unwrap();
        let mut lab = Lab { consul: None, dnsmasq: None, watcher: None, etc_mounted: true, dir };
        lab.start_consul();
        lab.start_dnsmasq();
        lab
    }

    /// The state file the executable keeps.
    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("state/hosts-fallback")
    }

    /// The consul-standin agent on 127.0.0.1:8500 and :8600, empty.
    pub fn start_consul(&mut self) {
        let standin = Standin::builder().agent_at("client", AGENT_HTTP.parse().unwrap()).dns_at(AGENT_DNS.parse().unwrap()).start().expect("start consul-standin");
        self.consul = Some(standin);
    }

    /// The agent dies: its HTTP and DNS listeners close.
    pub fn stop_consul(&mut self) {
        if let Some(consul) = self.consul.take() {
            consul.stop();
        }
    }

    /// dnsmasq on 127.0.0.1:53 with the shipped config; returns once it answers.
    pub fn start_dnsmasq(&mut self) {
        let log = self.dir.path().join("dnsmasq.log");
        let mut cmd = Command::new(testbed::dnsmasq::dnsmasq_bin());
        cmd.arg(format!("--conf-file={}", example("dnsmasq.conf").display()))
            // The test's own: no upstream for other names, no daemon, no pid file, a log,
            // and root (as root dnsmasq would switch to nobody, who cannot write that log).
            .args(["--no-resolv", "--keep-in-foreground", "--pid-file=", "--log-queries", "--user=root"])
            .arg(format!("--log-facility={}", log.display()));
        let mut proc = Proc::spawn("dnsmasq", cmd, &log).expect("spawn dnsmasq");
        let addr: SocketAddr = LOCAL_DNS.parse().unwrap();
        let tail = || std::fs::read_to_string(&log).unwrap_or_default();
        testbed::wait_until(
            Duration::from_secs(20),
            "dnsmasq on 127.0.0.1:53 to answer",
            || {
                assert!(proc.is_running(), "dnsmasq exited\n{}", tail());
                testbed::dnsmasq::query(addr, "ready.probe", false, Duration::from_millis(300)).ok()
            },
            tail,
        );
        self.dnsmasq = Some(proc);
    }

    /// `kill -9` of dnsmasq: nothing answers on :53 any more.
    pub fn kill_dnsmasq(&mut self) {
        if let Some(mut proc) = self.dnsmasq.take() {
            proc.kill9();
        }
    }

    fn consul_client(&self) -> Client {
        Client::new(&ClientConfig::from_env().unwrap().with_address(AGENT_HTTP).unwrap()).unwrap()
    }

    /// Publishes `ip` as a passing master of [`SERVICE`] on catalog node `node` (no checks:
    /// healthy, as Consul treats a catalog-only node).
    pub fn publish_master(&self, node: &str, ip: IpAddr) {
        let service = Service { id: SERVICE.into(), service: SERVICE.into(), tags: vec!["master".into()], port: 6379, ..Service::default() };
        let registration = CatalogRegistration { node: node.into(), address: ip.to_string(), service: Some(service), ..CatalogRegistration::default() };
        self.consul_client().catalog_register(&registration).unwrap();
    }

    /// Takes the instance on `node` out of Consul, as a failover hook does mid-move.
    pub fn unpublish(&self, node: &str) {
        let deregistration = CatalogDeregistration { node: node.into(), service_id: SERVICE.into(), ..CatalogDeregistration::default() };
        self.consul_client().catalog_deregister(&deregistration).unwrap();
    }

    /// The executable's argv for `task` in this lab, the shipped defaults otherwise
    /// (`--hosts-file /etc/hosts`, `--dns-server 127.0.0.1:53`).
    pub fn args(&self, task: &str) -> Vec<String> {
        let state = self.state_file().display().to_string();
        [task, "--service", SERVICE, "--state-file", &state, "--consul-addr", AGENT_HTTP, "--config", "/dev/null"].map(String::from).to_vec()
    }

    /// One `consul-hosts-fallback sync`.
    pub fn sync(&self) -> Run {
        self.run(&self.args("sync"))
    }

    /// Runs the executable with `args` and a clean environment.
    pub fn run(&self, args: &[String]) -> Run {
        let start = Instant::now();
        let output = command(args).output().expect("run consul-hosts-fallback");
        Run::from(output, start.elapsed())
    }

    /// Starts `consul-hosts-fallback watch --interval <interval>` in the background.
    pub fn start_watch(&mut self, interval: &str) {
        let mut args = self.args("watch");
        args.extend(["--interval".to_string(), interval.to_string()]);
        let log = self.dir.path().join("watch.log");
        self.watcher = Some(Proc::spawn("consul-hosts-fallback watch", command(&args), &log).unwrap());
    }

    /// What glibc gives every client on this host for `name`: the addresses `getent ahosts`
    /// prints, distinct and sorted; empty when it finds none.
    pub fn getent(&self, name: &str) -> Vec<IpAddr> {
        let out = Command::new("getent").args(["ahosts", name]).output().expect("run getent");
        let mut addrs: Vec<IpAddr> = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
        addrs.sort();
        addrs.dedup();
        addrs
    }

    /// localhost and the host's name resolve to their /etc/hosts addresses.
    pub fn assert_own_names(&self) {
        let localhost = self.getent("localhost");
        assert!(localhost.contains(&"127.0.0.1".parse().unwrap()), "localhost: {localhost:?}");
        assert_eq!(self.getent(HOSTNAME), vec!["127.0.1.1".parse::<IpAddr>().unwrap()], "{HOSTNAME}");
    }

    /// The managed lines of /etc/hosts (empty when there is no block).
    pub fn block(&self) -> Vec<String> {
        let text = std::fs::read_to_string("/etc/hosts").unwrap();
        let mut inside = false;
        let mut lines = Vec::new();
        for line in text.lines() {
            if line.starts_with("# BEGIN consul-hosts-fallback") {
                inside = true;
            } else if line == "# END consul-hosts-fallback" {
                inside = false;
            } else if inside {
                lines.push(line.to_string());
            }
        }
        lines
    }

    /// The state file's entry lines (comments left out).
    pub fn state(&self) -> Vec<String> {
        std::fs::read_to_string(self.state_file()).unwrap_or_default().lines().filter(|l| !l.starts_with('#')).map(String::from).collect()
    }

    /// The dnsmasq log, for failure messages.
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!("--- /etc/hosts ---\n{}\n--- watch ---\n{}\n--- dnsmasq ---\n{}", std::fs::read_to_string("/etc/hosts").unwrap_or_default(), read("watch.log"), read("dnsmasq.log"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.watcher.take();
        self.dnsmasq.take();
        self.stop_consul();
        if self.etc_mounted {
            let _ = Command::new("umount").arg("/etc").status();
            self.etc_mounted = false;
        }
    }
}

/// The executable under test with argv `args` and only `PATH` from the environment.
pub fn command(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_consul-hosts-fallback"));
    cmd.args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).stdin(Stdio::null());
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}
