//! The shipped layout, as every glibc client on the host sees it (the "Done when"):
//! DNS up wins over a stale fallback, NXDOMAIN mid-move gives no address, the agent or dnsmasq
//! down gives the last good master, the host's own names always resolve, and two masters in
//! Consul keep the last good single entry. Each test is a fresh client host ([`crate::lab`]).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::lab::{MASTER, netns_test};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

const A: &str = "127.0.0.21";
const B: &str = "127.0.0.22";

netns_test! {
    /// The state file still names the old master (no pass since the move): DNS decides.
    fn dns_up_gives_consuls_answer_even_with_a_stale_fallback(lab) {
        lab.publish_master("db-a", ip(A));
        lab.sync().exits(0);
        assert_eq!(lab.state(), [format!("{A} {MASTER}")]);
        lab.unpublish("db-a");
        lab.publish_master("db-b", ip(B));
        assert_eq!(lab.getent(MASTER), [ip(B)], "{}", lab.logs());
        assert!(lab.block().is_empty());
        lab.assert_own_names();
        lab.sync().exits(0);
        assert_eq!(lab.state(), [format!("{B} {MASTER}")]);
        assert_eq!(lab.getent(MASTER), [ip(B)]);
    }
}

netns_test! {
    /// The master is unpublished in the middle of a move: clients get no address, before and
    /// after a pass, never the old master.
    fn nxdomain_mid_move_gives_no_address(lab) {
        lab.publish_master("db-a", ip(A));
        lab.sync().exits(0);
        lab.unpublish("db-a");
        assert_eq!(lab.getent(MASTER), [] as [IpAddr; 0], "{}", lab.logs());
        lab.sync().exits(0);
        assert!(lab.block().is_empty(), "NXDOMAIN is an answer: no fallback entry");
        assert!(lab.state().is_empty(), "absent in Consul, absent in the fallback");
        assert_eq!(lab.getent(MASTER), [] as [IpAddr; 0]);
        lab.assert_own_names();
    }
}

netns_test! {
    /// The Consul agent dies (HTTP and DNS): one pass puts the last good master into the block,
    /// and the agent's return with a new master takes it out again.
    fn consul_agent_down_gives_the_last_good_master(lab) {
        lab.publish_master("db-a", ip(A));
        lab.sync().exits(0);
        lab.stop_consul();
        assert_eq!(lab.getent(MASTER), [] as [IpAddr; 0], "without the fallback: nothing");
        let run = lab.sync();
        run.exits(1);
        assert!(run.stdout.contains("kept the last good entry 127.0.0.21"), "{run:#?}");
        assert_eq!(lab.block(), [format!("{A} {MASTER}")]);
        assert_eq!(lab.getent(MASTER), [ip(A)], "{}", lab.logs());
        lab.assert_own_names();
        assert_eq!(lab.state(), [format!("{A} {MASTER}")], "never emptied");
        println!("measured: one pass with the agent down took {:?}", run.took);

        lab.start_consul();
        lab.publish_master("db-b", ip(B));
        lab.sync().exits(0);
        // Consul's HTTP answers at once; dnsmasq may not yet (it holds a query it forwarded
        // to the dead agent for a while), so the block may hold Consul's new answer for a pass
        // or two: clients get the new master either way.
        assert_eq!(lab.getent(MASTER), [ip(B)], "{}", lab.logs());
        let back = Instant::now();
        testbed::wait_until(Duration::from_secs(20), "the block to go", || (lab.sync().code == 0 && lab.block().is_empty()).then_some(()), || lab.logs());
        println!("measured: agent back -> block removed after {:?} of passes", back.elapsed());
        assert_eq!(lab.getent(MASTER), [ip(B)]);
        lab.assert_own_names();
    }
}

netns_test! {
    /// Nothing listens on :53: the pass still reads Consul over HTTP, so the block holds the
    /// current master, also one that moved while dnsmasq was down.
    fn dnsmasq_down_gives_the_last_good_master(lab) {
        lab.publish_master("db-a", ip(A));
        lab.sync().exits(0);
        lab.kill_dnsmasq();
        lab.sync().exits(0);
        assert_eq!(lab.getent(MASTER), [ip(A)], "{}", lab.logs());
        lab.assert_own_names();
        lab.unpublish("db-a");
        lab.publish_master("db-b", ip(B));
        lab.sync().exits(0);
        assert_eq!(lab.getent(MASTER), [ip(B)]);
        lab.start_dnsmasq();
        lab.sync().exits(0);
        assert!(lab.block().is_empty(), "{}", lab.logs());
        assert_eq!(lab.getent(MASTER), [ip(B)]);
    }
}

netns_test! {
    /// A second master appears: the fallback keeps the one it had, says so, and that single
    /// entry is what clients get once the agent is down.
    fn two_masters_keep_the_last_good_single_entry(lab) {
        lab.publish_master("db-a", ip(A));
        lab.sync().exits(0);
        lab.publish_master("db-b", ip(B));
        let run = lab.sync();
        run.exits(1);
        assert!(run.stdout.contains("2 masters in Consul (127.0.0.21, 127.0.0.22): kept the last good entry 127.0.0.21"), "{run:#?}");
        assert_eq!(lab.state(), [format!("{A} {MASTER}")]);
        lab.stop_consul();
        lab.sync().exits(1);
        assert_eq!(lab.getent(MASTER), [ip(A)], "{}", lab.logs());
        lab.assert_own_names();
    }
}

netns_test! {
    /// `watch` as the shipped unit runs it: how long clients go without the master after the
    /// agent dies, and how long the old master outlives the agent's return with a new one.
    fn watch_follows_the_agent_down_and_back(lab) {
        lab.publish_master("db-a", ip(A));
        lab.start_watch("500ms");
        testbed::wait_until(Duration::from_secs(10), "the first pass", || (lab.state() == [format!("{A} {MASTER}")]).then_some(()), || lab.logs());
        let down = Instant::now();
        lab.stop_consul();
        testbed::wait_until(Duration::from_secs(10), "the fallback to serve the master", || (lab.getent(MASTER) == [ip(A)]).then_some(()), || lab.logs());
        let gap = down.elapsed();
        lab.assert_own_names();
        let back = Instant::now();
        lab.start_consul();
        lab.publish_master("db-b", ip(B));
        testbed::wait_until(Duration::from_secs(10), "clients to follow Consul again", || (lab.getent(MASTER) == [ip(B)]).then_some(()), || lab.logs());
        let stale = back.elapsed();
        testbed::wait_until(Duration::from_secs(20), "the block to go", || lab.block().is_empty().then_some(()), || lab.logs());
        let cleared = back.elapsed();
        assert_eq!(lab.getent(MASTER), [ip(B)]);
        println!(
            "measured (interval 500ms): agent down -> last good master served after {gap:?}; agent back with a new master -> followed after {stale:?}, block removed after {cleared:?}"
        );
    }
}
