//! The partition lab's network: "hosts" that are network namespaces of their own, joined by
//! veth pairs to a hub namespace that routes between them, and links cut and healed on
//! command (both ways or one way) by nftables rules in the hub.
//!
//! ```text
//!                 hub namespace (the caller's own, private): routes, nftables, observer
//!        10.77.0.1 (observer: never cut)   10.77.0.2 (the "Consul servers": hub-local)
//!            |  veth                           |  veth
//!   host a: 10.77.0.11                host b: 10.77.0.12              …
//! ```
//!
//! The hub is the namespace the calling process runs in, and it must be a private one that
//! has nothing but its loopback: [`NetLab::start`] refuses otherwise, so it can never change
//! the machine's own network. [`in_private_net`] gets a test there: it re-runs the test binary
//! for one test inside `unshare --net --mount --pid --fork --kill-child --mount-proc`, so
//! when the test ends (or panics, or is killed) the kernel takes every process, namespace,
//! veth pair and rule with it. [`NetLab`]'s `Drop` also removes them in order, for a caller
//! that goes on.
//!
//! A host namespace is held open by a `sleep` started with `unshare --net` (no names in
//! `/run/netns`, nothing on the shared filesystem). Every process the testbed starts on a
//! host's address runs in that host's namespace (`nsenter --net=/proc/<pid>/ns/net`), so
//! everything it sends comes from that host; [`Host::command`] does the same for any other
//! program. Ports on a host's address are still reserved through [`crate::ports`], but not
//! probed: the namespace is fresh and the hub cannot bind there.
//!
//! A cut is a pair of address sets: packets from one set to the other are dropped (silently,
//! as a partition does: connects and reads time out) in the hub's forward, input and output
//! hooks; a two-way cut adds the reverse direction. The observer address is never in a set,
//! so the caller can watch both sides of any partition. The rule set is rewritten whole, in
//! one `nft -f` transaction, on every change.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::process::{wait_until, Proc};

/// The hub's own address on every link: the observer.
pub const OBSERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// A second hub-local address for what stands outside every host (the Consul servers).
pub const SERVERS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The nftables table the lab owns in the hub.
const TABLE: &str = "sengu_netlab";
/// Set in a re-run test binary: the one test to run inside the private namespaces.
const CHILD_ENV: &str = "SENGU_NETLAB_TEST";

/// Host addresses (and their namespaces) registered by a running lab, for the process
/// spawning in this crate.
static HOSTS: Mutex<Vec<(IpAddr, PathBuf)>> = Mutex::new(Vec::new());

/// The namespace file of the host that owns `ip`, while a lab runs.
pub fn namespace_of(ip: IpAddr) -> Option<PathBuf> {
    HOSTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().find(|(a, _)| *a == ip).map(|(_, p)| p.clone())
}

/// A command that runs `program` in the namespace of the host that owns `ip`, or directly
/// when no lab host owns it.
pub fn command_on(ip: IpAddr, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match namespace_of(ip) {
        Some(ns) => {
            let mut cmd = Command::new("nsenter");
            cmd.arg(format!("--net={}", ns.display())).arg("--").arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// Which way a cut drops packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// Nothing passes between the two sets.
    Both,
    /// Packets from the first set to the second are dropped; the other way passes. For TCP
    /// this still breaks connections both ways (their acknowledgements are lost); for
    /// datagrams, and as far as who can *send*, it is one way.
    OneWay,
}

/// One cut: packets between `from` and `to` dropped as `direction` says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cut {
    pub from: BTreeSet<Ipv4Addr>,
    pub to: BTreeSet<Ipv4Addr>,
    pub direction: Direction,
}

/// One host: its namespace (held by a sleeping process) and its address.
#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
    holder: Proc,
    ns: PathBuf,
}

impl Host {
    /// The namespace file (`/proc/<holder>/ns/net`).
    pub fn namespace(&self) -> &std::path::Path {
        &self.ns
    }

    /// A command that runs `program` in this host's namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.ns.display())).arg("--").arg(program);
        cmd
    }

    /// The argv prefix that runs a command in this host's namespace.
    pub fn argv_prefix(&self) -> Vec<String> {
        vec!["nsenter".into(), format!("--net={}", self.ns.display()), "--".into()]
    }

    fn veth(&self) -> String {
        format!("v-{}", self.name)
    }
}

/// The lab: its hosts and the cuts in force. Dropping it heals everything and removes the
/// hosts (see the module doc).
#[derive(Debug)]
pub struct NetLab {
    hosts: Vec<Host>,
    cuts: Mutex<Vec<Cut>>,
    log: tempfile::TempDir,
}

/// Runs a command the lab needs, panicking with its output when it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("netlab: cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "netlab: {cmd:?} failed ({}): {}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

impl NetLab {
    /// Creates one namespace per `(name, address)`, links it to the hub and routes between
    /// all of them. Names are short (`a`, `b`): they name the veth (`v-<name>`). Panics unless
    /// the calling process runs in a private network namespace that has only a loopback.
    pub fn start(hosts: &[(&str, Ipv4Addr)]) -> NetLab {
        assert!(nix::unistd::geteuid().is_root(), "the partition lab needs root (network namespaces)");
        let links = Command::new("ip").args(["-o", "link", "show"]).output().expect("ip link show");
        let links = String::from_utf8_lossy(&links.stdout).to_string();
        assert!(
            links.lines().count() == 1 && links.contains(": lo:"),
            "the partition lab changes the network of the namespace it runs in, so it must be a fresh private one \
             (testbed::netlab::in_private_net); this one has:\n{links}"
        );
        ip(&["link", "set", "lo", "up"]);
        ip(&["addr", "replace", &format!("{SERVERS}/32"), "dev", "lo"]);
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").expect("enable forwarding in the hub");
        let log = tempfile::Builder::new().prefix("sengu-netlab-").tempdir().expect("netlab temp dir");
        let mut lab = NetLab { hosts: Vec::new(), cuts: Mutex::new(Vec::new()), log };
        for (name, addr) in hosts {
            let host = lab.add_host(name, *addr);
            HOSTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((IpAddr::V4(host.ip), host.ns.clone()));
            lab.hosts.push(host);
        }
        lab.apply();
        lab
    }

    fn add_host(&self, name: &str, addr: Ipv4Addr) -> Host {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--", "sleep", "infinity"]);
        let holder = Proc::spawn(format!("netns holder {name}"), cmd, &self.log.path().join(format!("{name}.log"))).expect("spawn unshare");
        let pid = holder.pid().expect("holder pid");
        let ns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let own = std::fs::read_link("/proc/self/ns/net").expect("own namespace");
        // unshare creates the namespace, then execs sleep in it (same pid).
        wait_until(
            Duration::from_secs(10),
            &format!("host {name}'s namespace"),
            || {
                let theirs = std::fs::read_link(&ns).ok()?;
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                (theirs != own && cmdline.starts_with(b"sleep")).then_some(())
            },
            String::new,
        );
        let host = Host { name: name.to_string(), ip: addr, holder, ns };
        let veth = host.veth();
        ip(&["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &pid.to_string()]);
        ip(&["addr", "add", &format!("{OBSERVER}/32"), "dev", &veth]);
        ip(&["link", "set", &veth, "up"]);
        ip(&["route", "add", &format!("{addr}/32"), "dev", &veth, "src", &OBSERVER.to_string()]);
        let inside = |args: &[&str]| run(host.command("ip").args(args));
        inside(&["link", "set", "lo", "up"]);
        inside(&["addr", "add", &format!("{addr}/32"), "dev", "eth0"]);
        inside(&["link", "set", "eth0", "up"]);
        inside(&["route", "add", &format!("{OBSERVER}/32"), "dev", "eth0"]);
        inside(&["route", "add", "10.77.0.0/24", "via", &OBSERVER.to_string(), "dev", "eth0", "src", &addr.to_string()]);
        host
    }

    /// The hosts, in the order given.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts.iter().find(|h| h.name == name).unwrap_or_else(|| panic!("no lab host {name:?}"))
    }

    /// Adds a cut between the address sets `from` and `to` (observer excluded) and applies it.
    pub fn cut(&self, from: &[Ipv4Addr], to: &[Ipv4Addr], direction: Direction) {
        let c = Cut { from: from.iter().copied().collect(), to: to.iter().copied().collect(), direction };
        assert!(!c.from.contains(&OBSERVER) && !c.to.contains(&OBSERVER), "the observer is never cut");
        self.cuts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(c);
        self.apply();
    }

    /// Removes every cut.
    pub fn heal(&self) {
        self.cuts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.apply();
    }

    /// The cuts in force.
    pub fn cuts(&self) -> Vec<Cut> {
        self.cuts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The whole rule set for the current cuts.
    fn ruleset(&self) -> String {
        let mut rules = Vec::new();
        for c in self.cuts() {
            let set = |s: &BTreeSet<Ipv4Addr>| format!("{{ {} }}", s.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(", "));
            rules.push(format!("ip saddr {} ip daddr {} drop", set(&c.from), set(&c.to)));
            if c.direction == Direction::Both {
                rules.push(format!("ip saddr {} ip daddr {} drop", set(&c.to), set(&c.from)));
            }
        }
        render(&rules)
    }

    fn apply(&self) {
        nft(&self.ruleset());
    }
}

/// The table with `rules` in each of the three hooks, replacing what was there.
fn render(rules: &[String]) -> String {
    let mut s = format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n");
    for hook in ["forward", "input", "output"] {
        s.push_str(&format!("  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n"));
        for r in rules {
            s.push_str(&format!("    {r}\n"));
        }
        s.push_str("  }\n");
    }
    s.push_str("}\n");
    s
}

fn nft(script: &str) {
    let mut child = Command::new("nft").args(["-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run nft (package nftables)");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for nft");
    assert!(out.status.success(), "nft -f failed: {}\n{script}", String::from_utf8_lossy(&out.stderr));
}

impl Drop for NetLab {
    fn drop(&mut self) {
        let mut registry = HOSTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        registry.retain(|(a, _)| !self.hosts.iter().any(|h| IpAddr::V4(h.ip) == *a));
        drop(registry);
        let _ = Command::new("nft").args(["delete", "table", "inet", TABLE]).stderr(Stdio::null()).status();
        let _ = Command::new("ip").args(["addr", "del", &format!("{SERVERS}/32"), "dev", "lo"]).stderr(Stdio::null()).status();
        for h in &mut self.hosts {
            // Deleting one end of a veth pair deletes both; the namespace goes with its last process.
            let _ = Command::new("ip").args(["link", "del", &h.veth()]).stderr(Stdio::null()).status();
            h.holder.kill9();
        }
    }
}

/// In the parent: re-runs this test binary for `test` inside fresh private namespaces
/// (network, mount, UTS, PID) and fails with its output unless exactly that one test passed there
/// within `deadline`. In the re-run child: runs `body`.
pub fn in_private_net(test: &str, deadline: Duration, body: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        body();
        return;
    }
    assert!(nix::unistd::geteuid().is_root(), "namespace tests need root (unshare --net)");
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "--"])
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn unshare");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(deadline) {
        Ok(output) => output.expect("wait for the namespace"),
        Err(_) => {
            // --kill-child takes every process in the namespaces with unshare.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
            panic!("{test} did not finish within {deadline:?} in its namespace");
        }
    };
    let text = format!("--- stdout ---\n{}\n--- stderr ---\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{test} failed in its namespace ({}):\n{text}", output.status);
    assert!(text.contains("test result: ok. 1 passed"), "{test} did not run exactly one test in its namespace:\n{text}");
    print!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_cover_all_three_hooks_and_both_directions() {
        let rules = vec!["ip saddr { 10.77.0.11 } ip daddr { 10.77.0.2 } drop".to_string()];
        let s = render(&rules);
        assert_eq!(s.matches("ip saddr { 10.77.0.11 }").count(), 3);
        assert!(s.starts_with("table inet sengu_netlab {}\ndelete table inet sengu_netlab\n"));
    }
}
