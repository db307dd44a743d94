//! One invocation of redis-master-check, as Consul makes one per interval: median and p95 wall
//! time and peak RSS against a local master with DNS (consul-standin) and three sentinels.
//! `cargo bench -p redis-master-check` (and `cargo xtask bench`, after its lab table) prints
//! the figures; nothing is asserted (the target is under 1.5 ms median and under 6 MB peak RSS
//! on a quiet 2-core machine, for the headline case and for the shipped role-mode arguments).
//!
//! Each variant runs in a child process of this benchmark (it re-executes itself), so that the
//! peak RSS the kernel reports for that child's reaped children covers exactly that variant's
//! invocations and nothing the testbed started. Two baselines are measured the same way, so the
//! figures can be read against the machine's load: `/bin/true` (the cost of starting any
//! process) and `redis-cli INFO replication` (the cost of one Redis round trip from a process).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use consul_standin::Standin;
use nix::sys::resource::{UsageWho, getrusage};
use sengu::consul::{Client, ClientConfig, ServiceRegistration};
use testbed::host;
use testbed::redis::RedisSet;

const BIN: &str = env!("CARGO_BIN_EXE_redis-master-check");
const RUNS: usize = 200;
const WARMUP: usize = 20;
/// Set in a runner child: the program and its arguments, one per line.
const RUNNER_ENV: &str = "SENGU_BENCH_RUNNER_ARGS";

fn main() {
    if let Ok(argv) = std::env::var(RUNNER_ENV) {
        let argv: Vec<String> = argv.lines().map(str::to_string).collect();
        return runner(&argv[0], &argv[1..]);
    }
    let set = RedisSet::builder().replicas(1).sentinels(3).start();
    let standin = Standin::builder().agent("redis-a", host(11)).agent("redis-b", host(12)).dns(true).start().expect("consul-standin");
    let agent = standin.http_url("redis-a").unwrap();
    let client = Client::new(&ClientConfig::default().with_address(&agent).unwrap()).unwrap();
    let registration = ServiceRegistration {
        id: "redis".into(),
        name: "redis".into(),
        tags: vec!["master".into()],
        port: set.server(0).port(),
        enable_tag_override: true,
        ..Default::default()
    };
    client.agent_service_register(&registration).unwrap();

    let mut base: Vec<String> = ["--redis", &set.server(0).addr().to_string(), "--service", "redis", "--sentinel-master", "mymaster"]
        .map(str::to_string)
        .to_vec();
    base.extend(["--dns-server".to_string(), standin.dns_addr().unwrap().to_string()]);
    let without_sentinels = [vec![BIN.to_string()], base.clone(), vec!["--advertise-ip".into(), "127.0.0.11".into()]].concat();
    for s in set.sentinels() {
        base.extend(["--sentinel".to_string(), s.addr().to_string()]);
    }
    let check = |extra: &[&str]| [vec![BIN.to_string()], base.clone(), extra.iter().map(|s| s.to_string()).collect()].concat();
    let master = set.server(0).addr();
    let variants = [
        ("baseline: /bin/true", vec!["/bin/true".to_string()]),
        // A Rust process that parses its flags and exits: what no check run can go below.
        ("baseline: redis-master-check --version", vec![BIN.to_string(), "--version".to_string()]),
        (
            "baseline: redis-cli INFO replication",
            ["redis-cli", "-h", &master.ip().to_string(), "-p", &master.port().to_string(), "INFO", "replication"].map(str::to_string).to_vec(),
        ),
        // With a sentinel majority DNS is not asked (it could only be a note); this line shows
        // the lookup's cost, where DNS uniqueness decides.
        ("master, DNS, no sentinels, --advertise-ip", without_sentinels),
        ("master, DNS, 3 sentinels, --advertise-ip", check(&["--advertise-ip", "127.0.0.11"])),
        ("master, DNS, 3 sentinels, address from the agent", check(&["--consul-addr", &agent])),
        // The arguments of consul.d/redis-role.json (the address comes from the agent).
        (
            "role mode: the shipped consul.d/redis-role.json",
            check(&["--consul-addr", &agent, "--role", "auto", "--publish-tags", "--fence-stale-master", "--timeout", "2s"]),
        ),
    ];
    println!("redis-master-check: {RUNS} invocations per line (after {WARMUP} warm-up runs), {} cores", cores());
    println!("load average: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!("{:<50} {:>9} {:>9} {:>9} {:>12}", "invocation", "median", "p95", "max", "peak RSS");
    for (name, args) in variants {
        let output = Command::new(std::env::current_exe().unwrap())
            .env(RUNNER_ENV, args.join("\n"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run the runner");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "runner for {name:?} failed:\n{text}");
        println!("{name:<50} {}", text.trim());
    }
}

/// Runs `program args` WARMUP + RUNS times and prints `median p95 max peak-rss`.
fn runner(program: &str, args: &[String]) {
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..WARMUP + RUNS {
        let started = Instant::now();
        let status = Command::new(program)
            .args(args)
            .env("SENGU_CONFIG", "/dev/null")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let took = started.elapsed();
        if status.code() != Some(0) {
            let out = Command::new(program).args(args).env("SENGU_CONFIG", "/dev/null").output().unwrap();
            panic!("invocation {i} exited {status}:\n{}", String::from_utf8_lossy(&out.stdout));
        }
        if i >= WARMUP {
            times.push(took);
        }
    }
    times.sort();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    // ru_maxrss is in KiB on Linux: the largest resident set of any reaped child.
    let rss_kib = getrusage(UsageWho::RUSAGE_CHILDREN).map(|u| u.max_rss()).unwrap_or(-1);
    println!("{:>9} {:>9} {:>9} {:>9.1} MiB", ms(pick(0.5)), ms(pick(0.95)), ms(pick(1.0)), rss_kib as f64 / 1024.0);
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
