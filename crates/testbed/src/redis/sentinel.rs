//! One Redis Sentinel on a loopback host, from a config written fresh into its own temp dir
//! (Sentinel rewrites that file on every state change, so it must be its own and writable), with
//! the identity, script and timing knobs the sentinel tests need, and its `SENTINEL …` views as text.
//! Still one piece past 400 lines: it is one process's surface, mostly builder setters and
//! one-line `SENTINEL` subcommand wrappers.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use redis::{FromRedisValue, RedisResult, Value};

use super::instance::{Instance, Launch};
use super::{connect, connection_info, quote, sentinel_command, IO_TIMEOUT, PROBE_TIMEOUT};
use crate::process::Proc;

const LAUNCH: Launch = Launch { kind: "sentinel", command: sentinel_command };

/// Default `down-after-milliseconds`: small for fast failovers, but not so small that a busy
/// two-core machine makes a healthy master look down.
pub const DEFAULT_DOWN_AFTER: Duration = Duration::from_millis(2000);

/// Default `failover-timeout`. Sentinel waits twice this before retrying a failover it gave up
/// on, and the election timeout is min(10 s, this).
pub const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_millis(6000);

/// What a sentinel monitors and how: written into a fresh config file at start.
#[derive(Debug, Clone)]
pub struct SentinelBuilder {
    ip: IpAddr,
    master_name: String,
    master: SocketAddr,
    quorum: u32,
    down_after: Duration,
    failover_timeout: Duration,
    myid: Option<String>,
    client_reconfig_script: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    master_auth: Option<(Option<String>, String)>,
    extra: Vec<String>,
}

impl SentinelBuilder {
    /// The host address this sentinel binds to and announces.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// The master address written into `sentinel monitor` (a stale one is fine: hellos correct it).
    pub fn master(mut self, master: SocketAddr) -> Self {
        self.master = master;
        self
    }

    pub fn quorum(mut self, quorum: u32) -> Self {
        self.quorum = quorum;
        self
    }

    /// `sentinel down-after-milliseconds`.
    pub fn down_after(mut self, d: Duration) -> Self {
        self.down_after = d;
        self
    }

    /// `sentinel failover-timeout`.
    pub fn failover_timeout(mut self, d: Duration) -> Self {
        self.failover_timeout = d;
        self
    }

    /// A fixed `sentinel myid` (40 hex characters), e.g. to move an identity to another host.
    /// Panics on anything else, which Sentinel would refuse to start with.
    pub fn myid(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        assert!(id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()), "sentinel myid must be 40 hex characters: {id:?}");
        self.myid = Some(id);
        self
    }

    /// `sentinel client-reconfig-script <master> <path>`; the file must be executable.
    pub fn client_reconfig_script(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_reconfig_script = Some(path.into());
        self
    }

    /// An environment variable for the sentinel process, inherited by its scripts.
    /// (`SENGU_*`, `CONSUL_HTTP_*` and `REDISCLI_AUTH` of the test's own environment are not passed on.)
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `sentinel auth-pass` (and `auth-user` when given): how the sentinel logs in to the
    /// master and its replicas.
    pub fn master_auth(mut self, user: Option<&str>, password: impl Into<String>) -> Self {
        self.master_auth = Some((user.map(str::to_owned), password.into()));
        self
    }

    /// Any further config-file line, written last.
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Writes the config, starts the sentinel and returns once it answers `PING` and
    /// `SENTINEL MASTER <name>`. Panics with the log on timeout.
    pub fn start(self) -> Sentinel {
        let inst = Instance::spawn(LAUNCH, self.ip, self.env.clone(), |port, dir, log| self.config_text(port, dir, log));
        let mut sentinel = Sentinel { inst, master_name: self.master_name };
        sentinel.wait_ready();
        sentinel
    }

    fn config_text(&self, port: u16, dir: &Path, log: &Path) -> String {
        let mut c = String::new();
        let (ip, name, m) = (self.ip, &self.master_name, self.master);
        let _ = writeln!(c, "bind {ip}");
        let _ = writeln!(c, "port {port}");
        let _ = writeln!(c, "dir {}", quote(&dir.to_string_lossy()));
        let _ = writeln!(c, "logfile {}", quote(&log.to_string_lossy()));
        let _ = writeln!(c, "daemonize no");
        let _ = writeln!(c, "protected-mode no");
        // Hellos must carry the host address, not 127.0.0.1 (the source of loopback connections),
        // or every sentinel on this machine would look like the same host to its peers.
        let _ = writeln!(c, "sentinel announce-ip {ip}");
        let _ = writeln!(c, "sentinel resolve-hostnames no");
        if let Some(id) = &self.myid {
            let _ = writeln!(c, "sentinel myid {id}");
        }
        let _ = writeln!(c, "sentinel monitor {name} {} {} {}", m.ip(), m.port(), self.quorum);
        let _ = writeln!(c, "sentinel down-after-milliseconds {name} {}", self.down_after.as_millis());
        let _ = writeln!(c, "sentinel failover-timeout {name} {}", self.failover_timeout.as_millis());
        let _ = writeln!(c, "sentinel parallel-syncs {name} 1");
        if let Some((user, pw)) = &self.master_auth {
            if let Some(user) = user {
                let _ = writeln!(c, "sentinel auth-user {name} {}", quote(user));
            }
            let _ = writeln!(c, "sentinel auth-pass {name} {}", quote(pw));
        }
        if let Some(script) = &self.client_reconfig_script {
            let _ = writeln!(c, "sentinel client-reconfig-script {name} {}", quote(&script.to_string_lossy()));
        }
        for line in &self.extra {
            let _ = writeln!(c, "{line}");
        }
        c
    }
}

/// A running sentinel. Dropping it kills the process, then removes its dir and releases its port.
#[derive(Debug)]
pub struct Sentinel {
    inst: Instance,
    master_name: String,
}

impl Sentinel {
    /// A builder for a sentinel on `ip` monitoring `master` as `master_name`, with quorum 2 and
    /// the fast test timings [`DEFAULT_DOWN_AFTER`] and [`DEFAULT_FAILOVER_TIMEOUT`].
    pub fn builder(ip: IpAddr, master_name: impl Into<String>, master: SocketAddr) -> SentinelBuilder {
        SentinelBuilder {
            ip,
            master_name: master_name.into(),
            master,
            quorum: 2,
            down_after: DEFAULT_DOWN_AFTER,
            failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            myid: None,
            client_reconfig_script: None,
            env: Vec::new(),
            master_auth: None,
            extra: Vec::new(),
        }
    }

    /// A valid, recognisable myid for tests: `n` as 40 hex digits.
    pub fn numbered_myid(n: u64) -> String {
        format!("{n:040x}")
    }

    pub fn addr(&self) -> SocketAddr {
        self.inst.addr()
    }

    pub fn ip(&self) -> IpAddr {
        self.inst.ip()
    }

    pub fn port(&self) -> u16 {
        self.inst.port()
    }

    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    pub fn proc(&self) -> &Proc {
        self.inst.proc()
    }

    pub fn proc_mut(&mut self) -> &mut Proc {
        self.inst.proc_mut()
    }

    pub fn log_tail(&self) -> String {
        self.proc().log_tail()
    }

    pub fn log_path(&self) -> &Path {
        self.inst.log_path()
    }

    /// The config file the sentinel owns and rewrites.
    pub fn config_path(&self) -> &Path {
        self.inst.config_path()
    }

    /// The config file's current text.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_path()).unwrap_or_default()
    }

    pub fn connection_info(&self) -> redis::ConnectionInfo {
        connection_info(self.addr(), None, None)
    }

    /// A connection whose reads and writes time out after [`IO_TIMEOUT`](super::IO_TIMEOUT).
    pub fn try_conn(&self) -> RedisResult<redis::Connection> {
        connect(&self.connection_info(), IO_TIMEOUT)
    }

    /// [`try_conn`](Self::try_conn), panicking with the log if it fails.
    pub fn conn(&self) -> redis::Connection {
        self.try_conn().unwrap_or_else(|e| panic!("cannot connect to sentinel {}: {e}\n{}", self.addr(), self.log_tail()))
    }

    fn query<T: FromRedisValue>(&self, timeout: Duration, cmd: &redis::Cmd) -> RedisResult<T> {
        cmd.query(&mut connect(&self.connection_info(), timeout)?)
    }

    fn sentinel_cmd(&self, sub: &str) -> redis::Cmd {
        let mut c = redis::cmd("SENTINEL");
        c.arg(sub).arg(&self.master_name);
        c
    }

    /// `SENTINEL MYID`.
    pub fn myid(&self) -> String {
        self.query(IO_TIMEOUT, redis::cmd("SENTINEL").arg("MYID"))
            .unwrap_or_else(|e| panic!("sentinel {}: SENTINEL MYID: {e}\n{}", self.addr(), self.log_tail()))
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME <name>`; `None` if the name is unknown.
    pub fn master_addr(&self) -> RedisResult<Option<SocketAddr>> {
        self.master_addr_within(IO_TIMEOUT)
    }

    pub(crate) fn master_addr_within(&self, timeout: Duration) -> RedisResult<Option<SocketAddr>> {
        let reply: Option<(String, u16)> = self.query(timeout, &self.sentinel_cmd("GET-MASTER-ADDR-BY-NAME"))?;
        Ok(reply.and_then(|(ip, port)| Some(SocketAddr::new(ip.parse().ok()?, port))))
    }

    /// `SENTINEL MASTER <name>` as field → value.
    pub fn master_info(&self) -> RedisResult<HashMap<String, String>> {
        self.query(IO_TIMEOUT, &self.sentinel_cmd("MASTER"))
    }

    /// `SENTINEL REPLICAS <name>`, one map per replica.
    pub fn replicas_info(&self) -> RedisResult<Vec<HashMap<String, String>>> {
        self.query(IO_TIMEOUT, &self.sentinel_cmd("REPLICAS"))
    }

    /// `SENTINEL SENTINELS <name>`, one map per known peer.
    pub fn sentinels_info(&self) -> RedisResult<Vec<HashMap<String, String>>> {
        self.query(IO_TIMEOUT, &self.sentinel_cmd("SENTINELS"))
    }

    /// `SENTINEL CKQUORUM <name>`: `Ok("OK 3 usable Sentinels. …")`, or an error whose text starts `NOQUORUM`.
    pub fn ckquorum(&self) -> RedisResult<String> {
        self.query(IO_TIMEOUT, &self.sentinel_cmd("CKQUORUM"))
    }

    /// `SENTINEL FAILOVER <name>`: answers at once; the failover runs in the background.
    pub fn failover(&self) -> RedisResult<()> {
        self.query(IO_TIMEOUT, &self.sentinel_cmd("FAILOVER"))
    }

    /// `SENTINEL RESET <name>`: forgets replicas and peers; live ones reappear within seconds.
    pub fn reset(&self) -> RedisResult<i64> {
        self.query(IO_TIMEOUT, &self.sentinel_cmd("RESET"))
    }

    /// `SENTINEL PENDING-SCRIPTS`, raw.
    pub fn pending_scripts(&self) -> RedisResult<Value> {
        self.query(IO_TIMEOUT, redis::cmd("SENTINEL").arg("PENDING-SCRIPTS"))
    }

    /// `SENTINEL DEBUG <param> <value>` (7.0+), e.g. `publish-period`, `script-retry-delay`.
    pub fn debug_set(&self, param: &str, value: u64) {
        let _: () = self
            .query(IO_TIMEOUT, redis::cmd("SENTINEL").arg("DEBUG").arg(param).arg(value))
            .unwrap_or_else(|e| panic!("sentinel {}: SENTINEL DEBUG {param}: {e}\n{}", self.addr(), self.log_tail()));
    }

    /// Delay before a failed script is retried (default 30 s, doubling per retry).
    pub fn set_script_retry_delay(&self, d: Duration) {
        self.debug_set("script-retry-delay", d.as_millis() as u64);
    }

    /// Runtime after which a script is SIGKILLed and retried (default 60 s).
    pub fn set_script_max_runtime(&self, d: Duration) {
        self.debug_set("script-max-runtime", d.as_millis() as u64);
    }

    /// This sentinel's view as text (its master entry, replicas and peers), for failure messages.
    pub fn view(&self) -> String {
        let mut out = format!("sentinel {}", self.addr());
        if self.proc().pid().is_none() {
            out.push_str(" (killed)\n");
            return out;
        }
        if self.is_frozen() {
            out.push_str(" (frozen)\n");
            return out;
        }
        out.push('\n');
        let t = PROBE_TIMEOUT;
        let master: RedisResult<HashMap<String, String>> = self.query(t, &self.sentinel_cmd("MASTER"));
        let replicas: RedisResult<Vec<HashMap<String, String>>> = self.query(t, &self.sentinel_cmd("REPLICAS"));
        let peers: RedisResult<Vec<HashMap<String, String>>> = self.query(t, &self.sentinel_cmd("SENTINELS"));
        const MASTER_KEYS: &[&str] =
            &["ip", "port", "runid", "flags", "num-slaves", "num-other-sentinels", "quorum", "config-epoch", "failover-state"];
        const REPLICA_KEYS: &[&str] = &["ip", "port", "flags", "master-link-status", "master-host", "master-port", "role-reported"];
        const PEER_KEYS: &[&str] = &["ip", "port", "runid", "flags", "last-hello-message", "voted-leader", "voted-leader-epoch"];
        let line = |out: &mut String, label: &str, m: &HashMap<String, String>, keys: &[&str]| {
            let _ = write!(out, "  {label}:");
            for k in keys {
                if let Some(v) = m.get(*k) {
                    let _ = write!(out, " {k}={v}");
                }
            }
            out.push('\n');
        };
        match master {
            Ok(m) => line(&mut out, "master", &m, MASTER_KEYS),
            Err(e) => {
                let _ = writeln!(out, "  master: error: {e}");
            }
        }
        for (label, list, keys) in [("replica", replicas, REPLICA_KEYS), ("sentinel", peers, PEER_KEYS)] {
            match list {
                Ok(list) => list.iter().for_each(|m| line(&mut out, label, m, keys)),
                Err(e) => {
                    let _ = writeln!(out, "  {label}s: error: {e}");
                }
            }
        }
        out
    }

    /// Waits (up to 20 s) for `PING` and `SENTINEL MASTER <name>`, failing fast if the process exited.
    fn wait_ready(&mut self) {
        let what = format!("sentinel {} to answer SENTINEL MASTER {}", self.addr(), self.master_name);
        let info = self.connection_info();
        let master_cmd = self.sentinel_cmd("MASTER");
        self.inst.wait_ready(&what, || {
            connect(&info, PROBE_TIMEOUT).and_then(|mut c| master_cmd.query::<HashMap<String, String>>(&mut c)).is_ok()
        });
    }

    /// `kill -9`. The port stays reserved for [`restart`](Self::restart).
    pub fn kill9(&mut self) {
        self.inst.kill9();
    }

    /// SIGTERM and wait for a clean exit (SIGKILL after 5 s).
    pub fn stop(&mut self) {
        self.inst.stop();
    }

    /// SIGSTOP.
    pub fn freeze(&self) {
        self.inst.freeze();
    }

    /// SIGCONT after [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        self.inst.thaw();
    }

    pub fn is_frozen(&self) -> bool {
        self.inst.is_frozen()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.proc_mut().is_running()
    }

    /// Neither killed/stopped nor frozen by the testbed (a crash on its own is not noticed here).
    pub fn is_live(&self) -> bool {
        self.inst.is_live()
    }

    /// Starts the sentinel again from its (rewritten) config file, same port, dir, myid and
    /// environment, killing it first if it still runs; waits until it answers.
    pub fn restart(&mut self) {
        self.inst.respawn();
        self.wait_ready();
    }
}
