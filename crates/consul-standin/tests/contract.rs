//! Contract tests: one test per behaviour in §10 of `docs/reference/consul.md` (`cNN_...`), then
//! the endpoints (`e_...`). They run against a fresh in-process stand-in each, or against a real
//! agent when `CONSUL_HTTP_ADDR` is set (`CONSUL_DNS_ADDR` for its DNS, `CONSUL_HTTP_TOKEN`
//! for its token); tests that need the `/_standin/` controls then print why they skip.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use serde_json::{Value, json};

use crate::support::{Target, a_records, node_with_service};

const WAIT: Duration = Duration::from_secs(10);

fn dc(t: &Target) -> String {
    t.get("/v1/agent/self").json()["Config"]["Datacenter"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An interval for checks: Consul's minimum against a real agent, short on the stand-in.
fn interval(t: &Target) -> &'static str {
    if t.is_real() { "1s" } else { "100ms" }
}

fn sh(script: &str) -> Value {
    json!(["sh", "-c", script])
}

/// Registers a script check; `None` (after printing why) if the agent refuses script checks.
fn script_check(t: &Target, test: &str, id: &str, script: &str, timeout: &str) -> Option<()> {
    let r = t.agent_check_register(&json!({
        "ID": id, "Name": id, "Args": sh(script), "Interval": interval(t), "Timeout": timeout,
    }));
    if r.status != 200 && r.text().contains("Scripts are disabled") {
        println!("SKIP {test}: the agent has script checks disabled");
        return None;
    }
    assert_eq!(r.status, 200, "{}", r.text());
    Some(())
}

fn wait_status(t: &Target, id: &str, status: &str) -> String {
    t.wait_for(&format!("check {id} to be {status}"), WAIT, || {
        t.agent_check(id)
            .filter(|(s, _)| s == status)
            .map(|(_, o)| o)
    })
}

/// Waits until the check has `status` and an output `ok` accepts (a check starts critical
/// with no output, so the status alone proves nothing).
fn wait_output(t: &Target, id: &str, status: &str, ok: impl Fn(&str) -> bool) -> String {
    t.wait_for(
        &format!("check {id} to be {status} with the expected output"),
        WAIT,
        || {
            t.agent_check(id)
                .filter(|(s, o)| s == status && ok(o))
                .map(|(_, o)| o)
        },
    )
}

fn services_on(t: &Target, node: &str) -> Vec<String> {
    let v = t.get(&format!("/v1/catalog/node/{node}")).json();
    v["Services"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// PUTs `body` (none for `None`) to `path` from another thread 300 ms from now, so that it
/// lands while the test thread sits in a blocking query it should release.
fn put_soon(t: &Target, path: &str, body: Option<&'static str>) -> std::thread::JoinHandle<()> {
    let url = format!("{}{path}", t.base());
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let token = std::env::var("CONSUL_HTTP_TOKEN").unwrap_or_default();
        let put = agent.put(url).header("X-Consul-Token", token);
        match body {
            Some(b) => put.send(b),
            None => put.send_empty(),
        }
        .unwrap();
    })
}

fn check_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn c01_deregister_node_removes_services_and_checks() {
    let t = Target::new("c01_");
    let n = t.name("node1");
    let svc = t.name("redis");
    let r = t.register(&json!({
        "Node": n, "Address": "10.1.0.1",
        "Service": {"ID": "r1", "Service": svc, "Port": 6379},
        "Checks": [
            {"CheckID": "node-a", "Name": "node a", "Status": "passing"},
            {"CheckID": "node-b", "Name": "node b", "Status": "passing"},
            {"CheckID": "r1-check", "Name": "r1", "ServiceID": "r1", "Status": "passing"},
        ],
    }));
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    t.register(&json!({"Node": n, "Address": "10.1.0.1", "Service": {"ID": "r2", "Service": svc, "Port": 6380},
        "Check": {"CheckID": "r2-check", "Name": "r2", "ServiceID": "r2", "Status": "passing"}}));

    // ServiceID: that instance and its checks only.
    let r = t.put_json(
        "/v1/catalog/deregister",
        &json!({"Node": n, "ServiceID": "r1"}),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    assert_eq!(services_on(&t, &n), vec!["r2"]);
    assert_eq!(
        check_ids(&t.get(&format!("/v1/health/node/{n}")).json()),
        vec!["node-a", "node-b", "r2-check"]
    );

    // CheckID: that one check.
    t.put_json(
        "/v1/catalog/deregister",
        &json!({"Node": n, "CheckID": "node-a"}),
    );
    assert_eq!(
        check_ids(&t.get(&format!("/v1/health/node/{n}")).json()),
        vec!["node-b", "r2-check"]
    );

    // ServiceID wins over CheckID: the named check stays.
    t.put_json(
        "/v1/catalog/deregister",
        &json!({"Node": n, "ServiceID": "r2", "CheckID": "node-b"}),
    );
    assert!(services_on(&t, &n).is_empty());
    assert_eq!(
        check_ids(&t.get(&format!("/v1/health/node/{n}")).json()),
        vec!["node-b"]
    );

    // The node form removes everything; then deletes of missing things are no-ops returning true.
    t.register(&json!({"Node": n, "Address": "10.1.0.1", "Service": {"ID": "r3", "Service": svc, "Port": 1}}));
    let r = t.put_json("/v1/catalog/deregister", &json!({"Node": n}));
    assert_eq!(r.text(), "true");
    assert_eq!(t.get(&format!("/v1/catalog/node/{n}")).text(), "null");
    assert_eq!(t.get(&format!("/v1/health/node/{n}")).json(), json!([]));
    assert_eq!(
        t.get(&format!("/v1/catalog/service/{svc}")).json(),
        json!([])
    );
    for body in [
        json!({"Node": n}),
        json!({"Node": n, "ServiceID": "nope"}),
        json!({"Node": n, "CheckID": "nope"}),
    ] {
        let r = t.put_json("/v1/catalog/deregister", &body);
        assert_eq!((r.status, r.text().as_str()), (200, "true"), "{body}");
    }
}

#[test]
fn c02_register_replaces_service_wholesale() {
    let t = Target::new("c02_");
    let n = t.name("node1");
    let svc = t.name("redis");
    let r = t.register(&json!({"Node": n, "Address": "10.1.0.2",
        "Service": {"ID": "r1", "Service": svc, "Tags": ["primary", "v7"], "Port": 6379, "Meta": {"a": "b"}}}));
    assert_eq!(r.text(), "true");
    let before = t.get(&format!("/v1/catalog/service/{svc}")).json()[0].clone();
    let r = t.register(
        &json!({"Node": n, "Address": "10.1.0.2", "Service": {"ID": "r1", "Service": svc}}),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    let after = t.get(&format!("/v1/catalog/service/{svc}")).json()[0].clone();
    assert_eq!(after["ServiceTags"], json!([]));
    assert_eq!(after["ServicePort"], json!(0));
    assert!(
        after["ServiceMeta"]
            .as_object()
            .is_none_or(|m| m.is_empty())
    );
    assert_eq!(after["CreateIndex"], before["CreateIndex"]);
    assert!(after["ModifyIndex"].as_u64() > before["ModifyIndex"].as_u64());
}

#[test]
fn c03_register_validation_errors() {
    let t = Target::new("c03_");
    let n = t.name("node1");
    // Server-side validation errors come back as 500 (400 accepted: unconfirmed for the newest releases).
    let r = t.register(&json!({"Node": n, "Address": "10.1.0.3",
        "Check": {"CheckID": "c", "Name": "c", "ServiceID": "nope", "Status": "passing"}}));
    assert!(matches!(r.status, 400 | 500), "{}", r.status);
    assert!(
        r.text().contains("Missing service registration"),
        "{}",
        r.text()
    );

    t.register(
        &json!({"Node": n, "Address": "10.1.0.3", "Check": {"CheckID": "nostatus", "Name": "x"}}),
    );
    let checks = t.get(&format!("/v1/health/node/{n}")).json();
    assert_eq!(checks[0]["CheckID"], "nostatus");
    assert_eq!(checks[0]["Status"], "critical");

    let r = t.register(&json!({"Node": t.name("node2")}));
    assert!(matches!(r.status, 400 | 500), "{}", r.status);
    assert!(
        r.text()
            .contains("Must provide address if SkipNodeUpdate is not set"),
        "{}",
        r.text()
    );

    // SkipNodeUpdate leaves an existing node's address alone.
    let r = t.register(&json!({"Node": n, "SkipNodeUpdate": true, "Service": {"Service": t.name("svc"), "Port": 1}}));
    assert_eq!(r.text(), "true");
    assert_eq!(
        t.get(&format!("/v1/catalog/node/{n}")).json()["Node"]["Address"],
        "10.1.0.3"
    );
}

#[test]
fn c04_catalog_service_lists_all_instances_with_consul_shapes() {
    let t = Target::new("c04_");
    let svc = t.name("redis");
    t.register(&json!({"Node": t.name("n1"), "Address": "10.1.0.4", "Service": {"ID": "r1", "Service": svc, "Port": 1},
        "Check": {"CheckID": "dead", "Name": "dead", "ServiceID": "r1", "Status": "critical"}}));
    t.register(&json!({"Node": t.name("n2"), "Address": "10.1.0.5",
        "Service": {"ID": "r2", "Service": svc, "Address": "10.9.9.9", "Tags": ["x"], "Port": 2}}));
    let rows = t.get(&format!("/v1/catalog/service/{svc}")).json();
    assert_eq!(
        rows.as_array().unwrap().len(),
        2,
        "critical instances are listed too"
    );
    let r1 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ServiceID"] == "r1")
        .unwrap();
    assert_eq!(r1["ServiceAddress"], "");
    assert_eq!(r1["Address"], "10.1.0.4");
    assert_eq!(r1["ServiceTags"], json!([]));
    for field in [
        "ID",
        "Node",
        "Datacenter",
        "ServiceName",
        "ServicePort",
        "ServiceWeights",
        "ServiceEnableTagOverride",
        "CreateIndex",
        "ModifyIndex",
    ] {
        assert!(r1.get(field).is_some(), "missing {field}");
    }
    assert_eq!(
        t.get(&format!("/v1/catalog/service/{}", t.name("unknown")))
            .json(),
        json!([])
    );
    let r = t.get(&format!("/v1/catalog/node/{}", t.name("unknown")));
    assert_eq!((r.status, r.text().as_str()), (200, "null"));
}

#[test]
fn c05_health_passing_drops_warning_and_critical() {
    let t = Target::new("c05_");
    let svc = t.name("web");
    let other = t.name("other");
    let ok = t.name("ok");
    t.register(&json!({"Node": ok, "Address": "10.1.1.1", "Service": {"ID": "w", "Service": svc, "Port": 1},
        "Checks": [{"CheckID": "node", "Name": "n", "Status": "passing"},
                   {"CheckID": "w", "Name": "w", "ServiceID": "w", "Status": "passing"}]}));
    // A critical check of another service on the same node does not count.
    t.register(&json!({"Node": ok, "Address": "10.1.1.1", "Service": {"ID": "o", "Service": other, "Port": 2},
        "Check": {"CheckID": "o", "Name": "o", "ServiceID": "o", "Status": "critical"}}));
    t.register(&json!({"Node": t.name("warn"), "Address": "10.1.1.2", "Service": {"ID": "w", "Service": svc, "Port": 1},
        "Check": {"CheckID": "w", "Name": "w", "ServiceID": "w", "Status": "warning"}}));
    t.register(&json!({"Node": t.name("nodecrit"), "Address": "10.1.1.3", "Service": {"ID": "w", "Service": svc, "Port": 1},
        "Check": {"CheckID": "node", "Name": "n", "Status": "critical"}}));
    let all = t.get(&format!("/v1/health/service/{svc}")).json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    for entry in all.as_array().unwrap() {
        for c in entry["Checks"].as_array().unwrap() {
            assert_ne!(
                c["ServiceID"], "o",
                "another service's check leaked into {entry}"
            );
        }
    }
    for q in ["?passing", "?passing=true", "?passing=1"] {
        let passing = t.get(&format!("/v1/health/service/{svc}{q}")).json();
        let nodes: Vec<&str> = passing
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Node"]["Node"].as_str().unwrap())
            .collect();
        assert_eq!(nodes, vec![ok.as_str()], "{q}");
    }
    assert_eq!(
        t.get(&format!("/v1/health/service/{svc}?passing=false"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn c06_tag_filters_are_case_insensitive_and_anded() {
    let t = Target::new("c06_");
    let svc = t.name("redis");
    t.register(&node_with_service(
        &t.name("n1"),
        "10.1.2.1",
        &svc,
        "r1",
        &["Primary", "v7"],
        6379,
    ));
    t.register(&node_with_service(
        &t.name("n2"),
        "10.1.2.2",
        &svc,
        "r2",
        &["replica", "v7"],
        6379,
    ));
    let count = |path: String| t.get(&path).json().as_array().unwrap().len();
    assert_eq!(count(format!("/v1/catalog/service/{svc}?tag=primary")), 1);
    assert_eq!(
        count(format!("/v1/catalog/service/{svc}?tag=PRIMARY&tag=v7")),
        1
    );
    assert_eq!(
        count(format!("/v1/catalog/service/{svc}?tag=primary&tag=v8")),
        0
    );
    assert_eq!(count(format!("/v1/catalog/service/{svc}?tag=V7")), 2);
    assert_eq!(count(format!("/v1/health/service/{svc}?tag=Replica")), 1);
    assert_eq!(
        count(format!("/v1/catalog/service/{}", svc.to_uppercase())),
        2
    );
    if t.dns_addr().is_some() {
        let m = t.dns_udp(
            &format!("PRIMARY.{}.service.consul.", svc.to_uppercase()),
            RecordType::A,
            None,
        );
        assert_eq!(a_records(&m), vec!["10.1.2.1"]);
    }
}

#[test]
fn c07_kv_write_and_cas_semantics() {
    let t = Target::new("c07_");
    let k = t.kv_prefix("kv/key");
    let r = t.get(&format!("/v1/kv/{k}"));
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert!(r.header("X-Consul-Index").is_some());
    let r = t.put(&format!("/v1/kv/{k}?flags=42"), b"one");
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    let e = t.get(&format!("/v1/kv/{k}")).json()[0].clone();
    assert_eq!(e["Flags"], 42);
    assert_eq!(t.put(&format!("/v1/kv/{k}?cas=0"), b"x").text(), "false");
    let idx = e["ModifyIndex"].as_u64().unwrap();
    assert_eq!(
        t.put(&format!("/v1/kv/{k}?cas={}", idx + 1000), b"x")
            .text(),
        "false"
    );
    assert_eq!(
        t.put(&format!("/v1/kv/{k}?cas={idx}"), b"two").text(),
        "true"
    );
    let e2 = t.get(&format!("/v1/kv/{k}")).json()[0].clone();
    assert_eq!(e2["Flags"], 0, "a PUT without ?flags resets them");
    assert_eq!(e2["CreateIndex"], e["CreateIndex"]);
    assert!(e2["ModifyIndex"].as_u64().unwrap() > idx);
    let missing = t.name("kv/missing");
    assert_eq!(t.delete(&format!("/v1/kv/{missing}?cas=5")).text(), "true");
    assert_eq!(t.delete(&format!("/v1/kv/{k}?cas=0")).text(), "false");
    assert_eq!(t.get(&format!("/v1/kv/{k}")).status, 200);
}

#[test]
fn c08_kv_read_forms() {
    let t = Target::new("c08_");
    let p = t.kv_prefix("tree/");
    t.put(&format!("/v1/kv/{p}a"), b"alpha");
    t.put(&format!("/v1/kv/{p}sub/b"), b"beta");
    let one = t.get(&format!("/v1/kv/{p}a")).json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["Key"], format!("{p}a"));
    assert_eq!(
        one[0]["Value"],
        base64::engine::general_purpose::STANDARD.encode("alpha")
    );
    let raw = t.get(&format!("/v1/kv/{p}a?raw"));
    assert_eq!(raw.body, b"alpha");
    let keys = t.get(&format!("/v1/kv/{p}?keys")).json();
    assert_eq!(keys, json!([format!("{p}a"), format!("{p}sub/b")]));
    let rolled = t.get(&format!("/v1/kv/{p}?keys&separator=/")).json();
    assert_eq!(rolled, json!([format!("{p}a"), format!("{p}sub/")]));
    let all = t.get(&format!("/v1/kv/{p}?recurse")).json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(t.get(&format!("/v1/kv/{p}nothing/?recurse")).status, 404);
}

#[test]
fn c09_index_header_and_blocking_queries() {
    let t = Target::new("c09_");
    let k = t.kv_prefix("block/key");
    t.put(&format!("/v1/kv/{k}"), b"v1");
    let svc = t.name("svc");
    t.register(&node_with_service(
        &t.name("n"),
        "10.1.3.1",
        &svc,
        "s",
        &[],
        1,
    ));
    for path in [
        format!("/v1/kv/{k}"),
        format!("/v1/catalog/service/{svc}"),
        format!("/v1/health/service/{svc}"),
        "/v1/catalog/nodes".into(),
    ] {
        let r = t.get(&path);
        assert!(r.index() >= 1, "{path}");
    }
    let r = t.get(&format!("/v1/kv/{k}"));
    let idx = r.index();
    let start = Instant::now();
    let again = t.get(&format!("/v1/kv/{k}?index={idx}&wait=1s"));
    let took = start.elapsed();
    assert_eq!(again.status, 200);
    assert!(
        took >= Duration::from_millis(900),
        "returned after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "returned after {took:?}");
    assert_eq!(again.json(), r.json());

    // A write to the watched key releases the query early.
    let writer = put_soon(&t, &format!("/v1/kv/{k}"), Some("v2"));
    let start = Instant::now();
    let released = t.get(&format!("/v1/kv/{k}?index={idx}&wait=20s"));
    writer.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(released.index() > idx);
    assert_eq!(
        released.json()[0]["Value"],
        base64::engine::general_purpose::STANDARD.encode("v2")
    );
}

#[test]
fn c10_agent_register_defaults_and_replace_existing_checks() {
    let t = Target::new("c10_");
    let id = t.name("web");
    let r = t.agent_register(&json!({"Name": id, "Port": 80, "Checks": [{"TTL": "30s"}, {"TTL": "30s", "Status": "passing"}]}));
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let checks = t.get("/v1/agent/checks").json();
    let c1 = &checks[format!("service:{id}:1")];
    let c2 = &checks[format!("service:{id}:2")];
    assert_eq!(c1["Name"], format!("Service '{id}' check"));
    assert_eq!(c1["Status"], "critical");
    assert_eq!(c2["Status"], "passing");
    assert_eq!(c1["ServiceID"], id.as_str());

    let single = t.name("single");
    t.agent_register(&json!({"Name": single, "Check": {"TTL": "30s"}}));
    assert!(t.agent_check(&format!("service:{single}")).is_some());

    // Re-registration keeps the status of a check with the same ID.
    let r = t.put(&format!("/v1/agent/check/pass/service:{id}:1"), b"");
    assert_eq!(r.status, 200);
    t.agent_register(&json!({"Name": id, "Port": 80, "Checks": [{"TTL": "30s"}, {"TTL": "30s"}]}));
    assert_eq!(
        t.agent_check(&format!("service:{id}:1")).unwrap().0,
        "passing"
    );
    assert!(t.agent_check(&format!("service:{id}:2")).is_some());

    // Without replace-existing-checks omitted checks survive; with it they go.
    t.agent_register(&json!({"Name": id, "Port": 80, "Check": {"CheckID": "only", "TTL": "30s"}}));
    assert!(t.agent_check(&format!("service:{id}:2")).is_some());
    let r = t.put_json(
        "/v1/agent/service/register?replace-existing-checks",
        &json!({"Name": id, "Port": 80, "Check": {"CheckID": "only", "TTL": "30s"}}),
    );
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let checks = t.get("/v1/agent/checks").json();
    let mine: Vec<&String> = checks
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| c["ServiceID"] == id.as_str())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(mine, vec!["only"]);
}

#[test]
fn c11_ttl_checks() {
    let t = Target::new("c11_");
    let id = t.name("ttl");
    assert_eq!(
        t.agent_check_register(&json!({"ID": id, "Name": id, "TTL": "30s"}))
            .status,
        200
    );
    assert_eq!(t.agent_check(&id).unwrap().0, "critical");
    for (verb, status) in [
        ("pass", "passing"),
        ("warn", "warning"),
        ("fail", "critical"),
    ] {
        let r = t.put(
            &format!("/v1/agent/check/{verb}/{id}?note=note-{verb}"),
            b"",
        );
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        assert_eq!(
            t.agent_check(&id).unwrap(),
            (status.to_string(), format!("note-{verb}"))
        );
    }
    let r = t.put_json(
        &format!("/v1/agent/check/update/{id}"),
        &json!({"Status": "passing", "Output": "via update"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        t.agent_check(&id).unwrap(),
        ("passing".into(), "via update".into())
    );
    assert_eq!(
        t.put_json(
            &format!("/v1/agent/check/update/{id}"),
            &json!({"Status": "bogus"})
        )
        .status,
        400
    );

    // Expiry: critical, with the last output.
    let short = t.name("short");
    t.agent_check_register(&json!({"ID": short, "Name": short, "TTL": "1s"}));
    t.put(&format!("/v1/agent/check/pass/{short}?note=last"), b"");
    let out = wait_status(&t, &short, "critical");
    assert_eq!(
        out,
        "TTL expired (last output before timeout follows): last"
    );

    let missing = t.name("missing");
    let r = t.put(&format!("/v1/agent/check/pass/{missing}"), b"");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        format!(
            "Unknown check ID \"{missing}\". Ensure that the check ID is passed, not the check name."
        )
    );

    let tcp = t.name("tcp");
    t.agent_check_register(
        &json!({"ID": tcp, "Name": tcp, "TCP": "127.0.0.1:1", "Interval": "10s"}),
    );
    let r = t.put(&format!("/v1/agent/check/pass/{tcp}"), b"");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        format!("CheckID \"{tcp}\" does not have associated TTL")
    );
}

#[test]
fn c12_agent_deregister_of_unknown_service_is_404() {
    let t = Target::new("c12_");
    let id = t.name("nope");
    let r = t.put(&format!("/v1/agent/service/deregister/{id}"), b"");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        format!(
            "Unknown service ID \"{id}\". Ensure that the service ID is passed, not the service name."
        )
    );
}

/// True once the process is gone or a zombie (killed, waiting for its reaper).
fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn c13_script_checks_map_exit_codes_time_out_and_truncate() {
    let t = Target::new("c13_");
    let test = "c13";
    let pass = t.name("pass");
    if script_check(&t, test, &pass, "echo fine", "5s").is_none() {
        return;
    }
    let warn = t.name("warn");
    script_check(&t, test, &warn, "echo meh; exit 1", "5s");
    let crit = t.name("crit");
    script_check(&t, test, &crit, "echo bad; exit 3", "5s");
    let big = t.name("big");
    script_check(
        &t,
        test,
        &big,
        "head -c 5000 /dev/zero | tr '\\0' a; printf END",
        "5s",
    );
    assert_eq!(wait_status(&t, &pass, "passing"), "fine\n");
    assert_eq!(wait_status(&t, &warn, "warning"), "meh\n");
    wait_output(&t, &crit, "critical", |o| o == "bad\n");
    let out = t.wait_for("big output", WAIT, || {
        t.agent_check(&big)
            .filter(|(_, o)| !o.is_empty())
            .map(|(_, o)| o)
    });
    assert!(
        out.starts_with("Captured 4096 of 5003 bytes\n...\n"),
        "{}",
        &out[..60]
    );
    assert!(out.ends_with("aaaEND"));

    // Timeout: critical with Consul's text, and the whole process group killed.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let slow = t.name("slow");
    let script = format!(
        "sleep 60 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    script_check(&t, test, &slow, &script, "1s");
    let out = wait_output(&t, &slow, "critical", |o| !o.is_empty());
    assert_eq!(out, "Timed out (1s) running check\n\nstarted\n");
    match std::fs::read_to_string(&pidfile) {
        Ok(pid) => {
            let pid = pid.trim().to_string();
            t.wait_for("the grandchild to be killed", WAIT, || {
                process_gone(&pid).then_some(())
            });
        }
        Err(_) => {
            println!("SKIP part of {test}: the agent runs elsewhere, cannot see its processes")
        }
    }
}

/// A one-thread HTTP server answering every request with the status in `code`.
fn status_server(code: Arc<AtomicU16>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let c = code.load(Ordering::Relaxed);
            let _ = write!(
                conn,
                "HTTP/1.1 {c} X\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
            );
        }
    });
    format!("http://{addr}/health")
}

#[test]
fn c14_http_checks_map_status_codes() {
    let t = Target::new("c14_");
    let code = Arc::new(AtomicU16::new(200));
    let url = status_server(Arc::clone(&code));
    let id = t.name("http");
    assert_eq!(
        t.agent_check_register(
            &json!({"ID": id, "Name": id, "HTTP": url, "Interval": interval(&t)})
        )
        .status,
        200
    );
    let out = wait_status(&t, &id, "passing");
    assert!(out.starts_with(&format!("HTTP GET {url}: 200")), "{out}");
    assert!(out.ends_with("Output: hello"), "{out}");
    code.store(429, Ordering::Relaxed);
    wait_status(&t, &id, "warning");
    code.store(503, Ordering::Relaxed);
    wait_status(&t, &id, "critical");
    code.store(204, Ordering::Relaxed);
    wait_status(&t, &id, "passing");
}

#[test]
fn c15_anti_entropy_reverts_external_changes_unless_tag_override() {
    let t = Target::new("c15_");
    if t.standin_or_skip(
        "c15",
        "forces an anti-entropy sync through /_standin/; a real agent syncs about once a minute",
    )
    .is_none()
    {
        return;
    }
    let node = t.agent_node();
    t.agent_register(&json!({"ID": "fixed", "Name": "fixed", "Tags": ["primary"], "Port": 6379}));
    t.agent_register(&json!({"ID": "flex", "Name": "flex", "Tags": ["primary"], "Port": 6380, "EnableTagOverride": true}));
    for (id, port) in [("fixed", 7000), ("flex", 7001)] {
        let r = t.put_json("/v1/catalog/register", &json!({"Node": node, "Address": "127.0.0.21", "SkipNodeUpdate": true,
            "Service": {"ID": id, "Service": id, "Tags": ["replica"], "Port": port, "EnableTagOverride": id == "flex"}}));
        assert_eq!(r.text(), "true");
    }
    t.put_json(
        "/v1/catalog/register",
        &json!({"Node": node, "Address": "127.0.0.21", "SkipNodeUpdate": true,
        "Service": {"ID": "stray", "Service": "stray", "Port": 1}}),
    );
    assert!(services_on(&t, &node).contains(&"stray".to_string()));

    assert_eq!(t.put("/_standin/anti-entropy", b"").status, 200);
    let svc = |id: &str| t.get(&format!("/v1/catalog/node/{node}")).json()["Services"][id].clone();
    assert_eq!(svc("fixed")["Tags"], json!(["primary"]));
    assert_eq!(svc("fixed")["Port"], 6379);
    assert_eq!(
        svc("flex")["Tags"],
        json!(["replica"]),
        "tag override keeps catalog tags"
    );
    assert_eq!(
        svc("flex")["Port"],
        6380,
        "other fields are always restored"
    );
    assert_eq!(
        t.get("/v1/agent/services").json()["flex"]["Tags"],
        json!(["replica"])
    );
    assert!(!services_on(&t, &node).contains(&"stray".to_string()));
}

/// Registers `svc` on catalog-only nodes `<svc>-n<i>` (10.1.4.1...), one per entry of
/// `statuses`, with a service check of that status (none for `None`).
fn five_instances(t: &Target, svc: &str, statuses: &[Option<&str>]) {
    for (i, status) in statuses.iter().enumerate() {
        let mut body = node_with_service(
            &format!("{svc}-n{i}"),
            &format!("10.1.4.{}", i + 1),
            svc,
            "s",
            &["t"],
            80,
        );
        if let Some(s) = status {
            body["Check"] = json!({"CheckID": "s", "Name": "s", "ServiceID": "s", "Status": s});
        }
        assert_eq!(t.register(&body).text(), "true");
    }
}

#[test]
fn c16_dns_excludes_critical_instances_keeps_warning() {
    let t = Target::new("c16_");
    if t.dns_or_skip("c16").is_none() {
        return;
    }
    let svc = t.name("web");
    five_instances(
        &t,
        &svc,
        &[Some("passing"), Some("warning"), Some("critical"), None],
    );
    // A node-level critical check (maintenance) takes the instance out too.
    t.register(&json!({"Node": t.name("n9"), "Address": "10.1.4.9", "Service": {"ID": "s", "Service": svc, "Port": 80},
        "Check": {"CheckID": "_node_maintenance", "Name": "maint", "Status": "critical"}}));
    let m = t.dns_tcp(&format!("{svc}.service.consul."), RecordType::A);
    assert_eq!(a_records(&m), vec!["10.1.4.1", "10.1.4.2", "10.1.4.4"]);
    let srv = t.dns_tcp(&format!("{svc}.service.consul."), RecordType::SRV);
    assert_eq!(srv.answers().len(), 3);
    // Node lookups ignore health.
    let m = t.dns_udp(&format!("{svc}-n2.node.consul."), RecordType::A, None);
    assert_eq!(a_records(&m), vec!["10.1.4.3"]);

    // Service maintenance through the agent does the same.
    let own = t.name("own");
    t.agent_register(&json!({"Name": own, "Port": 81}));
    assert_eq!(
        t.dns_udp(&format!("{own}.service.consul."), RecordType::A, None)
            .answers()
            .len(),
        1
    );
    assert_eq!(
        t.put(
            &format!("/v1/agent/service/maintenance/{own}?enable=true&reason=test"),
            b""
        )
        .status,
        200
    );
    assert_eq!(
        t.dns_udp(&format!("{own}.service.consul."), RecordType::A, None)
            .response_code(),
        ResponseCode::NXDomain
    );
    t.put(
        &format!("/v1/agent/service/maintenance/{own}?enable=false"),
        b"",
    );
    assert_eq!(
        t.dns_udp(&format!("{own}.service.consul."), RecordType::A, None)
            .answers()
            .len(),
        1
    );
}

fn has_soa(m: &hickory_proto::op::Message) -> bool {
    m.name_servers()
        .iter()
        .any(|r| r.record_type() == RecordType::SOA)
}

#[test]
fn c17_dns_negative_answers() {
    let t = Target::new("c17_");
    if t.dns_or_skip("c17").is_none() {
        return;
    }
    let m = t.dns_udp(
        &format!("{}.service.consul.", t.name("nothing")),
        RecordType::A,
        None,
    );
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert!(m.answers().is_empty() && has_soa(&m));

    let sick = t.name("sick");
    five_instances(&t, &sick, &[Some("critical"), Some("critical")]);
    let m = t.dns_udp(&format!("{sick}.service.consul."), RecordType::A, None);
    assert_eq!(
        m.response_code(),
        ResponseCode::NXDomain,
        "all instances unhealthy"
    );
    assert!(has_soa(&m));

    let v4 = t.name("v4");
    five_instances(&t, &v4, &[None]);
    let m = t.dns_udp(&format!("{v4}.service.consul."), RecordType::AAAA, None);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    assert!(has_soa(&m));
    let m = t.dns_udp(&format!("nope.{v4}.service.consul."), RecordType::A, None);
    assert_eq!(
        m.response_code(),
        ResponseCode::NXDomain,
        "tag matching nothing"
    );
}

#[test]
fn c18_dns_unknown_node_and_soa() {
    let t = Target::new("c18_");
    if t.dns_or_skip("c18").is_none() {
        return;
    }
    let m = t.dns_udp(
        &format!("{}.node.consul.", t.name("ghost")),
        RecordType::A,
        None,
    );
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    let soa = m
        .name_servers()
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .expect("SOA in authority");
    assert_eq!(soa.name().to_ascii(), "consul.");
    assert_eq!(soa.ttl(), 0);
    let RData::SOA(s) = soa.data() else {
        panic!("not an SOA")
    };
    assert_eq!(s.mname().to_ascii(), "ns.consul.");
    assert!(["hostmaster.consul.", "postmaster.consul."].contains(&s.rname().to_ascii().as_str()));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (i64::from(s.serial()) - now as i64).abs() < 300,
        "serial {} is not the current time",
        s.serial()
    );
    assert_eq!(
        (s.refresh(), s.retry(), s.expire(), s.minimum()),
        (3600, 600, 86400, 0)
    );
}

#[test]
fn c19_dns_ttl_zero_and_authoritative() {
    let t = Target::new("c19_");
    if t.dns_or_skip("c19").is_none() {
        return;
    }
    let svc = t.name("web");
    five_instances(&t, &svc, &[None, None]);
    for (name, rtype) in [
        (format!("{svc}.service.consul."), RecordType::A),
        (format!("{svc}.service.consul."), RecordType::SRV),
        (format!("{svc}-n0.node.consul."), RecordType::A),
    ] {
        let m = t.dns_udp(&name, rtype, None);
        assert!(!m.answers().is_empty(), "{name}");
        assert!(m.authoritative(), "{name}: AA");
        if !t.is_real() {
            assert!(!m.recursion_available(), "{name}: RA without recursors");
        }
        for r in m.answers().iter().chain(m.additionals()) {
            assert_eq!(r.ttl(), 0, "{name}: {r}");
        }
    }
}

#[test]
fn c20_dns_a_answers_override_collapse_and_shuffle() {
    let t = Target::new("c20_");
    if t.dns_or_skip("c20").is_none() {
        return;
    }
    let svc = t.name("web");
    t.register(&json!({"Node": t.name("n1"), "Address": "10.1.5.1", "Service": {"ID": "a", "Service": svc, "Address": "10.2.0.1", "Port": 1}}));
    t.register(&json!({"Node": t.name("n1"), "Address": "10.1.5.1", "Service": {"ID": "b", "Service": svc, "Address": "10.2.0.1", "Port": 2}}));
    t.register(&json!({"Node": t.name("n2"), "Address": "10.1.5.2", "Service": {"ID": "a", "Service": svc, "Port": 1}}));
    let m = t.dns_tcp(&format!("{svc}.service.consul."), RecordType::A);
    assert_eq!(a_records(&m), vec!["10.1.5.2", "10.2.0.1"]);
    for r in m.answers() {
        assert_eq!(
            r.name().to_ascii().to_lowercase(),
            format!("{svc}.service.consul.").to_lowercase()
        );
    }

    let many = t.name("many");
    five_instances(&t, &many, &[None, None, None, None, None]);
    let orders: BTreeSet<Vec<String>> = (0..30)
        .map(|_| {
            t.dns_tcp(&format!("{many}.service.consul."), RecordType::A)
                .answers()
                .iter()
                .map(|r| r.data().to_string())
                .collect()
        })
        .collect();
    assert!(orders.len() > 1, "30 queries, always the same order");
}

#[test]
fn c21_dns_srv_shape() {
    let t = Target::new("c21_");
    if t.dns_or_skip("c21").is_none() {
        return;
    }
    let dc = dc(&t);
    let svc = t.name("redis");
    let plain = t.name("plain");
    let own = t.name("own");
    t.register(&json!({"Node": plain, "Address": "10.1.6.1", "Service": {"ID": "r", "Service": svc, "Port": 6379}}));
    t.register(&json!({"Node": own, "Address": "10.1.6.2",
        "Service": {"ID": "r", "Service": svc, "Address": "192.0.2.10", "Port": 6380, "Weights": {"Passing": 7, "Warning": 2}},
        "Check": {"CheckID": "r", "Name": "r", "ServiceID": "r", "Status": "passing"}}));
    let m = t.dns_tcp(&format!("{svc}.service.consul."), RecordType::SRV);
    assert_eq!(m.answers().len(), 2);
    let srv_of = |port: u16| {
        m.answers()
            .iter()
            .find_map(|r| match r.data() {
                RData::SRV(s) if s.port() == port => Some(s.clone()),
                _ => None,
            })
            .unwrap()
    };
    let a = srv_of(6379);
    assert_eq!((a.priority(), a.weight()), (1, 1));
    assert_eq!(a.target().to_ascii(), format!("{plain}.node.{dc}.consul."));
    let b = srv_of(6380);
    assert_eq!((b.priority(), b.weight()), (1, 7));
    assert_eq!(b.target().to_ascii(), format!("c000020a.addr.{dc}.consul."));
    for (target, ip) in [(a.target(), "10.1.6.1"), (b.target(), "192.0.2.10")] {
        let extra = m
            .additionals()
            .iter()
            .find(|r| r.name() == target && r.record_type() == RecordType::A)
            .expect("A in additional");
        assert_eq!(extra.data().to_string(), ip);
    }
    // A warning instance answers with its Warning weight.
    t.register(
        &json!({"Node": own, "Address": "10.1.6.2", "SkipNodeUpdate": true,
        "Check": {"CheckID": "r", "Name": "r", "ServiceID": "r", "Status": "warning"}}),
    );
    let m = t.dns_tcp(&format!("{svc}.service.consul."), RecordType::SRV);
    let w = m.answers().iter().find_map(|r| match r.data() {
        RData::SRV(s) if s.port() == 6380 => Some(s.weight()),
        _ => None,
    });
    assert_eq!(w, Some(2));
}

#[test]
fn c22_dns_udp_answer_limit_without_tc() {
    let t = Target::new("c22_");
    if t.dns_or_skip("c22").is_none() {
        return;
    }
    let svc = t.name("web");
    five_instances(&t, &svc, &[None, None, None, None, None]);
    for rtype in [RecordType::A, RecordType::SRV] {
        let udp = t.dns_udp(&format!("{svc}.service.consul."), rtype, None);
        assert_eq!(udp.answers().len(), 3, "{rtype}");
        assert!(!udp.truncated(), "{rtype}: TC must not be set");
        let tcp = t.dns_tcp(&format!("{svc}.service.consul."), rtype);
        assert_eq!(tcp.answers().len(), 5, "{rtype}");
    }
    let srv = t.dns_udp(&format!("{svc}.service.consul."), RecordType::SRV, None);
    let targets: BTreeSet<String> = srv
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(s) => Some(s.target().to_ascii()),
            _ => None,
        })
        .collect();
    for extra in srv
        .additionals()
        .iter()
        .filter(|r| r.record_type() == RecordType::A)
    {
        assert!(
            targets.contains(&extra.name().to_ascii()),
            "stray additional {extra}"
        );
    }
    // With EDNS the answer limit does not apply.
    assert_eq!(
        t.dns_udp(&format!("{svc}.service.consul."), RecordType::A, Some(4096))
            .answers()
            .len(),
        5
    );
}

fn srv_set(m: &hickory_proto::op::Message) -> BTreeSet<(String, u16)> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(s) => Some((s.target().to_ascii(), s.port())),
            _ => None,
        })
        .collect()
}

#[test]
fn c23_dns_rfc2782_names() {
    let t = Target::new("c23_");
    if t.dns_or_skip("c23").is_none() {
        return;
    }
    let svc = t.name("redis");
    t.register(&node_with_service(
        &t.name("n1"),
        "10.1.7.1",
        &svc,
        "r",
        &["primary"],
        6379,
    ));
    t.register(&node_with_service(
        &t.name("n2"),
        "10.1.7.2",
        &svc,
        "r",
        &["replica"],
        6379,
    ));
    let classic = srv_set(&t.dns_tcp(&format!("primary.{svc}.service.consul."), RecordType::SRV));
    assert_eq!(classic.len(), 1);
    assert_eq!(
        srv_set(&t.dns_tcp(&format!("_{svc}._primary.service.consul."), RecordType::SRV)),
        classic
    );
    assert_eq!(
        srv_set(&t.dns_tcp(&format!("_{svc}._primary.consul."), RecordType::SRV)),
        classic
    );
    assert_eq!(
        srv_set(&t.dns_tcp(&format!("_{svc}._tcp.service.consul."), RecordType::SRV)).len(),
        2
    );
}

#[test]
fn c24_catalog_only_nodes_resolve_and_count_as_healthy() {
    let t = Target::new("c24_");
    let ext = t.name("external");
    let svc = t.name("ext-svc");
    t.register(&node_with_service(&ext, "10.1.8.1", &svc, "e", &[], 5432));
    let passing = t.get(&format!("/v1/health/service/{svc}?passing")).json();
    assert_eq!(
        passing.as_array().unwrap().len(),
        1,
        "no checks counts as passing"
    );
    if t.dns_or_skip("c24").is_none() {
        return;
    }
    assert_eq!(
        a_records(&t.dns_udp(&format!("{ext}.node.consul."), RecordType::A, None)),
        vec!["10.1.8.1"]
    );
    assert_eq!(
        a_records(&t.dns_udp(&format!("{svc}.service.consul."), RecordType::A, None)),
        vec!["10.1.8.1"]
    );
}

#[test]
fn c25_acl_denial_is_403_with_consul_text() {
    let t = Target::with("c25_", |b| b.acl_token("secret-token"));
    let policy = t
        .get("/v1/agent/self")
        .header("X-Consul-Default-ACL-Policy")
        .map(str::to_string);
    if t.is_real() && policy.as_deref() != Some("deny") {
        println!("SKIP c25: the agent's ACLs are not on with default policy deny");
        return;
    }
    let k = t.name("acl/key");
    let base = t.base().to_string();
    let anon = t.request_to(&base, "PUT", &format!("/v1/kv/{k}"), Some(b"x"), Some(""));
    assert_eq!(anon.status, 403);
    assert!(
        anon.text().starts_with("Permission denied"),
        "{}",
        anon.text()
    );
    let anon_read = t.request_to(&base, "GET", &format!("/v1/kv/{k}"), None, Some(""));
    assert_eq!(anon_read.status, 403);
    let wrong = t.request_to(
        &base,
        "PUT",
        &format!("/v1/kv/{k}"),
        Some(b"x"),
        Some("not-the-token"),
    );
    assert_eq!(wrong.status, 403);
    assert!(
        wrong.text().starts_with("ACL not found") || wrong.text().starts_with("Permission denied"),
        "{}",
        wrong.text()
    );
    if !t.is_real() {
        assert_eq!(anon.header("X-Consul-Default-ACL-Policy"), Some("deny"));
        let ok = t.request_to(
            &base,
            "PUT",
            &format!("/v1/kv/{k}"),
            Some(b"x"),
            Some("secret-token"),
        );
        assert_eq!((ok.status, ok.text().as_str()), (200, "true"));
        let reg = t.request_to(
            &base,
            "PUT",
            "/v1/agent/service/register",
            Some(br#"{"Name":"redis"}"#),
            Some(""),
        );
        assert_eq!(reg.status, 403);
        assert!(
            reg.text()
                .contains("lacks permission 'service:write' on \"redis\""),
            "{}",
            reg.text()
        );
        // List reads are filtered rather than refused.
        let list = t.request_to(&base, "GET", "/v1/catalog/services", None, Some(""));
        assert_eq!((list.status, list.json()), (200, json!({})));
    }
}

#[test]
fn c26_txn_is_all_or_nothing() {
    let t = Target::new("c26_");
    let p = t.kv_prefix("txn/");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let r = t.put_json(
        "/v1/txn",
        &json!([
            {"KV": {"Verb": "set", "Key": format!("{p}a"), "Value": b64("1")}},
            {"KV": {"Verb": "set", "Key": format!("{p}b"), "Value": b64("1")}},
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["Results"].as_array().unwrap().len(), 2);
    assert!(body["Errors"].is_null());
    assert!(body["Results"][0]["KV"]["Value"].is_null());
    let b_index = t.get(&format!("/v1/kv/{p}b")).json()[0]["ModifyIndex"]
        .as_u64()
        .unwrap();

    let r = t.put_json(
        "/v1/txn",
        &json!([
            {"KV": {"Verb": "set", "Key": format!("{p}a"), "Value": b64("2")}},
            {"KV": {"Verb": "check-index", "Key": format!("{p}b"), "Index": b_index + 100}},
            {"KV": {"Verb": "set", "Key": format!("{p}c"), "Value": b64("2")}},
        ]),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let body = r.json();
    assert_eq!(body["Errors"][0]["OpIndex"], 1);
    assert!(
        body["Errors"][0]["What"]
            .as_str()
            .unwrap()
            .contains("index")
    );
    assert_eq!(
        t.get(&format!("/v1/kv/{p}a")).json()[0]["Value"],
        b64("1"),
        "rolled back"
    );
    assert_eq!(t.get(&format!("/v1/kv/{p}c")).status, 404, "rolled back");

    let r = t.put_json("/v1/txn", &json!([
        {"KV": {"Verb": "cas", "Key": format!("{p}b"), "Value": b64("3"), "Index": b_index + 100}},
        {"KV": {"Verb": "delete", "Key": format!("{p}a")}},
    ]));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["Errors"][0]["OpIndex"], 0);
    assert_eq!(
        t.get(&format!("/v1/kv/{p}a")).status,
        200,
        "delete rolled back"
    );

    let r = t.put_json(
        "/v1/txn",
        &json!([
            {"KV": {"Verb": "cas", "Key": format!("{p}b"), "Value": b64("3"), "Index": b_index}},
            {"KV": {"Verb": "get", "Key": format!("{p}b")}},
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Results"][1]["KV"]["Value"], b64("3"));
}

// ---- endpoints beyond the §10 list ----

#[test]
fn e_agent_self_names_node_datacenter_and_address() {
    let t = Target::new("eself");
    let s = t.get("/v1/agent/self").json();
    assert!(s["Config"]["NodeName"].is_string());
    assert!(s["Config"]["Datacenter"].is_string());
    assert!(s["Member"]["Addr"].is_string());
    if !t.is_real() {
        assert_eq!(s["Config"]["NodeName"], "host-a");
        assert_eq!(s["Member"]["Addr"], "127.0.0.21");
        let node = t.get("/v1/catalog/node/host-a").json();
        assert_eq!(node["Node"]["Address"], "127.0.0.21");
        let checks = t.get("/v1/health/node/host-a").json();
        assert_eq!(checks[0]["CheckID"], "serfHealth");
        assert_eq!(checks[0]["Status"], "passing");
        assert!(
            t.get("/v1/agent/checks").json().get("serfHealth").is_none(),
            "serfHealth is not an agent check"
        );
    }
}

#[test]
fn e_catalog_nodes_and_services_list_everything() {
    let t = Target::new("ecat");
    let svc = t.name("redis");
    t.register(&node_with_service(
        &t.name("n1"),
        "10.1.9.1",
        &svc,
        "r1",
        &["a", "b"],
        1,
    ));
    t.register(&node_with_service(
        &t.name("n2"),
        "10.1.9.2",
        &svc,
        "r2",
        &["b", "c"],
        1,
    ));
    let nodes = t.get("/v1/catalog/nodes").json();
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Node"].as_str().unwrap())
        .collect();
    assert!(names.contains(&t.name("n1").as_str()));
    let services = t.get("/v1/catalog/services").json();
    let tags: BTreeSet<&str> = services[&svc]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(tags, BTreeSet::from(["a", "b", "c"]));
    assert!(
        services.get("consul").is_some(),
        "a datacenter always has the consul service"
    );
    let node = t.get(&format!("/v1/catalog/node/{}", t.name("n1"))).json();
    assert_eq!(node["Services"]["r1"]["Tags"], json!(["a", "b"]));
}

#[test]
fn e_health_checks_node_and_state() {
    let t = Target::new("ehealth");
    let svc = t.name("web");
    let n = t.name("n1");
    t.register(&json!({"Node": n, "Address": "10.1.10.1", "Service": {"ID": "w", "Service": svc, "Port": 1},
        "Checks": [{"CheckID": "node", "Name": "n", "Status": "passing"}, {"CheckID": "w", "Name": "w", "ServiceID": "w", "Status": "warning"}]}));
    let checks = t.get(&format!("/v1/health/checks/{svc}")).json();
    assert_eq!(check_ids(&checks), vec!["w"], "service checks only");
    assert_eq!(checks[0]["ServiceName"], svc.as_str());
    assert_eq!(
        check_ids(&t.get(&format!("/v1/health/node/{n}")).json()),
        vec!["node", "w"]
    );
    let warning = t.get("/v1/health/state/warning").json();
    assert!(
        warning
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["Node"] == n.as_str())
    );
    assert_eq!(t.get("/v1/health/state/bogus").status, 400);
}

#[test]
fn e_agent_endpoints_are_local_to_each_agent() {
    let t = Target::new("elocal");
    let Some(s) = t.standin_or_skip("elocal", "needs a second agent") else {
        return;
    };
    t.agent_register(&json!({"Name": "only-on-a", "Port": 1}));
    let b = s.http_url("host-b").unwrap();
    let on_b = t
        .request_to(&b, "GET", "/v1/agent/services", None, None)
        .json();
    assert!(on_b.get("only-on-a").is_none());
    assert!(
        t.get("/v1/agent/services")
            .json()
            .get("only-on-a")
            .is_some()
    );
    // The catalog is shared.
    let rows = t
        .request_to(&b, "GET", "/v1/catalog/service/only-on-a", None, None)
        .json();
    assert_eq!(rows[0]["Node"], "host-a");
    let self_b = t.request_to(&b, "GET", "/v1/agent/self", None, None).json();
    assert_eq!(self_b["Config"]["NodeName"], "host-b");
}

#[test]
fn e_bad_requests_get_consul_status_codes() {
    let t = Target::new("ebad");
    for path in [
        "/v1/catalog/register",
        "/v1/agent/service/register",
        "/v1/catalog/deregister",
    ] {
        let r = t.put(path, b"{not json");
        assert_eq!(r.status, 400, "{path}");
        assert!(
            r.text().starts_with("Request decode failed"),
            "{path}: {}",
            r.text()
        );
    }
    let r = t.put("/v1/txn", b"[{");
    assert_eq!(r.status, 400);
    assert_eq!(t.get("/v1/no/such/endpoint").status, 404);
    assert_eq!(t.get("/nothing").status, 404);
    let k = t.kv_prefix("big");
    let r = t.put(&format!("/v1/kv/{k}"), &vec![b'x'; 524_289]);
    assert_eq!(r.status, 413);
    assert!(t.put(&format!("/v1/kv/{k}"), &vec![b'x'; 524_288]).status == 200);
    let r = t.get(&format!("/v1/kv/{k}?index=abc"));
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid index"));
    let r = t.get(&format!("/v1/kv/{k}?index=1&wait=forever"));
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid wait time"));
    let r = t.get("/v1/health/service/x?index=-1");
    assert_eq!(r.status, 400);
    let r = t.request("POST", &format!("/v1/kv/{k}"), Some(b"x"));
    assert_eq!(r.status, 405);
    let allow = r.header("Allow").unwrap();
    for m in ["GET", "PUT", "DELETE"] {
        assert!(allow.contains(m), "{allow}");
    }
    assert_eq!(t.request("DELETE", "/v1/catalog/nodes", None).status, 405);
    assert_eq!(
        t.put(&format!("/v1/kv/{k}?cas=1&acquire=x"), b"x").status,
        400
    );
    assert_eq!(t.get("/v1/health/service/x?passing=maybe").status, 400);
    assert_eq!(
        t.put_json("/v1/agent/service/register", &json!({"Port": 1}))
            .status,
        400
    );
    let r = t.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "x", "Check": {"HTTP": "http://127.0.0.1:1/"}}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("Invalid check"), "{}", r.text());
    // Still serving.
    assert_eq!(t.get("/v1/agent/self").status, 200);
}

#[test]
fn e_concurrent_cas_increments_lose_no_update() {
    let t = Target::new("ecas");
    let k = t.kv_prefix("counter");
    assert_eq!(t.put(&format!("/v1/kv/{k}?cas=0"), b"0").text(), "true");
    let base = t.base().to_string();
    let token = std::env::var("CONSUL_HTTP_TOKEN").unwrap_or_default();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (base, k, token) = (base.clone(), k.clone(), token.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mine = 1000 / 8 + usize::from(i < 1000 % 8);
                let mut retries = 0;
                for _ in 0..mine {
                    loop {
                        let mut r = agent
                            .get(format!("{base}/v1/kv/{k}"))
                            .header("X-Consul-Token", &token)
                            .call()
                            .unwrap();
                        let v: Value = r.body_mut().read_json().unwrap();
                        let idx = v[0]["ModifyIndex"].as_u64().unwrap();
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(v[0]["Value"].as_str().unwrap())
                            .unwrap();
                        let n: u64 = String::from_utf8(raw).unwrap().parse().unwrap();
                        let mut put = agent
                            .put(format!("{base}/v1/kv/{k}?cas={idx}"))
                            .header("X-Consul-Token", &token)
                            .send((n + 1).to_string())
                            .unwrap();
                        if put.body_mut().read_to_string().unwrap() == "true" {
                            break;
                        }
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
    let raw = t.get(&format!("/v1/kv/{k}?raw"));
    assert_eq!(raw.text(), "1000", "after {retries} CAS retries");
}

#[test]
fn e_blocking_health_query_is_released_by_a_check_change() {
    let t = Target::new("eblock");
    let id = t.name("ttl-svc");
    t.agent_register(&json!({"Name": id, "Port": 1, "Check": {"TTL": "60s"}}));
    let r = t.get(&format!("/v1/health/service/{id}?passing"));
    assert_eq!(r.json(), json!([]));
    let idx = r.index();
    let passer = put_soon(&t, &format!("/v1/agent/check/pass/service:{id}"), None);
    // A blocking query may return on unrelated changes (a return is not proof of change), so
    // follow the index as a client does until the instance shows up.
    let start = Instant::now();
    let mut idx = idx;
    let rows = loop {
        let r = t.get(&format!(
            "/v1/health/service/{id}?passing&index={idx}&wait=20s"
        ));
        let rows = r.json();
        if !rows.as_array().unwrap().is_empty() || start.elapsed() > Duration::from_secs(10) {
            break rows;
        }
        idx = r.index();
    };
    passer.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(rows.as_array().unwrap().len(), 1);
}

#[test]
fn e_txn_writes_catalog_and_kv_together() {
    let t = Target::new("etxn");
    let p = t.kv_prefix("txn2/");
    let n = t.name("txn-node");
    let svc = t.name("txn-svc");
    t.register(&json!({"Node": n, "Address": "10.1.11.1"}));
    let r = t.put_json("/v1/txn", &json!([
        {"Node": {"Verb": "set", "Node": {"Node": n, "Address": "10.1.11.2"}}},
        {"Service": {"Verb": "set", "Node": n, "Service": {"ID": "s1", "Service": svc, "Tags": ["primary"], "Port": 6379}}},
        {"Check": {"Verb": "set", "Check": {"Node": n, "CheckID": "c1", "Name": "c1", "Status": "passing", "ServiceID": "s1"}}},
        {"KV": {"Verb": "set", "Key": format!("{p}master"), "Value": base64::engine::general_purpose::STANDARD.encode("10.1.11.2")}},
    ]));
    assert_eq!(r.status, 200, "{}", r.text());
    let rows = t.get(&format!("/v1/health/service/{svc}?passing")).json();
    assert_eq!(rows[0]["Node"]["Address"], "10.1.11.2");
    assert_eq!(rows[0]["Service"]["Tags"], json!(["primary"]));
    assert_eq!(t.get(&format!("/v1/kv/{p}master?raw")).text(), "10.1.11.2");
    let r = t.put_json(
        "/v1/txn",
        &json!([
            {"Service": {"Verb": "delete", "Node": n, "Service": {"ID": "s1"}}},
            {"Node": {"Verb": "get", "Node": {"Node": t.name("ghost")}}},
        ]),
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        t.get(&format!("/v1/catalog/service/{svc}"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
