//! `mysql-after-exec` driven exactly as mysqlfailover and mysqlrpladmin call it, against a real
//! MariaDB GTID master/replica set and a Consul stand-in, asserting catalog, KV and DNS after
//! every step: a new master that is not yet a master. The failover and switchover that run
//! both hooks are in the `sengu-e2e` package (`tests/tests/hooks_failover.rs`).

use sengu_testsupport::hooks::{hook_args, Dc};
use testbed::mariadb::GtidCluster;

use crate::after;

/// A new master that still replicates or is still read-only is refused: Consul then holds no
/// master rather than a wrong one, and a rerun once it is ready (here with --make-writable)
/// finishes the move, taking the old master from the move record.
#[test]
fn after_refuses_a_new_master_that_replicates_or_is_read_only_until_it_is_ready() {
    let cluster = GtidCluster::new(1);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    let dc = Dc::new();
    dc.seed(old.host(), None);
    let [old_host, old_port] = hook_args(old);
    let [new_host, new_port] = hook_args(new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];

    // Without before (it may have failed): after must still take the old master's record out.
    after(&dc, &four, &[("SENGU_MAKE_WRITABLE", "true")])
        .exits(3)
        .stdout_starts_with(&format!(
            "mysql-after-exec: new master not published: {new_host}:{new_port} is not writable: read_only is ON, still replicating from {old_host}:{old_port} (IO thread Yes, SQL thread Yes); consul holds no master record"
        ))
        .stdout_contains(&format!("deleted kv foo-db-master ({old_host})"));
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));
    assert!(new.read_only(), "a replicating server is never made writable");
    dc.assert_dns_no_master();

    new.exec("STOP SLAVE");
    new.exec("RESET SLAVE ALL");
    after(&dc, &[&new_host, &new_port], &[])
        .exits(3)
        .stdout_starts_with(&format!("mysql-after-exec: new master not published: {new_host}:{new_port} is not writable: read_only is ON; consul holds no master record"));
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));

    after(&dc, &[&new_host, &new_port], &[("SENGU_MAKE_WRITABLE", "true")])
        .exits(0)
        .stdout_contains(&format!("turned read_only off on {new_host}:{new_port}"))
        .stdout_contains(&format!("consul's master record names {new_host}"));
    assert!(!new.read_only());
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host.clone())));
    let lines = dc.log_lines();
    assert!(lines[0].contains(" action=refused ") && lines[1].contains(" action=refused ") && lines[1].contains(" changed=nothing "), "{lines:#?}");
    assert!(lines[2].contains(" action=make-writable ") && lines[3].contains(&format!(" action=publish old={old_host}:{old_port} ")), "{lines:#?}");
}
