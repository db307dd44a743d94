//! A child process owned by a struct: killed and reaped on drop, with its log kept for failure
//! messages, plus the fault helpers tests use (kill -9, SIGSTOP/SIGCONT) and a deadline poll.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A running test process. Dropping it kills it (SIGKILL, after SIGCONT in case it was frozen)
/// and waits for it, ignoring errors: a destructor must not fail.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdin closed and stdout/stderr appended to `log`.
    pub fn spawn(name: impl Into<String>, mut cmd: Command, log: &Path) -> std::io::Result<Proc> {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn()?;
        Ok(Proc { name: name.into(), child: Some(child), log: log.to_path_buf() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The process log's last 8 KiB, for panic messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(8192);
        format!("--- {} log ({}) ---\n{}", self.name, self.log.display(), String::from_utf8_lossy(&text[start..]))
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn signal(&self, sig: Signal) {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid as i32), sig);
        }
    }

    /// `kill -9` and reap: the host (or process) dies without a goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait up to `grace` for a clean exit, then SIGKILL.
    pub fn terminate(&mut self, grace: Duration) {
        if let Some(mut c) = self.child.take() {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGCONT);
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the process freezes, but the kernel still completes TCP handshakes for it.
    /// Returns once every thread shows the stopped state in `/proc`, because the signal is
    /// delivered asynchronously and a test that probes at once could still get an answer.
    pub fn freeze(&self) {
        self.signal(Signal::SIGSTOP);
        let Some(pid) = self.pid() else { return };
        let tasks = PathBuf::from(format!("/proc/{pid}/task"));
        wait_until(Duration::from_secs(5), &format!("{} to stop after SIGSTOP", self.name), || all_threads_stopped(&tasks).then_some(()), || self.log_tail());
    }

    /// SIGCONT after [`Proc::freeze`].
    pub fn thaw(&self) {
        self.signal(Signal::SIGCONT);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// True when every thread listed under `/proc/<pid>/task` is in state `T` (stopped).
fn all_threads_stopped(tasks: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(tasks) else { return false };
    entries.filter_map(Result::ok).all(|t| {
        // The state follows the parenthesised command name, which may itself contain ')'.
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('T')))
            .unwrap_or(false)
    })
}

/// Polls `cond` every 20 ms until it returns `Some`, or panics after `timeout` with `what` and
/// the output of `context` (server logs, sentinel views) so a red run explains itself.
pub fn wait_until<T>(timeout: Duration, what: &str, mut cond: impl FnMut() -> Option<T>, context: impl FnOnce() -> String) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_kills_and_reaps_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("600");
        let p = Proc::spawn("sleep", cmd, &dir.path().join("log")).unwrap();
        let pid = p.pid().unwrap() as i32;
        drop(p);
        // After drop the pid is reaped: signalling it fails with ESRCH.
        assert!(kill(Pid::from_raw(pid), None).is_err());
    }

    #[test]
    fn wait_until_returns_the_value_once_ready() {
        let mut n = 0;
        let v = wait_until(Duration::from_secs(2), "counter", || { n += 1; (n >= 3).then_some(n) }, String::new);
        assert_eq!(v, 3);
    }

    #[test]
    #[should_panic(expected = "timed out")]
    fn wait_until_panics_with_context() {
        wait_until::<()>(Duration::from_millis(50), "never", || None, || "ctx".into());
    }
}
