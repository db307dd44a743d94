//! Runs a sengu binary the way its caller would and checks what it did: the `run()` helper of
//! every executable's tests. The caller passes the binary's path (`env!("CARGO_BIN_EXE_…")`).
//!
//! The child's environment loses every `CONSUL_HTTP_*`, `SENGU_*` and `REDISCLI_AUTH` variable
//! and gets `SENGU_CONFIG=/dev/null`, so a developer's own settings or `/etc/sengu/sengu.toml`
//! cannot leak into a test; a test sets what it needs. Each assertion prints the argv, the exit
//! status, stdout and stderr when it fails, and returns `&Self` so assertions chain.

use std::fmt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A finished run of a binary.
pub struct Run {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    output: Output,
}

/// A command for `bin` with the cleaned environment described in the module doc.
pub fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("CONSUL_HTTP_") || name.starts_with("SENGU_") || name == "REDISCLI_AUTH" {
            cmd.env_remove(&key);
        }
    }
    cmd.env("SENGU_CONFIG", "/dev/null");
    cmd
}

/// Runs `bin args…` in the cleaned environment.
pub fn run(bin: &str, args: &[&str]) -> Run {
    run_env(bin, args, &[])
}

/// Runs `bin args…` in the cleaned environment plus `env`.
pub fn run_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(bin);
    cmd.args(args).envs(env.iter().copied());
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    Run {
        argv: std::iter::once(bin).chain(args.iter().copied()).map(str::to_owned).collect(),
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        output,
    }
}

/// Makes a FIFO at `path` that nobody writes to: a hostile config or secret file. A run that
/// blocks opening it (the bug this guards against) is unblocked after `rescue` by a thread that
/// opens the FIFO for writing and closes it again (as often as a reader waits, for a minute),
/// so such a test fails on its time limit instead of hanging.
pub fn stuck_fifo(path: &Path, rescue: Duration) {
    use std::os::unix::fs::OpenOptionsExt;
    let status = Command::new("mkfifo").arg("-m").arg("0600").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
    let path = path.to_owned();
    std::thread::spawn(move || {
        std::thread::sleep(rescue);
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            // O_NONBLOCK (Linux): succeeds only while a reader waits, so nobody else is woken.
            let _ = std::fs::OpenOptions::new().write(true).custom_flags(0o4000).open(&path);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// Runs `bin args…` like [`run_env`] and fails unless it finished within `limit`.
#[track_caller]
pub fn run_env_within(limit: Duration, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let run = run_env(bin, args, env);
    let took = started.elapsed();
    assert!(took < limit, "took {took:?}, more than {limit:?}\n{run}");
    run
}

/// [`run_env_within`] for `bin args…` run with `resolver` as its system resolver (in a private
/// mount namespace of its own; see [`testbed::resolver`]).
#[track_caller]
pub fn run_with_resolver(resolver: &testbed::resolver::HungResolver, limit: Duration, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let argv = resolver.wrap(bin, args);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    run_env_within(limit, argv[0], &argv[1..], env)
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The exit code; `None` when the process died by a signal.
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    #[track_caller]
    pub fn exits(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "wrong exit status\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_starts_with(&self, prefix: &str) -> &Self {
        assert!(self.stdout().starts_with(prefix), "stdout does not start with {prefix:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_contains(&self, part: &str) -> &Self {
        assert!(self.stdout().contains(part), "stdout does not contain {part:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_is_empty(&self) -> &Self {
        assert!(self.output.stdout.is_empty(), "stdout is not empty\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, part: &str) -> &Self {
        assert!(self.stderr().contains(part), "stderr does not contain {part:?}\n{self}");
        self
    }

    /// Fails unless the combined output stays within Consul's 4096-byte capture buffer.
    #[track_caller]
    pub fn output_fits_consul(&self) -> &Self {
        let total = self.output.stdout.len() + self.output.stderr.len();
        assert!(total < 4096, "output is {total} bytes, Consul keeps only the last 4096\n{self}");
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "argv: {:?}", self.argv)?;
        if !self.env.is_empty() {
            writeln!(f, "env: {:?}", self.env)?;
        }
        writeln!(f, "status: {}", self.output.status)?;
        writeln!(f, "--- stdout\n{}", self.stdout())?;
        write!(f, "--- stderr\n{}", self.stderr())
    }
}
