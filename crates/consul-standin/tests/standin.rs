//! Behaviour only the stand-in has or only it can show quickly: agent config dirs and their
//! script checks driving DNS, thresholds, script-check switches, the `/_standin/` controls,
//! deferred output sync, the binary's start-up lines, and loading the repository's `consul.d/`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use consul_standin::agent::definition::CheckKind;
use consul_standin::config_dir::Definition;
use consul_standin::{ScriptChecks, Standin, StartError};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::{self, Target, a_records, default_builder};

const WAIT: Duration = Duration::from_secs(10);

/// An A query over UDP to `addr`.
fn dns_query_at(addr: std::net::SocketAddr, name: &str) -> hickory_proto::op::Message {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = support::dns_query(name, RecordType::A, None);
    sock.send_to(&q.to_vec().unwrap(), addr).unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    hickory_proto::op::Message::from_vec(&buf[..n]).unwrap()
}

/// A config dir holding `files` (name, JSON).
/// A GET outside the harness (against a stand-in it did not start), its body as JSON.
fn get_json(agent: &ureq::Agent, url: &str) -> Value {
    agent
        .get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

fn config_dir(files: &[(&str, Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(
            dir.path().join(name),
            serde_json::to_vec_pretty(body).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// A check script whose exit code is the content of `state`.
fn stateful_check(state: &Path) -> Value {
    json!([
        "sh",
        "-c",
        format!(
            "echo \"state $(cat {0})\"; exit $(cat {0})",
            state.display()
        )
    ])
}

fn set_state(state: &Path, code: u8) {
    std::fs::write(state, code.to_string()).unwrap();
}

#[test]
fn config_dir_script_checks_drive_dns() {
    let work = tempfile::tempdir().unwrap();
    let (state_a, state_b) = (work.path().join("a"), work.path().join("b"));
    set_state(&state_a, 0);
    set_state(&state_b, 0);
    let redis = |tag: &str, state: &Path| {
        json!({"service": {"name": "redis", "id": "redis", "port": 6379, "tags": [tag], "enable_tag_override": true,
            "checks": [{"id": "redis-role", "name": "redis role", "args": stateful_check(state), "interval": "100ms", "timeout": "5s"}]}})
    };
    let dir_a = config_dir(&[("redis.json", redis("master", &state_a))]);
    let dir_b = config_dir(&[("redis.json", redis("replica", &state_b))]);
    let t = Target::with("cfgdns", |b| {
        b.config_dir("host-a", dir_a.path())
            .config_dir("host-b", dir_b.path())
    });
    let master = "master.redis.service.consul.";
    t.wait_for("the master in DNS", WAIT, || {
        (a_records(&t.dns_udp(master, RecordType::A, None)) == ["127.0.0.21"]).then_some(())
    });
    assert_eq!(
        a_records(&t.dns_udp("redis.service.consul.", RecordType::A, None)),
        vec!["127.0.0.21", "127.0.0.22"]
    );
    assert_eq!(
        t.agent_check("redis-role").unwrap(),
        ("passing".into(), "state 0\n".into())
    );

    // A warning keeps the instance in DNS; a failure takes it out.
    set_state(&state_a, 1);
    t.wait_for("warning", WAIT, || {
        (t.agent_check("redis-role")?.0 == "warning").then_some(())
    });
    assert_eq!(
        a_records(&t.dns_udp(master, RecordType::A, None)),
        vec!["127.0.0.21"]
    );
    set_state(&state_a, 2);
    t.wait_for("the master out of DNS", WAIT, || {
        (t.dns_udp(master, RecordType::A, None).response_code() == ResponseCode::NXDomain)
            .then_some(())
    });
    assert_eq!(
        a_records(&t.dns_udp("redis.service.consul.", RecordType::A, None)),
        vec!["127.0.0.22"]
    );
    set_state(&state_a, 0);
    t.wait_for("the master back", WAIT, || {
        (a_records(&t.dns_udp(master, RecordType::A, None)) == ["127.0.0.21"]).then_some(())
    });
}

#[test]
fn config_dir_script_check_timeout_kills_the_process_group() {
    let work = tempfile::tempdir().unwrap();
    let pidfile = work.path().join("pid");
    let dir = config_dir(&[(
        "slow.json",
        json!({"check": {"id": "slow", "name": "slow", "interval": "10s", "timeout": "300ms",
            "args": ["sh", "-c", format!("sleep 60 & echo $! > {}; echo started; wait", pidfile.display())]}}),
    )]);
    let t = Target::with("cfgslow", |b| b.config_dir("host-a", dir.path()));
    let s = t.standin();
    let run = t.wait_for("a timed-out run", WAIT, || {
        s.check_history("host-a", "slow").ok()?.into_iter().next()
    });
    assert!(run.timed_out);
    assert_eq!(run.exit_code, None);
    assert_eq!(run.output, "Timed out (300ms) running check\n\nstarted\n");
    let check = s.agent_check("host-a", "slow").unwrap();
    assert_eq!(
        (check.status.as_str(), check.output.as_str()),
        ("critical", "Timed out (300ms) running check\n\nstarted\n")
    );
    // The check started critical, so this is an output-only change: the catalog gets it only
    // after check_update_interval, as in Consul.
    assert_eq!(s.catalog_check("host-a", "slow").unwrap().output, "");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let pid = pid.trim();
    t.wait_for("the grandchild killed", WAIT, || {
        let gone = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z')),
        };
        gone.then_some(())
    });
}

#[test]
fn thresholds_hold_back_status_changes() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    set_state(&state, 0);
    let dir = config_dir(&[(
        "c.json",
        json!({"check": {"id": "c", "name": "c", "args": stateful_check(&state), "interval": "100ms",
            "success_before_passing": 2, "failures_before_warning": 1, "failures_before_critical": 3}}),
    )]);
    let t = Target::with("thresh", |b| b.config_dir("host-a", dir.path()));
    let s = t.standin();
    let history = || s.check_history("host-a", "c").unwrap();
    t.wait_for("two passing runs", WAIT, || {
        (history().len() >= 2).then_some(())
    });
    let h = history();
    assert_eq!(h[0].status, "passing");
    assert_eq!(h[0].applied, None, "one success is not enough");
    assert_eq!(h[1].applied.as_deref(), Some("passing"));
    set_state(&state, 2);
    t.wait_for("critical", WAIT, || {
        (s.agent_check("host-a", "c")?.status == "critical").then_some(())
    });
    let h = history();
    let failing: Vec<Option<String>> = h
        .iter()
        .filter(|r| r.status == "critical")
        .map(|r| r.applied.clone())
        .collect();
    assert_eq!(
        failing[..3],
        [
            Some("warning".to_string()),
            Some("warning".to_string()),
            Some("critical".to_string())
        ]
    );
}

#[test]
fn disabled_script_checks_refuse_definitions() {
    let dir = config_dir(&[(
        "c.json",
        json!({"check": {"name": "c", "args": ["true"], "interval": "10s"}}),
    )]);
    let err = default_builder()
        .script_checks(ScriptChecks::Disabled)
        .config_dir("host-a", dir.path())
        .start()
        .unwrap_err();
    assert!(matches!(err, StartError::Definition { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("Scripts are disabled on this agent; to enable"),
        "{err}"
    );

    // Local-only: the config dir loads, the API refuses.
    let t = Target::with("localonly", |b| {
        b.agent_script_checks("host-a", ScriptChecks::LocalOnly)
            .config_dir("host-a", dir.path())
    });
    assert!(t.agent_check("c").is_some());
    let r = t.put_json(
        "/v1/agent/check/register",
        &json!({"Name": "x", "Args": ["true"], "Interval": "10s"}),
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
    );
    let r = t.put_json(
        "/v1/agent/service/register",
        &json!({"Name": "s", "Check": {"Args": ["true"], "Interval": "10s"}}),
    );
    assert_eq!(r.status, 500);
    assert!(t.get("/v1/agent/services").json().get("s").is_none());
}

#[test]
fn serf_health_failure_takes_the_node_out_of_dns_and_passing_health() {
    let t = Target::new("serf");
    let b = t.standin().http_url("host-b").unwrap();
    let r = t.request_to(
        &b,
        "PUT",
        "/v1/agent/service/register",
        Some(br#"{"Name":"cache","Port":11211}"#),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        a_records(&t.dns_udp("cache.service.consul.", RecordType::A, None)),
        vec!["127.0.0.22"]
    );
    assert_eq!(
        t.put("/_standin/serf/host-b?status=critical", b"").status,
        200
    );
    assert_eq!(
        t.dns_udp("cache.service.consul.", RecordType::A, None)
            .response_code(),
        ResponseCode::NXDomain
    );
    assert_eq!(t.get("/v1/health/service/cache?passing").json(), json!([]));
    assert_eq!(
        t.get("/v1/catalog/service/cache")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let serf = t.get("/v1/health/node/host-b").json()[0].clone();
    assert_eq!(
        (serf["Status"].as_str(), serf["Output"].as_str()),
        (Some("critical"), Some("Agent not live or unreachable"))
    );
    assert_eq!(t.get("/v1/agent/members").json()[1]["Status"], 4);
    t.standin().set_serf_health("host-b", true).unwrap();
    assert_eq!(
        a_records(&t.dns_udp("cache.service.consul.", RecordType::A, None)),
        vec!["127.0.0.22"]
    );
    assert_eq!(
        t.put("/_standin/serf/nobody?status=critical", b"").status,
        404
    );
}

#[test]
fn paused_agents_hang_or_refuse() {
    let t = Target::new("pause");
    let s = t.standin();
    let b = s.http_addr("host-b").unwrap();
    let quick: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(500)))
        .build()
        .into();
    assert!(
        quick
            .get(format!("http://{b}/v1/agent/self"))
            .call()
            .is_ok()
    );

    assert_eq!(t.put("/_standin/pause/host-b?mode=hang", b"").status, 200);
    let started = Instant::now();
    let err = quick
        .get(format!("http://{b}/v1/agent/self"))
        .call()
        .unwrap_err();
    assert!(matches!(err, ureq::Error::Timeout(_)), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    std::net::TcpStream::connect(b).expect("a hanging agent still accepts connections");
    assert_eq!(t.get("/v1/agent/self").status, 200, "other agents answer");
    // The controls keep answering on the hanging agent.
    assert_eq!(
        t.request_to(
            &format!("http://{b}"),
            "PUT",
            "/_standin/resume/host-b",
            Some(b""),
            None
        )
        .status,
        200
    );
    assert!(
        quick
            .get(format!("http://{b}/v1/agent/self"))
            .call()
            .is_ok()
    );

    s.refuse_agent("host-b").unwrap();
    t.wait_for("connections refused", WAIT, || {
        matches!(std::net::TcpStream::connect(b), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused).then_some(())
    });
    s.resume_agent("host-b").unwrap();
    t.wait_for("the agent back", WAIT, || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(500)))
            .build()
            .into();
        agent
            .get(format!("http://{b}/v1/agent/self"))
            .call()
            .ok()
            .map(|_| ())
    });
}

#[test]
fn check_history_is_readable_over_http() {
    let t = Target::new("history");
    // Script checks are told their agent's address, as 127.0.0.1:8500 is on a real host.
    let script = "echo \"hi $CONSUL_HTTP_ADDR\"; exit 1";
    let r = t.put_json(
        "/v1/agent/check/register",
        &json!({"Name": "h", "Args": ["sh", "-c", script], "Interval": "100ms"}),
    );
    assert_eq!(r.status, 200);
    let runs = t.wait_for("two runs", WAIT, || {
        let v = t.get("/_standin/history/host-a/h").json();
        (v.as_array()?.len() >= 2).then_some(v)
    });
    assert_eq!(runs[0]["exit_code"], 1);
    assert_eq!(runs[0]["status"], "warning");
    let addr = t.standin().http_addr("host-a").unwrap();
    assert_eq!(runs[0]["output"], format!("hi {addr}\n"));
    assert!(runs[0]["finished_ms"].as_u64() >= runs[0]["started_ms"].as_u64());
    assert_eq!(t.get("/_standin/history/host-a/nope").status, 404);
    assert!(t.get("/_standin/agents").json().as_array().unwrap().len() == 2);
}

#[test]
fn output_only_changes_reach_the_catalog_after_the_update_interval() {
    let t = Target::with("deferred", |b| {
        b.check_update_interval(Duration::from_millis(400))
    });
    let s = t.standin();
    t.put_json(
        "/v1/agent/check/register",
        &json!({"Name": "ttl", "TTL": "60s"}),
    );
    t.put("/v1/agent/check/pass/ttl?note=first", b"");
    assert_eq!(
        s.catalog_check("host-a", "ttl").unwrap().output,
        "first",
        "a status change syncs at once"
    );
    t.put("/v1/agent/check/pass/ttl?note=second", b"");
    assert_eq!(s.agent_check("host-a", "ttl").unwrap().output, "second");
    assert_eq!(
        s.catalog_check("host-a", "ttl").unwrap().output,
        "first",
        "output-only change is deferred"
    );
    t.wait_for("the deferred output", WAIT, || {
        (s.catalog_check("host-a", "ttl")?.output == "second").then_some(())
    });
}

/// The binary, killed and reaped on drop.
struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn binary_prints_one_line_per_listener() {
    let dir = config_dir(&[("svc.json", json!({"service": {"name": "web", "port": 80}}))]);
    let mut child = Binary(
        Command::new(env!("CARGO_BIN_EXE_consul-standin"))
            .args([
                "--agent",
                "a=127.0.0.23:0",
                "--agent",
                "b=127.0.0.24:0",
                "--dns",
                "127.0.0.23:0",
            ])
            .arg(format!("--config-dir=a={}", dir.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(lines.next().expect("a listening line").unwrap());
    }
    assert!(
        got[0].starts_with("listening agent=a http=127.0.0.23:"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("listening agent=b http=127.0.0.24:"),
        "{got:?}"
    );
    assert!(
        got[2].starts_with("listening dns=127.0.0.23:") && got[2].ends_with("proto=udp,tcp"),
        "{got:?}"
    );
    let http = got[0].rsplit('=').next().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let services = get_json(&agent, &format!("http://{http}/v1/agent/services"));
    assert_eq!(services["web"]["Port"], 80);
    let bad = Command::new(env!("CARGO_BIN_EXE_consul-standin"))
        .args(["--agent", "oops"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// `--acl-token-file` naming an empty file once started the stand-in with ACLs off, so tests
/// meant to run against ACLs passed against an open agent. Empty (or whitespace) and
/// unreadable token files are start-up errors: exit 2, nothing listens.
#[test]
fn binary_refuses_an_empty_or_unreadable_acl_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let cases = [
        (empty.clone(), format!("consul-standin: ACL token file {} is empty: refusing to start with ACLs off", empty.display())),
        (dir.path().join("missing"), format!("consul-standin: cannot read ACL token file {}/missing: ", dir.path().display())),
        (dir.path().to_path_buf(), format!("consul-standin: cannot read ACL token file {}: not a regular file", dir.path().display())),
    ];
    for (path, message) in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_consul-standin"))
            .args(["--agent", "a=127.0.0.25:0", "--acl-token-file"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // One that starts anyway runs until killed: give it 5 s, then fail on its status.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{path:?}\nstdout: {stdout}\nstderr: {stderr}");
        assert!(stderr.starts_with(&message), "{path:?}: {stderr}");
        assert!(stdout.is_empty(), "nothing may listen: {stdout}");
    }
}

#[test]
fn repository_consul_d_definitions_load() {
    // CONSUL_STANDIN_CONSUL_D points the test at another directory of definitions.
    let dir = std::env::var_os("CONSUL_STANDIN_CONSUL_D")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../consul.d"));
    if !dir.is_dir() {
        println!("SKIP repository_consul_d_definitions_load: no consul.d/ in the repository");
        return;
    }
    let defs = consul_standin::config_dir::load(&dir)
        .unwrap_or_else(|e| panic!("consul.d/ does not load: {e}"));
    let s = default_builder()
        .config_dir("host-a", &dir)
        .start()
        .unwrap_or_else(|e| panic!("consul.d/ refused: {e}"));
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let base = s.http_url("host-a").unwrap();
    let services = get_json(&agent, &format!("{base}/v1/agent/services"));
    let checks = get_json(&agent, &format!("{base}/v1/agent/checks"));
    let mut interval_checks = Vec::new();
    for def in &defs {
        match def {
            Definition::Service(svc) => {
                assert!(
                    services.get(&svc.id).is_some(),
                    "service {} not registered",
                    svc.id
                );
                for c in &svc.checks {
                    assert!(checks.get(&c.id).is_some(), "check {} not registered", c.id);
                    interval_checks.push(c.clone());
                }
            }
            Definition::Check(c) => {
                assert!(checks.get(&c.id).is_some(), "check {} not registered", c.id);
                interval_checks.push(c.clone());
            }
        }
    }
    // Every interval check runs (whether its program exists here or not) ...
    let deadline = Instant::now() + Duration::from_secs(40);
    for c in interval_checks
        .iter()
        .filter(|c| !matches!(c.kind, CheckKind::Ttl { .. }))
    {
        while s.check_history("host-a", &c.id).unwrap().is_empty() {
            assert!(Instant::now() < deadline, "check {} never ran", c.id);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // ... and its result decides whether the service is in DNS.
    for def in &defs {
        let Definition::Service(svc) = def else {
            continue;
        };
        // Its own checks and the node-level (standalone) ones count.
        let node_checks = interval_checks.iter().filter(|c| c.service_id.is_empty());
        let healthy = svc.checks.iter().chain(node_checks).all(|c| {
            s.agent_check("host-a", &c.id)
                .is_some_and(|k| k.status != "critical")
        });
        let m = dns_query_at(
            s.dns_addr().unwrap(),
            &format!("{}.service.consul.", svc.name),
        );
        assert_eq!(
            !m.answers().is_empty(),
            healthy,
            "service {} in DNS: {}",
            svc.name,
            !healthy
        );
    }
    println!("consul.d/: {} definitions loaded", defs.len());
    drop::<Standin>(s);
}
