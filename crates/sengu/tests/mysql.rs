//! `sengu::mysql` against real MariaDB GTID masters and replicas from the testbed: roles as the
//! hooks will read them, replica status before and after the master dies, the read_only round
//! trip, and the typed errors for a frozen server, a wrong password and a closed port.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use sengu::addr::HostPort;
use sengu::mysql::{probe, Credentials, Error, Flavor, IoState, Server, Timeouts, WriteBlocker};
use sengu::settings::Secret;
use testbed::mariadb::{GtidCluster, Mariadb, MariadbOpts, APP_PASSWORD, APP_USER, MONITOR_PASSWORD, MONITOR_USER, ROOT_USER, TEST_TABLE};
use testbed::{host, reserve, wait_until};

fn addr(db: &Mariadb) -> HostPort {
    HostPort { host: db.host().to_string(), port: db.port() }
}

fn root() -> Credentials {
    Credentials::new(ROOT_USER, None)
}

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), read: Duration::from_secs(2), write: Duration::from_secs(2) }
}

/// The least-privilege monitor user, read from an option file as an operator would configure it.
fn monitor_from_option_file(dir: &tempfile::TempDir) -> Credentials {
    let path = dir.path().join("sengu.cnf");
    std::fs::write(&path, format!("# sengu's probe account\n[client]\nuser = {MONITOR_USER}\npassword = \"{MONITOR_PASSWORD}\"\n")).unwrap();
    Credentials::load(Some(&path)).unwrap()
}

#[test]
fn healthy_master_and_replica_report_their_roles() {
    let cluster = GtidCluster::new(1);
    let dir = tempfile::tempdir().unwrap();
    let creds = monitor_from_option_file(&dir);
    let context = || cluster.logs();

    let master = probe(&addr(&cluster.master), &creds, timeouts()).unwrap_or_else(|e| panic!("{e}\n{}", context()));
    assert_eq!(master.flavor, Flavor::MariaDb);
    assert!(master.version.contains("MariaDB") && !master.version.starts_with("5.5.5"), "{}", master.version);
    assert!(!master.read_only);
    assert_eq!(master.super_read_only, None, "MariaDB has no super_read_only");
    assert_eq!(master.replica, None);
    assert!(master.is_writable(), "{:?}", master.write_blockers());
    let master_gtid = master.gtid.clone().unwrap().executed;
    assert!(master_gtid.starts_with("0-11-"), "{master_gtid}");

    let replica = probe(&addr(&cluster.replicas[0]), &creds, timeouts()).unwrap();
    assert!(replica.read_only);
    let status = replica.replica.clone().unwrap();
    assert_eq!(status.master, addr(&cluster.master));
    assert_eq!((status.io, status.sql_running), (IoState::Running, true));
    assert!(status.is_healthy());
    assert_eq!(status.seconds_behind_master, Some(0));
    assert_eq!((status.last_io_error.clone(), status.last_sql_error.clone()), (None, None));
    assert_eq!(status.using_gtid.as_deref(), Some("Slave_Pos"));
    assert_eq!(replica.gtid.clone().unwrap().replica_pos.as_deref(), Some(master_gtid.as_str()));
    assert_eq!(
        replica.write_blockers(),
        [WriteBlocker::ReadOnly, WriteBlocker::Replicating { master: addr(&cluster.master), io: IoState::Running, sql_running: true }]
    );

    // Who answered and who follows it, as mysql-fail-check reads them.
    let mut master = Server::connect(&addr(&cluster.master), &creds, timeouts()).unwrap();
    assert_eq!(master.server_id().unwrap(), cluster.master.server_id());
    assert_eq!(master.replica_statuses().unwrap(), [], "a master has no replication connection");
    // SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN, which the monitor user lacks.
    assert!(matches!(master.replica_hosts(), Err(Error::AccessDenied { code: 1227, .. })));
    let mut master = Server::connect(&addr(&cluster.master), &root(), timeouts()).unwrap();
    assert_eq!(master.replica_hosts().unwrap(), [addr(&cluster.replicas[0])], "report_host and report_port name the replica");
    let mut replica = Server::connect(&addr(&cluster.replicas[0]), &creds, timeouts()).unwrap();
    let links = replica.replica_statuses().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!((&links[0].master, links[0].master_server_id), (&addr(&cluster.master), Some(cluster.master.server_id())));
    assert!(links[0].heartbeats.is_some() && links[0].read_position.is_some(), "{links:?}");
    assert_eq!(links[0].heartbeat_period, Some(Duration::from_secs(2)), "half the testbed's slave_net_timeout of 4 s");
}

#[test]
fn replica_of_a_killed_master_shows_connecting_with_error_2003() {
    let GtidCluster { mut master, replicas } = GtidCluster::new(1);
    let master_addr = addr(&master);
    master.kill9();

    match probe(&master_addr, &root(), timeouts()) {
        Err(e @ Error::Unreachable { .. }) => assert!(e.to_string().contains(&master_addr.to_string()), "{e}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }

    let mut replica = Server::connect(&addr(&replicas[0]), &root(), timeouts()).unwrap();
    // The lost connection is error 2013 at first; the reconnect attempts then get 2003 (refused).
    let status = wait_until(
        Duration::from_secs(15),
        "replica to report error 2003",
        || replica.replica_status().unwrap().filter(|s| s.last_io_error.as_ref().is_some_and(|e| e.code == 2003)),
        || replicas[0].log_tail(),
    );
    assert_eq!(status.io, IoState::Connecting);
    assert!(status.sql_running);
    assert_eq!(status.seconds_behind_master, None);
    assert!(status.last_io_error.unwrap().message.contains(&master_addr.to_string()));
    // Still configured to follow the dead master: not a safe place for writes yet.
    assert!(!replica.role().unwrap().is_writable());
}

#[test]
fn read_only_round_trip_blocks_and_unblocks_the_app_user() {
    let db = Mariadb::start(MariadbOpts::new(host(21)));
    let mut server = Server::connect(&addr(&db), &root(), timeouts()).unwrap();
    assert!(server.read_only().unwrap(), "read_only=1 from the server's flags");
    assert_eq!(server.super_read_only().unwrap(), None);
    let insert = format!("INSERT INTO {TEST_TABLE} (note) VALUES ('app')");

    server.set_read_only(false).unwrap();
    assert!(!server.read_only().unwrap());
    assert!(server.role().unwrap().is_writable());
    db.app_conn().query_drop(&insert).unwrap();

    server.set_read_only(true).unwrap();
    assert!(server.read_only().unwrap());
    assert_eq!(server.write_blockers().unwrap(), [WriteBlocker::ReadOnly]);
    match db.app_conn().query_drop(&insert) {
        Err(mysql::Error::MySqlError(e)) => assert_eq!(e.code, 1290, "{e}"),
        other => panic!("app write under read_only: {other:?}"),
    }
    server.ping().unwrap();
}

#[test]
fn frozen_server_times_out_within_the_read_timeout() {
    let db = Mariadb::start(MariadbOpts::new(host(22)));
    let t = Timeouts { connect: Duration::from_secs(1), read: Duration::from_millis(1500), write: Duration::from_secs(1) };
    let mut established = Server::connect(&addr(&db), &root(), t).unwrap();
    db.freeze();

    let start = Instant::now();
    let err = established.ping().unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(3), "ping took {took:?}");

    // A new connection completes TCP from the kernel's backlog; only the read timeout ends it.
    let start = Instant::now();
    let err = Server::connect(&addr(&db), &root(), t).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(&err, Error::Timeout { during, .. } if during == "connect"), "{err}");
    assert!(took < Duration::from_secs(3), "connect took {took:?}");
    assert!(err.to_string().contains(&addr(&db).to_string()), "{err}");
    db.thaw();
}

#[test]
fn wrong_password_is_access_denied_and_never_echoed() {
    let db = Mariadb::start(MariadbOpts::new(host(23)));
    let wrong = Credentials::new(APP_USER, Some(Secret::new("not-the-app-secret")));
    let err = Server::connect(&addr(&db), &wrong, timeouts()).unwrap_err();
    assert!(matches!(&err, Error::AccessDenied { code: 1045, user, .. } if user == APP_USER), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&addr(&db).to_string()), "{text}");
    assert!(!text.contains("not-the-app-secret"), "{text}");

    let right = Credentials::new(APP_USER, Some(Secret::new(APP_PASSWORD)));
    Server::connect(&addr(&db), &right, timeouts()).unwrap().ping().unwrap();
}

#[test]
fn closed_port_is_unreachable() {
    let lease = reserve(host(24));
    let target = HostPort { host: host(24).to_string(), port: lease.port() };
    let start = Instant::now();
    let err = Server::connect(&target, &root(), timeouts()).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(1));
}
