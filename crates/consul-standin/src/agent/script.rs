//! Running one script check the way Consul's `CheckMonitor` does: argv executed directly, in a
//! process group of its own, stdout and stderr into one capture buffer that keeps the last
//! bytes, and on timeout SIGKILL to the whole group.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;

use crate::catalog::{CRITICAL, PASSING, WARNING};

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    pub status: &'static str,
    pub output: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

/// Kills the process group when dropped, so a stand-in shut down mid-run leaves no children.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// The circular capture buffer: the last `max` bytes and the total written.
struct Capture {
    tail: Vec<u8>,
    total: usize,
    max: usize,
}

impl Capture {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > self.max {
            let excess = self.tail.len() - self.max;
            self.tail.drain(..excess);
        }
    }

    /// Consul's text: the tail, prefixed with `Captured N of M bytes\n...\n` when cut.
    fn text(&self) -> String {
        let tail = String::from_utf8_lossy(&self.tail);
        if self.total > self.max {
            format!("Captured {} of {} bytes\n...\n{tail}", self.max, self.total)
        } else {
            tail.into_owned()
        }
    }
}

fn failed(output: String) -> ScriptResult {
    ScriptResult {
        status: CRITICAL,
        output,
        exit_code: None,
        timed_out: false,
    }
}

/// Runs `args` with `timeout`, keeping at most `max_output` bytes of output; `env` is added
/// to the inherited environment.
pub async fn run(
    args: &[String],
    timeout: Duration,
    max_output: usize,
    env: &[(String, String)],
) -> ScriptResult {
    let Some((program, rest)) = args.split_first() else {
        return failed("no command given".into());
    };
    // One pipe for both streams, so their interleaving is kept as Consul's shared buffer does.
    let (reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return failed(format!("failed to create pipe: {e}")),
    };
    let writer_err = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return failed(format!("failed to create pipe: {e}")),
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err)
        .process_group(0)
        .kill_on_drop(true);
    let spawned = cmd.spawn();
    // The command holds our copies of the write end; drop them so EOF arrives when the
    // process group closes its copies.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return failed(format!("exec: {program:?}: {e}")),
    };
    let mut guard = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let mut reader = match tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()) {
        Ok(r) => r,
        Err(e) => return failed(format!("failed to read output: {e}")),
    };
    let mut capture = Capture {
        tail: Vec::new(),
        total: 0,
        max: max_output.max(1),
    };
    let finished = {
        let read = async {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => capture.push(&buf[..n]),
                }
            }
        };
        // Like Go's cmd.Wait, the run ends when the process has exited *and* every holder of
        // the output pipe (backgrounded grandchildren included) has closed it.
        tokio::time::timeout(timeout, async { tokio::join!(read, child.wait()).1 }).await
    };
    match finished {
        Ok(Ok(status)) => {
            guard.0 = None;
            let code = status.code();
            let status = match code {
                Some(0) => PASSING,
                Some(1) => WARNING,
                _ => CRITICAL,
            };
            ScriptResult {
                status,
                output: capture.text(),
                exit_code: code,
                timed_out: false,
            }
        }
        Ok(Err(e)) => failed(format!("failed to wait for check: {e}")),
        Err(_elapsed) => {
            drop(guard);
            // Reap the killed child; it cannot outlive SIGKILL by much.
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            let mut msg = format!(
                "Timed out ({}) running check",
                crate::duration::format(timeout)
            );
            let out = capture.text();
            if !out.is_empty() {
                msg.push_str("\n\n");
                msg.push_str(&out);
            }
            ScriptResult {
                status: CRITICAL,
                output: msg,
                exit_code: None,
                timed_out: true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn exit_codes_map_to_statuses() {
        let t = Duration::from_secs(10);
        assert_eq!(run(&sh("echo ok"), t, 4096, &[]).await.status, PASSING);
        assert_eq!(run(&sh("exit 1"), t, 4096, &[]).await.status, WARNING);
        assert_eq!(run(&sh("exit 3"), t, 4096, &[]).await.status, CRITICAL);
        assert_eq!(run(&sh("kill -9 $$"), t, 4096, &[]).await.status, CRITICAL);
        let r = run(&sh("echo out; echo err >&2"), t, 4096, &[]).await;
        assert_eq!(r.output, "out\nerr\n");
    }

    #[tokio::test]
    async fn output_keeps_the_tail_with_consul_prefix() {
        let r = run(
            &sh("head -c 5000 /dev/zero | tr '\\0' a; printf END"),
            Duration::from_secs(10),
            4096,
            &[],
        )
        .await;
        assert!(
            r.output.starts_with("Captured 4096 of 5003 bytes\n...\n"),
            "{}",
            &r.output[..60]
        );
        assert!(r.output.ends_with("aEND"));
    }

    #[tokio::test]
    async fn env_is_added() {
        let env = [("STANDIN_TEST_VAR".to_string(), "x1".to_string())];
        let r = run(
            &sh("echo $STANDIN_TEST_VAR"),
            Duration::from_secs(5),
            4096,
            &env,
        )
        .await;
        assert_eq!(r.output, "x1\n");
    }

    #[tokio::test]
    async fn missing_program_is_critical() {
        let r = run(
            &["/nonexistent/check".to_string()],
            Duration::from_secs(1),
            4096,
            &[],
        )
        .await;
        assert_eq!(r.status, CRITICAL);
        assert!(r.output.contains("/nonexistent/check"));
    }

    #[tokio::test]
    async fn timeout_kills_and_reports() {
        let r = run(
            &sh("echo started; sleep 30"),
            Duration::from_millis(300),
            4096,
            &[],
        )
        .await;
        assert!(r.timed_out);
        assert_eq!(r.output, "Timed out (300ms) running check\n\nstarted\n");
    }
}
