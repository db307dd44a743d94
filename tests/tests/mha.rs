//! The real MHA 0.58 (`masterha_master_switch`, Debian's mha4mysql-manager) driving
//! `mysql-mha-script` as both its `master_ip_online_change_script` and its
//! `master_ip_failover_script`, against a MariaDB GTID master/replica pair and a Consul
//! stand-in: an online switch, a failover from a killed master, and an online switch whose
//! `start` must refuse (the old master is switched back, Consul names exactly one writable
//! master). The drill through MHA is in `drill_lab`.

use sengu_e2e::lab;
use sengu_testsupport::hooks::{Dc, MOVE_KEY};
use testbed::mariadb::{GtidCluster, Mariadb, TEST_TABLE};
use testbed::mha::{self, Mha, Node, MHA_PASSWORD};

/// The script's path, as MHA's config names it.
fn script() -> String {
    lab::bin("mysql-mha-script").display().to_string()
}

/// A master/replica pair with MHA's user, published in `dc` (master node, KV, replica node).
fn pair(dc: &Dc) -> GtidCluster {
    let cluster = GtidCluster::new(1);
    mha::create_user(&cluster.master);
    cluster.replicas[0].wait_replicating(&cluster.master);
    dc.seed(cluster.master.host(), Some(cluster.replicas[0].host()));
    cluster
}

fn app(dc: &Dc, cluster: &GtidCluster, script: &str) -> Mha {
    let env = dc.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Mha::new(&[Node::from(&cluster.master), Node::from(&cluster.replicas[0])], script, &env)
}

fn rows(db: &Mariadb) -> u64 {
    db.scalar(&format!("SELECT COUNT(*) FROM {TEST_TABLE}")).unwrap_or_default()
}

/// MHA puts its password on the script's command line; the script must never print or log it.
#[track_caller]
fn no_password(dc: &Dc, run: &mha::SwitchRun) {
    let log = dc.log_lines().join("\n");
    for (place, text) in [("MHA's output", run.output.as_str()), ("the manager log", run.log.as_str()), ("the action log", log.as_str())] {
        assert!(!text.contains(MHA_PASSWORD), "the password reached {place}:\n{text}");
    }
}

/// `masterha_master_switch --master_state=alive`: `stop` unpublishes and fences the old master,
/// `start` runs while the new master is still read-only and linked to the locked old one, and
/// afterwards Consul's node, KV and DNS name the new master, it is writable, and the old one is
/// read-only and replicating from it.
#[test]
fn an_online_switch_moves_consul_and_dns_and_leaves_one_writable_master() {
    let dc = Dc::new();
    let cluster = pair(&dc);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    let run = app(&dc, &cluster, &script()).online_switch(Node::from(new), &[]);
    assert!(run.success(), "{run}");

    let new_host = new.host().to_string();
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host.clone())), "{run}");
    assert_eq!(dc.kv(MOVE_KEY), None, "the move is finished");
    dc.assert_dns_master(new.host());
    assert!(!new.read_only() && new.slave_status().is_none(), "MHA finished the new master: writable, replication reset");
    assert!(old.read_only(), "the old master stays fenced");
    old.wait_io_state("Yes", std::time::Duration::from_secs(20));
    assert_eq!(old.slave_field("Master_Host"), Some(new_host.clone()), "the old master replicates from the new one");

    for phase in ["taken out of consul", "fenced old master", "published"] {
        assert!(run.output.contains(phase), "MHA's output shows the script's {phase:?} report\n{run}");
    }
    no_password(&dc, &run);
}

/// `masterha_master_switch --master_state=dead` after `kill -9` of the master: `stop` (no SSH
/// here) unpublishes the dead master, MHA recovers the replica, `start` makes it writable and
/// publishes it.
#[test]
fn a_failover_from_a_killed_master_publishes_the_new_one() {
    let dc = Dc::new();
    let mut cluster = pair(&dc);
    let (old_node, new_node) = (Node::from(&cluster.master), Node::from(&cluster.replicas[0]));
    cluster.master.kill9();
    let run = app(&dc, &cluster, &script()).failover(old_node, new_node);
    assert!(run.success(), "{run}");

    let new = &cluster.replicas[0];
    let new_host = new.host().to_string();
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host)), "{run}");
    assert_eq!(dc.kv(MOVE_KEY), None);
    dc.assert_dns_master(new.host());
    assert!(!new.read_only());
    assert!(run.log.contains("old master not fenced, it is unreachable"), "{run}");
    no_password(&dc, &run);
}

/// An online switch where `start` must refuse: a user the read-only fence does not stop (root
/// has READ_ONLY ADMIN) writes to the old master after MHA's catch-up wait (MHA told not to lock
/// tables), and the new master's replication is stopped, so the new master is behind. The
/// script refuses, MHA aborts before it turns `read_only` off, and the script switches back:
/// the old master, which has every write, is writable and published again. Never no master,
/// never two.
#[test]
fn a_refused_start_switches_back_and_consul_names_exactly_one_writable_master() {
    let late_write = format!("INSERT INTO {TEST_TABLE} (note) VALUES ('after the catch-up')");
    refused_start("STOP SLAVE", &late_write, &["--skip_lock_all_tables"], "is not caught up", 1);
}

/// The same with MHA's table lock held on the old master while `start` runs (the default):
/// the new master was pointed elsewhere, so it is still replicating from a server that is not
/// the old master. Switching back works under MHA's lock.
#[test]
fn a_refused_start_under_mhas_table_lock_switches_back_too() {
    let elsewhere = "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=1; START SLAVE";
    refused_start(elsewhere, "SELECT 1", &[], "still replicating from 127.0.0.1:1", 0);
}

/// Runs an online switch whose `start` call first runs `on_new` on the new master and
/// `on_old` on the old one (through a wrapper MHA runs with `sh -c`), and checks the refusal
/// (`why`) and the switch back; `on_old` adds `late_rows` rows to the old master.
fn refused_start(on_new: &str, on_old: &str, extra: &[&str], why: &str, late_rows: u64) {
    let dc = Dc::new();
    let cluster = pair(&dc);
    let (old, new) = (&cluster.master, &cluster.replicas[0]);
    let wrapper = dc.dir().join("before-start.sh");
    let mysql = |db: &Mariadb, sql: &str| format!("mysql --protocol=tcp -h {} -P {} -uroot -e \"{sql}\" || exit 99", db.host(), db.port());
    let text = format!("#!/bin/sh\ncase \" $* \" in *\" --command=start \"*)\n  {}\n  {}\n;;\nesac\nexec {} \"$@\"\n", mysql(new, on_new), mysql(old, on_old), script());
    std::fs::write(&wrapper, text).unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let before = rows(old);
    let run = app(&dc, &cluster, wrapper.to_str().unwrap()).online_switch(Node::from(new), extra);
    assert!(!run.success(), "MHA must abort\n{run}");
    assert!(run.output.contains(why), "{run}");
    assert!(run.output.contains("switched back: published"), "{run}");
    assert_eq!(rows(old), before + late_rows);

    let old_host = old.host().to_string();
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(old_host.clone()), Some(old_host)), "{run}");
    assert_eq!(dc.kv(MOVE_KEY), None, "{run}");
    dc.assert_dns_master(old.host());
    assert!(!old.read_only(), "the old master takes writes again\n{run}");
    assert!(new.read_only(), "the new master was never made writable\n{run}");
    no_password(&dc, &run);
}
