//! `cargo xtask partitions`: the partition scenarios (`sengu_e2e::partition::scenario`) run
//! repeatedly against the partition lab, once per strategy (no fencing, sengu's
//! `--fence-stale-master`, Redis's `min-replicas-to-write`), and one table of figures per
//! strategy. Nothing is asserted: the figures are the result.
//!
//! Run as root. Started outside a private network namespace, it re-runs itself inside
//! `unshare --net --mount --pid --fork --kill-child --mount-proc`, so every namespace, link
//! and rule it creates dies with it, also on Ctrl-C.
//!
//! Usage: `sengu-partitions [--runs N] [--strategy none|fence|min-replicas|min-replicas-wait]… [--scenario N]…
//!         [--hold SECS] [--flap-for SECS] [--report yes]` (`--report yes` prints the lab's
//! report, check runs, sentinel and Redis logs, after every scenario)

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use sengu_e2e::partition::scenario::{self, Timing};
use sengu_e2e::partition::{PartitionLab, Strategy, MIN_REPLICAS_MAX_LAG, SERF_DETECT};

const INNER_ENV: &str = "SENGU_PARTITIONS_INNER";

struct Args {
    runs: usize,
    strategies: Vec<Strategy>,
    scenarios: Vec<u8>,
    timing: Timing,
    report: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args { runs: 2, strategies: Vec::new(), scenarios: Vec::new(), timing: Timing::FULL, report: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let secs = || value.parse::<u64>().map(Duration::from_secs).map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--runs" => a.runs = value.parse().map_err(|e| format!("--runs: {e}"))?,
            "--strategy" => a.strategies.push(match value.as_str() {
                "none" => Strategy::NoFencing,
                "fence" => Strategy::Fence,
                "min-replicas" => Strategy::MinReplicas,
                "min-replicas-wait" => Strategy::MinReplicasWait,
                other => return Err(format!("unknown strategy {other} (none, fence, min-replicas, min-replicas-wait)")),
            }),
            "--scenario" => a.scenarios.push(value.parse().ok().filter(|n| (1..=6).contains(n)).ok_or("--scenario takes 1 to 6")?),
            "--hold" => a.timing.hold = secs()?,
            "--flap-for" => a.timing.flap_for = secs()?,
            "--report" => a.report = value == "yes",
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.strategies.is_empty() {
        a.strategies = Strategy::ALL.to_vec();
    }
    if a.scenarios.is_empty() {
        a.scenarios = vec![1, 3, 4, 5, 6];
    }
    // Scenario 2 is scenario 1's run seen by the other writer.
    a.scenarios.retain(|n| *n != 2);
    if a.scenarios.is_empty() {
        a.scenarios = vec![1];
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sengu-partitions: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os(INNER_ENV).is_none() {
        let exe = std::env::current_exe().unwrap_or_default();
        let status = Command::new("unshare")
            .args(["--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "--"])
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(INNER_ENV, "1")
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(s) => {
                eprintln!("sengu-partitions: {s}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("sengu-partitions: cannot run unshare (as root): {e}");
                ExitCode::FAILURE
            }
        };
    }
    let started = Instant::now();
    let say = |s: &str| eprintln!("[{:>7.1}s] {s}", started.elapsed().as_secs_f64());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut tables = Vec::new();
    for strategy in &args.strategies {
        say(&format!("== strategy: {}", strategy.name()));
        let lab = PartitionLab::start(*strategy, &mut |s| say(s));
        let mut rows = Vec::new();
        for run in 1..=args.runs {
            for n in &args.scenarios {
                say(&format!("scenario {n}, run {run} of {}", args.runs));
                let tag = format!("s{n}-r{run}");
                let figures = scenario::scenario(&lab, *n, &args.timing, &tag);
                for f in &figures {
                    say(&format!("  {}: lost {} of {}, old master acked for {:.0} ms, two writable {:.0} ms, DNS->new {:?} ms, DNS two {}", scenario::describe(f.scenario), f.lost, f.acked, f.old_acked_for_ms, f.two_writable_ms, f.dns_new_ms.map(|v| v.round()), f.dns_two));
                }
                rows.extend(figures);
                if args.report {
                    eprintln!("{}", lab.report());
                }
            }
        }
        let table = scenario::table(*strategy, &rows);
        println!("{table}");
        tables.push(table);
        drop(lab);
    }
    println!(
        "partitions: {} run(s) per scenario, {cores} cores, load average at start {}; partitions held {} s, flapping {} s/{} s for {} s; Consul gossip failure detection {} s; down-after 2 s; min-replicas-max-lag {MIN_REPLICAS_MAX_LAG} s; {:.0} s in all",
        args.runs,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        args.timing.hold.as_secs(),
        args.timing.flap_cut.as_secs(),
        args.timing.flap_heal.as_secs(),
        args.timing.flap_for.as_secs(),
        SERF_DETECT.as_secs(),
        started.elapsed().as_secs_f64()
    );
    println!("columns: acked and lost writes (sum over runs); the rest median / max over runs in ms: how long the old master kept acknowledging writes after the fault (row 4: after the heal), how long two masters both acknowledged writes, fault -> DNS names only the new master, DNS answers naming two masters / all answers, the longest stretch DNS named no master, the longest gap between acknowledged writes through DNS");
    ExitCode::SUCCESS
}
