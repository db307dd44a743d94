//! Every failure has a defined, tested result: Redis down, hung (SIGSTOP) or refusing the login;
//! DNS server down, slow or answering NXDOMAIN; sentinels unreachable, hung or split; Consul
//! unreachable, hung or denying while tags are published. The binary is run directly, as
//! Consul would, against real processes.

use std::time::{Duration, Instant};

use sengu_testsupport::{Run, run, run_env};
use testbed::host;
use testbed::redis::{RedisServer, Sentinel};

use crate::scenario::{self, BIN, SERVICE, argv, black_hole, dead_port, dns_standin, register_master_in_catalog};

fn check(args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(BIN, &args)
}

fn timed(args: &[String]) -> (Run, Duration) {
    let started = Instant::now();
    let run = check(args);
    (run, started.elapsed())
}

#[test]
fn a_redis_that_is_down_is_critical() {
    let (_lease, addr) = dead_port(host(11));
    check(&argv(&[&"--redis", &addr, &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--role", &"auto"]))
        .exits(2)
        .stdout_starts_with(&format!("CRITICAL: redis {addr} is unreachable: connection refused\n"))
        .output_fits_consul();
}

#[test]
fn a_hung_redis_is_critical_within_the_budget() {
    let server = RedisServer::start(host(11));
    server.freeze();
    let (run, took) = timed(&argv(&[&"--redis", &server.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--timeout", &"1s"]));
    server.thaw();
    // The budget's first half is for asking; connect and command get 40 % of it each.
    run.exits(2).stdout_starts_with(&format!("CRITICAL: redis {} did not answer within 200ms\n", server.addr()));
    assert!(took < Duration::from_millis(1200), "took {took:?} with a 1s budget\n{run}");
}

#[test]
fn a_missing_or_wrong_password_is_critical_and_never_printed() {
    let server = RedisServer::builder(host(11)).requirepass("s3cret-pw").start();
    let standin = dns_standin();
    let dns = standin.dns_addr().unwrap();
    let args = argv(&[&"--redis", &server.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--dns-server", &dns]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(BIN, &args)
        .exits(2)
        .stdout_starts_with(&format!("CRITICAL: redis {} refused the login: a password is required but none was given", server.addr()));
    let wrong = run_env(BIN, &args, &[("REDISCLI_AUTH", "not-it")]);
    wrong.exits(2).stdout_starts_with(&format!("CRITICAL: redis {} refused the login: wrong user name or password\n", server.addr()));
    assert!(!wrong.stdout().contains("not-it") && !wrong.stderr().contains("not-it"));
    let right = run_env(BIN, &args, &[("REDISCLI_AUTH", "s3cret-pw")]);
    right.exits(0).stdout_starts_with(&format!("PASSING: redis 127.0.0.11:{} is the master of redis\n", server.port()));
    assert!(!right.stdout().contains("s3cret-pw"));
    // The password file of the config file works too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret-pw\n").unwrap();
    let config = dir.path().join("sengu.toml");
    std::fs::write(&config, format!("[redis]\npassword_file = {:?}\n", dir.path().join("pw"))).unwrap();
    run_env(BIN, &args, &[("SENGU_CONFIG", config.to_str().unwrap())]).exits(0);
}

#[test]
fn without_sentinels_a_dns_failure_is_a_warning_and_nxdomain_passes() {
    let server = RedisServer::start(host(11));
    let standin = dns_standin();
    let base = argv(&[&"--redis", &server.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--timeout", &"1s"]);
    let me = format!("redis 127.0.0.11:{}", server.port());

    // NXDOMAIN: nobody passes yet, so this master is the only candidate.
    let with_dns = |dns: &dyn std::fmt::Display| [base.clone(), argv(&[&"--dns-server", dns])].concat();
    check(&with_dns(&standin.dns_addr().unwrap()))
        .exits(0)
        .stdout_starts_with(&format!("PASSING: {me} is the master of redis\n"))
        .stdout_contains("master.redis.service.consul names no master");

    let (_lease, down) = dead_port(host(1));
    check(&with_dns(&down))
        .exits(1)
        .stdout_starts_with(&format!("WARNING: cannot prove that {me} is the only master: cannot reach DNS server {down}: "));

    let (_hole_lease, hole) = black_hole(host(1));
    let hole_addr = hole.local_addr().unwrap();
    let (slow, took) = timed(&with_dns(&hole_addr));
    slow.exits(1).stdout_starts_with(&format!(
        "WARNING: cannot prove that {me} is the only master: no answer for \"master.redis.service.consul.\" from DNS server {hole_addr} within"
    ));
    assert!(took < Duration::from_millis(1200), "took {took:?} with a 1s budget\n{slow}");
}

#[test]
fn without_sentinels_dns_listing_another_or_two_masters_is_critical() {
    let server = RedisServer::start(host(11));
    let standin = dns_standin();
    let args = argv(&[&"--redis", &server.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--dns-server", &standin.dns_addr().unwrap()]);
    register_master_in_catalog(&standin, "old-master", host(12));
    check(&args).exits(2).stdout_starts_with(
        "CRITICAL: master.redis.service.consul names another master, 127.0.0.12; redis 127.0.0.11:",
    );
    register_master_in_catalog(&standin, "this-one", host(11));
    check(&args).exits(2).stdout_starts_with("CRITICAL: master.redis.service.consul lists 2 masters: 127.0.0.11, 127.0.0.12\n");
}

#[test]
fn unreachable_or_hung_sentinels_cannot_arbitrate_and_dns_decides_with_a_warning() {
    let server = RedisServer::start(host(11));
    let standin = dns_standin();
    let (_l1, down) = dead_port(host(11));
    let (_l2, hole) = black_hole(host(12));
    let frozen = Sentinel::builder(host(12), "redis", server.addr()).quorum(1).start();
    frozen.freeze();
    let (run, took) = timed(&argv(&[
        &"--redis", &server.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--timeout", &"1s",
        &"--dns-server", &standin.dns_addr().unwrap(),
        &"--sentinel", &down, &"--sentinel", &hole.local_addr().unwrap(), &"--sentinel", &frozen.addr(),
    ]));
    frozen.thaw();
    run.exits(1)
        .stdout_starts_with("WARNING: sentinels cannot arbitrate: no master has 2 of the 3 configured sentinels (0 answered; no votes)\n")
        .stdout_contains(&format!("sentinel {down} is unreachable: connection refused"))
        .stdout_contains(&format!("sentinel {} did not answer within", frozen.addr()))
        .stdout_contains("[PASSING] dns: master.redis.service.consul names no master");
    assert!(took < Duration::from_millis(1200), "took {took:?} with a 1s budget\n{run}");
}

#[test]
fn split_sentinels_cannot_arbitrate() {
    // Two sentinels that each monitor a different server under the same name, and a third one
    // that is down: one vote each, no majority of the three.
    let a = RedisServer::start(host(11));
    let b = RedisServer::start(host(12));
    let sa = Sentinel::builder(host(11), "redis", a.addr()).quorum(1).start();
    let sb = Sentinel::builder(host(12), "redis", b.addr()).quorum(1).start();
    let (_lease, down) = dead_port(host(12));
    let standin = dns_standin();
    let args = argv(&[
        &"--redis", &a.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--dns-server", &standin.dns_addr().unwrap(),
        &"--sentinel", &sa.addr(), &"--sentinel", &sb.addr(), &"--sentinel", &down,
    ]);
    check(&args).exits(1).stdout_starts_with(&format!(
        "WARNING: sentinels cannot arbitrate: no master has 2 of the 3 configured sentinels (2 answered; votes: {} 1, {} 1)\n",
        a.addr(),
        b.addr()
    ));
    // Without arbitration DNS uniqueness decides: the other one is in DNS, so this one fails.
    register_master_in_catalog(&standin, "b", host(12));
    check(&args).exits(2).stdout_starts_with("CRITICAL: master.redis.service.consul names another master, 127.0.0.12;");
}

fn publishing(server: &RedisServer, dns: std::net::SocketAddr, consul: &dyn std::fmt::Display) -> Vec<String> {
    argv(&[
        &"--redis", &server.addr(), &"--service", &SERVICE, &"--advertise-ip", &"127.0.0.11", &"--dns-server", &dns,
        &"--role", &"auto", &"--publish-tags", &"--timeout", &"1s", &"--consul-addr", consul,
    ])
}

#[test]
fn consul_unreachable_or_hung_while_publishing_is_a_warning_that_keeps_the_verdict() {
    let server = RedisServer::start(host(11));
    let standin = dns_standin();
    let dns = standin.dns_addr().unwrap();
    let (_lease, down) = dead_port(host(11));
    let verdict = format!("    PASSING: redis 127.0.0.11:{} is the master of redis\n", server.port());
    check(&publishing(&server, dns, &down))
        .exits(1)
        .stdout_starts_with(&format!("WARNING: role tags not published: consul at {down} is unreachable: "))
        .stdout_contains(&verdict);

    let hung = scenario::dns_standin();
    hung.pause_agent(scenario::NODES[0]).unwrap();
    let (run, took) = timed(&publishing(&server, dns, &hung.http_addr(scenario::NODES[0]).unwrap()));
    run.exits(1).stdout_starts_with("WARNING: role tags not published: consul at ").stdout_contains("did not answer").stdout_contains(&verdict);
    assert!(took < Duration::from_millis(1200), "took {took:?} with a 1s budget\n{run}");
}

#[test]
fn an_acl_denial_while_publishing_is_a_warning_that_keeps_the_verdict() {
    // Consul filters what a token may not read instead of refusing the read, so a token
    // without service:read sees no instance at all; a denied write is reported as (acl).
    let server = RedisServer::start(host(11));
    let standin = consul_standin::Standin::builder().agent(scenario::NODES[0], host(11)).dns(true).acl_token("root-token").start().unwrap();
    let args = publishing(&server, standin.dns_addr().unwrap(), &standin.http_addr(scenario::NODES[0]).unwrap());
    check(&args)
        .exits(1)
        .stdout_starts_with(&format!(
            "WARNING: role tags not published: no instance of service \"redis\" at 127.0.0.11:{} in the catalog (or the ACL token may not read it)\n",
            server.port()
        ))
        .stdout_contains(&format!("    PASSING: redis 127.0.0.11:{} is the master of redis\n", server.port()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let denied = run_env(BIN, &args, &[("CONSUL_HTTP_TOKEN", "not-the-token")]);
    denied
        .exits(1)
        .stdout_starts_with("WARNING: role tags not published: consul at ")
        .stdout_contains("denied GET /v1/health/service/redis (acl): ACL not found")
        .stdout_contains(&format!("    PASSING: redis 127.0.0.11:{} is the master of redis\n", server.port()));
    assert!(!denied.stdout().contains("not-the-token") && !denied.stderr().contains("not-the-token"));
}

/// Issue 11, defect 3: with a hung system resolver, sentinels given by host name cost the run
/// its budget, not glibc's 10 s: Consul would otherwise kill the check at its own timeout and
/// call a healthy replica critical. Replica and master, 2 s budget each.
#[test]
fn a_hung_resolver_with_host_names_ends_within_the_budget() {
    let master = RedisServer::start(host(11));
    let replica = RedisServer::builder(host(12)).replica_of(master.addr()).start();
    replica.wait_replica_connected(master.addr(), Duration::from_secs(10));
    let resolver = testbed::resolver::HungResolver::start();
    let sentinels = ["--sentinel", "s1.example:26379", "--sentinel", "s2.example:26379", "--sentinel", "s3.example:26379"];
    // Neither passes without the sentinels' word, and neither is called critical for it.
    let firsts = [
        format!("WARNING: cannot confirm the master of replica {}: no master has 2 of the 3 configured sentinels", replica.addr()),
        "WARNING: sentinels cannot arbitrate: no master has 2 of the 3 configured sentinels".to_string(),
    ];
    for ((server, ip, role), first) in [(&replica, "127.0.0.12", "replica"), (&master, "127.0.0.11", "master")].into_iter().zip(firsts) {
        let addr = server.addr().to_string();
        let args = [&["--redis", addr.as_str(), "--service", SERVICE, "--advertise-ip", ip, "--role", role, "--timeout", "2s"][..], &sentinels].concat();
        let run = sengu_testsupport::run_with_resolver(&resolver, Duration::from_millis(3500), BIN, &args, &[]);
        run.exits(1).stdout_starts_with(&first).stdout_contains("sentinel s1.example:26379 is unreachable: its name \"s1.example\" did not resolve within 200ms");
    }
}
