//! `cargo xtask bench`: what each sengu executable costs per invocation against the local lab
//! (`sengu_e2e::lab`), and what a planned Redis switchover costs clients, as one table.
//!
//! Each executable runs `--iterations` times (default 20) as its caller would run it; the wall
//! time and the peak RSS of each run are measured by a small measuring process (this program
//! again, `--measure`), because the kernel reports the peak RSS of waited-for children only as
//! a maximum over all of them (`getrusage(RUSAGE_CHILDREN)`): one child per measuring process
//! makes that maximum the child's own. Then `sengu-drill redis --rounds N` (default 20) and one
//! MySQL drill give the switchover figures. Nothing here asserts timings; the targets are
//! printed next to the results.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use serde_json::Value;
use sengu_e2e::lab::{self, Lab};

const MARK: &str = "sengu-bench-measure";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        return measure(&args[1..]);
    }
    let mut iterations = 20;
    let mut rounds = 20;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse::<usize>().ok());
        match (flag.as_str(), value) {
            ("--iterations", Some(n)) if n > 0 => iterations = n,
            ("--rounds", Some(n)) if n > 0 => rounds = n,
            _ => {
                eprintln!("usage: sengu-bench [--iterations N] [--rounds N]");
                return ExitCode::from(2);
            }
        }
    }
    bench(iterations, rounds)
}

/// `--measure PROGRAM ARGS…`: runs the program once, its stdout passed through, and prints
/// `sengu-bench-measure <wall µs> <peak RSS KiB> <exit code>` on stderr.
fn measure(argv: &[String]) -> ExitCode {
    let Some((program, args)) = argv.split_first() else { return ExitCode::from(2) };
    let start = Instant::now();
    let status = Command::new(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).status();
    let wall = start.elapsed();
    let rss = getrusage(UsageWho::RUSAGE_CHILDREN).map(|u| u.max_rss()).unwrap_or(0);
    let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
    eprintln!("{MARK} {} {rss} {code}", wall.as_micros());
    ExitCode::SUCCESS
}

/// One measured run.
struct Sample {
    wall: Duration,
    rss_kib: i64,
    code: i32,
    stdout: String,
}

/// Runs `program args` once through the measuring process, in the lab's clean environment.
fn run_measured(lab: &Lab, program: &Path, args: &[String], env: &[(String, String)]) -> Sample {
    let me = std::env::current_exe().unwrap_or_default();
    let mut cmd = lab.command(&me);
    cmd.arg("--measure").arg(program).args(args).envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", me.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with(MARK)).unwrap_or_default();
    let f: Vec<i64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    Sample {
        wall: Duration::from_micros(f.first().copied().unwrap_or(0).max(0) as u64),
        rss_kib: f.get(1).copied().unwrap_or(0),
        code: f.get(2).copied().unwrap_or(-1) as i32,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// One row of the table.
struct Row {
    name: String,
    target: &'static str,
    samples: Vec<Sample>,
    expect: i32,
}

impl Row {
    fn print(&self) {
        let mut walls: Vec<f64> = self.samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect();
        walls.sort_by(f64::total_cmp);
        let pick = |q: f64| walls.get(((walls.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
        let rss = self.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0) as f64 / 1024.0;
        let bad = self.samples.iter().filter(|s| s.code != self.expect).count();
        let exits = if bad == 0 { format!("{} x {}", self.samples.len(), self.expect) } else { format!("{bad} of {} not {}", self.samples.len(), self.expect) };
        println!("{:<50} {:>4} {:>9.1} {:>8.1} {:>8.1}  {:<14} {}", self.name, self.samples.len(), pick(0.5), pick(0.95), rss, exits, self.target);
        if let Some(s) = self.samples.iter().find(|s| s.code != self.expect && !s.stdout.trim().is_empty()) {
            println!("    e.g. exit {}: {}", s.code, s.stdout.lines().next().unwrap_or_default());
        }
    }
}

fn bench(iterations: usize, rounds: usize) -> ExitCode {
    let started = Instant::now();
    eprintln!("starting the lab ...");
    let lab = Lab::start(&mut |s| eprintln!("  {s}"));
    lab.wait_settled(Duration::from_secs(60));
    eprintln!("lab up in {:.1}s; measuring {iterations} runs of each executable ...", started.elapsed().as_secs_f64());
    let master = lab.master_host().unwrap_or(0);
    let mut rows = Vec::new();
    for (i, role) in [(master, "master"), (1 - master, "replica")] {
        let argv = lab.check_args(i);
        let Some((program, args)) = argv.split_first() else { continue };
        let samples = (0..iterations).map(|_| run_measured(&lab, Path::new(program), args, &[])).collect();
        rows.push(Row { name: format!("redis-master-check (role check on the {role})"), target: "< 5 ms median", samples, expect: 0 });
    }
    let samples = (0..iterations).map(|_| run_measured(&lab, &lab::bin("sentinel-rebalance"), &["status".into()], &lab.host_env(0))).collect();
    rows.push(Row { name: "sentinel-rebalance status".into(), target: "", samples, expect: 0 });

    let (m, r) = (lab.mysql[0].addr(), lab.mysql[1].addr());
    let (mh, mp, rh, rp) = (m.ip().to_string(), m.port().to_string(), r.ip().to_string(), r.port().to_string());
    let hooks = lab.hook_env();
    let samples = (0..iterations).map(|_| run_measured(&lab, &lab::bin("mysql-fail-check"), &[mh.clone(), mp.clone()], &hooks)).collect();
    rows.push(Row { name: "mysql-fail-check (master up)".into(), target: "< 5 ms median", samples, expect: 0 });
    for (db, role) in [(&lab.mysql[0], "master"), (&lab.mysql[1], "replica")] {
        let args = ["--mysql".to_string(), db.addr().to_string(), "--advertise-ip".into(), db.addr().ip().to_string()];
        let samples = (0..iterations).map(|_| run_measured(&lab, &lab::bin("mysql-master-check"), &args, &hooks)).collect();
        rows.push(Row { name: format!("mysql-master-check (on the {role})"), target: "< 10 ms median", samples, expect: 0 });
    }
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        // A move to the replica that never happens: the master leaves Consul, then is published
        // again as after a switchover (two arguments). Same end state every time.
        before.push(run_measured(&lab, &lab::bin("mysql-before-exec"), &[mh.clone(), mp.clone(), rh.clone(), rp.clone()], &hooks));
        after.push(run_measured(&lab, &lab::bin("mysql-after-exec"), &[mh.clone(), mp.clone()], &hooks));
    }
    rows.push(Row { name: "mysql-before-exec (4 args)".into(), target: "", samples: before, expect: 0 });
    rows.push(Row { name: "mysql-after-exec (2 args, verifies and publishes)".into(), target: "", samples: after, expect: 0 });
    let history = vec!["history".to_string(), "--consul-addr".to_string(), lab.agent_url(0)];
    let samples = (0..iterations).map(|_| run_measured(&lab, &lab::bin("sengu-drill"), &history, &[])).collect();
    rows.push(Row { name: "sengu-drill history".into(), target: "", samples, expect: 0 });

    eprintln!("running sengu-drill redis --rounds {rounds} ...");
    lab.wait_settled(Duration::from_secs(60));
    let rounds_arg = rounds.to_string();
    // --keep-going: a round that breaks an invariant is counted, and the figures still cover
    // every round.
    let drill_args = lab.drill_redis_args(&["--rounds", &rounds_arg, "--keep-going", "--format", "json"]);
    let redis_drill = run_measured(&lab, &lab::bin("sengu-drill"), &drill_args, &[]);
    eprintln!("running sengu-drill mysql ...");
    let from = if lab.lookup(&format!("{}.node.consul", lab::MYSQL_NODE)) == [lab.mysql[0].addr().ip()] { 0 } else { 1 };
    let mysql_drill = run_measured(&lab, &lab::bin("sengu-drill"), &lab.drill_mysql_args(from, 1 - from, &["--format", "json"]), &hooks);

    println!("sengu benchmarks: {iterations} runs per executable against the local lab ({} CPUs)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!();
    println!("{:<50} {:>4} {:>9} {:>8} {:>8}  {:<14} target", "executable", "runs", "median ms", "p95 ms", "peak MiB", "exit codes");
    for row in &rows {
        row.print();
    }
    let drill_row = |name: &str, s: &Sample| Row { name: name.into(), target: "", samples: vec![Sample { stdout: String::new(), ..*s }], expect: 0 };
    drill_row(&format!("sengu-drill redis --rounds {rounds} (whole run)"), &redis_drill).print();
    drill_row("sengu-drill mysql (whole run)", &mysql_drill).print();
    println!();
    let ok = figures(&format!("Redis planned switchover, {rounds} rounds"), &redis_drill, true) & figures("MySQL switchover with the hooks, 1 round", &mysql_drill, false);
    println!("\nbench finished in {:.1}s", started.elapsed().as_secs_f64());
    drop(lab);
    if ok && rows.iter().all(|r| r.samples.iter().all(|s| s.code == r.expect)) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The switchover figures of a drill's JSON report; false if it did not pass.
fn figures(title: &str, s: &Sample, redis: bool) -> bool {
    let report: Value = serde_json::from_str(s.stdout.trim()).unwrap_or(Value::Null);
    let sum = &report["summary"];
    let stat = |k: &str| {
        let f = |x: &Value| x.as_f64().map_or("n/a".to_string(), |v| format!("{v:.1}"));
        format!("median {:>7} ms  max {:>7} ms", f(&sum[k]["median"]), f(&sum[k]["max"]))
    };
    println!("{title}: {} of {} rounds passed", sum["rounds_passed"], sum["rounds"]);
    println!("  {:<34} {}   target: median < 1000 ms", "write-unavailable window", stat("write_unavailable_ms"));
    println!("  {:<34} {}", "DNS convergence (from switch start)", stat("dns_convergence_ms"));
    if redis {
        println!("  {:<34} {}   target: < 200 ms", "DNS after the sentinels' switch", stat("dns_after_sentinels_ms"));
    }
    println!("  {:<34} {} acknowledged, {} lost (target 0); {} DNS answers naming two masters (target 0)", "writes", sum["writes_acknowledged"], sum["writes_lost"], sum["two_masters_in_dns"]);
    let passed = report["passed"] == true;
    if report.is_null() {
        println!("  no report (exit {}): {}", s.code, s.stdout);
    }
    for round in report["rounds"].as_array().into_iter().flatten() {
        let broken: Vec<String> = round["invariants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["held"] == false)
            .map(|i| format!("{} ({})", i["name"].as_str().unwrap_or_default(), i["detail"].as_str().unwrap_or_default()))
            .collect();
        if round["outcome"] != "passed" {
            let notes = round["notes"].as_array().map(|n| n.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")).unwrap_or_default();
            println!("  round {} {}: {} {notes}", round["round"], round["outcome"].as_str().unwrap_or_default(), broken.join("; "));
        }
    }
    passed
}
