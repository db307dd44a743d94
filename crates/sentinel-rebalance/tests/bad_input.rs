//! Bad input exits 2 (Sentinel never retries it) with a clear message, and nothing is started
//! or stopped — proven against a live pair where a valid call *would* start the floating
//! sentinel: after every bad call it still runs nowhere, and then a good call starts it.

use crate::pair::{self, Pair, H};

#[test]
fn every_bad_input_exits_two_and_changes_nothing() {
    let p = Pair::start(pair::Options { script: false, ..Default::default() });
    let (a, b) = (p.redis(H::A), p.redis(H::B));
    let (a_ip, a_port, b_ip, b_port) = (a.ip().to_string(), a.port().to_string(), b.ip().to_string(), b.port().to_string());
    let good = ["mymaster", "leader", "start", &a_ip, &a_port, &b_ip, &b_port];
    let with = |i: usize, v: &'static str| -> Vec<String> {
        let mut args: Vec<String> = good.iter().map(|s| s.to_string()).collect();
        args[i] = v.to_string();
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "<master-name>"),
        (good[..6].iter().map(|s| s.to_string()).collect(), "<to-port>"),
        ([&good[..], &["extra"]].concat().iter().map(|s| s.to_string()).collect(), "exactly 7 arguments, got 8"),
        (with(3, "10.0.0.1;reboot"), "invalid <from-ip> <from-port>: invalid host"),
        (with(5, ""), "invalid <to-ip> <to-port>: empty host"),
        (with(4, "0"), "invalid <from-ip> <from-port>: invalid port \"0\""),
        (with(6, "70000"), "invalid <to-ip> <to-port>: invalid port \"70000\""),
        (with(1, "follower"), "invalid value 'follower'"),
        (with(2, "end"), "invalid value 'end'"),
    ];
    for (args, message) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = p.run(H::B, &args);
        run.exits(2).stderr_contains(message);
    }
    // Arguments that parse but name a master this host does not handle.
    p.run(H::B, &with(0, "othermaster").iter().map(String::as_str).collect::<Vec<_>>())
        .exits(2)
        .stdout_contains("unknown master name \"othermaster\": this host handles \"mymaster\"");
    // Settings that cannot work.
    p.run_env(H::B, &good, &[("SENGU_FLOATING_MYID", "not-an-id")]).exits(2).stdout_contains("invalid setting floating_myid");

    assert!(p.floating_port_closed(H::A) && p.floating_port_closed(H::B), "{}", p.report());
    assert_eq!(p.count(H::B, "start-floating"), 0, "{}", p.log(H::B));
    assert_eq!(p.tagged("master"), vec![H::A.ip()], "consul is unchanged");

    // The control: the same call with good input starts it on the replica's host.
    p.run(H::B, &good).exits(0).stdout_starts_with("sentinel-rebalance: started the floating sentinel");
    assert!(p.floating_on(H::B), "{}", p.report());
}
