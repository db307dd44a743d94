//! Throw-away MariaDB servers for tests: `mariadbd` processes on loopback hosts, each started
//! from a copy of one bootstrapped template datadir (so an instance is up in well under a
//! second), and GTID master/replica sets with the promote, repoint and demote steps a failover
//! manager performs.
//!
//! The template is built once per machine and binary version (under the system temp dir, guarded
//! by a file lock so parallel test binaries bootstrap it only once) and already holds the users
//! tests need: `root@'%'` with no password and ALL PRIVILEGES, the replication user, an
//! application user *without* `READ_ONLY ADMIN` (so `read_only=1` really stops it), a
//! least-privilege monitor user, and the table `sengu_test.writes`. It is created with the binary
//! log off, so no instance starts with a GTID of its own.
//!
//! Every helper here panics with the servers' error logs when something does not happen in time:
//! this is test code, and a red run must explain itself.
//!
//! - this file: one instance's lifetime (start, stop, kill, freeze, restart) and connections;
//! - `replication`: CHANGE MASTER, promote, repoint, demote, the waits, and [`GtidCluster`];
//! - `template`: bootstrapping and sharing the template datadir.

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, Value};
use tempfile::TempDir;

mod replication;
mod template;

pub use self::replication::GtidCluster;
use self::template::{copy_dir, template_dir};
use crate::ports::{reserve, PortLease};
use crate::process::{wait_until, Proc};

/// The superuser: `root@'%'`, empty password, ALL PRIVILEGES (so it writes despite `read_only`).
pub const ROOT_USER: &str = "root";
/// The account replicas use to connect to their master (`REPLICATION SLAVE` only).
pub const REPL_USER: &str = "repl";
pub const REPL_PASSWORD: &str = "repl-secret";
/// An application account: DML and DDL, but no `READ_ONLY ADMIN`, so `read_only=1` blocks it.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app-secret";
/// The least privileges sengu's probes need: read status, flip `read_only`.
pub const MONITOR_USER: &str = "monitor";
pub const MONITOR_PASSWORD: &str = "monitor-secret";
pub const MONITOR_GRANTS: &str = "BINLOG MONITOR, SLAVE MONITOR, READ_ONLY ADMIN, PROCESS, CONNECTION ADMIN";
/// A table every instance has, for test writes: `(id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100))`.
pub const TEST_TABLE: &str = "sengu_test.writes";

/// InnoDB settings the template was bootstrapped with; instances must start with the same.
pub(crate) const INNODB_FLAGS: [&str; 2] = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"];
const START_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

fn mariadbd_bin() -> String {
    std::env::var("SENGU_MARIADBD").unwrap_or_else(|_| "mariadbd".into())
}

/// How to start one instance. Defaults: `server_id` = the host's last octet, `read_only=1`
/// (every node's config should say so; promotion flips it at runtime), replication threads start
/// with the server, `slave_net_timeout` 4 s (heartbeat 2 s) so a frozen master is noticed quickly.
#[derive(Debug, Clone)]
pub struct MariadbOpts {
    pub host: IpAddr,
    pub server_id: u32,
    pub read_only: bool,
    pub skip_slave_start: bool,
    pub slave_net_timeout: Duration,
}

impl MariadbOpts {
    pub fn new(host: IpAddr) -> MariadbOpts {
        let server_id = match host {
            IpAddr::V4(v4) => u32::from(v4.octets()[3]).max(1),
            IpAddr::V6(_) => 1,
        };
        MariadbOpts { host, server_id, read_only: true, skip_slave_start: false, slave_net_timeout: Duration::from_secs(4) }
    }

    pub fn server_id(mut self, id: u32) -> Self {
        self.server_id = id;
        self
    }

    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    pub fn skip_slave_start(mut self, on: bool) -> Self {
        self.skip_slave_start = on;
        self
    }

    pub fn slave_net_timeout(mut self, t: Duration) -> Self {
        self.slave_net_timeout = t;
        self
    }
}

/// One `mariadbd` process with its own datadir, port and error log. Dropping it kills the
/// process (also when frozen) and removes the datadir.
#[derive(Debug)]
pub struct Mariadb {
    // Field order matters: the process dies before its datadir is removed.
    proc: Proc,
    opts: MariadbOpts,
    port: PortLease,
    dir: TempDir,
}

impl Mariadb {
    /// Copies the template datadir, starts `mariadbd` and returns once root's `SELECT 1` answers.
    pub fn start(opts: MariadbOpts) -> Mariadb {
        let template = template_dir();
        let dir = tempfile::Builder::new().prefix("sengu-mariadb-").tempdir().expect("create mariadb temp dir");
        copy_dir(template, &dir.path().join("data")).expect("copy mariadb template datadir");
        let port = reserve(opts.host);
        let proc = spawn(&opts, port.port(), dir.path());
        let mut db = Mariadb { proc, opts, port, dir };
        db.wait_ready();
        db
    }

    pub fn host(&self) -> IpAddr {
        self.opts.host
    }

    pub fn port(&self) -> u16 {
        self.port.port()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.opts.host, self.port())
    }

    /// `host:port` as hooks receive it (e.g. `127.0.0.11:24017`).
    pub fn host_port(&self) -> String {
        self.addr().to_string()
    }

    pub fn server_id(&self) -> u32 {
        self.opts.server_id
    }

    pub fn opts(&self) -> &MariadbOpts {
        &self.opts
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    pub fn datadir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The error log's tail, for panic messages.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    /// A new connection as `user`, with short timeouts so a frozen server gives an error, not a hang.
    pub fn conn_as(&self, user: &str, password: &str) -> mysql::Result<Conn> {
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some(self.opts.host.to_string()))
            .tcp_port(self.port())
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(2)))
            .read_timeout(Some(Duration::from_secs(10)))
            .write_timeout(Some(Duration::from_secs(10)));
        Conn::new(opts)
    }

    /// A connection as root; panics with the error log if the server does not answer.
    pub fn conn(&self) -> Conn {
        self.conn_as(ROOT_USER, "").unwrap_or_else(|e| panic!("connect as root to mariadb {}: {e}\n{}", self.host_port(), self.log_tail()))
    }

    /// A connection as the application user (blocked by `read_only`).
    pub fn app_conn(&self) -> Conn {
        self.conn_as(APP_USER, APP_PASSWORD)
            .unwrap_or_else(|e| panic!("connect as {APP_USER} to mariadb {}: {e}\n{}", self.host_port(), self.log_tail()))
    }

    /// Runs statements as root; panics with the error log on failure.
    pub fn exec(&self, sql: &str) {
        self.conn().query_drop(sql).unwrap_or_else(|e| panic!("mariadb {}: {sql}: {e}\n{}", self.host_port(), self.log_tail()));
    }

    /// The first column of the first row of `sql`, as root.
    pub fn scalar<T: mysql::prelude::FromValue>(&self, sql: &str) -> Option<T> {
        self.conn().query_first(sql).unwrap_or_else(|e| panic!("mariadb {}: {sql}: {e}\n{}", self.host_port(), self.log_tail()))
    }

    pub fn read_only(&self) -> bool {
        self.scalar::<u8>("SELECT @@global.read_only") == Some(1)
    }

    pub fn set_read_only(&self, on: bool) {
        self.exec(if on { "SET GLOBAL read_only = 1" } else { "SET GLOBAL read_only = 0" });
    }

    /// `@@gtid_binlog_pos`: what this server has written to its binary log.
    pub fn gtid_binlog_pos(&self) -> String {
        self.scalar("SELECT @@global.gtid_binlog_pos").unwrap_or_default()
    }

    /// Inserts a row into [`TEST_TABLE`] as root and returns the server's binlog position after it.
    pub fn test_write(&self, note: &str) -> String {
        let mut c = self.conn();
        c.exec_drop(format!("INSERT INTO {TEST_TABLE} (note) VALUES (?)"), (note,))
            .unwrap_or_else(|e| panic!("mariadb {}: test write: {e}\n{}", self.host_port(), self.log_tail()));
        c.query_first::<String, _>("SELECT @@global.gtid_binlog_pos").ok().flatten().unwrap_or_default()
    }

    /// `kill -9`: the server dies without a goodbye; replicas see their connection drop.
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// SIGSTOP: the server freezes, but the kernel still accepts TCP connections for it.
    /// Returns once every thread is stopped: the signal is asynchronous, and a thread still
    /// running could answer one more query.
    pub fn freeze(&self) {
        self.proc.freeze();
    }

    /// SIGCONT after [`Mariadb::freeze`].
    pub fn thaw(&self) {
        self.proc.thaw();
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.proc.is_running()
    }

    /// Clean shutdown (SIGTERM, then SIGKILL after 20 s).
    pub fn stop(&mut self) {
        self.proc.terminate(Duration::from_secs(20));
    }

    /// Starts the server again on the same host, port and datadir with the same flags (so
    /// `read_only` comes back from the flags, not from its runtime value). A running server is
    /// shut down cleanly first.
    pub fn restart(&mut self) {
        self.stop();
        self.proc = spawn(&self.opts, self.port(), self.dir.path());
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let name = self.host_port();
        let log = self.proc.log_path().to_path_buf();
        let Mariadb { proc, opts, port, .. } = self;
        let (ip, port) = (opts.host, port.port());
        let probe = Mariadb::probe_opts(ip, port);
        wait_until(
            START_TIMEOUT,
            &format!("mariadb {name} to answer SELECT 1"),
            || {
                if !proc.is_running() {
                    panic!("mariadb {name} exited during start-up\n{}", tail(&log));
                }
                let mut c = Conn::new(probe.clone()).ok()?;
                c.query_first::<u8, _>("SELECT 1").ok().flatten()
            },
            || tail(&log),
        );
    }

    fn probe_opts(ip: IpAddr, port: u16) -> OptsBuilder {
        OptsBuilder::new()
            .ip_or_hostname(Some(ip.to_string()))
            .tcp_port(port)
            .user(Some(ROOT_USER))
            .pass(Some(""))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_millis(500)))
            .read_timeout(Some(Duration::from_secs(2)))
            .write_timeout(Some(Duration::from_secs(2)))
    }
}

/// True when every thread under `/proc/<pid>/task` is in state `T` (stopped by a signal).
fn tail(log: &Path) -> String {
    let text = fs::read(log).unwrap_or_default();
    let start = text.len().saturating_sub(8192);
    format!("--- mariadbd log ({}) ---\n{}", log.display(), String::from_utf8_lossy(&text[start..]))
}

pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        other => Some(other.as_sql(true)),
    }
}

fn spawn(opts: &MariadbOpts, port: u16, dir: &Path) -> Proc {
    let data = dir.join("data");
    let mut cmd = Command::new(mariadbd_bin());
    // --no-defaults must come first; the rest follows reference E plus what keeps it small.
    cmd.arg("--no-defaults")
        .arg("--user=root")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--bind-address={}", opts.host))
        .arg(format!("--socket={}", dir.join("mariadbd.sock").display()))
        .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
        .arg(format!("--log-error={}", dir.join("mariadbd.err").display()))
        .arg(format!("--server-id={}", opts.server_id))
        // As a replica, report the host address and port it stands for: without it the
        // master's SHOW SLAVE HOSTS lists the address each replica connected from (127.0.0.1).
        .arg(format!("--report-host={}", opts.host))
        .arg(format!("--report-port={port}"))
        .arg("--log-bin=mariadb-bin")
        .arg("--relay-log=relay-bin")
        .arg("--log-slave-updates")
        .arg("--gtid-strict-mode=1")
        .arg(format!("--slave-net-timeout={}", opts.slave_net_timeout.as_secs().max(1)))
        .arg(format!("--read-only={}", u8::from(opts.read_only)))
        .arg("--skip-name-resolve")
        .arg("--performance-schema=OFF")
        .arg("--innodb-flush-log-at-trx-commit=2")
        .arg("--max-connections=100")
        .args(INNODB_FLAGS);
    if opts.skip_slave_start {
        cmd.arg("--skip-slave-start");
    }
    cmd.current_dir(dir);
    let name = format!("mariadbd {}:{port}", opts.host);
    Proc::spawn(name, cmd, &dir.join("mariadbd.err")).unwrap_or_else(|e| panic!("spawn {} ({}): {e}", mariadbd_bin(), data.display()))
}

