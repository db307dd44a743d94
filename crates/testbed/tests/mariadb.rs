//! The MariaDB testbed against real `mariadbd` processes: instances start from the template with
//! the promised users, GTID sets replicate, and the failover helpers (kill, promote, repoint,
//! demote, restart, freeze) leave the servers in the states the hooks' tests rely on.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use testbed::host;
use testbed::mariadb::{GtidCluster, Mariadb, MariadbOpts, MONITOR_PASSWORD, MONITOR_USER, TEST_TABLE};

fn count_rows(db: &Mariadb) -> u64 {
    db.scalar(&format!("SELECT COUNT(*) FROM {TEST_TABLE}")).unwrap()
}

#[test]
fn read_only_blocks_the_app_user_but_not_root() {
    let db = Mariadb::start(MariadbOpts::new(host(31)));
    assert!(db.read_only(), "read_only=1 comes from the flags");
    db.test_write("root bypasses read_only");

    let err = db.app_conn().query_drop(format!("INSERT INTO {TEST_TABLE} (note) VALUES ('app')")).unwrap_err();
    match err {
        mysql::Error::MySqlError(e) => assert_eq!(e.code, 1290, "{e}"),
        other => panic!("expected ERROR 1290, got {other}"),
    }

    db.set_read_only(false);
    db.app_conn().query_drop(format!("INSERT INTO {TEST_TABLE} (note) VALUES ('app')")).unwrap();
    assert_eq!(count_rows(&db), 2);
}

#[test]
fn monitor_user_can_read_status_and_flip_read_only() {
    let db = Mariadb::start(MariadbOpts::new(host(32)));
    let mut c = db.conn_as(MONITOR_USER, MONITOR_PASSWORD).unwrap();
    c.query_drop("SHOW SLAVE STATUS").unwrap();
    c.query_drop("SET GLOBAL read_only = 0").unwrap();
    assert!(!db.read_only());
    // Its own writes would bypass read_only (READ_ONLY ADMIN), but it has no table privileges.
    assert!(c.query_drop(format!("INSERT INTO {TEST_TABLE} (note) VALUES ('monitor')")).is_err());
}

#[test]
fn cluster_replicates_and_only_the_master_is_writable() {
    let cluster = GtidCluster::new(1);
    let replica = &cluster.replicas[0];
    assert!(!cluster.master.read_only());
    assert!(replica.read_only());
    assert_eq!(replica.slave_field("Master_Host").as_deref(), Some("127.0.0.11"));
    assert_eq!(replica.slave_field("Master_Port"), Some(cluster.master.port().to_string()));
    assert_eq!(replica.slave_field("Using_Gtid").as_deref(), Some("Slave_Pos"));

    cluster.master.app_conn().query_drop(format!("INSERT INTO {TEST_TABLE} (note) VALUES ('app')")).unwrap();
    replica.wait_replicating(&cluster.master);
    assert_eq!(count_rows(replica), 2, "the cluster's own test write plus ours");
    assert_eq!(replica.scalar::<String>("SELECT @@global.gtid_slave_pos"), Some(cluster.master.gtid_binlog_pos()));
}

#[test]
fn failover_round_trip_kill_promote_repoint_restart_demote() {
    let GtidCluster { mut master, replicas } = GtidCluster::new(2);
    let (new_master, other) = (&replicas[0], &replicas[1]);

    master.kill9();
    for r in &replicas {
        // The lost connection shows first as 2013; the retries then get "connection refused".
        r.wait_slave_field("Last_IO_Errno", "2003", Duration::from_secs(15));
        assert_eq!(r.slave_field("Slave_IO_Running").as_deref(), Some("Connecting"));
    }

    new_master.promote();
    assert!(new_master.slave_status().is_none(), "RESET SLAVE ALL forgets the master");
    assert!(!new_master.read_only());
    other.repoint(new_master);
    new_master.test_write("after failover");
    other.wait_replicating(new_master);
    assert_eq!(other.slave_field("Master_Host").as_deref(), Some("127.0.0.12"));

    // A restarted old master is read-only again: the runtime read_only=0 did not survive.
    master.restart();
    assert!(master.read_only());
    master.demote(new_master);
    master.wait_replicating(new_master);
    assert_eq!(count_rows(&master), 2);
    assert_eq!(master.slave_field("Using_Gtid").as_deref(), Some("Current_Pos"));
}

#[test]
fn frozen_master_is_noticed_after_slave_net_timeout_and_thaw_recovers() {
    let cluster = GtidCluster::new(1);
    let replica = &cluster.replicas[0];
    cluster.master.freeze();
    let frozen_at = Instant::now();
    // Connecting (or No after an error) once the heartbeat is missed: slave_net_timeout is 4 s.
    replica.wait_io_state("Connecting", Duration::from_secs(20));
    assert!(frozen_at.elapsed() >= Duration::from_secs(2), "noticed too early: {:?}", frozen_at.elapsed());
    cluster.master.thaw();
    replica.wait_io_state("Yes", Duration::from_secs(20));
}

#[test]
fn start_is_fast_once_the_template_exists() {
    // The first start may bootstrap the template; the second must only copy it.
    drop(Mariadb::start(MariadbOpts::new(host(33))));
    let t = Instant::now();
    let db = Mariadb::start(MariadbOpts::new(host(33)).read_only(false));
    assert!(t.elapsed() < Duration::from_secs(5), "start took {:?}", t.elapsed());
    assert!(!db.read_only());
    assert_eq!(count_rows(&db), 0);
}

/// A switchover with no write after it: the demoted old master (`current_pos`) holds all the
/// new master has in its own binary log, never in `gtid_slave_pos`, and still counts as
/// replicating up to it.
#[test]
fn a_demoted_master_is_replicating_without_a_write_after_the_switch() {
    let cluster = GtidCluster::new(1);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    new.promote();
    old.demote(new);
    let started = Instant::now();
    old.wait_replicating(new);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(old.slave_field("Using_Gtid").as_deref(), Some("Current_Pos"));
    assert_eq!(old.scalar::<String>("SELECT @@global.gtid_slave_pos").as_deref(), Some(""), "nothing fetched: the case this covers");
}
