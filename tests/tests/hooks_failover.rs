//! Both MySQL hooks driven exactly as mysqlfailover and mysqlrpladmin call them, against real
//! MariaDB GTID master/replica sets and a Consul stand-in, asserting catalog, KV and DNS after
//! every step: a failover from a dead master and a switchover that demotes the old master.
//! Moved from `mysql-after-exec/tests/failover.rs` because each runs both hooks; the hook
//! alone (a new master that is not yet a master) stays there.

use sengu_testsupport::hooks::{hook_args, Dc, KV_KEY, MOVE_KEY};
use testbed::mariadb::GtidCluster;

use crate::hooks::{after, before};

/// mysqlfailover, master killed: `--exec-before old new`, promote the candidate (STOP SLAVE,
/// RESET SLAVE ALL, read_only off), repoint the other replica, `--exec-after old new`. Each
/// hook runs twice, as a retrying manager might, with the same end state.
#[test]
fn failover_from_a_dead_master_moves_catalog_kv_and_dns_step_by_step() {
    let mut cluster = GtidCluster::new(2);
    let dc = Dc::new();
    let (old_ip, new_ip) = (cluster.master.host(), cluster.replicas[0].host());
    dc.seed(old_ip, Some(new_ip));
    dc.assert_dns_master(old_ip);
    let [old_host, old_port] = hook_args(&cluster.master);
    let [new_host, new_port] = hook_args(&cluster.replicas[0]);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];

    cluster.master.kill9();
    for run in 0..2 {
        let out = before(&dc, &four, &[("SENGU_FENCE_OLD_MASTER", "true")]);
        out.exits(0).stdout_contains("consul holds no master record").stdout_contains("old master not fenced, it is unreachable");
        if run == 0 {
            out.stdout_starts_with(&format!("mysql-before-exec: old master {old_host}:{old_port} taken out of consul at consul index "))
                .stdout_contains(&format!("removed node foo-db-master ({old_host})"));
        } else {
            out.stdout_starts_with("mysql-before-exec: nothing to remove: consul holds no master record");
        }
        assert_eq!((dc.master_node(), dc.master_kv()), (None, None));
        assert_eq!(dc.replica_node(), Some(new_host.clone()), "before leaves the replica record alone");
        assert!(dc.kv(MOVE_KEY).unwrap().contains(&format!("\"new\":\"{new_host}:{new_port}\"")));
        dc.assert_dns_no_master();
    }

    let (candidate, other) = (&cluster.replicas[0], &cluster.replicas[1]);
    candidate.promote();
    other.repoint(candidate);
    other.wait_replicating(candidate);
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None), "mysqlfailover's own steps do not touch consul");
    dc.assert_dns_no_master();

    let wait_dns = dc.dns_addr().to_string();
    for run in 0..2 {
        let out = after(&dc, &four, &[("SENGU_WAIT_DNS", &wait_dns)]);
        out.exits(0).stdout_contains(&format!("answers foo-db-master.node.consul. with [{new_host}]"));
        if run == 0 {
            out.stdout_starts_with(&format!("mysql-after-exec: published {new_host}:{new_port} as the master at consul index "))
                .stdout_contains(&format!("consul's master record names {new_host}\n"))
                .stdout_contains(&format!("removed node foo-db-slave ({new_host})"));
        } else {
            out.stdout_starts_with(&format!("mysql-after-exec: {new_host}:{new_port} is already published: consul's master record names {new_host}"));
        }
        assert_eq!(dc.master_node(), Some(new_host.clone()));
        assert_eq!(dc.master_kv(), Some(new_host.clone()), "plain format: the bare host, as the shell hook wrote it");
        assert_eq!(dc.replica_node(), None, "it named the promoted replica, and the dead old master is no replica");
        assert_eq!(dc.kv(MOVE_KEY), None, "the move is finished");
        dc.assert_dns_master(new_ip);
    }

    let lines = dc.log_lines();
    let actions: Vec<&str> = lines.iter().map(|l| l.split(" action=").nth(1).unwrap().split(' ').next().unwrap()).collect();
    // A failover (four arguments) blocks further automatic failovers once, after publishing.
    assert_eq!(actions, ["unpublish", "fence", "unchanged", "fence", "publish", "block", "unchanged"], "{lines:#?}");
    let publish = &lines[4];
    assert!(publish.contains(&format!(" old={old_host}:{old_port} new={new_host}:{new_port} ")), "{publish}");
    assert!(publish.contains(&format!("changed=\"kv foo-db-master -> {new_host}; node foo-db-master -> {new_host};")), "{publish}");
    let index: u64 = publish.split(" index=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(dc.kv_index(KV_KEY), Some(index), "the logged index is the one the KV value was written at");
}

/// mysqlrpladmin switchover: `--exec-before old new` (old master alive: fenced), promote the
/// replica, demote the old master to a replica of the new one, then `--exec-after new` with
/// only two arguments. The old master comes from the move record; the replica node follows it.
/// Published as JSON and as a service with the port.
#[test]
fn switchover_with_two_arguments_publishes_the_new_master_and_the_demoted_old_one() {
    let cluster = GtidCluster::new(1);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    let dc = Dc::new();
    dc.seed(old.host(), Some(new.host()));
    let [old_host, old_port] = hook_args(old);
    let [new_host, new_port] = hook_args(new);
    let settings = [("SENGU_FENCE_OLD_MASTER", "true"), ("SENGU_KV_FORMAT", "json"), ("SENGU_SERVICE", "mysql")];

    before(&dc, &[&old_host, &old_port, &new_host, &new_port], &settings)
        .exits(0)
        .stdout_contains(&format!("fenced old master {old_host}:{old_port}: read_only is ON (the server has no super_read_only"));
    assert!(old.read_only(), "fenced");
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));

    new.promote();
    old.demote(new);
    old.wait_replicating(new);

    after(&dc, &[&new_host, &new_port], &settings)
        .exits(0)
        .stdout_contains(&format!("node foo-db-slave -> {old_host} (was {new_host})"))
        .stdout_contains(&format!("service mysql on node foo-db-master -> port {new_port}"));
    assert_eq!(dc.master_node(), Some(new_host.clone()));
    assert_eq!(dc.replica_node(), Some(old_host.clone()), "the demoted old master replicates from the new one");
    let value: serde_json::Value = serde_json::from_str(&dc.master_kv().unwrap()).unwrap();
    assert_eq!(value["host"], new_host.as_str());
    assert_eq!(value["port"], new.port());
    assert_eq!(value["previous"], format!("{old_host}:{old_port}"), "known from the move record");
    assert!(value["changed_at"].as_str().unwrap().ends_with('Z'));
    let services = dc.client.catalog_service("mysql", Some("master")).unwrap();
    assert_eq!(services.iter().map(|s| (s.node.as_str(), s.address(), s.service_port)).collect::<Vec<_>>(), [("foo-db-master", new_host.as_str(), new.port())]);
    assert_eq!(dc.dns("master.mysql.service.consul.").unwrap(), vec![new.host()]);
    assert_eq!(dc.kv(MOVE_KEY), None);

    let snapshot = dc.snapshot();
    after(&dc, &[&new_host, &new_port], &settings).exits(0).stdout_contains("is already published");
    assert_eq!(dc.snapshot(), snapshot, "a second run writes nothing");
}
