//! What a `RedisServer` and a `Sentinel` share: one Redis process on a reserved port, started from
//! a config file in its own temp dir, restartable from that file, with the faults the testbed
//! injects and remembers (kill -9, stop, SIGSTOP). What the process is asked to prove it is ready
//! stays with each kind.

use std::cell::RefCell;
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tempfile::TempDir;

use super::{leaky_env_vars, START_TIMEOUT};
use crate::ports::{reserve, PortLease};
use crate::process::{wait_until, Proc};

/// How a kind of Redis process is launched: a name for messages and file names (`redis`,
/// `sentinel`), and the program with the arguments that follow the config file path. The program
/// is looked up again at every (re)start, as the environment says at that moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Launch {
    pub kind: &'static str,
    pub command: fn() -> (PathBuf, Vec<&'static str>),
}

/// A started Redis process and everything that outlives one run of it (port, dir, config).
#[derive(Debug)]
pub(crate) struct Instance {
    // Field order is drop order: the process dies before its dir and port are given up.
    proc: Proc,
    frozen: AtomicBool,
    launch: Launch,
    env: Vec<(OsString, OsString)>,
    ip: IpAddr,
    config_path: PathBuf,
    log_path: PathBuf,
    _dir: TempDir,
    lease: PortLease,
}

impl Instance {
    /// Reserves a port on `ip`, writes the config that `config(port, dir, log)` renders into a
    /// fresh temp dir and spawns the process with `env` added. Not yet waited for.
    pub fn spawn(
        launch: Launch,
        ip: IpAddr,
        env: Vec<(OsString, OsString)>,
        config: impl FnOnce(u16, &Path, &Path) -> String,
    ) -> Instance {
        let kind = launch.kind;
        let lease = reserve(ip);
        let dir = tempfile::Builder::new()
            .prefix(&format!("sengu-{kind}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("create {kind} temp dir: {e:?}"));
        let config_path = dir.path().join(format!("{kind}.conf"));
        let log_path = dir.path().join(format!("{kind}.log"));
        std::fs::write(&config_path, config(lease.port(), dir.path(), &log_path))
            .unwrap_or_else(|e| panic!("write {kind}.conf: {e:?}"));
        let proc = spawn_proc(launch, ip, lease.port(), &config_path, &log_path, &env);
        Instance { proc, frozen: AtomicBool::new(false), launch, env, ip, config_path, log_path, _dir: dir, lease }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.lease.port())
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    pub fn port(&self) -> u16 {
        self.lease.port()
    }

    pub fn proc(&self) -> &Proc {
        &self.proc
    }

    pub fn proc_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Waits (up to 20 s) until `ready` says so, failing fast with the log if the process exited.
    pub fn wait_ready(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let (kind, addr) = (self.launch.kind, self.addr());
        // Both closures need the process (one to poll it, one for the log); they never run at once.
        let proc = RefCell::new(&mut self.proc);
        wait_until(
            START_TIMEOUT,
            what,
            || {
                if !proc.borrow_mut().is_running() {
                    panic!("{kind} {addr} exited during start\n{}", proc.borrow().log_tail());
                }
                ready().then_some(())
            },
            || proc.borrow().log_tail(),
        );
    }

    pub fn kill9(&mut self) {
        self.proc.kill9();
        self.frozen.store(false, Ordering::Relaxed);
    }

    pub fn stop(&mut self) {
        self.proc.terminate(Duration::from_secs(5));
        self.frozen.store(false, Ordering::Relaxed);
    }

    pub fn freeze(&self) {
        self.proc.freeze();
        self.frozen.store(true, Ordering::Relaxed);
    }

    pub fn thaw(&self) {
        self.proc.thaw();
        self.frozen.store(false, Ordering::Relaxed);
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    pub fn is_live(&self) -> bool {
        self.proc.pid().is_some() && !self.is_frozen()
    }

    /// Kills the process if it still runs and starts it again from its config file, on the same
    /// port and dir with the same environment. Not yet waited for.
    pub fn respawn(&mut self) {
        self.kill9();
        self.proc = spawn_proc(self.launch, self.ip, self.port(), &self.config_path, &self.log_path, &self.env);
    }
}

fn spawn_proc(launch: Launch, ip: IpAddr, port: u16, config: &Path, log: &Path, env: &[(OsString, OsString)]) -> Proc {
    let (bin, args) = (launch.command)();
    // On a partition-lab host the process runs in that host's network namespace.
    let mut cmd = crate::netlab::command_on(ip, &bin);
    cmd.arg(config).args(args);
    if let Some(dir) = config.parent() {
        cmd.current_dir(dir);
    }
    for k in leaky_env_vars() {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    Proc::spawn(format!("{} {ip}:{port}", launch.kind), cmd, log)
        .unwrap_or_else(|e| panic!("cannot start {} for {ip}:{port}: {e}", bin.display()))
}
