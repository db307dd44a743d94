//! `sengu::redis` against real `redis-server` and `redis-sentinel` processes from the testbed:
//! INFO and ROLE in every replication state a check meets, logins right, wrong and missing, a
//! frozen server, Sentinel queries plus the majority vote on a real 3-sentinel set, and
//! [`batch`](sengu::redis::batch) answering as a connection does, several servers at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use redis::{Value, cmd};
use sengu::addr::HostPort;
use sengu::redis::batch::{Batch, Exchange, run_all};
use sengu::redis::{
    ask_sentinels, AuthFailure, CkQuorum, ConnectOptions, Error, InfoRole, LinkStatus, RedisAuth, RedisConn, Role,
    SentinelConn, ServerKind,
};
use sengu::settings::Secret;
use testbed::host;
use testbed::redis::{RedisServer, RedisSet};

fn hp(addr: SocketAddr) -> HostPort {
    HostPort { host: addr.ip().to_string(), port: addr.port() }
}

fn opts() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(2), io_timeout: Duration::from_secs(2), ..Default::default() }
}

fn with_auth(user: Option<&str>, password: Option<&str>) -> ConnectOptions {
    ConnectOptions { auth: RedisAuth { user: user.map(str::to_string), password: password.map(Secret::new) }, ..opts() }
}

fn connect(s: &RedisServer) -> RedisConn {
    RedisConn::connect(&hp(s.addr()), &opts()).unwrap_or_else(|e| panic!("{e}\n{}", s.log_tail()))
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `timeout` with `what`.
fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn info_and_role_on_a_real_master_and_replica() {
    let master = RedisServer::start(host(61));
    let replica = RedisServer::builder(host(62)).replica_of(master.addr()).start();

    let mut m = connect(&master);
    // The master lists the replica as online once the first ACK after the sync arrived.
    let info = poll(Duration::from_secs(10), "the master to list an online replica", || {
        m.info_replication().ok().filter(|i| i.replicas.first().is_some_and(|r| r.state == "online"))
    });
    assert_eq!(info.role, InfoRole::Master);
    assert_eq!(info.master, None);
    assert_eq!(info.connected_slaves, 1);
    assert_eq!(info.replicas[0].addr(), hp(replica.addr()));
    match m.role().unwrap() {
        Role::Master { replicas, .. } => assert_eq!((replicas[0].ip.as_str(), replicas[0].port), (replica.ip().to_string().as_str(), replica.port())),
        other => panic!("master's ROLE: {other:?}"),
    }

    let mut r = connect(&replica);
    let info = r.info_replication().unwrap();
    assert_eq!(info.role, InfoRole::Replica);
    let link = info.master.unwrap();
    assert_eq!(link.addr(), hp(master.addr()));
    assert_eq!(link.link_status, LinkStatus::Up);
    assert!(!link.sync_in_progress);
    assert_eq!(link.link_down_since_seconds, None);
    assert!((0..=10).contains(&link.last_io_seconds_ago), "{}", link.last_io_seconds_ago);
    assert_eq!(r.role().unwrap(), Role::Replica { master: hp(master.addr()), state: "connected".into(), offset: link.repl_offset });
    r.ping().unwrap();
}

#[test]
fn replica_during_a_full_sync_reports_sync_in_progress() {
    // Each key takes 20 ms to stream (a hidden Redis test knob), so the full sync of 200 keys
    // holds the replica in the transfer state for about 4 s: long enough to see it reliably.
    let master = RedisServer::builder(host(63)).config_line("rdb-key-save-delay 20000").start();
    let _: () = redis::cmd("DEBUG").arg("POPULATE").arg(200).query(&mut master.conn()).unwrap();
    let replica = RedisServer::start(host(64));
    replica.replicaof(master.addr());

    let mut r = connect(&replica);
    let info = poll(Duration::from_secs(10), "the replica to report master_sync_in_progress:1", || {
        r.info_replication().ok().filter(|i| i.master.as_ref().is_some_and(|l| l.sync_in_progress))
    });
    let link = info.master.unwrap();
    assert_eq!(link.addr(), hp(master.addr()));
    assert_eq!(link.link_status, LinkStatus::Down, "the link is only up once the sync is done");
    match r.role().unwrap() {
        Role::Replica { state, .. } => assert_eq!(state, "sync"),
        other => panic!("replica's ROLE: {other:?}"),
    }
    let mut m = connect(&master);
    let info = m.info_replication().unwrap();
    assert_eq!(info.replicas.len(), 1);
    assert_ne!(info.replicas[0].state, "online");
}

#[test]
fn replica_whose_master_was_killed_reports_the_link_down() {
    let mut master = RedisServer::start(host(65));
    let replica = RedisServer::builder(host(66)).replica_of(master.addr()).start();
    let old_master = hp(master.addr());
    master.kill9();

    let mut r = connect(&replica);
    let info = poll(Duration::from_secs(10), "the replica to see its link down", || {
        r.info_replication().ok().filter(|i| i.master.as_ref().is_some_and(|l| l.link_status == LinkStatus::Down))
    });
    let link = info.master.unwrap();
    assert_eq!(link.addr(), old_master, "a replica keeps pointing at its configured master");
    assert_eq!(link.last_io_seconds_ago, -1);
    assert!(!link.sync_in_progress);
    assert!(link.link_down_since_seconds.is_some_and(|s| s >= 0), "{:?}", link.link_down_since_seconds);
    match r.role().unwrap() {
        Role::Replica { master, state, .. } => {
            assert_eq!(master, old_master);
            assert_ne!(state, "connected");
        }
        other => panic!("replica's ROLE: {other:?}"),
    }
}

#[test]
fn password_right_wrong_and_missing() {
    let secret = "s3cret pass\"word";
    let server = RedisServer::builder(host(67)).requirepass(secret).start();
    let addr = hp(server.addr());

    let mut ok = RedisConn::connect(&addr, &with_auth(None, Some(secret))).unwrap();
    assert_eq!(ok.info_replication().unwrap().role, InfoRole::Master);

    let wrong = RedisConn::connect(&addr, &with_auth(None, Some("guess"))).unwrap_err();
    assert_eq!(wrong, Error::AuthFailed { kind: ServerKind::Redis, addr: addr.clone(), reason: AuthFailure::WrongCredentials });
    assert!(!wrong.to_string().contains("guess"), "{wrong}");
    assert!(wrong.to_string().contains(&addr.to_string()), "{wrong}");

    // Without a password the connection opens, and the first command says what is missing.
    let mut none = RedisConn::connect(&addr, &opts()).unwrap();
    let missing = none.info_replication().unwrap_err();
    assert_eq!(missing, Error::AuthFailed { kind: ServerKind::Redis, addr: addr.clone(), reason: AuthFailure::NoCredentials });
}

#[test]
fn acl_user_right_and_wrong() {
    let server = RedisServer::builder(host(67)).acl_user("checker", "pw-1").start();
    let addr = hp(server.addr());
    RedisConn::connect(&addr, &with_auth(Some("checker"), Some("pw-1"))).unwrap().ping().unwrap();
    for (user, pw) in [("checker", "pw-2"), ("nobody", "pw-1")] {
        let err = RedisConn::connect(&addr, &with_auth(Some(user), Some(pw))).unwrap_err();
        assert!(matches!(err, Error::AuthFailed { reason: AuthFailure::WrongCredentials, .. }), "{user}: {err:?}");
    }
}

#[test]
fn a_password_for_a_server_without_one_is_not_an_error() {
    let server = RedisServer::start(host(68));
    let mut c = RedisConn::connect(&hp(server.addr()), &with_auth(None, Some("early-rollout"))).unwrap();
    c.ping().unwrap();
}

#[test]
fn frozen_server_times_out_within_the_timeouts() {
    let server = RedisServer::start(host(68));
    let addr = hp(server.addr());
    let short = ConnectOptions { connect_timeout: Duration::from_millis(400), io_timeout: Duration::from_millis(400), ..Default::default() };
    let mut before = RedisConn::connect(&addr, &short).unwrap();
    server.freeze();

    // Connected before the freeze: only the read timeout ends the wait.
    let start = Instant::now();
    let err = before.info_replication().unwrap_err();
    let took = start.elapsed();
    assert_eq!(err, Error::Timeout { kind: ServerKind::Redis, addr: addr.clone(), after: short.io_timeout });
    assert!(took >= Duration::from_millis(350) && took < Duration::from_millis(1500), "{took:?}");

    // Connecting to a frozen server: the kernel completes the TCP handshake, the handshake
    // commands then hang until the connect timeout.
    let start = Instant::now();
    let err = RedisConn::connect(&addr, &short).and_then(|mut c| c.ping()).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(1500), "{:?}", start.elapsed());
    server.thaw();
}

#[test]
fn nothing_listening_is_unreachable_at_once() {
    let lease = testbed::reserve(host(68));
    let addr = HostPort { host: host(68).to_string(), port: lease.port() };
    let start = Instant::now();
    let err = RedisConn::connect(&addr, &opts()).unwrap_err();
    assert_eq!(err, Error::Unreachable { kind: ServerKind::Redis, addr, detail: "connection refused".into() });
    assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
}

#[test]
fn client_pause_write_blocks_writes_until_unpaused() {
    let server = RedisServer::start(host(69));
    let mut c = connect(&server);
    c.pause_writes(Duration::from_secs(30)).unwrap();

    let mut other = server.conn();
    other.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let blocked: redis::RedisResult<()> = redis::cmd("SET").arg("k").arg("v").query(&mut other);
    assert!(blocked.as_ref().is_err_and(|e| e.is_timeout()), "{blocked:?}");
    // Reads go on while writes wait.
    c.ping().unwrap();
    assert_eq!(c.info_replication().unwrap().role, InfoRole::Master);

    c.unpause().unwrap();
    let mut fresh = server.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v2").query(&mut fresh).unwrap();
}

/// Runs openssl with `args` in `dir`, panicking with its output on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A throwaway CA and a server certificate for `ip`, written into `dir`.
fn make_certs(dir: &std::path::Path, ip: &str) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(dir, &[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=sengu-test-ca"]].concat());
    openssl(dir, &[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=redis"]].concat());
    std::fs::write(dir.join("ext"), format!("subjectAltName=IP:{ip}\n")).unwrap();
    openssl(dir, &["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext"]);
}

#[test]
fn tls_with_the_right_ca_works_and_an_unknown_ca_is_refused() {
    let ip = host(70);
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path(), &ip.to_string());
    let tls_port = testbed::reserve(ip);
    let path = |f: &str| certs.path().join(f).display().to_string();
    let server = RedisServer::builder(ip)
        .config_line(format!("tls-port {}", tls_port.port()))
        .config_line(format!("tls-cert-file {}", path("server.crt")))
        .config_line(format!("tls-key-file {}", path("server.key")))
        .config_line(format!("tls-ca-cert-file {}", path("ca.crt")))
        .config_line("tls-auth-clients no")
        .start();
    let addr = HostPort { host: ip.to_string(), port: tls_port.port() };

    let tls = ConnectOptions { tls: true, tls_ca_file: Some(certs.path().join("ca.crt")), ..opts() };
    let mut c = RedisConn::connect(&addr, &tls).unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
    assert_eq!(c.info_replication().unwrap().role, InfoRole::Master);
    // A batch takes TLS exchanges too (on a thread of their own), beside a plain one.
    let plain_addr = hp(server.addr());
    let plain_opts = opts();
    let mut outcomes = run_all(&[info(&addr, &tls), info(&plain_addr, &plain_opts)]).into_iter();
    assert!(text(outcomes.next().unwrap().unwrap().take(0).unwrap()).contains("role:master"));
    assert_eq!(text(outcomes.next().unwrap().unwrap().take(1).unwrap()), "PONG");

    // The system roots do not know the test CA: the handshake fails, quickly and without a panic.
    let start = Instant::now();
    let err = RedisConn::connect(&addr, &ConnectOptions { tls: true, ..opts() }).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert!(matches!(&err, Error::Tls { detail, .. } if detail.contains("UnknownIssuer")), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");

    // TLS to the plain port: Redis waits for the end of an inline command that never comes, so
    // the connect timeout ends it.
    let plain = HostPort { host: ip.to_string(), port: server.port() };
    let quick = ConnectOptions { connect_timeout: Duration::from_millis(300), ..tls.clone() };
    let err = RedisConn::connect(&plain, &quick).unwrap_err();
    assert!(matches!(err, Error::Tls { .. } | Error::Timeout { .. }), "{err:?}");

    let missing = ConnectOptions { tls: true, tls_ca_file: Some(certs.path().join("nope.crt")), ..opts() };
    assert!(matches!(RedisConn::connect(&addr, &missing), Err(Error::Config { .. })));
}

#[test]
fn sentinel_queries_on_a_three_sentinel_set() {
    let set = RedisSet::new(1, 3);
    let name = set.master_name().to_string();
    let master = hp(set.server(0).addr());
    let replica = hp(set.server(1).addr());
    let sentinels: Vec<HostPort> = set.sentinels().iter().map(|s| hp(s.addr())).collect();

    let mut s0 = SentinelConn::connect(&sentinels[0], &opts()).unwrap();
    assert_eq!(s0.master_addr(&name).unwrap(), Some(master.clone()));
    assert_eq!(s0.master_addr("no-such-master").unwrap(), None);
    assert_eq!(s0.role().unwrap(), Role::Sentinel { masters: vec![name.clone()] });

    let m = s0.master(&name).unwrap();
    assert_eq!(m.addr(), master);
    assert!(m.has_flag("master") && !m.looks_down(), "{:?}", m.flags);
    assert_eq!((m.num_slaves, m.num_other_sentinels, m.quorum), (1, 2, 2));
    assert_eq!(m.failover_state, None);
    let err = s0.master("no-such-master").unwrap_err();
    assert!(matches!(&err, Error::Rejected { kind: ServerKind::Sentinel, message, .. } if message.contains("No such master")), "{err:?}");

    let mut peers: Vec<HostPort> = s0.sentinels(&name).unwrap().iter().map(|p| p.addr()).collect();
    peers.sort();
    let mut others = sentinels[1..].to_vec();
    others.sort();
    assert_eq!(peers, others);

    let replicas = s0.replicas(&name).unwrap();
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0].addr(), replica);
    assert_eq!(replicas[0].master_link_status, "ok");
    assert_eq!(replicas[0].master_host.as_deref(), Some(master.host.as_str()));

    assert_eq!(s0.ckquorum(&name).unwrap(), CkQuorum::Ok {
        usable: Some(3),
        text: "OK 3 usable Sentinels. Quorum and failover authorization can be reached".into()
    });
    let id = s0.myid().unwrap();
    assert_eq!(id, set.sentinel(0).myid());

    let votes = ask_sentinels(&sentinels, &name, &opts());
    assert_eq!(votes.answers.len(), 3);
    assert!(votes.failures.is_empty());
    assert_eq!(votes.majority(), Some(master.clone()));
    assert_eq!(votes.majority_of_asked(), Some(master));
    let unknown = ask_sentinels(&sentinels, "no-such-master", &opts());
    assert_eq!((unknown.answers.len(), unknown.majority()), (3, None));
}

#[test]
fn majority_survives_one_sentinel_down_and_quorum_is_lost_with_two() {
    let mut set = RedisSet::new(1, 3);
    let name = set.master_name().to_string();
    let master = hp(set.server(0).addr());
    let sentinels: Vec<HostPort> = set.sentinels().iter().map(|s| hp(s.addr())).collect();
    let short = ConnectOptions { connect_timeout: Duration::from_millis(500), io_timeout: Duration::from_millis(500), ..Default::default() };

    set.sentinel_mut(2).kill9();
    let votes = ask_sentinels(&sentinels, &name, &short);
    assert_eq!(votes.answers.len(), 2);
    assert!(matches!(votes.failures.as_slice(), [(s, Error::Unreachable { .. })] if *s == sentinels[2]), "{:?}", votes.failures);
    assert_eq!(votes.majority(), Some(master.clone()));
    assert_eq!(votes.majority_of_asked(), Some(master.clone()));

    // A frozen sentinel as well: asked in parallel, it costs one timeout, and one answer of
    // three asked is no longer a majority of the asked.
    set.sentinel(1).freeze();
    let start = Instant::now();
    let votes = ask_sentinels(&sentinels, &name, &short);
    assert!(start.elapsed() < Duration::from_millis(1500), "{:?}", start.elapsed());
    assert_eq!(votes.answers, vec![(sentinels[0].clone(), Some(master.clone()))]);
    assert!(votes.failures.iter().any(|(s, e)| *s == sentinels[1] && matches!(e, Error::Timeout { .. })), "{:?}", votes.failures);
    assert_eq!(votes.majority(), Some(master));
    assert_eq!(votes.majority_of_asked(), None);

    // With two of three gone, the survivor cannot authorise a failover once it marks them down.
    let mut s0 = SentinelConn::connect(&sentinels[0], &opts()).unwrap();
    let q = poll(set.down_after() * 5, "CKQUORUM to report NOQUORUM", || s0.ckquorum(&name).ok().filter(|q| !q.is_ok()));
    match q {
        CkQuorum::NoQuorum { usable, text } => {
            assert_eq!(usable, Some(1));
            assert!(text.starts_with("NOQUORUM 1 usable Sentinels."), "{text}");
        }
        ok => panic!("{ok:?}"),
    }
    set.sentinel(1).thaw();
}

#[test]
fn sentinel_failover_moves_the_master_and_reset_counts_masters() {
    let set = RedisSet::new(1, 3);
    let name = set.master_name().to_string();
    let old = set.server(0).addr();
    let sentinels: Vec<HostPort> = set.sentinels().iter().map(|s| hp(s.addr())).collect();

    let mut s0 = SentinelConn::connect(&sentinels[0], &opts()).unwrap();
    s0.failover(&name).unwrap();
    // A second request while the first runs is refused with INPROG.
    if let Err(e) = s0.failover(&name) {
        assert!(matches!(&e, Error::Rejected { message, .. } if message.starts_with("INPROG")), "{e:?}");
    }
    let new = set.wait_new_master(old, Duration::from_secs(30));
    assert_eq!(new, set.server(1).addr());
    let votes = ask_sentinels(&sentinels, &name, &opts());
    assert_eq!(votes.majority_of_asked(), Some(hp(new)));

    assert_eq!(s0.reset("no-match-*").unwrap(), 0);
    assert_eq!(s0.reset(&name).unwrap(), 1);
    // After RESET the live peers are found again through their hellos.
    poll(Duration::from_secs(20), "the reset sentinel to see its 2 peers again", || {
        s0.master(&name).ok().filter(|m| m.num_other_sentinels == 2).map(|_| ())
    });
}

fn info<'a>(addr: &'a HostPort, opts: &'a ConnectOptions) -> Exchange<'a> {
    let mut info = cmd("INFO");
    info.arg("replication");
    Exchange { kind: ServerKind::Redis, addr, opts, commands: vec![("INFO replication", info), ("PING", cmd("PING"))] }
}

fn text(v: Value) -> String {
    redis::from_redis_value(&v).unwrap()
}

#[test]
fn several_servers_answer_every_command_in_order() {
    let a = RedisServer::start(host(71));
    let b = RedisServer::start(host(72));
    let (addr_a, addr_b, o) = (hp(a.addr()), hp(b.addr()), opts());
    let outcomes = run_all(&[info(&addr_a, &o), info(&addr_b, &o)]);
    assert_eq!(outcomes.len(), 2);
    for outcome in outcomes {
        let mut replies = outcome.unwrap();
        assert!(text(replies.take(0).unwrap()).contains("role:master"));
        assert_eq!(text(replies.take(1).unwrap()), "PONG");
    }
}

#[test]
fn a_reply_longer_than_one_read_is_read_whole() {
    let server = RedisServer::start(host(71));
    let addr = hp(server.addr());
    let big = "x".repeat(300_000);
    let mut get = cmd("GET");
    get.arg("big");
    let mut set = cmd("SET");
    set.arg("big").arg(&big);
    let o = opts();
    let mut replies = run_all(&[Exchange { kind: ServerKind::Redis, addr: &addr, opts: &o, commands: vec![("SET", set), ("GET", get)] }])
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(text(replies.take(0).unwrap()), "OK");
    assert_eq!(text(replies.take(1).unwrap()).len(), big.len());
}

#[test]
fn an_error_reply_is_that_commands_alone() {
    let server = RedisServer::start(host(71));
    let addr = hp(server.addr());
    let o = opts();
    let exchange = Exchange { kind: ServerKind::Redis, addr: &addr, opts: &o, commands: vec![("NOSUCH", cmd("NOSUCH")), ("PING", cmd("PING"))] };
    let mut replies = run_all(&[exchange]).pop().unwrap().unwrap();
    let err = replies.take(0).unwrap_err();
    assert!(matches!(&err, Error::Rejected { command, message, .. } if command == "NOSUCH" && message.contains("unknown command")), "{err:?}");
    assert_eq!(text(replies.take(1).unwrap()), "PONG");
}

#[test]
fn logins_map_as_a_connection_maps_them() {
    let secret = "s3cret pass\"word";
    let server = RedisServer::builder(host(73)).requirepass(secret).start();
    let open = RedisServer::start(host(74));
    let (addr, open_addr) = (hp(server.addr()), hp(open.addr()));
    let (right, wrong, none) = (with_auth(None, Some(secret)), with_auth(None, Some("guess")), opts());
    let early = with_auth(None, Some("early-rollout"));
    let mut outcomes = run_all(&[info(&addr, &right), info(&addr, &wrong), info(&addr, &none), info(&open_addr, &early)]).into_iter();

    assert!(text(outcomes.next().unwrap().unwrap().take(0).unwrap()).contains("role:master"));
    let err = outcomes.next().unwrap().unwrap_err();
    assert_eq!(err, Error::AuthFailed { kind: ServerKind::Redis, addr: addr.clone(), reason: AuthFailure::WrongCredentials });
    assert_eq!(err, RedisConn::connect(&addr, &wrong).unwrap_err());
    assert!(!err.to_string().contains("guess"), "{err}");
    // Without a password each command says what is missing, as on a connection.
    let mut missing = outcomes.next().unwrap().unwrap();
    assert_eq!(missing.take(0).unwrap_err(), Error::AuthFailed { kind: ServerKind::Redis, addr: addr.clone(), reason: AuthFailure::NoCredentials });
    // A password for a server without one is not an error.
    assert_eq!(text(outcomes.next().unwrap().unwrap().take(1).unwrap()), "PONG");
}

#[test]
fn batch_nothing_listening_is_unreachable_at_once() {
    let lease = testbed::reserve(host(75));
    let addr = HostPort { host: host(75).to_string(), port: lease.port() };
    let o = opts();
    let start = Instant::now();
    let err = run_all(&[info(&addr, &o)]).pop().unwrap().unwrap_err();
    assert_eq!(err, Error::Unreachable { kind: ServerKind::Redis, addr: addr.clone(), detail: "connection refused".into() });
    assert_eq!(err, RedisConn::connect(&addr, &o).unwrap_err());
    assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
}

#[test]
fn a_frozen_server_times_out_and_does_not_hold_up_the_others() {
    let frozen = RedisServer::start(host(76));
    let live = RedisServer::start(host(77));
    let (frozen_addr, live_addr) = (hp(frozen.addr()), hp(live.addr()));
    let short = ConnectOptions { connect_timeout: Duration::from_millis(1000), io_timeout: Duration::from_millis(1000), ..Default::default() };
    frozen.freeze();

    let start = Instant::now();
    let mut batch = Batch::start(&[info(&frozen_addr, &short), info(&live_addr, &short)]);
    let mut live_replies = batch.take(1).unwrap();
    let live_took = start.elapsed();
    assert_eq!(text(live_replies.take(1).unwrap()), "PONG");
    assert!(live_took < short.io_timeout, "the live server's outcome waited for the frozen one: {live_took:?}");

    // The kernel completes the TCP handshake of a frozen server; the reply never comes.
    let err = batch.take(0).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err, Error::Timeout { kind: ServerKind::Redis, addr: frozen_addr.clone(), after: short.io_timeout });
    assert!(took >= short.io_timeout && took < short.io_timeout * 3, "{took:?}");
    frozen.thaw();
}

#[test]
fn a_server_that_refuses_the_client_and_closes_is_an_error_at_once() {
    let server = RedisServer::builder(host(78)).config_line("maxclients 1").start();
    let addr = hp(server.addr());
    let mut first = connect(&server);
    first.ping().unwrap();
    let o = opts();
    let start = Instant::now();
    let err = run_all(&[info(&addr, &o)]).pop().unwrap().unwrap_err();
    assert!(start.elapsed() < o.io_timeout, "{:?}", start.elapsed());
    // Redis writes its error and closes. When the pipelined commands are still unread at the
    // close, the kernel answers with a reset, which can discard the error text before it is
    // read: either outcome is the server's refusal, and neither waits for a timeout.
    match &err {
        Error::Rejected { message, .. } => assert!(message.contains("max number of clients"), "{err:?}"),
        Error::Unreachable { detail, .. } => assert_eq!(detail, "connection closed by the server"),
        other => panic!("{other:?}"),
    }
}
