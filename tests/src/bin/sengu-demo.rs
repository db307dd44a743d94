//! `cargo xtask demo`: the whole suite working, in about a minute. It starts the local lab
//! (`sengu_e2e::lab`: two Redis hosts with three sentinels, the floating one included, a
//! MariaDB GTID pair, consul-standin running the shipped `consul.d` check and serving DNS),
//! then runs and prints as a timeline: a planned Redis drill, a crash failover (`kill -9` of
//! the master's host) and the host's return, a MySQL switchover with the hooks, and the final
//! state of Consul. Everything it started is stopped at the end, on a panic (the lab's `Drop`)
//! and on Ctrl-C or SIGTERM (a handler thread, since a signal does not unwind).

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sengu::addr::HostPort;
use sengu::redis::{ConnectOptions, RedisConn, Role};
use sengu_e2e::lab::{self, Lab, SERVICE};

fn main() -> ExitCode {
    let guard = Emergency::install();
    // A Ctrl-C in a terminal reaches every process of the foreground group, so the lab's own
    // processes may die under a wait that then panics: after an interruption that panic is
    // expected, and unwinding it is what drops (stops) the lab. Say so instead of a backtrace.
    let interrupted = guard.interrupted.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !interrupted.load(Ordering::SeqCst) {
            default_hook(info);
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| demo(&guard)));
    if guard.interrupted() {
        eprintln!("interrupted: the lab was stopped");
        return ExitCode::from(130);
    }
    result.unwrap_or(ExitCode::from(101))
}

fn demo(guard: &Emergency) -> ExitCode {
    let clock = Instant::now();
    let say = |what: &str| {
        println!("[{:>6.1}s] {what}", clock.elapsed().as_secs_f64());
        let _ = std::io::stdout().flush();
    };
    say("sengu demo: starting the lab (every process on 127.0.0.x; nothing outside this machine is touched)");
    let mut lab = Lab::start(&mut |s| say(s));
    guard.arm(&mut lab);
    if guard.interrupted() {
        return ExitCode::from(130);
    }
    say(&format!("lab up: Redis master {} (host A), replica {} (host B); MariaDB master {}, replica {}", lab.redis_addr(0), lab.redis_addr(1), lab.mysql[0].addr(), lab.mysql[1].addr()));
    let mut ok = true;

    let mut log = LogTail::new(lab.action_log());
    log.skip();
    section("1. a planned Redis switchover: sengu-drill redis");
    ok &= show_run(&lab, &lab::bin("sengu-drill"), &lab.drill_redis_args(&[]), &[]);
    say("sentinel-rebalance moves the floating sentinel off the new master's host once the switch has settled (Sentinel's failover-timeout, 6 s here)");
    lab.wait_settled(Duration::from_secs(40));
    guard.arm(&mut lab);
    say(&format!("floating sentinel now on host {}", host_name(lab.floating_host())));
    log.show();
    if guard.interrupted() {
        return ExitCode::from(130);
    }

    section("2. a crash: kill -9 of the master's host (its Redis and its sentinel)");
    ok &= crash(&mut lab, guard, &say);
    log.show();
    if guard.interrupted() {
        return ExitCode::from(130);
    }

    section("3. a MySQL switchover with the hooks: sengu-drill mysql -- sengu-mariadb-switchover");
    ok &= show_run(&lab, &lab::bin("sengu-drill"), &lab.drill_mysql_args(0, 1, &[]), &lab.hook_env());
    log.show();

    section("4. the MySQL role check: a replica goes red and green (mysql-master-check)");
    ok &= mysql_checks(&lab, &say);
    log.show();

    section("5. automatic failover off, then the one-shot switch: sengu-drill manual on, sengu-drill mysql");
    ok &= manual_switch(&lab, &say);
    log.show();

    section("6. Consul now");
    for line in lab.consul_state().lines() {
        println!("    {line}");
    }
    println!();
    show_run(&lab, &lab::bin("sengu-drill"), &["history".to_string(), "--consul-addr".to_string(), lab.agent_url(0)], &[]);

    say(&format!("demo {} in {:.1}s; stopping every process", if ok { "done" } else { "FAILED" }, clock.elapsed().as_secs_f64()));
    drop(lab);
    guard.disarm();
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn section(title: &str) {
    println!("\n== {title}");
}

fn host_name(i: Option<usize>) -> &'static str {
    match i {
        Some(0) => "A (127.0.0.11)",
        Some(1) => "B (127.0.0.12)",
        _ => "unknown",
    }
}

/// Runs a program of the suite, prints its output indented, and says whether it exited 0.
fn show_run(lab: &Lab, program: &std::path::Path, args: &[String], env: &[(String, String)]) -> bool {
    let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    println!("    $ {name} {}", args.iter().map(|a| shorten(a)).collect::<Vec<_>>().join(" "));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab.run(program, &args, env);
    for line in String::from_utf8_lossy(&out.stdout).lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
        println!("    {line}");
    }
    if !out.status.success() {
        println!("    ({name} exited with {})", out.status);
    }
    out.status.success()
}

/// `mysql-master-check` on both MariaDB servers, then on the replica with its SQL thread
/// stopped (critical, tag gone) and started again (passing).
fn mysql_checks(lab: &Lab, say: &dyn Fn(&str)) -> bool {
    let check = |i: usize| {
        let db = lab.mysql[i].addr();
        let args = ["--mysql".to_string(), db.to_string(), "--advertise-ip".into(), db.ip().to_string()];
        show_run(lab, &lab::bin("mysql-master-check"), &args, &lab.hook_env())
    };
    let (master, replica) = if lab.mysql[0].slave_status().is_none() { (0, 1) } else { (1, 0) };
    let mut ok = check(master) & check(replica);
    say("STOP SLAVE SQL_THREAD on the replica: its check turns critical");
    lab.mysql[replica].exec("STOP SLAVE SQL_THREAD");
    ok &= !check(replica);
    say("START SLAVE SQL_THREAD: green again");
    lab.mysql[replica].exec("START SLAVE SQL_THREAD");
    ok &= check(replica);
    ok
}

/// Manual mode on (mysql-fail-check then never calls a master dead), the native switchover as
/// the one-shot button a person presses (`--despite-hold`), manual mode off.
fn manual_switch(lab: &Lab, say: &dyn Fn(&str)) -> bool {
    let drill = lab::bin("sengu-drill");
    let consul = ["--consul-addr".to_string(), lab.agent_url(0)];
    let manual = |action: &str, extra: &[&str]| {
        let mut args: Vec<String> = vec!["manual".into(), action.into(), "--name".into(), lab::MYSQL_NODE.into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(consul.iter().cloned());
        show_run(lab, &drill, &args, &[])
    };
    let mut ok = manual("on", &["--reason", "demo: automatic failover off, switches by hand"]);
    let master = if lab.mysql[0].slave_status().is_none() { 0 } else { 1 };
    let m = lab.mysql[master].addr();
    say("mysql-fail-check (mysqlfailover's --exec-fail-check) shows the hold: while it is on, not even a dead master gets a failover");
    ok &= show_run(lab, &lab::bin("mysql-fail-check"), &[m.ip().to_string(), m.port().to_string()], &lab.hook_env());
    say("the one-shot switch a person runs while automatic failover is off:");
    ok &= show_run(lab, &drill, &lab.drill_mysql_native_args(&["--despite-hold"]), &lab.hook_env());
    ok &= manual("off", &[]);
    ok
}

/// Paths of the lab's binaries, shortened for reading.
fn shorten(arg: &str) -> String {
    let dir = lab::bin_dir().display().to_string();
    arg.strip_prefix(&format!("{dir}/")).map_or_else(|| arg.to_string(), str::to_string)
}

/// Kills the master's host and follows the failover from the outside, then brings the host
/// back and follows its return. Returns whether everything happened in time.
fn crash(lab: &mut Lab, guard: &Emergency, say: &dyn Fn(&str)) -> bool {
    let Some(old) = lab.master_host() else {
        say("no master agreed on; skipping the crash");
        return false;
    };
    let new_ip = ip(1 - old);
    let new_addr = lab.redis_addr(1 - old);
    say(&format!("kill -9 of host {}: its Redis (the master) and its fixed sentinel", host_name(Some(old))));
    lab.kill_redis_host(old);
    guard.arm(lab);
    let killed = Instant::now();
    let at = |what: &str| println!("    {:>9.1} ms  {what}", killed.elapsed().as_secs_f64() * 1000.0);
    let mut sentinels = false;
    let mut dns_new = false;
    let mut tags = false;
    let mut written = false;
    let mut last_dns: Option<Vec<IpAddr>> = None;
    let mut most = 0;
    let consul = lab.consul_client();
    while !(sentinels && dns_new && tags && written) && killed.elapsed() < Duration::from_secs(30) {
        if !sentinels && lab.master_host() == Some(1 - old) {
            sentinels = true;
            at(&format!("the sentinels name {new_addr} master (down-after 2 s, then the election)"));
        }
        let answer = lab.lookup(&format!("master.{SERVICE}.service.consul"));
        most = most.max(answer.len());
        if last_dns.as_ref() != Some(&answer) {
            let shown = if answer.is_empty() { "nothing".to_string() } else { answer.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ") };
            at(&format!("DNS master.{SERVICE}.service.consul answers {shown}"));
            dns_new |= answer == [new_ip];
            last_dns = Some(answer.clone());
        }
        if !tags {
            let entries = consul.health_service(SERVICE, Some("master"), false).unwrap_or_default();
            if entries.len() == 1 && entries[0].address() == new_ip.to_string() {
                tags = true;
                at(&format!("Consul: the instance on {new_ip} carries the master tag"));
            }
        }
        if !written && answer == [new_ip] && write(lab, new_ip) {
            written = true;
            at("first write through the DNS name acknowledged by the new master");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let failed_over = sentinels && dns_new && tags && written;
    at(&format!("DNS never named more than {most} master(s)"));
    if !failed_over {
        say("the failover did not complete within 30 s");
        println!("{}", lab.report());
        return false;
    }

    say(&format!("host {} boots again: its Redis comes back as a writable master with a stale role", host_name(Some(old))));
    lab.restart_redis_host(old);
    guard.arm(lab);
    let back = Instant::now();
    let at = |what: &str| println!("    {:>9.1} ms  {what}", back.elapsed().as_secs_f64() * 1000.0);
    let old_addr = lab.redis_addr(old);
    let old_hp = HostPort { host: old_addr.ip().to_string(), port: old_addr.port() };
    let mut demoted = false;
    let mut moved = false;
    while !(demoted && moved) && back.elapsed() < Duration::from_secs(45) {
        if !demoted {
            let role = RedisConn::connect(&old_hp, &quick()).and_then(|mut c| c.role());
            if matches!(role, Ok(Role::Replica { ref master, .. }) if master.to_string() == new_addr.to_string()) {
                demoted = true;
                at(&format!("{old_addr} is a replica of {new_addr} (fenced by redis-master-check or converted by Sentinel)"));
            }
        }
        if demoted && !moved && lab.floating_host() == Some(old) && lab.quorum_ok() {
            moved = true;
            at(&format!("sentinel-rebalance moved the floating sentinel to host {}: losing the master's host now leaves two sentinels", host_name(Some(old))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    guard.arm(lab);
    if !(demoted && moved) {
        say("the host's return did not settle within 45 s");
        println!("{}", lab.report());
    }
    demoted && moved
}

fn ip(i: usize) -> IpAddr {
    testbed::host(11 + i as u8)
}

fn quick() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_millis(300), io_timeout: Duration::from_millis(300), ..ConnectOptions::default() }
}

/// One `SET` to the Redis at `ip` (the port the lab knows for it), as an application would.
fn write(lab: &Lab, ip: IpAddr) -> bool {
    let Some(i) = (0..2).find(|i| lab.redis_addr(*i).ip() == ip) else { return false };
    let a = lab.redis_addr(i);
    let info = redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp(a.ip().to_string(), a.port()), redis: Default::default() };
    testbed::redis::connect(&info, Duration::from_millis(300))
        .and_then(|mut c| redis::cmd("SET").arg("sengu:demo").arg("written").query::<()>(&mut c))
        .is_ok()
}

/// The lab's action log, shown section by section: what the executables recorded doing.
struct LogTail {
    path: PathBuf,
    seen: usize,
}

impl LogTail {
    fn new(path: PathBuf) -> LogTail {
        LogTail { path, seen: 0 }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// Forgets what is already there.
    fn skip(&mut self) {
        self.seen = self.lines().len();
    }

    /// Prints the lines written since the last call, without the time and pid fields, and
    /// with a run of `wait` lines of one program shown once.
    fn show(&mut self) {
        let lines = self.lines();
        if lines.len() > self.seen {
            println!("    action log ({}):", self.path.display());
            let mut waited: Option<(String, usize)> = None;
            for line in &lines[self.seen..] {
                let short: Vec<&str> = line.split(' ').filter(|f| !f.starts_with("time=") && !f.starts_with("pid=")).collect();
                let program = short.first().copied().unwrap_or_default().to_string();
                let wait = short.get(1) == Some(&"action=wait");
                if let Some((_, n)) = waited.as_mut().filter(|(p, _)| wait && *p == program) {
                    *n += 1;
                    continue;
                }
                if let Some((p, n)) = waited.take().filter(|(_, n)| *n > 0) {
                    println!("      {p} action=wait ... ({n} more)");
                }
                if wait {
                    waited = Some((program, 0));
                }
                println!("      {}", short.join(" "));
            }
            if let Some((p, n)) = waited.filter(|(_, n)| *n > 0) {
                println!("      {p} action=wait ... ({n} more)");
            }
        }
        self.seen = lines.len();
    }
}

/// What a signal handler must stop: the lab's processes (re-listed after each restart), the
/// floating sentinels' pidfiles and the lab's directories.
#[derive(Default)]
struct Armed {
    processes: Vec<(u32, String)>,
    pidfiles: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

/// The Ctrl-C / SIGTERM handler: a thread waiting for the signal. A signal does not unwind the
/// main thread, so the handler stops what the lab started itself and exits; before the lab is
/// up it only notes the interruption, and the main thread stops at the next step.
struct Emergency {
    armed: Arc<Mutex<Option<Armed>>>,
    interrupted: Arc<AtomicBool>,
}

impl Emergency {
    fn install() -> Emergency {
        let armed: Arc<Mutex<Option<Armed>>> = Arc::new(Mutex::new(None));
        let interrupted = Arc::new(AtomicBool::new(false));
        let (a, i) = (armed.clone(), interrupted.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        if let Ok(runtime) = runtime {
            std::thread::spawn(move || {
                runtime.block_on(async {
                    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
                    loop {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                        i.store(true, Ordering::SeqCst);
                        let taken = a.lock().ok().and_then(|mut g| g.take());
                        match taken {
                            Some(armed) => stop_everything(armed),
                            None => eprintln!("\ninterrupted: stopping as soon as the lab is up (it is being started)"),
                        }
                    }
                });
            });
        }
        Emergency { armed, interrupted }
    }

    /// Records what the lab runs now.
    fn arm(&self, lab: &mut Lab) {
        let now = Armed { processes: lab.processes(), pidfiles: lab.pidfiles(), dirs: lab.dirs() };
        if let Ok(mut g) = self.armed.lock() {
            *g = Some(now);
        }
    }

    /// The lab is gone; a late signal has nothing to stop.
    fn disarm(&self) {
        if let Ok(mut g) = self.armed.lock() {
            *g = None;
        }
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// Kills every process of the lab, removes its directories and ends the demo with 130 (the
/// shell's code for "stopped by SIGINT"). Exiting here is the point: the main thread is busy
/// and a signal cannot unwind it to run the lab's destructors.
fn stop_everything(armed: Armed) -> ! {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    for pidfile in &armed.pidfiles {
        lab::kill_floating(pidfile);
    }
    for (pid, _) in &armed.processes {
        let pid = Pid::from_raw(*pid as i32);
        let _ = kill(pid, Signal::SIGCONT);
        let _ = kill(pid, Signal::SIGKILL);
    }
    for dir in &armed.dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    eprintln!("\ninterrupted: stopped {} processes and removed the lab's directories", armed.processes.len() + armed.pidfiles.len());
    std::process::exit(130)
}
