//! `sengu::dns` against a real dnsmasq (answers, NXDOMAIN, empty answers, REFUSED) and against
//! servers that never answer or are not there, so each error class is seen from a real socket.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use sengu::dns::{lookup, DnsError, Family, Options, Source, Transport};
use testbed::dnsmasq::Dnsmasq;
use testbed::host;

fn opts(transport: Transport) -> Options {
    Options { timeout: Duration::from_millis(500), attempts: 2, transport }
}

fn at(d: &Dnsmasq) -> Source {
    Source::Server(d.addr())
}

fn v6(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn single_a_record_is_returned() {
    let d = Dnsmasq::builder().entry("redis.sengu.test", host(21)).start();
    for t in [Transport::Tcp, Transport::Udp] {
        assert_eq!(lookup("redis.sengu.test", Family::V4, &at(&d), &opts(t)).unwrap(), vec![host(21)], "{t:?}");
    }
}

#[test]
fn all_a_records_are_returned_sorted_and_deduplicated() {
    let d = Dnsmasq::builder()
        .entry("redis.sengu.test", host(23))
        .entry("redis.sengu.test", host(21))
        .entry("redis.sengu.test", host(25))
        .entry("redis.sengu.test", host(22))
        .entry("redis.sengu.test", host(24))
        .start();
    let want = vec![host(21), host(22), host(23), host(24), host(25)];
    for t in [Transport::Tcp, Transport::Udp] {
        assert_eq!(lookup("redis.sengu.test", Family::V4, &at(&d), &opts(t)).unwrap(), want, "{t:?}");
    }
}

#[test]
fn aaaa_records_and_both_families() {
    let d = Dnsmasq::builder()
        .entry("dual.sengu.test", host(21))
        .entry("dual.sengu.test", v6("fd00::21"))
        .entry("dual.sengu.test", v6("fd00::2"))
        .start();
    let o = opts(Transport::Tcp);
    assert_eq!(lookup("dual.sengu.test", Family::V6, &at(&d), &o).unwrap(), vec![v6("fd00::2"), v6("fd00::21")]);
    assert_eq!(lookup("dual.sengu.test", Family::Both, &at(&d), &o).unwrap(), vec![host(21), v6("fd00::2"), v6("fd00::21")]);
}

#[test]
fn unknown_name_is_nxdomain() {
    let d = Dnsmasq::builder().entry("redis.sengu.test", host(21)).start();
    for family in [Family::V4, Family::V6, Family::Both] {
        let err = lookup("gone.sengu.test", family, &at(&d), &opts(Transport::Tcp)).unwrap_err();
        assert!(matches!(err, DnsError::NxDomain { .. }), "{family:?}: {err:?}");
        assert!(err.is_negative_answer());
    }
}

#[test]
fn name_without_records_of_the_family_is_no_records() {
    let d = Dnsmasq::builder().entry("v4only.sengu.test", host(21)).start();
    let err = lookup("v4only.sengu.test", Family::V6, &at(&d), &opts(Transport::Tcp)).unwrap_err();
    assert!(matches!(err, DnsError::NoRecords { family: "AAAA", .. }), "{err:?}");
    // The A half answers, so a dual lookup succeeds with it.
    assert_eq!(lookup("v4only.sengu.test", Family::Both, &at(&d), &opts(Transport::Tcp)).unwrap(), vec![host(21)]);
}

#[test]
fn refused_query_is_a_server_failure() {
    // Outside its local domains and with no upstream, dnsmasq answers REFUSED.
    let d = Dnsmasq::builder().start();
    let err = lookup("redis.service.consul", Family::V4, &at(&d), &opts(Transport::Tcp)).unwrap_err();
    match &err {
        DnsError::ServerFailure { rcode, .. } => assert_eq!(rcode, "REFUSED"),
        other => panic!("expected ServerFailure, got {other:?}"),
    }
    assert!(err.to_string().contains(&d.addr().to_string()), "{err}");
}

#[test]
fn a_rewritten_hosts_file_is_seen_by_the_next_lookup() {
    let mut d = Dnsmasq::builder().entry("redis.sengu.test", host(21)).start();
    let o = opts(Transport::Tcp);
    assert_eq!(lookup("redis.sengu.test", Family::V4, &at(&d), &o).unwrap(), vec![host(21)]);
    d.set_hosts(&[("redis.sengu.test", host(22)), ("redis.sengu.test", host(21))]);
    assert_eq!(lookup("redis.sengu.test", Family::V4, &at(&d), &o).unwrap(), vec![host(21), host(22)]);
}

#[test]
fn forwarded_domain_answers_through_dnsmasq() {
    let upstream = Dnsmasq::builder().host(host(55)).local_domain("consul").entry("redis.service.consul", host(31)).start();
    let front = Dnsmasq::builder().forward("consul", upstream.addr()).start();
    let got = lookup("redis.service.consul", Family::V4, &at(&front), &opts(Transport::Tcp)).unwrap();
    assert_eq!(got, vec![host(31)]);
    let err = lookup("nope.service.consul", Family::V4, &at(&front), &opts(Transport::Tcp)).unwrap_err();
    assert!(matches!(err, DnsError::NxDomain { .. }), "{err:?}");
}

/// A UDP socket and a TCP listener on one port that never answer: a hung DNS server.
struct Silent {
    addr: SocketAddr,
    _udp: UdpSocket,
    _tcp: TcpListener,
    _lease: testbed::PortLease,
}

fn silent() -> Silent {
    let ip = host(57);
    let lease = testbed::reserve(ip);
    let addr = SocketAddr::new(ip, lease.port());
    Silent { addr, _udp: UdpSocket::bind(addr).unwrap(), _tcp: TcpListener::bind(addr).unwrap(), _lease: lease }
}

#[test]
fn silent_server_times_out_within_the_budget() {
    let s = silent();
    for t in [Transport::Tcp, Transport::Udp] {
        let o = Options { timeout: Duration::from_millis(300), attempts: 2, transport: t };
        let start = Instant::now();
        let err = lookup("redis.sengu.test", Family::V4, &Source::Server(s.addr), &o).unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, DnsError::Timeout { .. }), "{t:?}: {err:?}");
        // 2 attempts x 300 ms, plus the small fallback margin; never a hang.
        assert!(took >= Duration::from_millis(300), "{t:?}: gave up too early, {took:?}");
        assert!(took < Duration::from_millis(1500), "{t:?}: took {took:?}");
    }
}

#[test]
fn silent_server_times_out_for_both_families_too() {
    let s = silent();
    let o = Options { timeout: Duration::from_millis(200), attempts: 1, transport: Transport::Tcp };
    let start = Instant::now();
    let err = lookup("redis.sengu.test", Family::Both, &Source::Server(s.addr), &o).unwrap_err();
    assert!(matches!(err, DnsError::Timeout { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(1000), "{:?}", start.elapsed());
}

#[test]
fn no_server_over_tcp_is_unreachable_at_once() {
    let ip = host(57);
    let lease = testbed::reserve(ip);
    let addr = SocketAddr::new(ip, lease.port());
    let start = Instant::now();
    let err = lookup("redis.sengu.test", Family::V4, &Source::Server(addr), &opts(Transport::Tcp)).unwrap_err();
    assert!(matches!(err, DnsError::Unreachable { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(400), "connection refused should not wait for the timeout: {:?}", start.elapsed());
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn no_server_over_udp_is_a_timeout() {
    // Nothing tells a UDP client that nobody listens (the resolver's socket is unconnected, so
    // ICMP port-unreachable is not reported): the lookup runs into its timeout.
    let ip = host(57);
    let lease = testbed::reserve(ip);
    let addr = SocketAddr::new(ip, lease.port());
    let o = Options { timeout: Duration::from_millis(200), attempts: 1, transport: Transport::Udp };
    let err = lookup("redis.sengu.test", Family::V4, &Source::Server(addr), &o).unwrap_err();
    assert!(matches!(err, DnsError::Timeout { .. } | DnsError::Unreachable { .. }), "{err:?}");
}
