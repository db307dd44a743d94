//! One `redis-server` on a loopback host: configured from a file in its own temp dir (so a
//! sentinel's `CONFIG REWRITE` lands there and survives a restart), handed out only once it
//! answers, with the faults tests inject into a Redis host. Still one piece past 400 lines: it is
//! one process's surface, and most of it is builder setters, accessors and the `ROLE` parser.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use redis::{ErrorKind, FromRedisValue, RedisError, RedisResult, Value};

use super::instance::{Instance, Launch};
use super::{connect, connection_info, quote, server_command, IO_TIMEOUT, PROBE_TIMEOUT, START_TIMEOUT};
use crate::process::{wait_until, Proc};

const LAUNCH: Launch = Launch { kind: "redis", command: server_command };

/// What a server is told to be at start: its credentials and master.
#[derive(Debug, Clone)]
pub struct RedisServerBuilder {
    ip: IpAddr,
    replica_of: Option<SocketAddr>,
    requirepass: Option<String>,
    acl_user: Option<(String, String)>,
    master_auth: Option<(Option<String>, String)>,
    extra: Vec<String>,
}

impl RedisServerBuilder {
    /// Start as a replica of `master` (`replicaof` in the config file). `start()` then also
    /// waits until the replication link is `connected`.
    pub fn replica_of(mut self, master: SocketAddr) -> Self {
        self.replica_of = Some(master);
        self
    }

    /// Password of the `default` user (`requirepass`). Also used as `masterauth` unless
    /// [`master_auth`](Self::master_auth) says otherwise, since a set shares one password.
    pub fn requirepass(mut self, password: impl Into<String>) -> Self {
        self.requirepass = Some(password.into());
        self
    }

    /// An ACL user with every permission (`user <name> on ><password> ~* &* +@all`). [`RedisServer::conn`]
    /// then logs in as this user; it is also used for replication unless
    /// [`master_auth`](Self::master_auth) says otherwise.
    pub fn acl_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.acl_user = Some((name.into(), password.into()));
        self
    }

    /// Credentials this server presents to its master (`masteruser`, `masterauth`).
    pub fn master_auth(mut self, user: Option<&str>, password: impl Into<String>) -> Self {
        self.master_auth = Some((user.map(str::to_owned), password.into()));
        self
    }

    /// Any further config-file line, written after the testbed's own lines (so it wins).
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Writes the config, starts the server and returns once it answers `PING` (and, for a
    /// replica, once `ROLE` shows the link `connected`). Panics with the log on timeout.
    pub fn start(self) -> RedisServer {
        let (user, password) = match (&self.acl_user, &self.requirepass) {
            (Some((u, p)), _) => (Some(u.clone()), Some(p.clone())),
            (None, Some(p)) => (None, Some(p.clone())),
            (None, None) => (None, None),
        };
        let master_auth = self.master_auth.clone().or_else(|| password.clone().map(|p| (user.clone(), p)));
        let inst = Instance::spawn(LAUNCH, self.ip, Vec::new(), |port, dir, log| {
            self.config_text(port, dir, log, master_auth.as_ref())
        });
        let mut server = RedisServer { inst, user, password };
        server.wait_ready();
        if let Some(master) = self.replica_of {
            server.wait_replica_connected(master, START_TIMEOUT);
        }
        server
    }

    fn config_text(&self, port: u16, dir: &Path, log: &Path, master_auth: Option<&(Option<String>, String)>) -> String {
        let mut c = String::new();
        let ip = self.ip;
        // Every line below is there for a reason a test depends on; see the module docs of
        // `testbed::redis` and reference B. `replica-announce-ip` matters most: without it a
        // replica's outgoing link comes from 127.0.0.1, the master lists it under that address,
        // and sentinels can never promote it (NOGOODSLAVE).
        let _ = writeln!(c, "bind {ip}");
        let _ = writeln!(c, "port {port}");
        let _ = writeln!(c, "dir {}", quote(&dir.to_string_lossy()));
        let _ = writeln!(c, "logfile {}", quote(&log.to_string_lossy()));
        let _ = writeln!(c, "daemonize no");
        let _ = writeln!(c, "save \"\"");
        let _ = writeln!(c, "appendonly no");
        let _ = writeln!(c, "protected-mode no");
        let _ = writeln!(c, "enable-debug-command local");
        let _ = writeln!(c, "replica-announce-ip {ip}");
        // The default waits 5 s for more replicas before a full sync starts; tests want it now.
        let _ = writeln!(c, "repl-diskless-sync-delay 0");
        if let Some(pw) = &self.requirepass {
            let _ = writeln!(c, "requirepass {}", quote(pw));
        }
        if let Some((name, pw)) = &self.acl_user {
            let _ = writeln!(c, "user {} on {} ~* &* +@all", quote(name), quote(&format!(">{pw}")));
        }
        if let Some((user, pw)) = master_auth {
            if let Some(user) = user {
                let _ = writeln!(c, "masteruser {}", quote(user));
            }
            let _ = writeln!(c, "masterauth {}", quote(pw));
        }
        if let Some(m) = self.replica_of {
            let _ = writeln!(c, "replicaof {} {}", m.ip(), m.port());
        }
        for line in &self.extra {
            let _ = writeln!(c, "{line}");
        }
        c
    }
}

/// A running `redis-server`. Dropping it kills the process, then removes its dir and releases
/// its port.
#[derive(Debug)]
pub struct RedisServer {
    inst: Instance,
    user: Option<String>,
    password: Option<String>,
}

impl RedisServer {
    /// A builder for a server on `ip` (e.g. `testbed::host(11)`).
    pub fn builder(ip: IpAddr) -> RedisServerBuilder {
        RedisServerBuilder { ip, replica_of: None, requirepass: None, acl_user: None, master_auth: None, extra: Vec::new() }
    }

    /// A plain master on `ip`, started.
    pub fn start(ip: IpAddr) -> RedisServer {
        Self::builder(ip).start()
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

    pub fn proc(&self) -> &Proc {
        self.inst.proc()
    }

    pub fn proc_mut(&mut self) -> &mut Proc {
        self.inst.proc_mut()
    }

    /// The process log's tail, for panic messages.
    pub fn log_tail(&self) -> String {
        self.proc().log_tail()
    }

    pub fn log_path(&self) -> &Path {
        self.inst.log_path()
    }

    /// The config file (rewritten by `CONFIG REWRITE`, which sentinels send with `REPLICAOF`).
    pub fn config_path(&self) -> &Path {
        self.inst.config_path()
    }

    /// The password clients log in with (the ACL user's, else `requirepass`), e.g. for `REDISCLI_AUTH`.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The ACL user clients log in as, if one was configured.
    pub fn username(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Connection parameters with this server's credentials.
    pub fn connection_info(&self) -> redis::ConnectionInfo {
        connection_info(self.addr(), self.username(), self.password())
    }

    /// Connection parameters with no credentials at all.
    pub fn connection_info_noauth(&self) -> redis::ConnectionInfo {
        connection_info(self.addr(), None, None)
    }

    /// A connection (with auth when set) whose reads and writes time out after
    /// [`IO_TIMEOUT`](super::IO_TIMEOUT).
    pub fn try_conn(&self) -> RedisResult<redis::Connection> {
        connect(&self.connection_info(), IO_TIMEOUT)
    }

    /// [`try_conn`](Self::try_conn), panicking with the server log if it fails.
    pub fn conn(&self) -> redis::Connection {
        self.try_conn().unwrap_or_else(|e| panic!("cannot connect to redis {}: {e}\n{}", self.addr(), self.log_tail()))
    }

    /// Runs one command on a fresh connection, panicking with the log on error.
    fn run<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        cmd.query(&mut self.conn()).unwrap_or_else(|e| panic!("redis {}: {e}\n{}", self.addr(), self.log_tail()))
    }

    /// `ROLE`, parsed.
    pub fn role(&self) -> RedisResult<Role> {
        redis::cmd("ROLE").query(&mut self.try_conn()?)
    }

    /// `INFO <section>` as text.
    pub fn info(&self, section: &str) -> String {
        self.run(redis::cmd("INFO").arg(section))
    }

    /// True if the server answers `PING` within the probe timeout.
    pub fn answers_ping(&self) -> bool {
        ping(&self.connection_info())
    }

    /// Waits (up to 20 s) for `PING` to be answered, failing fast if the process exited.
    fn wait_ready(&mut self) {
        let info = self.connection_info();
        let what = format!("redis {} to answer PING", self.addr());
        self.inst.wait_ready(&what, || ping(&info));
    }

    /// Waits until `ROLE` shows this server as a replica of `master` with the link `connected`.
    pub fn wait_replica_connected(&self, master: SocketAddr, timeout: Duration) {
        let what = format!("redis {} to be a connected replica of {master}", self.addr());
        wait_until(
            timeout,
            &what,
            || self.role().ok().filter(|r| r.is_connected_replica_of(master)).map(|_| ()),
            || format!("last ROLE: {:?}\n{}", self.role(), self.log_tail()),
        );
    }

    /// Waits until `ROLE` says `master`.
    pub fn wait_master(&self, timeout: Duration) {
        let what = format!("redis {} to report role master", self.addr());
        wait_until(
            timeout,
            &what,
            || matches!(self.role(), Ok(Role::Master { .. })).then_some(()),
            || format!("last ROLE: {:?}\n{}", self.role(), self.log_tail()),
        );
    }

    /// `kill -9`: the host dies without a goodbye. The port stays reserved for [`restart`](Self::restart).
    pub fn kill9(&mut self) {
        self.inst.kill9();
    }

    /// SIGTERM and wait for a clean exit (SIGKILL after 5 s).
    pub fn stop(&mut self) {
        self.inst.stop();
    }

    /// SIGSTOP: connects still succeed (kernel backlog) but nothing is answered.
    pub fn freeze(&self) {
        self.inst.freeze();
    }

    /// SIGCONT after [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        self.inst.thaw();
    }

    /// True between [`freeze`](Self::freeze) and [`thaw`](Self::thaw).
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

    /// Starts the server again from its config file, on the same port and dir (killing it
    /// first if it still runs), and waits for `PING`. Persistence is off, so the data is gone;
    /// the role is whatever the config file says (a sentinel's `CONFIG REWRITE` included).
    pub fn restart(&mut self) {
        self.inst.respawn();
        self.wait_ready();
    }

    /// `DEBUG SLEEP <secs>` on its own connection and thread, so the test thread goes on while
    /// the whole server (replication included) is blocked. Returns once the server has stopped
    /// answering; the handle ends when the sleep does (or the server dies). Use `secs >= 1`.
    pub fn debug_sleep(&self, secs: f64) -> JoinHandle<RedisResult<Value>> {
        let mut con = self.conn();
        let sleep = Duration::from_secs_f64(secs.max(0.0));
        con.set_read_timeout(Some(sleep + IO_TIMEOUT))
            .unwrap_or_else(|e| panic!("redis {}: set read timeout: {e}", self.addr()));
        con.send_packed_command(&redis::cmd("DEBUG").arg("SLEEP").arg(secs).get_packed_command())
            .unwrap_or_else(|e| panic!("redis {}: send DEBUG SLEEP: {e}", self.addr()));
        let handle = std::thread::spawn(move || con.recv_response());
        let info = self.connection_info();
        let what = format!("redis {} to block in DEBUG SLEEP", self.addr());
        // A probe that gets no answer within 100 ms proves the sleep has begun.
        wait_until(
            START_TIMEOUT,
            &what,
            || {
                let answered = connect(&info, Duration::from_millis(100))
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok();
                (!answered || handle.is_finished()).then_some(())
            },
            || self.log_tail(),
        );
        handle
    }

    /// `CLIENT PAUSE <ms> WRITE|ALL`. `ALL` also stops sentinel PINGs (s_down after
    /// down-after) while the replication link stays up.
    pub fn client_pause(&self, ms: u64, write_only: bool) {
        let mode = if write_only { "WRITE" } else { "ALL" };
        let _: () = self.run(redis::cmd("CLIENT").arg("PAUSE").arg(ms).arg(mode));
    }

    /// `CLIENT UNPAUSE`.
    pub fn client_unpause(&self) {
        let _: () = self.run(redis::cmd("CLIENT").arg("UNPAUSE"));
    }

    /// `REPLICAOF <ip> <port>`: this server becomes a replica of `master` (not waited for).
    pub fn replicaof(&self, master: SocketAddr) {
        let _: () = self.run(redis::cmd("REPLICAOF").arg(master.ip().to_string()).arg(master.port()));
    }

    /// `REPLICAOF NO ONE`: this server becomes a writable master, keeping its data.
    pub fn replicaof_no_one(&self) {
        let _: () = self.run(redis::cmd("REPLICAOF").arg("NO").arg("ONE"));
    }
}

/// True if `PING` is answered with `PONG` within the probe timeout (`LOADING` is not ready).
fn ping(info: &redis::ConnectionInfo) -> bool {
    connect(info, PROBE_TIMEOUT)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok_and(|r| r == "PONG")
}

/// A replica as a master's `ROLE` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReplica {
    pub ip: String,
    pub port: u16,
    pub offset: i64,
}

/// The `ROLE` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Master { offset: i64, replicas: Vec<RoleReplica> },
    /// `state` is one of `none connect connecting handshake sync connected`.
    Replica { master_ip: String, master_port: u16, state: String, offset: i64 },
    Sentinel { masters: Vec<String> },
}

impl Role {
    /// True for a replica of `master` whose link is `connected`.
    pub fn is_connected_replica_of(&self, master: SocketAddr) -> bool {
        matches!(self, Role::Replica { master_ip, master_port, state, .. }
            if *master_ip == master.ip().to_string() && *master_port == master.port() && state == "connected")
    }

    /// For a master: whether `ROLE` lists a replica at `addr`.
    pub fn lists_replica(&self, addr: SocketAddr) -> bool {
        matches!(self, Role::Master { replicas, .. }
            if replicas.iter().any(|r| r.ip == addr.ip().to_string() && r.port == addr.port()))
    }
}

fn bad_role(v: &Value) -> RedisError {
    RedisError::from((ErrorKind::TypeError, "unexpected ROLE reply", format!("{v:?}")))
}

impl FromRedisValue for Role {
    fn from_redis_value(v: &Value) -> RedisResult<Role> {
        let items: Vec<Value> = FromRedisValue::from_redis_value(v)?;
        let kind: String = items.first().map(String::from_redis_value).ok_or_else(|| bad_role(v))??;
        let at = |i: usize| items.get(i).ok_or_else(|| bad_role(v));
        match kind.as_str() {
            "master" => {
                let offset = i64::from_redis_value(at(1)?)?;
                let listed: Vec<(String, u16, i64)> = FromRedisValue::from_redis_value(at(2)?)?;
                let replicas = listed.into_iter().map(|(ip, port, offset)| RoleReplica { ip, port, offset }).collect();
                Ok(Role::Master { offset, replicas })
            }
            "slave" => Ok(Role::Replica {
                master_ip: String::from_redis_value(at(1)?)?,
                master_port: u16::from_redis_value(at(2)?)?,
                state: String::from_redis_value(at(3)?)?,
                offset: i64::from_redis_value(at(4)?)?,
            }),
            "sentinel" => Ok(Role::Sentinel { masters: FromRedisValue::from_redis_value(at(1)?)? }),
            _ => Err(bad_role(v)),
        }
    }
}
