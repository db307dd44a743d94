//! Replication between test instances: the steps a failover manager performs (point a replica
//! at a master, promote, repoint, demote) as [`Mariadb`] methods, the waits that confirm them,
//! and [`GtidCluster`], a master with replicas that is replicating when it is returned.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::Row;

use super::{value_text, Mariadb, MariadbOpts, REPLICATION_TIMEOUT, REPL_PASSWORD, REPL_USER, ROOT_USER};
use crate::ports::host;
use crate::process::wait_until;

impl Mariadb {
    /// `SHOW SLAVE STATUS` as column name → text value (NULL as `None`); `None` when this server
    /// is not configured as a replica.
    pub fn slave_status(&self) -> Option<BTreeMap<String, Option<String>>> {
        self.slave_status_or_err()
            .unwrap_or_else(|e| panic!("mariadb {}: SHOW SLAVE STATUS: {e}\n{}", self.host_port(), self.log_tail()))
    }

    /// One field of `SHOW SLAVE STATUS`, or `None` (not a replica, or NULL).
    pub fn slave_field(&self, name: &str) -> Option<String> {
        self.slave_status().and_then(|s| s.get(name).cloned().flatten())
    }

    /// `CHANGE MASTER TO` `master` with `MASTER_USE_GTID=slave_pos`, then `START SLAVE`.
    pub fn replicate_from(&self, master: &Mariadb) {
        self.change_master(master, "slave_pos");
    }

    fn change_master(&self, master: &Mariadb, use_gtid: &str) {
        self.exec(&format!(
            "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', \
             MASTER_USE_GTID={use_gtid}, MASTER_CONNECT_RETRY=1",
            master.host(),
            master.port()
        ));
        self.exec("START SLAVE");
    }

    /// Points a running replica at another master (what a failover manager does to the other
    /// replicas after a promotion).
    pub fn repoint(&self, new_master: &Mariadb) {
        self.exec("STOP SLAVE");
        self.replicate_from(new_master);
    }

    /// Makes this replica a writable master: stop fetching, apply everything already fetched,
    /// forget the old master, `read_only=0`.
    pub fn promote(&self) {
        let mut c = self.conn();
        let fail = |what: &str, e: mysql::Error| -> ! { panic!("promote mariadb {}: {what}: {e}\n{}", self.host_port(), self.log_tail()) };
        c.query_drop("STOP SLAVE IO_THREAD").unwrap_or_else(|e| fail("STOP SLAVE IO_THREAD", e));
        let fetched = self.slave_field("Gtid_IO_Pos").unwrap_or_default();
        if !fetched.is_empty() {
            let done: Option<i32> = c
                .exec_first("SELECT MASTER_GTID_WAIT(?, ?)", (fetched.as_str(), REPLICATION_TIMEOUT.as_secs()))
                .unwrap_or_else(|e| fail("MASTER_GTID_WAIT", e));
            assert_eq!(done, Some(0), "promote mariadb {}: relay log not applied up to {fetched}\n{}", self.host_port(), self.log_tail());
        }
        c.query_drop("STOP SLAVE").unwrap_or_else(|e| fail("STOP SLAVE", e));
        c.query_drop("RESET SLAVE ALL").unwrap_or_else(|e| fail("RESET SLAVE ALL", e));
        c.query_drop("SET GLOBAL read_only = 0").unwrap_or_else(|e| fail("SET GLOBAL read_only = 0", e));
    }

    /// Turns a (former) master into a replica of `new_master`: `read_only=1`, then replicate
    /// with `MASTER_USE_GTID=current_pos` (its own binlog position counts as applied).
    pub fn demote(&self, new_master: &Mariadb) {
        self.set_read_only(true);
        self.exec("STOP SLAVE");
        self.change_master(new_master, "current_pos");
    }

    /// Waits until both replication threads run and this replica has applied everything
    /// `master` has binlogged so far. A `current_pos` replica (a demoted old master) counts
    /// its own binary log as applied, so for it what it wrote as master counts too: that is in
    /// its `@@gtid_current_pos`, never in the `@@gtid_slave_pos` that `MASTER_GTID_WAIT` reads.
    pub fn wait_replicating(&self, master: &Mariadb) {
        let target = master.gtid_binlog_pos();
        let ctx = || format!("slave status: {:?}\n{}\n{}", self.slave_status_or_err(), self.log_tail(), master.log_tail());
        wait_until(
            REPLICATION_TIMEOUT,
            &format!("mariadb {} to replicate from {} up to {target:?}", self.host_port(), master.host_port()),
            || {
                let status = self.slave_status_or_err().ok()??;
                let running = |k: &str| status.get(k).cloned().flatten().as_deref() == Some("Yes");
                if !(running("Slave_IO_Running") && running("Slave_SQL_Running")) {
                    return None;
                }
                if target.is_empty() {
                    return Some(());
                }
                let mut c = self.conn_as(ROOT_USER, "").ok()?;
                if status.get("Using_Gtid").cloned().flatten().is_some_and(|u| u.eq_ignore_ascii_case("Current_Pos")) {
                    let current: String = c.query_first("SELECT @@global.gtid_current_pos").ok()??;
                    if gtid_covers(&current, &target) {
                        return Some(());
                    }
                }
                let r: Option<i32> = c.exec_first("SELECT MASTER_GTID_WAIT(?, 0.2)", (target.as_str(),)).ok()?;
                (r == Some(0)).then_some(())
            },
            ctx,
        );
    }

    /// Waits until `Slave_IO_Running` shows `state` (`Yes`, `No`, `Connecting`).
    pub fn wait_io_state(&self, state: &str, timeout: Duration) {
        self.wait_slave_field("Slave_IO_Running", state, timeout);
    }

    /// Waits until the `SHOW SLAVE STATUS` field `name` reads `value` (e.g. `Last_IO_Errno` = `2003`).
    pub fn wait_slave_field(&self, name: &str, value: &str, timeout: Duration) {
        wait_until(
            timeout,
            &format!("mariadb {} {name} = {value}", self.host_port()),
            || {
                let status = self.slave_status_or_err().ok()??;
                (status.get(name).cloned().flatten().as_deref() == Some(value)).then_some(())
            },
            || format!("slave status: {:?}\n{}", self.slave_status_or_err(), self.log_tail()),
        );
    }

    pub(super) fn slave_status_or_err(&self) -> mysql::Result<Option<BTreeMap<String, Option<String>>>> {
        let row: Option<Row> = self.conn_as(ROOT_USER, "")?.query_first("SHOW SLAVE STATUS")?;
        Ok(row.map(|row| {
            row.columns_ref()
                .iter()
                .enumerate()
                .map(|(i, col)| (col.name_str().into_owned(), row.as_ref(i).and_then(value_text)))
                .collect()
        }))
    }
}

/// True when GTID position `pos` (`domain-server-seq`, comma-separated) has reached `target` in
/// every domain of `target`, the way MariaDB compares positions: by sequence number per domain.
fn gtid_covers(pos: &str, target: &str) -> bool {
    let parse = |list: &str| -> Vec<(u32, u64)> {
        list.split(',')
            .filter_map(|gtid| {
                let mut parts = gtid.trim().split('-');
                let domain = parts.next()?.parse().ok()?;
                let seq = parts.nth(1)?.parse().ok()?;
                Some((domain, seq))
            })
            .collect()
    };
    let have = parse(pos);
    parse(target).iter().all(|(domain, seq)| have.iter().any(|(d, s)| d == domain && s >= seq))
}

/// A GTID master with replicas, all on their own hosts: master on `host(11)`, replicas on
/// `host(12)`, `host(13)`, …; `server_id` = host number. Every node starts with `read_only=1`
/// in its flags; the master is switched to `read_only=0` at runtime, as production should.
#[derive(Debug)]
pub struct GtidCluster {
    pub master: Mariadb,
    pub replicas: Vec<Mariadb>,
}

impl GtidCluster {
    /// Starts the set and returns once every replica's IO and SQL threads run and it has
    /// applied a test write made on the master.
    pub fn new(replicas: usize) -> GtidCluster {
        GtidCluster::with_opts(replicas, |o| o)
    }

    /// Like [`GtidCluster::new`], with every node's options passed through `tweak` first.
    pub fn with_opts(replicas: usize, tweak: impl Fn(MariadbOpts) -> MariadbOpts) -> GtidCluster {
        let master = Mariadb::start(tweak(MariadbOpts::new(host(11))));
        master.set_read_only(false);
        let replicas: Vec<Mariadb> =
            (0..replicas).map(|i| Mariadb::start(tweak(MariadbOpts::new(host(12 + i as u8))))).collect();
        for r in &replicas {
            r.replicate_from(&master);
        }
        master.test_write("cluster up");
        for r in &replicas {
            r.wait_replicating(&master);
        }
        GtidCluster { master, replicas }
    }

    /// Every node's error log tail, for panic messages.
    pub fn logs(&self) -> String {
        std::iter::once(&self.master).chain(&self.replicas).map(Mariadb::log_tail).collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::gtid_covers;

    #[test]
    fn a_position_covers_a_target_domain_by_domain() {
        assert!(gtid_covers("0-11-5", "0-12-5"), "the server id does not matter");
        assert!(gtid_covers("0-11-7,1-11-2", "0-12-5"));
        assert!(gtid_covers("0-11-7,1-11-2", "1-11-2,0-11-7"));
        assert!(!gtid_covers("0-11-4", "0-12-5"));
        assert!(!gtid_covers("0-11-7", "0-11-7,1-12-1"), "a domain it has not seen");
        assert!(!gtid_covers("", "0-11-1"));
        assert!(gtid_covers("0-11-1", ""), "nothing to reach");
    }
}
