//! `mysql-master-check` as Consul runs it, against MariaDB GTID sets and a Consul stand-in
//! holding the records the hooks write: the master and healthy replicas pass and get their
//! tags; a stopped thread, lag or a GTID gap beyond the bounds turn a replica critical and drop
//! its tag and replica node; a stale writable old master is fenced when Consul's master is
//! healthy and left alone when it is not; a move a failed `mysql-after-exec` left half done is
//! finished by `--reconcile` only on unambiguous evidence.

use std::time::Duration;

use sengu::consul::{KvWrite, Service};
use sengu_testsupport::hooks::{Dc, MOVE_KEY, REPLICA_NODE};
use sengu_testsupport::{run, run_env, Run};
use testbed::mariadb::{GtidCluster, Mariadb};
use testbed::wait_until;

use crate::BIN;

/// Runs the check on `db` with `dc`'s environment and `args`. The testbed's hosts are loopback
/// addresses, so `--advertise-ip` says which (in production the agent's node address does).
fn check(dc: &Dc, db: &Mariadb, args: &[&str]) -> Run {
    let (mysql, ip) = (db.host_port(), db.host().to_string());
    let mut all = vec!["--mysql", mysql.as_str(), "--advertise-ip", ip.as_str()];
    all.extend_from_slice(args);
    let env = dc.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_env(BIN, &all, &env)
}

/// Registers the `mysql` service on one node per server, as each host's agent would, with tag
/// override so the check may retag it.
fn register_instances(dc: &Dc, servers: &[&Mariadb]) {
    for (i, db) in servers.iter().enumerate() {
        let service = Service { id: "mysql".into(), service: "mysql".into(), port: db.port(), enable_tag_override: true, ..Service::default() };
        dc.register(&format!("db{}", i + 1), &db.host().to_string(), Some(service));
    }
}

fn tags(dc: &Dc, node: &str) -> Vec<String> {
    dc.client.catalog_node(node).unwrap().unwrap().services.get("mysql").map(|s| s.tags.clone()).unwrap_or_default()
}

/// Publishes `db` as the master the way `mysql-after-exec --kv-format json` does, with its
/// port: the testbed's servers each have their own port, where production masters share one
/// (a plain KV value or a node has no port, and the check then assumes the local port).
fn publish_with_port(dc: &Dc, db: &Mariadb) {
    dc.register(sengu_testsupport::hooks::MASTER_NODE, &db.host().to_string(), None);
    let value = format!("{{\"host\":\"{}\",\"port\":{},\"previous\":null,\"changed_at\":\"2026-12-02T00:00:00Z\"}}", db.host(), db.port());
    dc.client.kv_put(sengu_testsupport::hooks::KV_KEY, value.as_bytes(), KvWrite::default()).unwrap();
}

/// A master and a replica as the hooks published them (replica node included), each
/// registered as an instance of `mysql`; the replica's check passes.
fn published_pair(dc: &Dc) -> GtidCluster {
    let cluster = GtidCluster::new(1);
    dc.seed(cluster.master.host(), Some(cluster.replicas[0].host()));
    register_instances(dc, &[&cluster.master, &cluster.replicas[0]]);
    check(dc, &cluster.replicas[0], &TAGS).exits(0);
    cluster
}

const TAGS: [&str; 4] = ["--publish-tags", "--role-service", "mysql", "--publish-replica-node"];

#[test]
fn help_and_bad_settings() {
    run(BIN, &["--help"]).exits(0).stdout_contains("script check (check.args) on every MySQL host").stdout_contains("--max-gtid-gap <N>");
    let dc = Dc::new();
    let env = dc.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_env(BIN, &[], &env).exits(2).stderr_contains("--mysql <HOST:PORT>");
    run_env(BIN, &["--mysql", "127.0.0.11:3306", "--publish-tags"], &env).exits(2).stderr_contains("--publish-tags needs --role-service");
    run_env(BIN, &["--mysql", "127.0.0.11:3306", "--max-lag", "5", "--warn-lag", "9"], &env).exits(2).stderr_contains("must not be above --max-lag");
}

/// The master Consul names passes and is tagged master; healthy replicas pass, are tagged
/// replica, and after a move the replica node is pointed at a surviving replica.
#[test]
fn the_master_and_healthy_replicas_pass_and_keep_their_tags() {
    let dc = Dc::new();
    let cluster = GtidCluster::new(2);
    let (master, r1, r2) = (&cluster.master, &cluster.replicas[0], &cluster.replicas[1]);
    dc.seed(master.host(), Some(r1.host()));
    register_instances(&dc, &[master, r1, r2]);

    check(&dc, master, &TAGS).exits(0).stdout_starts_with(&format!("PASSING: mysql {} is the master consul names", master.host_port()));
    assert_eq!(tags(&dc, "db1"), ["master"]);
    for (replica, node) in [(r1, "db2"), (r2, "db3")] {
        check(&dc, replica, &TAGS)
            .exits(0)
            .stdout_starts_with(&format!("PASSING: mysql {} is a healthy replica of {}", replica.host_port(), master.host_port()));
        assert_eq!(tags(&dc, node), ["replica"]);
    }
    assert_eq!(dc.replica_node(), Some(r1.host().to_string()), "a replica node naming a healthy replica stays");

    // The seed layout after a failover: the hooks published r1 and left the replica node
    // naming it; r2 now replicates from r1 and takes the replica node.
    r1.promote();
    r2.repoint(r1);
    r2.wait_replicating(r1);
    dc.seed(r1.host(), Some(r1.host()));
    check(&dc, r2, &TAGS).exits(0).stdout_contains(&format!("replica node {REPLICA_NODE} updated"));
    assert_eq!(dc.replica_node(), Some(r2.host().to_string()));
    check(&dc, r2, &TAGS).exits(0);
    assert_eq!(dc.replica_node(), Some(r2.host().to_string()), "a second run changes nothing");
    check(&dc, master, &["--role", "master"]).exits(2).stdout_contains("consul names");

    // Manual mode shows in every run's output, without changing the state.
    let hold = sengu::hold::Hold::now("migrating the disks", None);
    sengu::hold::set_manual(&dc.client, sengu_testsupport::hooks::MASTER_NODE, &hold).unwrap();
    check(&dc, r2, &TAGS).exits(0).stdout_contains("[PASSING] hold: manual mode on: automatic failover is off").stdout_contains("\"migrating the disks\"");
}

/// A stopped SQL thread is critical; the replica's tag and the replica node naming it go.
#[test]
fn a_stopped_replica_thread_is_critical_and_drops_tag_and_replica_node() {
    let dc = Dc::new();
    let cluster = published_pair(&dc);
    let replica = &cluster.replicas[0];
    assert_eq!(tags(&dc, "db2"), ["replica"]);

    replica.exec("STOP SLAVE SQL_THREAD");
    check(&dc, replica, &TAGS).exits(2).stdout_contains("replication from").stdout_contains("is not running (IO thread Yes, SQL thread No)");
    assert!(tags(&dc, "db2").is_empty(), "the replica tag is dropped");
    assert_eq!(dc.replica_node(), None, "the replica node no longer names a broken replica");
    check(&dc, replica, &["--role", "master"]).exits(2).stdout_contains("is a replica of");
}

/// Lag: with the replica's SQL thread held back (`MASTER_DELAY`), Seconds_Behind_Master and
/// the GTID gap grow: warning above `--warn-lag`, critical above `--max-lag` or
/// `--max-gtid-gap`, and the tag goes.
#[test]
fn a_lagging_replica_warns_then_turns_critical_and_drops_its_tag() {
    let dc = Dc::new();
    let cluster = published_pair(&dc);
    let (master, replica) = (&cluster.master, &cluster.replicas[0]);

    replica.exec("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3600; START SLAVE");
    master.test_write("held back");
    check(&dc, replica, &[&TAGS[..], &["--max-gtid-gap", "0"]].concat())
        .exits(2)
        .stdout_contains("more than --max-gtid-gap 0 transactions")
        .stdout_contains("1 transactions behind the master's binary log");
    assert!(tags(&dc, "db2").is_empty());

    let lagging = |args: &[&str], code: i32| {
        wait_until(
            Duration::from_secs(20),
            "the replica's lag to show",
            || {
                let out = check(&dc, replica, args);
                (out.code() == Some(code)).then_some(out)
            },
            || replica.slave_status().map(|s| format!("{s:?}")).unwrap_or_default(),
        )
    };
    lagging(&[&TAGS[..], &["--max-lag", "3600", "--warn-lag", "1"]].concat(), 1).stdout_contains("more than --warn-lag 1 s");
    assert_eq!(tags(&dc, "db2"), ["replica"], "a warning keeps the tag");
    lagging(&[&TAGS[..], &["--max-lag", "1", "--warn-lag", "0"]].concat(), 2).stdout_contains("more than --max-lag 1 s");
    assert!(tags(&dc, "db2").is_empty());
}

/// After a failover the old master came back writable: Consul names the new master, which is
/// healthy, so the old one is fenced in one run (read_only on, the application's connection
/// killed) and stays critical; a second run finds it read-only.
#[test]
fn a_stale_writable_old_master_is_fenced_when_consul_names_a_healthy_master() {
    let dc = Dc::new();
    let cluster = GtidCluster::new(1);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    new.promote();
    publish_with_port(&dc, new);
    let mut app = old.app_conn();
    assert!(!old.read_only());

    check(&dc, old, &["--fence-stale-master"])
        .exits(2)
        .stdout_starts_with(&format!("CRITICAL: mysql {} is a stale master: consul names {}", old.host_port(), new.host_port()))
        .stdout_contains("read_only is ON and its client connections were killed");
    assert!(old.read_only());
    use mysql::prelude::Queryable;
    assert!(app.query_drop("SELECT 1").is_err(), "the application's connection was killed");
    check(&dc, old, &["--fence-stale-master"]).exits(2).stdout_contains("read-only and not replicating");
    assert!(dc.log_lines().iter().any(|l| l.contains("action=fence")), "{:?}", dc.log_lines());
}

/// The same, but the server Consul names is no healthy master (still a read-only replica, then
/// gone): the writable old master is left alone, critical, for a person to decide.
#[test]
fn a_writable_master_is_left_alone_when_consuls_master_is_not_healthy() {
    let dc = Dc::new();
    let mut cluster = GtidCluster::new(1);
    let (old_host, new_host) = (cluster.master.host_port(), cluster.replicas[0].host_port());
    publish_with_port(&dc, &cluster.replicas[0]);
    check(&dc, &cluster.master, &["--fence-stale-master"])
        .exits(2)
        .stdout_contains(&format!("consul names {new_host}, which is not a writable master"))
        .stdout_contains("left alone");
    cluster.replicas[0].kill9();
    check(&dc, &cluster.master, &["--fence-stale-master"]).exits(2).stdout_contains("could not be asked");
    assert!(!cluster.master.read_only(), "{old_host} must stay writable");
    assert!(dc.log_lines().is_empty());
}

/// A failover whose `mysql-after-exec` failed: the master records are gone, the move record
/// names the promoted replica. `--reconcile` on the new master publishes it (and clears the
/// move); without it, or while the old master is writable too, the check says what a person
/// must decide.
#[test]
fn reconcile_finishes_a_half_done_move_only_on_unambiguous_evidence() {
    let dc = Dc::new();
    let cluster = GtidCluster::new(1);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    let record = format!("{{\"old\":\"{}\",\"new\":\"{}\",\"started_at\":\"2026-12-02T00:00:00Z\"}}", old.host_port(), new.host_port());
    dc.client.kv_put(MOVE_KEY, record.as_bytes(), KvWrite::default()).unwrap();
    new.promote();

    check(&dc, new, &["--reconcile"]).exits(2).stdout_contains("the old master").stdout_contains("is writable too: a person must decide");
    old.set_read_only(true);
    check(&dc, new, &[]).exits(2).stdout_contains("recorded but not published (did mysql-after-exec fail?)");
    assert_eq!((dc.master_node(), dc.kv(MOVE_KEY).is_some()), (None, true), "nothing changes without --reconcile");

    check(&dc, new, &["--reconcile"]).exits(0).stdout_contains(&format!("finished the recorded move to mysql {}", new.host_port()));
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new.host().to_string()), Some(new.host().to_string())));
    assert_eq!(dc.kv(MOVE_KEY), None);
    check(&dc, new, &["--reconcile"]).exits(0).stdout_starts_with(&format!("PASSING: mysql {} is the master consul names", new.host_port()));
}
