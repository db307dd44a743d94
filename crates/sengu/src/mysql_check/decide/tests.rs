//! The decision table's rows, one test each, on hand-made observations.

use std::time::{Duration, SystemTime};

use super::*;
use crate::check::Status;
use crate::mysql::{Flavor, GtidPosition, IoState};
use crate::mysql_hooks::records::{Indexed, MasterValue, NodeRecord};

fn hp(s: &str) -> HostPort {
    s.parse().unwrap()
}

fn policy() -> Policy {
    Policy {
        mode: Mode::Auto,
        max_lag: Duration::from_secs(30),
        warn_lag: Duration::from_secs(10),
        max_gtid_gap: None,
        fence: true,
        reconcile: true,
        replica_node: true,
        tags: true,
    }
}

fn role(read_only: bool, replica: Option<ReplicaStatus>) -> ServerRole {
    ServerRole {
        version: "10.11.19-MariaDB".into(),
        flavor: Flavor::MariaDb,
        read_only,
        super_read_only: None,
        replica,
        gtid: Some(GtidPosition { executed: "0-11-100".into(), replica_pos: None }),
    }
}

fn link(master: &str, io: IoState, sql: bool, behind: Option<u64>) -> ReplicaStatus {
    ReplicaStatus {
        master: hp(master),
        io,
        sql_running: sql,
        seconds_behind_master: behind,
        last_io_error: None,
        last_sql_error: None,
        using_gtid: Some("Slave_Pos".into()),
        gtid_io_pos: None,
        master_server_id: None,
        read_position: None,
        exec_position: None,
        heartbeats: None,
        heartbeat_period: None,
    }
}

/// Consul's records: KV (plain) and master node naming `master`, optionally the replica node
/// and a move record.
fn view(master: Option<&str>, replica: Option<&str>, moving: Option<MoveRecord>) -> View {
    View {
        master_node: master.map(|m| NodeRecord { address: m.into(), service_port: None }),
        kv: master.map(|m| Indexed { value: MasterValue::parse(m.as_bytes()), modify_index: 7 }),
        replica_node: replica.map(|r| NodeRecord { address: r.into(), service_port: None }),
        moving: moving.map(|m| Indexed { value: Some(m), modify_index: 9 }),
    }
}

fn seen(local: ServerRole, consul: View) -> Observations {
    Observations {
        me: hp("10.0.0.11:3306"),
        local: Ok(Local { role: local, server_id: 11 }),
        consul: Ok(consul),
        named: None,
        source_gtid: None,
        old_writable: None,
        holds: None,
        now: SystemTime::now(),
    }
}

fn status(d: &Decision) -> Status {
    d.results.iter().map(|r| r.status).max().unwrap_or(Status::Critical)
}

fn text(d: &Decision) -> String {
    d.results.iter().map(|r| r.text.clone()).collect::<Vec<_>>().join(" | ")
}

#[test]
fn the_master_consul_names_passes_and_claims_the_tag() {
    let d = decide(&policy(), &seen(role(false, None), view(Some("10.0.0.11"), None, None)));
    assert_eq!(status(&d), Status::Passing, "{}", text(&d));
    assert_eq!(d.claim, Some(Claim::Master { at: hp("10.0.0.11:3306"), others: Others::Demote }));
    assert_eq!(d.action, None);
}

#[test]
fn the_record_naming_the_same_server_by_another_address_counts_as_this_one() {
    let mut o = seen(role(false, None), view(Some("db1.example"), None, None));
    o.named = Some((hp("db1.example:3306"), Ok(Peer { role: role(false, None), server_id: 11 })));
    let d = decide(&policy(), &o);
    assert_eq!(status(&d), Status::Passing, "{}", text(&d));
    assert_eq!(d.action, None, "never fence oneself");
}

#[test]
fn a_stale_master_is_fenced_only_when_the_named_master_is_healthy_and_no_move_is_recorded() {
    let healthy = Peer { role: role(false, None), server_id: 12 };
    let mut o = seen(role(false, None), view(Some("10.0.0.12"), None, None));
    o.named = Some((hp("10.0.0.12:3306"), Ok(healthy.clone())));
    let d = decide(&policy(), &o);
    assert_eq!(status(&d), Status::Critical);
    assert_eq!(d.action, Some(Action::Fence { named: hp("10.0.0.12:3306") }));
    assert_eq!(d.claim, Some(Claim::Untagged { at: hp("10.0.0.11:3306") }));

    let off = Policy { fence: false, ..policy() };
    let d = decide(&off, &o);
    assert_eq!(d.action, None);
    assert!(text(&d).contains("not fenced: --fence-stale-master is off"));

    o.named = Some((hp("10.0.0.12:3306"), Ok(Peer { role: role(true, None), server_id: 12 })));
    let d = decide(&policy(), &o);
    assert_eq!(d.action, None, "a read-only named master proves nothing");
    assert!(text(&d).contains("which is not a writable master (read_only is ON)"), "{}", text(&d));

    o.named = Some((hp("10.0.0.12:3306"), Err(mysql::Error::Timeout { addr: hp("10.0.0.12:3306"), after: Duration::from_secs(1), during: "connect".into() })));
    assert_eq!(decide(&policy(), &o).action, None);

    let moving = MoveRecord::new(Some(&hp("10.0.0.11:3306")), Some(&hp("10.0.0.12:3306")), SystemTime::UNIX_EPOCH);
    let mut o = seen(role(false, None), view(Some("10.0.0.12"), None, Some(moving)));
    o.named = Some((hp("10.0.0.12:3306"), Ok(healthy)));
    let d = decide(&policy(), &o);
    assert_eq!(d.action, None, "a recorded move is for the hooks or a person");
    assert!(text(&d).contains("a move is recorded"));
}

#[test]
fn a_move_to_this_server_is_reconciled_only_when_the_old_master_is_not_writable() {
    let moving = MoveRecord::new(Some(&hp("10.0.0.12:3306")), Some(&hp("10.0.0.11:3306")), SystemTime::UNIX_EPOCH);
    let mut o = seen(role(false, None), view(None, None, Some(moving.clone())));
    o.old_writable = Some(false);
    let d = decide(&policy(), &o);
    assert_eq!(d.action, Some(Action::Reconcile(Masters { old: Some(hp("10.0.0.12:3306")), new: hp("10.0.0.11:3306") })));
    o.old_writable = Some(true);
    let d = decide(&policy(), &o);
    assert_eq!((d.action.clone(), status(&d)), (None, Status::Critical));
    assert!(text(&d).contains("is writable too: a person must decide"));
    o.old_writable = Some(false);
    let d = decide(&Policy { reconcile: false, ..policy() }, &o);
    assert!(d.action.is_none() && text(&d).contains("turn --reconcile on"));

    let elsewhere = MoveRecord::new(Some(&hp("10.0.0.12:3306")), Some(&hp("10.0.0.13:3306")), SystemTime::UNIX_EPOCH);
    let d = decide(&policy(), &seen(role(false, None), view(None, None, Some(elsewhere))));
    assert!(d.action.is_none() && text(&d).contains("10.0.0.12:3306 -> 10.0.0.13:3306"), "{}", text(&d));
}

#[test]
fn without_a_readable_record_a_writable_master_is_a_warning() {
    let mut o = seen(role(false, None), View::default());
    o.consul = Err(consul::Error::Unreachable { addr: "127.0.0.1:8500".into(), reason: "refused".into() });
    let d = decide(&policy(), &o);
    assert_eq!(status(&d), Status::Warning, "stays in DNS: nothing shows it is wrong");
    assert_eq!(d.claim, None);
}

#[test]
fn a_replica_is_judged_by_its_threads_its_source_and_its_lag() {
    let at = |d: &Decision| (status(d), d.claim.clone(), d.replica_node.clone());
    let me = hp("10.0.0.11:3306");
    let healthy = |behind| role(true, Some(link("10.0.0.12:3306", IoState::Running, true, Some(behind))));
    let consul = view(Some("10.0.0.12"), Some("10.0.0.12"), None);

    let d = decide(&policy(), &seen(healthy(0), consul.clone()));
    assert_eq!(at(&d), (Status::Passing, Some(Claim::Replica { at: me.clone() }), Some(ReplicaNode::Point)), "the replica node named the master");
    let d = decide(&policy(), &seen(healthy(11), view(Some("10.0.0.12"), Some("10.0.0.11"), None)));
    assert_eq!(at(&d), (Status::Warning, Some(Claim::Replica { at: me.clone() }), None), "{}", text(&d));
    let d = decide(&policy(), &seen(healthy(31), view(Some("10.0.0.12"), Some("10.0.0.11"), None)));
    assert_eq!(at(&d), (Status::Critical, Some(Claim::Untagged { at: me.clone() }), Some(ReplicaNode::Remove)));

    let stopped = role(true, Some(link("10.0.0.12:3306", IoState::Running, false, None)));
    let d = decide(&policy(), &seen(stopped, consul.clone()));
    assert_eq!(status(&d), Status::Critical);
    assert!(text(&d).contains("is not running (IO thread Yes, SQL thread No)"));

    let elsewhere = role(true, Some(link("10.0.0.13:3306", IoState::Running, true, Some(0))));
    let d = decide(&policy(), &seen(elsewhere, consul.clone()));
    assert!(status(&d) == Status::Critical && text(&d).contains("but consul's master is 10.0.0.12:3306"), "{}", text(&d));

    let d = decide(&Policy { mode: Mode::Master, ..policy() }, &seen(healthy(0), consul));
    assert!(status(&d) == Status::Critical && text(&d).contains("is a replica of 10.0.0.12:3306"));
}

#[test]
fn the_gtid_gap_counts_missing_transactions_per_domain() {
    assert_eq!(gtid_gap("0-11-105", "0-11-100"), 5);
    assert_eq!(gtid_gap("0-12-105,1-11-7", "0-11-105,1-11-2"), 5, "the server id does not matter; the worst domain counts");
    assert_eq!(gtid_gap("0-11-100", "0-11-105"), 0);
    assert_eq!(gtid_gap("3-11-4", ""), 4, "a domain the replica never saw");
    let mut p = policy();
    p.max_gtid_gap = Some(2);
    let mut o = seen(role(true, Some(link("10.0.0.12:3306", IoState::Running, true, Some(0)))), view(Some("10.0.0.12"), None, None));
    o.source_gtid = Some(Ok("0-12-103".into()));
    let d = decide(&p, &o);
    assert!(status(&d) == Status::Critical && text(&d).contains("more than --max-gtid-gap 2 transactions"), "{}", text(&d));
}
