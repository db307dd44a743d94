//! The last step of `cargo xtask demo`: a client host whose Consul agent dies. It runs in
//! private mount, network, UTS and PID namespaces (`unshare`, as root; xtask re-runs itself
//! there with the hidden task `demo-fallback-host`), so the layout of
//! `examples/consul-hosts-fallback/` can use its real addresses: consul-standin as the local
//! agent on 127.0.0.1:8500/8600, dnsmasq on 127.0.0.1:53 with the shipped config, the shipped
//! nsswitch.conf, `consul-hosts-fallback watch`, and a Redis master on 127.0.0.21 that
//! `redis-cli -h master.redis.service.consul` reaches by name. It kills the agent, shows the
//! client still reaching the master, and brings the agent back. Everything it starts dies with
//! the namespace; `/etc` inside is a bind-mounted copy, the machine's own is never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{project_root, DynError};

const HOST_TASK: &str = "demo-fallback-host";
const NAME: &str = "master.redis.service.consul";
const MASTER_IP: &str = "127.0.0.21";

/// From `cargo xtask demo`: runs the step in a new namespace, or says why it is skipped.
pub fn run(bin_dir: &Path) -> Result<(), DynError> {
    println!("\n== the local Consul agent dies: consul-hosts-fallback keeps the master's name resolving");
    if !nix_is_root() {
        println!("    skipped: needs root for its private namespaces (unshare --mount --net)");
        return Ok(());
    }
    let status = Command::new("unshare")
        .args(["--mount", "--net", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "--"])
        .arg(std::env::current_exe()?)
        .arg(HOST_TASK)
        .arg(bin_dir)
        .status()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if !status.success() {
        return Err(format!("the hosts-fallback step failed: {status}").into());
    }
    Ok(())
}

fn nix_is_root() -> bool {
    // xtask keeps its dependencies few; `id -u` says it.
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// True when `task` is the hidden in-namespace task.
pub fn is_host_task(task: Option<&str>) -> bool {
    task == Some(HOST_TASK)
}

/// Processes the step started; killed and reaped on drop, also when a step fails.
struct Procs(Vec<(&'static str, Child)>);

impl Procs {
    fn start(&mut self, name: &'static str, cmd: &mut Command, log: &Path) -> Result<(), DynError> {
        let out = std::fs::File::create(log)?;
        let child = cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        self.0.push((name, child));
        Ok(())
    }

    fn kill(&mut self, name: &str) {
        if let Some(i) = self.0.iter().position(|(n, _)| *n == name) {
            let (_, mut child) = self.0.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Inside the namespace: the client host and the timeline.
pub fn host(bin_dir: &Path) -> Result<(), DynError> {
    let start = Instant::now();
    let say = |text: &str| println!("[{:>6.1}s] {text}", start.elapsed().as_secs_f64());
    let dir = std::env::temp_dir().join(format!("sengu-demo-fallback-{}", std::process::id()));
    let result = (|| -> Result<(), DynError> {
        std::fs::create_dir_all(dir.join("consul.d"))?;
        let example = project_root().join("examples/consul-hosts-fallback");
        sh(Command::new("ip").args(["link", "set", "lo", "up"]))?;
        sh(Command::new("hostname").arg("demo-client"))?;
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc)?;
        sh(Command::new("cp").arg("-a").arg("/etc/.").arg(&etc))?;
        std::fs::write(etc.join("hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\tdemo-client\n")?;
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")?;
        std::fs::copy(example.join("nsswitch.conf"), etc.join("nsswitch.conf"))?;
        sh(Command::new("mount").arg("--bind").arg(&etc).arg("/etc"))?;
        std::fs::write(
            dir.join("consul.d/redis.json"),
            format!("{{\"service\": {{\"id\": \"redis\", \"name\": \"redis\", \"tags\": [\"master\"], \"address\": \"{MASTER_IP}\", \"port\": 6379}}}}\n"),
        )?;

        let mut procs = Procs(Vec::new());
        let redis_dir = dir.join("redis");
        std::fs::create_dir_all(&redis_dir)?;
        procs.start(
            "redis-server",
            Command::new("redis-server").args(["--bind", MASTER_IP, "--port", "6379", "--save", "", "--appendonly", "no"]).current_dir(&redis_dir),
            &dir.join("redis.log"),
        )?;
        let consul = |procs: &mut Procs| {
            let config_dir = format!("client={}", dir.join("consul.d").display());
            procs.start(
                "consul-standin",
                Command::new(bin_dir.join("consul-standin")).args(["--agent", "client=127.0.0.1:8500", "--dns", "127.0.0.1:8600", "--config-dir", &config_dir]),
                &dir.join("consul.log"),
            )
        };
        consul(&mut procs)?;
        procs.start(
            "dnsmasq",
            Command::new(dnsmasq())
                .arg(format!("--conf-file={}", example.join("dnsmasq.conf").display()))
                .args(["--no-resolv", "--keep-in-foreground", "--pid-file=", "--user=root"]),
            &dir.join("dnsmasq.log"),
        )?;
        let ping = || redis_ping();
        wait(Duration::from_secs(20), "the master to answer by name through Consul's DNS", ping)?;
        say(&format!("client host up: `redis-cli -h {NAME} ping` answers PONG from {MASTER_IP} (resolved by dnsmasq -> Consul)"));
        procs.start(
            "consul-hosts-fallback",
            Command::new(bin_dir.join("consul-hosts-fallback")).args([
                "watch", "--service", "redis", "--interval", "500ms", "--config", "/dev/null", "--consul-addr", "127.0.0.1:8500", "--state-file",
            ]).arg(dir.join("last-good")),
            &dir.join("watch.log"),
        )?;
        wait(Duration::from_secs(10), "the first pass", || std::fs::read_to_string(dir.join("last-good")).is_ok_and(|t| t.contains(NAME)))?;
        say(&format!("consul-hosts-fallback watch: last good entry `{MASTER_IP} {NAME}` kept aside; /etc/hosts has no block"));

        let down = Instant::now();
        procs.kill("consul-standin");
        say("kill -9 of the Consul agent (consul-standin: HTTP and DNS gone)");
        wait(Duration::from_secs(10), "the fallback block", || block().iter().any(|l| l.contains(NAME)))?;
        say(&format!("/etc/hosts block written after {:.1}s: {}", down.elapsed().as_secs_f64(), block().join("; ")));
        wait(Duration::from_secs(10), "the client to reach the master with the agent down", ping)?;
        say(&format!("agent down: `redis-cli -h {NAME} ping` still answers PONG ({:.1}s after the agent died)", down.elapsed().as_secs_f64()));
        let own = Command::new("getent").args(["hosts", "demo-client"]).output()?;
        say(&format!("the host's own name still resolves: {}", String::from_utf8_lossy(&own.stdout).trim()));

        let back = Instant::now();
        consul(&mut procs)?;
        say("the Consul agent is back");
        wait(Duration::from_secs(20), "the block to go", || block().is_empty())?;
        say(&format!("block removed {:.1}s later: DNS answers again, the fallback stands aside", back.elapsed().as_secs_f64()));
        wait(Duration::from_secs(10), "the client to reach the master through Consul", ping)?;
        say(&format!("`redis-cli -h {NAME} ping`: PONG, through Consul's DNS again"));
        Ok(())
    })();
    let _ = Command::new("umount").arg("/etc").status();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn redis_ping() -> bool {
    Command::new("redis-cli").args(["-h", NAME, "-p", "6379", "ping"]).output().is_ok_and(|o| o.stdout.starts_with(b"PONG"))
}

/// The lines of /etc/hosts inside consul-hosts-fallback's block.
fn block() -> Vec<String> {
    let text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut inside = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("# BEGIN consul-hosts-fallback") {
            inside = true;
        } else if line.starts_with("# END consul-hosts-fallback") {
            inside = false;
        } else if inside {
            lines.push(line.to_string());
        }
    }
    lines
}

fn dnsmasq() -> PathBuf {
    let debian = Path::new("/usr/sbin/dnsmasq");
    if debian.is_file() { debian.to_path_buf() } else { PathBuf::from("dnsmasq") }
}

/// Polls `ready` every 50 ms until it holds, or fails naming `what` after `timeout`.
fn wait(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Result<(), DynError> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn sh(cmd: &mut Command) -> Result<(), DynError> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()).into());
    }
    Ok(())
}
