//! The Redis side of the testbed against real `redis-server` and `redis-sentinel` processes:
//! replication, auth, set formation, a failover, and the fault helpers other tests rely on.

use std::time::Duration;

use testbed::host;
use testbed::redis::{RedisServer, RedisSet, Role, Sentinel};
use testbed::wait_until;

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn replica_receives_a_key_written_on_its_master() {
    let master = RedisServer::start(host(11));
    let replica = RedisServer::builder(host(12)).replica_of(master.addr()).start();

    let _: () = redis::cmd("SET").arg("k").arg("v1").query(&mut master.conn()).unwrap();
    let got = wait_until(
        DEADLINE,
        "the key to reach the replica",
        || redis::cmd("GET").arg("k").query::<Option<String>>(&mut replica.conn()).unwrap(),
        || replica.log_tail(),
    );
    assert_eq!(got, "v1");
    // The master lists the replica under its host address, not 127.0.0.1.
    assert!(master.role().unwrap().lists_replica(replica.addr()), "{:?}", master.role());
    assert!(replica.role().unwrap().is_connected_replica_of(master.addr()));
}

#[test]
fn requirepass_admits_the_password_and_refuses_anonymous_clients() {
    let server = RedisServer::builder(host(11)).requirepass("pa ss\"word").start();

    let pong: String = redis::cmd("PING").query(&mut server.conn()).unwrap();
    assert_eq!(pong, "PONG");
    let mut anonymous = testbed::redis::connect(&server.connection_info_noauth(), Duration::from_secs(5)).unwrap();
    let err = redis::cmd("PING").query::<String>(&mut anonymous).unwrap_err();
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
}

#[test]
fn acl_user_logs_in_and_a_wrong_password_is_refused() {
    let server = RedisServer::builder(host(11)).acl_user("app", "app-secret").start();

    let who: String = redis::cmd("ACL").arg("WHOAMI").query(&mut server.conn()).unwrap();
    assert_eq!(who, "app");
    let mut info = server.connection_info();
    info.redis.password = Some("wrong".into());
    assert!(testbed::redis::connect(&info, Duration::from_secs(5)).is_err());
}

#[test]
fn one_replica_and_three_sentinels_form_with_quorum() {
    let ids: Vec<String> = (1..=3).map(Sentinel::numbered_myid).collect();
    let set = RedisSet::builder().replicas(1).sentinels(3).myids(ids.clone()).start();

    let hosts: Vec<_> = set.sentinels().iter().map(Sentinel::ip).collect();
    assert_eq!(hosts, vec![host(11), host(12), host(12)]);
    for (s, id) in set.sentinels().iter().zip(&ids) {
        assert_eq!(&s.myid(), id);
        let ok = s.ckquorum().unwrap();
        assert!(ok.starts_with("OK 3 usable Sentinels"), "{ok}");
    }
    assert_eq!(set.current_master(), Some(set.server(0).addr()));
    let view = set.sentinel_view();
    assert!(view.contains("num-other-sentinels=2"), "{view}");
    assert!(view.contains(&format!("replica: ip={} port={}", host(12), set.server(1).port())), "{view}");
}

#[test]
fn sentinels_fail_over_to_the_replica_when_the_master_is_killed() {
    let set = &mut RedisSet::builder().replicas(1).sentinels(3).down_after(Duration::from_millis(1000)).start();
    let old = set.server(0).addr();

    set.server_mut(0).kill9();
    let new = set.wait_new_master(old, Duration::from_secs(30));

    assert_eq!(new, set.server(1).addr());
    set.server(1).wait_master(DEADLINE);
    let _: () = redis::cmd("SET").arg("after").arg("failover").query(&mut set.server(1).conn()).unwrap();
}

#[test]
fn restart_after_kill_answers_on_the_same_port() {
    let mut server = RedisServer::builder(host(13)).requirepass("pw").start();
    let addr = server.addr();

    server.kill9();
    assert!(!server.answers_ping());
    server.restart();

    assert_eq!(server.addr(), addr);
    assert!(server.answers_ping());
    assert!(matches!(server.role().unwrap(), Role::Master { .. }));
}

#[test]
fn frozen_and_sleeping_servers_accept_connections_but_do_not_answer() {
    let server = RedisServer::start(host(11));
    let quick = |s: &RedisServer| {
        testbed::redis::connect(&s.connection_info(), Duration::from_millis(300))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
    };

    server.freeze();
    let frozen = quick(&server).unwrap_err();
    assert!(frozen.is_timeout(), "{frozen}");
    server.thaw();
    assert_eq!(quick(&server).unwrap(), "PONG");

    let sleep = server.debug_sleep(1.0);
    assert!(quick(&server).is_err());
    assert!(sleep.join().unwrap().is_ok());
    assert_eq!(quick(&server).unwrap(), "PONG");
}

#[test]
fn client_pause_write_blocks_writes_but_not_reads() {
    let server = RedisServer::start(host(12));
    let mut con = server.conn();
    con.set_read_timeout(Some(Duration::from_millis(300))).unwrap();

    server.client_pause(5000, true);
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    let blocked = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut con).unwrap_err();
    assert!(blocked.is_timeout(), "{blocked}");
    server.client_unpause();
}

#[test]
fn replicaof_helpers_switch_roles() {
    let a = RedisServer::start(host(11));
    let b = RedisServer::start(host(12));

    b.replicaof(a.addr());
    b.wait_replica_connected(a.addr(), DEADLINE);
    b.replicaof_no_one();
    assert!(matches!(b.role().unwrap(), Role::Master { .. }));
}

#[test]
fn restarted_sentinel_keeps_its_port_and_identity() {
    let master = RedisServer::start(host(14));
    let id = Sentinel::numbered_myid(7);
    let mut sentinel = Sentinel::builder(host(14), "m", master.addr()).quorum(1).myid(id.clone()).start();
    let addr = sentinel.addr();

    sentinel.kill9();
    assert!(!sentinel.is_live());
    sentinel.restart();

    assert!(sentinel.is_live());
    assert_eq!(sentinel.addr(), addr);
    assert_eq!(sentinel.myid(), id);
    assert_eq!(sentinel.master_addr().unwrap(), Some(master.addr()));
}
