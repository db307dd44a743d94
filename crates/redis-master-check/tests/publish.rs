//! Role tags in Consul's catalog (`--role auto --publish-tags`): the sentinels' master takes the
//! master tag and every other instance becomes replica in one transaction; tags that are already
//! right are not rewritten; other tags stay; the tags survive the agent's anti-entropy because
//! the instances use `enable_tag_override`; without a sentinel majority a master tag held by an
//! instance that is not critical is respected; a transaction planned from a stale read is
//! rolled back whole.

use std::time::Duration;

use consul_standin::Standin;
use sengu::addr::HostPort;
use sengu::consul::{AgentCheck, CheckStatus, ServiceRegistration};
use sengu::roles::{self, Claim, Others, RoleTags};
use testbed::host;
use testbed::redis::RedisSet;

use crate::scenario::{self, BIN, Consul, MASTER_NAME, NODES, SERVICE, argv, client, dead_port};

/// Registers the `redis` instance of host `i` through its own agent.
fn register(standin: &Standin, i: usize, port: u16, tags: &[&str], tag_override: bool, check: Option<AgentCheck>) {
    let config = sengu::consul::ClientConfig::default().with_address(&standin.http_url(NODES[i]).unwrap()).unwrap();
    let agent = sengu::consul::Client::new(&config).unwrap();
    let registration = ServiceRegistration {
        id: SERVICE.into(),
        name: SERVICE.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        port,
        enable_tag_override: tag_override,
        check,
        ..Default::default()
    };
    agent.agent_service_register(&registration).unwrap();
}

/// (tags, ModifyIndex) of the instance on host `i`.
fn instance(standin: &Standin, i: usize) -> (Vec<String>, u64) {
    let all = roles::read_instances(&client(standin), SERVICE).unwrap();
    let me = all.into_iter().find(|x| x.node == NODES[i]).unwrap();
    (me.service.tags, me.service.modify_index)
}

/// Runs the check on host `i`; `extra` may replace the stand-in's DNS with its own --dns-server.
fn check(set: &RedisSet, consul: &Consul, i: usize, extra: &[String]) -> sengu_testsupport::Run {
    let mut args = argv(&[
        &"--redis", &set.server(i).addr(), &"--service", &SERVICE, &"--role", &"auto", &"--publish-tags",
        &"--consul-addr", &consul.agent_url(i), &"--sentinel-master", &MASTER_NAME,
    ]);
    if !extra.iter().any(|a| a == "--dns-server") {
        args.extend(argv(&[&"--dns-server", &consul.dns]));
    }
    args.extend_from_slice(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sengu_testsupport::run(BIN, &args)
}

#[test]
fn the_sentinels_master_takes_the_master_tag_and_every_other_instance_becomes_replica() {
    let set = scenario::redis_set(3, Duration::from_secs(2));
    let consul = Consul::start(&set, None);
    let st = &consul.standin;
    // Wrong on purpose: the replica carries the master tag.
    register(st, 0, set.server(0).port(), &["v7", "replica"], true, None);
    register(st, 1, set.server(1).port(), &["v7", "master"], true, None);
    let sentinels: Vec<String> = set.sentinels().iter().flat_map(|s| ["--sentinel".to_string(), s.addr().to_string()]).collect();

    let (a, b) = (set.server(0).port(), set.server(1).port());
    check(&set, &consul, 0, &sentinels)
        .exits(0)
        .stdout_starts_with(&format!("PASSING: redis 127.0.0.11:{a} is the master of redis\n"))
        .stdout_contains(&format!(
            "[PASSING] tags: retagged for master\n    127.0.0.12:{b} (node redis-b): [v7,master] -> [v7,replica]\n    127.0.0.11:{a} (node redis-a): [v7,replica] -> [v7,master]\n"
        ));
    assert_eq!(instance(st, 0).0, ["v7", "master"]);
    assert_eq!(instance(st, 1).0, ["v7", "replica"]);
    assert_eq!(consul.resolve("master").unwrap(), [host(11)]);
    assert_eq!(consul.resolve("replica").unwrap(), [host(12)]);

    // Right tags are not written again (Consul stores every write).
    let before = (instance(st, 0).1, instance(st, 1).1);
    check(&set, &consul, 0, &sentinels).exits(0).stdout_contains("[PASSING] tags: tagged master\n");
    check(&set, &consul, 1, &sentinels).exits(0).stdout_contains("[PASSING] tags: tagged replica\n");
    assert_eq!((instance(st, 0).1, instance(st, 1).1), before);

    // enable_tag_override: the agents' anti-entropy keeps the catalog's tags.
    // anti_entropy_now runs every agent's sync to completion before it returns.
    st.anti_entropy_now();
    assert_eq!(instance(st, 0).0, ["v7", "master"]);
    assert_eq!(instance(st, 1).0, ["v7", "replica"]);
}

#[test]
fn without_a_sentinel_majority_a_master_tag_held_by_a_live_instance_is_respected() {
    let set = RedisSet::builder().replicas(1).sentinels(0).master_name(MASTER_NAME).start();
    let consul = Consul::start(&set, None);
    let st = &consul.standin;
    register(st, 0, set.server(0).port(), &["replica"], true, None);
    register(st, 1, set.server(1).port(), &["master"], true, None);
    // DNS down: uniqueness is unproven (warning), so only the catalog can stop a second master tag.
    let (_lease, no_dns) = dead_port(host(1));
    let extra = argv(&[&"--dns-server", &no_dns]);
    let b = set.server(1).port();
    check(&set, &consul, 0, &extra)
        .exits(1)
        .stdout_contains(&format!("[WARNING] tags: 127.0.0.12:{b} holds the master tag and is not critical; without a sentinel majority it keeps it"));
    assert_eq!(instance(st, 0).0, ["replica"]);

    // Once the holder is critical (out of DNS anyway), the tag moves.
    let critical = AgentCheck { ttl: Some(Duration::from_secs(600)), status: Some(CheckStatus::Critical), ..Default::default() };
    register(st, 1, b, &["master"], true, Some(critical));
    check(&set, &consul, 0, &extra).exits(1).stdout_contains("[PASSING] tags: retagged for master");
    assert_eq!(instance(st, 0).0, ["master"]);
    assert_eq!(instance(st, 1).0, ["replica"]);
}

#[test]
fn an_instance_registered_without_tag_override_is_left_alone_with_a_warning() {
    let set = RedisSet::builder().replicas(1).sentinels(0).master_name(MASTER_NAME).start();
    let consul = Consul::start(&set, None);
    register(&consul.standin, 0, set.server(0).port(), &["v7"], false, None);
    check(&set, &consul, 0, &[])
        .exits(1)
        .stdout_starts_with("WARNING: role tags not published: instance \"redis\" on node redis-a was registered without enable_tag_override")
        .stdout_contains(&format!("    PASSING: redis 127.0.0.11:{} is the master of redis\n", set.server(0).port()));
    assert_eq!(instance(&consul.standin, 0).0, ["v7"]);
}

#[test]
fn a_promotion_planned_from_a_stale_read_is_rolled_back_whole() {
    let standin = Standin::builder().agent(NODES[0], host(11)).agent(NODES[1], host(12)).start().unwrap();
    register(&standin, 0, 6379, &["replica"], true, None);
    register(&standin, 1, 6379, &["replica"], true, None);
    let c = client(&standin);
    let stale = roles::read_instances(&c, SERVICE).unwrap();
    // Meanwhile the other host promotes itself.
    let other = HostPort { host: "127.0.0.12".into(), port: 6379 };
    roles::publish_roles(&c, SERVICE, &Claim::Master { at: other, others: Others::Demote }, &RoleTags::default()).unwrap();
    let me = HostPort { host: "127.0.0.11".into(), port: 6379 };
    let plan = roles::plan(SERVICE, &stale, &Claim::Master { at: me, others: Others::Demote }, &RoleTags::default()).unwrap();
    let e = roles::apply(&c, &plan).unwrap_err();
    assert_eq!(e.class(), sengu::consul::ErrorClass::Conflict, "{e}");
    assert_eq!(instance(&standin, 0).0, ["replica"], "nothing of the stale plan was applied");
    assert_eq!(instance(&standin, 1).0, ["master"]);
}
