//! A real `dnsmasq` for DNS tests: it answers from a hosts file the test writes (and rewrites),
//! answers NXDOMAIN for unknown names in its local domains, and can forward a domain such as
//! `consul` to another server, the way the examples put dnsmasq in front of Consul's DNS.
//!
//! The small UDP client here ([`query`]) exists so the testbed can tell when dnsmasq is ready and
//! when a reload is visible without depending on the code under test.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::ports::{host, reserve, PortLease};
use crate::process::{wait_until, Proc};

/// How long dnsmasq gets to answer its first query, and a reload to become visible. Generous
/// because two cores may be busy with other test binaries.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Timeout of one readiness or visibility probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// The `dnsmasq` binary: `SENGU_DNSMASQ`, else Debian's `/usr/sbin/dnsmasq` (dnsmasq-base), else
/// `dnsmasq` from `PATH`.
pub fn dnsmasq_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SENGU_DNSMASQ") {
        return PathBuf::from(bin);
    }
    let debian = Path::new("/usr/sbin/dnsmasq");
    if debian.is_file() { debian.to_path_buf() } else { PathBuf::from("dnsmasq") }
}

/// A running dnsmasq on `127.0.0.N:port`, UDP and TCP. Dropping it kills the process and removes
/// its directory (hosts file, log).
#[derive(Debug)]
pub struct Dnsmasq {
    proc: Proc,
    addr: SocketAddr,
    hosts_file: PathBuf,
    entries: Vec<(String, IpAddr)>,
    // Dropped after `proc` (field order), so the directory outlives the process.
    _dir: TempDir,
    _port: PortLease,
}

/// Settings for [`Dnsmasq`]; see [`Dnsmasq::builder`].
#[derive(Debug, Clone)]
pub struct DnsmasqBuilder {
    host: IpAddr,
    entries: Vec<(String, IpAddr)>,
    local_domains: Vec<String>,
    forwards: Vec<(String, SocketAddr)>,
}

impl Dnsmasq {
    /// A builder listening on 127.0.0.52 with no hosts entries, authoritative-local for the
    /// `test` domain (unknown `*.test` names get NXDOMAIN) and no forwarding.
    pub fn builder() -> DnsmasqBuilder {
        DnsmasqBuilder { host: host(52), entries: Vec::new(), local_domains: vec!["test".into()], forwards: Vec::new() }
    }

    /// The address dnsmasq answers on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hosts file dnsmasq answers from.
    pub fn hosts_file(&self) -> &Path {
        &self.hosts_file
    }

    /// The current hosts entries, as last written.
    pub fn entries(&self) -> &[(String, IpAddr)] {
        &self.entries
    }

    /// The process log (dnsmasq logs every query there), for panic messages.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    /// Replaces the hosts file with `entries`, tells dnsmasq to re-read it (SIGHUP) and returns
    /// once every name in the old and new entries answers with exactly its new addresses.
    pub fn set_hosts(&mut self, entries: &[(&str, IpAddr)]) {
        let old: Vec<String> = self.entries.iter().map(|(n, _)| n.clone()).collect();
        self.entries = entries.iter().map(|(n, ip)| (n.to_string(), *ip)).collect();
        write_hosts(&self.hosts_file, &self.entries);
        if let Some(pid) = self.proc.pid() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGHUP);
        }
        let mut names: BTreeSet<String> = old.into_iter().collect();
        names.extend(self.entries.iter().map(|(n, _)| n.clone()));
        let addr = self.addr;
        let entries = self.entries.clone();
        let log = self.proc.log_path().to_path_buf();
        wait_until(
            START_TIMEOUT,
            "dnsmasq to serve the rewritten hosts file",
            || names.iter().all(|name| serves_exactly(addr, name, &entries)).then_some(()),
            || file_tail(&log),
        );
    }

    /// Asks this dnsmasq for `name`'s A (or AAAA) records over UDP.
    pub fn query(&self, name: &str, ipv6: bool) -> std::io::Result<Reply> {
        query(self.addr, name, ipv6, PROBE_TIMEOUT)
    }

    /// Freezes dnsmasq (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn freeze(&self) {
        self.proc.freeze();
    }

    /// Resumes dnsmasq after [`Dnsmasq::freeze`].
    pub fn thaw(&self) {
        self.proc.thaw();
    }

    /// Kills dnsmasq (`kill -9`): its port then refuses TCP and swallows UDP.
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }
}

impl DnsmasqBuilder {
    /// The loopback address to listen on.
    pub fn host(mut self, ip: IpAddr) -> Self {
        self.host = ip;
        self
    }

    /// Adds a hosts-file line `ip name`. Several entries for one name give several records.
    pub fn entry(mut self, name: &str, ip: IpAddr) -> Self {
        self.entries.push((name.to_string(), ip));
        self
    }

    /// Makes dnsmasq answer names under `domain` only from local data (`--local=/domain/`), so
    /// unknown names there get NXDOMAIN instead of REFUSED.
    pub fn local_domain(mut self, domain: &str) -> Self {
        self.local_domains.push(domain.to_string());
        self
    }

    /// Drops the default local domains, e.g. to see REFUSED for every unknown name.
    pub fn no_local_domains(mut self) -> Self {
        self.local_domains.clear();
        self
    }

    /// Forwards queries under `domain` to `server` (`--server=/domain/ip#port`), as the examples
    /// do for `consul` and Consul's DNS port.
    pub fn forward(mut self, domain: &str, server: SocketAddr) -> Self {
        self.forwards.push((domain.to_string(), server));
        self
    }

    /// Starts dnsmasq and returns once it answers a query.
    pub fn start(self) -> Dnsmasq {
        let dir = tempfile::Builder::new().prefix("sengu-dnsmasq-").tempdir().expect("create dnsmasq temp dir");
        let lease = reserve(self.host);
        let addr = SocketAddr::new(self.host, lease.port());
        let hosts_file = dir.path().join("hosts");
        write_hosts(&hosts_file, &self.entries);
        let log = dir.path().join("dnsmasq.log");

        let mut cmd = Command::new(dnsmasq_bin());
        cmd.current_dir(dir.path());
        cmd.args(args(&self, addr, &hosts_file, &log));
        let mut proc = Proc::spawn(format!("dnsmasq {addr}"), cmd, &log).expect("spawn dnsmasq");

        let mut exited = false;
        wait_until(
            START_TIMEOUT,
            &format!("dnsmasq on {addr} to answer"),
            || {
                if !proc.is_running() {
                    exited = true;
                    return Some(());
                }
                query(addr, "ready.probe.test", false, PROBE_TIMEOUT).ok().map(|_| ())
            },
            || file_tail(&log),
        );
        if exited {
            panic!("dnsmasq on {addr} exited at start\n{}", file_tail(&log));
        }
        Dnsmasq { proc, addr, hosts_file, entries: self.entries, _dir: dir, _port: lease }
    }
}

fn args(b: &DnsmasqBuilder, addr: SocketAddr, hosts_file: &Path, log: &Path) -> Vec<String> {
    let mut args = vec![
        // Never read the machine's /etc/dnsmasq.conf, /etc/resolv.conf or /etc/hosts.
        "--conf-file=/dev/null".to_string(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        format!("--addn-hosts={}", hosts_file.display()),
        "--keep-in-foreground".into(),
        "--no-daemon".into(),
        format!("--listen-address={}", addr.ip()),
        "--bind-interfaces".into(),
        format!("--port={}", addr.port()),
        // No pid file: parallel instances would fight over /run/dnsmasq.pid.
        "--pid-file=".into(),
        format!("--log-facility={}", log.display()),
        "--log-queries".into(),
        // Answers must follow the hosts file and the upstream at once, never a cached copy.
        "--cache-size=0".into(),
    ];
    if nix::unistd::geteuid().is_root() {
        // As root dnsmasq would switch to user nobody, who cannot read the hosts file in our
        // private (0700) temp dir when a SIGHUP asks it to re-read it.
        args.push("--user=root".into());
    }
    for d in &b.local_domains {
        args.push(format!("--local=/{d}/"));
    }
    for (d, server) in &b.forwards {
        args.push(format!("--server=/{d}/{}#{}", server.ip(), server.port()));
    }
    args
}

/// Writes the hosts file atomically (write, then rename), so a reload never sees half of it.
fn write_hosts(path: &Path, entries: &[(String, IpAddr)]) {
    let text: String = entries.iter().map(|(name, ip)| format!("{ip} {name}\n")).collect();
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write dnsmasq hosts file");
    std::fs::rename(&tmp, path).expect("replace dnsmasq hosts file");
}

/// True when `name` answers with exactly the addresses `entries` give it (none for a name that
/// is no longer listed), for both A and AAAA.
fn serves_exactly(addr: SocketAddr, name: &str, entries: &[(String, IpAddr)]) -> bool {
    [false, true].into_iter().all(|ipv6| {
        let want: BTreeSet<IpAddr> =
            entries.iter().filter(|(n, ip)| n.eq_ignore_ascii_case(name) && ip.is_ipv6() == ipv6).map(|(_, ip)| *ip).collect();
        match query(addr, name, ipv6, PROBE_TIMEOUT) {
            Ok(reply) => reply.addrs.iter().copied().collect::<BTreeSet<_>>() == want,
            Err(_) => false,
        }
    })
}

fn file_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(8192);
    format!("--- dnsmasq log ({}) ---\n{}", path.display(), String::from_utf8_lossy(&text[start..]))
}

/// One DNS reply as the testbed sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response code: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED.
    pub rcode: u16,
    /// The A or AAAA addresses in the answer section, in the server's order.
    pub addrs: Vec<IpAddr>,
}

impl Reply {
    pub fn is_nxdomain(&self) -> bool {
        self.rcode == u16::from(ResponseCode::NXDomain)
    }
}

/// Sends one A (or AAAA) query for `name` to `server` over UDP and waits up to `timeout` for the
/// matching reply.
pub fn query(server: SocketAddr, name: &str, ipv6: bool, timeout: Duration) -> std::io::Result<Reply> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let rtype = if ipv6 { RecordType::AAAA } else { RecordType::A };
    let qname = Name::from_str(name).map_err(|e| invalid(e.to_string()))?;
    let id: u16 = (std::process::id() as u16) ^ (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u16)
        .unwrap_or(0));
    let mut msg = Message::new();
    msg.set_id(id).set_recursion_desired(true).add_query(Query::query(qname, rtype));
    let bytes = msg.to_vec().map_err(|e| invalid(e.to_string()))?;

    let bind: SocketAddr = if server.is_ipv6() { "[::1]:0".parse() } else { "127.0.0.1:0".parse() }.map_err(|e| invalid(format!("{e}")))?;
    let sock = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(timeout))?;
    sock.send_to(&bytes, server)?;
    let mut buf = [0u8; 4096];
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        if from != server {
            continue;
        }
        let reply = Message::from_vec(&buf[..n]).map_err(|e| invalid(e.to_string()))?;
        if reply.id() != id {
            continue;
        }
        let addrs = reply.answers().iter().filter(|r| r.record_type() == rtype).filter_map(|r| r.data().ip_addr()).collect();
        return Ok(Reply { rcode: u16::from(reply.response_code()), addrs });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_the_hosts_file_and_follows_a_rewrite() {
        let mut d = Dnsmasq::builder()
            .host(host(54))
            .entry("one.sengu.test", host(21))
            .entry("two.sengu.test", host(22))
            .entry("two.sengu.test", host(23))
            .start();
        let mut two = d.query("two.sengu.test", false).unwrap().addrs;
        two.sort();
        assert_eq!(two, vec![host(22), host(23)]);
        assert!(d.query("nope.sengu.test", false).unwrap().is_nxdomain());

        d.set_hosts(&[("one.sengu.test", host(29))]);
        assert_eq!(d.query("one.sengu.test", false).unwrap().addrs, vec![host(29)]);
        assert!(d.query("two.sengu.test", false).unwrap().is_nxdomain());
    }

    #[test]
    fn forwards_a_domain_to_another_server() {
        let upstream = Dnsmasq::builder().host(host(55)).local_domain("consul").entry("redis.service.consul", host(31)).start();
        let front = Dnsmasq::builder().host(host(56)).forward("consul", upstream.addr()).start();
        let reply = front.query("redis.service.consul", false).unwrap();
        assert_eq!(reply.addrs, vec![host(31)]);
        // Outside every local and forwarded domain, dnsmasq without upstreams refuses.
        assert_eq!(front.query("example.org", false).unwrap().rcode, u16::from(ResponseCode::Refused));
    }
}
