//! `cargo xtask demo`: starts a Redis master, a replica and three sentinels on loopback "hosts"
//! through the testbed, looks at them through the sengu library's probes the way the executables
//! will, prints what it found as a check outcome, and stops them all (also on a panic, since the
//! testbed's processes die with their owner).

use std::net::SocketAddr;
use std::process::ExitCode;

use sengu::addr::HostPort;
use sengu::check::{Format, Outcome, SubResult};
use sengu::redis::{ask_sentinels, CkQuorum, ConnectOptions, InfoRole, RedisConn, SentinelConn};
use testbed::redis::RedisSet;

fn main() -> ExitCode {
    println!("starting a Redis master, one replica and three sentinels on 127.0.0.x (testbed) ...");
    let set = RedisSet::new(1, 3);
    let name = set.master_name().to_owned();
    let opts = ConnectOptions::default();
    let mut outcome = Outcome::new();

    for server in set.servers() {
        outcome.push(probe_redis(&host_port(server.addr()), &opts));
    }
    let sentinels: Vec<HostPort> = set.sentinels().iter().map(|s| host_port(s.addr())).collect();
    for sentinel in &sentinels {
        outcome.push(probe_sentinel(sentinel, &name, &opts));
    }
    let votes = ask_sentinels(&sentinels, &name, &opts);
    outcome.push(match votes.majority() {
        Some(master) => SubResult::passing("majority", format!("{} of {} sentinels name {master} as the master of {name}", count_for(&votes.tally(), &master), votes.asked())),
        None => SubResult::critical("majority", format!("no majority of the {} sentinels agrees on a master for {name}", votes.asked())),
    });

    let summary = match outcome.status() {
        sengu::check::Status::Passing => format!("every probe answered; {name} has one master and the sentinels agree"),
        _ => outcome.summary().to_owned(),
    };
    let outcome = outcome.with_summary(summary);
    println!("\nwhat the library sees:\n");
    let code = outcome.print(Format::Text);
    println!("\nstopping every process ...");
    drop(set);
    code
}

/// `INFO replication` of one server, in one line.
fn probe_redis(addr: &HostPort, opts: &ConnectOptions) -> SubResult {
    let name = format!("redis {addr}");
    let info = match RedisConn::connect(addr, opts).and_then(|mut conn| conn.info_replication()) {
        Ok(info) => info,
        Err(e) => return SubResult::critical(name, e.to_string()),
    };
    match (info.role, &info.master) {
        (InfoRole::Master, _) => SubResult::passing(name, format!("master with {} connected replica(s)", info.connected_slaves))
            .with_details(format!("master_repl_offset: {}", info.master_repl_offset)),
        (InfoRole::Replica, Some(link)) => SubResult::passing(name, format!("replica of {}, link {:?}", link.addr(), link.link_status).to_lowercase())
            .with_details(format!("slave_repl_offset: {}", link.repl_offset)),
        (InfoRole::Replica, None) => SubResult::critical(name, "replica without a master in INFO replication"),
    }
}

/// What one sentinel says about the master, and whether it could authorise a failover now.
fn probe_sentinel(addr: &HostPort, name: &str, opts: &ConnectOptions) -> SubResult {
    let label = format!("sentinel {addr}");
    let answer = SentinelConn::connect(addr, opts).and_then(|mut conn| Ok((conn.master(name)?, conn.ckquorum(name)?)));
    match answer {
        Ok((master, quorum)) => {
            let text = format!("{name} is at {}:{}, quorum {}, {}", master.ip, master.port, master.quorum, if quorum.is_ok() { "failover possible" } else { "NO failover possible" });
            let (CkQuorum::Ok { text: said, .. } | CkQuorum::NoQuorum { text: said, .. }) = &quorum;
            let details = format!("flags: {}\nother sentinels: {}, replicas: {}\nckquorum: {said}", master.flags.join(","), master.num_other_sentinels, master.num_slaves);
            let result = if quorum.is_ok() { SubResult::passing(label, text) } else { SubResult::warning(label, text) };
            result.with_details(details)
        }
        Err(e) => SubResult::critical(label, e.to_string()),
    }
}

fn count_for(tally: &[(HostPort, usize)], master: &HostPort) -> usize {
    tally.iter().find(|(addr, _)| addr == master).map_or(0, |(_, n)| *n)
}

fn host_port(addr: SocketAddr) -> HostPort {
    HostPort { host: addr.ip().to_string(), port: addr.port() }
}
