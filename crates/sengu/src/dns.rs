//! A/AAAA lookups that return the whole answer set, so a check can count how many addresses a
//! service name has (one master, or a split brain) and tell "name gone" from "DNS broken".
//!
//! Two sources: the system resolver (the C library's `getaddrinfo`, in the order `hosts:` in
//! `/etc/nsswitch.conf` gives, what applications on this host see) or one given server such as
//! Consul's `127.0.0.1:8600`, asked with hickory. For a given server the default transport is
//! TCP, because Consul answers at most 3 records to a UDP query without EDNS and does not set
//! the TC bit, so a UDP count could silently stop at 3. Each server lookup runs on its own
//! current-thread tokio runtime: a check resolves once per process, and this keeps the async
//! resolver out of every caller's signature.
//!
//! [`resolve_endpoint`] (in `system`) is the other half: the address of a server given by host
//! name, from the C library's resolver as every client on the host gets it, within a limit.

mod system;

pub use system::{ResolveError as EndpointError, resolve as resolve_endpoint};

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveError, ResolveErrorKind, TokioResolver};

/// Where the system resolver's order of sources is configured.
pub const NSSWITCH_CONF: &str = "/etc/nsswitch.conf";

/// Where the questions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The C library's resolver (`getaddrinfo`), exactly as applications on this host resolve:
    /// the sources and their order from `hosts:` in `/etc/nsswitch.conf` (`files dns`,
    /// `dns [NOTFOUND=return] files`, …), `/etc/hosts`, resolv.conf's servers, search list and
    /// options, glibc's own UDP-then-TCP. [`Options`] give only the time limit (every attempt
    /// of the budget together); the transport is glibc's, so a server that trims UDP answers
    /// without TC (Consul asked directly) can hide records here as it does for applications.
    /// glibc reports only "not found", "no address" or "failed", so a timeout of a name server
    /// inside glibc's own retries reads as [`DnsError::Unreachable`].
    System,
    /// One server at `IP:PORT` (Consul's DNS interface, a dnsmasq). `/etc/hosts` is never
    /// consulted: asking a particular server means asking that server.
    Server(SocketAddr),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::System => write!(f, "the system resolver ({NSSWITCH_CONF})"),
            Source::Server(addr) => write!(f, "DNS server {addr}"),
        }
    }
}

/// How queries travel to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// TCP only. The default: every answer arrives whole, whatever the server's UDP limits.
    /// Consul answers a UDP query without EDNS with at most 3 records and no TC bit, so only
    /// TCP lets a check that counts masters see all of them.
    #[default]
    Tcp,
    /// UDP with EDNS0 (a larger advertised buffer), retried over TCP when the reply is
    /// truncated. Closer to what most applications do, one round trip less, but a server that
    /// trims without setting TC (Consul, beyond the advertised buffer) can still hide records.
    Udp,
}

/// Which address records to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// A records only.
    #[default]
    V4,
    /// AAAA records only.
    V6,
    /// A and AAAA, asked in parallel; the answer is their union.
    Both,
}

/// Time limits and transport for one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long to wait for one answer from one server.
    pub timeout: Duration,
    /// How many times a question is sent in all (at least 1) before giving up on a timeout.
    pub attempts: u32,
    pub transport: Transport,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeout: Duration::from_secs(2), attempts: 2, transport: Transport::Tcp }
    }
}

/// Why a lookup gave no addresses. The variants are what an operator tells apart: the name is
/// gone (NXDOMAIN), the name exists without such records, the server is slow or absent, the
/// server is broken or refuses, or the configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("{name:?} does not exist (NXDOMAIN from {server})")]
    NxDomain { name: String, server: Source },
    #[error("{name:?} has no {family} records (empty NOERROR answer from {server})")]
    NoRecords { name: String, family: &'static str, server: Source },
    #[error("no answer for {name:?} from {server} within {after:?}")]
    Timeout { name: String, server: Source, after: Duration },
    #[error("{server} answered {rcode} for {name:?}")]
    ServerFailure { name: String, server: Source, rcode: String },
    #[error("cannot reach {server}: {detail}")]
    Unreachable { server: Source, detail: String },
    #[error("invalid DNS name {0:?}")]
    BadName(String),
    #[error("unusable resolver configuration: {0}")]
    Config(String),
    #[error("bad answer from {server} for {name:?}: {detail}")]
    BadResponse { name: String, server: Source, detail: String },
}

impl DnsError {
    /// True for the answers that say something about the name itself (NXDOMAIN, no records),
    /// as opposed to a failure to get an answer at all.
    pub fn is_negative_answer(&self) -> bool {
        matches!(self, DnsError::NxDomain { .. } | DnsError::NoRecords { .. })
    }
}

/// True for one DNS label as Consul can serve it: 1 to 63 letters, digits, `-` or `_`.
pub fn is_valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// True for a DNS name made of valid labels (at most 253 characters, one optional trailing
/// dot). Everything that becomes part of a name a check looks up is held to this before the
/// run changes anything.
pub fn is_valid_name(name: &str) -> bool {
    let bare = name.strip_suffix('.').unwrap_or(name);
    bare.len() <= 253 && bare.split('.').all(is_valid_label)
}

/// Looks up the addresses of `name` and returns all of them, deduplicated and sorted, so the
/// same answer set always renders the same way.
///
/// A name without a trailing dot goes through resolv.conf's search list in [`Source::System`],
/// as it would for an application; with [`Source::Server`] it is asked as given.
pub fn lookup(name: &str, family: Family, source: &Source, options: &Options) -> Result<Vec<IpAddr>, DnsError> {
    if !is_valid_name(name) {
        return Err(DnsError::BadName(name.to_string()));
    }
    let dns_name = Name::from_str(name).map_err(|_| DnsError::BadName(name.to_string()))?;
    let server = match source {
        Source::System => return system::lookup(name, family, total_budget(options)),
        Source::Server(server) => *server,
    };
    let resolver = build_resolver(server, options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DnsError::Config(format!("cannot start the resolver runtime: {e}")))?;
    let budget = total_budget(options);
    let ctx = Ctx { name, source, options };
    runtime.block_on(async {
        let query = async {
            match family {
                Family::V4 => ask(&resolver, dns_name, RecordType::A, &ctx).await,
                Family::V6 => ask(&resolver, dns_name, RecordType::AAAA, &ctx).await,
                Family::Both => {
                    let (v4, v6) = tokio::join!(
                        ask(&resolver, dns_name.clone(), RecordType::A, &ctx),
                        ask(&resolver, dns_name, RecordType::AAAA, &ctx)
                    );
                    merge(v4, v6)
                }
            }
        };
        // The resolver enforces its own per-attempt timeouts; this outer limit only guarantees
        // that nothing (a TCP connect, a fallback) can outlast the whole budget.
        match tokio::time::timeout(budget, query).await {
            Ok(result) => result,
            Err(_) => Err(ctx.timeout()),
        }
    })
    .map(|mut addrs| {
        addrs.sort();
        addrs.dedup();
        addrs
    })
}

/// The longest a lookup may take: every attempt timing out, plus a small margin for the
/// UDP-to-TCP fallback and the runtime itself.
fn total_budget(options: &Options) -> Duration {
    let attempts = options.attempts.max(1);
    let per_attempt = match options.transport {
        Transport::Tcp => options.timeout,
        // A truncated UDP answer is followed by a TCP query within the same attempt.
        Transport::Udp => options.timeout * 2,
    };
    per_attempt * attempts + Duration::from_millis(100)
}

struct Ctx<'a> {
    name: &'a str,
    source: &'a Source,
    options: &'a Options,
}

impl Ctx<'_> {
    fn timeout(&self) -> DnsError {
        DnsError::Timeout {
            name: self.name.to_string(),
            server: self.source.clone(),
            after: self.options.timeout * self.options.attempts.max(1),
        }
    }
}

async fn ask(resolver: &TokioResolver, name: Name, rtype: RecordType, ctx: &Ctx<'_>) -> Result<Vec<IpAddr>, DnsError> {
    match resolver.lookup(name, rtype).await {
        Ok(answer) => {
            // Keep only address records of the asked type; a CNAME chain's intermediate
            // records are part of the answer but are not addresses.
            let addrs: Vec<IpAddr> = answer
                .record_iter()
                .filter(|r| r.record_type() == rtype)
                .filter_map(|r| r.data().ip_addr())
                .collect();
            if addrs.is_empty() {
                Err(DnsError::NoRecords { name: ctx.name.to_string(), family: family_label(rtype), server: ctx.source.clone() })
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(classify(&e, rtype, ctx)),
    }
}

fn family_label(rtype: RecordType) -> &'static str {
    if rtype == RecordType::AAAA { "AAAA" } else { "A" }
}

/// Maps the resolver's error onto the distinctions an operator acts on.
fn classify(err: &ResolveError, rtype: RecordType, ctx: &Ctx<'_>) -> DnsError {
    let name = ctx.name.to_string();
    let source = ctx.source.clone();
    let proto = match err.kind() {
        ResolveErrorKind::Proto(p) => p,
        other => return DnsError::BadResponse { name, server: source, detail: other.to_string() },
    };
    match proto.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => match *response_code {
            ResponseCode::NXDomain => DnsError::NxDomain { name, server: source },
            ResponseCode::NoError => DnsError::NoRecords { name, family: family_label(rtype), server: source },
            code => DnsError::ServerFailure { name, server: source, rcode: rcode_name(code) },
        },
        ProtoErrorKind::RequestRefused => DnsError::ServerFailure { name, server: source, rcode: rcode_name(ResponseCode::Refused) },
        ProtoErrorKind::Timeout => ctx.timeout(),
        ProtoErrorKind::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ctx.timeout(),
        ProtoErrorKind::Io(io) => DnsError::Unreachable { server: source, detail: io.to_string() },
        ProtoErrorKind::NoConnections => DnsError::Unreachable { server: source, detail: "no usable connection".to_string() },
        other => DnsError::BadResponse { name, server: source, detail: other.to_string() },
    }
}

/// The conventional upper-case name of a response code, as dig prints it.
fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        other => format!("response code {}", u16::from(other)),
    }
}

/// Combines the A and AAAA halves of a [`Family::Both`] lookup. Any failure to get an answer
/// wins, because a partial set would be miscounted; of two negative answers, NXDOMAIN wins.
fn merge(v4: Result<Vec<IpAddr>, DnsError>, v6: Result<Vec<IpAddr>, DnsError>) -> Result<Vec<IpAddr>, DnsError> {
    match (v4, v6) {
        (Err(e), _) | (_, Err(e)) if !e.is_negative_answer() => Err(e),
        (Ok(mut a), Ok(b)) => {
            a.extend(b);
            Ok(a)
        }
        (Ok(a), Err(_)) | (Err(_), Ok(a)) => Ok(a),
        (Err(a), Err(b)) => Err(match (a, b) {
            (nx @ DnsError::NxDomain { .. }, _) | (_, nx @ DnsError::NxDomain { .. }) => nx,
            (DnsError::NoRecords { name, server, .. }, _) => DnsError::NoRecords { name, family: "A or AAAA", server },
            (other, _) => other,
        }),
    }
}

fn build_resolver(server: SocketAddr, options: &Options) -> Result<TokioResolver, DnsError> {
    let servers = select_servers(&[NameServerConfig::new(server, Protocol::Udp), NameServerConfig::new(server, Protocol::Tcp)], options.transport);
    let config = ResolverConfig::from_parts(None, vec![], servers);
    let mut opts = ResolverOpts::default();
    opts.timeout = options.timeout;
    // hickory counts retries after the first try; ours counts tries.
    opts.attempts = options.attempts.max(1) as usize - 1;
    opts.edns0 = options.transport == Transport::Udp || opts.edns0;
    // Asking a particular server means asking that server, never /etc/hosts.
    opts.use_hosts_file = ResolveHosts::Never;
    // One lookup per resolver: a cache would only hide changes between a check's two queries.
    opts.cache_size = 0;
    let mut builder = TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
    *builder.options_mut() = opts;
    Ok(builder.build())
}

/// Keeps the name servers that match the transport: TCP entries only for [`Transport::Tcp`];
/// both for [`Transport::Udp`], where the resolver asks UDP first and TCP after a truncation.
fn select_servers(servers: &[NameServerConfig], transport: Transport) -> Vec<NameServerConfig> {
    servers
        .iter()
        .filter(|s| match transport {
            Transport::Tcp => s.protocol == Protocol::Tcp,
            Transport::Udp => matches!(s.protocol, Protocol::Udp | Protocol::Tcp),
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn src_addr() -> SocketAddr {
        "127.0.0.1:8600".parse().unwrap()
    }

    fn src() -> Source {
        Source::Server(src_addr())
    }

    fn nx() -> DnsError {
        DnsError::NxDomain { name: "x".into(), server: src() }
    }

    fn norec(family: &'static str) -> DnsError {
        DnsError::NoRecords { name: "x".into(), family, server: src() }
    }

    fn timeout() -> DnsError {
        DnsError::Timeout { name: "x".into(), server: src(), after: Duration::from_secs(1) }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    #[test]
    fn names_are_dot_separated_labels() {
        for good in ["redis", "master.redis.service.consul.", "db_1.dc-2.example", "a"] {
            assert!(is_valid_name(good), "{good}");
        }
        let (long_label, long_name) = ("x".repeat(64), ["a"; 130].join("."));
        for bad in ["", ".", "a..b", "a b", "redis/x", "a.\u{e9}", long_label.as_str(), long_name.as_str()] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
        assert!(is_valid_label("dc2") && !is_valid_label("dc.2") && !is_valid_label(""));
    }

    #[test]
    fn both_families_union_when_both_answer() {
        assert_eq!(merge(Ok(vec![ip(1)]), Ok(vec![ip(2)])).unwrap(), vec![ip(1), ip(2)]);
    }

    #[test]
    fn both_families_keep_the_half_that_answered_when_the_other_is_empty() {
        assert_eq!(merge(Ok(vec![ip(1)]), Err(norec("AAAA"))).unwrap(), vec![ip(1)]);
        assert_eq!(merge(Err(norec("A")), Ok(vec![ip(2)])).unwrap(), vec![ip(2)]);
    }

    #[test]
    fn both_families_fail_when_either_half_timed_out() {
        assert_eq!(merge(Ok(vec![ip(1)]), Err(timeout())), Err(timeout()));
        assert_eq!(merge(Err(timeout()), Ok(vec![ip(1)])), Err(timeout()));
    }

    #[test]
    fn both_families_prefer_nxdomain_over_no_records() {
        assert_eq!(merge(Err(norec("A")), Err(nx())), Err(nx()));
        assert_eq!(merge(Err(norec("A")), Err(norec("AAAA"))), Err(norec("A or AAAA")));
    }

    #[test]
    fn tcp_transport_keeps_only_tcp_servers() {
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let all = [NameServerConfig::new(addr, Protocol::Udp), NameServerConfig::new(addr, Protocol::Tcp)];
        let tcp = select_servers(&all, Transport::Tcp);
        assert_eq!(tcp.len(), 1);
        assert_eq!(tcp[0].protocol, Protocol::Tcp);
        assert_eq!(select_servers(&all, Transport::Udp).len(), 2);
    }

    #[test]
    fn default_options_count_correctly_over_tcp() {
        assert_eq!(Options::default().transport, Transport::Tcp);
    }

    #[test]
    fn budget_covers_every_attempt() {
        let o = Options { timeout: Duration::from_millis(300), attempts: 3, transport: Transport::Tcp };
        let b = total_budget(&o);
        assert!(b >= Duration::from_millis(900) && b < Duration::from_millis(1100), "{b:?}");
        let zero = Options { attempts: 0, ..o };
        assert!(total_budget(&zero) >= Duration::from_millis(300));
    }

    #[test]
    fn bad_names_are_rejected_before_any_query() {
        let o = Options::default();
        assert!(matches!(lookup("", Family::V4, &src(), &o), Err(DnsError::BadName(_))));
        assert!(matches!(lookup("a..b", Family::V4, &src(), &o), Err(DnsError::BadName(_))));
    }

    #[test]
    fn messages_name_the_server_and_the_name() {
        let e = DnsError::Timeout { name: "redis.service.consul".into(), server: src(), after: Duration::from_secs(2) };
        assert_eq!(e.to_string(), "no answer for \"redis.service.consul\" from DNS server 127.0.0.1:8600 within 2s");
        assert_eq!(Source::System.to_string(), "the system resolver (/etc/nsswitch.conf)");
    }

    #[test]
    fn a_server_source_never_reads_etc_hosts() {
        let server = build_resolver(src_addr(), &Options::default()).unwrap();
        assert_eq!(server.options().use_hosts_file, ResolveHosts::Never);
        assert!(server.config().name_servers().iter().all(|s| s.protocol == Protocol::Tcp));
        assert_eq!(server.options().attempts, 1, "2 tries = 1 retry");
    }

    #[test]
    fn system_source_resolves_localhost() {
        let addrs = lookup("localhost", Family::V4, &Source::System, &Options::default()).unwrap();
        assert_eq!(addrs, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
}
